#include "socklab/ipv4_address.hpp"

#include <stdexcept>

namespace socklab {
namespace {

[[noreturn]] void reject(std::string_view text, const std::string& why) {
    throw std::invalid_argument("invalid IPv4 address \"" + std::string(text) + "\": " + why);
}

// One of the four parts: a decimal number 0-255 without a leading zero.
std::uint8_t parse_part(std::string_view whole, std::string_view part, int number) {
    const std::string which = "part " + std::to_string(number);
    if (part.empty()) {
        reject(whole, which + " is empty (two dots in a row, or a dot at an end)");
    }
    for (const char c : part) {
        if (c < '0' || c > '9') {
            reject(whole,
                   which + " holds '" + std::string(1, c) +
                       "', which is not a digit: write four numbers 0-255 joined by dots, like 192.168.1.5");
        }
    }
    if (part.size() > 1 && part[0] == '0') {
        reject(whole, which + " \"" + std::string(part) +
                          "\" has a leading zero, which some tools read as octal; write it without");
    }
    // Three digits at most, so the value cannot overflow before the range check.
    unsigned value = 0;
    for (const char c : part.substr(0, 4)) {
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (part.size() > 3 || value > 255) {
        reject(whole, which + " is " + std::string(part) +
                          ", more than 255: each part is one 8-bit number, 0 to 255");
    }
    return static_cast<std::uint8_t>(value);
}

} // namespace

Ipv4Address Ipv4Address::parse(std::string_view text) {
    if (text.empty()) {
        reject(text, "it is empty; write four numbers 0-255 joined by dots, like 192.168.1.5");
    }
    std::array<std::uint8_t, 4> parts{};
    std::size_t count = 0;
    std::string_view rest = text;
    for (;;) {
        const std::size_t dot = rest.find('.');
        const std::string_view part = rest.substr(0, dot);
        if (count == 4) {
            reject(text, "it has more than 4 parts; an IPv4 address has exactly 4");
        }
        parts[count] = parse_part(text, part, static_cast<int>(count + 1));
        ++count;
        if (dot == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(dot + 1);
    }
    if (count != 4) {
        reject(text, "it has " + std::to_string(count) + " part" + (count == 1 ? "" : "s") +
                         "; an IPv4 address has exactly 4");
    }
    return Ipv4Address(parts[0], parts[1], parts[2], parts[3]);
}

std::string Ipv4Address::to_string() const {
    const auto o = octets();
    return std::to_string(o[0]) + "." + std::to_string(o[1]) + "." + std::to_string(o[2]) + "." +
           std::to_string(o[3]);
}

AddressClass Ipv4Address::classify() const {
    // Whether this address is inside network/prefix_length.
    const auto in = [this](Ipv4Address network, int prefix_length) {
        const std::uint32_t mask = ~std::uint32_t{0} << (32 - prefix_length);
        return (value_ & mask) == network.value();
    };
    // One test a class, in the order of the table in docs/labs/01-endpoints.md: alike on purpose.
    if (value_ == 0) {
        return AddressClass::Unspecified;
    }
    if (value_ == 0xFFFFFFFFU) {
        return AddressClass::Broadcast;
    }
    if (in(Ipv4Address(127, 0, 0, 0), 8)) {
        return AddressClass::Loopback;
    }
    if (in(Ipv4Address(10, 0, 0, 0), 8) || in(Ipv4Address(172, 16, 0, 0), 12) ||
        in(Ipv4Address(192, 168, 0, 0), 16)) {
        return AddressClass::Private;
    }
    if (in(Ipv4Address(100, 64, 0, 0), 10)) {
        return AddressClass::Shared;
    }
    if (in(Ipv4Address(169, 254, 0, 0), 16)) {
        return AddressClass::LinkLocal;
    }
    if (in(Ipv4Address(192, 0, 2, 0), 24) || in(Ipv4Address(198, 51, 100, 0), 24) ||
        in(Ipv4Address(203, 0, 113, 0), 24)) {
        return AddressClass::Documentation;
    }
    if (in(Ipv4Address(224, 0, 0, 0), 4)) {
        return AddressClass::Multicast;
    }
    if (in(Ipv4Address(0, 0, 0, 0), 8) || in(Ipv4Address(240, 0, 0, 0), 4)) {
        return AddressClass::Reserved;
    }
    return AddressClass::Public;
}

} // namespace socklab
