#include "socklab/unique_fd.hpp"

#include <unistd.h>

namespace socklab {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        reset(other.release());
    }
    return *this;
}

int UniqueFd::release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

void UniqueFd::reset(int fd) noexcept {
    if (fd_ >= 0 && fd_ != fd) {
        // Linux frees the descriptor even when close() reports EINTR, so it is never retried:
        // a retry could close a descriptor that another thread has just been given.
        ::close(fd_);
    }
    fd_ = fd;
}

} // namespace socklab
