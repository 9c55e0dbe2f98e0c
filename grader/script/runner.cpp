// The runner: one thread, non-blocking descriptors and poll(2). Every wait has a deadline, and
// every byte sent or received is logged so a failure can show the whole conversation.
#include "runner.hpp"

#include "escape.hpp"
#include "process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <sstream>

namespace socklab::script {

bool RunResult::passed() const {
    return std::all_of(checks.begin(), checks.end(), [](const CheckResult& c) { return c.passed; });
}

namespace {

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
    int read_fd = -1;
    int write_fd = -1;
    bool is_socket = false;
    std::string received;
    std::size_t consumed = 0;
    bool eof = false;
    bool closed_after_failure = false; // closed by the runner when the check that opened it failed
    int error = 0;                     // errno of a failed read (ECONNRESET for a reset)
    Process* program = nullptr;

    [[nodiscard]] std::string_view pending() const { return std::string_view(received).substr(consumed); }
    [[nodiscard]] bool ended() const { return eof || error != 0; }
};

struct Listener {
    int fd = -1;
    int port = 0;
};

std::string errno_text(int error) {
    return std::strerror(error);
}

class Runner {
public:
    Runner(const Script& script, const RunOptions& options, std::ostream& out)
        : script_(script), options_(options), out_(out), start_(Clock::now()),
          seed_(options.seed.value_or(script.seed)), random_(seed_) {
        // --attach must name a server of this script: a misspelt name would quietly start the
        // script's own server, and the student would think theirs passed.
        std::string servers;
        for (const auto& step : script.steps) {
            if (step.op == "server") {
                servers += servers.empty() ? "" : ", ";
                servers += step.subject;
            }
        }
        for (const auto& entry : options.attach) {
            const std::string& name = entry.first;
            const bool known = std::any_of(script.steps.begin(), script.steps.end(), [&name](const Step& s) {
                return s.op == "server" && s.subject == name;
            });
            if (!known) {
                std::string message = "--attach " + name + "=" + std::to_string(entry.second) + ": ";
                message += script.path + " has no server named '" + name + "'";
                message += servers.empty() ? " (it starts none)" : " (its servers: " + servers + ")";
                throw ScriptError(message);
            }
        }
    }

    ~Runner() {
        for (auto& [name, program] : programs_) {
            program->kill_group();
        }
        for (auto& [name, channel] : channels_) {
            if (channel->is_socket) {
                ::close(channel->read_fd);
            }
        }
        for (auto& [name, listener] : listeners_) {
            ::close(listener.fd);
        }
    }

    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    RunResult run() {
        RunResult result;
        result.seed = seed_;
        out_ << "script " << script_.path << " (seed " << seed_ << ")\n";
        std::optional<Failure> setup_failure;
        std::size_t setup_failed_at = 0;
        bool reported_setup = false;
        for (std::size_t i = 0; i < script_.setup_end && !setup_failure; ++i) {
            setup_failure = execute(script_.steps[i]);
            setup_failed_at = i;
        }
        setup_events_ = events_.size();
        auto check_start = start_;
        for (const Check& check : script_.checks) {
            CheckResult cr;
            cr.name = check.name;
            cr.points = check.points;
            cr.hidden = check.hidden;
            check_events_ = events_.size();
            log("script", "  ", "-- check \"" + check.name + "\" --");
            std::optional<Failure> failure = setup_failure;
            std::size_t failed_at = setup_failed_at;
            skipped_steps_ = 0;
            const std::set<std::string> before = channel_names();
            for (std::size_t i = check.first; i < check.end && !failure; ++i) {
                failure = execute(script_.steps[i]);
                failed_at = i;
            }
            cr.passed = !failure.has_value() && skipped_steps_ == 0;
            if (failure) {
                settle();
            }
            cr.seconds = std::chrono::duration<double>(Clock::now() - check_start).count();
            check_start = Clock::now();
            if (failure && setup_failure && reported_setup) {
                cr.summary = "not run: the set-up failed (see above): " + failure->summary;
                out_ << "FAILED: " << check.name << points_text(check.points)
                     << ": not run, the set-up failed\n";
            } else if (failure) {
                reported_setup = setup_failure.has_value();
                cr.summary = failure->summary;
                cr.report = report(check, script_.steps[failed_at], *failure, setup_failure.has_value());
                out_ << cr.report;
                clean_up_after_failure(before);
            } else if (skipped_steps_ > 0) {
                cr.summary = "not checked: " + std::to_string(skipped_steps_) +
                             " step(s) were about the server you started yourself";
                out_ << "SKIP  " << check.name << points_text(check.points) << ": " << cr.summary << "\n";
            } else {
                out_ << "PASS  " << check.name << points_text(check.points) << "\n";
            }
            result.checks.push_back(std::move(cr));
        }
        int got = 0;
        int all = 0;
        for (const auto& c : result.checks) {
            all += c.points;
            got += c.passed ? c.points : 0;
        }
        out_ << (result.passed() ? "passed" : "FAILED") << ": " << got << " of " << all
             << (all == 1 ? " point\n" : " points\n");
        return result;
    }

private:
    static std::string points_text(int points) {
        return " (" + std::to_string(points) + (points == 1 ? " point)" : " points)");
    }

    std::set<std::string> channel_names() const {
        std::set<std::string> names;
        for (const auto& [name, channel] : channels_) {
            names.insert(name);
        }
        return names;
    }

    // After a failed check, what it left must not be blamed on the next one: bytes not yet read
    // are dropped (and said to be), and the connections it opened are closed.
    void clean_up_after_failure(const std::set<std::string>& before) {
        for (auto& [name, c] : channels_) {
            if (!c->pending().empty()) {
                log(name, "  ",
                    std::to_string(c->pending().size()) + " unread byte(s) dropped: the check failed");
                c->consumed = c->received.size();
            }
            if (c->is_socket && before.count(name) == 0 && c->read_fd >= 0) {
                ::close(c->read_fd);
                c->read_fd = c->write_fd = -1;
                c->eof = true;
                c->closed_after_failure = true;
                log(name, "->", "closed: it was opened by the check that failed");
            }
        }
    }

    double now_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - start_).count(); }

    void log(const std::string& who, const std::string& arrow, const std::string& text) {
        if (events_.size() < kMaxEvents) {
            events_.push_back({now_ms(), who, arrow, text});
        } else if (events_.size() == kMaxEvents) {
            events_.push_back(
                {now_ms(), "script", "  ", "(more events than a transcript keeps: the rest are not shown)"});
        }
    }

    Clock::time_point deadline(const Step& step) const {
        const auto base = step.within.value_or(script_.timeout);
        return Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(
                                  static_cast<double>(base.count()) * options_.time_scale));
    }

    std::string ms_text(Duration d) const { return std::to_string(d.count()) + "ms"; }

    // A step's deadline as waited, with the scale when there is one: "2000ms", "40000ms (2000ms x 20)".
    std::string deadline_text(const Step& step) const {
        const auto base = step.within.value_or(script_.timeout);
        if (options_.time_scale == 1.0) {
            return ms_text(base);
        }
        const auto scaled = static_cast<long long>(static_cast<double>(base.count()) * options_.time_scale);
        std::ostringstream scale;
        scale << options_.time_scale;
        return std::to_string(scaled) + "ms (" + ms_text(base) + " x " + scale.str() + ")";
    }

    // --- waiting ---------------------------------------------------------------------------

    // Reads whatever is ready on every channel and program until something arrives or `until`;
    // also waits for write_fd to become writable when it is given.
    void pump(Clock::time_point until, int write_fd = -1) {
        std::vector<pollfd> fds;
        std::vector<std::function<void(short)>> handlers;
        for (auto& [name, channel] : channels_) {
            // A program that floods a channel is not read beyond kMaxPending: it blocks, as on a
            // reader that does not keep up, and the runner's memory stays bounded.
            if (channel->read_fd >= 0 && !channel->ended() && channel->pending().size() < kMaxPending) {
                fds.push_back({channel->read_fd, POLLIN, 0});
                handlers.emplace_back([this, c = channel.get()](short) { drain(*c); });
            }
        }
        for (auto& [name, program] : programs_) {
            if (program->stderr_fd() >= 0) {
                fds.push_back({program->stderr_fd(), POLLIN, 0});
                handlers.emplace_back([p = program.get()](short) { p->drain_stderr(); });
            }
            if (!program->exited() && program->pidfd() >= 0) {
                fds.push_back({program->pidfd(), POLLIN, 0});
                handlers.emplace_back([this, p = program.get()](short) { reap(*p); });
            }
        }
        if (write_fd >= 0) {
            fds.push_back({write_fd, POLLOUT, 0});
            handlers.emplace_back([](short) {});
        }
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count() + 1;
        wait = std::clamp<long long>(wait, 0, 50); // at most 50 ms, to notice exits without a pidfd
        const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait));
        if (ready > 0) {
            for (std::size_t i = 0; i < fds.size(); ++i) {
                if (fds[i].revents != 0) {
                    handlers[i](fds[i].revents);
                }
            }
        }
        for (auto& [name, program] : programs_) {
            if (!program->exited() && program->pidfd() < 0) {
                reap(*program);
            }
        }
    }

    // After a failure, lets what follows from it happen (a crashed program's exit, its last words
    // on stderr) so the report shows it: until nothing new for 50 ms, at most 300 ms.
    void settle() {
        const auto limit = Clock::now() + std::chrono::milliseconds(300);
        auto quiet_until = Clock::now() + std::chrono::milliseconds(50);
        while (Clock::now() < std::min(limit, quiet_until)) {
            const std::size_t before = events_.size();
            pump(std::min(limit, quiet_until));
            if (events_.size() != before) {
                quiet_until = Clock::now() + std::chrono::milliseconds(50);
            }
        }
    }

    void reap(Process& program) {
        if (program.poll_exit()) {
            program.drain_stderr();
            log(program.name(), "  ", program.status_text());
        }
    }

    // Reads everything a channel has ready.
    void drain(Channel& c) {
        std::string chunk;
        char buffer[65536];
        for (;;) {
            if (c.pending().size() + chunk.size() >= kMaxPending) {
                c.received += chunk; // read again when the script has taken some
                log(c.name, "<-", quote_bytes(chunk));
                return;
            }
            const ssize_t n = c.is_socket ? ::recv(c.read_fd, buffer, sizeof buffer, 0)
                                          : ::read(c.read_fd, buffer, sizeof buffer);
            if (n > 0) {
                chunk.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (!chunk.empty()) {
                c.received += chunk;
                log(c.name, "<-", quote_bytes(chunk));
                chunk.clear();
            }
            if (n == 0) {
                c.eof = true;
                // A program's stdout ends when it exits, and its exit is logged: say it once.
                if (c.is_socket) {
                    log(c.name, "<-", "EOF (the peer closed its sending side)");
                }
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                c.error = errno;
                log(c.name, "<-",
                    errno == ECONNRESET ? "RESET (connection reset by peer)" : errno_text(errno));
            }
            return;
        }
    }

    // Waits until met() holds, a deadline passes, the channel (if any) ends, or a program dies
    // unexpectedly. Returns a failure, or nothing when met() held.
    std::optional<Failure> wait_for(const std::function<bool()>& met, Clock::time_point until,
                                    const std::string& what, Channel* channel,
                                    const Process* exempt = nullptr) {
        for (;;) {
            if (met()) {
                return std::nullopt;
            }
            if (channel != nullptr && channel->ended()) {
                return ended_failure(*channel, what);
            }
            if (Process* dead = unexpected_exit(exempt)) {
                dead->acknowledge_exit();
                return Failure{
                    dead->name() + " " + dead->status_text() + " while waiting for " + what, "",
                    dead->killed_by_signal()
                        ? "the program crashed: read its stderr below; a signal such as SIGSEGV or "
                          "SIGABRT is a bug in memory or an uncaught exception, SIGPIPE a send "
                          "without MSG_NOSIGNAL to a peer that had gone"
                        : "the program stopped on its own: read its stderr below for the error"};
            }
            if (Clock::now() >= until) {
                return Failure{"timed out waiting for " + what, "", ""};
            }
            pump(until);
        }
    }

    Process* unexpected_exit(const Process* exempt) {
        for (auto& [name, program] : programs_) {
            if (program.get() != exempt && program->exited() && !program->exit_acknowledged() &&
                !program->was_signalled_by_script() && !program->exited_cleanly()) {
                return program.get();
            }
        }
        return nullptr;
    }

    // A program that dies closes its sockets on the way out: its peers see EOF (or a reset) a moment
    // before its exit can be seen. So an end of a connection only counts as the program's own close
    // when no program dies unexpectedly just after it; otherwise a server that crashes on its first
    // read would pass "expect-eof". Waits at most 20 ms (scaled), only after a connection ended.
    std::optional<Failure> ended_by_a_death(const Channel& c) {
        if (!c.is_socket) {
            return std::nullopt;
        }
        const auto until = Clock::now() + std::chrono::microseconds(
                                              static_cast<std::int64_t>(20'000.0 * options_.time_scale));
        for (;;) {
            if (Process* dead = unexpected_exit(c.program)) {
                dead->acknowledge_exit();
                return Failure{
                    c.name + ": the connection ended because " + dead->name() + " " + dead->status_text(), "",
                    "the program stopped instead of closing this connection itself: read its "
                    "stderr below (a skeleton names the function to write)"};
            }
            if (Clock::now() >= until) {
                return std::nullopt;
            }
            pump(until);
        }
    }

    Failure ended_failure(const Channel& c, const std::string& what) {
        Failure f;
        if (c.closed_after_failure) {
            return Failure{c.name +
                               " was closed when the check that opened it failed; nothing more can arrive",
                           "", "fix the earlier failure first"};
        }
        const std::string got = c.pending().empty() ? "" : " after " + quote_bytes(c.pending());
        if (c.error == ECONNRESET) {
            f.summary = c.name + ": the connection was reset" + got + " while waiting for " + what;
            f.hint =
                "a reset (RST) comes from a close with unread bytes in the receive buffer, from SO_LINGER 0, "
                "or from a program that crashed (see its status below)";
        } else if (c.error != 0) {
            f.summary = c.name + ": " + errno_text(c.error) + got + " while waiting for " + what;
        } else if (c.is_socket) {
            f.summary = c.name + ": the connection was closed (EOF)" + got + " while waiting for " + what;
            f.hint = "the program closed the connection before answering: did it close right after reading, "
                     "stop after the first message, or crash (see its status below)?";
        } else {
            f.summary = c.name + ": stdout was closed (EOF)" + got + " while waiting for " + what;
            f.hint = "the program closed its stdout or exited before printing it: read its stderr below";
        }
        return f;
    }

    // --- names ------------------------------------------------------------------------------

    std::string substitute(const std::string& word) const {
        static const std::regex placeholder(R"(\{([a-z][a-z0-9_-]*)\.(port|endpoint)\})");
        std::string out;
        std::sregex_iterator it(word.begin(), word.end(), placeholder);
        std::size_t last = 0;
        for (; it != std::sregex_iterator(); ++it) {
            const auto& m = *it;
            out += word.substr(last, static_cast<std::size_t>(m.position(0)) - last);
            const int port = port_of(m[1]);
            out += m[2] == "port" ? std::to_string(port) : "127.0.0.1:" + std::to_string(port);
            last = static_cast<std::size_t>(m.position(0) + m.length(0));
        }
        return out + word.substr(last);
    }

    int port_of(const std::string& name) const {
        if (const auto p = programs_.find(name); p != programs_.end() && p->second->port() > 0) {
            return p->second->port();
        }
        if (const auto l = listeners_.find(name); l != listeners_.end()) {
            return l->second.port;
        }
        throw ScriptError("{" + name + ".port}: '" + name +
                          "' is not a server that printed its port nor a listener");
    }

    // The port a connect or expect-refused aims at: a server's or listener's name, HOST:PORT, or
    // the server started last.
    std::optional<int> target_port(const Step& step, std::string& shown) {
        std::string target = step.words.empty() ? last_server_ : substitute(step.words[0]);
        if (target.empty()) {
            throw ScriptError(script_.path + ":" + std::to_string(step.line) +
                              ": no server was started: say which one (connect NAME to SERVER)");
        }
        if (programs_.count(target) != 0 || listeners_.count(target) != 0) {
            shown = target + " (127.0.0.1:" + std::to_string(port_of(target)) + ")";
            return port_of(target);
        }
        static const std::regex endpoint(R"((127\.0\.0\.1|localhost):([0-9]{1,5}))");
        std::smatch m;
        if (!std::regex_match(target, m, endpoint)) {
            throw ScriptError(script_.path + ":" + std::to_string(step.line) + ": '" + target +
                              "' is neither a server name nor 127.0.0.1:PORT (scripts stay on loopback)");
        }
        shown = target;
        return std::stoi(m[2]);
    }

    // --- steps ------------------------------------------------------------------------------

    std::optional<Failure> execute(const Step& step) {
        log("script", "  ", "line " + std::to_string(step.line) + ": " + step.text);
        try {
            if (step.op == "server" || step.op == "run") {
                return start(step);
            }
            if (step.op == "connect" || step.op == "expect-refused") {
                return connect(step);
            }
            if (step.op == "listen") {
                return listen(step);
            }
            if (step.op == "accept") {
                return accept(step);
            }
            if (step.op == "pause") {
                const auto until = Clock::now() + step.duration;
                while (Clock::now() < until) {
                    pump(until);
                }
                return std::nullopt;
            }
            if (step.op == "signal" || step.op == "expect-exit" || step.op == "expect-stderr") {
                return program_step(*programs_.at(step.subject), step);
            }
            const auto found = channels_.find(step.subject);
            if (found == channels_.end()) {
                // An attached server has no stdin or stdout here: the user runs it.
                log(step.subject, "  ", "skipped (you started it yourself): " + step.text);
                ++skipped_steps_;
                return std::nullopt;
            }
            Channel& c = *found->second;
            if (step.op.rfind("send", 0) == 0) {
                return send(c, step);
            }
            if (step.op == "shutdown") {
                if (c.is_socket) {
                    ::shutdown(c.write_fd, SHUT_WR);
                } else if (c.write_fd >= 0) {
                    c.program->close_stdin(); // a program's stdin: its Process owns the descriptor
                    c.write_fd = -1;
                }
                log(c.name, "->",
                    c.is_socket ? "FIN (shutdown: no more bytes from us)" : "EOF (stdin closed)");
                return std::nullopt;
            }
            if ((step.op == "close" || step.op == "reset") && !c.is_socket) {
                if (c.write_fd >= 0) {
                    c.program->close_stdin(); // its Process owns the descriptors of a program
                    c.write_fd = -1;
                }
                log(c.name, "->", "EOF (stdin closed)");
                return std::nullopt;
            }
            if (step.op == "close" || step.op == "reset") {
                if (step.op == "reset") {
                    const linger abort{1, 0};
                    ::setsockopt(c.read_fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
                }
                ::close(c.read_fd);
                c.read_fd = c.write_fd = -1;
                c.eof = true;
                log(c.name, "->", step.op == "reset" ? "RST (closed with SO_LINGER 0)" : "closed");
                return std::nullopt;
            }
            return expect(c, step);
        } catch (const ScriptError& e) {
            return Failure{std::string("script error: ") + e.what(), "", "fix the script"};
        }
    }

    std::optional<Failure> start(const Step& step) {
        const bool is_server = step.op == "server";
        auto attached = options_.attach.find(step.subject);
        std::vector<std::string> argv;
        argv.reserve(step.words.size());
        for (const auto& w : step.words) {
            argv.push_back(substitute(w));
        }
        if (argv[0].find('/') == std::string::npos) {
            argv[0] = options_.bin_dir + "/" + argv[0];
        }
        if (is_server && attached != options_.attach.end()) {
            auto program = std::make_unique<Process>(step.subject, argv);
            program->attach(attached->second);
            log(step.subject, "  ",
                "attached: you started it on port " + std::to_string(attached->second) +
                    " (the script would start: " + join(argv) + ")");
            last_server_ = step.subject;
            programs_[step.subject] = std::move(program);
            return std::nullopt;
        }
        auto program = std::make_unique<Process>(step.subject, argv);
        program->confine(options_.confinement);
        std::string error;
        if (!program->start(error)) {
            return Failure{"cannot start " + argv[0] + ": " + error, "",
                           "is the program built? Programs are looked up in " + options_.bin_dir};
        }
        log(step.subject, "  ", "started: " + join(argv));
        auto channel = std::make_unique<Channel>();
        channel->name = step.subject;
        channel->read_fd = program->stdout_fd();
        channel->write_fd = program->stdin_fd();
        channel->program = program.get();
        Process* p = program.get();
        Channel* c = channel.get();
        programs_[step.subject] = std::move(program);
        channels_[step.subject] = std::move(channel);
        if (!is_server) {
            return std::nullopt;
        }
        last_server_ = step.subject;
        const auto has_line = [c] { return c->pending().find('\n') != std::string_view::npos; };
        const auto until = deadline(step);
        for (;;) {
            if (has_line()) {
                break;
            }
            if (p->exited() || c->ended()) {
                while (!p->exited() && Clock::now() < until) {
                    pump(until);
                }
                p->acknowledge_exit();
                return Failure{step.subject + " " + (p->exited() ? p->status_text() : "closed its stdout") +
                                   " before printing its `listening on 127.0.0.1:PORT` line",
                               c->pending().empty() ? ""
                                                    : "    its stdout: " + quote_bytes(c->pending()) + "\n",
                               "the server stopped before it listened: read its stderr below (a skeleton "
                               "says which function to write first)"};
            }
            if (Clock::now() >= until) {
                return Failure{
                    step.subject + " printed no `listening on 127.0.0.1:PORT` line within " +
                        deadline_text(step),
                    c->pending().empty() ? "" : "    its stdout so far: " + quote_bytes(c->pending()) + "\n",
                    "did the server print `listening on 127.0.0.1:PORT` as its first line and flush "
                    "stdout at once (std::endl or std::fflush)? Text that waits in stdout's buffer "
                    "never reaches the pipe."};
            }
            pump(until);
        }
        const std::string_view pending = c->pending();
        const std::string line(pending.substr(0, pending.find('\n')));
        c->consumed += line.size() + 1;
        static const std::regex listening(R"(listening on 127\.0\.0\.1:([0-9]{1,5}))");
        std::smatch m;
        if (!std::regex_match(line, m, listening) || std::stoi(m[1]) == 0 || std::stoi(m[1]) > 65535) {
            return Failure{step.subject + "'s first line is not `listening on 127.0.0.1:PORT`",
                           caret_picture("listening on 127.0.0.1:PORT", line, "    "),
                           "the first line on stdout must be exactly `listening on 127.0.0.1:PORT` with the "
                           "port the server really bound (read it back with getsockname after bind)"};
        }
        p->set_port(std::stoi(m[1]));
        return std::nullopt;
    }

    std::optional<Failure> connect(const Step& step) {
        std::string shown;
        const auto port = target_port(step, shown);
        const bool want_refused = step.op == "expect-refused";
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(*port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int error = 0;
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            error = errno;
        }
        if (error == EINPROGRESS) {
            const auto until = deadline(step);
            pollfd p{fd, POLLOUT, 0};
            error = ETIMEDOUT;
            while (Clock::now() < until) {
                pump(std::min(until, Clock::now() + std::chrono::milliseconds(5)));
                if (::poll(&p, 1, 0) == 1) {
                    socklen_t len = sizeof error;
                    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
                    break;
                }
            }
        }
        if (want_refused) {
            ::close(fd);
            if (error == ECONNREFUSED) {
                log("script", "  ", "connect to " + shown + " refused, as expected");
                return std::nullopt;
            }
            return Failure{error == 0 ? "a connect to " + shown + " succeeded; it should be refused"
                                      : "a connect to " + shown + " failed with " + errno_text(error) +
                                            "; it should be refused",
                           "",
                           "something still listens there: did the server close its listening socket when it "
                           "stopped?"};
        }
        if (error != 0) {
            ::close(fd);
            Failure f{"connect to " + shown + ": " + errno_text(error), "", ""};
            if (error == ECONNREFUSED) {
                f.hint = "nothing listens on that port: is the server listening on the port it printed, and "
                         "still running (see its status below)?";
            } else if (error == ETIMEDOUT) {
                f.hint = "the connection was not completed in time: is the server's accept queue full (a "
                         "server that never calls accept)?";
            }
            return f;
        }
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        add_socket(step.subject, fd);
        log(step.subject, "  ", "connected to " + shown);
        return std::nullopt;
    }

    void add_socket(const std::string& name, int fd) {
        auto channel = std::make_unique<Channel>();
        channel->name = name;
        channel->read_fd = channel->write_fd = fd;
        channel->is_socket = true;
        channels_[name] = std::move(channel);
    }

    std::optional<Failure> listen(const Step& step) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof address;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&address), len) != 0 || ::listen(fd, 16) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) != 0) {
            const int error = errno;
            ::close(fd);
            return Failure{"listen on 127.0.0.1:0: " + errno_text(error), "", "the runner could not listen"};
        }
        listeners_[step.subject] = Listener{fd, ntohs(address.sin_port)};
        log(step.subject, "  ", "listening on 127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
        return std::nullopt;
    }

    std::optional<Failure> accept(const Step& step) {
        const Listener& listener = listeners_.at(step.words[0]);
        int fd = -1;
        auto f = wait_for(
            [&] {
                fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                return fd >= 0;
            },
            deadline(step), "a connection to " + step.words[0], nullptr);
        if (f) {
            f->hint = f->hint.empty()
                          ? "the client did not connect: did it start (see its stderr), and connect to "
                            "the endpoint on its command line?"
                          : f->hint;
            return f;
        }
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        add_socket(step.subject, fd);
        log(step.subject, "  ", "accepted on " + step.words[0]);
        return std::nullopt;
    }

    // Writes all of bytes, reading every channel meanwhile so that a peer that echoes never blocks.
    std::optional<Failure> write_all(Channel& c, std::string_view bytes, Clock::time_point until) {
        if (c.write_fd < 0) {
            return Failure{c.name + (c.closed_after_failure
                                         ? ": cannot send: it was closed when the check that opened it failed"
                                         : ": cannot send: this side is already closed"),
                           "", c.closed_after_failure ? "fix the earlier failure first" : "fix the script"};
        }
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = c.is_socket
                                  ? ::send(c.write_fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL)
                                  : ::write(c.write_fd, bytes.data() + done, bytes.size() - done);
            if (n > 0) {
                done += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (Clock::now() >= until) {
                    return Failure{c.name + ": timed out sending (" + std::to_string(done) + " of " +
                                       std::to_string(bytes.size()) + " bytes sent)",
                                   "",
                                   "the program stopped reading: does it read everything, or wait to write a "
                                   "reply that nobody reads?"};
                }
                pump(until, c.write_fd);
                continue;
            }
            const int error = errno;
            log(c.name, "->", quote_bytes(bytes.substr(0, done)) + " then " + errno_text(error));
            if (!c.is_socket && c.program != nullptr) {
                // A program's stdin breaks when the program is gone: say that, not "broken pipe".
                const auto grace = Clock::now() + std::chrono::milliseconds(200);
                while (!c.program->exited() && Clock::now() < grace) {
                    pump(grace);
                }
                if (c.program->exited()) {
                    c.program->acknowledge_exit();
                    return Failure{c.name + " " + c.program->status_text() + " before it read its input", "",
                                   "the program stopped early: read its stderr below"};
                }
            }
            return Failure{
                c.name + ": send failed after " + std::to_string(done) + " bytes: " + errno_text(error), "",
                error == ECONNRESET || error == EPIPE
                    ? "the program had closed or reset the connection: did it close early or crash?"
                    : ""};
        }
        log(c.name, "->", quote_bytes(bytes));
        return std::nullopt;
    }

    std::optional<Failure> send(Channel& c, const Step& step) {
        const auto until = deadline(step);
        if (step.op == "send") {
            return write_all(c, step.data, until);
        }
        std::size_t at = 0;
        std::uniform_int_distribution<std::int64_t> size(step.number, std::max(step.number, step.number2));
        while (at < step.data.size()) {
            const auto n = static_cast<std::size_t>(step.op == "send-split" ? step.number : size(random_));
            const std::string_view piece = std::string_view(step.data).substr(at, n);
            if (auto f = write_all(c, piece, until)) {
                return f;
            }
            at += piece.size();
            if (step.duration.count() > 0) {
                const auto gap_end = Clock::now() + step.duration;
                while (Clock::now() < gap_end) {
                    pump(gap_end);
                }
            }
        }
        return std::nullopt;
    }

    std::optional<Failure> expect(Channel& c, const Step& step) {
        const auto until = deadline(step);
        const std::string within = " within " + deadline_text(step);
        if (step.op == "expect-line" || step.op == "expect-regex") {
            const auto has_line = [&c] { return c.pending().find('\n') != std::string_view::npos; };
            const std::string what = step.op == "expect-line" ? "the line " + quote_bytes(step.data + "\n")
                                                              : "a line matching /" + step.data + "/";
            if (auto f = wait_for(has_line, until, what, &c, c.program)) {
                if (f->summary.rfind("timed out", 0) == 0) {
                    f->summary = c.name + ": no complete line arrived" + within;
                    if (!c.pending().empty()) {
                        f->summary += "; received without a \\n: " + quote_bytes(c.pending());
                        f->hint =
                            "a line ends with \\n: did the program send the reply without it, or wait for "
                            "more bytes of the request (a request split over several writes)?";
                    } else {
                        f->hint = "nothing arrived: does the program wait for more bytes than were sent, "
                                  "expect one read to bring one whole message, or never send the reply?";
                    }
                }
                return f;
            }
            const std::string_view pending = c.pending();
            const std::string line(pending.substr(0, pending.find('\n')));
            c.consumed += line.size() + 1;
            if (step.op == "expect-line" && line != step.data) {
                return Failure{c.name + ": the line that arrived is not the one expected",
                               caret_picture(step.data + "\n", line + "\n", "    "),
                               mismatch_hint(step.data, line)};
            }
            if (step.op == "expect-regex" && !std::regex_match(line, std::regex(substitute(step.data)))) {
                return Failure{c.name + ": the line " + quote_bytes(line + "\n") + " does not match /" +
                                   step.data + "/",
                               "", ""};
            }
            return std::nullopt;
        }
        if (step.op == "expect-bytes") {
            const std::size_t n = step.data.size();
            const auto enough = [&c, n] { return c.pending().size() >= n; };
            if (auto f = wait_for(enough, until, std::to_string(n) + " bytes", &c, c.program)) {
                if (f->summary.rfind("timed out", 0) == 0) {
                    f->summary = c.name + ": " + std::to_string(c.pending().size()) + " of " +
                                 std::to_string(n) + " expected bytes arrived" + within;
                    f->details = caret_picture(step.data, c.pending(), "    ");
                    f->hint =
                        c.pending().empty()
                            ? "nothing arrived: did the program answer at all (see its stderr), or wait for "
                              "more bytes than were sent?"
                            : "the rest never came: did the program stop sending, or drop the last bytes "
                              "of a read?";
                } else if (c.pending().size() < n) {
                    f->details = caret_picture(step.data, c.pending(), "    ");
                }
                return f;
            }
            const std::string got(c.pending().substr(0, n));
            c.consumed += n;
            if (got != step.data) {
                return Failure{c.name + ": the bytes that arrived are not the ones expected",
                               caret_picture(step.data, got, "    "), mismatch_hint(step.data, got)};
            }
            return std::nullopt;
        }
        if (step.op == "expect-eof" || step.op == "expect-reset") {
            const bool want_reset = step.op == "expect-reset";
            const auto ended = [&c, want_reset] {
                return c.ended() || (!want_reset && !c.pending().empty());
            };
            if (auto f = wait_for(ended, until, want_reset ? "a reset" : "EOF", nullptr, c.program)) {
                if (f->summary.rfind("timed out", 0) == 0) {
                    f->summary =
                        c.name +
                        (want_reset ? ": the connection was not reset" : ": the connection stayed open") +
                        within;
                    f->hint = want_reset ? ""
                                         : "the program did not close: does it close after answering QUIT, "
                                           "after the peer closes, or when it stops?";
                }
                return f;
            }
            if (auto f = ended_by_a_death(c)) {
                return f;
            }
            if (!want_reset && !c.pending().empty()) {
                return Failure{c.name + ": bytes arrived where EOF was expected: " + quote_bytes(c.pending()),
                               "", "the program sent more than the script expected before closing"};
            }
            if (want_reset && c.error != ECONNRESET) {
                return Failure{c.name + ": expected a reset, but the connection was closed in order (EOF)" +
                                   (c.pending().empty() ? "" : " after " + quote_bytes(c.pending())),
                               "", ""};
            }
            if (!want_reset && c.error != 0) {
                return Failure{
                    c.name + ": expected an orderly close (EOF), got " + errno_text(c.error), "",
                    "a reset instead of FIN: did the program close with unread bytes in its receive "
                    "buffer (read what the peer sent, or shutdown before close)?"};
            }
            c.consumed = c.received.size();
            return std::nullopt;
        }
        if (step.op == "expect-silence") {
            if (!c.pending().empty()) {
                return Failure{c.name + ": expected silence, but " + quote_bytes(c.pending()) +
                                   " had already arrived",
                               "", "the program sent more than the script expected before this point"};
            }
            const std::size_t before = c.received.size();
            const auto until_quiet = Clock::now() + step.duration;
            const bool ended_before = c.ended(); // an end already seen (by expect-eof) is not news
            const auto spoke = [&c, before, ended_before] {
                return c.received.size() > before || (!ended_before && c.ended());
            };
            auto f = wait_for(spoke, until_quiet, "silence", nullptr, c.program);
            if (!f) {
                return Failure{
                    c.name + ": expected silence for " + ms_text(step.duration) + ", but " +
                        (c.received.size() > before
                             ? quote_bytes(std::string_view(c.received).substr(before)) + " arrived"
                             : std::string("the connection ended")),
                    "",
                    "the program answered where it should still be waiting (a partial line is not a "
                    "request yet)"};
            }
            if (f->summary.rfind("timed out", 0) == 0) {
                return std::nullopt;
            }
            return f;
        }
        throw ScriptError("unknown statement " + step.op);
    }

    static std::string mismatch_hint(const std::string& expected, const std::string& actual) {
        if (actual.size() == expected.size() + 1 && actual.back() == '\r') {
            return "an extra \\r at the end: the program kept the \\r of a CRLF request (drop a \\r just "
                   "before "
                   "the \\n)";
        }
        if (actual.size() > expected.size() && actual.compare(0, expected.size(), expected) == 0) {
            return "the expected bytes are there, then more: were two messages answered as one, or a buffer "
                   "sent past its end?";
        }
        if (actual.size() < expected.size() && expected.compare(0, actual.size(), actual) == 0) {
            return "the reply stops short: did the program drop the last bytes of a read, or answer a "
                   "partial "
                   "request?";
        }
        return "";
    }

    std::optional<Failure> program_step(Process& p, const Step& step) {
        if (p.attached()) {
            log(p.name(), "  ", "skipped (you started it yourself): " + step.text);
            ++skipped_steps_;
            if (step.op == "signal") {
                // The script goes on at once: the student sends it, now.
                std::cerr << "socklab-script: line " << step.line << ": send SIG" << step.data
                          << " to the server you started, now (kill -" << step.data << " PID)" << std::endl;
            }
            return std::nullopt;
        }
        if (step.op == "signal") {
            p.send_signal(static_cast<int>(step.number));
            log(p.name(), "  ", "sent SIG" + step.data);
            return std::nullopt;
        }
        const auto until = deadline(step);
        const std::string within = " within " + deadline_text(step);
        if (step.op == "expect-stderr") {
            const std::string pattern = substitute(step.data);
            std::regex re(pattern);
            // Once the program has exited and its stderr is closed, nothing more can come.
            const auto found = [&] {
                return std::regex_search(p.stderr_text(), re) || (p.exited() && p.stderr_fd() < 0);
            };
            auto f = wait_for(found, until, "stderr matching /" + pattern + "/", nullptr, &p);
            if (!f && !std::regex_search(p.stderr_text(), re)) {
                f = Failure{};
            }
            if (f) {
                f->summary = p.name() + ": nothing on stderr matched /" + pattern + "/" +
                             (p.exited() ? " (it " + p.status_text() + ")" : within);
                f->hint = "an error message names the operation, the endpoint and the likely cause (see "
                          "docs/reference/programs.md)";
                return f;
            }
            return std::nullopt;
        }
        // expect-exit
        const auto exited = [&p] { return p.exited(); };
        if (auto f = wait_for(exited, until, "exit", nullptr, &p)) {
            f->summary = p.name() + " did not exit" + within;
            f->hint = p.was_signalled_by_script()
                          ? "after the signal the program should stop: does its handler only set a flag (or "
                            "write to a pipe) that the main loop checks, and are blocked calls woken up?"
                          : "the program is still running: does it exit when its input ends and the peer "
                            "closes?";
            return f;
        }
        p.acknowledge_exit();
        if (p.killed_by_signal() || p.exit_code() != step.number) {
            return Failure{p.name() + " " + p.status_text() + "; expected exit code " +
                               std::to_string(step.number),
                           "", "exit codes follow sysexits.h: see docs/reference/programs.md"};
        }
        return std::nullopt;
    }

    static std::string join(const std::vector<std::string>& words) {
        std::string out;
        for (const auto& w : words) {
            out += (out.empty() ? "" : " ") +
                   (w.find(' ') == std::string::npos && !w.empty() ? w : quote_bytes(w));
        }
        return out;
    }

    // --- the report ---------------------------------------------------------------------------

    std::string report(const Check& check, const Step& step, const Failure& f, bool in_setup) {
        std::ostringstream r;
        r << "FAILED: " << check.name << points_text(check.points) << "\n";
        r << "  " << f.summary << "\n";
        r << "  at " << script_.path << ":" << step.line << (in_setup ? " (set-up)" : "") << ": " << step.text
          << "\n";
        if (!f.details.empty()) {
            r << f.details;
        }
        if (!f.hint.empty()) {
            r << "  hint: " << f.hint << "\n";
        }
        if (!check.docs.empty()) {
            r << "read: " << check.docs << "\n";
            for (const std::string& more : check.more_docs) {
                r << "then: " << more << "\n";
            }
        }
        r << "transcript (ms since the script started; -> sent by the script, <- received):\n";
        // The set-up, then this check's own events: earlier checks have their own reports.
        const auto show = [&](std::size_t from, std::size_t to, std::size_t most) {
            if (to - from > most) {
                r << "  (" << (to - from - most) << " events not shown)\n";
                from = to - most;
            }
            for (std::size_t i = from; i < to; ++i) {
                const Event& e = events_[i];
                if (!options_.stable) {
                    r << "  " << std::setw(9) << std::fixed << std::setprecision(1) << e.ms;
                }
                r << "  " << std::left << std::setw(8) << e.who << std::right << " " << e.arrow << " "
                  << stable_text(e.text) << "\n";
            }
        };
        show(0, std::min(setup_events_, events_.size()), 40);
        if (check_events_ > setup_events_ && check_events_ - setup_events_ > 1) {
            r << "  (the events of the checks before this one are in their own reports)\n";
        }
        show(std::max(check_events_, std::min(setup_events_, events_.size())), events_.size(), 80);
        for (const auto& [name, p] : programs_) {
            if (p->attached()) {
                continue;
            }
            r << "program " << name << ": " << (p->exited() ? p->status_text() : "still running") << "\n";
            const std::string err = p->stderr_text();
            if (!err.empty()) {
                r << "  its stderr" << (err.size() > 4096 ? " (last 4 KiB)" : "") << ":\n";
                std::istringstream lines(err.size() > 4096 ? err.substr(err.size() - 4096) : err);
                std::string l;
                while (std::getline(lines, l)) {
                    r << "  | " << stable_text(l) << "\n";
                }
            }
        }
        r << replay_text();
        return stable_text(r.str());
    }

    // In stable mode, the port numbers that change from run to run become PORT.
    std::string stable_text(const std::string& text) const {
        if (!options_.stable) {
            return text;
        }
        static const std::regex port(R"((127\.0\.0\.1|localhost):[0-9]+)");
        std::string out = std::regex_replace(text, port, "$1:PORT");
        for (std::size_t at = 0; (at = out.find(options_.bin_dir, at)) != std::string::npos;) {
            out.replace(at, options_.bin_dir.size(), "BIN");
        }
        return out;
    }

    std::string replay_text() const {
        if (options_.replay.empty()) {
            return "";
        }
        std::string cmd;
        for (std::size_t i = 0; i + 1 < options_.replay.size(); ++i) {
            cmd += options_.replay[i] + " ";
        }
        cmd += "--seed " + std::to_string(seed_) + " " + options_.replay.back();
        for (const auto& [name, port] : options_.attach) {
            cmd += " --attach " + name + "=" + std::to_string(port);
        }
        std::string out = "replay: " + cmd + "\n";
        for (const auto& [name, p] : programs_) {
            // refpeer plays a part in the script; the program under test is the one to attach.
            if (p->port() > 0 && !p->attached() && p->command().find("/refpeer") == std::string::npos) {
                // Shown where the replay command runs its programs from (the grader's replay is
                // build/bin/socklab-script in the student's checkout), not the grader's work folder.
                std::string shown = p->command();
                const auto slash = options_.replay.front().rfind('/');
                if (slash != std::string::npos && !options_.bin_dir.empty() &&
                    shown.rfind(options_.bin_dir + "/", 0) == 0) {
                    shown = options_.replay.front().substr(0, slash) + shown.substr(options_.bin_dir.size());
                }
                out += "replay against a " + name + " you start yourself (say under gdb --args ";
                out += shown;
                out += "): " + cmd;
                out += std::string(options_.time_scale == 1.0 ? " --time-scale 20" : "") + " --attach " +
                       name + "=PORT\n";
            }
        }
        return options_.stable ? std::regex_replace(out, std::regex("--seed [0-9]+"), "--seed SEED") : out;
    }

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
    std::size_t setup_events_ = 0; // events of the set-up: [0, setup_events_)
    std::size_t check_events_ = 0; // where the current check's events begin
    int skipped_steps_ = 0;        // steps of the current check about an attached server
};

} // namespace

RunResult run_script(const Script& script, const RunOptions& options, std::ostream& out) {
    Runner runner(script, options, out);
    return runner.run();
}

} // namespace socklab::script
