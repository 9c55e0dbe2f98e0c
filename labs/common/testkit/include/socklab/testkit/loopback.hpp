// Loopback helpers for tests, written with plain system calls and independent of any student
// code: a test of the student's server talks to it through these, never through the student's
// own client, so one bug cannot hide another.
#pragma once

#include "socklab/testkit/deadline.hpp"
#include "socklab/unique_fd.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace socklab::testkit {

// A TCP listener on 127.0.0.1 with a port the kernel chose (port 0), SO_REUSEADDR set.
class LoopbackListener {
public:
    explicit LoopbackListener(int backlog = 16);
    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] int fd() const { return fd_.get(); }
    // Accepts one connection; TimeoutError when none arrives before the deadline.
    [[nodiscard]] UniqueFd accept(Deadline deadline);

private:
    UniqueFd fd_;
    std::uint16_t port_ = 0;
};

// A listener on 127.0.0.1 whose accept queue is full and never drained: the kernel drops every
// further SYN, so a connect to it gets no answer and times out, as when a firewall drops packets.
// Made of a listen(fd, 0) socket and the connections that filled its queue.
class FullListener {
public:
    FullListener();
    [[nodiscard]] std::uint16_t port() const { return port_; }

private:
    UniqueFd fd_;
    std::vector<UniqueFd> fillers_;
    std::uint16_t port_ = 0;
};

// Connects to 127.0.0.1:port; throws SocketError when refused, TimeoutError at the deadline.
[[nodiscard]] UniqueFd connect_loopback(std::uint16_t port, Deadline deadline);

// Sends all of bytes (MSG_NOSIGNAL); throws SocketError (EPIPE, ECONNRESET, ...).
void send_all(int fd, std::string_view bytes, Deadline deadline);

// Sends bytes in pieces of piece_size bytes, one send(2) each, with TCP_NODELAY set so that each
// piece leaves as a segment of its own (the receiver may still read several at once).
void send_in_pieces(int fd, std::string_view bytes, std::size_t piece_size, Deadline deadline);

// Sends bytes in pieces of random sizes from 1 to max_piece, the same sizes for the same seed.
void send_in_random_pieces(int fd, std::string_view bytes, unsigned seed, std::size_t max_piece,
                           Deadline deadline);

// Waits until the peer's kernel has acknowledged every byte sent on fd (SIOCOUTQ is 0): the bytes
// are in the peer's receive buffer, received, whether or not its program has read them. send
// returning says less: under load the bytes may still wait in this side's send buffer.
void wait_until_delivered(int fd, Deadline deadline);

// Receives exactly n bytes. Throws TimeoutError, or std::runtime_error at EOF, quoting what came.
[[nodiscard]] std::string recv_exactly(int fd, std::size_t n, Deadline deadline);

// Receives up to and including the next "\n". Throws like recv_exactly.
[[nodiscard]] std::string recv_line(int fd, Deadline deadline);

// Receives until the peer closes (EOF); returns everything. Throws TimeoutError quoting what came.
[[nodiscard]] std::string recv_until_eof(int fd, Deadline deadline);

// Reads from fd on a thread of its own, in chunks of at most `chunk` bytes, until `count` bytes
// came or the peer closed, while the test writes on the other end. finish() joins the thread and
// returns what came, or rethrows what went wrong there (a TimeoutError, a reset). When the test
// leaves early (the code under test threw), the destructor shuts fd down to wake the thread and
// joins it: no thread outlives its test, and none dies of an uncaught exception.
class BackgroundReader {
public:
    static constexpr std::size_t kUntilEof = static_cast<std::size_t>(-1);
    BackgroundReader(int fd, std::size_t count, Deadline deadline, std::size_t chunk = 65536);
    BackgroundReader(const BackgroundReader&) = delete;
    BackgroundReader& operator=(const BackgroundReader&) = delete;
    ~BackgroundReader();
    [[nodiscard]] std::string finish();

private:
    int fd_;
    std::string data_;
    std::exception_ptr error_;
    std::thread thread_;
};

// Closes fd so that the peer sees a reset (RST) rather than an orderly close: SO_LINGER 0.
void close_with_reset(UniqueFd fd);

// shutdown(2) of every TCP socket of this process still waiting for the server's SYN-ACK
// (SYN_SENT): a connect(2) blocked on one fails at once with ECONNRESET. For a test whose code
// under test made the socket and never shows it (returns_within's unblock, watchdog.hpp).
// Returns how many it shut down.
int shut_down_connecting_sockets();

} // namespace socklab::testkit
