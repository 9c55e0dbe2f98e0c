// One sandbox for many programs: a launcher (socklab-sandbox-launcher, launcher_main.cpp) that
// bubblewrap starts once with a Policy's view, and that then starts each program it is asked for
// in PID, mount and IPC namespaces of its own, with a fresh /proc, /tmp and /dev/shm, as the
// policy's user, under per-program limits.
//
// Why: starting bubblewrap costs 15 to 20 ms per program (its namespaces and mounts); a grade
// starts about 400 programs. The launcher pays that once per lab and about 3 ms per program after.
// What a program sees and may do is the same as under bwrap alone: the same view, its own PID
// namespace (it cannot see or signal another program, the reference peer included), a new session,
// no privilege. The launcher itself is the grader's code, runs as root and is not dumpable: a
// program, running as the grading user, can neither trace nor signal it.
//
// Only where bubblewrap runs as root (Policy::privileged): with a user namespace, a new /proc could
// not be mounted over bwrap's (the kernel refuses a proc mount it sees as partly hidden), and each
// program gets a bwrap of its own as before.
#pragma once

#include "fd.hpp"
#include "sandbox.hpp"

#include <sys/types.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace socklab::sandbox {

// A program a launcher started. Destroying it kills the program and all it started.
class Program {
public:
    explicit Program(Fd control) : control_(std::move(control)) {}
    ~Program();
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    // Readable (poll(2) POLLIN) once the program has ended.
    [[nodiscard]] int fd() const { return control_.get(); }
    // Non-blocking: true once the program has ended, with its wait(2) status in status.
    bool ended(int& status);
    // Blocks until the program has ended; its wait(2) status.
    int wait();
    // Sends sig to the program (SIGKILL: to all of it, the program and what it started).
    void signal(int sig);

private:
    Fd control_; // the launcher kills the program as well when this end closes
    bool ended_ = false;
    int status_ = 0;
};

// What one program gets besides the launcher's policy.
struct Launch {
    std::vector<std::string> argv;          // argv[0] a path inside the view
    std::vector<std::string> env;           // its whole environment (sandbox::environment)
    std::string cwd = "/";                  // where it starts
    int cpu_seconds = 120;                  // RLIMIT_CPU
    std::array<int, 4> fds{-1, -1, -1, -1}; // become its 0, 1, 2 and 3 (-1: 3 stays closed)
};

// The Launch of argv under p as sandbox::command would run it: p's environment (sandbox::environment),
// working folder (/ when none) and CPU limit, with descriptors fds.
[[nodiscard]] Launch launch_of(const Policy& p, std::vector<std::string> argv, std::array<int, 4> fds);

// Whether launch() is how programs under p start here: p is enabled and privileged, and the
// launcher program lies beside this program's own (SOCKLAB_LAUNCHER names another; "none" turns
// the launcher off, to compare).
[[nodiscard]] bool launches(const Policy& p);

// Starts l under p's launcher (started on first use, and again if it has ended). Returns the
// program, or nullptr with why in error (the launcher cannot start, the program cannot be executed).
[[nodiscard]] std::unique_ptr<Program> launch(const Policy& p, const Launch& l, std::string& error);

// Ends the launchers of user uid (what they still run is killed) and waits for them: a lab's
// programs are done. The next launch() starts a new one.
void close_launchers(int uid);

} // namespace socklab::sandbox
