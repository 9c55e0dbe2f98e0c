// Lab 05: the program lab05-server, stopped by a signal as a person or a service manager would.
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/process.hpp"

#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

using namespace socklab::testkit;

namespace {

struct StoppableServer {
    ChildProcess process;
    std::uint16_t port;
    StoppableServer()
        : process(program_path("lab05-server"), {}), port(read_listening_port(process, soon())) {}
};

// Connects clients, one mid-line, makes sure each is served, sends sig, and checks the exit.
void stops_on(int sig) {
    StoppableServer server;
    std::vector<socklab::UniqueFd> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(connect_loopback(server.port, soon()));
        send_all(clients.back().get(), "ECHO hi\n", soon());
        REQUIRE_THAT(Bytes(recv_exactly(clients.back().get(), 3, soon())), EqualsBytes("hi\n"));
    }
    send_all(clients[2].get(), "ECHO stuck mid-li", soon());
    const auto start = std::chrono::steady_clock::now();
    server.process.send_signal(sig);
    const ExitStatus status = server.process.wait(Deadline(milliseconds(3000)));
    const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    INFO("stderr: " << server.process.stderr_text());
    CHECK(status.describe() == "exit code 0");
    CHECK(took < milliseconds(1000));
    for (const auto& client : clients) {
        CHECK_THAT(Bytes(recv_until_eof(client.get(), soon())), EqualsBytes("BYE server stopping\n"));
    }
}

} // namespace

TEST_CASE("lab05-server says BYE to every client and exits 0 within a second of SIGTERM",
          "[docs/labs/05-stop-server.md#try-it-by-hand]") {
    stops_on(SIGTERM);
}

TEST_CASE("lab05-server says BYE to every client and exits 0 within a second of SIGINT",
          "[docs/labs/05-stop-server.md#try-it-by-hand]") {
    stops_on(SIGINT);
}

TEST_CASE("lab05-server refuses connections once it has stopped",
          "[docs/labs/05-stop-server.md#try-it-by-hand]") {
    StoppableServer server;
    server.process.send_signal(SIGTERM);
    (void)server.process.wait(soon());
    REQUIRE_THROWS_MATCHES(connect_loopback(server.port, soon()), std::system_error,
                           HasErrno(std::errc::connection_refused));
}

TEST_CASE("lab05-server serves several clients at once", "[docs/labs/05-stop-server.md#try-it-by-hand]") {
    StoppableServer server;
    socklab::UniqueFd a = connect_loopback(server.port, soon());
    socklab::UniqueFd b = connect_loopback(server.port, soon());
    send_all(a.get(), "UPPER a\n", soon());
    send_all(b.get(), "UPPER b\n", soon());
    CHECK_THAT(Bytes(recv_exactly(b.get(), 2, soon())), EqualsBytes("B\n"));
    CHECK_THAT(Bytes(recv_exactly(a.get(), 2, soon())), EqualsBytes("A\n"));
}
