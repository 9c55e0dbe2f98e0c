// Endpoint: an IPv4 address and a port, "192.168.1.169:5". One end of a TCP connection.
#pragma once

#include "socklab/ipv4_address.hpp"

#include <netinet/in.h>

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace socklab {

struct Endpoint {
    Ipv4Address address;
    std::uint16_t port = 0;

    // Parses "A.B.C.D:PORT": an address as Ipv4Address::parse takes it, one ':', a port as
    // parse_port takes it. Throws std::invalid_argument that quotes the whole text and says
    // which part is wrong and why.
    [[nodiscard]] static Endpoint parse(std::string_view text);

    // "A.B.C.D:PORT", the form parse() accepts.
    [[nodiscard]] std::string to_string() const;

    // The sockaddr_in that bind(2) and connect(2) take: AF_INET, the port and the address in
    // network byte order (big-endian: most significant byte first), sin_zero all zero.
    [[nodiscard]] sockaddr_in to_sockaddr() const;

    // The Endpoint a sockaddr_in holds (from accept(2), getsockname(2), getpeername(2)).
    // Throws std::invalid_argument when its family is not AF_INET.
    [[nodiscard]] static Endpoint from_sockaddr(const sockaddr_in& address);

    friend constexpr auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

} // namespace socklab
