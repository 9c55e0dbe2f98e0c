// Lab 04: serving one client, however its bytes are split or joined (docs/labs/04-framing.md,
// step 5). The client is a raw socket of the test kit; serve_lines runs on a thread of the test.
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/check.hpp"
#include "socklab/line_protocol.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/stream_pair.hpp"
#include "socklab/testkit/watchdog.hpp"
#include "socklab/testkit/wire.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <exception>
#include <string>
#include <thread>

using namespace socklab::testkit;

namespace {

// The state of fd's TCP connection (TCP_ESTABLISHED, TCP_CLOSE, ...), from TCP_INFO.
int tcp_state(int fd) {
    tcp_info info{};
    socklen_t length = sizeof info;
    socklab::check(::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length), "getsockopt TCP_INFO");
    return info.tcpi_state;
}

// serve_lines on a thread of its own, talked to through a raw client socket. When serve_lines
// throws, the thread shuts the connection down so the test's reads end at once, and the reads
// below report serve_lines' own error (which names what to fix) rather than the closed socket.
class Serving {
public:
    explicit Serving(std::size_t max_line = socklab::LineFramer::kDefaultMaxLine)
        : pair_(make_stream_pair()), thread_([this, max_line] {
              try {
                  socklab::serve_lines(pair_.stream, max_line);
              } catch (...) {
                  error_ = std::current_exception();
                  ::shutdown(pair_.stream.fd(), SHUT_RDWR);
              }
          }) {}
    ~Serving() {
        if (thread_.joinable()) {
            ::shutdown(pair_.peer.get(), SHUT_RDWR);
            thread_.join();
        }
    }
    [[nodiscard]] int client() const { return pair_.peer.get(); }
    [[nodiscard]] std::string recv_exactly(std::size_t n) {
        return or_server_error([&] { return socklab::testkit::recv_exactly(client(), n, soon()); });
    }
    // What has arrived, at least one byte (waits for it until soon()).
    [[nodiscard]] std::string recv_some() {
        return or_server_error([&] { return socklab::testkit::recv_exactly(client(), 1, soon()) + drain(); });
    }
    [[nodiscard]] std::string recv_until_eof() {
        return or_server_error([&] { return socklab::testkit::recv_until_eof(client(), soon()); });
    }
    // Waits for serve_lines to return, until soon(); rethrows what it threw. One that has not
    // returned by then (it waits for a request it lost, or never saw QUIT) fails the test: the
    // server's side of the connection is shut down to wake it.
    void finish() {
        call_within(
            "serve_lines", soon(), [this] { ::shutdown(pair_.stream.fd(), SHUT_RDWR); },
            "does it answer every request of a read, keep the rest of a read for the next line, and return "
            "after QUIT, a line too long or the end of the stream?",
            [this] { thread_.join(); });
        if (error_) {
            std::rethrow_exception(error_);
        }
    }

private:
    // The bytes that are there now, without waiting.
    std::string drain() const {
        std::string out;
        char buffer[4096];
        for (ssize_t n; (n = ::recv(client(), buffer, sizeof buffer, MSG_DONTWAIT)) > 0;) {
            out.append(buffer, static_cast<std::size_t>(n));
        }
        return out;
    }

    template <typename Read>
    std::string or_server_error(Read read) {
        try {
            return read();
        } catch (...) {
            ::shutdown(client(), SHUT_RDWR);
            finish(); // serve_lines' own error, if it threw, explains the failed read best
            throw;
        }
    }

    StreamPair pair_;
    std::exception_ptr error_;
    std::thread thread_;
};

} // namespace

// --- Step 5: serve a client ---------------------------------------------------------------------

TEST_CASE("serve_lines answers requests that arrive together in order",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    Serving server;
    send_all(server.client(), "ECHO a\nUPPER b\nLEN ccc\n", soon());
    CHECK_THAT(Bytes(server.recv_exactly(6)), EqualsBytes("a\nB\n3\n"));
}

TEST_CASE("serve_lines answers a request delivered one byte per write once",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    Serving server;
    send_in_pieces(server.client(), "REVERSE abc\n", 1, soon());
    send_all(server.client(), "ECHO end\n", soon());
    CHECK_THAT(Bytes(server.recv_exactly(8)), EqualsBytes("cba\nend\n"));
}

TEST_CASE("serve_lines answers a request that came in two segments once when its newline arrives",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    // On the wire (docs/reference/wire.md): the client's two writes are two segments, and the
    // server's one answer is one. A server that takes each read for a request answers twice.
    const OnTheWire wire = run_on_the_wire([](WireNames& names) {
        Serving server;
        names.name(raw_peer_endpoint(server.client()).port, "server");
        const int one = 1;
        socklab::check(::setsockopt(server.client(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
                       "TCP_NODELAY");
        send_all(server.client(), "UPPER he", soon());
        // Half a request must get no answer: wait for one a little (a deadline, not a sleep).
        pollfd early{server.client(), POLLIN, 0};
        if (::poll(&early, 1, 300) > 0) {
            return "answered the first half, before its newline: " + escape_bytes(server.recv_some());
        }
        send_all(server.client(), "llo\n", soon());
        return server.recv_exactly(6);
    });
    if (!wire.ran) {
        SOCKLAB_SKIP("the wire cannot be captured here: " + wire.reason);
    }
    INFO("the wire:\n" << wire.timeline);
    CHECK(wire.data_segments("client", "server") == 2);
    CHECK(wire.data_segments("server", "client") == 1);
    CHECK(wire.result == "HELLO\n");
}

TEST_CASE("serve_lines answers telnet's CRLF lines without the carriage return",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    Serving server;
    send_all(server.client(), "ECHO hi\r\nLEN abc\r\n", soon());
    CHECK_THAT(Bytes(server.recv_exactly(5)), EqualsBytes("hi\n3\n"));
}

TEST_CASE("serve_lines answers every request however the bytes are split for 20 seeds",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    std::string requests;
    std::string replies;
    for (int i = 0; i < 50; ++i) {
        requests += "ECHO request " + std::to_string(i) + (i % 2 == 0 ? "\r\n" : "\n");
        replies += "request " + std::to_string(i) + "\n";
    }
    for (unsigned seed = 1; seed <= 20; ++seed) {
        INFO("seed " << seed << ": send_in_random_pieces(fd, requests, " << seed << ", 13, ...)");
        Serving server;
        send_in_random_pieces(server.client(), requests, seed, 13, soon());
        REQUIRE_THAT(Bytes(server.recv_exactly(replies.size())), EqualsBytes(replies));
    }
}

TEST_CASE("serve_lines says BYE to QUIT and then closes", "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    Serving server;
    send_all(server.client(), "ECHO x\nQUIT\n", soon());
    CHECK_THAT(Bytes(server.recv_until_eof()), EqualsBytes("x\nBYE\n"));
    server.finish();
}

TEST_CASE("serve_lines answers the requests before a line that is too long then says so and closes",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    Serving server(16);
    send_all(server.client(), "ECHO ok\n" + std::string(40, 'x') + "\n", soon());
    CHECK_THAT(Bytes(server.recv_until_eof()), EqualsBytes("ok\nERR line too long\n"));
    server.finish();
}

TEST_CASE("serve_lines rejects a too long line before it ends",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    Serving server(16);
    send_all(server.client(), std::string(40, 'x'), soon()); // no newline, and none will come
    CHECK_THAT(Bytes(server.recv_until_eof()), EqualsBytes("ERR line too long\n"));
    server.finish();
}

TEST_CASE("serve_lines answers the requests before a line that grows too long without its newline",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    Serving server(16);
    send_all(server.client(), "ECHO ok\n" + std::string(40, 'x'), soon()); // no newline after the x's
    CHECK_THAT(Bytes(server.recv_until_eof()), EqualsBytes("ok\nERR line too long\n"));
    server.finish();
}

TEST_CASE("serve_lines ends in order after a too long line even with bytes left unread",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    // Most of this line is still unread when the server gives up on it. A close() with unread
    // bytes makes the kernel send a reset, which can destroy the ERR reply in flight: the client
    // must see the reply and then a clean end of stream, and no reset after it (a reset that
    // follows the server's FIN leaves its error pending on the client's socket, SO_ERROR).
    Serving server(1024);
    BackgroundReader reader(server.client(), BackgroundReader::kUntilEof, soon());
    std::string send_error;
    try {
        send_all(server.client(), std::string(300000, 'x'), soon());
    } catch (const std::system_error& e) {
        send_error = e.what();
    }
    ::shutdown(server.client(), SHUT_WR);
    CHECK_THAT(Bytes(reader.finish()), EqualsBytes("ERR line too long\n"));
    server.finish();
    wait_until([&] { return tcp_state(server.client()) == TCP_CLOSE; }, soon(),
               "the connection to end on the client's side");
    int pending = 0;
    socklen_t length = sizeof pending;
    socklab::check(::getsockopt(server.client(), SOL_SOCKET, SO_ERROR, &pending, &length),
                   "getsockopt SO_ERROR");
    INFO("the client's send failed with: " << (send_error.empty() ? "nothing" : send_error));
    CHECK(send_error.empty());
    INFO("error pending on the client's socket: "
         << (pending == 0 ? std::string("none") : errno_text(pending))
         << " (did the server close without reading what was sent?)");
    CHECK(pending == 0);
}

TEST_CASE("serve_lines discards a partial line when the client closes",
          "[docs/labs/04-framing.md#step-5-serve-a-client]") {
    Serving server;
    send_all(server.client(), "ECHO whole\nECHO par", soon());
    ::shutdown(server.client(), SHUT_WR);
    CHECK_THAT(Bytes(server.recv_until_eof()), EqualsBytes("whole\n"));
    server.finish();
}
