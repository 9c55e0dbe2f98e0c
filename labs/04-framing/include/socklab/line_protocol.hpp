// The lab 04 line protocol (docs/labs/04-framing.md#the-protocol): one request per line, one
// response line per request.
#pragma once

#include "socklab/line_framer.hpp"
#include "socklab/tcp_stream.hpp"

#include <string>
#include <string_view>

namespace socklab {

// What the server says to one request.
struct Reply {
    std::string line;         // the response, without its "\n"
    bool close_after = false; // true after QUIT: send the line, then close the connection
    friend bool operator==(const Reply&, const Reply&) = default;
};

// The reply to one request (a message, without its line ending):
//   ECHO text -> text          UPPER text -> TEXT (ASCII)     REVERSE text -> txet (bytes)
//   LEN text -> bytes of text   QUIT -> BYE, then close
//   ""        -> ERR empty request
//   other     -> ERR unknown command: CMD
// Commands are ASCII and case-insensitive; the argument is everything after the first space.
[[nodiscard]] Reply answer(std::string_view request);

// Serves one client until it sends QUIT, closes, or sends a line over max_line (then it is sent
// "ERR line too long"), and closes the connection before it returns. Every request gets exactly one reply, in
// order, however the requests were split or joined on the way; the replies to all requests that one read_some
// completed go out in one write_all. A partial line when the client closes is discarded.
void serve_lines(TcpStream& client, std::size_t max_line = LineFramer::kDefaultMaxLine);

} // namespace socklab
