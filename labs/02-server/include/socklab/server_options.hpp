// The command line every lab server takes (given code): [--bind HOST:PORT] [--max-line N].
#pragma once

#include "socklab/bind_endpoint.hpp"
#include "socklab/endpoint.hpp"

#include <charconv>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace socklab {

struct ServerOptions {
    Endpoint bind{Ipv4Address::loopback(), 0}; // --bind HOST:PORT; a port the kernel chooses by default
    std::size_t max_line = 65536;              // --max-line N, where the server takes it
};

// Reads args (argv without the program name). nullopt when they are not the server's options (the
// caller prints its usage and exits 64); std::invalid_argument quoting a malformed value.
// with_max_line: whether --max-line is one of this server's options.
[[nodiscard]] inline std::optional<ServerOptions>
parse_server_options(const std::vector<std::string_view>& args, bool with_max_line) {
    ServerOptions options;
    for (std::size_t i = 0; i < args.size(); i += 2) {
        if (i + 1 >= args.size()) {
            return std::nullopt;
        }
        const std::string_view value = args[i + 1];
        if (args[i] == "--bind") {
            options.bind = bind_endpoint(value);
        } else if (args[i] == "--max-line" && with_max_line) {
            const auto [end, error] =
                std::from_chars(value.data(), value.data() + value.size(), options.max_line);
            if (error != std::errc() || end != value.data() + value.size() || options.max_line == 0) {
                throw std::invalid_argument("invalid --max-line \"" + std::string(value) +
                                            "\": give the most bytes one request may have, above 0");
            }
        } else {
            return std::nullopt;
        }
    }
    return options;
}

} // namespace socklab
