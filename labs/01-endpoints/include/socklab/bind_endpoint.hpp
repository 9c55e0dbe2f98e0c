// The endpoint a server's --bind HOST:PORT names (given code, used by the lab programs).
#pragma once

#include "socklab/endpoint.hpp"
#include "socklab/port.hpp"
#include "socklab/resolve.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace socklab {

// "127.0.0.1:8080" or "localhost:8080": an address is taken as it is (Endpoint::parse); a name is
// resolved and its first IPv4 address taken. Throws std::invalid_argument (malformed) or what
// resolve throws (SocketError, resolver category).
[[nodiscard]] inline Endpoint bind_endpoint(std::string_view text) {
    const std::size_t colon = text.rfind(':');
    const std::string_view host = colon == std::string_view::npos ? text : text.substr(0, colon);
    if (colon == std::string_view::npos || host.find_first_not_of("0123456789.") == std::string_view::npos) {
        return Endpoint::parse(text); // an address (or no port): Endpoint::parse says what is wrong
    }
    const std::uint16_t port = parse_port(text.substr(colon + 1));
    const auto endpoints = resolve(host, port);
    if (endpoints.empty()) {
        throw std::invalid_argument("invalid --bind \"" + std::string(text) +
                                    "\": the name has no IPv4 address");
    }
    return endpoints.front();
}

} // namespace socklab
