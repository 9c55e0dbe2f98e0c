#include "grade.hpp"

#include "bounded.hpp"
#include "process.hpp"
#include "runner.hpp"
#include "script.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
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

// Catch2's console reporter ends a run whose tests all passed with "All tests passed (N
// assertions in 1 test case)" as its last line: a zero exit status without it is not a pass (the
// code under test ended the program, or printed the line itself earlier on).
bool ends_with_catch_summary(const std::string& output) {
    const auto lines = lines_of(output);
    static const std::regex summary(R"(^All tests passed \([0-9]+ assertions? in 1 test case\)\s*$)");
    if (lines.size() >= 2 && lines.back() == "assertions: - none -" &&
        lines[lines.size() - 2] == "test cases: 1 | 1 passed") {
        return true; // a test that checks by running to its end, with no assertion
    }
    return !lines.empty() && std::regex_match(lines.back(), summary);
}

// Catch2 v2 reads a test name as a test spec: escape the characters that mean something there.
std::string catch_spec(const std::string& name) {
    std::string out;
    for (const char c : name) {
        if (c == ',' || c == '[' || c == ']' || c == '\\' || c == '*' || c == '~') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

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

// One line that says why a Catch2 test failed: the exception message or the failed expression.
std::string catch_reason(const std::string& output) {
    const auto lines = lines_of(output);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].find("FAILED:") == std::string::npos) {
            continue;
        }
        for (std::size_t j = i + 1; j < lines.size() && j < i + 12; ++j) {
            const std::string& l = lines[j];
            if (l.find("with message:") != std::string::npos ||
                l.find("with expansion:") != std::string::npos) {
                if (j + 1 < lines.size()) {
                    std::string text = lines[j + 1];
                    text.erase(0, text.find_first_not_of(' '));
                    return text;
                }
            }
        }
        if (i + 1 < lines.size()) {
            std::string text = lines[i + 1];
            text.erase(0, text.find_first_not_of(' '));
            return text;
        }
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

// The user the submission's programs run as, when the grader is root: an id of no account
// (61000-61999), held with flock(2) on /run/socklab-grade/ID.lock for as long as it lives, so that
// graders at once (a batch's jobs, or two instructors) never share one: the process cap counts
// per user, and the sweep kills every process of the user. -1 when the grader is not root.
class UserLease {
public:
    UserLease() {
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
                uid_ = id;
                fd_ = fd;
            } else if (fd >= 0) {
                ::close(fd);
            }
        }
        if (uid_ < 0) {
            why_not_ = "no free user id in 61000-61999 (under " + dir.string() + ")";
        }
    }
    ~UserLease() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    UserLease(const UserLease&) = delete;
    UserLease& operator=(const UserLease&) = delete;

    [[nodiscard]] int uid() const { return uid_; }
    [[nodiscard]] const std::string& why_not() const { return why_not_; }
    void give_up(std::string why) { uid_ = -1, why_not_ = std::move(why); }

private:
    int uid_ = -1;
    int fd_ = -1;
    std::string why_not_;
};

// Whether user uid can list and run what is in folder (every folder above it must let others
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

// Why this machine will not give the grader's children a mount namespace of their own ("" when
// it will): tried in a child.
std::string mount_namespace_refused() {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        return std::strerror(errno);
    }
    std::shared_lock forking(script::fork_lock());
    const pid_t pid = ::fork();
    if (pid != 0) {
        forking.unlock();
    }
    if (pid == 0) {
        // {errno, which call}: 1 unshare, 2 the mount that makes every mount private
        int e[2] = {0, 0};
        if (::unshare(CLONE_NEWNS) != 0) {
            e[0] = errno, e[1] = 1;
        } else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            e[0] = errno, e[1] = 2;
        }
        (void)!::write(pipe_fds[1], e, sizeof e);
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    int e[2] = {ECHILD, 1};
    (void)!::read(pipe_fds[0], e, sizeof e);
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (e[0] == 0) {
        return "";
    }
    if (e[1] == 2) {
        // In a chroot, / is a folder, not a mount point, and EINVAL says so.
        return std::string("mount(\"/\", MS_REC | MS_PRIVATE): ") + std::strerror(e[0]) +
               (e[0] == EINVAL ? " (is / a chroot, not a mount point?)" : "");
    }
    return std::string("unshare(CLONE_NEWNS): ") + std::strerror(e[0]);
}

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
        struct stat st {};
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

constexpr std::uintmax_t kMaxSourceBytes = 1 << 20;
const std::string kNoGroup = "(in no group of the rubric)";

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
    UserLease user_;                  // the user the submission's programs and preprocessing run as
    script::Confinement confinement_; // of the submission's programs, set by run_phase
    std::chrono::steady_clock::time_point lab_deadline_; // the current lab's time budget ends
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
        Built b;
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
        std::set<std::string> uncompiled;
        for (std::size_t i = 0; i < b.manifest.size(); ++i) {
            const auto& m = b.manifest[i];
            Lab& lab = b.labs[i];
            const bool graded =
                o_.labs.empty() || std::find(o_.labs.begin(), o_.labs.end(), m.id) != o_.labs.end();
            b.graded.push_back(graded);
            if (!graded) {
                b.compiled.push_back(false);
                continue;
            }
            if (rubric_.lab(m.id) == nullptr) {
                throw std::runtime_error("the rubric " + rubric_.path + " has no [[lab]] with id = \"" +
                                         m.id + "\"");
            }
            o_.progress("lab " + m.id + ": building");
            if (o_.cumulative && !uncompiled.empty()) {
                lab.build = "compile error";
                lab.build_log =
                    "with --cumulative this lab builds on the student's own labs below it, and lab " +
                    *uncompiled.begin() + " did not compile (see its errors)";
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
        // A tree in a folder closed to other users (root's home, /root, is mode 700) keeps the
        // grading user from its programs: they then run from a copy in a folder it can reach,
        // which is this user's alone (its lease) and removed at the end.
        fs::path bin = built_bin;
        struct RemoveAtEnd {
            fs::path folder;
            ~RemoveAtEnd() {
                std::error_code ec;
                if (!folder.empty()) {
                    fs::remove_all(folder, ec);
                }
            }
        } copy;
        if (user_.uid() >= 0 && !user_can_reach(user_.uid(), bin)) {
            const fs::path parent = "/run/socklab-grade-programs";
            std::error_code ec;
            fs::create_directories(parent, ec);
            ::chmod(parent.c_str(), 0711); // others may pass through, not list
            copy.folder = parent / std::to_string(user_.uid());
            fs::remove_all(copy.folder, ec);
            fs::create_directories(copy.folder, ec);
            // Root's, readable by the grading user's group only: the submission can run its
            // programs but not replace them, and another submission of a batch cannot read them.
            (void)!::chown(copy.folder.c_str(), 0, static_cast<gid_t>(user_.uid()));
            ::chmod(copy.folder.c_str(), 0750);
            try {
                if (!ec) {
                    copy_programs(bin, copy.folder / "bin");
                    bin = copy.folder / "bin";
                }
            } catch (const std::exception&) {
                // No copy (a full /run, say): the check below gives the grading user up and says why.
            }
        }
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
        UserLease& user = user_;
        if (user.uid() >= 0 && !user_can_reach(user.uid(), bin)) {
            user.give_up("another user cannot reach " + bin.string() +
                         " (a folder above it is closed to others)");
        } else if (bin != built_bin) {
            grade.notes.push_back("programs: run from a copy in " + bin.string() +
                                  ", as another user cannot reach " + built_bin.string() +
                                  " (a folder above it is closed to others)");
        }
        confinement_ = {};
        if (user.uid() >= 0) {
            confinement_.uid = user.uid();
            (void)kill_user(user.uid()); // what a grader killed mid-grade left running as this user
            const std::string where = fs::weakly_canonical(bin).string() + "/";
            const auto holds_the_programs = [&where](const fs::path& p) {
                return where.rfind(fs::weakly_canonical(p).string() + "/", 0) == 0;
            };
            std::vector<fs::path> hide{root_ / "solutions",
                                       root_ / "grader" / "hidden",
                                       root_ / "grader" / "corpus",
                                       root_ / ".git",
                                       files_,
                                       build_};
            // The instructor's other builds hold the reference code compiled, and test copies of it.
            std::error_code ec;
            for (const auto& entry : fs::directory_iterator(root_, ec)) {
                if (entry.is_directory() && entry.path().filename().string().rfind("build", 0) == 0) {
                    hide.push_back(entry.path());
                }
            }
            for (const auto& p : o_.private_paths) {
                hide.push_back(fs::absolute(p));
            }
            for (const auto& p : hide) {
                if (fs::exists(p) && !holds_the_programs(p)) {
                    confinement_.hide.push_back(p.string());
                }
            }
            for (const std::string tmp : {"/tmp", "/var/tmp", "/dev/shm"}) {
                if (!holds_the_programs(tmp)) {
                    confinement_.fresh.push_back(tmp);
                }
            }
            std::string hidden =
                "without the reference solutions, hidden scripts, other builds or reports in "
                "sight, and with temporary folders of their own";
            if (const std::string why = mount_namespace_refused(); !why.empty()) {
                confinement_.hide.clear();
                confinement_.fresh.clear();
                hidden =
                    "but with every folder the grader can read in sight (no mount namespace: " + why + ")";
            }
            grade.notes.push_back("processes: the programs ran as user id " + std::to_string(user.uid()) +
                                  ", at most " + std::to_string(confinement_.max_processes) + " processes, " +
                                  hidden + "; every process of that user was killed after each lab");
        } else {
            grade.notes.push_back("processes: the programs ran as the grader's own user (" + user.why_not() +
                                  "): no cap on their number, and they could read what the grader can");
        }
        for (std::size_t i = 0; i < b.manifest.size(); ++i) {
            if (!b.graded[i]) {
                continue;
            }
            const auto& m = b.manifest[i];
            Lab& lab = b.labs[i];
            const LabRubric& lr = *rubric_.lab(m.id);
            if (b.compiled[i]) {
                fs::create_directories(bin.parent_path() / "scratch");
                if (user.uid() >= 0) {
                    (void)!::chown((bin.parent_path() / "scratch").c_str(), static_cast<uid_t>(user.uid()),
                                   static_cast<gid_t>(user.uid()));
                }
                o_.progress("lab " + m.id + ": running the tests");
                run_tests(m, lr, lab, bin);
                o_.progress("lab " + m.id + ": running the scripts");
                run_scripts(m, lr, lab, bin);
                int left = kill_leftovers(bin);
                if (user.uid() >= 0) {
                    left += kill_user(user.uid());
                }
                if (left > 0) {
                    grade.notes.push_back(
                        "lab " + m.id + ": " + std::to_string(left) +
                        " process(es) of the submission outlived their process group; killed");
                }
                fs::remove_all(bin.parent_path() / "scratch");
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
        const fs::path sub = fs::absolute(o_.submission);
        const bool handout = fs::is_directory(sub / "labs");
        const fs::path from = handout ? sub / "labs" / m.folder / "src" : sub / m.folder;
        for (const auto& file : m.files) {
            fs::path source = from / file;
            // Only a plain file of reasonable size: a symbolic link could point at the reference
            // solutions on the grading machine, and a huge file is not a lab's source.
            const bool link = fs::is_symlink(fs::symlink_status(source));
            const bool plain = !link && fs::is_regular_file(fs::symlink_status(source));
            if (!plain || fs::file_size(source) > kMaxSourceBytes) {
                lab.missing.push_back(m.folder + "/" + file +
                                      (link    ? " (a symbolic link: not accepted)"
                                       : plain ? " (over 1 MiB: not accepted)"
                                               : ""));
                source = root_ / "labs" / m.folder / "src" / file;
            }
            write_if_changed(files_ / m.folder / file, read_text(source));
        }
        if (fs::is_directory(from)) {
            for (const auto& entry : fs::directory_iterator(from)) {
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
            throw std::runtime_error("configuring the grading build failed (" + run.status_text() + "):\n" +
                                     first_errors(run.output));
        }
    }

    // What every lab needs and no submission changes: the test main, the reference peer.
    void build_shared() {
        o_.progress("building the instructor's parts (test main, reference peer)");
        const auto run = cmake({"--build", build_.string(), "--target", "socklab_catch_main", "refpeer"},
                               std::chrono::minutes(10));
        if (run.exit_code != 0) {
            throw std::runtime_error("building the instructor's parts failed (" + run.status_text() + "):\n" +
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

    // The compiler reads what a source file includes, and quotes it in its errors: an include of
    // the reference solutions would compile them as the student's, one of /etc/shadow would show
    // it in the report; the assembler's .incbin reads any file into the program. A lab's code
    // needs no macro and no assembly: only #include of <system> and "socklab/..." headers by
    // name, and #if/#ifdef/#ifndef/#elif/#else/#endif.
    std::string include_refused(const ManifestLab& m) const {
        static const std::regex directive(R"(^\s*(?:#|%:)\s*(\w*)\s*(.*?)\s*$)");
        static const std::regex header(R"(^(<[A-Za-z0-9_./+-]+>|"[A-Za-z0-9_./+-]+")$)");
        static const std::regex forbidden(R"(\b(asm|__asm|__asm__|_Pragma)\b|incbin|##|%:%:)");
        static const std::set<std::string> conditionals{"if", "ifdef", "ifndef", "elif", "else", "endif"};
        for (const auto& file : m.files) {
            const std::string source = read_text(files_ / m.folder / file);
            const std::string where = m.folder + "/" + file + ": ";
            std::smatch found;
            const std::string code = without_comments(source, true);
            if (std::regex_search(code, found, forbidden)) {
                return where + "'" + found[0].str() +
                       "': inline assembly, .incbin, _Pragma and token pasting are not accepted in a lab's "
                       "code";
            }
            std::istringstream lines(without_comments(source, false));
            std::string line;
            while (std::getline(lines, line)) {
                if (!std::regex_match(line, found, directive)) {
                    continue;
                }
                const std::string name = found[1].str();
                const std::string what = found[2].str();
                const bool plain_include = name == "include" && std::regex_match(what, header) &&
                                           what.find("..") == std::string::npos && what[1] != '/';
                if (!plain_include && conditionals.count(name) == 0) {
                    std::string why = where;
                    why += "#";
                    why += name;
                    why += what.empty() ? "" : " " + what;
                    why +=
                        ": only #include of a <system> or \"socklab/...\" header by its name (no absolute "
                        "path, no .., no macro) and #if, #ifdef, #ifndef, #elif, #else, #endif are accepted";
                    return why;
                }
            }
        }
        return "";
    }

    // text as the preprocessor sees it before directives: lines ended by a backslash joined to the
    // next, every comment one space, string and character literals kept whole (a "/*" inside one
    // starts no comment), or blanked to "" and '' when blank_literals. A character or string literal ends at
    // its line's end at the latest, a raw string at its closing )DELIM".
    static std::string without_comments(const std::string& source, bool blank_literals) {
        std::string text;
        for (std::size_t i = 0; i < source.size(); ++i) {
            if (source[i] == '\\' && i + 1 < source.size() && source[i + 1] == '\n') {
                ++i;
            } else {
                text += source[i];
            }
        }
        std::string out;
        std::size_t i = 0;
        const auto at = [&text](std::size_t k) { return k < text.size() ? text[k] : '\0'; };
        while (i < text.size()) {
            const char c = text[i];
            if (c == '/' && at(i + 1) == '/') {
                while (i < text.size() && text[i] != '\n') {
                    ++i;
                }
                out += ' ';
            } else if (c == '/' && at(i + 1) == '*') {
                const auto end = text.find("*/", i + 2);
                out += ' ';
                i = end == std::string::npos ? text.size() : end + 2;
            } else if (c == '"' && i > 0 && text[i - 1] == 'R') {
                const auto open = text.find('(', i);
                const std::string close =
                    ")" + (open == std::string::npos ? std::string() : text.substr(i + 1, open - i - 1)) +
                    "\"";
                const auto end = open == std::string::npos ? std::string::npos : text.find(close, open);
                const std::size_t stop = end == std::string::npos ? text.size() : end + close.size();
                out += blank_literals ? std::string("\"\"") : text.substr(i, stop - i);
                i = stop;
            } else if (c == '"' ||
                       (c == '\'' && !(i > 0 && std::isalnum(static_cast<unsigned char>(text[i - 1]))))) {
                std::size_t k = i + 1;
                while (k < text.size() && text[k] != c && text[k] != '\n') {
                    k += text[k] == '\\' ? 2 : 1;
                }
                const std::size_t stop = std::min(k + 1, text.size());
                out += blank_literals ? std::string(2, c) : text.substr(i, stop - i);
                i = stop;
            } else {
                out += c;
                ++i;
            }
        }
        return out;
    }

    // The student's files preprocessed as the grading user, with the reference solutions and the
    // grader's files out of sight (as the programs run): what the compiler would read, by its own
    // rules, however the #include is spelt. Refused when it fails (a file the user may not read)
    // or names a header outside the system's and the labs' own. Only as root (a user to run as).
    std::string preprocess_refused(const ManifestLab& m) {
        if (user_.uid() < 0 || !user_can_reach(user_.uid(), files_ / m.folder) ||
            !user_can_reach(user_.uid(), root_ / "labs")) {
            return ""; // the text check above, and the compiler's record after the build, still hold
        }
        const nlohmann::json commands = nlohmann::json::parse(read_text(build_ / "compile_commands.json"));
        script::Confinement confinement;
        confinement.uid = user_.uid();
        confinement.limits = true;
        confinement.cpu_seconds = 60;
        for (const fs::path& p : {root_ / "solutions", root_ / "grader", root_ / ".git"}) {
            if (fs::exists(p)) {
                confinement.hide.push_back(p.string());
            }
        }
        const std::vector<std::string> allowed{"/usr/include/", "/usr/lib/gcc/", "/usr/local/include/",
                                               fs::weakly_canonical(root_ / "labs").string() + "/",
                                               fs::weakly_canonical(files_ / m.folder).string() + "/"};
        for (const auto& file : m.files) {
            const std::string source = (files_ / m.folder / file).string();
            std::string command;
            for (const auto& entry : commands) {
                if (entry.value("file", "") == source) {
                    command = entry.value("command", "");
                }
            }
            std::vector<std::string> argv;
            std::istringstream words(command);
            std::string word;
            for (bool first = true; words >> word; first = false) {
                if (first || word.rfind("-I", 0) == 0 || word.rfind("-D", 0) == 0 ||
                    word.rfind("-std=", 0) == 0) {
                    argv.push_back(word);
                }
            }
            if (argv.empty()) {
                return m.folder + "/" + file + ": the build has no command for it (configure again)";
            }
            argv.insert(argv.end(), {"-M", source});
            Bounds bounds;
            bounds.wall = std::chrono::seconds(60);
            bounds.confinement = confinement;
            const auto run = run_bounded(argv, {}, bounds);
            if (run.exit_code != 0) {
                return m.folder + "/" + file +
                       ": preprocessing it as an unprivileged user, with the reference "
                       "solutions and the grader's files out of sight, " +
                       run.status_text() + ":\n" + first_errors(run.output);
            }
            std::string deps = std::regex_replace(run.output, std::regex(R"(\\\n)"), " ");
            std::istringstream paths(deps.substr(deps.find(':') + 1));
            std::string path;
            while (paths >> path) {
                const std::string canonical = fs::weakly_canonical(path).string();
                const bool fine = std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) {
                    return canonical.rfind(a, 0) == 0;
                });
                if (!fine) {
                    std::string why = m.folder + "/" + file + ": it includes ";
                    why += canonical;
                    why += ", which is not a header of the system or of the labs";
                    return why;
                }
            }
        }
        return "";
    }

    // What the compiler itself recorded (ninja -t deps): no object of the student's files may
    // have read a file of the reference solutions or of the grader, however it named it.
    std::string deps_refused(const ManifestLab& m) {
        Bounds bounds;
        bounds.max_output = std::size_t{256} << 20; // a line per header of every object
        const auto run = run_bounded({ninja_path(), "-C", build_.string(), "-t", "deps"}, {}, bounds);
        if (run.exit_code != 0 || run.dropped > 0) {
            return "the compiler's record of what it read (ninja -t deps) could not be checked: " +
                   run.status_text();
        }
        const std::string sources = fs::weakly_canonical(files_ / m.folder).string() + "/";
        const std::vector<std::string> closed{fs::weakly_canonical(root_ / "solutions").string() + "/",
                                              fs::weakly_canonical(root_ / "grader").string() + "/"};
        std::istringstream lines(run.output);
        std::string line;
        std::string object;
        bool first = false;
        bool students = false;
        while (std::getline(lines, line)) {
            if (!line.empty() && line[0] != ' ') {
                object = line.substr(0, line.find(':'));
                first = true;
                continue;
            }
            const auto start = line.find_first_not_of(' ');
            if (start == std::string::npos) {
                continue;
            }
            const std::string dep = fs::weakly_canonical(line.substr(start)).string();
            if (first) {
                students = dep.rfind(sources, 0) == 0;
                first = false;
            } else if (students) {
                for (const auto& c : closed) {
                    if (dep.rfind(c, 0) == 0) {
                        std::string why = object + " read ";
                        why += dep;
                        why += ": a file of the reference solutions or the grader";
                        return why;
                    }
                }
            }
        }
        return "";
    }

    static std::string ninja_path() {
        for (const char* candidate : {"/usr/bin/ninja", "/usr/local/bin/ninja"}) {
            if (fs::exists(candidate)) {
                return candidate;
            }
        }
        return "/usr/bin/ninja";
    }

    bool build_lab(const ManifestLab& m, Lab& lab) {
        for (const std::string& why : {include_refused(m), preprocess_refused(m)}) {
            if (!why.empty()) {
                lab.build = "refused";
                lab.build_log = why;
                return false;
            }
        }
        std::vector<std::string> args{"--build", build_.string(), "--target", "lab" + m.id + "_tests",
                                      "lab" + m.id + "_tests_list"};
        for (const auto& p : programs_of(m)) {
            args.push_back(p);
        }
        const auto limit = std::chrono::seconds(static_cast<long long>(rubric_.build_timeout_seconds));
        const auto run = cmake(args, limit);
        if (run.exit_code == 0) {
            if (const std::string why = deps_refused(m); !why.empty()) {
                lab.build = "refused";
                lab.build_log = why;
                return false;
            }
            return true;
        }
        lab.build = "compile error";
        lab.build_log = run.timed_out
                            ? "the build did not finish in " +
                                  std::to_string(static_cast<long long>(rubric_.build_timeout_seconds)) +
                                  " s (the grader stopped it)"
                            : first_errors(run.output);
        return false;
    }

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
            throw std::runtime_error("listing the tests of lab " + m.id + " with the reference code " +
                                     names_run.status_text() + ":\n" + names_run.output);
        }
        const auto names = lines_of(names_run.output);
        // The graded copy must start at all: code that ends the program before main (a static
        // constructor, say) makes every test of the lab an error.
        Bounds probing = listing;
        probing.confinement = confinement_;
        probing.cwd = (bin.parent_path() / "scratch").string();
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
        bounds.wall = std::chrono::milliseconds(static_cast<long long>(rubric_.test_timeout_seconds * 1000));
        bounds.max_output = std::size_t{64} * 1024;
        bounds.cwd = (bin.parent_path() / "scratch").string(); // what a test writes lands there
        bounds.confinement = confinement_;
        const auto run = run_bounded({exe, catch_spec(name)},
                                     {"SOCKLAB_UNDER_CTEST=1", "SOCKLAB_BIN_DIR=" + bin.string()}, bounds);
        item.seconds = run.seconds;
        item.output = run.output;
        timed_out = run.timed_out;
        if (run.dropped > 0) {
            item.output += "\n(" + std::to_string(run.dropped) + " more bytes of output not kept)\n";
        }
        item.replay = "ctest --test-dir build -R '^lab" + m.id + "/" +
                      std::regex_replace(name, std::regex(R"([.^$|()*+?{}\[\]\\])"), R"(\$&)") +
                      "$' --output-on-failure";
        if (run.exit_code == 0 && ends_with_catch_summary(run.output)) {
            item.status = Status::Passed;
        } else if (run.exit_code == 0) {
            // Catch2 ends every run with its summary: without it, something ended the program
            // early with a zero status (exit(0) in the code under test, say), or no test matched.
            item.status = Status::Error;
            item.reason =
                "the test program exited 0 without Catch2's summary: the code under test ended it early";
        } else if (run.exit_code == 77) {
            item.status = Status::Skipped;
            item.reason = "skipped: this machine cannot run it";
        } else if (run.timed_out || run.signal != 0) {
            item.status = Status::Error;
            item.reason = "the test " + run.status_text();
        } else {
            item.status = Status::Failed;
            item.reason = catch_reason(run.output);
            if (item.reason.empty()) {
                item.reason = "the test " + run.status_text();
            }
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
            if (!lab_cut_.empty() || std::chrono::steady_clock::now() >= lab_deadline_) {
                not_run(script, path.stem().string(), hidden, lab_cut_.empty() ? wall_clock_cut() : lab_cut_,
                        lab);
                continue;
            }
            script::RunOptions options;
            options.bin_dir = bin.string();
            options.confinement = confinement_;
            options.confinement.limits = true;
            options.confinement.cwd = (bin.parent_path() / "scratch").string();
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
            throw std::runtime_error(at + ": lab " + lr.id + ": " + what);
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
                } catch (const std::exception&) {
                    // The instructor's tree failed, not the submission: stop, keep what is done.
                    const std::lock_guard<std::mutex> guard(report_mutex);
                    grader_failure = std::current_exception();
                    next = names.size();
                    return;
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
