#include "socklab/testkit/child.hpp"

#include "socklab/check.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/unique_fd.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <stdexcept>
#include <utility>

namespace socklab::testkit {
namespace {

void write_fully(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0 && errno != EINTR) {
            return;
        }
        done += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
}

} // namespace

ChildOutcome run_in_child(const std::function<std::string()>& body, ChildSetup setup, milliseconds timeout) {
    int fds[2];
    check(::pipe2(fds, O_CLOEXEC), "pipe2");
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);

    const pid_t pid = check(::fork(), "fork");
    if (pid == 0) {
        read_end.reset();
        // First byte: 'R' ran, 'U' unavailable; then the text.
        // Root can make a network namespace directly; anyone else can inside a new user namespace
        // (where the process is root of nothing but its own namespaces).
        if (setup.private_netns && ::unshare(CLONE_NEWNET) == -1 &&
            ::unshare(CLONE_NEWUSER | CLONE_NEWNET) == -1) {
            const int error = errno;
            write_fully(write_end.get(),
                        std::string("Uunshare(CLONE_NEWNET) failed: ") + std::strerror(error) +
                            (error == EINVAL ? " (a user namespace can only be made by a process of one "
                                               "thread; a sanitizer's runtime adds one)"
                                             : " (a private network namespace needs root, CAP_SYS_ADMIN, or "
                                               "unprivileged user namespaces: sysctl "
                                               "kernel.unprivileged_userns_clone=1)"));
            ::_exit(0);
        }
        constexpr uid_t kNobody = 65534;
        if (setup.drop_privileges && ::geteuid() == 0 &&
            (::setgroups(0, nullptr) == -1 || ::setgid(kNobody) == -1 || ::setuid(kNobody) == -1)) {
            write_fully(write_end.get(),
                        std::string("Ucould not become nobody (uid 65534): ") + std::strerror(errno));
            ::_exit(0);
        }
        std::string result;
        try {
            result = body();
        } catch (const std::exception& e) {
            result = std::string("exception: ") + e.what();
        } catch (...) {
            result = "exception: (not a std::exception)";
        }
        write_fully(write_end.get(), "R" + result);
        ::_exit(0);
    }
    write_end.reset();

    // The report is whole once the child has exited (it writes it all, then _exits). Its end is
    // the child's exit, not the pipe's EOF: a process the body forked (a student's server, or a
    // fork bomb) inherits the write end and may hold it open long after.
    const UniqueFd exited(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); // -1 on old kernels: EOF only
    std::string text;
    const Deadline deadline(timeout);
    for (bool child_gone = false;;) {
        pollfd p[2] = {{read_end.get(), POLLIN, 0}, {exited.get(), POLLIN, 0}};
        const int ready = child_gone ? 1 : retry_on_eintr([&] {
            return ::poll(p, exited.get() >= 0 ? 2 : 1, deadline.poll_timeout());
        });
        if (ready <= 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            throw TimeoutError("the part of the test run in a child process did not finish within " +
                               std::to_string(timeout.count()) + " ms");
        }
        if (!child_gone && (p[1].revents & POLLIN) != 0) {
            child_gone = true; // from now on, read what is left without waiting
            ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);
        }
        char buffer[4096];
        const ssize_t n = retry_on_eintr([&] { return ::read(read_end.get(), buffer, sizeof buffer); });
        if (n <= 0) {
            break; // EOF, or (once the child is gone) nothing more
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
    }

    ChildOutcome outcome;
    if (text.empty()) {
        outcome.reason = "the child process ended without a report";
    } else if (text[0] == 'U') {
        outcome.reason = text.substr(1);
    } else {
        outcome.ran = true;
        outcome.result = text.substr(1);
    }
    return outcome;
}

ServerInChild::ServerInChild() {
    LoopbackListener listener;
    port_ = listener.port();
    int fds[2];
    check(::pipe2(fds, O_CLOEXEC), "pipe2");
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    pid_ = check(::fork(), "fork");
    if (pid_ == 0) {
        read_end.reset();
        const int connection = ::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
        const char done = connection >= 0 ? 'A' : 'E';
        (void)::write(write_end.get(), &done, 1);
        for (;;) {
            ::pause(); // until the test kills it
        }
    }
    signal_fd_ = std::move(read_end);
}

ServerInChild::~ServerInChild() {
    crash();
}

void ServerInChild::wait_accepted(Deadline deadline) {
    pollfd p{signal_fd_.get(), POLLIN, 0};
    if (retry_on_eintr([&] { return ::poll(&p, 1, deadline.poll_timeout()); }) <= 0) {
        throw TimeoutError("the server in the child process accepted no connection within " +
                           std::to_string(deadline.budget().count()) + " ms");
    }
    char done = 0;
    if (::read(signal_fd_.get(), &done, 1) != 1 || done != 'A') {
        throw std::runtime_error("the server in the child process failed to accept");
    }
}

void ServerInChild::crash() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) == -1 && errno == EINTR) {
        }
        pid_ = -1;
    }
}

} // namespace socklab::testkit
