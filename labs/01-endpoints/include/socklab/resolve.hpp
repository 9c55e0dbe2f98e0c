// Name resolution: from a host name to the IPv4 endpoints it stands for.
#pragma once

#include "socklab/endpoint.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace socklab {

// getaddrinfo(3) for IPv4 TCP: the endpoints host resolves to, each with port, each once, in the
// order the resolver gave them. host may be a name ("localhost"), looked up in /etc/hosts and then
// DNS, or a dotted-decimal address, returned as it is without a lookup.
// Throws std::invalid_argument for an empty host; SocketError (a std::system_error in
// resolver_category(), e.g. EAI_NONAME or EAI_AGAIN) when the name cannot be resolved.
[[nodiscard]] std::vector<Endpoint> resolve(std::string_view host, std::uint16_t port);

} // namespace socklab
