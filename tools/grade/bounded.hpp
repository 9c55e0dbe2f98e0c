// Runs a program of the submission's with a wall-clock deadline, in a process group of its own
// that is killed whole when it ends, keeping at most a bounded amount of its output.
#pragma once

#include "process.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace socklab::grade {

struct Bounds {
    std::chrono::milliseconds wall{20000};
    std::size_t max_output = 256 * 1024; // bytes kept of stdout+stderr (the rest is counted, not kept)
    std::string cwd;                     // empty: the grader's own
    script::Confinement confinement;     // the sandbox, a user (the limits are always set)
    bool report_fd = false;              // give the program a descriptor 3 whose bytes are BoundedRun::report
};

struct BoundedRun {
    int exit_code = -1;     // when it exited
    int signal = 0;         // when a signal killed it
    bool timed_out = false; // the deadline passed and the grader killed it
    double seconds = 0;
    std::string output;      // stdout and stderr, interleaved as written
    std::size_t dropped = 0; // output bytes beyond max_output
    std::string report;      // what it wrote on descriptor 3 (Bounds::report_fd), at most 4 MiB

    // "exited with code 1", "was killed by SIGSEGV", "timed out after 20 s"
    [[nodiscard]] std::string status_text() const;
};

// Starts argv[0] (a path) with argv and the extra environment entries (NAME=value), in the sandbox
// when bounds.confinement enables it (then the environment is only the sandbox's and env), waits
// until it ends or the deadline passes, then kills its whole process group (a sandbox: all of it). Throws
// std::system_error when the program cannot be started.
[[nodiscard]] BoundedRun run_bounded(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env, const Bounds& bounds);

} // namespace socklab::grade
