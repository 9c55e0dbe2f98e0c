// Lab 03: the program lab03-client, a minimal netcat, run as a person would run it.
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/check.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/child.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

#include <chrono>
#include <exception>
#include <string>
#include <thread>

using namespace socklab::testkit;

namespace {

std::string lab03_client() {
    return program_path("lab03-client");
}

std::string at(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

// A server on a thread of the test: accepts one client and does `serve` with it. finish() is
// called once the client process has ended: if it never connected, the thread stops at once
// instead of waiting out its deadline. Whatever goes wrong on the thread is rethrown by finish().
class OneClientServer {
public:
    template <typename Serve>
    explicit OneClientServer(Serve serve) : stop_(make_pipe()) {
        thread_ = std::thread([this, serve] {
            try {
                pollfd ready[2] = {{listener_.fd(), POLLIN, 0}, {stop_[0].get(), POLLIN, 0}};
                if (::poll(ready, 2, 5000) <= 0 || (ready[0].revents & POLLIN) == 0) {
                    throw std::runtime_error("the program never connected to the test's server");
                }
                socklab::UniqueFd client = listener_.accept(soon());
                serve(client);
            } catch (...) {
                error_ = std::current_exception();
            }
        });
    }
    ~OneClientServer() {
        if (thread_.joinable()) {
            stop_[1].reset();
            thread_.join();
        }
    }
    [[nodiscard]] std::uint16_t port() const { return listener_.port(); }
    void finish() {
        stop_[1].reset(); // the client has ended: no connection will come after this
        thread_.join();
        if (error_) {
            std::rethrow_exception(error_);
        }
    }

private:
    static std::array<socklab::UniqueFd, 2> make_pipe() {
        int fds[2];
        socklab::check(::pipe2(fds, O_CLOEXEC), "pipe2");
        return {socklab::UniqueFd(fds[0]), socklab::UniqueFd(fds[1])};
    }
    LoopbackListener listener_;
    std::array<socklab::UniqueFd, 2> stop_;
    std::exception_ptr error_;
    std::thread thread_;
};

// Echoes until the client half-closes, then closes.
void echo(socklab::UniqueFd& client) {
    send_all(client.get(), recv_until_eof(client.get(), soon()), soon());
}

} // namespace

TEST_CASE("lab03-client sends stdin to the server and prints what comes back",
          "[docs/labs/03-client.md#try-it-by-hand]") {
    OneClientServer server(echo);
    const RunResult run = run_program(lab03_client(), {at(server.port())}, "hello\r\nworld\n");
    INFO("lab03-client's stderr: " << run.err);
    server.finish();
    CHECK(run.status.describe() == "exit code 0");
    CHECK_THAT(Bytes(run.out), EqualsBytes("hello\r\nworld\n"));
}

TEST_CASE("lab03-client says which endpoint it connected to on stderr",
          "[docs/labs/03-client.md#try-it-by-hand]") {
    OneClientServer server(echo);
    const RunResult run = run_program(lab03_client(), {"localhost:" + std::to_string(server.port())}, "");
    INFO("lab03-client's stderr: " << run.err);
    server.finish();
    CHECK_THAT(run.err, Catch::Contains("connected to " + at(server.port())));
}

TEST_CASE("lab03-client half-closes at the end of stdin and still reads the reply",
          "[docs/labs/03-client.md#try-it-by-hand]") {
    // The server answers only once it has read the end of the client's stream.
    OneClientServer server([](socklab::UniqueFd& client) {
        const std::string request = recv_until_eof(client.get(), soon());
        send_all(client.get(), "got " + std::to_string(request.size()) + " bytes\n", soon());
    });
    const RunResult run = run_program(lab03_client(), {at(server.port())}, "12345\n");
    INFO("lab03-client's stderr: " << run.err);
    server.finish();
    CHECK(run.status.describe() == "exit code 0");
    CHECK_THAT(Bytes(run.out), EqualsBytes("got 6 bytes\n"));
}

TEST_CASE("lab03-client exits 0 when the server closes first", "[docs/labs/03-client.md#try-it-by-hand]") {
    OneClientServer server([](socklab::UniqueFd& client) { send_all(client.get(), "bye\n", soon()); });
    ChildProcess client(lab03_client(), {at(server.port())}); // stdin stays open
    const ExitStatus status = client.wait(soon());
    INFO("lab03-client's stderr: " << client.stderr_text());
    server.finish();
    CHECK(status.describe() == "exit code 0");
    CHECK_THAT(Bytes(client.stdout_text()), EqualsBytes("bye\n"));
}

TEST_CASE("lab03-client exits 69 naming the endpoint when the connection is refused",
          "[docs/labs/03-client.md#try-it-by-hand]") {
    std::uint16_t port = 0;
    {
        LoopbackListener listener;
        port = listener.port();
    }
    const RunResult run = run_program(lab03_client(), {at(port)});
    CHECK(run.status.describe() == "exit code 69");
    CHECK_THAT(run.err, Catch::Contains(at(port)) && Catch::Contains("refused"));
}

TEST_CASE("lab03-client exits 75 after its timeout when nothing answers",
          "[docs/labs/03-client.md#try-it-by-hand]") {
    FullListener silent;
    const auto start = std::chrono::steady_clock::now();
    const RunResult run = run_program(lab03_client(), {"--timeout-ms", "300", at(silent.port())});
    const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    INFO("took " << took.count() << " ms for a 300 ms timeout; stderr: " << run.err);
    CHECK(run.status.describe() == "exit code 75");
    CHECK_THAT(run.err, Catch::Contains(at(silent.port())));
    CHECK(took >= milliseconds(300));
    // The time includes starting the program: 200 ms of room, stretched as the sanitizers slow
    // the start (ThreadSanitizer's took 287 ms on a loaded machine). A client that waits for the
    // kernel's own connect timeout takes two minutes.
    CHECK(took < milliseconds(300) + milliseconds(200) * kSanitizerSlowdown);
}

TEST_CASE("lab03-client exits 64 on a malformed endpoint and quotes it",
          "[docs/labs/03-client.md#try-it-by-hand]") {
    const RunResult run = run_program(lab03_client(), {"localhost:99999"});
    CHECK(run.status.describe() == "exit code 64");
    CHECK_THAT(run.err, Catch::Contains("\"localhost:99999\""));
}

TEST_CASE("lab03-client exits 68 when the name cannot be resolved",
          "[docs/labs/03-client.md#try-it-by-hand]") {
    const ChildOutcome outcome = run_in_private_netns([] {
        const RunResult run = run_program(program_path("lab03-client"), {"socklab-no-such-host.invalid:80"});
        return run.status.describe() + "|" + run.err;
    });
    if (!outcome.ran) {
        SOCKLAB_SKIP("no private network namespace can be made here, so no name but localhost may be "
                     "resolved: " +
                     outcome.reason);
    }
    CHECK_THAT(outcome.result,
               Catch::StartsWith("exit code 68|") && Catch::Contains("\"socklab-no-such-host.invalid\""));
}

TEST_CASE("lab03-client exits 74 when the server resets the connection",
          "[docs/labs/03-client.md#try-it-by-hand]") {
    OneClientServer server([](socklab::UniqueFd& client) {
        (void)recv_exactly(client.get(), 6, soon());
        close_with_reset(std::move(client));
    });
    ChildProcess client(lab03_client(), {at(server.port())});
    client.write_stdin("hello\n"); // stdin stays open: the reset comes while the session is on
    const ExitStatus status = client.wait(soon());
    INFO("lab03-client's stderr: " << client.stderr_text());
    server.finish();
    CHECK(status.describe() == "exit code 74");
    CHECK_THAT(client.stderr_text(), Catch::Contains(at(server.port())));
}
