// The script runner's reports: what a failed check prints, and the commands that replay it.
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

std::string Runner::points_text(int points) {
    return " (" + std::to_string(points) + (points == 1 ? " point)" : " points)");
}

// --- the report ---------------------------------------------------------------------------

std::string Runner::report(const Check& check, const Step& step, const Failure& f, bool in_setup) {
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
    r << wire_text();
    r << replay_text();
    return stable_text(r.str());
}

// In stable mode, the port numbers that change from run to run become PORT.
std::string Runner::stable_text(const std::string& text) const {
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

std::string Runner::replay_text() const {
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
            out += std::string(options_.time_scale == 1.0 ? " --time-scale 20" : "") + " --attach " + name +
                   "=PORT\n";
        }
    }
    return options_.stable ? std::regex_replace(out, std::regex("--seed [0-9]+"), "--seed SEED") : out;
}

} // namespace socklab::script::detail
