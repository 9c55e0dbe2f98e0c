#include "sandbox.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

namespace fs = std::filesystem;

namespace socklab::sandbox {
namespace {

// bubblewrap, from Debian's package; SOCKLAB_BWRAP names another (the grader's tests point it at
// nothing, to grade as on a machine without it). Read from the grader's environment, never a
// submission's.
const std::string& bwrap() {
    static const std::string path = [] {
        const char* given = std::getenv("SOCKLAB_BWRAP");
        return std::string(given != nullptr && *given != '\0' ? given : "/usr/bin/bwrap");
    }();
    return path;
}
const char* const kSetpriv = "/usr/bin/setpriv";

// Files of /etc a program needs to load its libraries, name its users and resolve localhost.
// Everything else of /etc (keys, shadow, the machine's configuration) does not exist inside.
const char* const kEtc[] = {"/etc/alternatives",  "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                            "/etc/nsswitch.conf", "/etc/hosts",       "/etc/host.conf",  "/etc/gai.conf",
                            "/etc/resolv.conf",   "/etc/services",    "/etc/protocols",  "/etc/localtime",
                            "/etc/passwd",        "/etc/group"};

// Top folders that are links into /usr on a merged-/usr system, or folders of their own.
const char* const kTop[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};

bool exists(const std::string& path) {
    struct stat st = {};
    return ::lstat(path.c_str(), &st) == 0;
}

} // namespace

std::vector<std::string> system_view() {
    std::vector<std::string> view{"/usr"};
    for (const char* top : kTop) {
        if (exists(top)) {
            view.emplace_back(top);
        }
    }
    for (const char* etc : kEtc) {
        if (exists(etc)) {
            view.emplace_back(etc);
        }
    }
    return view;
}

std::vector<std::string> environment(const Policy& p) {
    std::vector<std::string> env = p.env;
    const auto add = [&env](const std::string& name, const std::string& value) {
        for (const auto& e : env) {
            if (e.rfind(name + "=", 0) == 0) {
                return;
            }
        }
        env.push_back(name + "=" + value);
    };
    add("PATH", "/usr/local/bin:/usr/bin:/bin");
    add("HOME", "/tmp");
    add("LANG", "C.UTF-8");
    add("TMPDIR", "/tmp");
    return env;
}

std::vector<std::string> command(const Policy& p, const std::vector<std::string>& argv) {
    if (!p.enabled) {
        return argv;
    }
    std::vector<std::string> out{bwrap()};
    const auto add = [&out](std::initializer_list<std::string> words) {
        out.insert(out.end(), words.begin(), words.end());
    };
    // Namespaces: a user namespace unless bwrap runs as root (privileged); never the network, which
    // the grader has already made private (loopback only) and the peers of a script share.
    add({"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"});
    if (!p.privileged) {
        add({"--unshare-user"});
        if (p.uid >= 0) {
            add({"--uid", std::to_string(p.uid), "--gid", std::to_string(p.uid)});
        }
    }
    add({"--hostname", "sandbox", "--new-session", "--die-with-parent", "--clearenv"});
    for (const auto& e : environment(p)) {
        const auto eq = e.find('=');
        add({"--setenv", e.substr(0, eq), eq == std::string::npos ? "" : e.substr(eq + 1)});
    }
    // The view, in mount order: the system read-only, /proc, /dev, fresh /tmp, then what the
    // policy names (a bind below a fresh folder comes after it, so it shows through).
    // Fresh folders are open to all (1777) as /tmp is: in privileged mode bwrap makes them as
    // root, and the program runs as p.uid; nobody else is in the sandbox anyway.
    add({"--proc", "/proc", "--dev", "/dev"});
    const auto fresh = [&add](const std::string& path, int mib) {
        add({"--size", std::to_string(mib << 20), "--perms", "1777", "--tmpfs", path});
    };
    fresh("/tmp", 64);
    fresh("/dev/shm", 16);
    // bwrap makes the folders above a mount point as it goes, closed to others (0700) when it runs
    // as root: make them first, open to the user inside (0755). They hold nothing but the path.
    std::vector<std::string> above;
    const auto add_above = [&above](const std::string& path) {
        for (fs::path a = fs::path(path).parent_path(); a.has_relative_path(); a = a.parent_path()) {
            if (a != "/tmp" && a != "/dev" && a != "/proc" &&
                std::find(above.begin(), above.end(), a.string()) == above.end()) {
                above.push_back(a.string());
            }
        }
    };
    for (const auto& v : system_view()) {
        add_above(v);
    }
    for (const auto& f : p.fresh) {
        add_above(f);
    }
    for (const auto& b : p.binds) {
        add_above(b.path);
    }
    std::sort(above.begin(), above.end(), [](const std::string& a, const std::string& b) {
        return std::count(a.begin(), a.end(), '/') < std::count(b.begin(), b.end(), '/');
    });
    for (const auto& a : above) {
        add({"--perms", "0755", "--dir", a});
    }
    for (const auto& path : system_view()) {
        std::error_code ec;
        if (fs::is_symlink(path, ec)) {
            add({"--symlink", fs::read_symlink(path, ec).string(), path});
        } else {
            add({"--ro-bind", path, path});
        }
    }
    for (const auto& f : p.fresh) {
        fresh(f, 64);
    }
    for (const auto& b : p.binds) {
        add({b.writable ? "--bind" : "--ro-bind", b.path, b.path});
    }
    add({"--chdir", p.cwd.empty() ? std::string("/") : p.cwd});
    if (p.privileged && p.uid >= 0) {
        const std::string id = std::to_string(p.uid);
        add({"--", kSetpriv, "--reuid=" + id, "--regid=" + id, "--clear-groups", "--no-new-privs",
             "--inh-caps=-all", "--bounding-set=-all"});
    }
    add({"--"});
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

int enter(const Policy& p) noexcept {
    for (const auto& group : p.cgroups) {
        // As root, before the change of user: the user could not move itself in.
        const std::string procs = group + "/cgroup.procs";
        const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            return errno;
        }
        const ssize_t n = ::write(fd, "0", 1); // "0": the writing process
        const int e = errno;
        ::close(fd);
        if (n != 1) {
            return e;
        }
    }
    if (p.limits) {
        const auto set = [](int resource, rlim_t value) {
            rlimit limit{value, value};
            rlimit current{};
            if (::getrlimit(resource, &current) == 0 && current.rlim_max != RLIM_INFINITY &&
                current.rlim_max < value) {
                limit = current; // never above what we were given
            }
            ::setrlimit(resource, &limit);
        };
        set(RLIMIT_CORE, 0);
        set(RLIMIT_AS, rlim_t{2} << 30);
        set(RLIMIT_FSIZE, rlim_t{64} << 20);
        const rlimit cpu{static_cast<rlim_t>(p.cpu_seconds), static_cast<rlim_t>(p.cpu_seconds) + 2};
        ::setrlimit(RLIMIT_CPU, &cpu);
    }
    if (p.uid >= 0) {
        const rlimit processes{static_cast<rlim_t>(p.max_processes), static_cast<rlim_t>(p.max_processes)};
        ::setrlimit(RLIMIT_NPROC, &processes);
        if (!(p.enabled && p.privileged)) {
            // bwrap in privileged mode needs root to build the sandbox; setpriv drops it inside.
            const auto id = static_cast<uid_t>(p.uid);
            if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 ||
                ::setresuid(id, id, id) != 0) {
                return errno;
            }
        }
    }
    if ((p.enabled || p.uid >= 0) && !(p.enabled && p.privileged)) {
        ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); // a set-user-ID program stays unprivileged
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL); // after any change of user, which clears it
    if (!p.enabled && !p.cwd.empty() && ::chdir(p.cwd.c_str()) != 0) {
        return errno;
    }
    return 0;
}

std::string unavailable(int uid, bool privileged) {
    static std::mutex lock;
    static std::map<std::pair<int, bool>, std::string> known;
    const std::scoped_lock guard(lock);
    const auto key = std::make_pair(uid, privileged);
    if (const auto k = known.find(key); k != known.end()) {
        return k->second;
    }
    std::string why;
    if (!exists(bwrap())) {
        why = bwrap() + " is not installed (Debian package bubblewrap)";
    } else if (privileged && !exists(kSetpriv)) {
        why = std::string(kSetpriv) + " is not installed (Debian package util-linux)";
    } else {
        Policy p;
        p.enabled = true;
        p.uid = uid;
        p.privileged = privileged;
        const auto argv = command(p, {"/bin/true"});
        int err[2];
        if (::pipe2(err, O_CLOEXEC) != 0) {
            return std::string("pipe2: ") + std::strerror(errno);
        }
        std::vector<std::string> copy = argv;
        std::vector<char*> args;
        args.reserve(copy.size() + 1);
        for (auto& a : copy) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::dup2(err[1], 2);
            ::dup2(err[1], 1);
            if (enter(p) != 0) {
                ::_exit(126);
            }
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        ::close(err[1]);
        std::string said;
        char buffer[512];
        for (ssize_t n; (n = ::read(err[0], buffer, sizeof buffer)) > 0 && said.size() < 4096;) {
            said.append(buffer, static_cast<std::size_t>(n));
        }
        ::close(err[0]);
        int status = 0;
        if (pid < 0 || ::waitpid(pid, &status, 0) != pid) {
            why = std::string("fork: ") + std::strerror(errno);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) {
                said.pop_back();
            }
            why = "bwrap " + std::string(privileged ? "as root" : "with a user namespace") + " failed" +
                  (said.empty() ? " (exit status " + std::to_string(status) + ")" : ": " + said);
            if (said.find("slave") != std::string::npos) {
                why += " (is / a chroot's folder, not a mount point? bind-mount it onto itself first)";
            }
        }
    }
    known[key] = why;
    return why;
}

pid_t program_pid(pid_t bwrap_pid) {
    const auto first_child = [](pid_t pid) -> pid_t {
        std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
        pid_t child = -1;
        return in >> child ? child : -1;
    };
    const pid_t reaper = first_child(bwrap_pid);
    const pid_t program = reaper > 0 ? first_child(reaper) : -1;
    return program > 0 ? program : bwrap_pid;
}

std::vector<char*> pointers(std::vector<std::string>& words) {
    std::vector<char*> out;
    out.reserve(words.size() + 1);
    for (auto& w : words) {
        out.push_back(w.data());
    }
    out.push_back(nullptr);
    return out;
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::shared_mutex& fork_lock() {
    static std::shared_mutex lock;
    return lock;
}

pid_t fork_child() {
    std::shared_lock forking(fork_lock());
    const pid_t pid = ::fork();
    if (pid == 0) {
        (void)forking.release(); // the child's copy: it execs or exits, and never unlocks it
    }
    return pid;
}

int program_status(int bwrap_status) {
    if (WIFEXITED(bwrap_status) && WEXITSTATUS(bwrap_status) > 128 && WEXITSTATUS(bwrap_status) < 128 + 65) {
        return WEXITSTATUS(bwrap_status) - 128; // as waitpid reports "killed by signal N"
    }
    return bwrap_status;
}

} // namespace socklab::sandbox
