// The grading user and the work folder (lease.hpp): the user id leased by flock(2) and an abstract
// socket, the sweeps of /proc that kill what a submission (or a killed grader) left running, and
// the work folder's lock.
#include "lease.hpp"

#include "process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace fs = std::filesystem;

namespace socklab::grade {
namespace {

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

} // namespace

UserLease::UserLease() {
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
        sandbox::Fd lock(
            ::open((dir / (std::to_string(id) + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) {
            sandbox::Fd name(bind_abstract("socklab-grade-uid-" + std::to_string(id)));
            if (name) {
                uid_ = id;
                lock_ = std::move(lock);
                name_ = std::move(name);
            }
        }
    }
    if (uid_ < 0) {
        why_not_ = "no free user id in 61000-61999 (under " + dir.string() + ")";
    }
}

UserLease::~UserLease() = default;

namespace {

// Runs body in a child process that has become uid (no supplementary groups, real, effective and
// saved ids all uid) and returns what body returned; false where the child could not become uid.
// body runs between fork and _exit: it may only make system calls, not allocate or lock.
template <typename Body>
bool as_user(int uid, const Body& body) {
    const pid_t pid = sandbox::fork_child();
    if (pid == 0) {
        const auto id = static_cast<uid_t>(uid);
        if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 || ::setresuid(id, id, id) != 0) {
            ::_exit(1);
        }
        ::_exit(body() ? 0 : 1);
    }
    int status = 0;
    return pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} // namespace

int kill_user(int uid) {
    const int first = alive_of_user(uid);
    for (int round = 0, alive = first; round < 50 && alive > 0; ++round, alive = alive_of_user(uid)) {
        (void)as_user(uid, [] {
            for (int i = 0; i < 20 && ::kill(-1, SIGKILL) == 0; ++i) {
                ::usleep(500); // a fork bomb may fork between two rounds: the next one gets it
            }
            return true;
        });
    }
    // A killed orphan stays a zombie until init reaps it (a second or two on some machines), and a
    // zombie still counts against the user's RLIMIT_NPROC: the next lab's tests could not fork.
    for (int i = 0; i < 200 && alive_of_user(uid, true) > 0; ++i) {
        ::usleep(50'000);
    }
    return first;
}

int kill_leftovers(const fs::path& bin) {
    const std::string prefix = fs::weakly_canonical(bin).string() + "/";
    return kill_where([&prefix](const fs::path& proc) {
        std::error_code link_error;
        const std::string exe = fs::read_symlink(proc / "exe", link_error).string();
        // Not a grader: another socklab-grade built in the same folder may be waiting for the work lock.
        return !link_error && exe.rfind(prefix, 0) == 0 && fs::path(exe).filename() != "socklab-grade";
    });
}

WorkLock::WorkLock(const fs::path& work, const std::function<void(const std::string&)>& progress) {
    fs::create_directories(work);
    fd_.reset(::open((work / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd_) {
        throw std::runtime_error("cannot open " + (work / ".lock").string() + ": " + std::strerror(errno));
    }
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
        progress("waiting for another socklab-grade that uses " + work.string());
        ::flock(fd_.get(), LOCK_EX);
    }
    // A grader killed mid-build (SIGKILL, a lost terminal) may have left ninja and compilers
    // writing in this folder: a build beside them would copy half-written programs.
    const int left = kill_working_in(work);
    if (left > 0) {
        progress("stopped " + std::to_string(left) + " process(es) an earlier grader left working in " +
                 work.string());
    }
}

WorkLock::~WorkLock() = default;

bool user_can_reach(int uid, const fs::path& folder) {
    const std::string path = folder.string();
    return as_user(uid, [&path] { return ::access(path.c_str(), R_OK | X_OK) == 0; });
}

} // namespace socklab::grade
