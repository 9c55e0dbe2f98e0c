// Name resolution: from a host name to the IPv4 endpoints it stands for.
#pragma once

#include "socklab/endpoint.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace socklab {

// getaddrinfo(3) for IPv4 TCP: the endpoints host resolves to, each with port, each once, in the
// order the resolver gave them. host may be a name ("localhost"), looked up in /etc/hosts and then
// DNS, or a dotted-decimal address: a host of only digits and dots is parsed by
// Ipv4Address::parse, as strictly, and returned without a lookup (getaddrinfo itself would read
// "010.0.0.1" as octal 8.0.0.1 and "127.1" as 127.0.0.1).
// Throws std::invalid_argument for an empty host or a malformed address; SocketError (a std::system_error in
// resolver_category(), e.g. EAI_NONAME or EAI_AGAIN) when the name cannot be resolved.
[[nodiscard]] std::vector<Endpoint> resolve(std::string_view host, std::uint16_t port);

} // namespace socklab
