// socklab-wire: runs a command (a lab's program, say) in a private network namespace, with a peer
// if asked, captures every TCP segment and ICMP error on that namespace's loopback, and prints
// them as a timeline; --pcap keeps the capture for tcpdump -r or Wireshark (docs/reference/wire.md).
#include "process.hpp"
#include "socklab/wire/capture.hpp"
#include "socklab/wire/namespace.hpp"
#include "socklab/wire/timeline.hpp"

#include <CLI/CLI.hpp>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using socklab::script::Process;
using std::chrono::milliseconds;

// sysexits.h, as every socklab program.
constexpr int kUsage = 64;
constexpr int kUnavailable = 69;  // the peer did not start
constexpr int kNoPermission = 77; // no private namespace or no capture here

// A program named without a folder is looked for beside this one first (build/bin: refpeer and
// the lab programs), then on PATH, as a shell would.
std::string program_path(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        return name;
    }
    std::error_code ec;
    const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / name;
    if (!ec && ::access(beside.c_str(), X_OK) == 0) {
        return beside.string();
    }
    const char* path = std::getenv("PATH");
    std::istringstream folders(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string folder; std::getline(folders, folder, ':');) {
        const fs::path candidate = fs::path(folder.empty() ? "." : folder) / name;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate.string();
        }
    }
    return name; // the start fails, and says why
}

// Starts argv (its program looked up as above); nullptr, and why, when it cannot be started. Both
// stay in this process's group, so that Ctrl-C stops them with it. The command keeps the terminal;
// the peer's stdout and stderr are pipes (its first line names its port).
std::unique_ptr<Process> start(const std::string& role, std::vector<std::string> argv, bool keep_terminal,
                               std::string& why) {
    argv[0] = program_path(argv[0]);
    auto process = std::make_unique<Process>(role, std::move(argv));
    if (keep_terminal) {
        process->keep_terminal();
    } else {
        process->keep_process_group();
    }
    return process->start(why) ? std::move(process) : nullptr;
}

// A peer's first line, read within the deadline: the whole line (without its newline), or nothing
// when it did not come.
std::optional<std::string> first_line(const Process& peer, milliseconds within) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + within;
    while ((line.empty() || line.back() != '\n') && line.size() < 4096) {
        const auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{peer.stdout_fd(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            return std::nullopt;
        }
        char c = 0;
        if (::read(peer.stdout_fd(), &c, 1) != 1) {
            return std::nullopt;
        }
        line.push_back(c);
    }
    if (line.back() == '\n') {
        line.pop_back();
    }
    return line;
}

// The port of "listening on 127.0.0.1:PORT", or nothing when the line is another.
std::optional<int> port_in(const std::string& line) {
    const auto colon = line.rfind(':');
    if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos) {
        return std::nullopt;
    }
    const int port = std::atoi(line.c_str() + colon + 1);
    return port > 0 && port <= 65535 ? std::optional<int>(port) : std::nullopt;
}

// Waits within the deadline for the program to exit, reading the peer's stderr meanwhile (its pipe
// must not fill). Whether it exited.
bool exits_within(Process& program, milliseconds within, Process* peer) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
        program.poll_exit();
        if (peer != nullptr) {
            peer->drain_stderr();
        }
        const auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (program.exited() || left.count() <= 0) {
            return program.exited();
        }
        std::vector<pollfd> fds{{program.pidfd(), POLLIN, 0}};
        if (peer != nullptr && peer->stderr_fd() >= 0) {
            fds.push_back({peer->stderr_fd(), POLLIN, 0});
        }
        (void)::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left.count(), 50)));
    }
}

// Stops the peer: SIGTERM, so that its listener and connections close (their segments are
// captured), then SIGKILL if it has not exited within 2 s. What it wrote on stderr goes to ours.
void stop(Process& peer) {
    peer.send_signal(SIGTERM);
    if (!exits_within(peer, milliseconds(2000), &peer)) {
        peer.kill_group();
        peer.drain_stderr();
    }
    std::cerr << peer.stderr_text();
}

// The whole program; main() only adds the last word on an exception.
int run(int argc, char** argv) {
    CLI::App app{"socklab-wire: runs a command in a private network namespace and prints the TCP segments "
                 "it sent and received, as a timeline (docs/reference/wire.md)"};
    std::string pcap_path;
    std::string peer;
    int timeout_ms = 10000;
    int stop_peer_after_ms = 0;
    std::vector<std::string> command;
    app.add_option("--pcap", pcap_path,
                   "also write the capture to FILE (tcpdump -r FILE, tshark -r, Wireshark)");
    app.add_option("--peer", peer,
                   "a program started first, in the same namespace, as the command's peer, e.g. 'refpeer "
                   "blackhole' or 'build/bin/lab02-server': its 'listening on' line gives {port}");
    app.add_option("--stop-peer-after", stop_peer_after_ms,
                   "send the peer SIGTERM this many milliseconds after the command starts (to watch a server "
                   "stop with its clients connected)")
        ->check(CLI::Range(1, 600000));
    app.add_option("--timeout-ms", timeout_ms, "stop the command after this many milliseconds")
        ->check(CLI::Range(1, 600000))
        ->capture_default_str();
    app.add_option("command", command,
                   "the command and its arguments (after --); {port} becomes the peer's port")
        ->required();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return e.get_exit_code() == 0 ? app.exit(e) : (app.exit(e), kUsage);
    }

    // First, while this process has one thread: the namespace (a capture thread comes later).
    if (const std::string why = socklab::wire::enter_private_network(); !why.empty()) {
        std::cerr << "socklab-wire: cannot make a private network namespace to capture in: " << why << "\n";
        return kNoPermission;
    }
    std::string why;
    std::vector<socklab::wire::Role> roles;
    std::unique_ptr<Process> peer_process;
    if (!peer.empty()) {
        std::istringstream words(peer);
        peer_process = start("peer", {std::istream_iterator<std::string>(words), {}}, false, why);
        const std::optional<std::string> line =
            peer_process ? first_line(*peer_process, milliseconds(5000)) : std::nullopt;
        const std::optional<int> port = line ? port_in(*line) : std::nullopt;
        if (!port) {
            std::string what = "did not print 'listening on 127.0.0.1:PORT' within 5 s";
            if (!peer_process) {
                what = "could not be started: " + why;
            } else if (line) {
                what = "printed '" + *line +
                       "' as its first line, where 'listening on 127.0.0.1:PORT' was expected";
            } else if (exits_within(*peer_process, milliseconds(500), peer_process.get())) {
                what = peer_process->status_text() + " before printing 'listening on 127.0.0.1:PORT'";
            }
            std::cerr << "socklab-wire: the peer '" << peer << "' " << what << "\n";
            if (peer_process) {
                peer_process->kill_group();
                peer_process->drain_stderr();
                std::cerr << peer_process->stderr_text();
            }
            return kUnavailable;
        }
        roles.push_back({{0x7f000001U, static_cast<std::uint16_t>(*port)}, "server"});
        for (auto& word : command) {
            for (auto at = word.find("{port}"); at != std::string::npos; at = word.find("{port}")) {
                word.replace(at, 6, std::to_string(*port));
            }
        }
    }

    // The capture starts once the peer listens: what the peer did to get ready (refpeer blackhole
    // fills its own accept queue) is not the command's.
    const auto capture = socklab::wire::Capture::start(why);
    if (!capture) {
        std::cerr << "socklab-wire: cannot capture: " << why << "\n";
        return kNoPermission; // the peer, if any, is killed as its Process ends
    }
    const std::unique_ptr<Process> program = start("command", command, true, why);
    bool killed = false;
    if (program) {
        int left_ms = timeout_ms;
        if (stop_peer_after_ms > 0 && peer_process) {
            // The command's exit ends this wait early; otherwise the peer is told to stop, and the
            // command goes on under the rest of its time.
            (void)exits_within(*program, milliseconds(std::min(stop_peer_after_ms, timeout_ms)),
                               peer_process.get());
            peer_process->send_signal(SIGTERM);
            left_ms = std::max(1, timeout_ms - stop_peer_after_ms);
        }
        killed = !exits_within(*program, milliseconds(left_ms), peer_process.get());
        if (killed) {
            program->kill_group();
        }
    } else {
        std::cerr << "socklab-wire: cannot start " << command[0] << ": " << why << "\n";
    }
    if (peer_process) {
        stop(*peer_process);
    }

    const std::vector<socklab::wire::Frame> frames = capture->stop();
    const auto segments =
        socklab::wire::opened_during(socklab::wire::segments_of(frames, capture->link_type()));
    std::cout << "\n==> the wire: " << segments.size() << " segment" << (segments.size() == 1 ? "" : "s")
              << " on the loopback of a private network namespace"
              << (killed ? " (the command was stopped after " + std::to_string(timeout_ms) + " ms)" : "")
              << "\n"
              << socklab::wire::timeline(segments, roles);
    if (const unsigned lost = capture->dropped(); lost > 0) {
        std::cout << "(the kernel dropped " << lost
                  << " frames the capture had no room for: they are missing above)\n";
    }
    if (!pcap_path.empty()) {
        if (!socklab::wire::write_pcap(pcap_path, capture->link_type(), frames, why)) {
            std::cerr << "socklab-wire: " << why << "\n";
            return 73; // EX_CANTCREAT
        }
        std::cout << "pcap: " << pcap_path << " (" << frames.size() << " frames): tcpdump -nr " << pcap_path
                  << ", or open it in Wireshark\n";
    }
    std::cout.flush();
    if (!program) {
        return 127;
    }
    if (killed) {
        return 128 + SIGKILL;
    }
    return program->killed_by_signal() ? 128 + program->term_signal() : program->exit_code();
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "socklab-wire: " << e.what() << "\n";
        return 70; // EX_SOFTWARE
    }
}
