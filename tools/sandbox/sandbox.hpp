// The grader's sandbox: runs one program of a submission inside bubblewrap (bwrap(1), the sandbox
// Flatpak relies on) with an allowlist view of the machine, a clean environment, a new session,
// its own PID, IPC and UTS namespaces, as an unprivileged user, under limits for the submission.
//
// Nothing here hides a folder: a sandbox sees the system's read-only folders (system_view()) and
// what its Policy names, and nothing else of the machine exists inside it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <shared_mutex>
#include <string>
#include <vector>

namespace socklab::sandbox {

// A file or folder seen inside the sandbox at the same path as outside.
struct Bind {
    std::string path;
    bool writable = false;
};

// How one program runs. With enabled false it runs as it is, with only the limits and the user
// applied (a student's own runs of socklab-script, or a machine where bwrap cannot work).
struct Policy {
    bool enabled = false;             // inside bubblewrap
    std::vector<Bind> binds;          // what it sees besides system_view()
    std::vector<std::string> fresh;   // empty writable tmpfs folders of its own (64 MiB each)
    std::vector<std::string> env;     // its whole environment, NAME=value (PATH, HOME, LANG added)
    std::string cwd;                  // where it starts ("" keeps the caller's when not enabled, / inside)
    int uid = -1;                     // >= 0 (the caller is root): the user and group id it runs as
    bool privileged = false;          // run bwrap as root, then become uid inside (no user namespaces)
    bool limits = false;              // per-process limits (below) between fork and exec
    int cpu_seconds = 120;            // RLIMIT_CPU when limits
    int max_processes = 256;          // RLIMIT_NPROC with a uid
    std::vector<std::string> cgroups; // cgroup folders it joins before exec (one per controller)
};

// The read-only view of the system every sandbox has: /usr and the top folders that point into
// it, the dynamic loader's and the name service's files of /etc (hosts, nsswitch.conf, ...),
// /etc/alternatives (the compiler's names); a new /proc, a minimal /dev, empty /tmp and /dev/shm.
[[nodiscard]] std::vector<std::string> system_view();

// The argv that runs argv under p: bwrap's options, then "--", then argv. argv as it is when
// p.enabled is false.
[[nodiscard]] std::vector<std::string> command(const Policy& p, const std::vector<std::string>& argv);

// The environment p gives a program: p.env with PATH, HOME, LANG and TMPDIR unless set.
[[nodiscard]] std::vector<std::string> environment(const Policy& p);

// Applied in the child between fork(2) and exec(2); only system calls, no allocation: joins
// p.cgroups, sets the limits, drops every privilege and becomes p.uid (setgroups, setresgid,
// setresuid, no new privileges), asks for SIGKILL when the thread that forked it dies, and moves
// to p.cwd when p is not enabled. Returns 0, or the errno of the step that failed: the child must
// not run the program then.
int enter(const Policy& p) noexcept;

// Whether bubblewrap can make a sandbox here for user uid (-1: this process's user), with user
// namespaces or, when privileged (the caller is root), without. "" when it can, else why not.
// Tried once per (uid, privileged) and remembered.
[[nodiscard]] std::string unavailable(int uid, bool privileged);

// The process the sandbox runs, seen from outside: bwrap's child in the new PID namespace is a
// reaper (PID 1 inside) whose only child is the program. Signals meant for the program go there
// (bwrap does not pass them on). The bwrap process's own pid when there is no such child yet.
[[nodiscard]] pid_t program_pid(pid_t bwrap_pid);

// The argv or envp of execve(2) for words: a pointer into each, then nullptr. words must outlive it.
[[nodiscard]] std::vector<char*> pointers(std::vector<std::string>& words);

// Held shared by every fork(2) of the grader; exclusively while a program file is being written
// (script::fork_lock, process.hpp, says why).
std::shared_mutex& fork_lock();

// The whole content of a file, as bytes ("" when it cannot be read). The grader's one file reader.
[[nodiscard]] std::string read_text(const std::filesystem::path& path);

// fork(2) with fork_lock held shared while it runs, the one way the grader forks. The parent gets
// the child's pid (or -1, errno set) with the lock released; the child gets 0 and must exec or
// _exit (its copy of the lock is never released, and never used again).
[[nodiscard]] pid_t fork_child();

// bwrap exits with 128 + N when its program was killed by signal N: the wait status the program
// itself ended with, from the wait status of bwrap.
[[nodiscard]] int program_status(int bwrap_status);

} // namespace socklab::sandbox
