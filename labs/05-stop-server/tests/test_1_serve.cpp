// Lab 05: serving many clients at once (docs/labs/05-stop-server.md, step 1).
#include "socklab/line_server.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/endpoint_printing.hpp"
#include "socklab/testkit/loopback.hpp"

#include <sys/socket.h>

#include <string>
#include <vector>

using socklab::Endpoint;
using socklab::Ipv4Address;
using socklab::LineServer;
using socklab::UniqueFd;
using namespace socklab::testkit;

namespace {

Deadline soon() {
    return Deadline(milliseconds(3000));
}

const Endpoint kAnyLoopbackPort{Ipv4Address::loopback(), 0};

std::uint16_t port_of(const LineServer& server) {
    return server.local_endpoint().port;
}

std::string ask(int fd, const std::string& request, std::size_t reply_bytes) {
    send_all(fd, request, soon());
    return recv_exactly(fd, reply_bytes, soon());
}

} // namespace

// --- Step 1: serve many clients at once ---------------------------------------------------------

TEST_CASE("LineServer reports the real port it listens on",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort);
    CHECK(server.local_endpoint().address == Ipv4Address::loopback());
    CHECK(server.local_endpoint().port != 0);
}

TEST_CASE("LineServer answers a client with the lab 04 protocol",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort);
    server.start();
    UniqueFd client = connect_loopback(port_of(server), soon());
    CHECK(Bytes(ask(client.get(), "UPPER abc\r\nLEN xyz\n", 6)) == Bytes("ABC\n3\n"));
}

TEST_CASE("LineServer serves a second client while the first stays connected",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort);
    server.start();
    UniqueFd first = connect_loopback(port_of(server), soon());
    CHECK(Bytes(ask(first.get(), "ECHO 1\n", 2)) == Bytes("1\n"));
    UniqueFd second = connect_loopback(port_of(server), soon());
    CHECK(Bytes(ask(second.get(), "ECHO 2\n", 2)) == Bytes("2\n"));
}

TEST_CASE("LineServer serves 50 clients at once each with its own answers",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort);
    server.start();
    std::vector<UniqueFd> clients;
    for (int i = 0; i < 50; ++i) {
        clients.push_back(connect_loopback(port_of(server), soon()));
        send_all(clients.back().get(), "ECHO client " + std::to_string(i) + "\n", soon());
    }
    for (int i = 0; i < 50; ++i) {
        const std::string expected = "client " + std::to_string(i) + "\n";
        CHECK(Bytes(recv_exactly(clients[static_cast<std::size_t>(i)].get(), expected.size(), soon())) ==
              Bytes(expected));
    }
}

TEST_CASE("LineServer counts the clients it is serving",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort);
    server.start();
    UniqueFd a = connect_loopback(port_of(server), soon());
    UniqueFd b = connect_loopback(port_of(server), soon());
    wait_until([&] { return server.active_clients() == 2; }, soon(), "active_clients() to be 2");
    a.reset();
    wait_until([&] { return server.active_clients() == 1; }, soon(),
               "active_clients() to drop to 1 after a client closed");
}

TEST_CASE("LineServer closes only the client that sent QUIT",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort);
    server.start();
    UniqueFd leaving = connect_loopback(port_of(server), soon());
    UniqueFd staying = connect_loopback(port_of(server), soon());
    send_all(leaving.get(), "QUIT\n", soon());
    CHECK(Bytes(recv_until_eof(leaving.get(), soon())) == Bytes("BYE\n"));
    CHECK(Bytes(ask(staying.get(), "ECHO still here\n", 11)) == Bytes("still here\n"));
}

TEST_CASE("LineServer closes a client whose line is too long and serves the others",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort, 16);
    server.start();
    UniqueFd rude = connect_loopback(port_of(server), soon());
    UniqueFd polite = connect_loopback(port_of(server), soon());
    send_all(rude.get(), std::string(40, 'x') + "\n", soon());
    CHECK(Bytes(recv_until_eof(rude.get(), soon())) == Bytes("ERR line too long\n"));
    CHECK(Bytes(ask(polite.get(), "ECHO ok\n", 3)) == Bytes("ok\n"));
}

TEST_CASE("LineServer goes on serving after a client resets its connection",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort);
    server.start();
    UniqueFd crashing = connect_loopback(port_of(server), soon());
    send_all(crashing.get(), "ECHO half", soon());
    close_with_reset(std::move(crashing));
    UniqueFd next = connect_loopback(port_of(server), soon());
    CHECK(Bytes(ask(next.get(), "ECHO next\n", 5)) == Bytes("next\n"));
}

TEST_CASE("LineServer answers a client's requests in order however they are split",
          "[docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once]") {
    LineServer server(kAnyLoopbackPort);
    server.start();
    UniqueFd client = connect_loopback(port_of(server), soon());
    send_in_random_pieces(client.get(), "ECHO a\r\nREVERSE bc\nLEN def\n", 5, 3, soon());
    CHECK(Bytes(recv_exactly(client.get(), 7, soon())) == Bytes("a\ncb\n3\n"));
}
