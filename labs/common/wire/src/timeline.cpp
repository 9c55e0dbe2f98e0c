#include "socklab/wire/timeline.hpp"

#include "socklab/escape.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

namespace socklab::wire {

namespace {

constexpr std::size_t kPreviewBytes = 24;

// An end as a map key: its address, then its port.
std::uint64_t key(const End& e) {
    return (static_cast<std::uint64_t>(e.address) << 16) | e.port;
}

// A connection by its two ends, whichever way a segment goes.
std::pair<std::uint64_t, std::uint64_t> connection(const Segment& s) {
    const std::uint64_t a = key(s.from);
    const std::uint64_t b = key(s.to);
    return {std::min(a, b), std::max(a, b)};
}

std::string icmp_text(const Segment& s) {
    if (s.icmp_type == 3) {
        static const char* const kUnreachable[] = {"network unreachable", "host unreachable",
                                                   "protocol unreachable", "port unreachable"};
        return std::string("ICMP destination unreachable (") +
               (s.icmp_code < 4 ? kUnreachable[s.icmp_code] : "code " + std::to_string(s.icmp_code)) + ")";
    }
    return "ICMP type " + std::to_string(s.icmp_type) + " code " + std::to_string(s.icmp_code);
}

} // namespace

std::vector<Segment> segments_of(const std::vector<Frame>& frames, int link_type) {
    std::vector<Segment> out;
    for (const Frame& f : frames) {
        if (auto s = decode(f, link_type)) {
            out.push_back(std::move(*s));
        }
    }
    return out;
}

std::vector<Segment> active_since(const std::vector<Segment>& segments, std::chrono::microseconds from) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> active;
    for (const Segment& s : segments) {
        if (!s.icmp && s.time >= from &&
            std::find(active.begin(), active.end(), connection(s)) == active.end()) {
            active.push_back(connection(s));
        }
    }
    std::vector<Segment> out;
    for (const Segment& s : opened_during(segments)) {
        if (s.icmp ? s.time >= from
                   : std::find(active.begin(), active.end(), connection(s)) != active.end()) {
            out.push_back(s);
        }
    }
    return out;
}

std::vector<Segment> opened_during(const std::vector<Segment>& segments) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
    std::vector<Segment> out;
    for (const Segment& s : segments) {
        if (!s.icmp && (s.flags & kSyn) != 0 && (s.flags & kAck) == 0 &&
            std::find(seen.begin(), seen.end(), connection(s)) == seen.end()) {
            seen.push_back(connection(s));
        }
        if (s.icmp || std::find(seen.begin(), seen.end(), connection(s)) != seen.end()) {
            out.push_back(s);
        }
    }
    return out;
}

std::string timeline(const std::vector<Segment>& segments, const std::vector<Role>& roles) {
    if (segments.empty()) {
        return "(no TCP segment was sent)\n";
    }
    // The roles: those given, then "client" for the sender of a first SYN and "server" for its
    // receiver; an end seen no other way is named by its place, "peer".
    std::map<std::uint64_t, std::string> names;
    for (const Role& r : roles) {
        names.emplace(key(r.end), r.name);
    }
    for (const Segment& s : segments) {
        if (!s.icmp && (s.flags & kSyn) != 0 && (s.flags & kAck) == 0) {
            names.emplace(key(s.from), "client");
            names.emplace(key(s.to), "server");
        }
    }
    const auto name = [&names](const End& e) {
        const auto it = names.find(key(e));
        return it != names.end() ? it->second : std::string("peer");
    };
    std::size_t width = 0;     // of a role's name
    std::size_t end_width = 0; // of an end, "127.0.0.1:41234"
    for (const Segment& s : segments) {
        width = std::max({width, name(s.from).size(), name(s.to).size()});
        end_width = std::max({end_width, to_string(s.from).size(), to_string(s.to).size()});
    }
    // Sequence numbers from each direction's first (a SYN's is 0, its first byte of data 1).
    std::map<std::uint64_t, std::uint32_t> first_seq; // by the sending end
    for (const Segment& s : segments) {
        if (!s.icmp) {
            first_seq.emplace(key(s.from), s.seq);
        }
    }
    const auto padded = [](std::string text, std::size_t to) {
        text.resize(std::max(text.size(), to), ' ');
        return text;
    };
    const auto start = segments.front().time;
    std::string out;
    for (const Segment& s : segments) {
        char time[32];
        std::snprintf(time, sizeof time, "%9.3f ms  ",
                      std::chrono::duration<double, std::milli>(s.time - start).count());
        std::string line = time;
        line += padded(name(s.from), width) + " " + padded(to_string(s.from), end_width) + " -> " +
                padded(name(s.to), width) + " " + padded(to_string(s.to), end_width) + "  ";
        if (s.icmp) {
            line += icmp_text(s);
        } else {
            std::string flags = flags_text(s.flags);
            flags.resize(std::max<std::size_t>(flags.size(), 8), ' ');
            line += flags + " seq " + std::to_string(s.seq - first_seq[key(s.from)]);
            if ((s.flags & kAck) != 0) {
                const auto other = first_seq.find(key(s.to));
                line += " ack " + std::to_string(other != first_seq.end() ? s.ack - other->second : s.ack);
            }
            if (s.length > 0) {
                // The start of the bytes only: the script's transcript or the test shows them whole.
                const std::string_view start = std::string_view(s.payload).substr(0, kPreviewBytes);
                line += "  " + std::to_string(s.length) + (s.length == 1 ? " byte \"" : " bytes \"") +
                        escape::escaped(start) + (s.length > start.size() ? "\"..." : "\"");
            }
        }
        while (!line.empty() && line.back() == ' ') {
            line.pop_back();
        }
        out += line + "\n";
    }
    return out;
}

} // namespace socklab::wire
