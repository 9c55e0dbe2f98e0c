// Lab 05: stopping gracefully (docs/labs/05-stop-server.md, steps 2-4): stop accepting, wake
// every blocked thread, answer what is owed and say BYE, join and close everything.
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "server_under_test.hpp"
#include "socklab/line_server.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/endpoint_printing.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/process.hpp"
#include "socklab/testkit/wire.hpp"

#include <sys/socket.h>

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace socklab::testkit;
using namespace lab05;

namespace {

constexpr const char* kBye = "BYE server stopping\n";

// Connects n clients and waits until the server serves them all.
std::vector<UniqueFd> connect_clients(ServerUnderTest& server, int n) {
    std::vector<UniqueFd> clients;
    for (int i = 0; i < n; ++i) {
        clients.push_back(connect_loopback(server.port(), soon()));
    }
    wait_until([&] { return server->active_clients() == static_cast<std::size_t>(n); }, soon(),
               "the server to serve every client connected");
    return clients;
}

// The number of threads of this process, after letting a sanitizer runtime start the helper
// thread it starts on first use (ThreadSanitizer does), so that only the server's threads count.
std::size_t threads_before_the_server() {
    std::thread([] {}).join();
    return thread_count();
}

} // namespace

// --- Step 2: stop accepting ---------------------------------------------------------------------

TEST_CASE("LineServer stop with no client returns", "[docs/labs/05-stop-server.md#step-2-stop-accepting]") {
    ServerUnderTest server;
    server->start();
    wait_until_accepting(server.port()); // a stop before it would not show how accept is woken
    CHECK(server.stop() < milliseconds(1000));
}

TEST_CASE("LineServer refuses new connections after stop",
          "[docs/labs/05-stop-server.md#step-2-stop-accepting]") {
    ServerUnderTest server;
    server->start();
    const std::uint16_t port = server.port();
    server.stop();
    REQUIRE_THROWS_MATCHES(connect_loopback(port, soon()), std::system_error,
                           HasErrno(std::errc::connection_refused));
}

TEST_CASE("LineServer frees its port at stop so a new server can bind it at once",
          "[docs/labs/05-stop-server.md#step-2-stop-accepting]") {
    std::uint16_t port = 0;
    {
        ServerUnderTest server;
        server->start();
        port = server.port();
        UniqueFd client = connect_loopback(port, soon());
        send_all(client.get(), "ECHO x\n", soon());
        (void)recv_exactly(client.get(), 2, soon());
        server.stop();
        (void)recv_until_eof(client.get(), soon());
    }
    ServerUnderTest again(Endpoint{Ipv4Address::loopback(), port});
    CHECK(again.port() == port);
}

TEST_CASE("LineServer stop before start returns", "[docs/labs/05-stop-server.md#step-2-stop-accepting]") {
    ServerUnderTest server;
    CHECK(server.stop() < milliseconds(1000));
}

// --- Step 3: wake every client and say BYE ------------------------------------------------------

TEST_CASE("LineServer stop says BYE to an idle client and closes it",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 1);
    server.stop();
    CHECK_THAT(Bytes(recv_until_eof(clients[0].get(), soon())), EqualsBytes(kBye));
}

TEST_CASE("LineServer stop says BYE to each of 100 idle clients within one second",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 100);
    CHECK(server.stop() < milliseconds(1000));
    for (const auto& client : clients) {
        REQUIRE_THAT(Bytes(recv_until_eof(client.get(), soon())), EqualsBytes(kBye));
    }
}

TEST_CASE("LineServer stop drops the partial line of a client stuck mid-line and says BYE",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 1);
    send_all(clients[0].get(), "ECHO never fini", soon());
    CHECK(server.stop() < milliseconds(1000));
    CHECK_THAT(Bytes(recv_until_eof(clients[0].get(), soon())), EqualsBytes(kBye));
}

TEST_CASE("LineServer stop answers requests received before it then says BYE",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 1);
    send_all(clients[0].get(), "ECHO one\nECHO two\nECHO thr", soon());
    wait_until_delivered(clients[0].get(), soon()); // received, if not yet read
    server.stop();
    CHECK_THAT(Bytes(recv_until_eof(clients[0].get(), soon())),
               EqualsBytes(std::string("one\ntwo\n") + kBye));
}

TEST_CASE("LineServer stop answers the requests a busy client's thread had not read yet",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    // The thread is blocked sending a long echo to a client that reads nothing yet; two more
    // requests wait in its receive buffer, unread, when the stop begins.
    const std::string echoed(20000, 'x');
    SlowReader busy = owed_a_long_echo(server.port(), echoed);
    send_all(busy.client.get(), "ECHO one\nECHO two\n", soon());
    socklab::testkit::wait_until([&] { return bytes_unacknowledged(busy.client.get()) == 0; }, soon(),
                                 "the two requests to reach the server's receive buffer");
    auto stopping = std::async(std::launch::async, [&] { return server.stop(); });
    // Once the listener is gone, the stop has begun: only then does the client read, which lets
    // the thread finish its send and read the two requests, during the stop.
    socklab::testkit::wait_until([&] { return !listening_on(server.port()); }, soon(),
                                 "the stop to close the listening socket");
    INFO("requests that arrived in full before the stop are answered before the goodbye, even when "
         "the thread reads them only after the stop began");
    CHECK_THAT(Bytes(recv_until_eof(busy.client.get(), soon())), EqualsBytes(echoed + "\none\ntwo\n" + kBye));
    (void)stopping.get();
}

TEST_CASE("LineServer stop loses none of the responses in flight",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 1);
    std::string requests;
    std::string replies;
    for (int i = 0; i < 20000; ++i) {
        requests += "ECHO " + std::to_string(i) + "\n";
        replies += std::to_string(i) + "\n";
    }
    BackgroundReader reader(clients[0].get(), BackgroundReader::kUntilEof, soon());
    send_all(clients[0].get(), requests, soon());
    wait_until_delivered(clients[0].get(), soon()); // every request received, many not yet answered
    server.stop();
    CHECK_THAT(Bytes(reader.finish()), EqualsBytes(replies + kBye));
}

TEST_CASE("LineServer stop closes in order so the client reads EOF and not a reset",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 1);
    server.stop();
    REQUIRE_THAT(Bytes(recv_exactly(clients[0].get(), std::string(kBye).size(), soon())), EqualsBytes(kBye));
    // Nothing more, then EOF: recv_until_eof throws on a reset (ECONNRESET) and at its deadline.
    CHECK_THAT(Bytes(recv_until_eof(clients[0].get(), soon())), EqualsBytes(""));
}

TEST_CASE("LineServer ends a connection with FIN and no RST even when the client sent more after QUIT",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    // On the wire (docs/reference/wire.md): an orderly close is a FIN. A socket closed with bytes
    // it never read sends RST instead, and the client may lose the replies still in flight.
    const OnTheWire wire = run_on_the_wire(
        [](WireNames& names) {
            ServerUnderTest server;
            names.name(server.port(), "server");
            server->start();
            const std::string echoed(30000, 'x');
            SlowReader slow = owed_a_long_echo(server.port(), echoed, "QUIT\n");
            send_all(slow.client.get(), "ECHO sent after QUIT\n", soon());
            socklab::testkit::wait_until([&] { return bytes_unacknowledged(slow.client.get()) == 0; }, soon(),
                                         "the bytes sent after QUIT to reach the server's receive buffer");
            try {
                const std::string got = recv_until_eof(slow.client.get(), soon());
                return std::string(got == echoed + "\nBYE\n" ? "the echo, BYE, then EOF" : "other bytes");
            } catch (const std::exception& e) {
                return std::string("the client's read failed: ") + e.what();
            }
        },
        milliseconds(8000));
    if (!wire.ran) {
        SOCKLAB_SKIP("the wire cannot be captured here: " + wire.reason);
    }
    INFO("the wire:\n" << wire.timeline);
    const std::vector<std::string> segments = wire.segments();
    CHECK(std::any_of(segments.begin(), segments.end(),
                      [](const std::string& s) { return s.rfind("server -> client FIN", 0) == 0; }));
    CHECK(wire.with_flag("RST") == 0);
    CHECK(wire.result == "the echo, BYE, then EOF");
}

TEST_CASE("LineServer stop cuts off a client that never reads within one second",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    // Returns once the server's thread is blocked in send to it: only a cut-off ends that send.
    const UniqueFd client = client_that_never_reads(server.port());
    INFO("a stop that waits for every client with no grace period never returns here; the test "
         "shut the server's socket for the client down itself to end the wait");
    CHECK(stop_unblocking(server, client.get()) < milliseconds(1000));
}

TEST_CASE(
    "LineServer reads what a client sent after QUIT before it closes so the client reads EOF and not a reset",
    "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    const std::string echoed(30000, 'x');
    // One send: the server reads both lines at once, answers them, and blocks in send, since the
    // client reads nothing yet. After QUIT it reads no more.
    SlowReader slow = owed_a_long_echo(server.port(), echoed, "QUIT\n");
    const bool quit_was_read = bytes_unread(slow.server) == 0;
    // Bytes the server will never read: they wait in its receive buffer until it closes.
    send_all(slow.client.get(), "ECHO sent after QUIT\n", soon());
    socklab::testkit::wait_until([&] { return bytes_unacknowledged(slow.client.get()) == 0; }, soon(),
                                 "the bytes sent after QUIT to reach the server's receive buffer");
    INFO("the server read QUIT in the same read as the ECHO before it: " << (quit_was_read ? "yes" : "no"));
    INFO("a socket closed with bytes it never read makes its kernel send a reset: the client's recv "
         "fails with ECONNRESET, and replies not yet delivered are lost; read what is left before the close");
    CHECK_THAT(Bytes(recv_until_eof(slow.client.get(), soon())), EqualsBytes(echoed + "\nBYE\n"));
}

TEST_CASE("LineServer stop goes on waiting for a busy client after an idle one is done",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    UniqueFd idle = connect_loopback(server.port(), soon());
    send_all(idle.get(), "ECHO here\n", soon());
    REQUIRE_THAT(Bytes(recv_exactly(idle.get(), 5, soon())), EqualsBytes("here\n"));
    // The busy client's thread owes it a long echo and is blocked sending it: the client reads
    // nothing until the test says so, and only then can that thread finish.
    const std::string echoed(20000, 'x');
    SlowReader busy = owed_a_long_echo(server.port(), echoed);
    auto stopping = std::async(std::launch::async, [&] { return server.stop(); });
    // The idle client's thread is done at once, and notifies the condition variable.
    CHECK_THAT(Bytes(recv_until_eof(idle.get(), soon())), EqualsBytes(kBye));
    // A stop that waits without a predicate wakes at that notification, finds the busy client
    // not done, and cuts it off, well within 100 ms. A right stop cannot return before the busy
    // client has read its reply: it waits on.
    const bool returned = stopping.wait_for(milliseconds(100)) == std::future_status::ready;
    INFO("stop() returned while a client's thread was still sending it a reply, long before the grace "
         "period ended: does it wait on the condition variable with a predicate that checks every client?");
    CHECK_FALSE(returned);
    CHECK_THAT(Bytes(recv_until_eof(busy.client.get(), soon())), EqualsBytes(echoed + "\n" + kBye));
    (void)stopping.get();
}

TEST_CASE("LineServer stop does not wait out the grace period when every client is done at once",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 1);
    INFO("an idle client is done a moment after the stop wakes it: wait on the condition variable, "
         "not for a fixed time");
    CHECK(server.stop() < LineServer::kStopGrace);
}

TEST_CASE("LineServer stop returns within one second with idle and mid-line clients together",
          "[docs/labs/05-stop-server.md#step-3-wake-every-client-and-say-bye]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 30);
    for (std::size_t i = 0; i < clients.size(); i += 3) {
        send_all(clients[i].get(), "UPPER half a li", soon());
    }
    CHECK(server.stop() < milliseconds(1000));
}

// --- Step 4: join every thread ------------------------------------------------------------------

TEST_CASE("LineServer stop can be called twice", "[docs/labs/05-stop-server.md#step-4-join-every-thread]") {
    ServerUnderTest server;
    server->start();
    server.stop();
    CHECK(server.stop() < milliseconds(1000));
}

TEST_CASE("LineServer stop can be called from two threads at once",
          "[docs/labs/05-stop-server.md#step-4-join-every-thread]") {
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 10);
    {
        std::jthread first([&] { server.stop(); });
        std::jthread second([&] { server.stop(); });
    }
    for (const auto& client : clients) {
        REQUIRE_THAT(Bytes(recv_until_eof(client.get(), soon())), EqualsBytes(kBye));
    }
}

TEST_CASE("LineServer stop called while another stop runs returns only once the server has stopped",
          "[docs/labs/05-stop-server.md#step-4-join-every-thread]") {
    ServerUnderTest server;
    server->start();
    // Keeps the first stop busy for its grace period.
    const UniqueFd stuck = client_that_never_reads(server.port());
    std::jthread first([&] { (void)stop_unblocking(server, stuck.get()); });
    wait_until([&] { return !listening_on(server.port()); }, soon(),
               "the first stop() to shut the listener down");
    (void)server.stop();
    INFO("the second stop() returned while the first still waited for a client: an atomic flag where "
         "the stop mutex belongs?");
    CHECK(server->active_clients() == 0);
}

TEST_CASE("LineServer destructor stops the server without a call to stop",
          "[docs/labs/05-stop-server.md#step-4-join-every-thread]") {
    std::vector<UniqueFd> clients;
    {
        ServerUnderTest server;
        server->start();
        clients = connect_clients(server, 3);
    }
    for (const auto& client : clients) {
        REQUIRE_THAT(Bytes(recv_until_eof(client.get(), soon())), EqualsBytes(kBye));
    }
}

TEST_CASE("LineServer leaves no descriptor open after stop",
          "[docs/labs/05-stop-server.md#step-4-join-every-thread]") {
    const std::size_t before = open_descriptor_count();
    ServerUnderTest server;
    server->start();
    {
        auto clients = connect_clients(server, 20);
        send_all(clients[0].get(), "ECHO a\nQUIT\n", soon());
        (void)server.stop();
    }
    INFO("counted after stop() and before the server is destroyed: stop() closes the listener");
    CHECK(open_descriptor_count() == before);
}

TEST_CASE("LineServer leaves no thread running after stop",
          "[docs/labs/05-stop-server.md#step-4-join-every-thread]") {
    const std::size_t before = threads_before_the_server();
    ServerUnderTest server;
    server->start();
    auto clients = connect_clients(server, 20);
    REQUIRE(thread_count() > before);
    server.stop();
    CHECK(thread_count() == before);
}

TEST_CASE("LineServer joins the threads of clients that left before the stop",
          "[docs/labs/05-stop-server.md#step-4-join-every-thread]") {
    const std::size_t before = threads_before_the_server();
    ServerUnderTest server;
    server->start();
    for (int i = 0; i < 20; ++i) {
        UniqueFd client = connect_loopback(server.port(), soon());
        send_all(client.get(), "QUIT\n", soon());
        (void)recv_until_eof(client.get(), soon());
    }
    wait_until([&] { return server->active_clients() == 0; }, soon(),
               "every client that quit to be finished");
    server.stop();
    CHECK(thread_count() == before);
}
