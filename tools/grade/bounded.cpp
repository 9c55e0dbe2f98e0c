#include "bounded.hpp"

#include "fd.hpp"
#include "launcher.hpp"
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

namespace {

constexpr std::size_t kReportLimit = std::size_t{4} << 20; // BoundedRun::report

// Reads what is there now from a non-blocking descriptor into text, keeping at most limit bytes;
// returns how many were dropped, and clears open at EOF.
std::size_t read_some(int fd, std::string& text, std::size_t limit, bool& open) {
    char buffer[16384];
    std::size_t dropped = 0;
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            const std::size_t keep =
                std::min(static_cast<std::size_t>(n), limit - std::min(limit, text.size()));
            text.append(buffer, keep);
            dropped += static_cast<std::size_t>(n) - keep;
            continue;
        }
        if (n == 0) {
            open = false; // every writer is gone (the program, and whatever it started)
        }
        return dropped;
    }
}

// Reads what is left in the pipes without waiting for writers that may have escaped (a group), and
// closes them.
void read_the_rest(BoundedRun& run, sandbox::Fd out, sandbox::Fd report, const Bounds& bounds) {
    bool ignored = true;
    run.dropped += read_some(out.get(), run.output, bounds.max_output, ignored);
    if (report) {
        (void)read_some(report.get(), run.report, kReportLimit, ignored);
    }
}

// The report pipe's write end must be the grading user's: the program reopens it as /dev/fd/3
// (Catch2's --out), and only root may hand it over.
void give_report_pipe(int fd, const script::Confinement& c) {
    if (fd >= 0 && c.uid >= 0) {
        (void)!::fchown(fd, static_cast<uid_t>(c.uid), static_cast<gid_t>(c.uid));
    }
}

void fill_status(BoundedRun& run, int status) {
    if (!run.timed_out) {
        if (WIFEXITED(status)) {
            run.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            run.signal = WTERMSIG(status);
        }
    }
}

// run_bounded through the sandbox's launcher (launcher.hpp): one bwrap for many programs.
BoundedRun run_launched(const std::vector<std::string>& argv, const script::Confinement& confinement,
                        const Bounds& bounds, sandbox::Pipe out, sandbox::Pipe report) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    give_report_pipe(report.write.get(), confinement);
    std::string error;
    auto program = [&] {
        const sandbox::Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        return sandbox::launch(
            confinement,
            sandbox::launch_of(confinement, argv,
                               {devnull.get(), out.write.get(), out.write.get(), report.write.get()}),
            error);
    }();
    out.write.reset(); // the launcher has its copies: EOF comes when the program's are gone
    report.write.reset();
    BoundedRun run;
    if (!program) {
        run.output = "cannot start " + argv[0] + ": " + error + "\n";
        run.exit_code = 127;
        run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        return run;
    }
    ::fcntl(out.read.get(), F_SETFL, O_NONBLOCK);
    if (report.read) {
        ::fcntl(report.read.get(), F_SETFL, O_NONBLOCK);
    }
    const auto deadline = start + bounds.wall;
    bool open = true;
    bool report_open = static_cast<bool>(report.read);
    int status = 0;
    // The program has ended once its control socket says so, whatever it left holding the pipes
    // (its namespace ends with it, and all in it).
    while (!program->ended(status)) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            run.timed_out = true;
            program->signal(SIGKILL);
            status = program->wait();
            break;
        }
        pollfd p[3] = {{program->fd(), POLLIN, 0},
                       {open ? out.read.get() : -1, POLLIN, 0},
                       {report_open ? report.read.get() : -1, POLLIN, 0}};
        ::poll(p, 3, static_cast<int>(std::min<long long>(left, 1000)));
        if (open) {
            run.dropped += read_some(out.read.get(), run.output, bounds.max_output, open);
        }
        if (report_open) {
            (void)read_some(report.read.get(), run.report, kReportLimit, report_open);
        }
    }
    program.reset();
    read_the_rest(run, std::move(out.read), std::move(report.read), bounds);
    run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    fill_status(run, status);
    return run;
}

} // namespace

BoundedRun run_bounded(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const Bounds& bounds) {
    using Clock = std::chrono::steady_clock;
    sandbox::Pipe out;
    sandbox::Pipe report; // Catch2's XML report, when bounds.report_fd asks for it
    if (!sandbox::open_pipe(out) || (bounds.report_fd && !sandbox::open_pipe(report))) {
        throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    script::Confinement confinement = bounds.confinement;
    confinement.limits = true;
    confinement.cwd = bounds.cwd;
    confinement.cpu_seconds = static_cast<int>(bounds.wall.count() / 1000) + 5;
    // A sandboxed program gets only the sandbox's environment; any other, the grader's as well.
    std::vector<std::string> environment;
    if (!confinement.enabled) {
        for (char** e = environ; *e != nullptr; ++e) {
            environment.emplace_back(*e);
        }
    }
    environment.insert(environment.end(), env.begin(), env.end());
    confinement.env = environment;
    if (sandbox::launches(confinement)) {
        return run_launched(argv, confinement, bounds, std::move(out), std::move(report));
    }
    environment = sandbox::environment(confinement);
    std::vector<std::string> argv_copy = sandbox::command(confinement, argv);
    const std::vector<char*> args = sandbox::pointers(argv_copy);
    const std::vector<char*> envp = sandbox::pointers(environment);

    const auto start = Clock::now();
    const pid_t pid = sandbox::fork_child();
    if (pid < 0) {
        throw std::system_error(errno, std::generic_category(), "fork");
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        const int out_end = out.write.get();
        const int report_end = report.write.get();
        give_report_pipe(report_end, confinement);
        if (const int e = sandbox::enter(confinement); e != 0) {
            const char* what = "cannot confine the program (cgroup, user, limits, working folder): ";
            (void)!::write(out_end, what, std::strlen(what));
            (void)!::write(out_end, ::strerrordesc_np(e), std::strlen(::strerrordesc_np(e)));
            ::_exit(126);
        }
        ::signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const int devnull = ::open("/dev/null", O_RDONLY); // the child's own: it execs or exits next
        ::dup2(devnull, 0);
        ::dup2(out_end, 1);
        ::dup2(out_end, 2);
        if (report_end == 3) {
            ::fcntl(3, F_SETFD, 0);
        } else if (report_end >= 0) {
            ::dup2(report_end, 3); // dup2 clears close-on-exec: the program (through bwrap) keeps it
        }
        ::execve(args[0], args.data(), envp.data());
        // No allocation here: the grader has threads, and one may have held malloc's lock at fork.
        const char* why = ::strerrordesc_np(errno);
        for (const char* part : {"cannot start ", static_cast<const char*>(args[0]), ": ", why, "\n"}) {
            (void)!::write(2, part, std::strlen(part));
        }
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    out.write.reset(); // the program's copies remain: EOF comes when they are gone
    ::fcntl(out.read.get(), F_SETFL, O_NONBLOCK);
    if (report.write) {
        report.write.reset();
        ::fcntl(report.read.get(), F_SETFL, O_NONBLOCK);
    }

    BoundedRun run;
    const auto deadline = start + bounds.wall;
    bool open = true;
    bool report_open = static_cast<bool>(report.read);
    int status = 0;
    bool exited = false;
    while (!exited) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (open || report_open) {
            pollfd p[2] = {{open ? out.read.get() : -1, POLLIN, 0},
                           {report_open ? report.read.get() : -1, POLLIN, 0}};
            ::poll(p, 2, static_cast<int>(std::clamp<long long>(left, 0, 50)));
            if (open) {
                run.dropped += read_some(out.read.get(), run.output, bounds.max_output, open);
            }
            if (report_open) {
                (void)read_some(report.read.get(), run.report, kReportLimit, report_open);
            }
        } else if (left > 0) {
            ::usleep(static_cast<useconds_t>(std::min<long long>(left, 5) * 1000)); // the pipes are closed
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
    ::kill(-pid, SIGKILL); // whatever it left behind in its group (bwrap takes its sandbox along)
    read_the_rest(run, std::move(out.read), std::move(report.read), bounds);
    run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (confinement.enabled) {
        status = sandbox::program_status(status);
    }
    fill_status(run, status);
    return run;
}

} // namespace socklab::grade
