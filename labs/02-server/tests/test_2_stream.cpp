// Lab 02: the connected stream: read, write, close (docs/labs/02-server.md, steps 4-6).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "signal_storm.hpp"
#include "socklab/tcp_stream.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/endpoint_printing.hpp"
#include "socklab/testkit/stream_pair.hpp"
#include "socklab/testkit/watchdog.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

using socklab::TcpStream;
using namespace socklab::testkit;
using lab02::SignalStorm;

namespace {

void set_buffer(int fd, int option, int bytes) {
    SOCKLAB_REQUIRE_SYSCALL(::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes));
}

// read_some returns as soon as some bytes have arrived. One that waits for more (to fill the
// buffer) fails the test within soon() (shutdown(2) wakes it), not at CTest's timeout.
template <typename Read>
std::size_t read_within(TcpStream& stream, std::string_view what, Read read) {
    return returns_within(
        what, soon(), [&] { ::shutdown(stream.fd(), SHUT_RD); },
        "does read_some wait to fill the whole buffer (MSG_WAITALL, or a loop until it "
        "is full)? It must return what has arrived",
        read);
}

} // namespace

// --- Step 3: endpoints of a connection ----------------------------------------------------------

TEST_CASE("TcpStream local_endpoint is the server side of the connection",
          "[docs/labs/02-server.md#step-3-accept-a-connection]") {
    StreamPair pair = make_stream_pair();
    CHECK(pair.stream.local_endpoint() == raw_peer_endpoint(pair.peer.get()));
}

// --- Step 4: read -------------------------------------------------------------------------------

TEST_CASE("TcpStream read_some returns the bytes the peer sent",
          "[docs/labs/02-server.md#step-4-read-what-the-peer-sent]") {
    StreamPair pair = make_stream_pair();
    send_all(pair.peer.get(), "hello", soon());
    std::array<char, 5> buffer{};
    std::string got;
    while (got.size() < 5) {
        const std::size_t n = pair.stream.read_some(std::span(buffer).subspan(got.size()));
        REQUIRE(n > 0);
        got.append(buffer.data() + got.size(), n);
    }
    CHECK_THAT(Bytes(got), EqualsBytes("hello"));
}

TEST_CASE("TcpStream read_some returns what has arrived without waiting to fill the buffer",
          "[docs/labs/02-server.md#step-4-read-what-the-peer-sent]") {
    StreamPair pair = make_stream_pair();
    send_all(pair.peer.get(), "abc", soon());
    std::array<char, 1024> buffer{};
    const std::size_t n = read_within(pair.stream, "read_some of a 1024-byte buffer after 3 bytes arrived",
                                      [&] { return pair.stream.read_some(buffer); });
    CHECK(n >= 1);
    CHECK(n <= 3);
    CHECK_THAT(Bytes(std::string_view(buffer.data(), n)), EqualsBytes(std::string_view("abc", n)));
}

TEST_CASE("TcpStream read_some returns 0 when the peer has closed",
          "[docs/labs/02-server.md#step-4-read-what-the-peer-sent]") {
    StreamPair pair = make_stream_pair();
    pair.peer.reset();
    std::array<char, 16> buffer{};
    CHECK(pair.stream.read_some(buffer) == 0);
}

TEST_CASE("TcpStream read_some returns the last bytes and then 0 after the peer closed",
          "[docs/labs/02-server.md#step-4-read-what-the-peer-sent]") {
    StreamPair pair = make_stream_pair();
    send_all(pair.peer.get(), "bye", soon());
    pair.peer.reset();
    std::array<char, 16> buffer{};
    std::string got;
    for (std::size_t n = 1; n != 0;) {
        n = pair.stream.read_some(buffer);
        got.append(buffer.data(), n);
    }
    CHECK_THAT(Bytes(got), EqualsBytes("bye"));
}

TEST_CASE("TcpStream read_some waits on when signals interrupt recv",
          "[docs/labs/02-server.md#step-4-read-what-the-peer-sent]") {
    StreamPair pair = make_stream_pair();
    // read_some is already waiting when the signals come; the peer sends after 100 of them. The
    // storm is made on the thread that reads: its signals go to the thread that made it.
    std::array<char, 16> buffer{};
    const std::size_t n = read_within(pair.stream, "read_some while signals interrupt it", [&] {
        SignalStorm storm(100, [&] { send_all(pair.peer.get(), "late", soon()); });
        const std::size_t got = pair.stream.read_some(buffer);
        storm.finish();
        return got;
    });
    REQUIRE(n >= 1);
    CHECK_THAT(Bytes(std::string_view(buffer.data(), n)), EqualsBytes(std::string_view("late").substr(0, n)));
}

TEST_CASE("TcpStream read_some throws ECONNRESET when the peer reset the connection",
          "[docs/labs/02-server.md#step-4-read-what-the-peer-sent]") {
    StreamPair pair = make_stream_pair();
    close_with_reset(std::move(pair.peer));
    std::array<char, 16> buffer{};
    REQUIRE_THROWS_MATCHES(pair.stream.read_some(buffer), std::system_error,
                           HasErrno(std::errc::connection_reset));
}

TEST_CASE("TcpStream reset message names the peer and the likely cause",
          "[docs/labs/02-server.md#step-4-read-what-the-peer-sent]") {
    StreamPair pair = make_stream_pair();
    const std::string peer = pair.stream.peer_endpoint().to_string();
    close_with_reset(std::move(pair.peer));
    std::array<char, 16> buffer{};
    REQUIRE_THROWS_MATCHES(pair.stream.read_some(buffer), std::system_error,
                           MessageContains({"recv", peer, "reset"}));
}

// --- Step 5: write all --------------------------------------------------------------------------

TEST_CASE("TcpStream write_all sends the bytes in order",
          "[docs/labs/02-server.md#step-5-write-every-byte]") {
    StreamPair pair = make_stream_pair();
    pair.stream.write_all("line one\nline two\n");
    CHECK_THAT(Bytes(recv_exactly(pair.peer.get(), 18, soon())), EqualsBytes("line one\nline two\n"));
}

TEST_CASE("TcpStream write_all of nothing sends nothing",
          "[docs/labs/02-server.md#step-5-write-every-byte]") {
    StreamPair pair = make_stream_pair();
    pair.stream.write_all("");
    pair.stream.write_all("x");
    CHECK_THAT(Bytes(recv_exactly(pair.peer.get(), 1, soon())), EqualsBytes("x"));
}

TEST_CASE("TcpStream write_all sends NUL and high bytes unchanged",
          "[docs/labs/02-server.md#step-5-write-every-byte]") {
    StreamPair pair = make_stream_pair();
    const std::string bytes("\0\r\n\xff\x80", 5);
    pair.stream.write_all(bytes);
    CHECK_THAT(Bytes(recv_exactly(pair.peer.get(), bytes.size(), soon())), EqualsBytes(bytes));
}

TEST_CASE("TcpStream write_all delivers 8 MiB to a slow reader intact",
          "[docs/labs/02-server.md#step-5-write-every-byte]") {
    StreamPair pair = make_stream_pair();
    // Small buffers on both sides: most send calls can take only part of what they are given.
    set_buffer(pair.stream.fd(), SO_SNDBUF, 16 * 1024);
    set_buffer(pair.peer.get(), SO_RCVBUF, 16 * 1024);
    const std::string sent = random_bytes(8 << 20, 2);
    // The reader takes 4 KiB at a time, so the writer keeps finding the buffers full.
    BackgroundReader reader(pair.peer.get(), sent.size(), Deadline(milliseconds(15000)), 4096);
    pair.stream.write_all(sent);
    ::shutdown(pair.stream.fd(), SHUT_WR); // all sent, says write_all: a reader still waiting fails now
    const std::string received = reader.finish();
    REQUIRE(received.size() == sent.size());
    CHECK_THAT(Bytes(received), EqualsBytes(sent));
}

TEST_CASE("TcpStream write_all finishes the job when signals interrupt send",
          "[docs/labs/02-server.md#step-5-write-every-byte]") {
    // A signal that arrives while send is blocked cuts it short: send returns the bytes it took so
    // far (a partial count) or, if it took none, -1 with EINTR. write_all must go on either way.
    // A handler without SA_RESTART lets the signal interrupt the call.
    struct sigaction interrupt = {};
    struct sigaction previous = {};
    interrupt.sa_handler = [](int) {};
    sigemptyset(&interrupt.sa_mask);
    SOCKLAB_REQUIRE_SYSCALL(::sigaction(SIGUSR1, &interrupt, &previous));

    StreamPair pair = make_stream_pair();
    set_buffer(pair.stream.fd(), SO_SNDBUF, 16 * 1024);
    set_buffer(pair.peer.get(), SO_RCVBUF, 16 * 1024);
    const std::string sent = random_bytes(4 << 20, 3);
    BackgroundReader reader(pair.peer.get(), sent.size(), Deadline(milliseconds(15000)), 4096);
    const pthread_t writer = ::pthread_self();
    std::atomic<bool> writing{true};
    std::exception_ptr error;
    {
        std::jthread interrupter([&] {
            while (writing) {
                ::pthread_kill(writer, SIGUSR1);
                std::this_thread::yield();
            }
        });
        try {
            pair.stream.write_all(sent);
        } catch (...) {
            error = std::current_exception();
        }
        writing = false;
    } // joined: no SIGUSR1 can come after this, so the old disposition is safe to put back
    ::sigaction(SIGUSR1, &previous, nullptr);
    if (error) {
        std::rethrow_exception(error);
    }
    ::shutdown(pair.stream.fd(), SHUT_WR); // all sent, says write_all: a reader still waiting fails now
    const std::string received = reader.finish();
    REQUIRE(received.size() == sent.size());
    CHECK_THAT(Bytes(received), EqualsBytes(sent));
}

TEST_CASE("TcpStream write_all to a closed peer throws EPIPE instead of raising SIGPIPE",
          "[docs/labs/02-server.md#step-5-write-every-byte]") {
    StreamPair pair = make_stream_pair();
    pair.peer.reset();
    // The first sends may still be accepted into the buffer; the peer's kernel answers them with a
    // reset, after which send reports ECONNRESET once and EPIPE from then on. Without
    // MSG_NOSIGNAL the process would die of SIGPIPE here (the test main's tripwire says so).
    std::vector<std::error_code> errors;
    for (int attempt = 0; attempt < 1000 && (errors.empty() || errors.back() != std::errc::broken_pipe);
         ++attempt) {
        try {
            pair.stream.write_all("data\n");
        } catch (const std::system_error& e) {
            errors.push_back(e.code());
        }
    }
    REQUIRE_FALSE(errors.empty());
    CHECK(errors.back() == std::errc::broken_pipe);
}

namespace {
// What the process does with a signal, by name: the default action, ignoring it, or a handler.
std::string disposition_of(int signal) {
    struct sigaction current {};
    ::sigaction(signal, nullptr, &current);
    if (current.sa_handler == SIG_DFL) {
        return "the default action";
    }
    if (current.sa_handler == SIG_IGN) {
        return "ignored (SIG_IGN)";
    }
    return "a handler";
}
} // namespace

// MSG_NOSIGNAL acts on one call; signal(SIGPIPE, SIG_IGN) changes the whole process, every thread
// and library in it, and programs it starts, which is not write_all's to decide.
TEST_CASE("TcpStream write_all leaves the process's SIGPIPE disposition as it was",
          "[docs/labs/02-server.md#step-5-write-every-byte]") {
    const std::string before = disposition_of(SIGPIPE); // the test main's tripwire: a handler
    StreamPair pair = make_stream_pair();
    pair.stream.write_all("data\n");
    pair.peer.reset();
    for (int attempt = 0; attempt < 1000; ++attempt) {
        try {
            pair.stream.write_all("data\n");
        } catch (const std::system_error&) {
            break;
        }
    }
    const std::string after = disposition_of(SIGPIPE);
    INFO("SIGPIPE's disposition before write_all was " << before);
    CHECK(after == before);
}

TEST_CASE("TcpStream broken-pipe message names the peer",
          "[docs/labs/02-server.md#step-5-write-every-byte]") {
    StreamPair pair = make_stream_pair();
    const std::string peer = pair.stream.peer_endpoint().to_string();
    close_with_reset(std::move(pair.peer));
    std::string message;
    for (int attempt = 0; attempt < 1000 && message.empty(); ++attempt) {
        try {
            pair.stream.write_all("data\n");
        } catch (const std::system_error& e) {
            message = e.what();
        }
    }
    CHECK_THAT(message, Catch::Contains("send") && Catch::Contains(peer));
}

// --- Step 6: close and half-close ---------------------------------------------------------------

TEST_CASE("TcpStream shutdown_write lets the peer read to the end",
          "[docs/labs/02-server.md#step-6-close-and-half-close]") {
    StreamPair pair = make_stream_pair();
    pair.stream.write_all("last words");
    pair.stream.shutdown_write();
    CHECK_THAT(Bytes(recv_until_eof(pair.peer.get(), soon())), EqualsBytes("last words"));
}

TEST_CASE("TcpStream shutdown_write still lets this side read",
          "[docs/labs/02-server.md#step-6-close-and-half-close]") {
    StreamPair pair = make_stream_pair();
    pair.stream.shutdown_write();
    (void)recv_until_eof(pair.peer.get(), soon());
    send_all(pair.peer.get(), "reply", soon());
    std::array<char, 5> buffer{};
    std::size_t n = 0;
    while (n < buffer.size()) {
        const std::size_t got = pair.stream.read_some(std::span(buffer).subspan(n));
        REQUIRE(got > 0);
        n += got;
    }
    CHECK_THAT(Bytes(std::string_view(buffer.data(), n)), EqualsBytes("reply"));
}

TEST_CASE("TcpStream close makes the peer read the end of the stream",
          "[docs/labs/02-server.md#step-6-close-and-half-close]") {
    StreamPair pair = make_stream_pair();
    pair.stream.write_all("x");
    pair.stream.close();
    CHECK_FALSE(pair.stream.is_open());
    CHECK_THAT(Bytes(recv_until_eof(pair.peer.get(), soon())), EqualsBytes("x"));
}
