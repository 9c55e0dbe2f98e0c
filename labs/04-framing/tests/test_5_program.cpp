// Lab 04: the program lab04-server, talked to over loopback as nc, socat or telnet would.
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/process.hpp"

#include <sys/socket.h>

#include <string>
#include <vector>

using namespace socklab::testkit;

namespace {

struct LineServer {
    ChildProcess process;
    std::uint16_t port;
    explicit LineServer(const std::vector<std::string>& args = {})
        : process(program_path("lab04-server"), args), port(read_listening_port(process, soon())) {}
};

// Sends requests, half-closes, and returns everything the server sent until it closed.
std::string converse(std::uint16_t port, const std::string& requests) {
    socklab::UniqueFd client = connect_loopback(port, soon());
    BackgroundReader reader(client.get(), BackgroundReader::kUntilEof, soon());
    send_all(client.get(), requests, soon());
    ::shutdown(client.get(), SHUT_WR);
    return reader.finish();
}

} // namespace

TEST_CASE("lab04-server answers the three requests of the handout",
          "[docs/labs/04-framing.md#try-it-by-hand]") {
    LineServer server;
    CHECK_THAT(Bytes(converse(server.port, "UPPER a\r\nREVERSE abc\nLEN xyz\n")), EqualsBytes("A\ncba\n3\n"));
}

TEST_CASE("lab04-server rejects a 70000-byte line and closes the connection",
          "[docs/labs/04-framing.md#try-it-by-hand]") {
    LineServer server;
    CHECK_THAT(Bytes(converse(server.port, "ECHO " + std::string(70000, 'x') + "\n")),
               EqualsBytes("ERR line too long\n"));
}

TEST_CASE("lab04-server takes its line limit from --max-line", "[docs/labs/04-framing.md#try-it-by-hand]") {
    LineServer server({"--max-line", "10"});
    CHECK_THAT(Bytes(converse(server.port, "ECHO 12345\nECHO 123456\n")),
               EqualsBytes("12345\nERR line too long\n"));
}

TEST_CASE("lab04-server says BYE to QUIT and serves the next client",
          "[docs/labs/04-framing.md#try-it-by-hand]") {
    LineServer server;
    CHECK_THAT(Bytes(converse(server.port, "QUIT\nECHO never\n")), EqualsBytes("BYE\n"));
    CHECK_THAT(Bytes(converse(server.port, "ECHO second\n")), EqualsBytes("second\n"));
}

TEST_CASE("lab04-server answers requests sent in random pieces for 10 seeds",
          "[docs/labs/04-framing.md#try-it-by-hand]") {
    LineServer server;
    const std::string requests = "ECHO one\r\nUPPER two\nREVERSE three\nLEN four\n\nNOPE five\n";
    const std::string replies = "one\nTWO\neerht\n4\nERR empty request\nERR unknown command: NOPE\n";
    for (unsigned seed = 1; seed <= 10; ++seed) {
        INFO("seed " << seed);
        socklab::UniqueFd client = connect_loopback(server.port, soon());
        BackgroundReader reader(client.get(), BackgroundReader::kUntilEof, soon());
        send_in_random_pieces(client.get(), requests, seed, 7, soon());
        ::shutdown(client.get(), SHUT_WR);
        REQUIRE_THAT(Bytes(reader.finish()), EqualsBytes(replies));
    }
}

TEST_CASE("lab04-server answers 1000 pipelined requests in order",
          "[docs/labs/04-framing.md#try-it-by-hand]") {
    LineServer server;
    std::string requests;
    std::string replies;
    for (int i = 0; i < 1000; ++i) {
        requests += "ECHO " + std::to_string(i) + "\n";
        replies += std::to_string(i) + "\n";
    }
    CHECK_THAT(Bytes(converse(server.port, requests)), EqualsBytes(replies));
}
