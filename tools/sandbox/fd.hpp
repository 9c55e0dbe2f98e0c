// Owns one file descriptor: closed when its owner goes, moved and never copied. The grader's
// counterpart of the labs' UniqueFd (labs/common), which is given code that the grader, an oracle
// for the labs, does not link.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

namespace socklab::sandbox {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.fd_, -1));
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
    // Gives the descriptor up without closing it.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    // Closes the descriptor held, if any, and holds fd instead.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// The two ends of a pipe, each owned.
struct Pipe {
    Fd read;
    Fd write;
};

// pipe2(2), both ends close-on-exec, into pipe; false (with errno) when it failed.
inline bool open_pipe(Pipe& pipe) noexcept {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return false;
    }
    pipe.read.reset(fds[0]);
    pipe.write.reset(fds[1]);
    return true;
}

// A connected pair of AF_UNIX sockets that keep message boundaries (SOCK_SEQPACKET),
// close-on-exec, into a and b; false (with errno) when it failed.
inline bool open_socket_pair(Fd& a, Fd& b) noexcept {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
        return false;
    }
    a.reset(fds[0]);
    b.reset(fds[1]);
    return true;
}

} // namespace socklab::sandbox
