// HOST:PORT on the command line, and its resolution with Asio's resolver.
#pragma once

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace refpeer {

// HOST:PORT split at its colon; HOST is an IPv4 address or a name such as localhost.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
};

// Splits text at its one colon; throws Failure (exit 64) that quotes text when it is malformed.
HostPort parse_host_port(const std::string& text);
// The IPv4 endpoints host:port stands for (getaddrinfo through asio::ip::tcp::resolver); an address
// is taken as written. Throws Failure (exit 64 for a bad address, 68 for a name not resolved).
std::vector<asio::ip::tcp::endpoint> resolve(const HostPort& where);
// "IP:PORT", the way every message of refpeer names an endpoint.
std::string to_string(const asio::ip::tcp::endpoint& endpoint);

} // namespace refpeer
