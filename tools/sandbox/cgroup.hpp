// Limits for all of a submission's processes together: a cgroup (v2, or the v1 memory and pids
// controllers) that root makes for one grade, that every sandboxed program joins, and through
// which they are all killed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace socklab::sandbox {

class Group {
public:
    // Makes the cgroup "socklab-grade-<name>" with at most memory_bytes of memory and max_processes
    // processes (and threads) in all. nullptr when the machine does not let this process make one
    // (not root, no controller, a container's cgroup namespace), with the reason in why_not.
    static std::unique_ptr<Group> make(const std::string& name, std::uint64_t memory_bytes, int max_processes,
                                       std::string& why_not);
    ~Group(); // kills what is left and removes the cgroup
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;

    // The folders a process joins (Policy::cgroups): one per controller in v1, one in v2.
    [[nodiscard]] const std::vector<std::string>& folders() const { return folders_; }
    // SIGKILL to every process in the cgroup, until none is left (at most a few seconds), after
    // waiting up to grace for them to end by themselves (a sandbox whose bwrap was killed takes
    // its processes down a moment later). Returns how many had to be killed.
    int kill_all(std::chrono::milliseconds grace = std::chrono::milliseconds(0));
    // How many processes are in it now.
    [[nodiscard]] int count() const;
    // "cgroup v1 (memory, pids): 2048 MiB, 256 processes", for the report's notes.
    [[nodiscard]] std::string describe() const { return description_; }

private:
    Group() = default;
    std::vector<std::string> folders_;
    bool v2_ = false;
    std::string description_;
};

} // namespace socklab::sandbox
