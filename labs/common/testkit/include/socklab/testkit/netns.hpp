// Private network namespaces: where a test may try things that would otherwise leave the machine.
#pragma once

#include "socklab/testkit/deadline.hpp"

#include <functional>
#include <string>

namespace socklab::testkit {

// What happened to a body run in a private network namespace.
struct NetnsOutcome {
    bool ran = false;    // false: no namespace could be made here (see reason)
    std::string reason;  // why not, when !ran
    std::string result;  // what body returned, or "exception: <what()>" if it threw
};

// Forks a child that enters a new network namespace (unshare(CLONE_NEWNET): one loopback
// interface, down, and no route anywhere, so no packet can leave the machine), runs body there and
// reports what it returned. Needs root or CAP_SYS_ADMIN; without them, ran is false.
[[nodiscard]] NetnsOutcome run_in_private_netns(const std::function<std::string()>& body,
                                                milliseconds timeout = milliseconds(5000));

} // namespace socklab::testkit
