// An echo server with an off-by-one: it sends back every read but its last byte.
// It is good_echo.cpp but for that byte, on purpose: the one difference is the fixture.
#include "broken_server.hpp"

int main() {
    const int listener = broken::listen_and_announce();
    for (;;) {
        const int client = ::accept(listener, nullptr, nullptr);
        char buffer[4096];
        ssize_t n = 0;
        while ((n = ::read(client, buffer, sizeof buffer)) > 0) {
            (void)::send(client, buffer, static_cast<std::size_t>(n - 1), MSG_NOSIGNAL);
        }
        ::close(client);
    }
}
