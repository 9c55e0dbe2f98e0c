#include "bounded.hpp"

#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;

namespace socklab::grade {

std::string BoundedRun::status_text() const {
    if (timed_out) {
        return "timed out after " + std::to_string(seconds).substr(0, std::to_string(seconds).find('.') + 2) +
               " s";
    }
    if (signal != 0) {
        const char* abbrev = ::sigabbrev_np(signal);
        return std::string("was killed by ") +
               (abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(signal));
    }
    return "exited with code " + std::to_string(exit_code);
}

BoundedRun run_bounded(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const Bounds& bounds) {
    using Clock = std::chrono::steady_clock;
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
        environment.emplace_back(*e);
    }
    environment.insert(environment.end(), env.begin(), env.end());
    std::vector<char*> args;
    std::vector<char*> envp;
    std::vector<std::string> argv_copy = argv;
    args.reserve(argv_copy.size() + 1);
    envp.reserve(environment.size() + 1);
    for (auto& a : argv_copy) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    for (auto& e : environment) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    script::Confinement confinement = bounds.confinement;
    confinement.limits = true;
    confinement.cwd = bounds.cwd;
    confinement.cpu_seconds = static_cast<int>(bounds.wall.count() / 1000) + 5;

    const auto start = Clock::now();
    std::shared_lock forking(script::fork_lock());
    const pid_t pid = ::fork();
    if (pid != 0) {
        forking.unlock();
    }
    if (pid < 0) {
        throw std::system_error(errno, std::generic_category(), "fork");
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        if (const int e = script::confine_child(confinement); e != 0) {
            const char* what = "cannot confine the program (user, limits, working folder): ";
            (void)!::write(out[1], what, std::strlen(what));
            (void)!::write(out[1], ::strerrordesc_np(e), std::strlen(::strerrordesc_np(e)));
            ::_exit(126);
        }
        ::signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        ::execve(args[0], args.data(), envp.data());
        // No allocation here: the grader has threads, and one may have held malloc's lock at fork.
        const char* why = ::strerrordesc_np(errno);
        for (const char* part : {"cannot start ", static_cast<const char*>(args[0]), ": ", why, "\n"}) {
            (void)!::write(2, part, std::strlen(part));
        }
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    ::close(out[1]);
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);

    BoundedRun run;
    const auto deadline = start + bounds.wall;
    bool open = true;
    int status = 0;
    bool exited = false;
    char buffer[16384];
    while (!exited) {
        if (open) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            pollfd p{out[0], POLLIN, 0};
            ::poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, 50)));
            for (;;) {
                const ssize_t n = ::read(out[0], buffer, sizeof buffer);
                if (n > 0) {
                    const std::size_t keep =
                        std::min(static_cast<std::size_t>(n), bounds.max_output - run.output.size());
                    run.output.append(buffer, keep);
                    run.dropped += static_cast<std::size_t>(n) - keep;
                    continue;
                }
                if (n == 0) {
                    open = false; // every writer is gone (the program, and whatever it started)
                }
                break;
            }
        } else {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left > 0) {
                ::usleep(static_cast<useconds_t>(std::min<long long>(left, 5) * 1000)); // the pipe is closed
            }
        }
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        if (Clock::now() >= deadline) {
            run.timed_out = true;
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            exited = true;
        }
    }
    ::kill(-pid, SIGKILL); // whatever it left behind in its group
    // Read what is left in the pipe without waiting for writers that may have escaped the group.
    for (;;) {
        const ssize_t n = ::read(out[0], buffer, sizeof buffer);
        if (n <= 0) {
            break;
        }
        const std::size_t keep = std::min(static_cast<std::size_t>(n), bounds.max_output - run.output.size());
        run.output.append(buffer, keep);
        run.dropped += static_cast<std::size_t>(n) - keep;
    }
    ::close(out[0]);
    run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!run.timed_out) {
        if (WIFEXITED(status)) {
            run.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            run.signal = WTERMSIG(status);
        }
    }
    return run;
}

} // namespace socklab::grade
