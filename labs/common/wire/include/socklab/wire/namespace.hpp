// A network namespace of the calling thread's own, whose only interface is loopback, up: where
// a capture sees only what the programs started from here send.
#pragma once

#include <string>

namespace socklab::wire {

// Moves the calling thread (and what it starts from now on) into a new network namespace: with
// unshare(CLONE_NEWNET) as root, else inside a new user namespace (where this process holds
// CAP_NET_RAW for the capture, and the programs it starts run as they would), then brings lo up.
// Must be called before the process has a second thread (the kernel refuses a user namespace
// then). Returns "" on success, or why it could not be done.
[[nodiscard]] std::string enter_private_network();

// Brings the interface lo of the current network namespace up (a new namespace has it down).
// Returns "" on success, or why not.
[[nodiscard]] std::string bring_loopback_up();

} // namespace socklab::wire
