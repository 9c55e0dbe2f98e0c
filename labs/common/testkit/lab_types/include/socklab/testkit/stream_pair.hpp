// A TCP connection over loopback for testing a TcpStream: the accepted side is wrapped in the
// TcpStream under test, the other side is a raw socket that only the test kit touches.
// Header-only, for the tests of lab 02 and the labs after it.
#pragma once

#include "socklab/check.hpp"
#include "socklab/tcp_stream.hpp"
#include "socklab/testkit/loopback.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

namespace socklab::testkit {

// getsockname(2) / getpeername(2) as an Endpoint, without going through code under test.
inline Endpoint raw_endpoint(int fd, bool peer) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    auto* raw = reinterpret_cast<sockaddr*>(&address);
    check(peer ? ::getpeername(fd, raw, &length) : ::getsockname(fd, raw, &length),
          peer ? "getpeername" : "getsockname");
    return Endpoint{Ipv4Address(ntohl(address.sin_addr.s_addr)), ntohs(address.sin_port)};
}
inline Endpoint raw_local_endpoint(int fd) {
    return raw_endpoint(fd, false);
}
inline Endpoint raw_peer_endpoint(int fd) {
    return raw_endpoint(fd, true);
}

struct StreamPair {
    TcpStream stream; // the code under test: the side a server accepted
    UniqueFd peer;    // the client side, a raw socket
};

// Makes a connected pair over loopback with the test kit's own listener.
inline StreamPair make_stream_pair() {
    LoopbackListener listener;
    UniqueFd client = connect_loopback(listener.port(), Deadline(milliseconds(2000)));
    UniqueFd accepted = listener.accept(Deadline(milliseconds(2000)));
    const Endpoint client_endpoint = raw_local_endpoint(client.get());
    return StreamPair{TcpStream(std::move(accepted), client_endpoint), std::move(client)};
}

} // namespace socklab::testkit
