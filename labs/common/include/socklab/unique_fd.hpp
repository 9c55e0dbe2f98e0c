// UniqueFd: owns one file descriptor and closes it exactly once.
#pragma once

namespace socklab {

// Move-only owner of a file descriptor (a socket, a pipe end, ...). -1 means "owns nothing".
class UniqueFd {
public:
    UniqueFd() noexcept = default;
    // Takes ownership of fd (which may be -1).
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    // close(2); an error from close is ignored: a destructor never throws (Core Guidelines C.37).
    ~UniqueFd() { reset(); }

    // The descriptor, still owned by this object (-1 if none).
    [[nodiscard]] int get() const noexcept { return fd_; }
    // Gives up ownership without closing; returns the descriptor.
    [[nodiscard]] int release() noexcept;
    // close(2) the owned descriptor, if any, then own fd.
    void reset(int fd = -1) noexcept;
    // True when a descriptor is owned.
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

} // namespace socklab
