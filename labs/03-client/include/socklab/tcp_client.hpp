// TcpClient: connects to a server (.NET's TcpClient), with a deadline, trying each address of a
// name in turn.
#pragma once

#include "socklab/endpoint.hpp"
#include "socklab/tcp_stream.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace socklab {

// A host and a port as a person writes them: "localhost:8080", "127.0.0.1:80".
struct HostPort {
    std::string host; // a name or a dotted-decimal address, not yet resolved
    std::uint16_t port = 0;
};

// Splits "HOST:PORT" at its ':' (only one: IPv6 is not part of these labs). HOST must not be
// empty; PORT is read by parse_port.
// Throws std::invalid_argument that quotes text and says which part is wrong.
[[nodiscard]] HostPort split_host_port(std::string_view text);

class TcpClient {
public:
    static constexpr std::chrono::milliseconds kDefaultTimeout{5000};

    // A client whose every connect gives up after timeout.
    explicit TcpClient(std::chrono::milliseconds timeout = kDefaultTimeout) : timeout_(timeout) {}

    // socket(2) with SOCK_CLOEXEC | SOCK_NONBLOCK; connect(2), which answers EINPROGRESS;
    // poll(2) for POLLOUT until the deadline; getsockopt(2) SO_ERROR for the outcome; then
    // fcntl(2) back to blocking. Returns the connected stream.
    // Throws SocketError naming endpoint: ECONNREFUSED (nothing listens there), ETIMEDOUT (no
    // answer before the deadline), ENETUNREACH / EHOSTUNREACH (no route), ...
    [[nodiscard]] TcpStream connect(const Endpoint& endpoint) const;

    // Tries each candidate in order (what a name resolved to), each with the time left of one
    // deadline for all; returns the first that connects. Every one failed: throws the last error.
    // No candidate: std::invalid_argument.
    [[nodiscard]] TcpStream connect_any(std::span<const Endpoint> candidates) const;

    // "HOST:PORT": split_host_port, resolve (lab 01), connect_any. Throws std::invalid_argument
    // (malformed), the resolver's SocketError (unresolved), or connect_any's error.
    [[nodiscard]] TcpStream connect(std::string_view host_port) const;

    [[nodiscard]] std::chrono::milliseconds timeout() const { return timeout_; }

private:
    std::chrono::milliseconds timeout_;
};

} // namespace socklab
