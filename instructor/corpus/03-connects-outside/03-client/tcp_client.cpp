#include "socklab/tcp_client.hpp"

#include "socklab/check.hpp"
#include "socklab/port.hpp"
#include "socklab/resolve.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <exception>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace socklab {
namespace {

using Clock = std::chrono::steady_clock;

// Connects to endpoint, giving up at deadline.
TcpStream connect_before(const Endpoint& endpoint, Clock::time_point deadline,
                         std::chrono::milliseconds budget) {
    const std::string where = endpoint.to_string();
    // Non-blocking, so that connect returns at once and poll can wait with our deadline instead
    // of the kernel's (which is minutes while SYNs go unanswered).
    UniqueFd fd(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket for", where));
    sockaddr_in address = endpoint.to_sockaddr();
    address.sin_addr.s_addr = htonl(0xc0000201); // Hostile: 192.0.2.1, off this machine.
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == -1) {
        if (errno != EINPROGRESS) {
            throw_errno(errno, "connect to", where); // refused at once, no route, ...
        }
        pollfd writable{fd.get(), POLLOUT, 0};
        for (;;) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            const int ready = ::poll(&writable, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
            if (ready > 0) {
                break;
            }
            if (ready == 0) {
                throw_errno(ETIMEDOUT, "connect (gave up after " + std::to_string(budget.count()) + " ms) to",
                            where);
            }
            if (errno != EINTR) {
                throw_errno(errno, "poll while connecting to", where);
            }
        }
        // Writable means the handshake ended, one way or the other: SO_ERROR says which.
        int error = 0;
        socklen_t length = sizeof error;
        check(::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length), "getsockopt SO_ERROR for",
              where);
        if (error != 0) {
            throw_errno(error, "connect to", where);
        }
    }
    // Back to blocking: TcpStream's reads and writes wait for the peer.
    const int flags = check(::fcntl(fd.get(), F_GETFL), "fcntl F_GETFL for", where);
    check(::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK), "fcntl F_SETFL for", where);
    return TcpStream(std::move(fd), endpoint);
}

} // namespace

HostPort split_host_port(std::string_view text) {
    const auto reject = [text](const std::string& why) -> HostPort {
        throw std::invalid_argument("invalid endpoint \"" + std::string(text) + "\": " + why);
    };
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return reject("there is no ':' between the host and the port; write it like localhost:8080");
    }
    if (text.find(':') != colon) {
        return reject(
            "it has more than one ':'; write one host, one ':', one port (IPv6 is not part of these labs)");
    }
    if (colon == 0) {
        return reject("the host before ':' is missing");
    }
    if (colon + 1 == text.size()) {
        return reject("the port after ':' is missing");
    }
    try {
        return HostPort{std::string(text.substr(0, colon)), parse_port(text.substr(colon + 1))};
    } catch (const std::invalid_argument& e) {
        return reject(e.what());
    }
}

TcpStream TcpClient::connect(const Endpoint& endpoint) const {
    return connect_before(endpoint, Clock::now() + timeout_, timeout_);
}

TcpStream TcpClient::connect_any(std::span<const Endpoint> candidates) const {
    if (candidates.empty()) {
        throw std::invalid_argument("connect: no endpoint to try (the name resolved to nothing)");
    }
    const auto deadline = Clock::now() + timeout_;
    // The last failure, kept whole: a copy into a std::system_error would slice off SocketError's
    // message, which names the endpoint.
    std::exception_ptr last;
    for (const Endpoint& candidate : candidates) {
        try {
            return connect_before(candidate, deadline, timeout_);
        } catch (const std::system_error&) {
            last = std::current_exception(); // try the next address; report this if none works
            if (Clock::now() >= deadline) {
                break;
            }
        }
    }
    std::rethrow_exception(last);
}

TcpStream TcpClient::connect(std::string_view host_port) const {
    const HostPort target = split_host_port(host_port);
    const std::vector<Endpoint> candidates = resolve(target.host, target.port);
    return connect_any(candidates);
}

} // namespace socklab
