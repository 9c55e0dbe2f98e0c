// Child processes for tests: start a lab program, talk to it through pipes, and always reap it.
#pragma once

#include "socklab/testkit/deadline.hpp"
#include "socklab/unique_fd.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socklab::testkit {

// How a process ended.
struct ExitStatus {
    bool exited = false; // true: it called exit(code); false: a signal killed it
    int code = -1;       // the exit code, when exited
    int signal = 0;      // the signal, when killed
    // "exit code 64" or "killed by SIGSEGV"
    [[nodiscard]] std::string describe() const;
};

// The path of a program built by this project (build/bin/NAME).
[[nodiscard]] std::string program_path(std::string_view name); // SOCKLAB_BIN_DIR in the environment wins

// A running child process in its own process group, with its stdin, stdout and stderr on pipes.
// The destructor kills the whole group (SIGKILL) and reaps it, so no test leaves a process behind.
class ChildProcess {
public:
    // posix_spawn(3) program with args (argv[0] is added).
    ChildProcess(const std::string& program, const std::vector<std::string>& args);
    ChildProcess(ChildProcess&&) = delete;
    ~ChildProcess();

    [[nodiscard]] pid_t pid() const { return pid_; }
    // Writes all of bytes to the child's stdin.
    void write_stdin(std::string_view bytes);
    // Closes the child's stdin (it reads EOF).
    void close_stdin();
    // The next line of stdout, without its "\n"; nullopt at EOF. Throws TimeoutError (quoting
    // what stdout and stderr said so far) when no whole line comes before the deadline.
    [[nodiscard]] std::optional<std::string> read_stdout_line(Deadline deadline);
    // kill(2) the child's process group with sig.
    void send_signal(int sig);
    // Waits for the child to end, collecting the rest of its output; throws TimeoutError when it
    // is still running at the deadline.
    ExitStatus wait(Deadline deadline);
    // Everything read from stdout / stderr so far (read_stdout_line consumes lines from stdout).
    [[nodiscard]] const std::string& stdout_text() const { return out_; }
    [[nodiscard]] const std::string& stderr_text() const { return err_; }

private:
    // Reads whatever is ready on stdout/stderr until the deadline; false when nothing is left.
    bool pump(Deadline deadline);

    std::string name_;
    pid_t pid_ = -1;
    bool reaped_ = false;
    ExitStatus status_;
    UniqueFd stdin_;
    UniqueFd stdout_;
    UniqueFd stderr_;
    std::string out_;
    std::string err_;
};

// Reads a server's first line, which must be "listening on 127.0.0.1:PORT", and returns PORT.
// Throws std::runtime_error quoting what came instead (and the server's stderr, which says why it
// stopped: "not implemented yet: ..." on a skeleton), or TimeoutError at the deadline.
[[nodiscard]] std::uint16_t read_listening_port(ChildProcess& server, Deadline deadline);

// How many descriptors this process has open (the entries of /proc/self/fd, less the one used to
// list them), and how many threads it runs (the entries of /proc/self/task).
[[nodiscard]] std::size_t open_descriptor_count();
// The descriptors this process has open, as /proc/self/fd lists them (without the one used to
// list them). The one walk of /proc/self/fd for the tests that look for a socket among them.
[[nodiscard]] std::vector<int> open_descriptors();
[[nodiscard]] std::size_t thread_count();

// The result of running a program to completion.
struct RunResult {
    ExitStatus status;
    std::string out;
    std::string err;
};

// Runs program with args (and stdin_bytes on its stdin) until it ends; TimeoutError after timeout.
RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                      std::string_view stdin_bytes = {}, milliseconds timeout = milliseconds(5000));

} // namespace socklab::testkit
