#include "socklab/testkit/process.hpp"

#include "socklab/check.hpp"
#include "socklab/testkit/bytes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace socklab::testkit {
namespace {

struct Pipe {
    UniqueFd read_end;
    UniqueFd write_end;
};

Pipe make_pipe() {
    int fds[2];
    check(::pipe2(fds, O_CLOEXEC), "pipe2");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string basename_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

std::string ExitStatus::describe() const {
    if (exited) {
        return "exit code " + std::to_string(code);
    }
    const char* name = ::sigabbrev_np(signal);
    return std::string("killed by SIG") + (name != nullptr ? name : std::to_string(signal).c_str());
}

std::string program_path(std::string_view name) {
    // The grader runs the tests from a copy of the programs (one folder per submission graded at
    // once) and says where with SOCKLAB_BIN_DIR.
    const char* moved = std::getenv("SOCKLAB_BIN_DIR");
    return std::string(moved != nullptr && *moved != '\0' ? moved : SOCKLAB_BIN_DIR) + "/" +
           std::string(name);
}

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args)
    : name_(basename_of(program)) {
    Pipe in = make_pipe();
    Pipe out = make_pipe();
    Pipe err = make_pipe();

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in.read_end.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out.write_end.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err.write_end.get(), STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own process group, so the destructor can kill it and every child it started; and the
    // default SIGPIPE disposition, whatever the test process set.
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& arg : args) {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        throw_errno(rc, "start program", program);
    }
    stdin_ = std::move(in.write_end);
    stdout_ = std::move(out.read_end);
    stderr_ = std::move(err.read_end);
}

ChildProcess::~ChildProcess() {
    if (!reaped_ && pid_ > 0) {
        ::kill(-pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) == -1 && errno == EINTR) {
        }
    }
}

void ChildProcess::write_stdin(std::string_view bytes) {
    // A child that has exited leaves the pipe without a reader, and a write to it raises SIGPIPE.
    // Block SIGPIPE in this thread for the write and discard it after, so the test sees EPIPE.
    sigset_t pipe_only;
    sigset_t old_mask;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
    bool broken = false;
    while (!bytes.empty() && !broken) {
        const ssize_t n = retry_on_eintr([&] { return ::write(stdin_.get(), bytes.data(), bytes.size()); });
        if (n == -1 && errno == EPIPE) {
            broken = true; // the child stopped reading; what it did is for the test to judge
        } else {
            check(n, "write to stdin of", name_);
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    if (broken) {
        const timespec no_wait{0, 0};
        ::sigtimedwait(&pipe_only, nullptr, &no_wait);
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

void ChildProcess::close_stdin() {
    stdin_.reset();
}

void ChildProcess::send_signal(int sig) {
    check(::kill(-pid_, sig), "kill");
}

bool ChildProcess::pump(Deadline deadline) {
    if (!stdout_ && !stderr_) {
        return false;
    }
    pollfd fds[2] = {{stdout_.get(), POLLIN, 0}, {stderr_.get(), POLLIN, 0}};
    const int ready = check(retry_on_eintr([&] { return ::poll(fds, 2, deadline.poll_timeout()); }), "poll");
    if (ready == 0) {
        return false;
    }
    UniqueFd* owners[2] = {&stdout_, &stderr_};
    std::string* sinks[2] = {&out_, &err_};
    for (int i = 0; i < 2; ++i) {
        if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            char buffer[4096];
            const ssize_t n = retry_on_eintr([&] { return ::read(fds[i].fd, buffer, sizeof buffer); });
            if (n <= 0) {
                owners[i]->reset();
            } else {
                sinks[i]->append(buffer, static_cast<std::size_t>(n));
            }
        }
    }
    return true;
}

std::optional<std::string> ChildProcess::read_stdout_line(Deadline deadline) {
    for (;;) {
        const auto newline = out_.find('\n');
        if (newline != std::string::npos) {
            std::string line = out_.substr(0, newline);
            out_.erase(0, newline + 1);
            return line;
        }
        if (!stdout_) {
            return std::nullopt;
        }
        if (deadline.expired()) {
            throw TimeoutError(name_ + " printed no whole line on stdout within " +
                               std::to_string(deadline.budget().count()) + " ms; stdout so far: " +
                               escape_bytes(out_) + "; stderr so far: " + escape_bytes(err_));
        }
        pump(deadline);
    }
}

ExitStatus ChildProcess::wait(Deadline deadline) {
    constexpr milliseconds kSlice(10);
    while (!reaped_) {
        int status = 0;
        const pid_t done = retry_on_eintr([&] { return ::waitpid(pid_, &status, WNOHANG); });
        if (done == pid_) {
            reaped_ = true;
            status_.exited = WIFEXITED(status);
            status_.code = status_.exited ? WEXITSTATUS(status) : -1;
            status_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
            break;
        }
        if (deadline.expired()) {
            throw TimeoutError(
                name_ + " was still running after " + std::to_string(deadline.budget().count()) +
                " ms; stdout so far: " + escape_bytes(out_) + "; stderr so far: " + escape_bytes(err_));
        }
        // Read output while waiting, so a child blocked on a full pipe can go on. Once both pipes
        // are closed there is no descriptor to wait on, so poll for the exit in short slices.
        const Deadline slice(std::min(deadline.remaining(), kSlice));
        if (!stdout_ && !stderr_) {
            ::poll(nullptr, 0, slice.poll_timeout());
        } else {
            pump(slice);
        }
    }
    // Take what is already in the pipes; a grandchild may still hold them open, so do not wait.
    while (pump(Deadline(milliseconds(0)))) {
    }
    return status_;
}

std::uint16_t read_listening_port(ChildProcess& server, Deadline deadline) {
    const std::optional<std::string> line = server.read_stdout_line(deadline);
    const std::string prefix = "listening on 127.0.0.1:";
    if (!line) {
        (void)server.wait(deadline);
        throw std::runtime_error(
            "the server ended before it printed \"listening on 127.0.0.1:PORT\"; its stderr: " +
            escape_bytes(server.stderr_text()));
    }
    const bool digits = line->size() > prefix.size() && line->size() <= prefix.size() + 5 &&
                        line->find_first_not_of("0123456789", prefix.size()) == std::string::npos;
    const unsigned long port = digits ? std::stoul(line->substr(prefix.size())) : 0;
    if (line->rfind(prefix, 0) != 0 || !digits || port == 0 || port > 65535) {
        throw std::runtime_error(
            "the server's first line should be \"listening on 127.0.0.1:PORT\" with a real "
            "port, but it was " +
            escape_bytes(*line) + "; its stderr: " + escape_bytes(server.stderr_text()));
    }
    return static_cast<std::uint16_t>(port);
}

namespace {

std::size_t count_entries(const char* directory) {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory)) {
        ++count;
    }
    return count;
}

} // namespace

std::size_t open_descriptor_count() {
    return count_entries("/proc/self/fd") - 1;
}

std::vector<int> open_descriptors() {
    // The directory's own descriptor is open while it is listed: leave out what is gone after.
    std::vector<int> listed;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
        listed.push_back(std::atoi(entry.path().filename().c_str()));
    }
    std::vector<int> open;
    for (const int fd : listed) {
        if (::fcntl(fd, F_GETFD) != -1) {
            open.push_back(fd);
        }
    }
    return open;
}

std::size_t thread_count() {
    return count_entries("/proc/self/task");
}

RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                      std::string_view stdin_bytes, milliseconds timeout) {
    ChildProcess child(program, args);
    child.write_stdin(stdin_bytes);
    child.close_stdin();
    RunResult result;
    result.status = child.wait(Deadline(timeout));
    result.out = child.stdout_text();
    result.err = child.stderr_text();
    return result;
}

} // namespace socklab::testkit
