// lab03-client [--timeout-ms N] HOST:PORT: a minimal netcat (given code).
//
// Connects (HOST may be a name), says "connected to IP:PORT" on stderr, then copies stdin to the
// socket and the socket to stdout at the same time. At the end of stdin it shuts down its sending
// side (the server reads end of stream) and goes on reading until the server closes; then exits 0.
// A failure exits with the code of its kind (FailureKind): 64, 68, 69, 74, 75.
#include "socklab/check.hpp"
#include "socklab/failure_kind.hpp"
#include "socklab/not_implemented.hpp"
#include "socklab/program.hpp"
#include "socklab/tcp_client.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view kUsage =
    "usage: lab03-client [--timeout-ms N] HOST:PORT   e.g. lab03-client localhost:7\n";

std::chrono::milliseconds parse_timeout(std::string_view text) {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value <= 0) {
        throw std::invalid_argument("invalid --timeout-ms \"" + std::string(text) +
                                    "\": give a whole number of milliseconds above 0");
    }
    return std::chrono::milliseconds(value);
}

void write_stdout(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n =
            socklab::retry_on_eintr([&] { return ::write(STDOUT_FILENO, bytes.data(), bytes.size()); });
        bytes.remove_prefix(static_cast<std::size_t>(socklab::check(n, "write to stdout")));
    }
}

// Copies both ways until the server closes its side.
void relay(socklab::TcpStream& stream) {
    std::array<char, 65536> buffer{};
    bool stdin_open = true;
    for (;;) {
        pollfd fds[2] = {{stream.fd(), POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
        socklab::check(socklab::retry_on_eintr([&] { return ::poll(fds, 2, -1); }), "poll");
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            const ssize_t n =
                socklab::retry_on_eintr([&] { return ::read(STDIN_FILENO, buffer.data(), buffer.size()); });
            if (socklab::check(n, "read stdin") == 0) {
                stream.shutdown_write(); // no more to send: the server reads end of stream
                stdin_open = false;
            } else {
                stream.write_all(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            }
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            const std::size_t n = stream.read_some(buffer);
            if (n == 0) {
                return; // the server closed: done
            }
            write_stdout(std::string_view(buffer.data(), n));
        }
    }
}

} // namespace

int main(int argc, char* argv[]) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    return socklab::run_main("lab03-client", [&] {
        std::chrono::milliseconds timeout = socklab::TcpClient::kDefaultTimeout;
        std::string_view target;
        if (args.size() == 3 && args[0] == "--timeout-ms") {
            timeout = parse_timeout(args[1]);
            target = args[2];
        } else if (args.size() == 1 && !args[0].starts_with("-")) {
            target = args[0];
        } else {
            std::cerr << kUsage;
            return socklab::exit_code::kUsage;
        }
        try {
            socklab::TcpStream stream = socklab::TcpClient(timeout).connect(target);
            std::cerr << "connected to " << stream.peer_endpoint().to_string() << std::endl;
            relay(stream);
            return socklab::exit_code::kOk;
        } catch (const std::exception& e) {
            if (dynamic_cast<const socklab::NotImplemented*>(&e) != nullptr) {
                throw; // run_main says which function to write
            }
            const socklab::FailureKind kind = socklab::classify_failure(e);
            std::cerr << "lab03-client: " << e.what() << " (" << socklab::to_string(kind) << ")" << std::endl;
            return socklab::exit_code_for(kind);
        }
    });
}
