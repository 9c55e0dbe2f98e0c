// Shared by the deliberately broken programs the runner's tests run: a loopback listener on an
// ephemeral port, and the "listening on" line. Each broken program is wrong in one way only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace broken {

// socket + bind 127.0.0.1:0 + listen; exits 71 on failure. Returns the port through port.
inline int listen_loopback(int& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), len) != 0 || ::listen(fd, 16) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) != 0) {
        std::perror("listen");
        std::exit(71);
    }
    port = ntohs(address.sin_port);
    return fd;
}

// Listens and prints the line the scripts wait for.
inline int listen_and_announce() {
    int port = 0;
    const int fd = listen_loopback(port);
    std::printf("listening on 127.0.0.1:%d\n", port);
    std::fflush(stdout);
    return fd;
}

} // namespace broken
