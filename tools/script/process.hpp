// A program the runner starts: its own process group, pipes for stdin, stdout and stderr, and a
// pidfd so that poll(2) says when it exits. The destructor kills the whole group.
#pragma once

#include <sys/types.h>

#include "fd.hpp"
#include "launcher.hpp"
#include "sandbox.hpp"

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace socklab::script {

// Every fork of the grader and of the script runner holds this lock shared; writing a program file
// that will be run holds it exclusively. A child forked while a program file is open for writing
// keeps that file open until it execs, and running the program meanwhile fails with ETXTBSY
// ("Text file busy"): in a batch, one submission's tests start while the next one's programs are
// being copied.
std::shared_mutex& fork_lock();

// How a program of a submission is confined (the grader's sandbox, tools/sandbox/): off by
// default, so a student's own runs of socklab-script start their programs as they are.
using Confinement = sandbox::Policy;

// Puts the calling thread, and every process and thread it starts from now on, in a network
// namespace of its own whose only interface is loopback (brought up here). Returns "" on success,
// or why it could not be done (not root and no user namespaces, say): the caller says so.
[[nodiscard]] std::string enter_private_network();

class Process {
public:
    Process(std::string name, std::vector<std::string> argv);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    // fork(2) + execv(2) in a new process group, with SIGPIPE back to its default; inside the
    // sandbox when the confinement enables it (through its launcher where sandbox::launches). On failure (the
    // program is missing, say) returns false and says why in error.
    bool start(std::string& error);
    // How the program is confined (sandbox::enter, sandbox::command), set before start().
    void confine(Confinement c) { confinement_ = std::move(c); }
    // A server the user started by hand (--attach): no process, only its port.
    void attach(int port);
    // Set before start(), never with a confinement. keep_process_group: the program stays in the
    // caller's process group, so that what the terminal sends the caller (Ctrl-C, a hang-up) reaches
    // it too; kill_group then kills the program alone. keep_terminal: that, and the program keeps
    // the caller's stdin, stdout and stderr too, as a command typed at a terminal (socklab-wire's:
    // it may read the terminal, which a process group of its own may not); stdin_fd, stdout_fd and
    // stderr_fd are then -1.
    void keep_process_group() { keep_group_ = true; }
    void keep_terminal() { keep_group_ = keep_terminal_ = true; }

    // Non-blocking waitpid(2); true when the program has just been seen to exit.
    bool poll_exit();
    // Reads what the program wrote on stderr so far (keeps at most the last 1 MiB).
    void drain_stderr();
    // Closes the program's stdin (it reads EOF). The only way to close it: the descriptor is the
    // Process's, and a second close could hit a descriptor another thread has just opened.
    void close_stdin();
    // kill(2) of the program's process (inside a sandbox: the program, not bwrap).
    void send_signal(int signal);
    // SIGKILL to the whole process group, then reaps the program.
    void kill_group();

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] std::string command() const;
    [[nodiscard]] int stdin_fd() const { return stdin_fd_.get(); }
    [[nodiscard]] int stdout_fd() const { return stdout_fd_.get(); }
    [[nodiscard]] int stderr_fd() const { return stderr_fd_.get(); }
    [[nodiscard]] int pidfd() const { return launched_ ? launched_->fd() : pidfd_.get(); }
    [[nodiscard]] bool attached() const { return attached_; }
    [[nodiscard]] int port() const { return port_; }
    void set_port(int port) { port_ = port; }

    [[nodiscard]] bool exited() const { return exited_; }
    [[nodiscard]] bool killed_by_signal() const;
    // The signal that killed it (SIGKILL: 9), or 0.
    [[nodiscard]] int term_signal() const;
    [[nodiscard]] int exit_code() const;
    [[nodiscard]] bool exited_cleanly() const { return exited_ && !killed_by_signal() && exit_code() == 0; }
    // "exited with code 70", "was killed by SIGSEGV", "is running"
    [[nodiscard]] std::string status_text() const;
    [[nodiscard]] const std::string& stderr_text() const { return stderr_; }

    // The script has seen this exit (in a failure or an expect-exit): later waits ignore it.
    void acknowledge_exit() { acknowledged_ = true; }
    [[nodiscard]] bool exit_acknowledged() const { return acknowledged_; }
    [[nodiscard]] bool was_signalled_by_script() const { return signalled_; }

private:
    std::string name_;
    std::vector<std::string> argv_;
    pid_t pid_ = -1;
    sandbox::Fd stdin_fd_;
    sandbox::Fd stdout_fd_;
    sandbox::Fd stderr_fd_;
    sandbox::Fd pidfd_;
    int port_ = 0;
    int status_ = 0;
    bool exited_ = false;
    bool attached_ = false;
    bool keep_group_ = false;
    bool keep_terminal_ = false;
    Confinement confinement_;
    std::unique_ptr<sandbox::Program> launched_; // started by the sandbox's launcher (then no pid_)
    bool acknowledged_ = false;
    bool signalled_ = false;
    std::string stderr_;
};

} // namespace socklab::script
