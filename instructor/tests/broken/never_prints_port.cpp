// A server that listens but never says where: it writes the line to a stdout buffer and never
// flushes it (stdout to a pipe is fully buffered).
#include "broken_server.hpp"

int main() {
    int port = 0;
    broken::listen_loopback(port);
    std::printf("listening on 127.0.0.1:%d\n", port); // no fflush
    for (;;) {
        ::pause();
    }
}
