// The script runner and the wire (docs/reference/wire.md): the segments of a failed check's
// connections in its report, and expect-fin, an orderly close checked on the wire.
#include "runner_state.hpp"

#include "socklab/wire/timeline.hpp"

#include <sstream>
#include <string>
#include <vector>

namespace socklab::script::detail {

std::string Runner::wire_text() const {
    if (options_.stable) {
        return ""; // times and segments vary from run to run: not for golden files
    }
    if (options_.capture == nullptr) {
        return options_.wire_unavailable.empty()
                   ? ""
                   : "the wire: not captured here (" + options_.wire_unavailable + ")\n";
    }
    const auto from = std::chrono::duration_cast<std::chrono::microseconds>(wire_from_.time_since_epoch());
    const std::vector<wire::Segment> segments = wire::active_since(
        wire::segments_of(options_.capture->frames_so_far(), options_.capture->link_type()), from);
    std::vector<wire::Role> roles;
    for (const auto& [name, p] : programs_) {
        if (p->port() > 0) {
            roles.push_back({{0x7f000001U, static_cast<std::uint16_t>(p->port())}, name});
        }
    }
    for (const auto& [name, l] : listeners_) {
        roles.push_back({{0x7f000001U, static_cast<std::uint16_t>(l.port)}, name});
    }
    for (const auto& [name, c] : channels_) {
        if (c->local_port > 0) {
            roles.push_back({{0x7f000001U, static_cast<std::uint16_t>(c->local_port)}, name});
        }
    }
    // As the transcript, a report keeps the start (the handshakes) and the end (how the connections
    // ended) of a long capture: a megabyte in small segments is thousands of lines.
    constexpr std::size_t kFirst = 20;
    constexpr std::size_t kLast = 80;
    std::string shown;
    std::istringstream lines(wire::timeline(segments, roles));
    std::vector<std::string> all;
    for (std::string line; std::getline(lines, line);) {
        all.push_back(line);
    }
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all.size() > kFirst + kLast && i == kFirst) {
            shown += "    (" + std::to_string(all.size() - kFirst - kLast) + " segments not shown)\n";
            i = all.size() - kLast;
        }
        shown += all[i] + "\n";
    }
    return "the wire: the TCP segments of this check's connections (docs/reference/wire.md):\n" + shown;
}

std::optional<Failure> Runner::expect_fin(Channel& c, const Step& step) {
    if (auto f = expect_end(c, step)) { // the bytes first: the end of the stream, and nothing before it
        return f;
    }
    if (options_.capture == nullptr || c.local_port == 0) {
        log(c.name, "  ", "EOF (the wire is not captured here: only the end of the stream was checked)");
        return std::nullopt;
    }
    bool fin = false;
    bool reset = false;
    for (const wire::Segment& s :
         wire::segments_of(options_.capture->frames_so_far(), options_.capture->link_type())) {
        if (s.icmp || (s.from.port != c.local_port && s.to.port != c.local_port)) {
            continue;
        }
        fin = fin || (s.to.port == c.local_port && (s.flags & wire::kFin) != 0);
        reset = reset || (s.flags & wire::kRst) != 0;
    }
    if (fin && !reset) {
        log(c.name, "  ", "the wire: the peer's FIN, and no RST");
        return std::nullopt;
    }
    return Failure{
        c.name + (reset
                      ? ": the wire shows a RST on this connection, where an orderly close (FIN) was expected"
                      : ": the wire shows no FIN from the peer, though the stream ended"),
        "",
        "a close with bytes still unread in the receive buffer sends RST: read what the peer sent "
        "(or shut down the writing side and drain) before close (the wire is in this report)"};
}

} // namespace socklab::script::detail
