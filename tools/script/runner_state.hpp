// The script runner's state, shared by the files that make it up (not an interface: runner.hpp
// is): runner.cpp runs the checks and dispatches each step, channels.cpp moves the bytes and
// waits (the channels, the programs' output, deadlines), steps.cpp holds the handler of each
// statement, report.cpp writes a failed check's report. One thread, non-blocking descriptors and
// poll(2); every wait has a deadline, and every byte sent or received is logged so that a failure
// can show the whole conversation.
#pragma once

#include "fd.hpp"
#include "process.hpp"
#include "runner.hpp"
#include "script.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace socklab::script::detail {

constexpr std::size_t kMaxPending = std::size_t{16} << 20; // received and not yet expected, per channel
constexpr std::size_t kMaxEvents = 20000;                  // transcript lines kept

using Clock = std::chrono::steady_clock;

// A failed step: one line that says what did not happen, details (a caret picture), and a hint for
// the usual cause.
struct Failure {
    std::string summary;
    std::string details;
    std::string hint;
};

// Something that happened, for the transcript.
struct Event {
    double ms = 0;
    std::string who;
    std::string arrow; // "->" sent, "<-" received, "  " a note
    std::string text;
};

// A byte stream the script talks over: a TCP connection, or a program's stdin and stdout.
struct Channel {
    std::string name;
    sandbox::Fd socket; // a connection's socket, owned here; a program's stdin and stdout are its Process's
    int read_fd = -1;   // where the bytes come from: the socket, or the program's stdout (-1 once closed)
    int write_fd = -1;  // where they go: the socket, or the program's stdin (-1 once closed)
    bool is_socket = false;
    int local_port = 0; // a connection's own port (getsockname), which names its end in the wire view
    std::string received;
    std::size_t consumed = 0;
    bool eof = false;
    bool closed_after_failure = false; // closed by the runner when the check that opened it failed
    int error = 0;                     // errno of a failed read (ECONNRESET for a reset)
    Process* program = nullptr;

    [[nodiscard]] std::string_view pending() const { return std::string_view(received).substr(consumed); }
    [[nodiscard]] bool ended() const { return eof || error != 0; }
    // Closes the connection's socket (not for a program's channel).
    void close_socket() {
        socket.reset();
        read_fd = write_fd = -1;
    }
};

struct Listener {
    sandbox::Fd fd;
    int port = 0;
};

inline std::string errno_text(int error) {
    return std::strerror(error);
}

class Runner {
public:
    Runner(const Script& script, const RunOptions& options, std::ostream& out);

    ~Runner();

    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    RunResult run();

private:
    // --- runner.cpp: the checks, and each step sent to its handler --------------------------
    std::set<std::string> channel_names() const;

    // After a failed check, what it left must not be blamed on the next one: bytes not yet read
    // are dropped (and said to be), and the connections it opened are closed.
    void clean_up_after_failure(const std::set<std::string>& before);

    // Runs one step: each statement has its handler, and the switches name every Op, so a
    // statement without one is a compiler warning (an error in CI).
    std::optional<Failure> execute(const Step& step);
    std::optional<Failure> pause(const Step& step);

    // A statement about a connection, or about a program's stdin and stdout.
    std::optional<Failure> channel_step(const Step& step);
    std::optional<Failure> program_step(Process& p, const Step& step);

    // --- channels.cpp: moving bytes, waiting within deadlines, and why a wait ended ---------
    double now_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - start_).count(); }
    void log(const std::string& who, const std::string& arrow, const std::string& text);
    Clock::time_point deadline(const Step& step) const;
    std::string ms_text(Duration d) const { return std::to_string(d.count()) + "ms"; }

    // A step's deadline as waited, with the scale when there is one: "2000ms", "40000ms (2000ms x 20)".
    std::string deadline_text(const Step& step) const;

    // Reads whatever is ready on every channel and program until something arrives or `until`;
    // also waits for write_fd to become writable when it is given.
    void pump(Clock::time_point until, int write_fd = -1);

    // After a failure, lets what follows from it happen (a crashed program's exit, its last words
    // on stderr) so the report shows it: until nothing new for 50 ms, at most 300 ms.
    void settle();
    void reap(Process& program);

    // Reads everything a channel has ready.
    void drain(Channel& c);

    // Waits until met() holds, a deadline passes, the channel (if any) ends, or a program dies
    // unexpectedly. Returns a failure, or nothing when met() held.
    std::optional<Failure> wait_for(const std::function<bool()>& met, Clock::time_point until,
                                    const std::string& what, Channel* channel,
                                    const Process* exempt = nullptr);
    Process* unexpected_exit(const Process* exempt);

    // A program that dies closes its sockets on the way out: its peers see EOF (or a reset) a moment
    // before its exit can be seen. So an end of a connection only counts as the program's own close
    // when no program dies unexpectedly just after it; otherwise a server that crashes on its first
    // read would pass "expect-eof". Waits at most 20 ms (scaled), only after a connection ended.
    std::optional<Failure> ended_by_a_death(const Channel& c);
    Failure ended_failure(const Channel& c, const std::string& what);

    // Writes all of bytes, reading every channel meanwhile so that a peer that echoes never blocks.
    std::optional<Failure> write_all(Channel& c, std::string_view bytes, Clock::time_point until);
    std::optional<Failure> shutdown(Channel& c);
    std::optional<Failure> close(Channel& c, const Step& step);
    void add_socket(const std::string& name, sandbox::Fd socket);

    // --- steps.cpp: the handler of each statement, and the names a step may use -------------
    std::string substitute(const std::string& word) const;
    int port_of(const std::string& name) const;

    // The port a connect or expect-refused aims at: a server's or listener's name, HOST:PORT, or
    // the server started last.
    std::optional<int> target_port(const Step& step, std::string& shown);
    std::optional<Failure> start(const Step& step);
    std::optional<Failure> connect(const Step& step);
    std::optional<Failure> listen(const Step& step);
    std::optional<Failure> accept(const Step& step);
    std::optional<Failure> send(Channel& c, const Step& step);
    std::optional<Failure> expect_line(Channel& c, const Step& step);
    std::optional<Failure> expect_bytes(Channel& c, const Step& step);
    std::optional<Failure> expect_end(Channel& c, const Step& step);
    // expect-eof, then on the wire (when captured): the peer's FIN on c's connection, and no RST.
    std::optional<Failure> expect_fin(Channel& c, const Step& step);
    std::optional<Failure> expect_silence(Channel& c, const Step& step);
    static std::string mismatch_hint(const std::string& expected, const std::string& actual);
    std::optional<Failure> expect_stderr(Process& p, const Step& step);
    std::optional<Failure> expect_exit(Process& p, const Step& step);
    static std::string join(const std::vector<std::string>& words);

    // --- report.cpp: a failed check's report ------------------------------------------------
    std::string report(const Check& check, const Step& step, const Failure& f, bool in_setup);

    // In stable mode, the port numbers that change from run to run become PORT.
    std::string stable_text(const std::string& text) const;
    std::string replay_text() const;
    // The segments of the connections opened since the check began, as a timeline.
    std::string wire_text() const;
    static std::string points_text(int points);

    // --- state --------------------------------------------------------------------------------------

    const Script& script_;
    const RunOptions& options_;
    std::ostream& out_;
    Clock::time_point start_;
    std::uint64_t seed_;
    std::mt19937_64 random_;
    std::map<std::string, std::unique_ptr<Process>> programs_;
    std::map<std::string, std::unique_ptr<Channel>> channels_;
    std::map<std::string, Listener> listeners_;
    std::string last_server_;
    std::vector<Event> events_;
    std::size_t setup_events_ = 0;                    // events of the set-up: [0, setup_events_)
    std::size_t check_events_ = 0;                    // where the current check's events begin
    std::chrono::system_clock::time_point wire_from_; // when the current check (or the set-up) began
    int skipped_steps_ = 0;                           // steps of the current check about an attached server
};

} // namespace socklab::script::detail
