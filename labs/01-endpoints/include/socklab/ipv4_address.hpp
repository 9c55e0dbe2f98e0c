// Ipv4Address: a 32-bit IPv4 address, written as four 8-bit numbers in dotted decimal.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace socklab {

// What kind of address this is (IANA special-purpose registry, RFC 6890 and friends).
enum class AddressClass {
    Unspecified,   // 0.0.0.0: "every address of this host" when binding; never a destination
    Loopback,      // 127.0.0.0/8: this host itself; packets never leave the machine
    Private,       // 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918): not routed on the Internet
    Shared,        // 100.64.0.0/10 (RFC 6598): between a carrier's NAT and its customers
    LinkLocal,     // 169.254.0.0/16: self-assigned when no DHCP server answered
    Documentation, // 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (RFC 5737): for examples only
    Multicast,     // 224.0.0.0/4: one sender, a group of receivers
    Broadcast,     // 255.255.255.255: every host on the local network
    Reserved,      // 0.0.0.0/8 (but 0.0.0.0) and 240.0.0.0/4 (but broadcast): not for use
    Public,        // everything else: an address on the Internet
};

// The class's name as the docs and lab01-endpoint print it: "private", "link-local", ...
[[nodiscard]] constexpr std::string_view to_string(AddressClass address_class) {
    switch (address_class) {
    case AddressClass::Unspecified: return "unspecified";
    case AddressClass::Loopback: return "loopback";
    case AddressClass::Private: return "private";
    case AddressClass::Shared: return "shared";
    case AddressClass::LinkLocal: return "link-local";
    case AddressClass::Documentation: return "documentation";
    case AddressClass::Multicast: return "multicast";
    case AddressClass::Broadcast: return "broadcast";
    case AddressClass::Reserved: return "reserved";
    case AddressClass::Public: return "public";
    }
    return "?";
}

class Ipv4Address {
public:
    // 0.0.0.0
    constexpr Ipv4Address() = default;
    // From the 32-bit value in host byte order: 0xC0A801A9 is 192.168.1.169.
    constexpr explicit Ipv4Address(std::uint32_t value) : value_(value) {}
    // From the four numbers as written: Ipv4Address(192, 168, 1, 169).
    constexpr Ipv4Address(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
        : value_(std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d) {}

    // Parses dotted decimal: exactly four decimal numbers 0-255 separated by '.', nothing else
    // (no spaces, no signs, no leading zeros: "010" is rejected because some tools read it as
    // octal 8). Throws std::invalid_argument that quotes text and says what is wrong.
    [[nodiscard]] static Ipv4Address parse(std::string_view text);

    // Dotted decimal, the form parse() accepts: "192.168.1.169".
    [[nodiscard]] std::string to_string() const;

    // Which range of the address space this address is in.
    [[nodiscard]] AddressClass classify() const;

    // The 32-bit value in host byte order.
    [[nodiscard]] constexpr std::uint32_t value() const { return value_; }
    // The four numbers as written, most significant first: {192, 168, 1, 169}.
    [[nodiscard]] constexpr std::array<std::uint8_t, 4> octets() const {
        return {static_cast<std::uint8_t>(value_ >> 24), static_cast<std::uint8_t>(value_ >> 16),
                static_cast<std::uint8_t>(value_ >> 8), static_cast<std::uint8_t>(value_)};
    }

    // 127.0.0.1, this host.
    [[nodiscard]] static constexpr Ipv4Address loopback() { return Ipv4Address(127, 0, 0, 1); }
    // 0.0.0.0, every address of this host (when binding).
    [[nodiscard]] static constexpr Ipv4Address any() { return Ipv4Address(); }

    friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;

private:
    std::uint32_t value_ = 0;
};

} // namespace socklab
