// A server that ends in order and then resets: it sends a line and its FIN, then closes without
// reading what the client sends after, so its kernel answers those bytes with RST. The bytes show
// an orderly end of the stream; only the wire shows the reset.
#include "broken_server.hpp"

#include <poll.h>

int main() {
    const int listener = broken::listen_and_announce();
    const int client = ::accept(listener, nullptr, nullptr);
    (void)!::send(client, "hello\n", 6, MSG_NOSIGNAL);
    ::shutdown(client, SHUT_WR);
    pollfd more{client, POLLIN, 0};
    (void)::poll(&more, 1, 5000); // the client's next bytes, which are never read
    ::close(client);
    for (;;) {
        ::pause();
    }
}
