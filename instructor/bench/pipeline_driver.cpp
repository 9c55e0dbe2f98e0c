// pipeline_driver: requests per second of lab04-server answering pipelined 32-byte ECHO requests
// on one connection, against two servers in this file, in the same run:
//   bare   splits lines with memchr and writes all the replies of one read in one write: the
//          floor any line server pays;
//   naive  the same, but one write per reply: the common first version.
// Usage: pipeline_driver PATH/TO/lab04-server [REQUESTS] [ROUNDS]
#include "socklab/check.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/process.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace socklab::testkit;

namespace {

constexpr std::string_view kRequest = "ECHO abcdefghijklmnopqrstuvwxyz\n"; // 32 bytes
constexpr std::string_view kReply = "abcdefghijklmnopqrstuvwxyz\n";

// A line echo server on fd: answers "ECHO text" with "text"; batched: one write per read.
void serve_bare(int fd, bool one_write_per_reply) {
    std::string in;
    std::string out;
    std::vector<char> buffer(65536);
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n <= 0) {
            return;
        }
        in.append(buffer.data(), static_cast<std::size_t>(n));
        std::size_t start = 0;
        while (const void* newline = std::memchr(in.data() + start, '\n', in.size() - start)) {
            const auto end = static_cast<std::size_t>(static_cast<const char*>(newline) - in.data());
            const std::size_t text = std::min(start + 5, end); // skip "ECHO "
            out.append(in, text, end - text).push_back('\n');
            if (one_write_per_reply) {
                send_all(fd, out, Deadline(milliseconds(60000)));
                out.clear();
            }
            start = end + 1;
        }
        in.erase(0, start);
        if (!out.empty()) {
            send_all(fd, out, Deadline(milliseconds(60000)));
            out.clear();
        }
    }
}

// Starts a bare server in a child process; returns its pid, sets port.
pid_t start_bare(bool one_write_per_reply, std::uint16_t& port) {
    LoopbackListener listener;
    port = listener.port();
    const pid_t pid = socklab::check(::fork(), "fork");
    if (pid == 0) {
        for (;;) {
            socklab::UniqueFd client = listener.accept(Deadline(milliseconds(600000)));
            serve_bare(client.get(), one_write_per_reply);
        }
    }
    return pid;
}

// Sends `requests` pipelined requests and reads every reply; returns requests per second.
double measure(std::uint16_t port, std::size_t requests) {
    std::string batch;
    for (std::size_t i = 0; i < 4096; ++i) {
        batch += kRequest;
    }
    socklab::UniqueFd client = connect_loopback(port, Deadline(milliseconds(5000)));
    const std::size_t expected = requests * kReply.size();
    const auto start = std::chrono::steady_clock::now();
    std::thread writer([&] {
        for (std::size_t sent = 0; sent < requests; sent += 4096) {
            const std::size_t n = std::min<std::size_t>(4096, requests - sent);
            send_all(client.get(), std::string_view(batch).substr(0, n * kRequest.size()),
                     Deadline(milliseconds(120000)));
        }
    });
    std::vector<char> buffer(1 << 20);
    std::size_t received = 0;
    while (received < expected) {
        const ssize_t n = ::recv(client.get(), buffer.data(), buffer.size(), 0);
        if (n <= 0) {
            std::fprintf(stderr, "pipeline_driver: the server closed after %zu of %zu reply bytes\n",
                         received, expected);
            std::exit(1);
        }
        received += static_cast<std::size_t>(n);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    writer.join();
    return static_cast<double>(requests) / seconds;
}

} // namespace

int main(int argc, char* argv[]) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: pipeline_driver PATH/TO/lab04-server [REQUESTS] [ROUNDS]\n");
        return 64;
    }
    const std::size_t requests = argc > 2 ? std::stoul(argv[2]) : 2'000'000;
    const int rounds = argc > 3 ? std::stoi(argv[3]) : 3;

    std::uint16_t bare_port = 0;
    std::uint16_t naive_port = 0;
    const pid_t bare = start_bare(false, bare_port);
    const pid_t naive = start_bare(true, naive_port);
    ChildProcess lab04(argv[1], {});
    const std::uint16_t lab04_port = read_listening_port(lab04, Deadline(milliseconds(5000)));

    // Alternate the servers round by round so that both see the same machine; keep each best.
    double best_bare = 0;
    double best_lab04 = 0;
    double best_naive = 0;
    for (int round = 0; round < rounds; ++round) {
        best_bare = std::max(best_bare, measure(bare_port, requests));
        best_lab04 = std::max(best_lab04, measure(lab04_port, requests));
        best_naive = std::max(best_naive, measure(naive_port, requests / 10));
    }
    ::kill(bare, SIGKILL);
    ::kill(naive, SIGKILL);
    ::waitpid(bare, nullptr, 0);
    ::waitpid(naive, nullptr, 0);

    std::printf("pipelined 32-byte ECHO requests on one connection, best of %d rounds:\n", rounds);
    std::printf("  bare line echo (one write per read):   %12.0f requests/s\n", best_bare);
    std::printf("  lab04-server (reference):              %12.0f requests/s  = %.0f%% of bare (goal: 25%%)\n",
                best_lab04, 100.0 * best_lab04 / best_bare);
    std::printf("  naive line echo (one write per reply): %12.0f requests/s  = %.0f%% of bare\n", best_naive,
                100.0 * best_naive / best_bare);
    return 0;
}
