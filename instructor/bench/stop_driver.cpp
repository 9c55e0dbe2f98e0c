// stop_driver: the figures lab 05 sets goals for, on the reference LineServer in this process.
//   stop latency   stop() with 100 idle clients connected: median and worst of 50 stops;
//   accept rate    sessions (connect, QUIT, BYE, close) per second through LineServer, against a
//                  bare single-threaded accept loop doing the same exchange, in the same run;
//   load           500 clients at once, each sending 1000 pipelined requests: every reply checked.
#include "socklab/line_server.hpp"
#include "socklab/testkit/deadline.hpp"
#include "socklab/testkit/loopback.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace socklab::testkit;
using Clock = std::chrono::steady_clock;

namespace {

const socklab::Endpoint kAnyLoopbackPort{socklab::Ipv4Address::loopback(), 0};

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void stop_latency() {
    std::vector<double> stops;
    for (int round = 0; round < 50; ++round) {
        socklab::LineServer server(kAnyLoopbackPort);
        server.start();
        std::vector<socklab::UniqueFd> clients;
        for (int i = 0; i < 100; ++i) {
            clients.push_back(connect_loopback(server.local_endpoint().port, Deadline(milliseconds(5000))));
        }
        wait_until([&] { return server.active_clients() == 100; }, Deadline(milliseconds(5000)),
                   "100 clients served");
        const auto start = Clock::now();
        server.stop();
        stops.push_back(ms_since(start));
    }
    std::sort(stops.begin(), stops.end());
    std::printf("stop() with 100 idle clients, 50 stops: median %.1f ms, worst %.1f ms (goal: under 50 ms)\n",
                stops[stops.size() / 2], stops.back());
}

// One session: connect, QUIT, read until the server closes.
void session(std::uint16_t port) {
    socklab::UniqueFd fd = connect_loopback(port, Deadline(milliseconds(5000)));
    send_all(fd.get(), "QUIT\n", Deadline(milliseconds(5000)));
    (void)recv_until_eof(fd.get(), Deadline(milliseconds(5000)));
}

// Sessions per second with 4 client threads, `total` sessions in all.
double sessions_per_second(std::uint16_t port, int total) {
    std::atomic<int> next{0};
    const auto start = Clock::now();
    {
        std::vector<std::jthread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                while (next++ < total) {
                    session(port);
                }
            });
        }
    }
    return total / (ms_since(start) / 1000.0);
}

void accept_rate() {
    // The bare loop: accept, read the line, answer, close; one thread, nothing else.
    LoopbackListener bare(512);
    std::atomic<bool> running{true};
    std::jthread bare_loop([&] {
        while (running) {
            socklab::UniqueFd client;
            try {
                client = bare.accept(Deadline(milliseconds(200)));
            } catch (const TimeoutError&) {
                continue;
            }
            char line[64];
            (void)::recv(client.get(), line, sizeof line, 0);
            (void)::send(client.get(), "BYE\n", 4, MSG_NOSIGNAL);
        }
    });
    socklab::LineServer server(kAnyLoopbackPort);
    server.start();
    double best_bare = 0;
    double best_server = 0;
    for (int round = 0; round < 3; ++round) {
        best_bare = std::max(best_bare, sessions_per_second(bare.port(), 3000));
        best_server = std::max(best_server, sessions_per_second(server.local_endpoint().port, 3000));
    }
    running = false;
    std::printf("sessions (connect, QUIT, BYE, close) per second, 4 client threads, best of 3 x 3000:\n");
    std::printf("  bare accept loop: %8.0f/s\n  LineServer:       %8.0f/s = %.0f%% of bare (goal: 50%%)\n",
                best_bare, best_server, 100.0 * best_server / best_bare);
}

void load() {
    constexpr int kClients = 500;
    constexpr int kRequests = 1000;
    socklab::LineServer server(kAnyLoopbackPort);
    server.start();
    struct Client {
        socklab::UniqueFd fd;
        std::string out;
        std::size_t sent = 0;
        std::string in;
    };
    std::string expected;
    std::string requests;
    for (int i = 0; i < kRequests; ++i) {
        requests += "ECHO " + std::to_string(i) + "\n";
        expected += std::to_string(i) + "\n";
    }
    std::vector<Client> clients(kClients);
    for (auto& c : clients) {
        c.fd = connect_loopback(server.local_endpoint().port, Deadline(milliseconds(5000)));
        ::fcntl(c.fd.get(), F_SETFL, O_NONBLOCK);
        c.out = requests;
    }
    const auto start = Clock::now();
    const Deadline deadline(milliseconds(60000));
    std::size_t complete = 0;
    while (complete < clients.size() && !deadline.expired()) {
        std::vector<pollfd> fds;
        for (auto& c : clients) {
            const short events = static_cast<short>((c.in.size() < expected.size() ? POLLIN : 0) |
                                                    (c.sent < c.out.size() ? POLLOUT : 0));
            fds.push_back({events != 0 ? c.fd.get() : -1, events, 0});
        }
        ::poll(fds.data(), fds.size(), 1000);
        complete = 0;
        for (std::size_t i = 0; i < clients.size(); ++i) {
            Client& c = clients[i];
            if ((fds[i].revents & POLLOUT) != 0) {
                const ssize_t n =
                    ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
                c.sent += n > 0 ? static_cast<std::size_t>(n) : 0;
            }
            if ((fds[i].revents & POLLIN) != 0) {
                char buffer[65536];
                const ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
                c.in.append(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
            }
            complete += c.in.size() >= expected.size() ? 1 : 0;
        }
    }
    const double took = ms_since(start);
    std::size_t right = 0;
    for (const auto& c : clients) {
        right += c.in == expected ? 1 : 0;
    }
    std::printf("%d clients x %d pipelined requests: %zu of %d clients got every reply, in order, in %.0f ms "
                "(%.0f requests/s)\n",
                kClients, kRequests, right, kClients, took, kClients * kRequests / (took / 1000.0));
    server.stop();
}

} // namespace

int main() {
    stop_latency();
    accept_rate();
    load();
    return 0;
}
