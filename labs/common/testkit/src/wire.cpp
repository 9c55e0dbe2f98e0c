#include "socklab/testkit/wire.hpp"

#include "socklab/testkit/child.hpp"
#include "socklab/wire/capture.hpp"
#include "socklab/wire/namespace.hpp"
#include "socklab/wire/timeline.hpp"

#include <algorithm>
#include <regex>
#include <sstream>

namespace socklab::testkit {

namespace {

constexpr char kSeparator = '\x1f';           // between the body's result and the timeline
constexpr const char* kUnavailable = "\x1eU"; // the child could not capture: the reason follows

// "  0.011 ms  server 127.0.0.1:9 -> client 127.0.0.1:1  RST ACK  seq 0 ack 1  5 bytes ..."
const std::regex& segment_line() {
    static const std::regex line(R"(^\s*[\d.]+ ms  (\S+)\s+\S+\s+->\s+(\S+)\s+\S+\s+(.+?)\s+seq \d+.*$)");
    return line;
}

} // namespace

std::vector<std::string> OnTheWire::segments() const {
    std::vector<std::string> out;
    std::istringstream lines(timeline);
    std::smatch m;
    for (std::string line; std::getline(lines, line);) {
        if (std::regex_match(line, m, segment_line())) {
            out.push_back(m[1].str() + " -> " + m[2].str() + " " + m[3].str());
        }
    }
    return out;
}

std::size_t OnTheWire::count(const std::string& from, const std::string& to, const std::string& flags) const {
    std::string wanted = from;
    wanted += " -> ";
    wanted += to;
    wanted += " ";
    wanted += flags;
    const std::vector<std::string> all = segments();
    return static_cast<std::size_t>(std::count(all.begin(), all.end(), wanted));
}

std::size_t OnTheWire::data_segments(const std::string& from, const std::string& to) const {
    std::size_t n = 0;
    std::istringstream lines(timeline);
    std::smatch m;
    for (std::string line; std::getline(lines, line);) {
        if (std::regex_match(line, m, segment_line()) && m[1] == from && m[2] == to &&
            std::regex_search(line, std::regex(R"(  \d+ bytes? ")"))) {
            ++n;
        }
    }
    return n;
}

std::size_t OnTheWire::with_flag(const std::string& flag) const {
    std::size_t n = 0;
    for (const std::string& s : segments()) {
        n += (" " + s + " ").find(" " + flag + " ") != std::string::npos ? 1 : 0;
    }
    return n;
}

OnTheWire run_on_the_wire(const std::function<std::string(WireNames&)>& body, milliseconds timeout) {
    const ChildOutcome child = run_in_private_netns(
        [&body]() -> std::string {
            std::string why = wire::bring_loopback_up();
            std::unique_ptr<wire::Capture> capture;
            if (why.empty()) {
                capture = wire::Capture::start(why);
            }
            if (!capture) {
                return kUnavailable + why;
            }
            WireNames names;
            std::string result;
            try {
                result = body(names);
            } catch (const std::exception& e) {
                result = std::string("exception: ") + e.what();
            }
            const auto frames = capture->stop();
            std::vector<wire::Role> roles;
            for (const auto& [port, role] : names.all()) {
                roles.push_back({{0x7f000001U, port}, role});
            }
            std::string timeline =
                wire::timeline(wire::opened_during(wire::segments_of(frames, capture->link_type())), roles);
            if (const unsigned lost = capture->dropped(); lost > 0) {
                timeline +=
                    "(the kernel dropped " + std::to_string(lost) + " frames the capture had no room for)\n";
            }
            return result + kSeparator + timeline;
        },
        timeout);
    OnTheWire out;
    if (!child.ran) {
        out.reason = child.reason;
        return out;
    }
    if (child.result.rfind(kUnavailable, 0) == 0) {
        out.reason = "no capture in the private network namespace: " + child.result.substr(2);
        return out;
    }
    const auto at = child.result.rfind(kSeparator);
    out.ran = true;
    out.result = child.result.substr(0, at);
    out.timeline = at == std::string::npos ? "" : child.result.substr(at + 1);
    return out;
}

} // namespace socklab::testkit
