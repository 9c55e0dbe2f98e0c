#include "socklab/message_stream.hpp"

#include <array>
#include <stdexcept>

namespace socklab {

void MessageStream::send(std::string_view message) {
    if (message.find('\n') != std::string_view::npos) {
        throw std::invalid_argument("send to " + stream_.peer_endpoint().to_string() +
                                    ": a message may not hold a \"\\n\"; it would arrive as two messages");
    }
    // Message and delimiter in one write: two writes would cost two system calls (and, with
    // Nagle's algorithm, could wait for an acknowledgement in between).
    std::string line;
    line.reserve(message.size() + 1);
    line.append(message).push_back('\n');
    stream_.write_all(line);
}

std::optional<std::string> MessageStream::receive() {
    try {
        for (;;) {
            if (const auto message = framer_.next()) {
                return std::string(*message); // a copy: the view is only good until the next call
            }
            // Only now, with every message taken out, may the buffer the framer read be refilled.
            const std::size_t n = stream_.read_some(read_buffer_);
            if (n == 0) {
                framer_.finish(); // throws if the peer stopped mid-message
                return std::nullopt;
            }
            framer_.feed(std::string_view(read_buffer_.data(), n));
        }
    } catch (const LineTooLong& e) {
        throw LineTooLong("receive from " + stream_.peer_endpoint().to_string() + ": " + e.what());
    } catch (const IncompleteMessage& e) {
        throw IncompleteMessage("receive from " + stream_.peer_endpoint().to_string() + ": " + e.what() +
                                " (the peer closed early, or crashed)");
    }
}

} // namespace socklab
