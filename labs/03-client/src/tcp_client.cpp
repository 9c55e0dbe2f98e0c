// Lab 03: a client that connects, with a deadline, to an endpoint or a name. This file is yours.
// Read docs/labs/03-client.md beside it; run `ctest --test-dir build -L lab03` to check.
#include "socklab/tcp_client.hpp"

#include "socklab/check.hpp"
#include "socklab/not_implemented.hpp"
#include "socklab/port.hpp"
#include "socklab/resolve.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <stdexcept>

namespace socklab {

HostPort split_host_port([[maybe_unused]] std::string_view text) {
    // TODO: find the ':' (exactly one); the host before it must not be empty; parse the port after it
    // with parse_port. Throw std::invalid_argument quoting the whole text otherwise.
    throw NotImplemented("split_host_port", "docs/labs/03-client.md#step-3-split-host-and-port");
}

TcpStream TcpClient::connect([[maybe_unused]] const Endpoint& endpoint) const {
    // TODO: socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC; connect(2) expecting -1 with errno
    // EINPROGRESS (anything else: throw_errno); poll(2) for POLLOUT until timeout_ runs out
    // (nothing: throw_errno(ETIMEDOUT, ...)); getsockopt(2) SO_ERROR (non-zero: throw_errno
    // with it); clear O_NONBLOCK with fcntl(2); return TcpStream(std::move(fd), endpoint).
    throw NotImplemented("TcpClient::connect", "docs/labs/03-client.md#step-1-connect-to-an-endpoint");
}

TcpStream TcpClient::connect_any([[maybe_unused]] std::span<const Endpoint> candidates) const {
    // TODO: one deadline for all; try each candidate in order with the time left; return the
    // first stream; if all fail, throw the last error; no candidate: std::invalid_argument.
    throw NotImplemented("TcpClient::connect_any", "docs/labs/03-client.md#step-4-try-each-address-in-turn");
}

TcpStream TcpClient::connect([[maybe_unused]] std::string_view host_port) const {
    // TODO: split_host_port, resolve (lab 01), connect_any.
    throw NotImplemented("TcpClient::connect", "docs/labs/03-client.md#step-4-try-each-address-in-turn");
}

} // namespace socklab
