#include "grade.hpp"

#include "bounded.hpp"
#include "catch_report.hpp"
#include "cgroup.hpp"
#include "intake.hpp"
#include "objects.hpp"
#include "process.hpp"
#include "runner.hpp"
#include "sandbox.hpp"
#include "script.hpp"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace socklab::grade {
namespace {

std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Writes a file only when its content changes, so the build recompiles only what changed.
void write_if_changed(const fs::path& path, const std::string& content) {
    if (fs::exists(path) && read_text(path) == content) {
        return;
    }
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
}

// The compiler's first errors: from the first line that says "error" on, at most 30 lines.
std::string first_errors(const std::string& log) {
    std::istringstream in(log);
    std::vector<std::string> lines;
    bool started = false;
    static const std::regex progress(R"(^\[[0-9]+/[0-9]+\] )");
    for (std::string line; std::getline(in, line);) {
        if (std::regex_search(line, progress)) {
            continue; // ninja's progress, not the compiler's words
        }
        if (!started &&
            (line.find("error") != std::string::npos || line.find("Error") != std::string::npos)) {
            started = true;
        }
        if (started) {
            lines.push_back(line);
            if (lines.size() == 30) {
                lines.emplace_back("...");
                break;
            }
        }
    }
    if (lines.empty()) {
        std::string tail = log.size() > 3000 ? log.substr(log.size() - 3000) : log;
        return tail;
    }
    std::string out;
    for (const auto& l : lines) {
        out += l + "\n";
    }
    return out;
}

std::vector<std::string> lines_of(const std::string& text);

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) {
            out.push_back(line);
        }
    }
    return out;
}

// The docs section a failed test's output points to: a skeleton's "not implemented yet: ...
// (read docs/...)" first (what to write), else the "read:" line (what the behaviour is).
std::string docs_in(const std::string& output) {
    static const std::regex not_implemented(R"(not implemented yet: \S+ \(read (docs/[^)\s]+)\))");
    static const std::regex read_line(R"((?:^|\n)read: (docs/\S+))");
    std::smatch m;
    if (std::regex_search(output, m, not_implemented) || std::regex_search(output, m, read_line)) {
        return m[1];
    }
    return "";
}

// Sends SIGKILL to every process but this one for which doomed(its /proc/PID folder) holds.
// Returns how many were killed.
int kill_where(const std::function<bool(const fs::path&)>& doomed) {
    int killed = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string pid = entry.path().filename().string();
        if (pid.find_first_not_of("0123456789") == std::string::npos && std::stoi(pid) != ::getpid() &&
            doomed(entry.path())) {
            killed += ::kill(std::stoi(pid), SIGKILL) == 0 ? 1 : 0;
        }
    }
    return killed;
}

// Kills every process still running a program of bin (one that left its process group with
// setsid, say, after a fork): /proc/PID/exe names the program even without an exec. Returns how many.
int kill_leftovers(const fs::path& bin) {
    const std::string prefix = fs::weakly_canonical(bin).string() + "/";
    return kill_where([&prefix](const fs::path& proc) {
        std::error_code link_error;
        const std::string exe = fs::read_symlink(proc / "exe", link_error).string();
        // Not a grader: another socklab-grade built in the same folder may be waiting for the work lock.
        return !link_error && exe.rfind(prefix, 0) == 0 && fs::path(exe).filename() != "socklab-grade";
    });
}

// The network namespace the grader started in: a grade moves its thread to a private one, and a
// lease must be seen by graders in other namespaces (below).
int original_network() {
    static const int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    return fd;
}

// Binds the abstract socket name in the grader's first network namespace and returns it, or -1
// when another process holds the name. Abstract names are per network namespace, not per file
// system: a grader in a chroot with its own /run sees the same ones.
int bind_abstract(const std::string& name) {
    const int here = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const bool moved = original_network() >= 0 && here >= 0 && ::setns(original_network(), CLONE_NEWNET) == 0;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (moved) {
        (void)::setns(here, CLONE_NEWNET);
    }
    if (here >= 0) {
        ::close(here);
    }
    if (fd < 0) {
        return -1;
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + 1, name.data(), std::min(name.size(), sizeof address.sun_path - 2));
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), size) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// The user the submission's programs run as, when the grader is root: an id of no account
// (61000-61999), held for as long as it lives by flock(2) on /run/socklab-grade/ID.lock and by the
// abstract socket @socklab-grade-uid-ID, so that graders at once (a batch's jobs, two instructors,
// or a grader in a chroot with a /run of its own beside one outside) never share one: the
// process cap counts per user, and the sweep kills every process of the user.
// -1 when the grader is not root.
class UserLease {
public:
    UserLease() {
        (void)original_network();
        if (::geteuid() != 0) {
            why_not_ = "the grader is not root, so it cannot run them as another user";
            return;
        }
        const fs::path dir = "/run/socklab-grade";
        std::error_code ec;
        fs::create_directories(dir, ec);
        ::chmod(dir.c_str(), 0700);
        for (int id = 61000; id < 62000 && uid_ < 0; ++id) {
            passwd entry{};
            passwd* found = nullptr;
            char buffer[4096];
            if (::getpwuid_r(static_cast<uid_t>(id), &entry, buffer, sizeof buffer, &found) == 0 &&
                found != nullptr) {
                continue; // an account of this machine's
            }
            const int fd =
                ::open((dir / (std::to_string(id) + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0) {
                const int name = bind_abstract("socklab-grade-uid-" + std::to_string(id));
                if (name >= 0) {
                    uid_ = id;
                    fd_ = fd;
                    name_fd_ = name;
                    continue;
                }
            }
            if (fd >= 0) {
                ::close(fd);
            }
        }
        if (uid_ < 0) {
            why_not_ = "no free user id in 61000-61999 (under " + dir.string() + ")";
        }
    }
    ~UserLease() {
        for (const int fd : {fd_, name_fd_}) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    UserLease(const UserLease&) = delete;
    UserLease& operator=(const UserLease&) = delete;

    [[nodiscard]] int uid() const { return uid_; }
    [[nodiscard]] const std::string& why_not() const { return why_not_; }
    // The programs run as the grader's own user after all (the lease is kept, unused).
    void give_up(std::string why) { uid_ = -1, why_not_ = std::move(why); }

private:
    int uid_ = -1;
    int fd_ = -1;
    int name_fd_ = -1;
    std::string why_not_;
};

// How many processes of user uid are alive: the real user id and the state from /proc/PID/status.
// Zombies (which wait only for their parent to reap them) count only with count_zombies.
int alive_of_user(int uid, bool count_zombies = false) {
    int alive = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string pid = entry.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream status("/proc/" + pid + "/status");
        std::string line;
        bool zombie = false;
        int real = -1;
        while (std::getline(status, line)) {
            if (line.rfind("State:", 0) == 0) {
                zombie = line.find('Z') != std::string::npos;
            } else if (line.rfind("Uid:", 0) == 0) {
                real = std::stoi(line.substr(4));
                break;
            }
        }
        alive += real == uid && (count_zombies || !zombie) ? 1 : 0;
    }
    return alive;
}

// Kills every process of user uid, however it left its group or whatever it runs now (a child
// that called setsid and then exec'd /bin/sleep, say): a child that becomes the user sends SIGKILL
// to every process it may signal (kill(2) with pid -1), until none is alive. Returns how many
// were alive at first.
int kill_user(int uid) {
    const int first = alive_of_user(uid);
    for (int round = 0, alive = first; round < 50 && alive > 0; ++round, alive = alive_of_user(uid)) {
        std::shared_lock forking(script::fork_lock());
        const pid_t pid = ::fork();
        if (pid != 0) {
            forking.unlock();
        }
        if (pid == 0) {
            const auto id = static_cast<uid_t>(uid);
            if (::setresgid(id, id, id) != 0 || ::setresuid(id, id, id) != 0) {
                ::_exit(1);
            }
            for (int i = 0; i < 20 && ::kill(-1, SIGKILL) == 0; ++i) {
                ::usleep(500); // a fork bomb may fork between two rounds: the next one gets it
            }
            ::_exit(0);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
    }
    // A killed orphan stays a zombie until init reaps it (a second or two on some machines), and a
    // zombie still counts against the user's RLIMIT_NPROC: the next lab's tests could not fork.
    for (int i = 0; i < 200 && alive_of_user(uid, true) > 0; ++i) {
        ::usleep(50'000);
    }
    return first;
}

// Kills what a killed grader left running in folder: a program built there (but socklab-grade),
// and a build tool (ninja, cmake, the compiler, the linker) working there. Returns how many.
int kill_working_in(const fs::path& folder) {
    const std::string prefix = fs::weakly_canonical(folder).string() + "/";
    return kill_where([&prefix](const fs::path& proc) {
        std::error_code e1;
        std::error_code e2;
        const std::string cwd = fs::read_symlink(proc / "cwd", e1).string() + "/";
        const std::string exe = fs::read_symlink(proc / "exe", e2).string();
        // The real names: x86_64-linux-gnu-g++-12, cc1plus, x86_64-linux-gnu-ld.bfd, ...
        static const std::regex tools(
            R"(^(ninja|cmake|cc1plus|collect2|lto1|(.*-)?(g\+\+|gcc|c\+\+|as|ld)(\.bfd|\.gold)?(-[0-9.]+)?)$)");
        const std::string name = fs::path(exe).filename().string();
        const bool building = !e1 && !e2 && cwd.rfind(prefix, 0) == 0 && std::regex_match(name, tools);
        return building || (!e2 && exe.rfind(prefix, 0) == 0 && name != "socklab-grade");
    });
}

// flock(2) on WORK/.lock for as long as it lives; waits (and says so) while another grader holds it.
class WorkLock {
public:
    WorkLock(const fs::path& work, const std::function<void(const std::string&)>& progress) {
        fs::create_directories(work);
        fd_ = ::open((work / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            throw std::runtime_error("cannot open " + (work / ".lock").string() + ": " +
                                     std::strerror(errno));
        }
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            progress("waiting for another socklab-grade that uses " + work.string());
            ::flock(fd_, LOCK_EX);
        }
        // A grader killed mid-build (SIGKILL, a lost terminal) may have left ninja and compilers
        // writing in this folder: a build beside them would copy half-written programs.
        const int left = kill_working_in(work);
        if (left > 0) {
            progress("stopped " + std::to_string(left) + " process(es) an earlier grader left working in " +
                     work.string());
        }
    }
    ~WorkLock() { ::close(fd_); }
    WorkLock(const WorkLock&) = delete;
    WorkLock& operator=(const WorkLock&) = delete;

private:
    int fd_ = -1;
};

// Copies the programs of folder from into folder to (made), keeping their modes. Each file is
// open for writing only under script::fork_lock() held exclusively, and close-on-exec, so that no
// child forked meanwhile keeps it open (running it would then fail with ETXTBSY).
void copy_programs(const fs::path& from, const fs::path& to) {
    fs::create_directories(to);
    for (const auto& entry : fs::directory_iterator(from)) {
        const fs::path target = to / entry.path().filename();
        if (entry.is_directory()) {
            copy_programs(entry.path(), target);
            continue;
        }
        if (!entry.is_regular_file()) {
            continue;
        }
        const int in = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            throw std::system_error(errno, std::generic_category(), "open " + entry.path().string());
        }
        struct stat st = {};
        (void)::fstat(in, &st);
        const std::unique_lock writing(script::fork_lock());
        const int out = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
        if (out < 0) {
            const int e = errno;
            ::close(in);
            throw std::system_error(e, std::generic_category(), "create " + target.string());
        }
        off_t offset = 0;
        while (offset < st.st_size) {
            const ssize_t n = ::sendfile(out, in, &offset, static_cast<std::size_t>(st.st_size - offset));
            if (n <= 0) {
                const int e = n < 0 ? errno : EIO;
                ::close(in);
                ::close(out);
                throw std::system_error(e, std::generic_category(), "copy to " + target.string());
            }
        }
        (void)::fchmod(out, st.st_mode & 07777);
        ::close(out);
        ::close(in);
    }
}

// Whether user uid can enter folder and read what is in it (every folder above it must let others
// through): checked in a child that becomes the user.
bool user_can_reach(int uid, const fs::path& folder) {
    const std::string path = folder.string();
    std::shared_lock forking(script::fork_lock());
    const pid_t pid = ::fork();
    if (pid != 0) {
        forking.unlock();
    }
    if (pid == 0) {
        const auto id = static_cast<uid_t>(uid);
        const bool ok = ::setgroups(0, nullptr) == 0 && ::setresgid(id, id, id) == 0 &&
                        ::setresuid(id, id, id) == 0 && ::access(path.c_str(), R_OK | X_OK) == 0;
        ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    return pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

const std::string kNoGroup = "(in no group of the rubric)";

// The instructor's tree failed (it does not configure or build), not a submission: a batch stops.
class TreeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Grader {
public:
    Grader(const GradeOptions& options, const Rubric& rubric)
        : o_(options), rubric_(rubric), root_(fs::absolute(options.root)), work_(fs::absolute(options.work)),
          build_(work_ / "build"), files_(work_ / "files") {}

    // Grades alone: holds the work folder for the whole grade.
    Grade run() {
        // One grader at a time in a work folder: two would rewrite each other's files mid-build.
        const WorkLock lock(work_, o_.progress);
        Built built = build_phase();
        return run_phase(built, build_ / "bin");
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
            copy_programs(build_ / "bin", run_dir / "bin");
        }
        Grade grade = run_phase(built, run_dir / "bin");
        fs::remove_all(run_dir);
        return grade;
    }

private:
    UserLease user_;                        // the user the submission's programs and compiler run as
    std::string sandbox_why_not_;           // "" when bubblewrap works here (set_up_sandbox)
    std::unique_ptr<sandbox::Group> group_; // the submission's cgroup, or none (per-process limits)
    script::Confinement confinement_;       // of the submission's programs, set by run_phase
    std::chrono::steady_clock::time_point submission_deadline_; // the rubric's submission_timeout_seconds
    std::chrono::steady_clock::time_point lab_deadline_;        // the current lab's time budget ends
    std::string lab_cut_; // why the rest of the current lab is not run (its timed-out tests), or ""

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
        submission_deadline_ =
            started +
            std::chrono::milliseconds(static_cast<long long>(rubric_.submission_timeout_seconds * 1000));
        Built b;
        set_up_sandbox(b.grade);
        b.grade.student = o_.student;
        b.grade.submission = o_.submission;
        b.grade.cumulative = o_.cumulative;
        b.grade.seed = o_.seed.value_or(0);
        b.grade.started = now_utc();
        b.manifest = read_manifest(root_.string());
        for (const auto& m : b.manifest) {
            Lab lab;
            lab.id = m.id;
            lab.folder = m.folder;
            const LabRubric* lr = rubric_.lab(m.id);
            lab.title = lr != nullptr ? lr->title : m.folder;
            place_files(m, lab);
            b.labs.push_back(std::move(lab));
        }
        configure();
        build_shared();
        // No library of an earlier grade (another student's) may be linked into this one.
        std::error_code cleared;
        fs::remove_all(build_ / "graded", cleared);
        std::size_t highest = 0;
        for (std::size_t i = 0; i < b.manifest.size(); ++i) {
            if (o_.labs.empty() ||
                std::find(o_.labs.begin(), o_.labs.end(), b.manifest[i].id) != o_.labs.end()) {
                highest = i + 1;
            }
        }
        std::set<std::string> uncompiled;
        for (std::size_t i = 0; i < b.manifest.size(); ++i) {
            const auto& m = b.manifest[i];
            Lab& lab = b.labs[i];
            const bool graded =
                o_.labs.empty() || std::find(o_.labs.begin(), o_.labs.end(), m.id) != o_.labs.end();
            b.graded.push_back(graded);
            if (!graded) {
                // --cumulative links the labs below a graded one: compile them too.
                if (o_.cumulative && i < highest) {
                    Lab below = lab;
                    o_.progress("lab " + m.id + ": compiling (a graded lab above builds on it)");
                    if (!compile_lab(m, below)) {
                        uncompiled.insert(m.id);
                    }
                }
                b.compiled.push_back(false);
                continue;
            }
            if (rubric_.lab(m.id) == nullptr) {
                throw TreeError("the rubric " + rubric_.path + " has no [[lab]] with id = \"" + m.id + "\"");
            }
            o_.progress("lab " + m.id + ": building");
            if (o_.cumulative && !uncompiled.empty()) {
                lab.build = "compile error";
                lab.build_log =
                    "with --cumulative this lab builds on the student's own labs below it, and lab " +
                    *uncompiled.begin() + " did not compile or was refused (see its build log)";
                uncompiled.insert(m.id);
                b.compiled.push_back(false);
            } else if (!build_lab(m, lab)) {
                uncompiled.insert(m.id);
                b.compiled.push_back(false);
            } else {
                b.compiled.push_back(true);
            }
        }
        b.grade.build_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return b;
    }

    // Runs the graded labs' tests and scripts from the programs in built_bin, and scores them.
    Grade run_phase(Built& b, const fs::path& built_bin) {
        const auto started = std::chrono::steady_clock::now();
        const fs::path& bin = built_bin;
        Grade grade = b.grade;
        if (!o_.hidden) {
            double hidden = 0;
            for (std::size_t i = 0; i < b.manifest.size(); ++i) {
                hidden += b.graded[i] ? rubric_.lab(b.manifest[i].id)->hidden_scripts : 0;
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
                                  ", at most " + std::to_string(rubric_.max_processes) +
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
            const LabRubric& lr = *rubric_.lab(m.id);
            if (b.compiled[i]) {
                confinement_ = run_policy(m, bin);
                o_.progress("lab " + m.id + ": running the tests");
                run_tests(m, lr, lab, bin);
                o_.progress("lab " + m.id + ": running the scripts");
                run_scripts(m, lr, lab, bin);
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
                if (!confinement_.enabled) {
                    // Without a sandbox the scratch folder is on disk: rm(1) removes a tree of any
                    // depth (std::filesystem runs out of descriptors in a very deep one).
                    Bounds removal;
                    removal.wall = std::chrono::seconds(60);
                    (void)run_bounded({"/bin/rm", "-rf", "--one-file-system", scratch(bin).string()}, {},
                                      removal);
                }
            }
            score(lr, lab);
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

    // Takes the lab's student-owned files from the submission (or the skeleton's, reported as
    // missing) into files/, and notes the files beside them that the grader ignores.
    void place_files(const ManifestLab& m, Lab& lab) {
        // Nothing of the submission is followed through a symbolic link, at any depth (intake.hpp):
        // a link to the reference solutions, as a file or as any folder above it, takes nothing.
        const fs::path sub = fs::absolute(o_.submission);
        const bool handout = is_plain_folder(sub, "labs");
        const fs::path from = handout ? fs::path("labs") / m.folder / "src" : fs::path(m.folder);
        for (const auto& file : m.files) {
            const Taken taken = take_file(sub, from / file);
            if (!taken.content) {
                lab.missing.push_back(m.folder + "/" + file +
                                      (taken.why_not == "missing" ? "" : " (" + taken.why_not + ")"));
            }
            write_if_changed(files_ / m.folder / file,
                             taken.content ? *taken.content
                                           : read_text(root_ / "labs" / m.folder / "src" / file));
        }
        if (is_plain_folder(sub, from)) {
            for (const auto& entry : fs::directory_iterator(sub / from)) {
                const std::string name = entry.path().filename().string();
                if (std::find(m.files.begin(), m.files.end(), name) == m.files.end()) {
                    lab.extra.push_back(m.folder + "/" + name);
                }
            }
            std::sort(lab.extra.begin(), lab.extra.end());
        }
    }

    BoundedRun cmake(const std::vector<std::string>& args, std::chrono::milliseconds limit) {
        std::vector<std::string> argv{cmake_path()};
        argv.insert(argv.end(), args.begin(), args.end());
        Bounds bounds;
        bounds.wall = limit;
        bounds.max_output = 1 << 20;
        return run_bounded(argv, {}, bounds);
    }

    static std::string cmake_path() {
        for (const char* candidate : {"/usr/bin/cmake", "/usr/local/bin/cmake"}) {
            if (fs::exists(candidate)) {
                return candidate;
            }
        }
        return "/usr/bin/cmake";
    }

    void configure() {
        const std::string cumulative = o_.cumulative ? "ON" : "OFF";
        const fs::path cache = build_ / "CMakeCache.txt";
        if (fs::exists(cache)) {
            const std::string text = read_text(cache);
            if (text.find("SOCKLAB_GRADE_DIR:PATH=" + files_.string() + "\n") != std::string::npos &&
                text.find("SOCKLAB_GRADE_CUMULATIVE:BOOL=" + cumulative + "\n") != std::string::npos) {
                return;
            }
        }
        o_.progress("configuring the grading build in " + build_.string());
        const auto run =
            cmake({"-S", root_.string(), "-B", build_.string(), "-G", "Ninja",
                   "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1",
                   "-DSOCKLAB_GRADE_DIR=" + files_.string(), "-DSOCKLAB_GRADE_CUMULATIVE=" + cumulative},
                  std::chrono::minutes(5));
        if (run.exit_code != 0) {
            throw TreeError("configuring the grading build failed (" + run.status_text() + "):\n" +
                            first_errors(run.output));
        }
    }

    // What every lab needs and no submission changes: the test main, the reference peer.
    void build_shared() {
        o_.progress("building the instructor's parts (test main, reference peer)");
        const auto run = cmake({"--build", build_.string(), "--target", "socklab_catch_main", "refpeer"},
                               std::chrono::minutes(10));
        if (run.exit_code != 0) {
            throw TreeError("building the instructor's parts failed (" + run.status_text() + "):\n" +
                            first_errors(run.output));
        }
    }

    std::vector<std::string> programs_of(const ManifestLab& m) const {
        std::vector<std::string> names;
        const fs::path app = root_ / "labs" / m.folder / "app";
        if (fs::is_directory(app)) {
            for (const auto& entry : fs::directory_iterator(app)) {
                if (entry.path().extension() == ".cpp") {
                    names.push_back(entry.path().stem().string());
                }
            }
        }
        std::sort(names.begin(), names.end());
        return names;
    }

    // How a step of this submission runs: inside bubblewrap where it works here (as the grading
    // user, under the submission's cgroup), seeing the system and the given code (labs/)
    // read-only, plus binds. Nothing else of the machine exists there: not files/ as a whole (in
    // a batch it may hold the next student's files while this one's tests run).
    [[nodiscard]] sandbox::Policy policy(std::vector<sandbox::Bind> binds) const {
        sandbox::Policy p;
        p.enabled = sandbox_why_not_.empty();
        p.privileged = ::geteuid() == 0;
        p.uid = user_.uid();
        p.limits = true;
        p.max_processes = rubric_.max_processes;
        if (group_) {
            p.cgroups = group_->folders();
        }
        p.binds = {{(root_ / "labs").string(), false}};
        p.binds.insert(p.binds.end(), binds.begin(), binds.end());
        return p;
    }

    // Once per grade: which sandbox this machine gives, and the submission's cgroup.
    void set_up_sandbox(Grade& grade) {
        sandbox_why_not_ = sandbox::unavailable(user_.uid(), ::geteuid() == 0);
        std::string no_group;
        group_ =
            sandbox::Group::make(std::to_string(::getpid()) + "-" + std::to_string(user_.uid()) + "-" +
                                     std::to_string(++grades_made()),
                                 std::uint64_t(rubric_.memory_mib) << 20, rubric_.max_processes, no_group);
        if (sandbox_why_not_.empty()) {
            grade.notes.push_back(
                std::string(
                    "sandbox: every program of the submission, the compiler included, ran in bubblewrap") +
                (::geteuid() == 0 ? " (started as root, without a user namespace)"
                                  : " (in a user namespace)") +
                ": a new session, its own PID, IPC and UTS namespaces, a clean environment, and a view of "
                "only "
                "the system's read-only folders, the given code, the submission's files, its own build "
                "output "
                "and fresh temporary folders");
        } else {
            grade.notes.push_back("sandbox: none (" + sandbox_why_not_ +
                                  "): the programs saw every file the grading user can read, the grader's "
                                  "session and environment, and shared its PID and IPC namespaces");
            // No sandbox binds the tree in for the grading user: it must reach it itself.
            for (const fs::path& needed : {root_ / "labs", work_}) {
                if (user_.uid() >= 0 && !user_can_reach(user_.uid(), needed)) {
                    user_.give_up("without a sandbox, another user cannot reach " + needed.string() +
                                  " (a folder above it is closed to others)");
                }
            }
        }
        grade.notes.push_back(group_ ? "limits: the whole submission in one " + group_->describe()
                                     : "limits: per process only (" + no_group +
                                           "): 2 GiB of address space, 64 MiB per file, CPU time; " +
                                           std::to_string(rubric_.max_processes) +
                                           " processes of the grading user (with a user id)");
    }

    static std::atomic<int>& grades_made() {
        static std::atomic<int> count{0};
        return count;
    }

    // The compile command of source (a student file) from the build's compile_commands.json, split
    // into words as a shell would, without its output and dependency-file options.
    std::vector<std::string> compile_command(const fs::path& source) const {
        const nlohmann::json commands = nlohmann::json::parse(read_text(build_ / "compile_commands.json"));
        std::string command;
        for (const auto& entry : commands) {
            if (entry.value("file", "") == source.string()) {
                command = entry.value("command", "");
            }
        }
        std::vector<std::string> words;
        std::string word;
        bool in_word = false;
        char quote = 0;
        for (std::size_t i = 0; i < command.size(); ++i) {
            const char c = command[i];
            if (quote == 0 && (c == ' ' || c == '\t')) {
                if (in_word) {
                    words.push_back(word);
                }
                word.clear();
                in_word = false;
            } else if (quote == 0 && (c == '"' || c == '\'')) {
                quote = c;
                in_word = true;
            } else if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote != '\'' && i + 1 < command.size()) {
                word += command[++i];
                in_word = true;
            } else {
                word += c;
                in_word = true;
            }
        }
        if (in_word) {
            words.push_back(word);
        }
        std::vector<std::string> argv;
        for (std::size_t i = 0; i < words.size(); ++i) {
            if (words[i] == "-o" || words[i] == "-c" || words[i] == "-MT" || words[i] == "-MF") {
                ++i; // its value too
            } else if (words[i] != "-MD") {
                argv.push_back(words[i]);
            }
        }
        return argv;
    }

    // What the reference code of the lab defines and calls (its library in the trusted build):
    // the allowlist of a student object's symbols.
    ObjectRules object_rules(const ManifestLab& m) {
        ObjectRules rules;
        rules.refused_calls = rubric_.refused_calls;
        if (const auto built = cmake({"--build", build_.string(), "--target", "socklab_lab" + m.id},
                                     std::chrono::minutes(10));
            built.exit_code != 0) {
            throw TreeError("building the reference code of lab " + m.id + " failed (" + built.status_text() +
                            "):\n" + first_errors(built.output));
        }
        const auto run = run_bounded(
            {"/usr/bin/nm", "-P", (build_ / ("libsocklab_lab" + m.id + ".a")).string()}, {}, Bounds{});
        for (const auto& s : parse_nm(run.output)) {
            if (s.type == 'U') {
                rules.reference_calls.insert(s.name);
            } else if ((s.type >= 'A' && s.type <= 'Z') || s.type == 'u') {
                rules.reference_defines.insert(s.name);
            }
        }
        return rules;
    }

    // Compiles the lab's student files in the sandbox into graded/labNN/libgraded.a, checks the
    // objects' symbols, then links the lab's tests and programs (given code) outside it.
    bool build_lab(const ManifestLab& m, Lab& lab) {
        if (!compile_lab(m, lab)) {
            return false;
        }
        // The link: the given tests and programs with that library, by the grader's own build.
        std::vector<std::string> args{"--build", build_.string(), "--target", "lab" + m.id + "_tests",
                                      "lab" + m.id + "_tests_list"};
        for (const auto& p : programs_of(m)) {
            args.push_back(p);
        }
        const auto run = cmake(args, std::chrono::minutes(10));
        if (run.exit_code != 0) {
            lab.build = "compile error";
            lab.build_log =
                "linking the lab's tests and programs with the code failed:\n" + first_errors(run.output);
            return false;
        }
        return true;
    }

    // The sandboxed part of build_lab: graded/labNN/libgraded.a from the student's files, checked.
    // With --cumulative, the labs below a graded one are compiled so too (they are linked into it).
    bool compile_lab(const ManifestLab& m, Lab& lab) {
        const fs::path out = build_ / "graded" / ("lab" + m.id);
        std::error_code ec;
        fs::remove_all(out, ec);
        fs::create_directories(out);
        if (user_.uid() >= 0) {
            (void)!::chown(out.c_str(), static_cast<uid_t>(user_.uid()), static_cast<gid_t>(user_.uid()));
        }
        const auto started = std::chrono::steady_clock::now();
        const auto limit =
            std::chrono::milliseconds(static_cast<long long>(rubric_.build_timeout_seconds * 1000));
        const auto sandboxed = [&](const std::vector<std::string>& argv, std::size_t max_output) {
            Bounds bounds;
            bounds.wall = std::max(std::chrono::milliseconds(1000),
                                   std::min(limit - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                        std::chrono::steady_clock::now() - started),
                                            submission_left()));
            bounds.max_output = max_output;
            bounds.cwd = out.string();
            bounds.confinement = policy({{(files_ / m.folder).string(), false}, {out.string(), true}});
            return run_bounded(argv, {}, bounds);
        };
        const auto fail = [&](const std::string& kind, const std::string& why) {
            lab.build = kind;
            lab.build_log = why;
            return false;
        };
        std::vector<std::string> objects;
        for (const auto& file : m.files) {
            const fs::path source = files_ / m.folder / file;
            std::vector<std::string> argv = compile_command(source);
            if (argv.empty()) {
                throw TreeError("the grading build has no compile command for " + source.string() +
                                " (configure again)");
            }
            const std::string object = (out / (file + ".o")).string();
            argv.insert(argv.end(), {"-c", source.string(), "-o", object});
            const auto run = sandboxed(argv, 1 << 20);
            if (run.exit_code != 0) {
                const bool capped = run.timed_out && submission_left().count() == 0;
                return fail("compile error",
                            capped ? "the build did not finish: " + submission_cut().substr(9)
                            : run.timed_out
                                ? "the build did not finish in " +
                                      std::to_string(static_cast<long long>(rubric_.build_timeout_seconds)) +
                                      " s (the grader stopped it)"
                            : run.output.empty() ? "the compiler " + run.status_text() + " and said nothing"
                                                 : first_errors(run.output));
            }
            objects.push_back(object);
        }
        // The objects' symbols: what they define and call (nm), and system calls of their own.
        const ObjectRules rules = object_rules(m);
        for (std::size_t i = 0; i < objects.size(); ++i) {
            const std::string file = m.folder + "/" + m.files[i];
            const auto nm = sandboxed({"/usr/bin/nm", "-P", objects[i]}, std::size_t{16} << 20);
            const auto dump = sandboxed({"/usr/bin/objdump", "-d", "--no-show-raw-insn", objects[i]},
                                        std::size_t{64} << 20);
            if (nm.exit_code != 0 || dump.exit_code != 0) {
                return fail("refused", file + ": its object could not be read (nm or objdump " +
                                           (nm.exit_code != 0 ? nm.status_text() : dump.status_text()) + ")");
            }
            for (const std::string& why :
                 {object_refused(file, parse_nm(nm.output), rules), assembly_refused(file, dump.output)}) {
                if (!why.empty()) {
                    return fail("refused", why);
                }
            }
        }
        std::vector<std::string> archive{"/usr/bin/ar", "rcs", (out / "libgraded.a").string()};
        archive.insert(archive.end(), objects.begin(), objects.end());
        if (const auto run = sandboxed(archive, 1 << 20); run.exit_code != 0) {
            return fail("compile error", "ar " + run.status_text() + ":\n" + first_errors(run.output));
        }
        struct stat st = {};
        if (::lstat((out / "libgraded.a").c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            return fail("compile error", "the sandbox made no library of the lab's objects");
        }
        return true;
    }

    // What is left of the submission's wall-clock cap (the rubric's submission_timeout_seconds).
    [[nodiscard]] std::chrono::milliseconds submission_left() const {
        return std::max(std::chrono::milliseconds(0),
                        std::chrono::duration_cast<std::chrono::milliseconds>(
                            submission_deadline_ - std::chrono::steady_clock::now()));
    }

    [[nodiscard]] std::string submission_cut() const {
        return "not run: the submission's time cap (" +
               std::to_string(static_cast<long long>(rubric_.submission_timeout_seconds)) +
               " s, the rubric's submission_timeout_seconds) ran out";
    }

    // How the lab's tests and programs run: the sandbox sees the lab's test program, its programs
    // and the reference peer (no other program of the build: the test listing links the reference
    // code), and works in a fresh scratch folder.
    [[nodiscard]] script::Confinement run_policy(const ManifestLab& m, const fs::path& bin) const {
        std::vector<sandbox::Bind> binds;
        for (const auto& name : programs_of(m)) {
            binds.push_back({(bin / name).string(), false});
        }
        for (const std::string& name : {"lab" + m.id + "_tests", std::string("refpeer")}) {
            if (fs::exists(bin / name)) {
                binds.push_back({(bin / name).string(), false});
            }
        }
        script::Confinement c = policy(binds);
        c.fresh = {scratch(bin).string()};
        c.cwd = scratch(bin).string();
        if (!c.enabled) {
            // No sandbox: a scratch folder on disk, the submission's user's, removed after the lab.
            std::error_code ec;
            fs::create_directories(scratch(bin), ec);
            if (user_.uid() >= 0) {
                (void)!::chown(scratch(bin).c_str(), static_cast<uid_t>(user_.uid()),
                               static_cast<gid_t>(user_.uid()));
            }
        }
        return c;
    }

    static fs::path scratch(const fs::path& bin) { return bin.parent_path() / "scratch"; }

    void run_tests(const ManifestLab& m, const LabRubric& lr, Lab& lab, const fs::path& bin) {
        // A lab whose tests hang one after another must not hold the grader for hours: its tests
        // and scripts share one budget.
        lab_deadline_ = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long long>(rubric_.lab_timeout_seconds * 1000));
        lab_cut_.clear();
        const std::string exe = (bin / ("lab" + m.id + "_tests")).string();
        // The names and groups come from the copy linked to the reference code (trusted); the
        // graded copy only runs them.
        const std::string lister = (bin / ("lab" + m.id + "_tests_list")).string();
        Bounds listing;
        listing.wall = std::chrono::seconds(20);
        const auto names_run = run_bounded({lister, "--list-test-names-only"}, {}, listing);
        if (names_run.timed_out || names_run.signal != 0) {
            throw TreeError("listing the tests of lab " + m.id + " with the reference code " +
                            names_run.status_text() + ":\n" + names_run.output);
        }
        const auto names = lines_of(names_run.output);
        // The graded copy must start at all: code that ends the program before main (a static
        // constructor, say) makes every test of the lab an error.
        Bounds probing = listing;
        probing.confinement = confinement_;
        probing.cwd = confinement_.cwd;
        const auto probe = run_bounded({exe, "--list-test-names-only"}, {}, probing);
        const auto listed = lines_of(probe.output);
        if (probe.timed_out || probe.signal != 0 || listed != names) {
            const auto [ref, got] = std::mismatch(names.begin(), names.end(), listed.begin(), listed.end());
            lab.build = "test program does not start";
            lab.build_log = "the lab's test program, built with this code, " + probe.status_text() +
                            " when asked to list its tests, and did not list them as the reference does (" +
                            std::to_string(listed.size()) + " lines for " + std::to_string(names.size()) +
                            " tests; the first difference: " +
                            (got != listed.end() ? "\"" + *got + "\"" : std::string("the end")) +
                            " where \"" + (ref != names.end() ? *ref : std::string("the end")) +
                            "\" was expected):\n" + probe.output.substr(0, 2000) +
                            "\n(does the code under test print or end the program before main, in a static "
                            "constructor say?)";
            return;
        }
        // The rubric's group of each test: the docs section it is tagged with.
        std::map<std::string, std::string> group_of;
        for (const auto& g : lr.groups) {
            const auto members =
                run_bounded({lister, "--list-test-names-only", "[" + g.section + "]"}, {}, listing);
            for (const auto& n : lines_of(members.output)) {
                group_of[n] = g.name;
            }
        }
        // Test cases start in their order, at most o_.jobs at once. After the lab_max_timeouts-th
        // time-out in that order, the rest of the lab is not run, whatever it did meanwhile: where
        // the lab is cut depends on which tests hang, not on how fast the machine is.
        std::vector<Item> items(names.size());
        std::vector<char> timed_out(names.size(), 0);
        std::mutex taking;
        std::size_t next = 0;
        int timeouts = 0;
        const auto take = [&]() -> std::optional<std::size_t> {
            const std::scoped_lock lock(taking);
            if (next >= names.size() || timeouts >= rubric_.lab_max_timeouts) {
                return std::nullopt;
            }
            return next++;
        };
        const auto lab_deadline = lab_deadline_;
        const auto work = [&] {
            while (const auto i = take()) {
                if (submission_left().count() == 0) {
                    items[*i] = not_run_test(names[*i], submission_cut());
                    continue;
                }
                if (std::chrono::steady_clock::now() >= lab_deadline) {
                    items[*i] = not_run_test(names[*i], wall_clock_cut());
                    continue;
                }
                bool hung = false;
                items[*i] = run_test(m, exe, names[*i], bin, hung);
                if (hung) {
                    const std::scoped_lock lock(taking);
                    timed_out[*i] = 1;
                    ++timeouts;
                }
            }
        };
        {
            std::vector<std::jthread> workers;
            for (int j = 0; j < std::max(1, o_.jobs); ++j) {
                workers.emplace_back(work);
            }
        }
        int seen = 0;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (!lab_cut_.empty()) {
                items[i] = not_run_test(names[i], lab_cut_);
            } else if (timed_out[i] != 0 && ++seen == rubric_.lab_max_timeouts) {
                lab_cut_ = "not run: " + std::to_string(seen) +
                           " of the lab's test cases timed out, the last \"" + names[i] +
                           "\" (the rubric's lab_max_timeouts)";
            }
        }
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto g = group_of.find(names[i]);
            items[i].group = g != group_of.end() ? g->second : kNoGroup;
            lab.items.push_back(std::move(items[i]));
        }
    }

    [[nodiscard]] std::string wall_clock_cut() const {
        return "not run: the lab's time budget (" +
               std::to_string(static_cast<int>(rubric_.lab_timeout_seconds)) +
               " s) ran out, as earlier tests or checks were slow or hung";
    }

    static Item not_run_test(const std::string& name, const std::string& reason) {
        Item item;
        item.name = name;
        item.kind = "test";
        item.status = Status::Error;
        item.reason = reason;
        return item;
    }

    Item run_test(const ManifestLab& m, const std::string& exe, const std::string& name, const fs::path& bin,
                  bool& timed_out) {
        Item item;
        item.name = name;
        item.kind = "test";
        Bounds bounds;
        bounds.wall =
            std::min(std::chrono::milliseconds(static_cast<long long>(rubric_.test_timeout_seconds * 1000)),
                     std::max(submission_left(), std::chrono::milliseconds(1)));
        bounds.max_output = std::size_t{64} * 1024;
        bounds.cwd = confinement_.cwd; // what a test writes lands there
        bounds.confinement = confinement_;
        bounds.report_fd = true;
        std::vector<std::string> argv{exe};
        const auto args = catch_run_args(name);
        argv.insert(argv.end(), args.begin(), args.end());
        const auto run =
            run_bounded(argv, {"SOCKLAB_UNDER_CTEST=1", "SOCKLAB_BIN_DIR=" + bin.string()}, bounds);
        item.seconds = run.seconds;
        timed_out = run.timed_out;
        // The verdict comes from Catch2's XML report on descriptor 3; what the program printed
        // (the read: line, its own output) follows the failures the report lists.
        const CatchResult result = read_catch_report(run.report, name);
        item.output = result.text.empty() ? run.output : result.text + "\n\n" + run.output;
        if (run.dropped > 0) {
            item.output += "\n(" + std::to_string(run.dropped) + " more bytes of output not kept)\n";
        }
        item.replay = "ctest --test-dir build -R '^lab" + m.id + "/" +
                      std::regex_replace(name, std::regex(R"([.^$|()*+?{}\[\]\\])"), R"(\$&)") +
                      "$' --output-on-failure";
        if (run.exit_code == 77) {
            item.status = Status::Skipped;
            item.reason = "skipped: this machine cannot run it";
        } else if (run.timed_out || run.signal != 0) {
            item.status = Status::Error;
            item.reason =
                "the test " + run.status_text() + (result.reason.empty() ? "" : " (" + result.reason + ")");
        } else if (!result.finished) {
            // Catch2 writes a test's result when the test ends: without it, something ended the
            // program first (exit() in the code under test, say), whatever its status.
            item.status = Status::Error;
            item.reason = "the test program " + run.status_text() +
                          " before the test finished (Catch2's report has no result for it): the code under "
                          "test ended it early";
        } else if (result.success && run.exit_code == 0) {
            item.status = Status::Passed;
        } else if (result.success) {
            item.status = Status::Error;
            item.reason = "the test passed, but then the test program " + run.status_text() +
                          " (code that runs after the tests: a destructor or an exit handler?)";
        } else {
            item.status = Status::Failed;
            item.reason = result.reason.empty() ? "the test " + run.status_text() : result.reason;
        }
        item.docs = docs_in(run.output);
        return item;
    }

    void run_scripts(const ManifestLab& m, const LabRubric& lr, Lab& lab, const fs::path& bin) {
        std::vector<std::pair<fs::path, bool>> scripts; // path, hidden
        const auto add = [&](const fs::path& folder, bool hidden) {
            if (!fs::is_directory(folder)) {
                return;
            }
            std::vector<fs::path> found;
            for (const auto& entry : fs::directory_iterator(folder)) {
                if (entry.path().extension() == ".script") {
                    found.push_back(entry.path());
                }
            }
            std::sort(found.begin(), found.end());
            for (const auto& f : found) {
                scripts.emplace_back(f, hidden);
            }
        };
        add(root_ / "labs" / m.folder / "scripts", false);
        if (o_.hidden) {
            add(root_ / "grader" / "hidden" / m.folder, true);
        }
        (void)lr;
        for (const auto& [path, hidden] : scripts) {
            const auto script = script::load_script(path.string());
            if (submission_left().count() == 0) {
                not_run(script, path.stem().string(), hidden, submission_cut(), lab);
                continue;
            }
            if (!lab_cut_.empty() || std::chrono::steady_clock::now() >= lab_deadline_) {
                not_run(script, path.stem().string(), hidden, lab_cut_.empty() ? wall_clock_cut() : lab_cut_,
                        lab);
                continue;
            }
            script::RunOptions options;
            options.bin_dir = bin.string();
            options.confinement = confinement_;
            options.confinement.limits = true;
            options.confinement.env = {"SOCKLAB_BIN_DIR=" + bin.string()};
            options.seed = o_.seed;
            const std::string relative = fs::relative(path, root_).string();
            options.replay = {"build/bin/socklab-script", relative};
            std::ostringstream transcript;
            const auto result = script::run_script(script, options, transcript);
            const std::string stem = path.stem().string();
            // A check not run because an earlier one failed (the set-up, say) has no docs section of
            // its own: it points to the first one the script's failures name.
            std::string script_docs;
            for (const auto& c : result.checks) {
                if (script_docs.empty() && !c.passed) {
                    script_docs = docs_in(c.report);
                }
            }
            for (const auto& c : result.checks) {
                Item item;
                item.name = stem + "/" + c.name;
                item.kind = "check";
                item.group = hidden ? "hidden scripts" : "scripts";
                item.hidden = hidden || c.hidden;
                item.status = c.passed ? Status::Passed : Status::Failed;
                item.reason = c.summary;
                item.seconds = c.seconds;
                item.seed = result.seed;
                item.output = c.report;
                item.max_score = c.points; // a weight until score() shares out the group's points
                item.docs = docs_in(c.report);
                if (item.docs.empty() && !c.passed) {
                    item.docs = script_docs;
                }
                item.replay = hidden ? ""
                                     : "build/bin/socklab-script --seed " + std::to_string(result.seed) +
                                           " " + relative;
                lab.items.push_back(std::move(item));
            }
        }
    }

    // The checks of a script that the lab's time budget left no time for: each a failure worth 0.
    static void not_run(const script::Script& script, const std::string& stem, bool hidden,
                        const std::string& reason, Lab& lab) {
        for (const auto& c : script.checks) {
            Item item;
            item.name = stem + "/" + c.name;
            item.kind = "check";
            item.group = hidden ? "hidden scripts" : "scripts";
            item.hidden = hidden || c.hidden;
            item.status = Status::Error;
            item.reason = reason;
            item.max_score = c.points;
            lab.items.push_back(std::move(item));
        }
    }

    // A rubric that names a test, a section or a check that does not exist would silently make
    // points nobody can earn: the grader stops instead, naming the mistake.
    void check_rubric_names(const LabRubric& lr, const Lab& lab) const {
        std::set<std::string> names;
        std::set<std::string> groups_seen;
        for (const auto& item : lab.items) {
            names.insert(item.name);
            groups_seen.insert(item.group);
        }
        // path:LINE: when the mistake is on a line of the rubric, as a compiler would say it.
        const auto fail = [&](int line, const std::string& what) {
            std::string at = rubric_.path;
            if (line > 0) {
                at += ":" + std::to_string(line);
            }
            throw TreeError(at + ": lab " + lr.id + ": " + what);
        };
        const auto line_of = [&](const std::string& name) {
            const auto found = lr.lines.find(name);
            return found == lr.lines.end() ? 0 : found->second;
        };
        for (const auto& g : lr.groups) {
            if (groups_seen.count(g.name) == 0) {
                fail(g.line,
                     "the group \"" + g.name + "\" has no test: no test case is tagged [" + g.section + "]");
            }
        }
        for (const auto& [name, reason] : lr.ungraded) {
            if (names.count(name) == 0) {
                fail(line_of(name),
                     "[[lab.ungraded]] names \"" + name + "\", which is not a test of the lab");
            }
        }
        for (const auto& [name, weight] : lr.check_weights) {
            if (names.count(name) == 0 && o_.hidden) { // without hidden scripts, their checks are absent
                fail(line_of(name), "[lab.scripts.weights] names \"" + name +
                                        "\", which is not a check (\"script/check name\")");
            }
        }
        for (const auto& item : lab.items) {
            if (item.group == kNoGroup) {
                fail(0, "the test \"" + item.name + "\" is in no [[lab.group]] (its docs tag has no group)");
            }
        }
    }

    // Shares out each group's points among its items, and adds them up.
    void score(const LabRubric& lr, Lab& lab) {
        lab.groups.clear();
        for (const auto& g : lr.groups) {
            lab.groups.push_back({g.name, 0, g.points, 0, 0});
        }
        lab.groups.push_back({"scripts", 0, lr.visible_scripts, 0, 0});
        lab.groups.push_back({"hidden scripts", 0, o_.hidden ? lr.hidden_scripts : 0, 0, 0});
        const auto group = [&](const std::string& name) -> Group* {
            for (auto& g : lab.groups) {
                if (g.name == name) {
                    return &g;
                }
            }
            return nullptr;
        };
        // Counted items per group, and the total weight of the script checks.
        std::map<std::string, double> weight;
        for (auto& item : lab.items) {
            Group* g = group(item.group);
            const bool ungraded = lr.ungraded.count(item.name) != 0;
            if (g == nullptr || ungraded || item.status == Status::Skipped) {
                continue;
            }
            ++g->counted;
            if (item.kind == "check") {
                const auto w = lr.check_weights.find(item.name);
                if (w != lr.check_weights.end()) {
                    item.max_score = w->second;
                }
                weight[item.group] += item.max_score;
            }
        }
        for (auto& item : lab.items) {
            Group* g = group(item.group);
            const bool ungraded = lr.ungraded.count(item.name) != 0;
            if (ungraded) {
                item.reason =
                    "ungraded: " + lr.ungraded.at(item.name) +
                    (item.status == Status::Passed || item.reason.empty() ? "" : "; " + item.reason);
                item.max_score = 0;
                item.score = 0;
                continue;
            }
            if (g == nullptr || item.status == Status::Skipped || g->counted == 0) {
                item.max_score = 0;
                item.score = 0;
                continue;
            }
            if (item.kind == "check") {
                const double total = weight[item.group];
                item.max_score = total > 0 ? g->max_score * item.max_score / total : 0;
            } else {
                item.max_score = g->max_score / g->counted;
            }
            item.score = item.status == Status::Passed ? item.max_score : 0;
            g->score += item.score;
            g->passed += item.status == Status::Passed ? 1 : 0;
        }
        if (lab.build == "ok") {
            check_rubric_names(lr, lab);
        }
        lab.score = 0;
        lab.max_score = 0;
        for (const auto& g : lab.groups) {
            lab.score += g.score;
            lab.max_score += g.max_score;
        }
        // Round each lab to hundredths so reports add up to what they show.
        lab.score = static_cast<double>(std::llround(lab.score * 100)) / 100;
        lab.read_first.clear();
        for (const auto& item : lab.items) {
            if (item.status != Status::Passed && item.status != Status::Skipped && !item.docs.empty() &&
                !item.hidden) {
                lab.read_first = item.docs;
                break;
            }
        }
    }

    const GradeOptions& o_;
    const Rubric& rubric_;
    fs::path root_;
    fs::path work_;
    fs::path build_;
    fs::path files_;
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

std::vector<std::string> batch_students(const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.is_directory() && !entry.is_symlink() && entry.path().filename().string()[0] != '.') {
            names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<Grade> grade_batch(const GradeOptions& base, const Rubric& rubric, const BatchOptions& batch) {
    const auto names = batch_students(batch.folder);
    const fs::path work = fs::absolute(base.work);
    const WorkLock lock(work, base.progress);
    std::vector<Grade> grades(names.size());
    std::mutex build_mutex;
    std::mutex report_mutex;
    std::atomic<std::size_t> next{0};
    std::size_t done = 0;
    std::exception_ptr grader_failure;
    const auto worker = [&] {
        for (std::size_t i = next++; i < names.size(); i = next++) {
            std::optional<Grade> kept = batch.done_before ? batch.done_before(names[i]) : std::nullopt;
            if (!kept) {
                GradeOptions options = base;
                options.submission = (fs::absolute(batch.folder) / names[i]).lexically_normal().string();
                options.student = names[i];
                try {
                    kept = Grader(options, rubric).run_shared(build_mutex, work / "runs" / names[i]);
                } catch (const TreeError&) {
                    // The instructor's tree failed, not the submission: stop, keep what is done.
                    const std::lock_guard<std::mutex> guard(report_mutex);
                    grader_failure = std::current_exception();
                    next = names.size();
                    return;
                } catch (const std::exception& e) {
                    // This submission broke the grader itself: it scores 0 with the reason (every
                    // graded lab listed, so the gradebook keeps its columns), and the class goes on.
                    Grade failed;
                    failed.student = names[i];
                    failed.submission = options.submission;
                    failed.started = failed.finished = now_utc();
                    failed.notes.push_back(std::string("the grader failed on this submission: ") + e.what());
                    for (const auto& m : read_manifest(options.root)) {
                        const LabRubric* lr = rubric.lab(m.id);
                        if (lr == nullptr ||
                            (!options.labs.empty() && std::find(options.labs.begin(), options.labs.end(),
                                                                m.id) == options.labs.end())) {
                            continue;
                        }
                        Lab lab;
                        lab.id = m.id;
                        lab.folder = m.folder;
                        lab.title = lr->title;
                        lab.build = "grader failed";
                        lab.build_log = e.what();
                        for (const auto& g : lr->groups) {
                            lab.max_score += g.points;
                        }
                        lab.max_score += lr->visible_scripts + (options.hidden ? lr->hidden_scripts : 0);
                        failed.max_score += lab.max_score;
                        failed.labs.push_back(std::move(lab));
                    }
                    kept = std::move(failed);
                }
            }
            const std::lock_guard<std::mutex> guard(report_mutex);
            grades[i] = std::move(*kept);
            ++done;
            if (batch.finished) {
                batch.finished(grades[i], done, names.size());
            }
        }
    };
    {
        std::vector<std::jthread> workers;
        for (int j = 0; j < std::max(1, batch.jobs); ++j) {
            workers.emplace_back(worker);
        }
    }
    if (grader_failure) {
        std::rethrow_exception(grader_failure);
    }
    return grades;
}

} // namespace socklab::grade
