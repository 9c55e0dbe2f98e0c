#include "socklab/testkit/names.hpp"

#include <fcntl.h>
#include <string.h> // strerrorname_np
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>

namespace socklab::testkit {

namespace {

std::string hex(int value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%x", static_cast<unsigned>(value));
    return text;
}

struct Bit {
    int bit;
    const char* name;
};

// names, then "|NAME" for each known bit set in rest, then "|0x.." for any bits left unnamed.
template <std::size_t N>
std::string with_bits(std::string names, int rest, const Bit (&known)[N]) {
    for (const auto& [bit, name] : known) {
        if (bit != 0 && (rest & bit) == bit) {
            names += (names.empty() ? "" : "|") + std::string(name);
            rest &= ~bit;
        }
    }
    if (rest != 0) {
        names += (names.empty() ? "" : "|") + hex(rest);
    }
    return names;
}

} // namespace

std::string errno_text(int err) {
    const char* name = ::strerrorname_np(err);
    return name != nullptr ? std::string(name) + " (" + std::to_string(err) + ")"
                           : "errno " + std::to_string(err);
}

std::string error_code_text(const std::error_code& code) {
    if (code.category() == std::system_category() || code.category() == std::generic_category()) {
        return errno_text(code.value()) + ": " + code.message();
    }
    return std::string(code.category().name()) + " " + std::to_string(code.value()) + ": " + code.message();
}

std::string status_flags_text(int flags) {
    // The access mode is a two-bit field, not a flag: it is always named, first.
    static const Bit known[] = {{O_APPEND, "O_APPEND"}, {O_NONBLOCK, "O_NONBLOCK"}, {O_ASYNC, "O_ASYNC"},
                                {O_DIRECT, "O_DIRECT"}, {O_NOATIME, "O_NOATIME"},   {O_SYNC, "O_SYNC"},
                                {O_DSYNC, "O_DSYNC"},   {O_PATH, "O_PATH"}};
    const int mode = flags & O_ACCMODE;
    const char* mode_name = mode == O_RDONLY ? "O_RDONLY" : mode == O_WRONLY ? "O_WRONLY" : "O_RDWR";
    return with_bits(mode_name, flags & ~O_ACCMODE, known) + " (" + hex(flags) + ")";
}

std::string descriptor_flags_text(int flags) {
    static const Bit known[] = {{FD_CLOEXEC, "FD_CLOEXEC"}};
    const std::string names = with_bits("", flags, known);
    return (names.empty() ? "none" : names) + " (" + hex(flags) + ")";
}

std::string family_text(int family) {
    const char* name = family == AF_INET     ? "AF_INET"
                       : family == AF_INET6  ? "AF_INET6"
                       : family == AF_UNIX   ? "AF_UNIX"
                       : family == AF_UNSPEC ? "AF_UNSPEC"
                                             : nullptr;
    return (name != nullptr ? std::string(name) : std::string("address family")) + " (" +
           std::to_string(family) + ")";
}

bool is_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    return flags != -1 && (flags & O_NONBLOCK) != 0;
}

bool closes_on_exec(int fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    return flags != -1 && (flags & FD_CLOEXEC) != 0;
}

std::string describe_flags(int fd) {
    const int status = ::fcntl(fd, F_GETFL);
    if (status == -1) {
        return "fcntl(" + std::to_string(fd) + ", F_GETFL) failed: " + errno_text(errno);
    }
    const int descriptor = ::fcntl(fd, F_GETFD);
    return "status flags " + status_flags_text(status) + ", descriptor flags " +
           descriptor_flags_text(descriptor);
}

} // namespace socklab::testkit
