// Ports: 16-bit numbers, 0-65535, that pick one socket among a host's.
#pragma once

#include <cstdint>
#include <string_view>

namespace socklab {

// The three ranges IANA divides the port numbers into (RFC 6335).
enum class PortClass {
    WellKnown,  // 0-1023, "system ports": assigned to standard services; binding needs privilege on Unix
    Registered, // 1024-49151, "user ports": assigned to applications on request
    Dynamic,    // 49152-65535: never assigned; free for temporary (ephemeral) use
};

// "well-known", "registered" or "dynamic".
[[nodiscard]] constexpr std::string_view to_string(PortClass port_class) {
    switch (port_class) {
    case PortClass::WellKnown: return "well-known";
    case PortClass::Registered: return "registered";
    case PortClass::Dynamic: return "dynamic";
    }
    return "?";
}

// The largest port number: a port is 16 bits.
inline constexpr std::uint32_t kMaxPort = 65535;

// Parses a port written in decimal: digits only, 0 to 65535, no sign, no spaces, no leading zero
// ("080"). Throws std::invalid_argument that quotes text and says what is wrong.
[[nodiscard]] std::uint16_t parse_port(std::string_view text);

// The IANA range port is in.
[[nodiscard]] PortClass classify_port(std::uint16_t port);

} // namespace socklab
