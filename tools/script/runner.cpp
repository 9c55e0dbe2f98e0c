// The script runner: runs the set-up and each check, and sends each step to its handler.
#include "runner.hpp"

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

namespace socklab::script {

bool RunResult::passed() const {
    return std::all_of(checks.begin(), checks.end(), [](const CheckResult& c) { return c.passed; });
}

namespace detail {

Runner::Runner(const Script& script, const RunOptions& options, std::ostream& out)
    : script_(script), options_(options), out_(out), start_(Clock::now()),
      seed_(options.seed.value_or(script.seed)), random_(seed_) {
    // --attach must name a server of this script: a misspelt name would quietly start the
    // script's own server, and the student would think theirs passed.
    std::string servers;
    for (const auto& step : script.steps) {
        if (step.op == Op::Server) {
            servers += servers.empty() ? "" : ", ";
            servers += step.subject;
        }
    }
    for (const auto& entry : options.attach) {
        const std::string& name = entry.first;
        const bool known = std::any_of(script.steps.begin(), script.steps.end(), [&name](const Step& s) {
            return s.op == Op::Server && s.subject == name;
        });
        if (!known) {
            std::string message = "--attach " + name + "=" + std::to_string(entry.second) + ": ";
            message += script.path + " has no server named '" + name + "'";
            message += servers.empty() ? " (it starts none)" : " (its servers: " + servers + ")";
            throw ScriptError(message);
        }
    }
}

Runner::~Runner() {
    for (auto& [name, program] : programs_) {
        program->kill_group();
    }
}

RunResult Runner::run() {
    RunResult result;
    result.seed = seed_;
    out_ << "script " << script_.path << " (seed " << seed_ << ")\n";
    wire_from_ = std::chrono::system_clock::now();
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
        if (!setup_failure) {
            wire_from_ = std::chrono::system_clock::now(); // a set-up that failed is the check's story
        }
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
            out_ << "FAILED: " << check.name << points_text(check.points) << ": not run, the set-up failed\n";
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

std::set<std::string> Runner::channel_names() const {
    std::set<std::string> names;
    for (const auto& [name, channel] : channels_) {
        names.insert(name);
    }
    return names;
}

// After a failed check, what it left must not be blamed on the next one: bytes not yet read
// are dropped (and said to be), and the connections it opened are closed.
void Runner::clean_up_after_failure(const std::set<std::string>& before) {
    for (auto& [name, c] : channels_) {
        if (!c->pending().empty()) {
            log(name, "  ",
                std::to_string(c->pending().size()) + " unread byte(s) dropped: the check failed");
            c->consumed = c->received.size();
        }
        if (c->is_socket && before.count(name) == 0 && c->read_fd >= 0) {
            c->close_socket();
            c->eof = true;
            c->closed_after_failure = true;
            log(name, "->", "closed: it was opened by the check that failed");
        }
    }
}

// --- steps ------------------------------------------------------------------------------

// Runs one step: each statement has its handler, and the switches name every Op, so a
// statement without one is a compiler warning (an error in CI).
std::optional<Failure> Runner::execute(const Step& step) {
    log("script", "  ", "line " + std::to_string(step.line) + ": " + step.text);
    try {
        switch (step.op) {
        case Op::Server:
        case Op::Run: return start(step);
        case Op::Connect:
        case Op::ExpectRefused: return connect(step);
        case Op::Listen: return listen(step);
        case Op::Accept: return accept(step);
        case Op::Pause: return pause(step);
        case Op::Signal:
        case Op::ExpectExit:
        case Op::ExpectStderr: return program_step(*programs_.at(step.subject), step);
        case Op::Send:
        case Op::SendSplit:
        case Op::SendRandom:
        case Op::Shutdown:
        case Op::Close:
        case Op::Reset:
        case Op::ExpectLine:
        case Op::ExpectRegex:
        case Op::ExpectBytes:
        case Op::ExpectEof:
        case Op::ExpectReset:
        case Op::ExpectFin:
        case Op::ExpectSilence: return channel_step(step);
        }
        throw ScriptError("no handler for the statement " + std::string(keyword(step.op)));
    } catch (const ScriptError& e) {
        return Failure{std::string("script error: ") + e.what(), "", "fix the script"};
    }
}

std::optional<Failure> Runner::pause(const Step& step) {
    const auto until = Clock::now() + step.duration;
    while (Clock::now() < until) {
        pump(until);
    }
    return std::nullopt;
}

// A statement about a connection, or about a program's stdin and stdout.
std::optional<Failure> Runner::channel_step(const Step& step) {
    const auto found = channels_.find(step.subject);
    if (found == channels_.end()) {
        // An attached server has no stdin or stdout here: the user runs it.
        log(step.subject, "  ", "skipped (you started it yourself): " + step.text);
        ++skipped_steps_;
        return std::nullopt;
    }
    Channel& c = *found->second;
    switch (step.op) {
    case Op::Send:
    case Op::SendSplit:
    case Op::SendRandom: return send(c, step);
    case Op::Shutdown: return shutdown(c);
    case Op::Close:
    case Op::Reset: return close(c, step);
    case Op::ExpectLine:
    case Op::ExpectRegex: return expect_line(c, step);
    case Op::ExpectBytes: return expect_bytes(c, step);
    case Op::ExpectEof:
    case Op::ExpectReset: return expect_end(c, step);
    case Op::ExpectFin: return expect_fin(c, step);
    case Op::ExpectSilence: return expect_silence(c, step);
    default: throw ScriptError(std::string(keyword(step.op)) + " is not about a connection");
    }
}

std::optional<Failure> Runner::program_step(Process& p, const Step& step) {
    if (p.attached()) {
        log(p.name(), "  ", "skipped (you started it yourself): " + step.text);
        ++skipped_steps_;
        if (step.op == Op::Signal) {
            // The script goes on at once: the student sends it, now.
            std::cerr << "socklab-script: line " << step.line << ": send SIG" << step.data
                      << " to the server you started, now (kill -" << step.data << " PID)" << std::endl;
        }
        return std::nullopt;
    }
    switch (step.op) {
    case Op::Signal:
        p.send_signal(static_cast<int>(step.number));
        log(p.name(), "  ", "sent SIG" + step.data);
        return std::nullopt;
    case Op::ExpectStderr: return expect_stderr(p, step);
    case Op::ExpectExit: return expect_exit(p, step);
    default: throw ScriptError(std::string(keyword(step.op)) + " is not about a program");
    }
}

} // namespace detail

RunResult run_script(const Script& script, const RunOptions& options, std::ostream& out) {
    detail::Runner runner(script, options, out);
    return runner.run();
}

} // namespace socklab::script
