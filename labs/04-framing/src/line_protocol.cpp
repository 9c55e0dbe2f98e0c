// Lab 04: the line protocol and its server loop. This file is yours to edit.
// Read docs/labs/04-framing.md beside it; run `ctest --test-dir build -L lab04` to check.
#include "socklab/line_protocol.hpp"

#include "socklab/not_implemented.hpp"

#include <poll.h>

namespace socklab {

Reply answer([[maybe_unused]] std::string_view request) {
    // TODO: split request at its first space into command and text; compare the command with
    // ECHO, UPPER, REVERSE, LEN, QUIT ignoring ASCII case; the table in the docs says each reply.
    throw NotImplemented("answer", "docs/labs/04-framing.md#step-4-answer-a-request");
}

void serve_lines([[maybe_unused]] TcpStream& client, [[maybe_unused]] std::size_t max_line) {
    // TODO: read_some, feed a LineFramer, answer every complete request into one string of
    // replies, write_all it once per read. QUIT: send BYE, then close. A line over max_line:
    // answer the requests before it, send "ERR line too long", then close. Close gracefully:
    // shutdown_write, read what is left, then close (docs explain why). When the client closes
    // (read_some gives 0), close too and return.
    throw NotImplemented("serve_lines", "docs/labs/04-framing.md#step-5-serve-a-client");
}

} // namespace socklab
