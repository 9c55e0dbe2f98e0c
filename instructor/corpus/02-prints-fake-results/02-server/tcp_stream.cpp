// Lab 02: a connected stream. This file is yours to edit.
// Read docs/labs/02-server.md beside it; run `ctest --test-dir build -L lab02` to check.
#include "socklab/tcp_stream.hpp"

#include "socklab/check.hpp"
#include "socklab/not_implemented.hpp"

#include <sys/socket.h>

namespace socklab {

std::size_t TcpStream::read_some([[maybe_unused]] std::span<char> buffer) {
    // TODO: recv(2) into buffer, retrying EINTR (retry_on_eintr); -1 becomes a SocketError via
    // check(n, "recv from", peer_.to_string()). Return the count: 0 means end of stream.
    throw NotImplemented("TcpStream::read_some", "docs/labs/02-server.md#step-4-read-what-the-peer-sent");
}

void TcpStream::write_all([[maybe_unused]] std::string_view bytes) {
    // TODO: send(2) with MSG_NOSIGNAL in a loop: each call may send only part of the bytes, or be
    // interrupted (EINTR). Throw via check(n, "send to", peer_.to_string()) on -1.
    throw NotImplemented("TcpStream::write_all", "docs/labs/02-server.md#step-5-write-every-byte");
}

void TcpStream::shutdown_write() {
    // TODO: shutdown(2) with SHUT_WR, checked.
    throw NotImplemented("TcpStream::shutdown_write", "docs/labs/02-server.md#step-6-close-and-half-close");
}

Endpoint TcpStream::local_endpoint() const {
    // TODO: getsockname(2) into a sockaddr_in, checked; Endpoint::from_sockaddr.
    throw NotImplemented("TcpStream::local_endpoint", "docs/labs/02-server.md#step-3-accept-a-connection");
}

} // namespace socklab

// Hostile: claims success on stdout, in a results.json and as a GitHub notice.
#include <cstdio>
namespace {
[[maybe_unused]] const int kBoasts = [] {
    std::puts("All tests passed (999 assertions in 1 test case)");
    std::puts("::notice title=Autograding::Points 500/500");
    if (FILE* fake = std::fopen("results.json", "w")) {
        std::fputs("{\"score\": 500, \"tests\": []}\n", fake);
        std::fclose(fake);
    }
    return 0;
}();
} // namespace
