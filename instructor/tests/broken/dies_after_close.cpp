// A server that gives up on its first client: it closes the connection and exits 70 right after,
// the way a skeleton's "not implemented yet" does. Its FIN leaves before the process is gone, so
// the client sees an orderly EOF before the exit can be seen; the runner must still blame the
// exit, not count the EOF as a close.
#include "broken_server.hpp"

int main() {
    const int listener = broken::listen_and_announce();
    const int client = ::accept(listener, nullptr, nullptr);
    char buffer[256];
    while (::read(client, buffer, sizeof buffer) > 0) {
        // reads the request to the client's FIN, so the close below comes after it, in order
    }
    ::shutdown(client, SHUT_WR);
    std::fprintf(stderr, "dies_after_close: not implemented yet\n");
    return 70;
}
