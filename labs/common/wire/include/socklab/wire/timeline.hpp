// Captured segments as a student reads them, one line each:
//
//     0.000 ms  client 127.0.0.1:41234 -> server 127.0.0.1:20000  SYN      seq 0
//     0.011 ms  server 127.0.0.1:20000 -> client 127.0.0.1:41234  RST ACK  seq 0 ack 1
//
// times from the first segment, sequence numbers from each side's first, payload length and a
// short escaped preview, and the ends named by their roles.
#pragma once

#include "socklab/wire/segment.hpp"

#include <string>
#include <vector>

namespace socklab::wire {

// A name for an end, "server" say: the ends a test or a script knows. An end no role names is
// "client" when it sent a connection's first SYN and "server" when it received it.
struct Role {
    End end;
    std::string name;
};

// The segments as a timeline, one line each, every line ending in '\n'. An empty capture reads
// "(no TCP segment was sent)\n".
[[nodiscard]] std::string timeline(const std::vector<Segment>& segments, const std::vector<Role>& roles = {});

// The segments of the connections whose first SYN is among them, and every ICMP error: what a
// capture saw of the connections opened while it ran, without the end of older ones.
[[nodiscard]] std::vector<Segment> opened_during(const std::vector<Segment>& segments);

// The segments of every connection that sent one at `from` or later, from its first SYN on (so a
// connection opened earlier shows whole), and the ICMP errors since `from`: what a check did on
// the connections it used.
[[nodiscard]] std::vector<Segment> active_since(const std::vector<Segment>& segments,
                                                std::chrono::microseconds from);

// The frames a capture returned, decoded; what is not IPv4 TCP or ICMP is left out.
[[nodiscard]] std::vector<Segment> segments_of(const std::vector<Frame>& frames, int link_type);

} // namespace socklab::wire
