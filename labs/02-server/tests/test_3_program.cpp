// Lab 02: the program lab02-server, an iterative echo server, talked to over loopback.
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <string>

using namespace socklab::testkit;

namespace {

// lab02-server with args, started, and the port from its first line.
struct EchoServer {
    ChildProcess process;
    std::uint16_t port;
    explicit EchoServer(const std::vector<std::string>& args = {})
        : process(program_path("lab02-server"), args), port(read_listening_port(process, soon())) {}
};

// Sends bytes and half-closes while another thread reads everything back until EOF.
std::string echo_through(std::uint16_t port, const std::string& bytes) {
    socklab::UniqueFd client = connect_loopback(port, soon());
    BackgroundReader reader(client.get(), BackgroundReader::kUntilEof, Deadline(milliseconds(10000)));
    send_all(client.get(), bytes, Deadline(milliseconds(10000)));
    ::shutdown(client.get(), SHUT_WR);
    return reader.finish();
}

// True when fd has bytes to read (or EOF) within the given time.
bool readable_within(int fd, milliseconds time) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(time.count())) == 1;
}

} // namespace

TEST_CASE("lab02-server prints its real listening endpoint first",
          "[docs/labs/02-server.md#try-it-by-hand]") {
    EchoServer server;
    CHECK(server.port != 0);
}

TEST_CASE("lab02-server echoes a line back", "[docs/labs/02-server.md#try-it-by-hand]") {
    EchoServer server;
    CHECK_THAT(Bytes(echo_through(server.port, "hello\r\n")), EqualsBytes("hello\r\n"));
}

TEST_CASE("lab02-server echoes 1 MiB of random bytes exactly and then serves a second client",
          "[docs/labs/02-server.md#try-it-by-hand]") {
    EchoServer server;
    const std::string bytes = random_bytes(1 << 20, 7);
    CHECK_THAT(Bytes(echo_through(server.port, bytes)), EqualsBytes(bytes));
    CHECK_THAT(Bytes(echo_through(server.port, "second\n")), EqualsBytes("second\n"));
}

TEST_CASE("lab02-server serves one client at a time", "[docs/labs/02-server.md#try-it-by-hand]") {
    EchoServer server;
    socklab::UniqueFd first = connect_loopback(server.port, soon());
    socklab::UniqueFd second = connect_loopback(server.port, soon());
    send_all(first.get(), "1", soon());
    CHECK_THAT(Bytes(recv_exactly(first.get(), 1, soon())), EqualsBytes("1"));
    // The second client waits in the backlog: nothing comes back while the first is served.
    send_all(second.get(), "2", soon());
    CHECK_FALSE(readable_within(second.get(), milliseconds(100)));
    first.reset();
    CHECK_THAT(Bytes(recv_exactly(second.get(), 1, soon())), EqualsBytes("2"));
}

TEST_CASE("lab02-server goes on serving after a client resets its connection",
          "[docs/labs/02-server.md#try-it-by-hand]") {
    EchoServer server;
    socklab::UniqueFd rude = connect_loopback(server.port, soon());
    send_all(rude.get(), "half a mess", soon());
    close_with_reset(std::move(rude));
    CHECK_THAT(Bytes(echo_through(server.port, "next\n")), EqualsBytes("next\n"));
}

TEST_CASE("lab02-server binds the endpoint given with --bind", "[docs/labs/02-server.md#try-it-by-hand]") {
    EchoServer first;
    first.process.send_signal(SIGTERM);
    (void)first.process.wait(soon());
    // The port was just freed: bind it again explicitly.
    const std::string endpoint = "127.0.0.1:" + std::to_string(first.port);
    EchoServer again({"--bind", endpoint});
    CHECK(again.port == first.port);
}

TEST_CASE("lab02-server binds a host name given with --bind", "[docs/labs/02-server.md#try-it-by-hand]") {
    EchoServer server({"--bind", "localhost:0"});
    CHECK_THAT(Bytes(echo_through(server.port, "by name\n")), EqualsBytes("by name\n"));
}

TEST_CASE("lab02-server exits 71 naming the endpoint when another server holds it",
          "[docs/labs/02-server.md#try-it-by-hand]") {
    EchoServer first;
    const std::string endpoint = "127.0.0.1:" + std::to_string(first.port);
    const RunResult second = run_program(program_path("lab02-server"), {"--bind", endpoint});
    CHECK(second.status.describe() == "exit code 71");
    CHECK_THAT(second.err, Catch::Contains(endpoint) && Catch::Contains("another socket already holds"));
}

TEST_CASE("lab02-server exits 64 on a malformed --bind endpoint", "[docs/labs/02-server.md#try-it-by-hand]") {
    const RunResult run = run_program(program_path("lab02-server"), {"--bind", "127.0.0.1:99999"});
    CHECK(run.status.describe() == "exit code 64");
    CHECK_THAT(run.err, Catch::Contains("\"127.0.0.1:99999\""));
}
