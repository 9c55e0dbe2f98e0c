// A line server that answers UPPER but keeps the \r of a CRLF request.
#include "broken_server.hpp"

#include <cctype>
#include <string>

namespace {

void serve(int client) {
    std::string pending;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(client, buffer, sizeof buffer)) > 0) {
        pending.append(buffer, static_cast<std::size_t>(n));
        std::size_t nl = 0;
        while ((nl = pending.find('\n')) != std::string::npos) {
            const std::string line = pending.substr(0, nl); // the \r stays: the bug
            pending.erase(0, nl + 1);
            std::string reply = line.substr(line.find(' ') + 1);
            for (char& c : reply) {
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            }
            reply += "\n";
            (void)::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
        }
    }
}

} // namespace

int main() {
    const int listener = broken::listen_and_announce();
    for (;;) {
        const int client = ::accept(listener, nullptr, nullptr);
        serve(client);
        ::close(client);
    }
}
