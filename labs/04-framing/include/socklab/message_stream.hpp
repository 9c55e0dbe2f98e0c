// MessageStream: messages (lines) over a connected TcpStream.
#pragma once

#include "socklab/line_framer.hpp"
#include "socklab/tcp_stream.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace socklab {

class MessageStream {
public:
    // Reads and writes messages on stream (which must outlive this object).
    explicit MessageStream(TcpStream& stream, std::size_t max_line = LineFramer::kDefaultMaxLine)
        : stream_(stream), framer_(max_line) {}

    // Sends message followed by "\n", all bytes, in one write_all. Throws std::invalid_argument
    // when message holds a "\n" (it would arrive as two messages); SocketError as write_all does.
    void send(std::string_view message);

    // The next message: from what is already held, else read_some until one is complete.
    // nullopt when the peer closed cleanly between messages. Throws IncompleteMessage when the
    // peer closed in the middle of one, LineTooLong for a line over the limit, SocketError as
    // read_some does.
    [[nodiscard]] std::optional<std::string> receive();

    [[nodiscard]] TcpStream& stream() { return stream_; }

private:
    TcpStream& stream_;
    LineFramer framer_;
    std::string read_buffer_ =
        std::string(65536, '\0'); // what read_some fills; the framer may read it in place
};

} // namespace socklab
