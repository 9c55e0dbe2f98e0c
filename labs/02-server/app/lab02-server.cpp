// lab02-server [--bind HOST:PORT]: an iterative echo server (given code).
//
// Serves one client at a time: sends back every byte it receives until that client closes its
// sending side, then closes the connection and accepts the next client. Prints
// "listening on 127.0.0.1:PORT" first, and one line per client on stderr.
#include "socklab/program.hpp"
#include "socklab/server_options.hpp"
#include "socklab/tcp_listener.hpp"

#include <array>
#include <iostream>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

constexpr std::string_view kUsage =
    "usage: lab02-server [--bind HOST:PORT]   (default 127.0.0.1:0, a port the kernel chooses)\n";

// Echoes until the client closes; returns how many bytes went back.
std::size_t echo(socklab::TcpStream& client) {
    std::array<char, 65536> buffer{};
    std::size_t total = 0;
    for (;;) {
        const std::size_t n = client.read_some(buffer);
        if (n == 0) {
            return total;
        }
        client.write_all(std::string_view(buffer.data(), n));
        total += n;
    }
}

} // namespace

int main(int argc, char* argv[]) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    return socklab::run_main("lab02-server", [&] {
        const auto options = socklab::parse_server_options(args, false);
        if (!options) {
            std::cerr << kUsage;
            return socklab::exit_code::kUsage;
        }
        socklab::TcpListener listener(options->bind);
        // The first line, flushed at once: whoever started us waits for it to learn the port.
        std::cout << "listening on " << listener.local_endpoint().to_string() << std::endl;
        for (;;) {
            socklab::TcpStream client = listener.accept();
            const std::string peer = client.peer_endpoint().to_string();
            std::cerr << "lab02-server: " << peer << " connected" << std::endl;
            try {
                const std::size_t bytes = echo(client);
                std::cerr << "lab02-server: " << peer << " closed; " << bytes << " bytes echoed" << std::endl;
            } catch (const std::system_error& e) {
                // One client's failure (a reset, a broken pipe) must not stop the server.
                std::cerr << "lab02-server: " << e.what() << "; serving the next client" << std::endl;
            }
        }
    });
}
