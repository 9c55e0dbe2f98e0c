// The wire under a test (docs/reference/wire.md): part of a test run in a child process with a
// network namespace of its own, whose loopback is captured while it runs, so that a test can
// check what went over the wire (a RST, a FIN, how many segments) and show the timeline when it
// fails.
#pragma once

#include "socklab/testkit/deadline.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace socklab::testkit {

// Names for the ends of the connections, given by the body: the port a listener was bound to,
// say, becomes "server" in the timeline.
class WireNames {
public:
    void name(std::uint16_t port, const std::string& role) { names_.emplace_back(port, role); }
    [[nodiscard]] const std::vector<std::pair<std::uint16_t, std::string>>& all() const { return names_; }

private:
    std::vector<std::pair<std::uint16_t, std::string>> names_;
};

// What a body run on the wire gave back.
struct OnTheWire {
    bool ran = false;     // false: no private namespace or no capture here (reason says why): skip
    std::string reason;   // why not, when !ran
    std::string result;   // what the body returned, or "exception: <what()>"
    std::string timeline; // the segments it sent and received, one line each, as socklab-wire prints

    // The segments as "FROM -> TO FLAGS", in order: "client -> server SYN", "server -> client RST ACK".
    [[nodiscard]] std::vector<std::string> segments() const;
    // How many segments went from `from` to `to` with exactly these flags ("FIN ACK").
    [[nodiscard]] std::size_t count(const std::string& from, const std::string& to,
                                    const std::string& flags) const;
    // How many segments from `from` to `to` carried data.
    [[nodiscard]] std::size_t data_segments(const std::string& from, const std::string& to) const;
    // How many segments anywhere had this flag ("RST").
    [[nodiscard]] std::size_t with_flag(const std::string& flag) const;
};

// Runs body in a child process, in a private network namespace with its loopback up and captured,
// and returns what it returned with the timeline of what it sent. The child's memory is a copy.
// TimeoutError when it takes longer than timeout.
[[nodiscard]] OnTheWire run_on_the_wire(const std::function<std::string(WireNames&)>& body,
                                        milliseconds timeout = milliseconds(5000));

} // namespace socklab::testkit
