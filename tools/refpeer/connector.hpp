// Connecting with a deadline: Asio's synchronous connect has none.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <vector>

namespace refpeer {

// A connected socket and the endpoint it reached (getpeername(2) fails once the peer has reset).
struct Connected {
    asio::ip::tcp::socket socket;
    asio::ip::tcp::endpoint peer;
};

// Connects to the first endpoint that answers before the deadline, over all of them (non-blocking
// connect(2), poll(2), SO_ERROR); throws Failure (69 refused or unreachable, 75 timed out).
Connected connect_with_deadline(asio::io_context& io, const std::vector<asio::ip::tcp::endpoint>& endpoints,
                                std::uint64_t timeout_ms);

} // namespace refpeer
