// The script runner's channels: moving bytes over connections and programs' stdin and stdout,
// waiting for them within deadlines, and telling why a wait ended.
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

void Runner::log(const std::string& who, const std::string& arrow, const std::string& text) {
    if (events_.size() < kMaxEvents) {
        events_.push_back({now_ms(), who, arrow, text});
    } else if (events_.size() == kMaxEvents) {
        events_.push_back(
            {now_ms(), "script", "  ", "(more events than a transcript keeps: the rest are not shown)"});
    }
}

Clock::time_point Runner::deadline(const Step& step) const {
    const auto base = step.within.value_or(script_.timeout);
    return Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(
                              static_cast<double>(base.count()) * options_.time_scale));
}

// A step's deadline as waited, with the scale when there is one: "2000ms", "40000ms (2000ms x 20)".
std::string Runner::deadline_text(const Step& step) const {
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
void Runner::pump(Clock::time_point until, int write_fd) {
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
void Runner::settle() {
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

void Runner::reap(Process& program) {
    if (program.poll_exit()) {
        program.drain_stderr();
        log(program.name(), "  ", program.status_text());
    }
}

// Reads everything a channel has ready.
void Runner::drain(Channel& c) {
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
            log(c.name, "<-", errno == ECONNRESET ? "RESET (connection reset by peer)" : errno_text(errno));
        }
        return;
    }
}

// Waits until met() holds, a deadline passes, the channel (if any) ends, or a program dies
// unexpectedly. Returns a failure, or nothing when met() held.
std::optional<Failure> Runner::wait_for(const std::function<bool()>& met, Clock::time_point until,
                                        const std::string& what, Channel* channel, const Process* exempt) {
    for (;;) {
        if (met()) {
            return std::nullopt;
        }
        if (channel != nullptr && channel->ended()) {
            return ended_failure(*channel, what);
        }
        if (Process* dead = unexpected_exit(exempt)) {
            dead->acknowledge_exit();
            return Failure{dead->name() + " " + dead->status_text() + " while waiting for " + what, "",
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

Process* Runner::unexpected_exit(const Process* exempt) {
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
std::optional<Failure> Runner::ended_by_a_death(const Channel& c) {
    if (!c.is_socket) {
        return std::nullopt;
    }
    const auto until =
        Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(20'000.0 * options_.time_scale));
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

Failure Runner::ended_failure(const Channel& c, const std::string& what) {
    Failure f;
    if (c.closed_after_failure) {
        return Failure{c.name + " was closed when the check that opened it failed; nothing more can arrive",
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

std::optional<Failure> Runner::shutdown(Channel& c) {
    if (c.is_socket) {
        ::shutdown(c.write_fd, SHUT_WR);
    } else if (c.write_fd >= 0) {
        c.program->close_stdin(); // a program's stdin: its Process owns the descriptor
        c.write_fd = -1;
    }
    log(c.name, "->", c.is_socket ? "FIN (shutdown: no more bytes from us)" : "EOF (stdin closed)");
    return std::nullopt;
}

std::optional<Failure> Runner::close(Channel& c, const Step& step) {
    if (!c.is_socket) {
        if (c.write_fd >= 0) {
            c.program->close_stdin(); // its Process owns the descriptors of a program
            c.write_fd = -1;
        }
        log(c.name, "->", "EOF (stdin closed)");
        return std::nullopt;
    }
    const bool reset = step.op == Op::Reset;
    if (reset) {
        const linger abort{1, 0};
        ::setsockopt(c.read_fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    }
    c.close_socket();
    c.eof = true;
    log(c.name, "->", reset ? "RST (closed with SO_LINGER 0)" : "closed");
    return std::nullopt;
}

void Runner::add_socket(const std::string& name, sandbox::Fd socket) {
    auto channel = std::make_unique<Channel>();
    channel->name = name;
    channel->read_fd = channel->write_fd = socket.get();
    sockaddr_in local{};
    socklen_t length = sizeof local;
    if (::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&local), &length) == 0) {
        channel->local_port = ntohs(local.sin_port);
    }
    channel->socket = std::move(socket);
    channel->is_socket = true;
    channels_[name] = std::move(channel);
}

// Writes all of bytes, reading every channel meanwhile so that a peer that echoes never blocks.
std::optional<Failure> Runner::write_all(Channel& c, std::string_view bytes, Clock::time_point until) {
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

} // namespace socklab::script::detail
