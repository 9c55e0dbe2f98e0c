// Grading one submission: the Grader makes the Context its stages share (stage.hpp), sets up the
// sandbox, takes the submission's files (intake.hpp), builds the graded labs (build.hpp), then
// runs each one (run.hpp), kills what outlived it, and scores it (score.hpp). The grading user and
// the work folder's lock are in lease.hpp, the batch in batch.cpp.
#include "grade.hpp"

#include "bounded.hpp"
#include "build.hpp"
#include "cgroup.hpp"
#include "intake.hpp"
#include "launcher.hpp"
#include "lease.hpp"
#include "process.hpp"
#include "run.hpp"
#include "sandbox.hpp"
#include "score.hpp"
#include "stage.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace socklab::grade {
namespace {

// One grade of one submission: it holds the grading user and the cgroup, and drives the stages.
class Grader {
public:
    Grader(const GradeOptions& options, const Rubric& rubric) : ctx_(options, rubric) {}
    ~Grader() { sandbox::close_launchers(ctx_.uid); } // also when a stage threw
    Grader(const Grader&) = delete;
    Grader& operator=(const Grader&) = delete;

    // Grades alone: holds the work folder for the whole grade.
    Grade run() {
        // One grader at a time in a work folder: two would rewrite each other's files mid-build.
        const WorkLock lock(ctx_.work, ctx_.options.progress);
        Built built = build_phase();
        return run_phase(built, ctx_.build / "bin");
    }

    // Grades beside others (a batch): the build, which the work folder holds once, takes turns
    // under build_mutex; then the programs are copied to run_dir, where the tests and scripts
    // run while the next submission builds. run_dir is removed at the end.
    Grade run_shared(std::mutex& build_mutex, const fs::path& run_dir) {
        Built built;
        {
            const std::lock_guard<std::mutex> turn(build_mutex);
            built = build_phase();
            fs::remove_all(run_dir);
            fs::create_directories(run_dir);
            copy_programs(ctx_.build / "bin", run_dir / "bin");
        }
        Grade grade = run_phase(built, run_dir / "bin");
        fs::remove_all(run_dir);
        return grade;
    }

private:
    UserLease user_;                        // the user the submission's programs and compiler run as
    std::unique_ptr<sandbox::Group> group_; // the submission's cgroup, or none (per-process limits)
    Context ctx_;                           // what the stages share (stage.hpp)

    struct Built {
        Grade grade;
        std::vector<ManifestLab> manifest;
        std::vector<Lab> labs;
        std::vector<bool> graded; // in --labs
        std::vector<bool> compiled;
    };

    // Places the submission's files, configures and builds every graded lab.
    Built build_phase() {
        const auto started = std::chrono::steady_clock::now();
        ctx_.submission_deadline =
            started +
            std::chrono::milliseconds(static_cast<long long>(ctx_.rubric.submission_timeout_seconds * 1000));
        Built b;
        set_up_sandbox(b.grade);
        b.grade.student = ctx_.options.student;
        b.grade.submission = ctx_.options.submission;
        b.grade.cumulative = ctx_.options.cumulative;
        b.grade.seed = ctx_.options.seed.value_or(0);
        b.grade.started = now_utc();
        b.manifest = read_manifest(ctx_.root.string());
        for (const auto& m : b.manifest) {
            Lab lab;
            lab.id = m.id;
            lab.folder = m.folder;
            const LabRubric* lr = ctx_.rubric.lab(m.id);
            lab.title = lr != nullptr ? lr->title : m.folder;
            place_files(ctx_.options.submission, ctx_.root, ctx_.files, m, lab);
            b.labs.push_back(std::move(lab));
        }
        configure(ctx_);
        build_shared(ctx_);
        // No library of an earlier grade (another student's) may be linked into this one.
        std::error_code cleared;
        fs::remove_all(ctx_.build / "graded", cleared);
        std::size_t highest = 0;
        for (std::size_t i = 0; i < b.manifest.size(); ++i) {
            if (ctx_.options.labs.empty() || std::find(ctx_.options.labs.begin(), ctx_.options.labs.end(),
                                                       b.manifest[i].id) != ctx_.options.labs.end()) {
                highest = i + 1;
            }
        }
        std::set<std::string> uncompiled;
        for (std::size_t i = 0; i < b.manifest.size(); ++i) {
            const auto& m = b.manifest[i];
            Lab& lab = b.labs[i];
            const bool graded = ctx_.options.labs.empty() ||
                                std::find(ctx_.options.labs.begin(), ctx_.options.labs.end(), m.id) !=
                                    ctx_.options.labs.end();
            b.graded.push_back(graded);
            if (!graded) {
                // --cumulative links the labs below a graded one: compile them too.
                if (ctx_.options.cumulative && i < highest) {
                    Lab below = lab;
                    ctx_.options.progress("lab " + m.id + ": compiling (a graded lab above builds on it)");
                    if (!compile_lab(ctx_, m, below)) {
                        uncompiled.insert(m.id);
                    }
                }
                b.compiled.push_back(false);
                continue;
            }
            if (ctx_.rubric.lab(m.id) == nullptr) {
                throw TreeError("the rubric " + ctx_.rubric.path + " has no [[lab]] with id = \"" + m.id +
                                "\"");
            }
            ctx_.options.progress("lab " + m.id + ": building");
            if (ctx_.options.cumulative && !uncompiled.empty()) {
                lab.build = "compile error";
                lab.build_log =
                    "with --cumulative this lab builds on the student's own labs below it, and lab " +
                    *uncompiled.begin() + " did not compile or was refused (see its build log)";
                uncompiled.insert(m.id);
                b.compiled.push_back(false);
            } else if (!build_lab(ctx_, m, lab)) {
                uncompiled.insert(m.id);
                b.compiled.push_back(false);
            } else {
                b.compiled.push_back(true);
            }
        }
        sandbox::close_launchers(ctx_.uid); // the compilers' sandboxes
        b.grade.build_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return b;
    }

    // Runs the graded labs' tests and scripts from the programs in built_bin, and scores them.
    Grade run_phase(Built& b, const fs::path& built_bin) {
        const auto started = std::chrono::steady_clock::now();
        const fs::path& bin = built_bin;
        Grade grade = b.grade;
        if (!ctx_.options.hidden) {
            double hidden = 0;
            for (std::size_t i = 0; i < b.manifest.size(); ++i) {
                hidden += b.graded[i] ? ctx_.rubric.lab(b.manifest[i].id)->hidden_scripts : 0;
            }
            std::ostringstream points;
            points << hidden;
            grade.notes.push_back(
                "visible checks only: the hidden scripts (" + points.str() +
                " points of the rubric) were not run (--no-hidden), and this score is out of the rest");
        }
        // The submission's programs, the tests and the scripts talk over a loopback of their own:
        // nothing can leave the machine, and nothing clashes with another submission's ports.
        const std::string why = script::enter_private_network();
        grade.notes.push_back(why.empty() ? "network: the programs ran in a network namespace of their own "
                                            "(loopback only)"
                                          : "network: no namespace of its own could be made (" + why +
                                                "); the programs shared the machine's network");
        if (user_.uid() >= 0) {
            (void)kill_user(user_.uid()); // what a grader killed mid-grade left running as this user
            grade.notes.push_back("processes: the programs ran as user id " + std::to_string(user_.uid()) +
                                  ", at most " + std::to_string(ctx_.rubric.max_processes) +
                                  " processes; every process of that user was killed after each lab");
        } else {
            grade.notes.push_back("processes: the programs ran as the grader's own user (" + user_.why_not() +
                                  ")");
        }
        for (std::size_t i = 0; i < b.manifest.size(); ++i) {
            if (!b.graded[i]) {
                continue;
            }
            const auto& m = b.manifest[i];
            Lab& lab = b.labs[i];
            const LabRubric& lr = *ctx_.rubric.lab(m.id);
            if (b.compiled[i]) {
                run_lab(ctx_, m, lr, lab, bin, why.empty());
                sandbox::close_launchers(ctx_.uid); // the lab's sandboxes, and all they still run
                // A sandbox whose bwrap was killed takes its processes down a moment later: the
                // cgroup waits for that first, so only what really outlived its test is counted.
                int left = group_ ? group_->kill_all(std::chrono::milliseconds(500)) : 0;
                left += kill_leftovers(bin);
                if (user_.uid() >= 0) {
                    left += kill_user(user_.uid());
                }
                if (left > 0) {
                    grade.notes.push_back(
                        "lab " + m.id + ": " + std::to_string(left) +
                        " process(es) of the submission outlived their process group; killed");
                }
                if (!ctx_.sandbox_why_not.empty()) {
                    // Without a sandbox the scratch folder is on disk: rm(1) removes a tree of any
                    // depth (std::filesystem runs out of descriptors in a very deep one).
                    Bounds removal;
                    removal.wall = std::chrono::seconds(60);
                    (void)run_bounded({"/bin/rm", "-rf", "--one-file-system", scratch(bin).string()}, {},
                                      removal);
                }
            }
            score(lr, lab, ctx_.options.hidden, ctx_.rubric.path);
            grade.labs.push_back(lab);
        }
        for (const auto& lab : grade.labs) {
            grade.score += lab.score;
            grade.max_score += lab.max_score;
        }
        grade.finished = now_utc();
        grade.run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return grade;
    }

    // Once per grade: which sandbox this machine gives, and the submission's cgroup.
    void set_up_sandbox(Grade& grade) {
        ctx_.sandbox_why_not = sandbox::unavailable(user_.uid(), ::geteuid() == 0);
        std::string no_group;
        group_ = sandbox::Group::make(std::to_string(::getpid()) + "-" + std::to_string(user_.uid()) + "-" +
                                          std::to_string(++grades_made()),
                                      std::uint64_t(ctx_.rubric.memory_mib) << 20, ctx_.rubric.max_processes,
                                      no_group);
        if (group_) {
            ctx_.cgroups = group_->folders();
        }
        if (ctx_.sandbox_why_not.empty()) {
            grade.notes.push_back(
                std::string(
                    "sandbox: every program of the submission, the compiler included, ran in bubblewrap") +
                (::geteuid() != 0 ? " (in a user namespace)"
                 : sandbox::launches(ctx_.policy({}))
                     ? " (started as root, without a user namespace, once per "
                       "lab: socklab-sandbox-launcher gave each program "
                       "namespaces and fresh folders of its own)"
                     : " (started as root, without a user namespace)") +
                ": a new session, its own PID, IPC and UTS namespaces, a clean environment, and a view of "
                "only "
                "the system's read-only folders, the given code, the submission's files, its own build "
                "output "
                "and fresh temporary folders");
        } else {
            grade.notes.push_back("sandbox: none (" + ctx_.sandbox_why_not +
                                  "): the programs saw every file the grading user can read, the grader's "
                                  "session and environment, and shared its PID and IPC namespaces");
            // No sandbox binds the tree in for the grading user: it must reach it itself.
            for (const fs::path& needed : {ctx_.root / "labs", ctx_.work}) {
                if (user_.uid() >= 0 && !user_can_reach(user_.uid(), needed)) {
                    user_.give_up("without a sandbox, another user cannot reach " + needed.string() +
                                  " (a folder above it is closed to others)");
                }
            }
        }
        ctx_.uid = user_.uid(); // the grading user, from now on
        grade.notes.push_back(group_ ? "limits: the whole submission in one " + group_->describe()
                                     : "limits: per process only (" + no_group +
                                           "): 2 GiB of address space, 64 MiB per file, CPU time; " +
                                           std::to_string(ctx_.rubric.max_processes) +
                                           " processes of the grading user (with a user id)");
    }

    static std::atomic<int>& grades_made() {
        static std::atomic<int> count{0};
        return count;
    }
};

} // namespace

std::vector<ManifestLab> read_manifest(const std::string& root) {
    const fs::path path = fs::path(root) / "labs" / "manifest.txt";
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string() + ": is --root the instructor's tree?");
    }
    std::vector<ManifestLab> labs;
    for (std::string line; std::getline(in, line);) {
        if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
            !std::isdigit(static_cast<unsigned char>(line[1])) || line[2] != ' ') {
            continue;
        }
        std::istringstream words(line);
        ManifestLab lab;
        words >> lab.id >> lab.folder;
        for (std::string file; words >> file;) {
            lab.files.push_back(file);
        }
        labs.push_back(std::move(lab));
    }
    return labs;
}

Grade grade(const GradeOptions& options, const Rubric& rubric) {
    return Grader(options, rubric).run();
}

Grade grade_shared(const GradeOptions& options, const Rubric& rubric, std::mutex& build_mutex,
                   const fs::path& run_dir) {
    return Grader(options, rubric).run_shared(build_mutex, run_dir);
}

} // namespace socklab::grade
