#include "socklab/wire/segment.hpp"

#include <pcap/dlt.h>

#include <string_view>

namespace socklab::wire {

namespace {

// Big-endian fields of a header (network byte order), read without alignment.
std::uint16_t u16(std::string_view b, std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(b[at]) << 8) |
                                      static_cast<unsigned char>(b[at + 1]));
}
std::uint32_t u32(std::string_view b, std::size_t at) {
    return (static_cast<std::uint32_t>(u16(b, at)) << 16) | u16(b, at + 2);
}

// A header length field counted in 32-bit words, in bytes.
std::size_t words(unsigned field) {
    return std::size_t{field} * 4;
}

// Where the IPv4 packet starts in a frame of this link type, or nothing when the frame holds
// something else (ARP, IPv6).
std::optional<std::size_t> ip_start(std::string_view frame, int link_type) {
    switch (link_type) {
    case DLT_EN10MB: // Linux's loopback: an Ethernet header of zero addresses
        if (frame.size() >= 14 && u16(frame, 12) == 0x0800) {
            return 14;
        }
        return std::nullopt;
    case DLT_LINUX_SLL:
        if (frame.size() >= 16 && u16(frame, 14) == 0x0800) {
            return 16;
        }
        return std::nullopt;
    case DLT_RAW:
    case DLT_IPV4: return 0;
    default: return std::nullopt;
    }
}

// The TCP ends and sequence number of a TCP header at `at` of packet (the one an ICMP error
// quotes holds its first 8 bytes at least).
void read_ends(std::string_view ip, std::size_t tcp_at, Segment& s) {
    s.from = {u32(ip, 12), u16(ip, tcp_at)};
    s.to = {u32(ip, 16), u16(ip, tcp_at + 2)};
    s.seq = u32(ip, tcp_at + 4);
}

} // namespace

std::string to_string(const End& end) {
    return std::to_string(end.address >> 24) + "." + std::to_string((end.address >> 16) & 0xff) + "." +
           std::to_string((end.address >> 8) & 0xff) + "." + std::to_string(end.address & 0xff) + ":" +
           std::to_string(end.port);
}

std::string flags_text(std::uint8_t flags) {
    std::string out;
    for (const auto& [flag, name] :
         {std::pair{kSyn, "SYN"}, std::pair{kFin, "FIN"}, std::pair{kRst, "RST"}, std::pair{kPsh, "PSH"},
          std::pair{kAck, "ACK"}, std::pair{kUrg, "URG"}}) {
        if ((flags & flag) != 0) {
            out += out.empty() ? "" : " ";
            out += name;
        }
    }
    return out.empty() ? "(no flag)" : out;
}

std::optional<Segment> decode(const Frame& frame, int link_type) {
    const std::string_view bytes = frame.bytes;
    const auto start = ip_start(bytes, link_type);
    if (!start || bytes.size() < *start + 20) {
        return std::nullopt;
    }
    std::string_view ip = bytes.substr(*start);
    const std::size_t ip_header = words(static_cast<unsigned char>(ip[0]) & 0x0fU);
    const std::size_t total = u16(ip, 2);
    if ((static_cast<unsigned char>(ip[0]) >> 4) != 4 || ip_header < 20 || ip.size() < ip_header) {
        return std::nullopt;
    }
    ip = ip.substr(0, std::min(ip.size(), total));
    Segment s;
    s.time = frame.time;
    const unsigned protocol = static_cast<unsigned char>(ip[9]);
    if (protocol == 6) { // TCP
        if (ip.size() < ip_header + 20) {
            return std::nullopt;
        }
        const std::size_t tcp_header = words(static_cast<unsigned char>(ip[ip_header + 12]) >> 4U);
        read_ends(ip, ip_header, s);
        s.ack = u32(ip, ip_header + 8);
        s.flags = static_cast<std::uint8_t>(ip[ip_header + 13]) & 0x3f;
        s.length = total > ip_header + tcp_header ? total - ip_header - tcp_header : 0;
        if (ip.size() > ip_header + tcp_header) {
            s.payload = std::string(ip.substr(ip_header + tcp_header));
        }
        return s;
    }
    if (protocol == 1 && ip.size() >= ip_header + 8) { // ICMP: about the TCP segment it quotes
        s.icmp = true;
        s.icmp_type = static_cast<std::uint8_t>(ip[ip_header]);
        s.icmp_code = static_cast<std::uint8_t>(ip[ip_header + 1]);
        const std::string_view quoted = ip.substr(ip_header + 8);
        if (quoted.size() >= 20) {
            const std::size_t inner = words(static_cast<unsigned char>(quoted[0]) & 0x0fU);
            if (static_cast<unsigned char>(quoted[9]) == 6 && quoted.size() >= inner + 8) {
                read_ends(quoted, inner, s);
                return s;
            }
        }
        s.from = {u32(ip, 12), 0};
        s.to = {u32(ip, 16), 0};
        return s;
    }
    return std::nullopt;
}

} // namespace socklab::wire
