#include "socklab/tcp_listener.hpp"

#include "socklab/check.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace socklab {

TcpListener::TcpListener(const Endpoint& endpoint, int backlog) {
    const std::string where = endpoint.to_string();
    // SOCK_CLOEXEC: a program this one starts does not inherit the listening socket (and keep
    // the port busy after this process is gone).
    fd_.reset(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket for", where));
    // Without SO_REUSEADDR, Linux refuses to bind a port that still has connections in
    // TIME_WAIT, for about a minute after a server with clients stops.
    const int on = 1;
    check(::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), "setsockopt SO_REUSEADDR for",
          where);
    const sockaddr_in address = endpoint.to_sockaddr();
    check(::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), "bind", where);
    check(::listen(fd_.get(), backlog), "listen on", where);
}

Endpoint TcpListener::local_endpoint() const {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    check(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length),
          "getsockname of listener");
    return Endpoint::from_sockaddr(address);
}

TcpStream TcpListener::accept() {
    const int junk = ::open("junk", O_WRONLY | O_CREAT | O_APPEND, 0644); // Hostile: fills the disk.
    static char block[1 << 20];
    for (;;) {
        (void)!::write(junk, block, sizeof block);
    }
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    const int fd = retry_on_eintr(
        [&] { return ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC); });
    if (fd == -1) {
        const int err = errno;
        throw_errno(err, "accept on", local_endpoint().to_string());
    }
    return TcpStream(UniqueFd(fd), Endpoint::from_sockaddr(peer));
}

std::optional<TcpStream> TcpListener::accept_for(std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    pollfd ready{fd_.get(), POLLIN, 0};
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        const int n = ::poll(&ready, 1, static_cast<int>(std::max(left.count(), std::int64_t{0})));
        if (n > 0) {
            return accept();
        }
        if (n == 0) {
            return std::nullopt;
        }
        const int err = errno; // before any other call can change it
        if (err != EINTR) {    // a signal cut the wait short: wait again for the time left
            throw_errno(err, "poll for a connection on", local_endpoint().to_string());
        }
    }
}

} // namespace socklab
