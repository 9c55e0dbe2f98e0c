// The per-connection part of the server modes. Blocking calls in a thread of its own keep each
// mode a plain loop; the echo's fast path is one read and one write per 256 KiB, nothing per byte.
#include "connection.hpp"

#include "endpoint.hpp"
#include "line_protocol.hpp"
#include "modes.hpp"

#include <asio/write.hpp>

#include <sys/socket.h>

#include <system_error>

namespace refpeer {

namespace {

constexpr std::size_t kEchoBuffer = std::size_t{256} * 1024;
constexpr std::size_t kReadBuffer = std::size_t{64} * 1024;

// The End when the peer's stream ended: by its FIN, or by our own stop.
End peer_closed(const std::stop_token& stop) {
    return {Ending::close, stop.stop_requested() ? "closed: the server is stopping" : "closed by the client"};
}

} // namespace

void Connection::serve() {
    asio::error_code error;
    peer_ = to_string(socket_.remote_endpoint(error));
    log("accepted from " + peer_);
    End end;
    {
        // Wakes a blocked read or write when the server stops. Destroyed before the socket is
        // closed (its destructor waits for a callback running in another thread), so the
        // descriptor is never shut down after it was closed and reused.
        std::stop_callback wake(stop_, [fd = socket_.native_handle()] { ::shutdown(fd, SHUT_RDWR); });
        Sender sender(socket_, options_.behaviour, stop_);
        try {
            switch (options_.mode) {
            case ServerMode::lines: end = serve_lines(sender); break;
            case ServerMode::silent: end = serve_silent(); break;
            default: end = serve_echo(sender); break;
            }
        } catch (const std::system_error& failure) {
            end.why = stop_.stop_requested() ? "closed: the server is stopping"
                                             : "connection lost: " + failure.code().message();
        }
        sent_ += sender.bytes_sent();
    }
    if (end.action == Ending::reset) {
        reset(socket_);
    } else {
        close_gracefully(socket_);
    }
    log(peer_ + ": " + end.why + "; received " + std::to_string(received_) + " bytes, sent " +
        std::to_string(sent_) + " bytes");
}

std::size_t Connection::read_some(std::vector<char>& buffer) {
    asio::error_code error;
    const std::size_t n = socket_.read_some(asio::buffer(buffer), error);
    if (error == asio::error::eof) {
        return 0;
    }
    if (error) {
        throw std::system_error(error, "recv");
    }
    received_ += n;
    return n;
}

End Connection::limit_end(const Sender& sender) const {
    if (sender.ending() == Ending::reset) {
        return {Ending::reset,
                "reset after " + std::to_string(sender.bytes_sent()) + " bytes (--reset-after)"};
    }
    return {Ending::close, "closed after " + std::to_string(sender.bytes_sent()) + " bytes (--close-after)"};
}

End Connection::serve_echo(Sender& sender) {
    std::vector<char> buffer(kEchoBuffer);
    if (options_.behaviour.plain()) {
        // The fast path: no per-byte work, one write per read.
        for (;;) {
            const std::size_t n = read_some(buffer);
            if (n == 0) {
                return peer_closed(stop_);
            }
            asio::error_code error;
            asio::write(socket_, asio::buffer(buffer.data(), n), error);
            if (error) {
                throw std::system_error(error, "send");
            }
            sent_ += n;
        }
    }
    while (sender.ending() == Ending::none) {
        const std::size_t n = read_some(buffer);
        if (n == 0) {
            sender.flush();
            return sender.ending() == Ending::none ? peer_closed(stop_) : limit_end(sender);
        }
        sender.send(std::string_view(buffer.data(), n));
    }
    return limit_end(sender);
}

// The read loop of serve_echo again, with a splitter between the read and the send: kept apart so
// that each mode reads as the protocol it serves.
End Connection::serve_lines(Sender& sender) {
    std::vector<char> buffer(kReadBuffer);
    LineSplitter splitter(options_.max_line);
    while (sender.ending() == Ending::none) {
        const std::size_t n = read_some(buffer);
        if (n == 0) {
            // A partial line left in the splitter is dropped: it may have been cut short.
            sender.flush();
            return sender.ending() == Ending::none ? peer_closed(stop_) : limit_end(sender);
        }
        splitter.feed(std::string_view(buffer.data(), n));
        for (LineEvent event = splitter.next(); event.kind != LineEvent::none; event = splitter.next()) {
            bool quit = false;
            sender.send(event.kind == LineEvent::too_long ? "ERR line too long\n" : answer(event.text, quit));
            if (sender.ending() != Ending::none) {
                return limit_end(sender);
            }
            if (quit || event.kind == LineEvent::too_long) {
                sender.flush();
                if (sender.ending() != Ending::none) {
                    return limit_end(sender);
                }
                return {Ending::close, quit ? "closed after QUIT" : "closed after a line too long"};
            }
        }
    }
    return limit_end(sender);
}

End Connection::serve_silent() {
    std::vector<char> buffer(kReadBuffer);
    while (read_some(buffer) != 0) {
    }
    return peer_closed(stop_);
}

} // namespace refpeer
