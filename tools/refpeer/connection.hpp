// One accepted connection of a server mode, served by one thread with blocking Asio calls.
#pragma once

#include "behaviour.hpp"
#include "options.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <stop_token>
#include <string>
#include <vector>

namespace refpeer {

// How a connection ended: what to do to the socket, and the words for the log.
struct End {
    Ending action = Ending::close;
    std::string why;
};

// One accepted connection, served by one thread.
class Connection {
public:
    // Takes the accepted socket; stop is the thread's stop token (set when the server stops).
    Connection(asio::ip::tcp::socket socket, const ServerOptions& options, std::stop_token stop)
        : socket_(std::move(socket)), options_(options), stop_(std::move(stop)) {}
    // Serves the connection in the server's mode, ends it and logs how.
    void serve();

private:
    // Echoes every byte: a plain read/write loop, or through the Sender when misbehaving.
    End serve_echo(Sender& sender);
    // Answers the lab 04 line protocol.
    End serve_lines(Sender& sender);
    // Reads and discards until the client closes.
    End serve_silent();
    // Reads what has arrived into buffer; returns 0 at the end of the stream. Throws system_error.
    std::size_t read_some(std::vector<char>& buffer);
    // The End for --close-after or --reset-after once the sender met its limit.
    End limit_end(const Sender& sender) const;

    asio::ip::tcp::socket socket_;
    const ServerOptions& options_;
    std::stop_token stop_;
    std::string peer_;
    std::uint64_t received_ = 0;
    std::uint64_t sent_ = 0;
};

} // namespace refpeer
