// Lab 03's connects under a deadline of the test's own (socklab/testkit/watchdog.hpp): a client
// that blocks or spins in connect fails the test in seconds, saying what to check, instead of
// hanging until CTest's timeout.
#pragma once

#include "socklab/endpoint.hpp"
#include "socklab/tcp_client.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/watchdog.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace lab03 {

// To a server that never answers: connect must end at the client's own deadline. A blocking
// connect(2) would wait for the kernel's own timeout, about two minutes.
inline constexpr std::string_view kEndsAtItsDeadline =
    "is the socket made with SOCK_NONBLOCK, so that connect answers EINPROGRESS and poll waits until the "
    "deadline? A blocking connect waits for the kernel's own timeout, about two minutes";

// To a port where nothing listens: the server's kernel answers at once with a reset, and poll
// reports POLLOUT|POLLERR|POLLHUP. A loop that waits for a bare POLLOUT never sees it.
inline constexpr std::string_view kRefusedAtOnce =
    "a refused connect ends at once, with poll reporting POLLOUT|POLLERR|POLLHUP: does the wait end on "
    "any of them, and SO_ERROR then say how the handshake ended?";

// Runs connect (a call of the student's TcpClient) within budget. When it has not returned by
// then, the process's sockets still waiting for a SYN-ACK are shut down (which ends a blocking
// connect), and the test fails with `what` and `hint`.
inline void connect_within(std::string_view what, std::chrono::milliseconds budget, std::string_view hint,
                           const std::function<void()>& connect) {
    socklab::testkit::call_within(what, socklab::testkit::Deadline(budget),
                                  socklab::testkit::shut_down_connecting_sockets, hint, connect);
}

// client.connect(endpoint) where nothing listens, within 2 s: for a test that expects it refused.
inline void connect_where_refused(const socklab::TcpClient& client, const socklab::Endpoint& endpoint) {
    connect_within("connect to " + endpoint.to_string() + ", where nothing listens",
                   std::chrono::milliseconds(2000), kRefusedAtOnce, [&] { (void)client.connect(endpoint); });
}

} // namespace lab03
