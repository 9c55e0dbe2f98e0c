#include "launcher.hpp"

#include "launcher_protocol.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;

namespace socklab::sandbox {
namespace {

using protocol::Message;

// The capabilities the launcher keeps (bwrap as root keeps almost all by default): new namespaces
// and mounts for each program, the change to the grading user, signals to its programs, and the
// removal of every capability from a program's bounding set.
const char* const kLauncherCaps[] = {"CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_SETPCAP"};

const std::string& launcher_program() {
    static const std::string path = [] {
        if (const char* given = std::getenv("SOCKLAB_LAUNCHER"); given != nullptr && *given != '\0') {
            return std::string(std::strcmp(given, "none") == 0 ? "" : given);
        }
        std::error_code ec;
        const fs::path beside =
            fs::read_symlink("/proc/self/exe", ec).parent_path() / "socklab-sandbox-launcher";
        return ec ? std::string() : beside.string();
    }();
    return path;
}

// One launcher. Its socket is closed only with the last user: a thread may still be sending on it
// when another ends the launcher (shutdown(2) then, which the launcher reads as the end).
struct Instance {
    std::string key;
    int uid = -1;
    Fd socket;
    pid_t bwrap = -1;
};

std::mutex& instances_lock() {
    static std::mutex lock;
    return lock;
}
std::vector<std::shared_ptr<Instance>>& instances() {
    static std::vector<std::shared_ptr<Instance>> list;
    return list;
}

// What makes two policies' launchers the same: everything but the per-program fields.
std::string key_of(const Policy& p) {
    std::string key = std::to_string(p.uid) + "|" + std::to_string(p.max_processes);
    for (const auto& b : p.binds) {
        key += "|" + b.path + (b.writable ? "+w" : "");
    }
    for (const auto& f : p.fresh) {
        key += "|fresh " + f;
    }
    for (const auto& g : p.cgroups) {
        key += "|cgroup " + g;
    }
    return key;
}

void end(Instance& i) {
    ::shutdown(i.socket.get(), SHUT_RDWR); // the launcher kills what it still runs, and ends
    if (i.bwrap > 0) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (::waitpid(i.bwrap, nullptr, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() >= until) {
                ::kill(i.bwrap, SIGKILL); // --die-with-parent's counterpart: bwrap takes its sandbox along
                ::waitpid(i.bwrap, nullptr, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        i.bwrap = -1;
    }
}

// Starts a launcher for p: bwrap with p's view, as root, keeping only kLauncherCaps.
bool start(const Policy& p, Instance& out, std::string& error) {
    Fd ours;
    Fd launchers; // the launcher's end: its descriptor 3
    if (!open_socket_pair(ours, launchers)) {
        error = std::string("socketpair: ") + std::strerror(errno);
        return false;
    }
    Policy lp = p;
    lp.uid = -1;       // bwrap and the launcher stay root; each program becomes p.uid
    lp.limits = false; // each program gets its own
    lp.env.clear();
    lp.cwd = "/";
    lp.binds.push_back({launcher_program(), false});
    std::vector<std::string> argv{launcher_program(), std::to_string(p.uid), std::to_string(p.max_processes),
                                  "/tmp:64", "/dev/shm:16"};
    for (const auto& f : p.fresh) {
        argv.push_back(f + ":64");
    }
    for (const auto& b : lp.binds) {
        argv.push_back("bind=" + b.path);
    }
    // Not --die-with-parent, nor enter()'s parent-death signal: both follow the thread that forks,
    // and a worker thread of the grader may start a launcher and end long before it. The launcher
    // ends when its socket closes instead, which the grader's end, death included, does.
    std::vector<std::string> words = command(lp, argv);
    words.erase(std::remove(words.begin(), words.end(), "--die-with-parent"), words.end());
    std::vector<std::string> caps{"--cap-drop", "ALL"};
    for (const char* cap : kLauncherCaps) {
        caps.insert(caps.end(), {"--cap-add", cap});
    }
    words.insert(words.begin() + 1, caps.begin(), caps.end());
    std::vector<std::string> env = environment(lp);
    const std::vector<char*> args = pointers(words);
    const std::vector<char*> envp = pointers(env);
    const pid_t pid = fork_child();
    if (pid == 0) {
        ::setpgid(0, 0);
        const int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        if (launchers.get() == 3) {
            ::fcntl(3, F_SETFD, 0);
        } else {
            ::dup2(launchers.get(), 3);
        }
        if (enter(lp) != 0 || ::prctl(PR_SET_PDEATHSIG, 0) != 0) {
            ::_exit(126);
        }
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    launchers.reset(); // the launcher holds it now: its end, and its death, close the pair
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        return false;
    }
    out.key = key_of(p);
    out.uid = p.uid;
    out.socket = std::move(ours);
    out.bwrap = pid;
    return true;
}

// Sends the request; false when the launcher is gone (then a new one is tried).
bool send_request(int socket, const Launch& l, int control) {
    std::string payload;
    const auto add = [&payload](const std::string& s) {
        payload += s;
        payload += '\0';
    };
    add(l.cwd);
    add(std::to_string(l.cpu_seconds));
    add(std::to_string(l.argv.size()));
    for (const auto& a : l.argv) {
        add(a);
    }
    for (const auto& e : l.env) {
        add(e);
    }
    std::vector<int> fds{control, l.fds[0], l.fds[1], l.fds[2]};
    if (l.fds[3] >= 0) {
        fds.push_back(l.fds[3]);
    }
    alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * 5)] = {};
    iovec iov{payload.data(), payload.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    for (;;) {
        const ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(payload.size())) {
            return true;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return false;
    }
}

} // namespace

Program::~Program() {
    if (!ended_) {
        signal(SIGKILL);
    }
}

bool Program::ended(int& status) {
    while (!ended_) {
        Message m{};
        const ssize_t n = ::recv(control_.get(), &m, sizeof m, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return false;
        }
        if (n == sizeof m && m.kind != protocol::kExited) {
            continue; // nothing else comes from the launcher once the program runs
        }
        ended_ = true;
        // No status: the reaper was killed (a SIGKILL for the whole program) before it could say.
        status_ = n == sizeof m ? m.value : SIGKILL;
    }
    status = status_;
    return true;
}

int Program::wait() {
    int status = 0;
    while (!ended(status)) {
        pollfd p{control_.get(), POLLIN, 0};
        ::poll(&p, 1, -1);
    }
    return status;
}

void Program::signal(int sig) {
    if (!ended_) {
        const Message m{protocol::kSignal, sig};
        (void)::send(control_.get(), &m, sizeof m, MSG_NOSIGNAL);
    }
}

Launch launch_of(const Policy& p, std::vector<std::string> argv, std::array<int, 4> fds) {
    Launch l;
    l.argv = std::move(argv);
    l.env = environment(p);
    l.cwd = p.cwd.empty() ? std::string("/") : p.cwd;
    l.cpu_seconds = p.cpu_seconds;
    l.fds = fds;
    return l;
}

bool launches(const Policy& p) {
    if (!p.enabled || !p.privileged || p.uid < 0 || launcher_program().empty()) {
        return false;
    }
    struct stat st = {};
    return ::stat(launcher_program().c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::unique_ptr<Program> launch(const Policy& p, const Launch& l, std::string& error) {
    const std::string key = key_of(p);
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::shared_ptr<Instance> instance;
        {
            const std::scoped_lock guard(instances_lock());
            auto& list = instances();
            auto it = std::find_if(list.begin(), list.end(),
                                   [&key](const std::shared_ptr<Instance>& i) { return i->key == key; });
            if (it == list.end() || attempt > 0) {
                if (it != list.end()) {
                    end(**it); // gone: its socket no longer takes requests
                    list.erase(it);
                }
                auto fresh = std::make_shared<Instance>();
                if (!start(p, *fresh, error)) {
                    return nullptr;
                }
                list.push_back(fresh);
                it = list.end() - 1;
            }
            instance = *it;
        }
        const int socket = instance->socket.get();
        Fd control;
        Fd launchers_control; // sent to the launcher, which keeps its copy
        if (!open_socket_pair(control, launchers_control)) {
            error = std::string("socketpair: ") + std::strerror(errno);
            return nullptr;
        }
        const bool sent = send_request(socket, l, launchers_control.get());
        launchers_control.reset();
        if (!sent) {
            continue;
        }
        // The answer comes once the program has been executed, or has failed to be.
        pollfd answer{control.get(), POLLIN, 0};
        const int ready = ::poll(&answer, 1, 30000);
        Message m{};
        const ssize_t n = ready > 0 ? ::recv(control.get(), &m, sizeof m, 0) : -1;
        if (n == sizeof m && m.kind == protocol::kStarted) {
            return std::make_unique<Program>(std::move(control));
        }
        if (n == sizeof m && m.kind == protocol::kError) {
            error = std::strerror(m.value);
            return nullptr;
        }
        if (ready == 0) {
            error = "the sandbox's launcher did not answer within 30 s";
            return nullptr;
        }
        // The launcher ended before it answered (killed with the lab's cgroup, say): a new one.
    }
    error = "the sandbox's launcher could not be started (run with SOCKLAB_LAUNCHER=none to compare)";
    return nullptr;
}

void close_launchers(int uid) {
    const std::scoped_lock guard(instances_lock());
    auto& list = instances();
    const auto ours = [uid](const std::shared_ptr<Instance>& i) { return i->uid == uid; };
    for (auto& i : list) {
        if (ours(i)) {
            end(*i);
        }
    }
    list.erase(std::remove_if(list.begin(), list.end(), ours), list.end());
}

} // namespace socklab::sandbox
