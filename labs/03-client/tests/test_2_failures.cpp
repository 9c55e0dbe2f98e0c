// Lab 03: telling failures apart (docs/labs/03-client.md, step 5), and what a client sees when
// the connection breaks after it was up (step 6).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/check.hpp"
#include "socklab/failure_kind.hpp"
#include "socklab/tcp_client.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/child.hpp"
#include "socklab/testkit/endpoint_printing.hpp"
#include "socklab/testkit/loopback.hpp"
#include "watched_connect.hpp"

#include <netdb.h>

#include <array>
#include <stdexcept>
#include <system_error>

using socklab::classify_failure;
using socklab::Endpoint;
using socklab::FailureKind;
using socklab::Ipv4Address;
using socklab::TcpClient;
using socklab::TcpStream;
using namespace socklab::testkit;

namespace Catch {
template <>
struct StringMaker<FailureKind> {
    static std::string convert(FailureKind kind) { return std::string(socklab::to_string(kind)); }
};
} // namespace Catch

namespace {

// A std::errc, so that a failing check prints the error's name, not its number.
std::system_error os_error(std::errc err) {
    return std::system_error(static_cast<int>(err), std::system_category(), "test");
}

// Reads until end of stream; returns how many bytes came.
std::size_t read_to_end(TcpStream& stream) {
    std::array<char, 4096> buffer{};
    std::size_t total = 0;
    for (std::size_t n = 1; n != 0; total += n) {
        n = stream.read_some(buffer);
    }
    return total;
}

} // namespace

// --- Step 5: tell the failures apart ------------------------------------------------------------

TEST_CASE("classify_failure calls an invalid_argument malformed",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    CHECK(classify_failure(std::invalid_argument("invalid endpoint \"x\"")) == FailureKind::Malformed);
}

TEST_CASE("classify_failure calls a resolver error unresolved",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    const std::system_error unresolved(std::error_code(EAI_NONAME, socklab::resolver_category()), "test");
    CHECK(classify_failure(unresolved) == FailureKind::Unresolved);
}

TEST_CASE("classify_failure calls ECONNREFUSED refused",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    CHECK(classify_failure(os_error(std::errc::connection_refused)) == FailureKind::Refused);
}

TEST_CASE("classify_failure calls ENETUNREACH and EHOSTUNREACH unreachable",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    CHECK(classify_failure(os_error(std::errc::network_unreachable)) == FailureKind::Unreachable);
    CHECK(classify_failure(os_error(std::errc::host_unreachable)) == FailureKind::Unreachable);
}

TEST_CASE("classify_failure calls ETIMEDOUT timed out",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    CHECK(classify_failure(os_error(std::errc::timed_out)) == FailureKind::TimedOut);
}

TEST_CASE("classify_failure calls ECONNRESET and EPIPE a lost connection",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    CHECK(classify_failure(os_error(std::errc::connection_reset)) == FailureKind::ConnectionLost);
    CHECK(classify_failure(os_error(std::errc::broken_pipe)) == FailureKind::ConnectionLost);
}

TEST_CASE("classify_failure calls ENOTCONN from a shutdown after a reset a lost connection",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    CHECK(classify_failure(os_error(std::errc::connection_aborted)) == FailureKind::ConnectionLost);
    CHECK(classify_failure(os_error(std::errc::not_connected)) == FailureKind::ConnectionLost);
}

TEST_CASE("classify_failure reads an error built from std::errc like its errno",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    const std::system_error generic(std::make_error_code(std::errc::connection_refused), "test");
    CHECK(classify_failure(generic) == FailureKind::Refused);
}

TEST_CASE("classify_failure calls an errno it does not know other",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    CHECK(classify_failure(os_error(std::errc::bad_file_descriptor)) == FailureKind::Other);
    CHECK(classify_failure(std::runtime_error("?")) == FailureKind::Other);
}

TEST_CASE("classify_failure reads the kind of a real refused connection",
          "[docs/labs/03-client.md#step-5-tell-the-failures-apart]") {
    std::uint16_t port = 0;
    {
        LoopbackListener listener;
        port = listener.port();
    }
    try {
        lab03::connect_where_refused(TcpClient(), Endpoint{Ipv4Address::loopback(), port});
        FAIL("the connection to a closed port succeeded");
    } catch (const std::system_error& e) {
        CHECK(classify_failure(e) == FailureKind::Refused);
    }
}

// --- Step 6: when the connection breaks ---------------------------------------------------------

TEST_CASE("A client reads end of stream when the server closes right after accept",
          "[docs/labs/03-client.md#step-6-when-the-connection-breaks]") {
    LoopbackListener listener;
    TcpStream stream = TcpClient().connect(Endpoint{Ipv4Address::loopback(), listener.port()});
    listener.accept(soon()).reset();
    CHECK(read_to_end(stream) == 0);
}

TEST_CASE("A client reads end of stream when an idle server crashes",
          "[docs/labs/03-client.md#step-6-when-the-connection-breaks]") {
    ServerInChild server;
    TcpStream stream = TcpClient().connect(Endpoint{Ipv4Address::loopback(), server.port()});
    server.wait_accepted(soon());
    server.crash();
    CHECK(read_to_end(stream) == 0);
}

TEST_CASE("A client's read throws ECONNRESET when a server crashes with bytes it never read",
          "[docs/labs/03-client.md#step-6-when-the-connection-breaks]") {
    ServerInChild server;
    TcpStream stream = TcpClient().connect(Endpoint{Ipv4Address::loopback(), server.port()});
    server.wait_accepted(soon());
    stream.write_all("a request the server never reads\n");
    // The server's kernel closes a socket with unread data by resetting the connection.
    server.crash();
    std::array<char, 64> buffer{};
    REQUIRE_THROWS_MATCHES(stream.read_some(buffer), std::system_error,
                           HasErrno(std::errc::connection_reset));
}

TEST_CASE("A client's write fails with EPIPE after the server crashed and is a lost connection",
          "[docs/labs/03-client.md#step-6-when-the-connection-breaks]") {
    ServerInChild server;
    TcpStream stream = TcpClient().connect(Endpoint{Ipv4Address::loopback(), server.port()});
    server.wait_accepted(soon());
    server.crash();
    FailureKind kind = FailureKind::Other;
    std::error_code last;
    for (int attempt = 0; attempt < 1000 && last != std::errc::broken_pipe; ++attempt) {
        try {
            stream.write_all("anyone there?\n");
        } catch (const std::system_error& e) {
            last = e.code();
            kind = classify_failure(e);
        }
    }
    CHECK(last == std::errc::broken_pipe);
    CHECK(kind == FailureKind::ConnectionLost);
}
