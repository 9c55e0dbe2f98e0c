// A captured frame read as what a lab is about: a TCP segment (its ends, flags, sequence numbers
// and bytes) or an ICMP error about one. IPv4 only, as the labs are.
#pragma once

#include "socklab/wire/capture.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace socklab::wire {

// An IPv4 address and a port, both in host byte order.
struct End {
    std::uint32_t address = 0;
    std::uint16_t port = 0;
    friend bool operator==(const End&, const End&) = default;
};
// "127.0.0.1:20000"
[[nodiscard]] std::string to_string(const End& end);

// TCP's flags, as they sit in the header's 13th byte.
enum Flag : std::uint8_t { kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20 };
// The flags in the order a reader says them: "SYN", "SYN ACK", "PSH ACK", "FIN ACK", "RST ACK".
[[nodiscard]] std::string flags_text(std::uint8_t flags);

struct Segment {
    std::chrono::microseconds time{0};
    End from;
    End to;
    bool icmp = false;          // an ICMP error; from and to are then those of the TCP segment it is about
    std::uint8_t icmp_type = 0; // 3: destination unreachable, 11: time exceeded, ...
    std::uint8_t icmp_code = 0;
    std::uint8_t flags = 0;
    std::uint32_t seq = 0; // as on the wire (a timeline makes them relative)
    std::uint32_t ack = 0;
    std::size_t length = 0; // how many bytes of data the segment carries
    std::string payload;    // their start, as captured (at most kSnapLength less the headers)
};

// The segment a frame carries, or nothing for a frame that is not IPv4 TCP or ICMP (ARP, IPv6)
// or is cut short. link_type is the capture's (Capture::link_type()).
[[nodiscard]] std::optional<Segment> decode(const Frame& frame, int link_type);

} // namespace socklab::wire
