// Lab 02: a listener. This file is yours to edit.
// Read docs/labs/02-server.md beside it; run `ctest --test-dir build -L lab02` to check.
#include "socklab/tcp_listener.hpp"

#include "socklab/check.hpp"
#include "socklab/not_implemented.hpp"

#include <poll.h>
#include <sys/socket.h>

namespace socklab {

TcpListener::TcpListener([[maybe_unused]] const Endpoint& endpoint, [[maybe_unused]] int backlog) {
    // TODO: socket(2) AF_INET, SOCK_STREAM | SOCK_CLOEXEC; setsockopt(2) SO_REUSEADDR to 1;
    // bind(2) to endpoint.to_sockaddr(); listen(2) with backlog. Keep the socket in fd_. Check
    // every call with check(result, "bind", endpoint.to_string()) and the like.
    throw NotImplemented("TcpListener::TcpListener", "docs/labs/02-server.md#step-1-bind-and-listen");
}

Endpoint TcpListener::local_endpoint() const {
    // TODO: getsockname(2) into a sockaddr_in, checked; Endpoint::from_sockaddr.
    throw NotImplemented("TcpListener::local_endpoint",
                         "docs/labs/02-server.md#step-2-learn-the-port-the-kernel-chose");
}

TcpStream TcpListener::accept() {
    // TODO: accept4(2) with SOCK_CLOEXEC and a sockaddr_in for the client's address, retrying
    // EINTR; return TcpStream(UniqueFd(fd), Endpoint::from_sockaddr(client)).
    throw NotImplemented("TcpListener::accept", "docs/labs/02-server.md#step-3-accept-a-connection");
}

std::optional<TcpStream> TcpListener::accept_for([[maybe_unused]] std::chrono::milliseconds timeout) {
    // TODO: poll(2) fd_ for POLLIN for at most timeout (again for the time left after EINTR);
    // nothing came: std::nullopt; else accept().
    throw NotImplemented("TcpListener::accept_for", "docs/labs/02-server.md#step-3-accept-a-connection");
}

} // namespace socklab
