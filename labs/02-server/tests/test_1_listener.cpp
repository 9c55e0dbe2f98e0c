// Lab 02: the listener: bind, listen, accept (docs/labs/02-server.md, steps 1-3).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "signal_storm.hpp"
#include "socklab/tcp_listener.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/child.hpp"
#include "socklab/testkit/endpoint_printing.hpp"
#include "socklab/testkit/process.hpp"
#include "socklab/testkit/stream_pair.hpp"
#include "socklab/testkit/watchdog.hpp"
#include "socklab/testkit/wire.hpp"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

using socklab::Endpoint;
using socklab::Ipv4Address;
using socklab::TcpListener;
using socklab::TcpStream;
using socklab::UniqueFd;
using namespace socklab::testkit;
using lab02::SignalStorm;

namespace {

const Endpoint kAnyLoopbackPort{Ipv4Address::loopback(), 0};

} // namespace

// --- Step 1: bind and listen --------------------------------------------------------------------

TEST_CASE("TcpListener accepts connections on the endpoint it was given",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    TcpListener listener(kAnyLoopbackPort);
    const Endpoint bound = raw_local_endpoint(listener.fd());
    CHECK(bound.address == Ipv4Address::loopback());
    UniqueFd client = connect_loopback(bound.port, soon());
    CHECK(client);
}

TEST_CASE("TcpListener lets the kernel complete a client's handshake before accept is called",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    // On the wire (docs/reference/wire.md): a listening socket answers a SYN with SYN ACK by itself;
    // accept only hands over a connection that is already established. One that does not listen
    // answers RST ACK, and the connect is refused.
    const OnTheWire wire = run_on_the_wire([](WireNames& names) {
        TcpListener listener(kAnyLoopbackPort);
        const std::uint16_t port = raw_local_endpoint(listener.fd()).port;
        names.name(port, "listener");
        UniqueFd client = connect_loopback(port, soon()); // and no accept
        return std::string(client ? "connected" : "not connected");
    });
    if (!wire.ran) {
        SOCKLAB_SKIP("the wire cannot be captured here: " + wire.reason);
    }
    INFO("the wire:\n" << wire.timeline);
    CHECK(wire.result == "connected");
    // Then the test's end closes both (a FIN, and a RST for the connection nobody accepted).
    const std::vector<std::string> handshake{"client -> listener SYN", "listener -> client SYN ACK",
                                             "client -> listener ACK"};
    const std::vector<std::string> segments = wire.segments();
    CHECK(std::vector<std::string>(
              segments.begin(), segments.begin() + std::min<std::size_t>(3, segments.size())) == handshake);
}

TEST_CASE("TcpListener sets SO_REUSEADDR so a restarted server can bind at once",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    TcpListener listener(kAnyLoopbackPort);
    int value = 0;
    socklen_t length = sizeof value;
    SOCKLAB_REQUIRE_SYSCALL(::getsockopt(listener.fd(), SOL_SOCKET, SO_REUSEADDR, &value, &length));
    CHECK(value == 1);
}

TEST_CASE("TcpListener makes its socket close-on-exec", "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    TcpListener listener(kAnyLoopbackPort);
    INFO(describe_flags(listener.fd()));
    CHECK(closes_on_exec(listener.fd()));
}

TEST_CASE("TcpListener refuses an endpoint another listener holds with EADDRINUSE",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    TcpListener first(kAnyLoopbackPort);
    const Endpoint taken = raw_local_endpoint(first.fd());
    REQUIRE_THROWS_MATCHES(TcpListener(taken), std::system_error, HasErrno(std::errc::address_in_use));
}

TEST_CASE("TcpListener address-in-use message names the endpoint and the cause",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    TcpListener first(kAnyLoopbackPort);
    const Endpoint taken = raw_local_endpoint(first.fd());
    const std::string where = "127.0.0.1:" + std::to_string(taken.port);
    REQUIRE_THROWS_MATCHES(TcpListener(taken), std::system_error,
                           MessageContains({"bind", where, "another socket already holds"}));
}

TEST_CASE("TcpListener refuses a port that a listener in another process holds",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    TcpListener mine(kAnyLoopbackPort);
    const Endpoint taken = raw_local_endpoint(mine.fd());
    // The child is another process (fork, no exec: it holds a copy of our descriptor but never
    // uses it) and makes a listener of its own.
    const ChildOutcome outcome = run_in_child(
        [&] {
            try {
                TcpListener theirs(taken);
                return std::string("bound");
            } catch (const std::system_error& e) {
                return std::string(::strerrorname_np(e.code().value()));
            }
        },
        ChildSetup{});
    REQUIRE(outcome.ran);
    CHECK(outcome.result == "EADDRINUSE");
}

TEST_CASE("TcpListener closes its socket when bind fails",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    TcpListener first(kAnyLoopbackPort);
    const Endpoint taken = raw_local_endpoint(first.fd());
    const std::size_t before = open_descriptor_count();
    for (int attempt = 0; attempt < 3; ++attempt) {
        CHECK_THROWS_MATCHES(TcpListener(taken), std::system_error, HasErrno(std::errc::address_in_use));
    }
    // Each failed attempt made a socket: none of them may still be open.
    CHECK(open_descriptor_count() == before);
}

TEST_CASE("TcpListener can bind again at once after serving a connection",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    std::uint16_t port = 0;
    {
        TcpListener listener(kAnyLoopbackPort);
        port = raw_local_endpoint(listener.fd()).port;
        UniqueFd client = connect_loopback(port, soon());
        TcpStream served = listener.accept();
        // The server closes first, so its side of the connection waits in TIME_WAIT: without
        // SO_REUSEADDR the port could not be bound again for about a minute.
        served.close();
        (void)recv_until_eof(client.get(), soon());
    }
    TcpListener again(Endpoint{Ipv4Address::loopback(), port});
    CHECK(raw_local_endpoint(again.fd()).port == port);
}

TEST_CASE("TcpListener refuses an address that no interface of this host has with EADDRNOTAVAIL",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    // 192.0.2.1 is a documentation address (RFC 5737): no host has it, and bind sends nothing.
    const Endpoint elsewhere{Ipv4Address(192, 0, 2, 1), 0};
    REQUIRE_THROWS_MATCHES(TcpListener(elsewhere), std::system_error,
                           HasErrno(std::errc::address_not_available));
}

TEST_CASE("TcpListener address-not-available message names the endpoint and the cause",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    const Endpoint elsewhere{Ipv4Address(192, 0, 2, 1), 0};
    REQUIRE_THROWS_MATCHES(TcpListener(elsewhere), std::system_error,
                           MessageContains({"bind", "192.0.2.1:0", "not one of this host's"}));
}

TEST_CASE("TcpListener refuses a well-known port without privilege with EACCES",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    // Port 1 is below 1024. Linux checks privilege before it checks whether the port is free, so
    // this fixed port cannot clash with another test.
    constexpr std::uint16_t kWellKnownPort = 1;
    int unprivileged_start = 1024;
    std::ifstream("/proc/sys/net/ipv4/ip_unprivileged_port_start") >> unprivileged_start;
    if (unprivileged_start <= kWellKnownPort) {
        SOCKLAB_SKIP("this machine lets anyone bind ports from " + std::to_string(unprivileged_start) +
                     " up (net.ipv4.ip_unprivileged_port_start), so no port needs privilege here");
    }
    const ChildOutcome outcome = run_in_child(
        [] {
            try {
                TcpListener listener(Endpoint{Ipv4Address::loopback(), kWellKnownPort});
                return std::string("bound");
            } catch (const std::system_error& e) {
                return std::string(::strerrorname_np(e.code().value())) + " " + e.what();
            }
        },
        ChildSetup{.drop_privileges = true});
    if (!outcome.ran) {
        SOCKLAB_SKIP("no unprivileged process can be made here: " + outcome.reason);
    }
    CHECK_THAT(outcome.result, Catch::StartsWith("EACCES") && Catch::Contains("127.0.0.1:1"));
}

TEST_CASE("TcpListener close frees the port so connecting is refused",
          "[docs/labs/02-server.md#step-1-bind-and-listen]") {
    TcpListener listener(kAnyLoopbackPort);
    const std::uint16_t port = raw_local_endpoint(listener.fd()).port;
    listener.close();
    REQUIRE_THROWS_MATCHES(connect_loopback(port, soon()), std::system_error,
                           HasErrno(std::errc::connection_refused));
}

// --- Step 2: the port the kernel chose ----------------------------------------------------------

TEST_CASE("TcpListener on port 0 reports the real port the kernel chose",
          "[docs/labs/02-server.md#step-2-learn-the-port-the-kernel-chose]") {
    TcpListener listener(kAnyLoopbackPort);
    const Endpoint reported = listener.local_endpoint();
    CHECK(reported.port != 0);
    CHECK(reported == raw_local_endpoint(listener.fd()));
}

TEST_CASE("TcpListener local_endpoint reports the address it was bound to",
          "[docs/labs/02-server.md#step-2-learn-the-port-the-kernel-chose]") {
    TcpListener listener(kAnyLoopbackPort);
    CHECK(listener.local_endpoint().address == Ipv4Address::loopback());
}

TEST_CASE("TcpListener on 0.0.0.0 reports the unspecified address",
          "[docs/labs/02-server.md#step-2-learn-the-port-the-kernel-chose]") {
    TcpListener listener(Endpoint{Ipv4Address::any(), 0});
    const Endpoint reported = listener.local_endpoint();
    CHECK(reported.address == Ipv4Address::any());
    CHECK(reported.port != 0);
}

// --- Step 3: accept -----------------------------------------------------------------------------

TEST_CASE("TcpListener accept returns a stream connected to the client",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    UniqueFd client = connect_loopback(raw_local_endpoint(listener.fd()).port, soon());
    TcpStream accepted = listener.accept();
    send_all(client.get(), "ping", soon());
    char buffer[4];
    const ssize_t got = ::recv(accepted.fd(), buffer, sizeof buffer, MSG_WAITALL);
    INFO("recv on the accepted socket: " << (got < 0 ? errno_text(errno) : std::to_string(got) + " bytes"));
    REQUIRE(got == 4);
    CHECK_THAT(Bytes(std::string_view(buffer, 4)), EqualsBytes("ping"));
}

TEST_CASE("TcpListener accept reports the client's endpoint as the peer",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    UniqueFd client = connect_loopback(raw_local_endpoint(listener.fd()).port, soon());
    TcpStream accepted = listener.accept();
    CHECK(accepted.peer_endpoint() == raw_local_endpoint(client.get()));
}

TEST_CASE("TcpListener accept makes the connection's socket close-on-exec",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    UniqueFd client = connect_loopback(raw_local_endpoint(listener.fd()).port, soon());
    TcpStream accepted = listener.accept();
    INFO(describe_flags(accepted.fd()));
    CHECK(closes_on_exec(accepted.fd()));
}

TEST_CASE("TcpListener queues connections in the backlog before accept is called",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    const std::uint16_t port = raw_local_endpoint(listener.fd()).port;
    // Each connect completes (the kernel does the handshake) although nobody called accept yet.
    std::vector<UniqueFd> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(connect_loopback(port, soon()));
    }
    for (const auto& client : clients) {
        CHECK(listener.accept().peer_endpoint() == raw_local_endpoint(client.get()));
    }
}

TEST_CASE("TcpListener accept waits on when signals interrupt it",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    const std::uint16_t port = raw_local_endpoint(listener.fd()).port;
    UniqueFd client;
    // accept is already waiting when the signals come; the client connects after 100 of them.
    SignalStorm storm(100, [&] { client = connect_loopback(port, soon()); });
    TcpStream accepted = listener.accept();
    storm.finish();
    CHECK(accepted.peer_endpoint() == raw_local_endpoint(client.get()));
}

TEST_CASE("TcpListener accept throws the errno when accept fails",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    // shutdown(2) on a listening socket ends its listening: accept then fails at once, with EINVAL.
    SOCKLAB_REQUIRE_SYSCALL(::shutdown(listener.fd(), SHUT_RD));
    REQUIRE_THROWS_MATCHES(listener.accept(), std::system_error, HasErrno(std::errc::invalid_argument));
}

TEST_CASE("TcpListener accept failure message names the listening endpoint",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    const std::string where = "127.0.0.1:" + std::to_string(raw_local_endpoint(listener.fd()).port);
    SOCKLAB_REQUIRE_SYSCALL(::shutdown(listener.fd(), SHUT_RD));
    REQUIRE_THROWS_MATCHES(listener.accept(), std::system_error, MessageContains({"accept", where}));
}

namespace {

// accept_for(timeout) with no client waiting must return nothing after about timeout; one that
// blocks in accept() instead fails the test within 2 s (shutdown(2) wakes it), not at CTest's
// timeout.
std::optional<TcpStream> accept_for_within(TcpListener& listener, milliseconds timeout) {
    return returns_within(
        "accept_for(" + std::to_string(timeout.count()) + " ms) with no client waiting",
        Deadline(milliseconds(2000)), [&] { ::shutdown(listener.fd(), SHUT_RD); },
        "does accept_for call accept() even when poll() said no client came in time?",
        [&] { return listener.accept_for(timeout); });
}

} // namespace

TEST_CASE("TcpListener accept_for gives up and returns nothing when no client comes",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    CHECK_FALSE(accept_for_within(listener, milliseconds(50)).has_value());
}

TEST_CASE("TcpListener accept_for returns a connection that is already waiting",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    UniqueFd client = connect_loopback(raw_local_endpoint(listener.fd()).port, soon());
    const auto accepted = listener.accept_for(milliseconds(2000));
    REQUIRE(accepted.has_value());
    CHECK(accepted->peer_endpoint() == raw_local_endpoint(client.get()));
}

TEST_CASE("TcpListener accept_for leaves a later connection queued for the next accept",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    REQUIRE_FALSE(accept_for_within(listener, milliseconds(10)).has_value());
    UniqueFd client = connect_loopback(raw_local_endpoint(listener.fd()).port, soon());
    CHECK(listener.accept().peer_endpoint() == raw_local_endpoint(client.get()));
}

TEST_CASE("TcpListener accept_for waits on for a client when signals interrupt poll",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    TcpListener listener(kAnyLoopbackPort);
    const std::uint16_t port = raw_local_endpoint(listener.fd()).port;
    UniqueFd client;
    // accept_for is already waiting when the signals come; the client connects after 100 of them,
    // long before the 5 seconds are up.
    SignalStorm storm(100, [&] { client = connect_loopback(port, soon()); });
    const auto accepted = listener.accept_for(milliseconds(5000));
    storm.finish();
    REQUIRE(accepted.has_value());
    CHECK(accepted->peer_endpoint() == raw_local_endpoint(client.get()));
}
