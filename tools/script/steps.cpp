// The script runner's steps: the handler of each statement of the language.
#include "escape.hpp"
#include "runner_state.hpp"

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
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

namespace socklab::script::detail {

// --- names ------------------------------------------------------------------------------

std::string Runner::substitute(const std::string& word) const {
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

int Runner::port_of(const std::string& name) const {
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
std::optional<int> Runner::target_port(const Step& step, std::string& shown) {
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

std::optional<Failure> Runner::start(const Step& step) {
    const bool is_server = step.op == Op::Server;
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
                           c->pending().empty() ? "" : "    its stdout: " + quote_bytes(c->pending()) + "\n",
                           "the server stopped before it listened: read its stderr below (a skeleton "
                           "says which function to write first)"};
        }
        if (Clock::now() >= until) {
            return Failure{
                step.subject + " printed no `listening on 127.0.0.1:PORT` line within " + deadline_text(step),
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

std::optional<Failure> Runner::connect(const Step& step) {
    std::string shown;
    const auto port = target_port(step, shown);
    const bool want_refused = step.op == Op::ExpectRefused;
    sandbox::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(*port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int error = 0;
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        error = errno;
    }
    if (error == EINPROGRESS) {
        const auto until = deadline(step);
        pollfd p{fd.get(), POLLOUT, 0};
        error = ETIMEDOUT;
        while (Clock::now() < until) {
            pump(std::min(until, Clock::now() + std::chrono::milliseconds(5)));
            if (::poll(&p, 1, 0) == 1) {
                socklen_t len = sizeof error;
                ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
                break;
            }
        }
    }
    if (want_refused) {
        fd.reset();
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
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    add_socket(step.subject, std::move(fd));
    log(step.subject, "  ", "connected to " + shown);
    return std::nullopt;
}

std::optional<Failure> Runner::listen(const Step& step) {
    sandbox::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), len) != 0 || ::listen(fd.get(), 16) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &len) != 0) {
        const int error = errno;
        return Failure{"listen on 127.0.0.1:0: " + errno_text(error), "", "the runner could not listen"};
    }
    listeners_[step.subject] = Listener{std::move(fd), ntohs(address.sin_port)};
    log(step.subject, "  ", "listening on 127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
    return std::nullopt;
}

std::optional<Failure> Runner::accept(const Step& step) {
    const Listener& listener = listeners_.at(step.words[0]);
    int fd = -1;
    auto f = wait_for(
        [&] {
            fd = ::accept4(listener.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    add_socket(step.subject, sandbox::Fd(fd));
    log(step.subject, "  ", "accepted on " + step.words[0]);
    return std::nullopt;
}

std::optional<Failure> Runner::send(Channel& c, const Step& step) {
    const auto until = deadline(step);
    if (step.op == Op::Send) {
        return write_all(c, step.data, until);
    }
    std::size_t at = 0;
    std::uniform_int_distribution<std::int64_t> size(step.number, std::max(step.number, step.number2));
    while (at < step.data.size()) {
        const auto n = static_cast<std::size_t>(step.op == Op::SendSplit ? step.number : size(random_));
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

std::optional<Failure> Runner::expect_line(Channel& c, const Step& step) {
    const auto until = deadline(step);
    const std::string within = " within " + deadline_text(step);
    const auto has_line = [&c] { return c.pending().find('\n') != std::string_view::npos; };
    const std::string what = step.op == Op::ExpectLine ? "the line " + quote_bytes(step.data + "\n")
                                                       : "a line matching /" + step.data + "/";
    if (auto f = wait_for(has_line, until, what, &c, c.program)) {
        if (f->summary.rfind("timed out", 0) == 0) {
            f->summary = c.name + ": no complete line arrived" + within;
            if (!c.pending().empty()) {
                f->summary += "; received without a \\n: " + quote_bytes(c.pending());
                f->hint = "a line ends with \\n: did the program send the reply without it, or wait for "
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
    if (step.op == Op::ExpectLine && line != step.data) {
        return Failure{c.name + ": the line that arrived is not the one expected",
                       caret_picture(step.data + "\n", line + "\n", "    "), mismatch_hint(step.data, line)};
    }
    if (step.op == Op::ExpectRegex && !std::regex_match(line, std::regex(substitute(step.data)))) {
        return Failure{c.name + ": the line " + quote_bytes(line + "\n") + " does not match /" + step.data +
                           "/",
                       "", ""};
    }
    return std::nullopt;
}

std::optional<Failure> Runner::expect_bytes(Channel& c, const Step& step) {
    const auto until = deadline(step);
    const std::string within = " within " + deadline_text(step);
    const std::size_t n = step.data.size();
    const auto enough = [&c, n] { return c.pending().size() >= n; };
    if (auto f = wait_for(enough, until, std::to_string(n) + " bytes", &c, c.program)) {
        if (f->summary.rfind("timed out", 0) == 0) {
            f->summary = c.name + ": " + std::to_string(c.pending().size()) + " of " + std::to_string(n) +
                         " expected bytes arrived" + within;
            f->details = caret_picture(step.data, c.pending(), "    ");
            f->hint = c.pending().empty()
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

std::optional<Failure> Runner::expect_end(Channel& c, const Step& step) {
    const auto until = deadline(step);
    const std::string within = " within " + deadline_text(step);
    const bool want_reset = step.op == Op::ExpectReset;
    const auto ended = [&c, want_reset] { return c.ended() || (!want_reset && !c.pending().empty()); };
    if (auto f = wait_for(ended, until, want_reset ? "a reset" : "EOF", nullptr, c.program)) {
        if (f->summary.rfind("timed out", 0) == 0) {
            f->summary = c.name +
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
        return Failure{c.name + ": bytes arrived where EOF was expected: " + quote_bytes(c.pending()), "",
                       "the program sent more than the script expected before closing"};
    }
    if (want_reset && c.error != ECONNRESET) {
        return Failure{c.name + ": expected a reset, but the connection was closed in order (EOF)" +
                           (c.pending().empty() ? "" : " after " + quote_bytes(c.pending())),
                       "", ""};
    }
    if (!want_reset && c.error != 0) {
        return Failure{c.name + ": expected an orderly close (EOF), got " + errno_text(c.error), "",
                       "a reset instead of FIN: did the program close with unread bytes in its receive "
                       "buffer (read what the peer sent, or shutdown before close)?"};
    }
    c.consumed = c.received.size();
    return std::nullopt;
}

std::optional<Failure> Runner::expect_silence(Channel& c, const Step& step) {
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
        return Failure{c.name + ": expected silence for " + ms_text(step.duration) + ", but " +
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

std::string Runner::mismatch_hint(const std::string& expected, const std::string& actual) {
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

std::optional<Failure> Runner::expect_stderr(Process& p, const Step& step) {
    const auto until = deadline(step);
    const std::string within = " within " + deadline_text(step);
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

std::optional<Failure> Runner::expect_exit(Process& p, const Step& step) {
    const auto until = deadline(step);
    const std::string within = " within " + deadline_text(step);
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

std::string Runner::join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        out +=
            (out.empty() ? "" : " ") + (w.find(' ') == std::string::npos && !w.empty() ? w : quote_bytes(w));
    }
    return out;
}

} // namespace socklab::script::detail
