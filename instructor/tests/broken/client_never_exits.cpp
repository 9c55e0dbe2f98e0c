// A client that connects and sends its stdin but never exits: it ignores the end of stdin and
// the server's close.
#include "broken_server.hpp"

#include <cstdint>
#include <cstring>
#include <string>

int main(int argc, char* argv[]) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: client_never_exits 127.0.0.1:PORT\n");
        return 64;
    }
    const std::string endpoint = argv[1];
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port =
        htons(static_cast<std::uint16_t>(std::atoi(endpoint.substr(endpoint.find(':') + 1).c_str())));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        std::perror("connect");
        return 69;
    }
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(0, buffer, sizeof buffer)) > 0) {
        (void)::send(fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    }
    for (;;) {
        ::pause();
    }
}
