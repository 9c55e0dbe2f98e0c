// lab04-server [--bind HOST:PORT] [--max-line N]: the lab 04 line protocol (given code).
//
// Serves one client at a time with serve_lines (docs/labs/04-framing.md#the-protocol). Prints
// "listening on 127.0.0.1:PORT" first, and one line per client on stderr.
#include "socklab/line_protocol.hpp"
#include "socklab/program.hpp"
#include "socklab/server_options.hpp"
#include "socklab/tcp_listener.hpp"

#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

constexpr std::string_view kUsage = "usage: lab04-server [--bind HOST:PORT] [--max-line N]\n";

} // namespace

// The same start as lab02-server's main, on purpose: each lab's program reads whole on its own
// (this one serves lines where lab 02 echoes bytes).
int main(int argc, char* argv[]) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    return socklab::run_main("lab04-server", [&] {
        const auto options = socklab::parse_server_options(args, true);
        if (!options) {
            std::cerr << kUsage;
            return socklab::exit_code::kUsage;
        }
        socklab::TcpListener listener(options->bind);
        std::cout << "listening on " << listener.local_endpoint().to_string() << std::endl;
        for (;;) {
            socklab::TcpStream client = listener.accept();
            const std::string peer = client.peer_endpoint().to_string();
            std::cerr << "lab04-server: " << peer << " connected" << std::endl;
            try {
                socklab::serve_lines(client, options->max_line);
                std::cerr << "lab04-server: " << peer << " done" << std::endl;
            } catch (const std::system_error& e) {
                std::cerr << "lab04-server: " << e.what() << "; serving the next client" << std::endl;
            }
        }
    });
}
