#include "process.hpp"

#include "socklab/wire/namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace socklab::script {

std::string enter_private_network() {
    if (::unshare(CLONE_NEWNET) != 0) {
        return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    }
    return wire::bring_loopback_up();
}

namespace {

std::string signal_name(int signal) {
    const char* abbrev = ::sigabbrev_np(signal);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

} // namespace

Process::Process(std::string name, std::vector<std::string> argv)
    : name_(std::move(name)), argv_(std::move(argv)) {}

void Process::close_stdin() {
    stdin_fd_.reset();
}

// The descriptors close after, as members.
Process::~Process() {
    kill_group();
}

std::string Process::command() const {
    std::string out;
    for (const auto& a : argv_) {
        out += (out.empty() ? "" : " ") + a;
    }
    return out;
}

std::shared_mutex& fork_lock() {
    return sandbox::fork_lock();
}

bool Process::start(std::string& error) {
    sandbox::Pipe in;
    sandbox::Pipe out;
    sandbox::Pipe err;
    sandbox::Pipe exec_error; // the child writes errno here when execv fails; closed by a successful exec
    if (!sandbox::open_pipe(in) || !sandbox::open_pipe(out) || !sandbox::open_pipe(err) ||
        !sandbox::open_pipe(exec_error)) {
        error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    const auto keep_parent_ends = [&] {
        if (keep_terminal_) {
            return; // the pipes close here, unused
        }
        stdin_fd_ = std::move(in.write);
        stdout_fd_ = std::move(out.read);
        stderr_fd_ = std::move(err.read);
        for (const sandbox::Fd* fd : {&stdin_fd_, &stdout_fd_, &stderr_fd_}) {
            ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
        }
    };
    if (sandbox::launches(confinement_)) {
        launched_ = sandbox::launch(
            confinement_,
            sandbox::launch_of(confinement_, argv_, {in.read.get(), out.write.get(), err.write.get(), -1}),
            error);
        keep_parent_ends(); // the child's ends close with the pipes, here
        if (!launched_) {
            exited_ = true;
            acknowledged_ = true;
            return false;
        }
        return true;
    }
    std::vector<std::string> argv = sandbox::command(confinement_, argv_);
    const std::vector<char*> args = sandbox::pointers(argv);
    // Inside the sandbox, the environment is the sandbox's own; outside, the caller's.
    std::vector<std::string> env = sandbox::environment(confinement_);
    const std::vector<char*> envp = sandbox::pointers(env);
    pid_ = sandbox::fork_child();
    if (pid_ == 0) {
        if (!keep_group_) {
            ::setpgid(0, 0);
        }
        if (const int e = sandbox::enter(confinement_); e != 0) {
            (void)!::write(exec_error.write.get(), &e, sizeof e);
            ::_exit(127);
        }
        ::signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (!keep_terminal_) {
            ::dup2(in.read.get(), 0);
            ::dup2(out.write.get(), 1);
            ::dup2(err.write.get(), 2);
        }
        if (confinement_.enabled) {
            ::execve(args[0], args.data(), envp.data());
        } else {
            ::execv(args[0], args.data());
        }
        const int e = errno;
        (void)!::write(exec_error.write.get(), &e, sizeof e);
        ::_exit(127);
    }
    if (pid_ < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        return false;
    }
    if (!keep_group_) {
        ::setpgid(pid_, pid_); // also here: whichever of parent and child runs first
    }
    exec_error.write.reset(); // so that the read below ends at the child's exec
    int e = 0;
    const ssize_t n = ::read(exec_error.read.get(), &e, sizeof e);
    if (n == sizeof e) {
        error = std::strerror(e);
        ::waitpid(pid_, &status_, 0);
        exited_ = true;
        acknowledged_ = true;
        return false;
    }
    keep_parent_ends();
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0))); // -1 on old kernels: polled instead
    return true;
}

void Process::attach(int port) {
    attached_ = true;
    port_ = port;
}

bool Process::poll_exit() {
    if (launched_ && !exited_) {
        exited_ = launched_->ended(status_);
        return exited_;
    }
    if (exited_ || pid_ <= 0) {
        return false;
    }
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
        exited_ = true;
        if (confinement_.enabled) {
            status_ = sandbox::program_status(status_);
        }
        pidfd_.reset();
        return true;
    }
    return false;
}

void Process::drain_stderr() {
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::read(stderr_fd_.get(), buffer, sizeof buffer);
        if (n > 0) {
            stderr_.append(buffer, static_cast<std::size_t>(n));
            if (stderr_.size() > (1u << 20)) {
                stderr_.erase(0, stderr_.size() - (1u << 20));
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0) {
            stderr_fd_.reset();
        }
        return;
    }
}

void Process::send_signal(int signal) {
    signalled_ = true;
    if (launched_ && !exited_) {
        launched_->signal(signal);
    }
    if (pid_ > 0 && !exited_) {
        ::kill(confinement_.enabled ? sandbox::program_pid(pid_) : pid_, signal);
    }
}

void Process::kill_group() {
    if (launched_) {
        if (!exited_) {
            launched_->signal(SIGKILL); // its namespace: also whatever the program started
            status_ = launched_->wait();
            exited_ = true;
        }
        return;
    }
    if (pid_ <= 0) {
        return;
    }
    if (!keep_group_) {
        ::kill(-pid_, SIGKILL); // the group: also whatever the program started
    } else if (!exited_) {
        ::kill(pid_, SIGKILL); // once reaped, its pid may be another process's
    }
    if (!exited_) {
        ::waitpid(pid_, &status_, 0);
        exited_ = true;
        if (confinement_.enabled) {
            status_ = sandbox::program_status(status_);
        }
    }
}

bool Process::killed_by_signal() const {
    return exited_ && WIFSIGNALED(status_);
}

int Process::term_signal() const {
    return killed_by_signal() ? WTERMSIG(status_) : 0;
}

int Process::exit_code() const {
    return exited_ && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

std::string Process::status_text() const {
    if (!exited_) {
        return "is running";
    }
    if (WIFSIGNALED(status_)) {
        return "was killed by " + signal_name(WTERMSIG(status_));
    }
    return "exited with code " + std::to_string(WEXITSTATUS(status_));
}

} // namespace socklab::script
