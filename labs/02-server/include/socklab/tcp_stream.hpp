// TcpStream: one end of a connected TCP socket. Bytes in, bytes out, in order, no boundaries.
#pragma once

#include "socklab/endpoint.hpp"
#include "socklab/unique_fd.hpp"

#include <cstddef>
#include <span>
#include <string_view>

namespace socklab {

class TcpStream {
public:
    // Takes ownership of a connected stream socket (from accept(2) or connect(2)) whose other end
    // is peer. The peer is kept because the kernel forgets it once the connection is reset, and
    // every error message must still name it.
    TcpStream(UniqueFd fd, const Endpoint& peer) noexcept : fd_(std::move(fd)), peer_(peer) {}

    // recv(2): waits until at least one byte has arrived, then returns how many it copied into
    // buffer (at most buffer.size(); often fewer, however many the peer sent). 0 means the peer
    // closed its sending side: end of stream, a normal outcome. Retries EINTR.
    // Throws SocketError (ECONNRESET: the peer reset the connection) naming the peer.
    [[nodiscard]] std::size_t read_some(std::span<char> buffer);

    // send(2) with MSG_NOSIGNAL, again and again until every byte is sent: one send may take
    // only part of the bytes, and a signal may interrupt it (EINTR). Throws SocketError (EPIPE,
    // ECONNRESET: the peer is gone) naming the peer; never raises SIGPIPE.
    void write_all(std::string_view bytes);

    // shutdown(2) SHUT_WR: sends FIN, so the peer reads end of stream; this side can still read.
    void shutdown_write();

    // close(2): both directions end; the peer reads end of stream (or gets a reset, ECONNRESET,
    // when bytes it sent are still unread on this side). Safe to call twice.
    void close() noexcept { fd_.reset(); }

    // getsockname(2): this side's endpoint.
    [[nodiscard]] Endpoint local_endpoint() const;
    // The other side's endpoint, as given to the constructor.
    [[nodiscard]] const Endpoint& peer_endpoint() const noexcept { return peer_; }

    // The socket, for poll(2) and tests; still owned by this object.
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    // False after close().
    [[nodiscard]] bool is_open() const noexcept { return static_cast<bool>(fd_); }

private:
    UniqueFd fd_;
    Endpoint peer_;
};

} // namespace socklab
