// The misbehaviours (fragment, coalesce, delay, close or reset after N bytes), applied to the
// writes of one connection, and the two ways refpeer ends a connection.
#pragma once

#include "options.hpp"

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>

namespace refpeer {

// What a Sender has to do to the connection once its --close-after or --reset-after limit is met.
enum class Ending { none, close, reset };

// Writes messages on one connection the way a Behaviour says; one Sender per connection.
class Sender {
public:
    // Called with the bytes of each write, just before it is made (the client shows them).
    using WriteObserver = std::function<void(std::string_view)>;

    // Prepares to write on socket; sets TCP_NODELAY when writes are fragmented; stop cuts delays short.
    Sender(asio::ip::tcp::socket& socket, const Behaviour& behaviour, std::stop_token stop,
           WriteObserver observer = {});
    // Queues one message, and writes the queue once --coalesce messages are in it (asio::write).
    // Throws std::system_error when the connection is lost.
    void send(std::string_view message);
    // Writes whatever is queued (at the end of the input, or before closing). Throws as send.
    void flush();
    // What the limit asks for: none while more bytes may be sent.
    Ending ending() const { return ending_; }
    // Bytes written on the connection so far.
    std::uint64_t bytes_sent() const { return sent_; }

private:
    // Writes bytes as fragments, with the delay before each, up to the limit.
    void write_out(std::string_view bytes);
    // The size of the next fragment when at most left bytes remain.
    std::size_t next_fragment(std::size_t left);

    asio::ip::tcp::socket& socket_;
    Behaviour behaviour_;
    std::stop_token stop_;
    WriteObserver observer_;
    std::mt19937 random_;
    std::string pending_;
    std::size_t pending_messages_ = 0;
    std::uint64_t sent_ = 0;
    Ending ending_ = Ending::none;
};

// Ends a connection in order: shutdown(SHUT_WR) so a FIN follows the last byte, then reads and drops
// what the peer still sends, for at most 250 ms, then close(2): nothing unread is left to cause a
// reset that would destroy the last bytes sent. Never throws.
void close_gracefully(asio::ip::tcp::socket& socket);
// Aborts a connection: SO_LINGER {1, 0} then close(2), so the kernel sends RST. Never throws.
void reset(asio::ip::tcp::socket& socket);
// Waits for duration, or less if stop is requested; returns false if it was cut short.
bool wait_for(std::chrono::milliseconds duration, const std::stop_token& stop);

} // namespace refpeer
