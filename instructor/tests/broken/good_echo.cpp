// A correct echo server, for the tests that must pass (and for --attach).
#include "broken_server.hpp"

int main() {
    const int listener = broken::listen_and_announce();
    for (;;) {
        const int client = ::accept(listener, nullptr, nullptr);
        char buffer[4096];
        ssize_t n = 0;
        while ((n = ::read(client, buffer, sizeof buffer)) > 0) {
            ssize_t sent = 0;
            while (sent < n) {
                const ssize_t m =
                    ::send(client, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
                if (m <= 0) {
                    break;
                }
                sent += m;
            }
        }
        ::close(client);
    }
}
