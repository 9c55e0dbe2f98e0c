#include "socklab/endpoint.hpp"

#include "socklab/port.hpp"

#include <arpa/inet.h>

#include <stdexcept>

namespace socklab {
namespace {

[[noreturn]] void reject(std::string_view text, const std::string& why) {
    throw std::invalid_argument("invalid endpoint \"" + std::string(text) + "\": " + why);
}

} // namespace

Endpoint Endpoint::parse(std::string_view text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        reject(text, "there is no ':' between the address and the port; write it like 192.168.1.169:5");
    }
    if (text.find(':') != colon) {
        reject(text, "it has more than one ':'; write one IPv4 address, one ':', one port (IPv6 is not "
                     "part of this lab)");
    }
    const std::string_view address = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    if (address.empty()) {
        reject(text, "the address before ':' is missing");
    }
    if (port.empty()) {
        reject(text, "the port after ':' is missing");
    }
    // Re-throw the part's error with the whole endpoint quoted first, so the reader sees both.
    try {
        return Endpoint{Ipv4Address::parse(address), parse_port(port)};
    } catch (const std::invalid_argument& e) {
        reject(text, e.what());
    }
}

std::string Endpoint::to_string() const {
    return address.to_string() + ":" + std::to_string(port);
}

sockaddr_in Endpoint::to_sockaddr() const {
    sockaddr_in result{};
    result.sin_family = AF_INET;
    // Both numbers go on the wire most significant byte first, whatever this CPU's order is.
    result.sin_port = htons(port);
    result.sin_addr.s_addr = htonl(address.value());
    return result;
}

Endpoint Endpoint::from_sockaddr(const sockaddr_in& address) {
    if (address.sin_family != AF_INET) {
        throw std::invalid_argument("not an IPv4 socket address: its family is " +
                                    std::to_string(address.sin_family) + ", AF_INET is " +
                                    std::to_string(AF_INET));
    }
    return Endpoint{Ipv4Address(ntohl(address.sin_addr.s_addr)), ntohs(address.sin_port)};
}

} // namespace socklab
