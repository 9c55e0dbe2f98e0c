// TcpListener: a socket bound to an endpoint that accepts TCP connections (.NET's TcpListener).
#pragma once

#include "socklab/endpoint.hpp"
#include "socklab/tcp_stream.hpp"
#include "socklab/unique_fd.hpp"

#include <chrono>
#include <optional>

namespace socklab {

class TcpListener {
public:
    // How many connections the kernel may complete before accept() takes them (listen(2)).
    static constexpr int kDefaultBacklog = 128;

    // socket(2) with SOCK_CLOEXEC, setsockopt(2) SO_REUSEADDR (so a restarted server can bind
    // again while old connections linger in TIME_WAIT), bind(2) to endpoint, listen(2) with
    // backlog. Port 0 lets the kernel choose a free port: ask local_endpoint() which.
    // Throws SocketError naming endpoint: EADDRINUSE (another socket holds it), EADDRNOTAVAIL
    // (no interface of this host has that address), EACCES (a well-known port without privilege).
    explicit TcpListener(const Endpoint& endpoint, int backlog = kDefaultBacklog);

    // getsockname(2): the endpoint really bound, with the port the kernel chose for port 0.
    [[nodiscard]] Endpoint local_endpoint() const;

    // accept4(2) with SOCK_CLOEXEC: waits for the next connection and returns it, with the
    // client's endpoint that accept4 reports as its peer. Retries EINTR.
    // Throws SocketError naming the listening endpoint.
    [[nodiscard]] TcpStream accept();

    // poll(2) for up to timeout, then accept(): the next connection, or nullopt if none came in
    // time. A connection that arrives later stays queued for the next accept.
    [[nodiscard]] std::optional<TcpStream> accept_for(std::chrono::milliseconds timeout);

    // close(2): stop listening; new connections are refused. Not while another thread is blocked
    // in accept(): on Linux the socket then goes on listening (lab 05 wakes it with shutdown(2)).
    // Safe to call twice.
    void close() noexcept { fd_.reset(); }

    // The socket, for poll(2) and tests; still owned by this object.
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

private:
    UniqueFd fd_;
};

} // namespace socklab
