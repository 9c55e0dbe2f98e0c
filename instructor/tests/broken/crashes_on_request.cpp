// A server that dies of SIGSEGV when the first request arrives.
#include "broken_server.hpp"

#include <csignal>

int main() {
    const int listener = broken::listen_and_announce();
    const int client = ::accept(listener, nullptr, nullptr);
    char byte = 0;
    if (::read(client, &byte, 1) == 1) {
        std::fprintf(stderr, "crashes_on_request: about to crash\n");
        std::raise(SIGSEGV);
    }
    return 0;
}
