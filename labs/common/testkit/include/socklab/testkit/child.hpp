// Running a piece of a test in a child process set up differently: in a private network
// namespace (where nothing sent can leave the machine) or without root's privileges.
#pragma once

#include "socklab/testkit/deadline.hpp"
#include "socklab/unique_fd.hpp"

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace socklab::testkit {

// What happened to a body run in a child.
struct ChildOutcome {
    bool ran = false;   // false: the child could not be set up here (see reason)
    std::string reason; // why not, when !ran
    std::string result; // what body returned, or "exception: <what()>" if it threw
};

// How to set up the child before body runs.
struct ChildSetup {
    // unshare(CLONE_NEWNET): a new network namespace with one loopback interface, down, and no
    // route anywhere, so no packet can leave the machine. Needs root or CAP_SYS_ADMIN.
    bool private_netns = false;
    // When running as root: become nobody (uid and gid 65534), to see what a user without
    // privilege sees. A process that is not root already is without privilege.
    bool drop_privileges = false;
};

// Forks a child, sets it up, runs body there and reports what it returned. The child's memory is a
// copy: what body changes stays in the child. TimeoutError when it takes longer than timeout.
[[nodiscard]] ChildOutcome run_in_child(const std::function<std::string()>& body, ChildSetup setup,
                                        milliseconds timeout = milliseconds(5000));

// run_in_child with a private network namespace.
[[nodiscard]] inline ChildOutcome run_in_private_netns(const std::function<std::string()>& body,
                                                       milliseconds timeout = milliseconds(5000)) {
    return run_in_child(body, ChildSetup{.private_netns = true}, timeout);
}

// A server in a child process of its own: it listens on 127.0.0.1:0, accepts one connection,
// never reads from it, and waits to be killed: a server that "crashes" when the test says so.
class ServerInChild {
public:
    ServerInChild();
    ServerInChild(const ServerInChild&) = delete;
    ServerInChild& operator=(const ServerInChild&) = delete;
    // Kills and reaps the child if it still runs.
    ~ServerInChild();

    [[nodiscard]] std::uint16_t port() const { return port_; }
    // Waits until the child has accepted its connection; TimeoutError at the deadline.
    void wait_accepted(Deadline deadline);
    // SIGKILL, then reap: the kernel closes the child's sockets as it would for any crash (FIN,
    // or RST when data it never read is still in its receive buffer).
    void crash();

private:
    pid_t pid_ = -1;
    UniqueFd signal_fd_; // read end of a pipe: the child writes one byte after accept
    std::uint16_t port_ = 0;
};

} // namespace socklab::testkit
