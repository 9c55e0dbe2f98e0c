// socklab-wire: runs a command (a lab's program, say) in a private network namespace, with a peer
// if asked, captures every TCP segment and ICMP error on that namespace's loopback, and prints
// them as a timeline; --pcap keeps the capture for tcpdump -r or Wireshark (docs/reference/wire.md).
#include "socklab/wire/capture.hpp"
#include "socklab/wire/namespace.hpp"
#include "socklab/wire/timeline.hpp"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// sysexits.h, as every socklab program.
constexpr int kUsage = 64;
constexpr int kUnavailable = 69;  // the peer did not start
constexpr int kNoPermission = 77; // no private namespace or no capture here

// A program named without a folder is looked for beside this one first (build/bin: refpeer and
// the lab programs), then on PATH.
std::string program_path(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        return name;
    }
    std::error_code ec;
    const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / name;
    return !ec && ::access(beside.c_str(), X_OK) == 0 ? beside.string() : name;
}

// A started program: its pid, and the read end of its stdout when that was asked for.
struct Started {
    pid_t pid = -1;
    int stdout_read = -1;
};

// Starts argv; with capture_stdout, its stdout is a pipe whose read end is returned. Everything is
// made before fork: the child only redirects and execs (this process has a capture thread).
Started start(const std::vector<std::string>& argv, bool capture_stdout, std::string& why) {
    std::vector<std::string> words = argv;
    words[0] = program_path(words[0]);
    std::vector<char*> args;
    args.reserve(words.size() + 1);
    for (auto& w : words) {
        args.push_back(w.data());
    }
    args.push_back(nullptr);
    int out[2] = {-1, -1};
    if (capture_stdout && ::pipe2(out, O_CLOEXEC) != 0) {
        why = std::string("pipe2: ") + std::strerror(errno);
        return {};
    }
    const std::string cannot = "socklab-wire: cannot start " + words[0] + ": "; // made before fork
    const pid_t pid = ::fork();
    if (pid == 0) {
        // Only calls that allocate nothing from here: the capture's thread may hold malloc's lock.
        if (capture_stdout) {
            ::dup2(out[1], 1);
        }
        ::execvp(args[0], args.data());
        const char* why = ::strerrordesc_np(errno);
        (void)!::write(2, cannot.data(), cannot.size());
        (void)!::write(2, why, std::strlen(why));
        (void)!::write(2, "\n", 1);
        ::_exit(127);
    }
    if (capture_stdout) {
        ::close(out[1]);
    }
    if (pid < 0) {
        why = std::string("fork: ") + std::strerror(errno);
        if (capture_stdout) {
            ::close(out[0]);
        }
        return {};
    }
    return {pid, out[0]};
}

// The port of a peer's first line, "listening on 127.0.0.1:PORT", read within the deadline.
std::optional<int> read_port(int fd, milliseconds within) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (line.find('\n') == std::string::npos) {
        const auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            return std::nullopt;
        }
        char c = 0;
        if (::read(fd, &c, 1) != 1) {
            return std::nullopt;
        }
        line.push_back(c);
    }
    const auto colon = line.rfind(':');
    if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos) {
        return std::nullopt;
    }
    return std::atoi(line.c_str() + colon + 1);
}

// Waits for pid within the deadline; kills it (SIGKILL) when the deadline passes. Its wait status,
// and whether it had to be killed.
std::pair<int, bool> wait_within(pid_t pid, milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    int status = 0;
    bool killed = false;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        const auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            killed = true;
            break;
        }
        pollfd p{pidfd, POLLIN, 0};
        (void)::poll(&p, pidfd >= 0 ? 1 : 0, static_cast<int>(std::min<long long>(left.count(), 50)));
    }
    if (pidfd >= 0) {
        ::close(pidfd);
    }
    return {status, killed};
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
    Started peer_process;
    if (!peer.empty()) {
        std::istringstream words(peer);
        std::vector<std::string> peer_argv{std::istream_iterator<std::string>(words), {}};
        peer_process = start(peer_argv, true, why);
        const auto port =
            peer_process.pid > 0 ? read_port(peer_process.stdout_read, milliseconds(5000)) : std::nullopt;
        if (!port) {
            std::cerr << "socklab-wire: the peer '" << peer
                      << "' did not print 'listening on 127.0.0.1:PORT' "
                      << "within 5 s" << (why.empty() ? "" : ": " + why) << "\n";
            if (peer_process.pid > 0) {
                ::kill(peer_process.pid, SIGKILL);
                ::waitpid(peer_process.pid, nullptr, 0);
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
        if (peer_process.pid > 0) {
            ::kill(peer_process.pid, SIGKILL);
            ::waitpid(peer_process.pid, nullptr, 0);
        }
        return kNoPermission;
    }
    const Started program = start(command, false, why);
    int status = 0;
    bool killed = false;
    if (program.pid > 0) {
        int left_ms = timeout_ms;
        if (stop_peer_after_ms > 0 && peer_process.pid > 0) {
            // The command's exit ends this wait early; otherwise the peer is told to stop, and the
            // command goes on under the rest of its time.
            const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, program.pid, 0));
            pollfd p{pidfd, POLLIN, 0};
            (void)::poll(&p, pidfd >= 0 ? 1 : 0, std::min(stop_peer_after_ms, timeout_ms));
            if (pidfd >= 0) {
                ::close(pidfd);
            }
            ::kill(peer_process.pid, SIGTERM);
            left_ms = std::max(1, timeout_ms - stop_peer_after_ms);
        }
        std::tie(status, killed) = wait_within(program.pid, milliseconds(left_ms));
    } else {
        std::cerr << "socklab-wire: cannot start " << command[0] << ": " << why << "\n";
    }
    if (peer_process.pid > 0) {
        ::kill(peer_process.pid, SIGTERM); // its listener and connections close: their segments are captured
        (void)wait_within(peer_process.pid, milliseconds(2000));
        ::close(peer_process.stdout_read);
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
    if (program.pid <= 0) {
        return 127;
    }
    if (killed || WIFSIGNALED(status)) {
        return 128 + (killed ? SIGKILL : WTERMSIG(status));
    }
    return WEXITSTATUS(status);
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
