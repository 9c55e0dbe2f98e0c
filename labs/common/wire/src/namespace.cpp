#include "socklab/wire/namespace.hpp"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace socklab::wire {

namespace {

// The socket the interface's flags are asked and set through, closed by its destructor. (Not
// UniqueFd: the script runner uses this file, and it links no code of the labs it judges.)
struct ControlSocket {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ControlSocket() = default;
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;
    ~ControlSocket() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

} // namespace

std::string bring_loopback_up() {
    const ControlSocket control;
    if (control.fd < 0) {
        return std::string("socket: ") + std::strerror(errno);
    }
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    const bool up = ::ioctl(control.fd, SIOCGIFFLAGS, &request) == 0 &&
                    (request.ifr_flags |= IFF_UP, ::ioctl(control.fd, SIOCSIFFLAGS, &request) == 0);
    const int error = errno;
    if (up) {
        return "";
    }
    return std::string("bringing up loopback in the new namespace: ") + std::strerror(error) +
           (error == EPERM ? " (no capability in this namespace: Ubuntu 24.04's AppArmor takes them away in "
                             "a user namespace, unless sysctl kernel.apparmor_restrict_unprivileged_userns=0)"
                           : "");
}

std::string enter_private_network() {
    if (::unshare(CLONE_NEWNET) != 0 && ::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
        return std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno) +
               " (a private network namespace needs root, or unprivileged user namespaces: "
               "sysctl kernel.unprivileged_userns_clone=1)";
    }
    return bring_loopback_up();
}

} // namespace socklab::wire
