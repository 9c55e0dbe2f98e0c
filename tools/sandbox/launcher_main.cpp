// socklab-sandbox-launcher: runs inside bubblewrap, as root, and starts the programs the grader asks
// for (launcher.hpp says why). Not a program to run by hand.
//
//   socklab-sandbox-launcher UID MAX_PROCESSES PATH:MIB... [bind=PATH...]
//
// Descriptor 3 is a SOCK_SEQPACKET socket to the grader. Each message on it asks for one program:
// NUL-terminated strings (the working folder, the CPU seconds, argc, the argv, then the
// environment) and, passed with SCM_RIGHTS, a control socket and the program's descriptors 0, 1, 2
// and maybe 3. On the control socket the launcher answers 'S' (started) or 'E' (not, with the
// errno), then 'X' with the wait status when the program ends; the grader sends 'K' with a signal.
// Each PATH:MIB is a tmpfs of MIB mebibytes that every program gets fresh (/tmp, /dev/shm, ...);
// each bind=PATH a folder or file of the view, kept in sight when it lies in such a tmpfs.
// The launcher ends when the grader closes descriptor 3, killing what it still runs.
#include "fd.hpp"
#include "launcher_protocol.hpp"
#include "sandbox.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

using socklab::sandbox::protocol::Message;

struct Fresh {
    std::string path;
    unsigned long mib = 64;
};

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

bool under(const std::string& path, const std::string& folder) {
    return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 &&
           path[folder.size()] == '/';
}

// Makes path's missing folders (0755, as bwrap makes those above a mount point).
void make_folders(const std::string& path) {
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
        ::mkdir(path.substr(0, slash).c_str(), 0755);
    }
    ::mkdir(path.c_str(), 0755);
}

// Mounts a fresh tmpfs on f.path, keeping in sight what the view has below it: binds, and the
// folders of the fresh tmpfs mounted later (open_tree(2) copies a mount, move_mount(2) puts it back).
int mount_fresh(const Fresh& f, const std::vector<Fresh>& fresh, const std::vector<std::string>& binds) {
    std::vector<std::pair<std::string, socklab::sandbox::Fd>> kept;
    for (const auto& b : binds) {
        if (under(b, f.path)) {
            socklab::sandbox::Fd tree(static_cast<int>(
                ::syscall(SYS_open_tree, AT_FDCWD, b.c_str(), OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE)));
            if (!tree) {
                return errno;
            }
            kept.emplace_back(b, std::move(tree));
        }
    }
    const std::string options = "mode=1777,size=" + std::to_string(f.mib << 20);
    int failed = 0;
    if (::mount("tmpfs", f.path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
        failed = errno;
    }
    for (const auto& other : fresh) {
        if (failed == 0 && under(other.path, f.path)) {
            make_folders(other.path);
        }
    }
    for (const auto& [path, tree] : kept) {
        struct stat st = {};
        if (failed == 0 && ::fstat(tree.get(), &st) == 0) {
            make_folders(path.substr(0, path.rfind('/')));
            if (S_ISDIR(st.st_mode)) {
                ::mkdir(path.c_str(), 0755);
            } else {
                const socklab::sandbox::Fd created(
                    ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
            }
            if (::syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) !=
                0) {
                failed = errno;
            }
        }
    }
    return failed; // the trees close with kept
}

struct Running {
    pid_t reaper = -1;            // PID 1 of the program's namespace, seen from here
    socklab::sandbox::Fd control; // closed once the reaper is reaped
    bool given_up = false;        // the grader closed its end: killed, no longer polled, closed once reaped
};

void tell(int control, char kind, int value) {
    const Message m{kind, value};
    (void)::send(control, &m, sizeof m, MSG_NOSIGNAL);
}

// Closes every descriptor from first up, except those in keep.
void close_all_but(int first, std::vector<int> keep) {
    std::sort(keep.begin(), keep.end());
    int from = first;
    for (const int k : keep) {
        if (k >= from) {
            if (k > from) {
                ::syscall(SYS_close_range, from, k - 1, 0);
            }
            from = k + 1;
        }
    }
    ::syscall(SYS_close_range, from, ~0U, 0);
}

// The program's own process, forked by its reaper: never returns.
[[noreturn]] void become_program(const std::vector<std::string>& strings, std::size_t argc_at,
                                 const int fds[4], int exec_error, int uid, int max_processes) {
    ::setsid(); // a session of its own: no controlling terminal
    for (int i = 0; i < 4; ++i) {
        if (fds[i] >= 0) {
            ::dup2(fds[i], i); // clears close-on-exec
        }
    }
    close_all_but(fds[3] >= 0 ? 4 : 3, {exec_error});
    socklab::sandbox::Policy p;
    p.enabled = false; // already inside; enter() only sets the limits and the user, and moves to cwd
    p.uid = uid;
    p.limits = true;
    p.cpu_seconds = std::atoi(strings[1].c_str());
    p.max_processes = max_processes;
    p.cwd = strings[0];
    for (int cap = 0; cap < 64; ++cap) {
        ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0); // none to regain through a program file, ever
    }
    int e = socklab::sandbox::enter(p);
    // The user's change cleared every capability but the inheritable ones bwrap set: those too.
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none_of_them[2] = {};
    if (e == 0 && ::syscall(SYS_capset, &header, none_of_them) != 0) {
        e = errno;
    }
    if (e == 0) {
        for (int s = 1; s < NSIG; ++s) {
            ::signal(s, SIG_DFL);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const std::size_t argc = std::strtoul(strings[argc_at].c_str(), nullptr, 10);
        std::vector<char*> argv;
        std::vector<char*> envp;
        for (std::size_t i = argc_at + 1; i < strings.size(); ++i) {
            (i <= argc_at + argc ? argv : envp).push_back(const_cast<char*>(strings[i].c_str()));
        }
        argv.push_back(nullptr);
        envp.push_back(nullptr);
        ::execve(argv[0], argv.data(), envp.data());
        e = errno;
    }
    (void)!::write(exec_error, &e, sizeof e);
    ::_exit(127);
}

// PID 1 of a program's namespaces: mounts its /proc and fresh folders, starts it, passes on the
// signals the grader sends, reports how it ended, and ends with it (which ends all it started).
[[noreturn]] void become_reaper(const std::vector<std::string>& strings, std::size_t argc_at, int control,
                                const int fds[4], const std::vector<Fresh>& fresh,
                                const std::vector<std::string>& binds, int uid, int max_processes) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    close_all_but(3, {control, fds[0], fds[1], fds[2], fds[3]});
    int failed = 0;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        failed = errno;
    }
    for (const auto& f : fresh) {
        if (failed == 0) {
            failed = mount_fresh(f, fresh, binds);
        }
    }
    if (failed != 0) {
        tell(control, socklab::sandbox::protocol::kError, failed);
        ::_exit(1);
    }
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, nullptr); // taken with sigwaitinfo below, never by a handler
    socklab::sandbox::Pipe exec_error;
    if (!socklab::sandbox::open_pipe(exec_error)) {
        tell(control, socklab::sandbox::protocol::kError, errno);
        ::_exit(1);
    }
    const pid_t program = ::fork();
    if (program == 0) {
        // become_program keeps only the program's four descriptors and exec_error's write end.
        become_program(strings, argc_at, fds, exec_error.write.get(), uid, max_processes);
    }
    exec_error.write.reset();
    // The program's descriptors are the program's now: this copy of them, inherited from the
    // launcher, goes (close_range: the reaper owns nothing else from 4 up but control).
    close_all_but(3, {control, exec_error.read.get()});
    int e = program < 0 ? errno : 0;
    if (program > 0 && ::read(exec_error.read.get(), &e, sizeof e) != sizeof e) {
        e = 0; // closed by a successful exec
    }
    exec_error.read.reset();
    if (e != 0) {
        tell(control, socklab::sandbox::protocol::kError, e);
        ::_exit(1);
    }
    tell(control, socklab::sandbox::protocol::kStarted, 0);
    for (;;) {
        siginfo_t info{};
        if (::sigwaitinfo(&all, &info) < 0) {
            continue;
        }
        if (info.si_signo != SIGCHLD) {
            ::kill(program, info.si_signo); // from the launcher: the grader's
            continue;
        }
        int status = 0;
        for (pid_t done; (done = ::waitpid(-1, &status, WNOHANG)) > 0;) {
            if (done == program) {
                tell(control, socklab::sandbox::protocol::kExited, status);
                ::_exit(0);
            }
        }
    }
}

// The first child of reaper: its program, in this launcher's PID namespace.
pid_t program_of(pid_t reaper) {
    std::ifstream in("/proc/" + std::to_string(reaper) + "/task/" + std::to_string(reaper) + "/children");
    pid_t child = -1;
    return in >> child ? child : -1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        return 2;
    }
    const int uid = std::atoi(argv[1]);
    const int max_processes = std::atoi(argv[2]);
    std::vector<Fresh> fresh;
    std::vector<std::string> binds;
    for (int i = 3; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("bind=", 0) == 0) {
            binds.push_back(a.substr(5));
            continue;
        }
        const auto colon = a.rfind(':');
        fresh.push_back({a.substr(0, colon), std::strtoul(a.c_str() + colon + 1, nullptr, 10)});
    }
    ::prctl(PR_SET_DUMPABLE, 0);        // the programs run as another user; still, no ptrace and no core
    ::prctl(PR_SET_PDEATHSIG, SIGKILL); // its parent is bwrap's, in the sandbox
    sigset_t child;
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &child, nullptr);
    const socklab::sandbox::Fd reaped(::signalfd(-1, &child, SFD_CLOEXEC | SFD_NONBLOCK));
    const int grader = 3;
    std::vector<Running> running;
    const auto end = [&](int code) {
        for (const auto& r : running) {
            ::kill(r.reaper, SIGKILL);
        }
        while (::waitpid(-1, nullptr, 0) > 0) {
        }
        std::exit(code);
    };
    for (;;) {
        std::vector<pollfd> fds{{grader, POLLIN, 0}, {reaped.get(), POLLIN, 0}};
        for (const auto& r : running) {
            if (!r.given_up) {
                fds.push_back({r.control.get(), POLLIN, 0});
            }
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            continue;
        }
        if (fds[1].revents != 0) {
            signalfd_siginfo ignored{};
            while (::read(reaped.get(), &ignored, sizeof ignored) > 0) {
            }
            for (pid_t done; (done = ::waitpid(-1, nullptr, WNOHANG)) > 0;) {
                const auto r = std::find_if(running.begin(), running.end(),
                                            [done](const Running& x) { return x.reaper == done; });
                if (r != running.end()) {
                    running.erase(r); // the reaper has said how the program ended, or was killed
                }
            }
        }
        // The grader's signals, or its end of a control socket closed (it has given the program up).
        for (std::size_t i = 2; i < fds.size(); ++i) {
            if (fds[i].revents == 0) {
                continue;
            }
            const auto r = std::find_if(running.begin(), running.end(),
                                        [fd = fds[i].fd](const Running& x) { return x.control.get() == fd; });
            if (r == running.end()) {
                continue;
            }
            Message m{};
            const ssize_t n = ::recv(r->control.get(), &m, sizeof m, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                ::kill(r->reaper, SIGKILL); // reaped (and its control closed) above, later
                r->given_up = true;
            } else if (n == sizeof m && m.kind == socklab::sandbox::protocol::kSignal) {
                if (m.value == SIGKILL) {
                    ::kill(r->reaper, SIGKILL);
                } else if (m.value == SIGSTOP) {
                    if (const pid_t p = program_of(r->reaper); p > 0) {
                        ::kill(p, SIGSTOP); // cannot be passed on by the reaper
                    }
                } else {
                    ::kill(r->reaper, m.value);
                }
            }
        }
        if (fds[0].revents == 0) {
            continue;
        }
        std::vector<char> data(socklab::sandbox::protocol::kMaxRequest);
        alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * 5)];
        iovec iov{data.data(), data.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space;
        msg.msg_controllen = sizeof space;
        const ssize_t n = ::recvmsg(grader, &msg, MSG_CMSG_CLOEXEC);
        if (n <= 0) {
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            end(0); // the grader is done with this launcher
        }
        std::vector<socklab::sandbox::Fd> passed; // the control socket, then the program's 0, 1, 2 (and 3)
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (std::size_t k = 0; k < count; ++k) {
                    int fd = -1;
                    std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
                    passed.emplace_back(fd);
                }
            }
        }
        std::vector<std::string> strings;
        for (std::size_t at = 0; at < static_cast<std::size_t>(n);) {
            const auto* start = data.data() + at;
            const std::size_t length = ::strnlen(start, static_cast<std::size_t>(n) - at);
            strings.emplace_back(start, length);
            at += length + 1;
        }
        const bool whole = passed.size() >= 4 && strings.size() >= 4 &&
                           (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) == 0 &&
                           strings.size() >= 4 + std::strtoul(strings[2].c_str(), nullptr, 10) &&
                           std::strtoul(strings[2].c_str(), nullptr, 10) > 0;
        if (!whole) {
            if (!passed.empty()) {
                tell(passed[0].get(), socklab::sandbox::protocol::kError, EINVAL);
            }
            continue; // what was passed closes with passed
        }
        const int control = passed[0].get();
        const int program_fds[4] = {passed[1].get(), passed[2].get(), passed[3].get(),
                                    passed.size() > 4 ? passed[4].get() : -1};
        // clone(2) as fork(2), into new PID, mount and IPC namespaces: the child is their PID 1.
        const pid_t reaper =
            static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | SIGCHLD,
                                         nullptr, nullptr, nullptr, nullptr));
        if (reaper == 0) {
            become_reaper(strings, 2, control, program_fds, fresh, binds, uid, max_processes);
        }
        if (reaper < 0) {
            tell(control, socklab::sandbox::protocol::kError, errno);
            continue; // what was passed closes with passed
        }
        running.push_back({reaper, std::move(passed[0])}); // the rest closes with passed
    }
}
