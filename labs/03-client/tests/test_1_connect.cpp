// Lab 03: connecting, with a deadline, to an endpoint, a list of endpoints, or a name
// (docs/labs/03-client.md, steps 1-4). Every failure is made to happen for real, on loopback.
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/check.hpp"
#include "socklab/tcp_client.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/child.hpp"
#include "socklab/testkit/endpoint_printing.hpp"
#include "socklab/testkit/process.hpp"
#include "socklab/testkit/stream_pair.hpp"
#include "socklab/testkit/wire.hpp"
#include "watched_connect.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

using socklab::Endpoint;
using socklab::Ipv4Address;
using socklab::TcpClient;
using socklab::TcpStream;
using namespace socklab::testkit;
using lab03::connect_where_refused;
using lab03::connect_within;
using lab03::kEndsAtItsDeadline;
using lab03::kRefusedAtOnce;

namespace {

Endpoint loopback(std::uint16_t port) {
    return Endpoint{Ipv4Address::loopback(), port};
}

// A port on 127.0.0.1 where nothing listens any more: it was bound a moment ago and closed.
std::uint16_t freed_port() {
    LoopbackListener listener;
    return listener.port();
}

std::string errno_name(const std::system_error& e) {
    const char* name = ::strerrorname_np(e.code().value());
    return name != nullptr ? name : std::to_string(e.code().value());
}

// Interrupts the thread that made it with SIGUSR1 every 10 ms, for at most two seconds, as a
// program's timers or a terminal's signals can: a poll(2) that thread waits in then fails with
// EINTR, whatever SA_RESTART says (poll is never restarted). The handler does nothing.
class SignalStorm {
public:
    SignalStorm() : target_(::pthread_self()) {
        struct sigaction action {};
        action.sa_handler = [](int) {};
        action.sa_flags = SA_RESTART; // the test's own calls go on; poll is interrupted all the same
        sigemptyset(&action.sa_mask);
        socklab::check(::sigaction(SIGUSR1, &action, &previous_), "sigaction SIGUSR1");
        thread_ = std::thread([this] {
            const Deadline storm(milliseconds(2000));
            std::unique_lock lock(mutex_);
            while (!stopped_ && !storm.expired()) {
                ::pthread_kill(target_, SIGUSR1);
                ++sent_;
                stop_.wait_for(lock, milliseconds(10), [this] { return stopped_; });
            }
        });
    }
    SignalStorm(const SignalStorm&) = delete;
    SignalStorm& operator=(const SignalStorm&) = delete;
    ~SignalStorm() {
        (void)stop();
        ::sigaction(SIGUSR1, &previous_, nullptr);
    }
    // Ends the storm; returns how many signals were sent.
    int stop() {
        {
            const std::lock_guard lock(mutex_);
            stopped_ = true;
        }
        stop_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
        return sent_;
    }

private:
    pthread_t target_;
    struct sigaction previous_ {};
    std::mutex mutex_;
    std::condition_variable stop_;
    bool stopped_ = false;
    int sent_ = 0;
    std::thread thread_;
};

} // namespace

// --- Step 1: connect to an endpoint -------------------------------------------------------------

TEST_CASE("TcpClient connects to a listening endpoint and the bytes flow both ways",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    LoopbackListener listener;
    TcpStream stream = TcpClient().connect(loopback(listener.port()));
    socklab::UniqueFd server = listener.accept(soon());
    stream.write_all("ping");
    CHECK_THAT(Bytes(recv_exactly(server.get(), 4, soon())), EqualsBytes("ping"));
    send_all(server.get(), "pong", soon());
    stream.shutdown_write();
    server.reset();
    std::string got;
    std::array<char, 16> buffer{};
    for (std::size_t n = 1; n != 0;) {
        n = stream.read_some(buffer);
        got.append(buffer.data(), n);
    }
    CHECK_THAT(Bytes(got), EqualsBytes("pong"));
}

TEST_CASE("TcpClient reports the server's endpoint as the stream's peer",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    LoopbackListener listener;
    TcpStream stream = TcpClient().connect(loopback(listener.port()));
    CHECK(stream.peer_endpoint() == loopback(listener.port()));
}

TEST_CASE("TcpClient stream's local endpoint is the one the server sees",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    LoopbackListener listener;
    TcpStream stream = TcpClient().connect(loopback(listener.port()));
    socklab::UniqueFd server = listener.accept(soon());
    CHECK(stream.local_endpoint() == raw_peer_endpoint(server.get()));
}

TEST_CASE("TcpClient returns a blocking close-on-exec socket",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    LoopbackListener listener;
    TcpStream stream = TcpClient().connect(loopback(listener.port()));
    INFO(describe_flags(stream.fd()));
    CHECK_FALSE(is_nonblocking(stream.fd()));
    CHECK(closes_on_exec(stream.fd()));
}

TEST_CASE("TcpClient closes its socket when the connection is refused",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    const Endpoint nowhere = loopback(freed_port());
    const std::size_t before = open_descriptor_count();
    // A refused connect ends at once; the first is watched, so that one that never ends fails here.
    REQUIRE_THROWS_MATCHES(connect_where_refused(TcpClient(), nowhere), std::system_error,
                           HasErrno(std::errc::connection_refused));
    for (int attempt = 1; attempt < 10; ++attempt) {
        CHECK_THROWS_AS(TcpClient().connect(nowhere), std::system_error);
    }
    const std::size_t after = open_descriptor_count();
    INFO("open descriptors before ten refused connects: " << before << ", after: " << after);
    CHECK(after == before);
}

TEST_CASE("TcpClient to a server that was never started is refused with ECONNREFUSED",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(connect_where_refused(TcpClient(), loopback(freed_port())), std::system_error,
                           HasErrno(std::errc::connection_refused));
}

TEST_CASE("TcpClient reports refused when the SYN it sent is answered by RST ACK",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    // On the wire (docs/reference/wire.md): where nothing listens, the kernel answers the SYN with
    // RST ACK at once. That is "refused", and nothing else: not a timeout, not a retry.
    const OnTheWire wire = run_on_the_wire([](WireNames& names) {
        const std::uint16_t port = freed_port();
        names.name(port, "nowhere");
        try {
            (void)TcpClient(std::chrono::milliseconds(1500)).connect(loopback(port));
            return std::string("connected");
        } catch (const std::system_error& e) {
            return std::string(e.code() == std::errc::connection_refused ? "refused" : "not refused: ") +
                   (e.code() == std::errc::connection_refused ? "" : e.what());
        }
    });
    if (!wire.ran) {
        SOCKLAB_SKIP("the wire cannot be captured here: " + wire.reason);
    }
    INFO("the wire:\n" << wire.timeline);
    CHECK(wire.segments() == std::vector<std::string>{"client -> nowhere SYN", "nowhere -> client RST ACK"});
    CHECK(wire.result == "refused");
}

TEST_CASE("TcpClient refused message names the endpoint and the likely causes",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    const Endpoint nowhere = loopback(freed_port());
    REQUIRE_THROWS_MATCHES(connect_where_refused(TcpClient(), nowhere), std::system_error,
                           MessageContains({"connect", nowhere.to_string(), "nothing listens there"}));
}

TEST_CASE("TcpClient to the right port at the wrong address is refused",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    // The server listens on 127.0.0.1 only; 127.0.0.2 is this host too (all of 127.0.0.0/8 is
    // loopback) but nothing listens on that address.
    LoopbackListener listener;
    REQUIRE_THROWS_MATCHES(
        connect_where_refused(TcpClient(), Endpoint{Ipv4Address(127, 0, 0, 2), listener.port()}),
        std::system_error, HasErrno(std::errc::connection_refused));
}

TEST_CASE("TcpClient to a port that was just freed is refused",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    std::uint16_t port = 0;
    {
        LoopbackListener listener;
        port = listener.port();
        TcpStream stream = TcpClient().connect(loopback(port));
    }
    REQUIRE_THROWS_MATCHES(connect_where_refused(TcpClient(), loopback(port)), std::system_error,
                           HasErrno(std::errc::connection_refused));
}

TEST_CASE("TcpClient to a network with no route fails at once with ENETUNREACH",
          "[docs/labs/03-client.md#step-1-connect-to-an-endpoint]") {
    // Inside a private network namespace there is no route anywhere, so the SYN is never sent.
    const ChildOutcome outcome = run_in_private_netns([] {
        try {
            (void)TcpClient(milliseconds(2000)).connect(Endpoint{Ipv4Address(192, 0, 2, 1), 80});
            return std::string("connected");
        } catch (const std::system_error& e) {
            return errno_name(e) + " " + e.what();
        }
    });
    if (!outcome.ran) {
        SOCKLAB_SKIP("no private network namespace can be made here, and outside one this test would send "
                     "packets off the machine: " +
                     outcome.reason);
    }
    CHECK_THAT(outcome.result, Catch::StartsWith("ENETUNREACH") && Catch::Contains("192.0.2.1:80"));
}

// --- Step 2: give up at a deadline --------------------------------------------------------------

TEST_CASE("TcpClient gives up with ETIMEDOUT when nothing answers",
          "[docs/labs/03-client.md#step-2-give-up-at-a-deadline]") {
    FullListener silent;
    REQUIRE_THROWS_MATCHES(
        connect_within("connect with a 200 ms timeout to a server that never answers", milliseconds(2000),
                       kEndsAtItsDeadline,
                       [&] { (void)TcpClient(milliseconds(200)).connect(loopback(silent.port())); }),
        std::system_error, HasErrno(std::errc::timed_out));
}

TEST_CASE("TcpClient timeout message names the endpoint and the likely causes",
          "[docs/labs/03-client.md#step-2-give-up-at-a-deadline]") {
    FullListener silent;
    const Endpoint target = loopback(silent.port());
    REQUIRE_THROWS_MATCHES(connect_within("connect with a 200 ms timeout to a server that never answers",
                                          milliseconds(2000), kEndsAtItsDeadline,
                                          [&] { (void)TcpClient(milliseconds(200)).connect(target); }),
                           std::system_error, MessageContains({target.to_string(), "firewall"}));
}

TEST_CASE("TcpClient honours its deadline within 100 ms",
          "[docs/labs/03-client.md#step-2-give-up-at-a-deadline]") {
    FullListener silent;
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(
        connect_within("connect with a 300 ms timeout to a server that never answers", milliseconds(2000),
                       kEndsAtItsDeadline,
                       [&] { (void)TcpClient(milliseconds(300)).connect(loopback(silent.port())); }),
        std::system_error);
    const auto waited = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    INFO("asked for 300 ms, waited " << waited.count() << " ms");
    CHECK(waited >= milliseconds(300));
    CHECK(waited < milliseconds(400));
}

TEST_CASE("TcpClient with a 1 ms timeout never gives up before the millisecond has passed",
          "[docs/labs/03-client.md#step-2-give-up-at-a-deadline]") {
    // A timeout rounded down to whole milliseconds makes poll wait 0 ms here, and the connect ends
    // at once. Rounded up, poll waits 1 ms and the connect ends after its deadline, every time. The
    // shortest of five tries is what counts: a loaded machine can only make a try longer.
    FullListener silent;
    auto shortest = std::chrono::nanoseconds::max();
    for (int attempt = 0; attempt < 5; ++attempt) {
        std::chrono::steady_clock::time_point start;
        CHECK_THROWS_AS(connect_within("connect with a 1 ms timeout to a server that never answers",
                                       milliseconds(2000), kEndsAtItsDeadline,
                                       [&] {
                                           start = std::chrono::steady_clock::now();
                                           (void)TcpClient(milliseconds(1)).connect(loopback(silent.port()));
                                       }),
                        std::system_error);
        shortest = std::min(shortest, std::chrono::steady_clock::now() - start);
    }
    INFO("asked for 1 ms, gave up after "
         << std::chrono::duration_cast<std::chrono::microseconds>(shortest).count()
         << " microseconds at the quickest of 5 tries: round the time left up to whole milliseconds "
            "(std::chrono::ceil), not down");
    CHECK(shortest >= milliseconds(1));
}

TEST_CASE("TcpClient waits on through signals and still gives up at its deadline",
          "[docs/labs/03-client.md#step-2-give-up-at-a-deadline]") {
    FullListener silent;
    int signals = 0;
    const auto start = std::chrono::steady_clock::now();
    // The storm is made on the thread that connects: its signals go to the thread that made it.
    REQUIRE_THROWS_MATCHES(
        connect_within("connect with a 300 ms timeout while signals interrupt it", milliseconds(3000),
                       kEndsAtItsDeadline,
                       [&] {
                           SignalStorm storm;
                           try {
                               (void)TcpClient(milliseconds(300)).connect(loopback(silent.port()));
                           } catch (...) {
                               signals = storm.stop();
                               throw;
                           }
                           signals = storm.stop();
                       }),
        std::system_error, HasErrno(std::errc::timed_out));
    const auto waited = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    INFO("asked for 300 ms while " << signals << " signals interrupted poll; waited " << waited.count()
                                   << " ms: is each poll given the time left until the deadline?");
    CHECK(waited < milliseconds(1000));
}

// --- Step 3: split host and port ----------------------------------------------------------------

TEST_CASE("split_host_port splits a name and a port", "[docs/labs/03-client.md#step-3-split-host-and-port]") {
    const auto target = socklab::split_host_port("localhost:8080");
    CHECK(target.host == "localhost");
    CHECK(target.port == 8080);
}

TEST_CASE("split_host_port keeps a dotted-decimal host as text",
          "[docs/labs/03-client.md#step-3-split-host-and-port]") {
    const auto target = socklab::split_host_port("127.0.0.1:7");
    CHECK(target.host == "127.0.0.1");
    CHECK(target.port == 7);
}

TEST_CASE("split_host_port rejects a missing port", "[docs/labs/03-client.md#step-3-split-host-and-port]") {
    REQUIRE_THROWS_MATCHES(socklab::split_host_port("localhost:"), std::invalid_argument,
                           MessageContains({"\"localhost:\"", "port"}));
}

TEST_CASE("split_host_port rejects a missing host", "[docs/labs/03-client.md#step-3-split-host-and-port]") {
    REQUIRE_THROWS_MATCHES(socklab::split_host_port(":80"), std::invalid_argument,
                           MessageContains({"\":80\"", "host"}));
}

TEST_CASE("split_host_port rejects a missing colon", "[docs/labs/03-client.md#step-3-split-host-and-port]") {
    REQUIRE_THROWS_MATCHES(socklab::split_host_port("localhost"), std::invalid_argument,
                           MessageContains({"\"localhost\"", "':'"}));
}

TEST_CASE("split_host_port rejects a second colon", "[docs/labs/03-client.md#step-3-split-host-and-port]") {
    REQUIRE_THROWS_MATCHES(socklab::split_host_port("a:b:80"), std::invalid_argument,
                           MessageContains({"\"a:b:80\""}));
}

TEST_CASE("split_host_port rejects port 65536", "[docs/labs/03-client.md#step-3-split-host-and-port]") {
    REQUIRE_THROWS_MATCHES(socklab::split_host_port("localhost:65536"), std::invalid_argument,
                           MessageContains({"\"localhost:65536\"", "65535"}));
}

// --- Step 4: try each address in turn -----------------------------------------------------------

TEST_CASE("TcpClient connect_any skips a candidate that refuses and connects to the next",
          "[docs/labs/03-client.md#step-4-try-each-address-in-turn]") {
    LoopbackListener listener;
    const std::vector<Endpoint> candidates{loopback(freed_port()), loopback(listener.port())};
    TcpStream stream = returns_within("connect_any to a refusing candidate, then a listening one",
                                      Deadline(milliseconds(2000)), shut_down_connecting_sockets,
                                      kRefusedAtOnce, [&] { return TcpClient().connect_any(candidates); });
    CHECK(stream.peer_endpoint() == loopback(listener.port()));
}

TEST_CASE("TcpClient connect_any throws the last error naming the last endpoint when all refuse",
          "[docs/labs/03-client.md#step-4-try-each-address-in-turn]") {
    const std::vector<Endpoint> candidates{loopback(freed_port()), loopback(freed_port())};
    REQUIRE_THROWS_MATCHES(connect_within("connect_any to two candidates where nothing listens",
                                          milliseconds(2000), kRefusedAtOnce,
                                          [&] { (void)TcpClient().connect_any(candidates); }),
                           std::system_error, MessageContains({candidates[1].to_string(), "[ECONNREFUSED]"}));
}

TEST_CASE("TcpClient connect_any rejects an empty list",
          "[docs/labs/03-client.md#step-4-try-each-address-in-turn]") {
    REQUIRE_THROWS_AS(TcpClient().connect_any({}), std::invalid_argument);
}

TEST_CASE("TcpClient connect_any keeps one deadline for all candidates",
          "[docs/labs/03-client.md#step-4-try-each-address-in-turn]") {
    FullListener silent_a;
    FullListener silent_b;
    const std::vector<Endpoint> candidates{loopback(silent_a.port()), loopback(silent_b.port())};
    const auto start = std::chrono::steady_clock::now();
    REQUIRE_THROWS_MATCHES(
        connect_within("connect_any with a 300 ms timeout to two servers that never answer",
                       milliseconds(2000), kEndsAtItsDeadline,
                       [&] { (void)TcpClient(milliseconds(300)).connect_any(candidates); }),
        std::system_error, HasErrno(std::errc::timed_out));
    const auto waited = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    INFO("two silent candidates and a 300 ms budget; waited " << waited.count() << " ms");
    CHECK(waited < milliseconds(550));
}

TEST_CASE("TcpClient connects to localhost by name",
          "[docs/labs/03-client.md#step-4-try-each-address-in-turn]") {
    LoopbackListener listener;
    TcpStream stream = TcpClient().connect("localhost:" + std::to_string(listener.port()));
    CHECK(stream.peer_endpoint() == loopback(listener.port()));
}

TEST_CASE("TcpClient connects to a dotted-decimal host",
          "[docs/labs/03-client.md#step-4-try-each-address-in-turn]") {
    LoopbackListener listener;
    TcpStream stream = TcpClient().connect("127.0.0.1:" + std::to_string(listener.port()));
    CHECK(stream.peer_endpoint() == loopback(listener.port()));
}

TEST_CASE("TcpClient rejects a malformed HOST:PORT before any lookup",
          "[docs/labs/03-client.md#step-4-try-each-address-in-turn]") {
    REQUIRE_THROWS_MATCHES(TcpClient().connect(std::string_view("localhost:http")), std::invalid_argument,
                           MessageContains({"\"localhost:http\""}));
    // With a name that cannot be looked up, a lookup before the check would fail first, with a
    // resolver error instead of the malformed endpoint. Only in a private network namespace: no
    // name but localhost is looked up where a query could leave the machine.
    const ChildOutcome outcome = run_in_private_netns([] {
        try {
            (void)TcpClient().connect(std::string_view("socklab-no-such-host.invalid:http"));
            return std::string("connected");
        } catch (const std::invalid_argument& e) {
            return std::string("invalid_argument: ") + e.what();
        } catch (const std::exception& e) {
            return std::string("another error than invalid_argument: ") + e.what();
        }
    });
    if (!outcome.ran) {
        SOCKLAB_SKIP("no private network namespace can be made here, so no name but localhost may be "
                     "looked up: " +
                     outcome.reason);
    }
    CHECK_THAT(outcome.result, Catch::StartsWith("invalid_argument: ") &&
                                   Catch::Contains("\"socklab-no-such-host.invalid:http\""));
}

TEST_CASE("TcpClient reports a name that cannot be resolved as a resolver error naming it",
          "[docs/labs/03-client.md#step-4-try-each-address-in-turn]") {
    const ChildOutcome outcome = run_in_private_netns([] {
        try {
            (void)TcpClient().connect(std::string_view("socklab-no-such-host.invalid:80"));
            return std::string("connected");
        } catch (const std::system_error& e) {
            return std::string(e.code().category().name()) + " " + e.what();
        }
    });
    if (!outcome.ran) {
        SOCKLAB_SKIP("no private network namespace can be made here, so no name but localhost may be "
                     "resolved: " +
                     outcome.reason);
    }
    CHECK_THAT(outcome.result,
               Catch::StartsWith("resolver") && Catch::Contains("\"socklab-no-such-host.invalid\""));
}
