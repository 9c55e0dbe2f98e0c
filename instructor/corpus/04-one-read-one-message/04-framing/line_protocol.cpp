#include "socklab/line_protocol.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <chrono>

namespace socklab {
namespace {

char ascii_upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_upper(x) == ascii_upper(y);
           });
}

// Ends the connection without destroying the last reply: closing a socket that still has unread
// bytes makes the kernel send RST, and an RST can discard data the client has not read yet. So
// send FIN, read and drop what the client still sends (briefly), then close.
void close_gracefully(TcpStream& client) {
    try {
        client.shutdown_write();
        std::array<char, 65536> sink{};
        constexpr auto kLinger = std::chrono::milliseconds(250);
        const auto deadline = std::chrono::steady_clock::now() + kLinger;
        for (;;) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            pollfd readable{client.fd(), POLLIN, 0};
            if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0 ||
                client.read_some(sink) == 0) {
                break;
            }
        }
    } catch (const std::system_error&) {
        // The client is gone already: nothing left to protect.
    }
    client.close();
}

} // namespace

Reply answer(std::string_view request) {
    if (request.empty()) {
        return {"ERR empty request"};
    }
    const std::size_t space = request.find(' ');
    const std::string_view command = request.substr(0, space);
    const std::string_view text =
        space == std::string_view::npos ? std::string_view{} : request.substr(space + 1);
    if (equals_ignoring_case(command, "ECHO")) {
        return {std::string(text)};
    }
    if (equals_ignoring_case(command, "UPPER")) {
        std::string upper(text);
        std::transform(upper.begin(), upper.end(), upper.begin(), ascii_upper);
        return {upper};
    }
    if (equals_ignoring_case(command, "REVERSE")) {
        return {std::string(text.rbegin(), text.rend())};
    }
    if (equals_ignoring_case(command, "LEN")) {
        return {std::to_string(text.size())};
    }
    if (equals_ignoring_case(command, "QUIT")) {
        return {"BYE", true};
    }
    return {"ERR unknown command: " + std::string(command)};
}

void serve_lines(TcpStream& client, std::size_t max_line) {
    LineFramer framer(max_line);
    std::array<char, 65536> buffer{};
    std::string replies;
    for (;;) {
        const std::size_t n = client.read_some(buffer);
        if (n == 0) {
            client.close(); // the client closed; a partial line it left is discarded
            return;
        }
        bool too_long = false;
        // Wrong: one read is taken as one message (the bytes up to its first \n, if any).
        std::string_view chunk(buffer.data(), n);
        chunk = chunk.substr(0, chunk.find('\n'));
        framer = LineFramer(max_line);
        const std::string message = std::string(chunk) + "\n"; // lives while the framer reads it
        try {
            framer.feed(message);
        } catch (const LineTooLong&) {
            too_long = true;
        }
        // Every request this read completed, answered into one buffer: one write per read, not
        // one per reply, is what keeps a pipelining client fast.
        for (;;) {
            std::optional<std::string_view> request;
            try {
                request = framer.next();
            } catch (const LineTooLong&) {
                too_long = true;
            }
            if (!request) {
                break;
            }
            const Reply reply = answer(*request);
            replies.append(reply.line).push_back('\n');
            if (reply.close_after) {
                client.write_all(replies);
                close_gracefully(client);
                return;
            }
        }
        if (too_long) {
            replies.append("ERR line too long\n");
            client.write_all(replies);
            close_gracefully(client);
            return;
        }
        if (!replies.empty()) {
            client.write_all(replies);
            replies.clear();
        }
    }
}

} // namespace socklab
