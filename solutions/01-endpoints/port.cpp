#include "socklab/port.hpp"

#include <stdexcept>
#include <string>

namespace socklab {
namespace {

[[noreturn]] void reject(std::string_view text, const std::string& why) {
    throw std::invalid_argument("invalid port \"" + std::string(text) + "\": " + why);
}

} // namespace

std::uint16_t parse_port(std::string_view text) {
    if (text.empty()) {
        reject(text, "it is empty; a port is a number from 0 to 65535");
    }
    for (const char c : text) {
        if (c < '0' || c > '9') {
            reject(text, "'" + std::string(1, c) +
                             "' is not a digit; a port is a number from 0 to 65535, without sign or spaces");
        }
    }
    if (text.size() > 1 && text[0] == '0') {
        reject(text, "it has a leading zero; write it without");
    }
    std::uint32_t value = 0;
    for (const char c : text.substr(0, 6)) {
        value = value * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (text.size() > 5 || value > kMaxPort) {
        reject(text, "it is more than 65535: a port is a 16-bit number, 0 to 65535");
    }
    return static_cast<std::uint16_t>(value);
}

PortClass classify_port(std::uint16_t port) {
    if (port <= 1023) {
        return PortClass::WellKnown;
    }
    if (port <= 49151) {
        return PortClass::Registered;
    }
    return PortClass::Dynamic;
}

} // namespace socklab
