// Lab 05: serving many clients at once (docs/labs/05-stop-server.md, step 1).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "server_under_test.hpp"
#include "socklab/line_server.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/endpoint_printing.hpp"
#include "socklab/testkit/loopback.hpp"

#include <sys/socket.h>

#include <string>
#include <vector>

using namespace socklab::testkit;
using namespace lab05;

namespace {

std::string ask(int fd, const std::string& request, std::size_t reply_bytes) {
    send_all(fd, request, soon());
    return recv_exactly(fd, reply_bytes, soon());
}

} // namespace

// --- Step 1: serve many clients at once ---------------------------------------------------------

TEST_CASE("LineServer reports the real port it listens on",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    CHECK(server->local_endpoint().address == Ipv4Address::loopback());
    CHECK(server->local_endpoint().port != 0);
}

TEST_CASE("LineServer answers a client with the lab 04 protocol",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    UniqueFd client = connect_loopback(server.port(), soon());
    CHECK_THAT(Bytes(ask(client.get(), "UPPER abc\r\nLEN xyz\n", 6)), EqualsBytes("ABC\n3\n"));
}

TEST_CASE("LineServer serves a second client while the first stays connected",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    UniqueFd first = connect_loopback(server.port(), soon());
    CHECK_THAT(Bytes(ask(first.get(), "ECHO 1\n", 2)), EqualsBytes("1\n"));
    UniqueFd second = connect_loopback(server.port(), soon());
    CHECK_THAT(Bytes(ask(second.get(), "ECHO 2\n", 2)), EqualsBytes("2\n"));
}

TEST_CASE("LineServer serves 50 clients at once each with its own answers",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    std::vector<UniqueFd> clients;
    for (int i = 0; i < 50; ++i) {
        clients.push_back(connect_loopback(server.port(), soon()));
        send_all(clients.back().get(), "ECHO client " + std::to_string(i) + "\n", soon());
    }
    for (int i = 0; i < 50; ++i) {
        const std::string expected = "client " + std::to_string(i) + "\n";
        REQUIRE_THAT(Bytes(recv_exactly(clients[static_cast<std::size_t>(i)].get(), expected.size(), soon())),
                     EqualsBytes(expected));
    }
}

TEST_CASE("LineServer counts the clients it is serving",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    UniqueFd a = connect_loopback(server.port(), soon());
    UniqueFd b = connect_loopback(server.port(), soon());
    wait_until([&] { return server->active_clients() == 2; }, soon(), "active_clients() to be 2");
    a.reset();
    wait_until([&] { return server->active_clients() == 1; }, soon(),
               "active_clients() to drop to 1 after a client closed");
}

TEST_CASE("LineServer closes only the client that sent QUIT",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    UniqueFd leaving = connect_loopback(server.port(), soon());
    UniqueFd staying = connect_loopback(server.port(), soon());
    send_all(leaving.get(), "QUIT\n", soon());
    CHECK_THAT(Bytes(recv_until_eof(leaving.get(), soon())), EqualsBytes("BYE\n"));
    CHECK_THAT(Bytes(ask(staying.get(), "ECHO still here\n", 11)), EqualsBytes("still here\n"));
}

TEST_CASE("LineServer closes a client whose line is too long and serves the others",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server(16);
    server->start();
    UniqueFd rude = connect_loopback(server.port(), soon());
    UniqueFd polite = connect_loopback(server.port(), soon());
    send_all(rude.get(), std::string(40, 'x') + "\n", soon());
    CHECK_THAT(Bytes(recv_until_eof(rude.get(), soon())), EqualsBytes("ERR line too long\n"));
    CHECK_THAT(Bytes(ask(polite.get(), "ECHO ok\n", 3)), EqualsBytes("ok\n"));
}

TEST_CASE("LineServer goes on serving after a client resets its connection",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    UniqueFd crashing = connect_loopback(server.port(), soon());
    send_all(crashing.get(), "ECHO half", soon());
    close_with_reset(std::move(crashing));
    UniqueFd next = connect_loopback(server.port(), soon());
    CHECK_THAT(Bytes(ask(next.get(), "ECHO next\n", 5)), EqualsBytes("next\n"));
}

TEST_CASE("LineServer answers a client's requests in order however they are split",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    UniqueFd client = connect_loopback(server.port(), soon());
    send_in_random_pieces(client.get(), "ECHO a\r\nREVERSE bc\nLEN def\n", 5, 3, soon());
    CHECK_THAT(Bytes(recv_exactly(client.get(), 7, soon())), EqualsBytes("a\ncb\n3\n"));
}

TEST_CASE("LineServer joins the threads of clients that left while it goes on serving",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    constexpr int kClients = 32;
    const auto come_and_go = [&] {
        for (int i = 0; i < kClients; ++i) {
            UniqueFd client = connect_loopback(server.port(), soon());
            send_all(client.get(), "QUIT\n", soon());
            (void)recv_until_eof(client.get(), soon());
        }
        wait_until([&] { return server->active_clients() == 0; }, soon(),
                   "every client that quit to be finished");
    };
    come_and_go(); // the first round sets up what later threads reuse (stacks, malloc's arenas)
    const std::size_t before = address_space_bytes();
    come_and_go();
    UniqueFd last = connect_loopback(server.port(), soon()); // a new client: the moment to forget
    CHECK_THAT(Bytes(ask(last.get(), "ECHO still here\n", 11)), EqualsBytes("still here\n"));
    const std::size_t grown = address_space_bytes() - std::min(before, address_space_bytes());
    INFO("a thread that ended and was never joined keeps its stack ("
         << thread_stack_bytes() / 1024 << " KiB); the address space grew by " << grown / 1024 << " KiB over "
         << kClients << " clients");
    CHECK(grown < kClients * thread_stack_bytes() / 2);
}

TEST_CASE("LineServer answers a client that half-closes and ends without a BYE",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    ServerUnderTest server;
    server->start();
    UniqueFd client = connect_loopback(server.port(), soon());
    send_all(client.get(), "ECHO last words\n", soon());
    SOCKLAB_REQUIRE_SYSCALL(::shutdown(client.get(), SHUT_WR)); // the client is done sending: read gives 0
    INFO("\"BYE server stopping\" is for clients the stop ends, not for one that left on its own");
    CHECK_THAT(Bytes(recv_until_eof(client.get(), soon())), EqualsBytes("last words\n"));
}
