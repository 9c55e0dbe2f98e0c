// echo_throughput_driver: how fast `refpeer echo` echoes on one loopback connection, against
// socat's PIPE echo and a plain blocking echo in this file (the ceiling), in the same run. A sender
// thread writes MiB mebibytes while a receiver thread reads the echo and checks every byte. The three
// are measured in turn, ROUNDS times (interleaved, so a busy moment of the machine hits all three),
// and the best round of each is printed.
// Usage: echo_throughput_driver REFPEER_PATH [MiB] [ROUNDS]   (default 512 MiB, 3 rounds)
// Plain POSIX only: it must not share code with refpeer, which it measures.
//
// socat's PIPE echo can deadlock itself: it writes 8 KiB blocks with a blocking write(2) into its
// own pipe, and when select(2) said "writable" for less free room than that, the write waits for a
// read that only socat itself would make. A round in which no byte comes back for 5 s is therefore
// a stall: that socat is killed and the round is tried again with a new one (at most 3 times).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kChunk = std::size_t{256} * 1024;
constexpr std::size_t kPattern = 1'000'003; // a prime, so chunks and pattern never line up

constexpr int kStallMs = 5000;

// No byte came back for kStallMs.
struct Stalled : std::runtime_error {
    Stalled() : std::runtime_error("no byte came back for 5 s") {}
};

// Throws std::system_error with what if result is -1.
int check(int result, const char* what) {
    if (result == -1) {
        throw std::system_error(errno, std::system_category(), what);
    }
    return result;
}

// The bytes the sender repeats: kPattern bytes, plus kChunk more so any window is contiguous.
const std::vector<unsigned char>& pattern() {
    static const std::vector<unsigned char> bytes = [] {
        std::vector<unsigned char> result(kPattern + kChunk);
        std::uint32_t state = 12345;
        for (std::size_t i = 0; i < kPattern; ++i) {
            state = state * 1103515245u + 12345u;
            result[i] = static_cast<unsigned char>(state >> 24);
        }
        std::memcpy(result.data() + kPattern, result.data(), kChunk);
        return result;
    }();
    return bytes;
}

// A byte-sum checksum of data (vectorises; the byte-exact check is the memcmp beside it).
std::uint64_t checksum(const unsigned char* data, std::size_t size) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < size; ++i) {
        sum += data[i];
    }
    return sum;
}

// A child process (its stdout or stderr on a pipe); killed and reaped on destruction.
class Child {
public:
    // Starts argv with the stream `captured` (1 stdout, 2 stderr) on a pipe, the other to /dev/null.
    Child(std::vector<std::string> argv, int captured) {
        int fds[2];
        check(::pipe2(fds, O_CLOEXEC), "pipe2");
        pid_ = check(::fork(), "fork");
        if (pid_ == 0) {
            const int null = ::open("/dev/null", O_WRONLY);
            ::dup2(fds[1], captured);
            ::dup2(null, captured == 1 ? 2 : 1);
            std::vector<char*> args;
            args.reserve(argv.size() + 1);
            for (auto& arg : argv) {
                args.push_back(arg.data());
            }
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
            ::_exit(127);
        }
        ::close(fds[1]);
        out_ = fds[0];
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    // Stops the child with SIGTERM and reaps it.
    ~Child() {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
        ::close(out_);
    }
    // Reads the captured stream line by line until one contains marker; returns the port after the
    // last ':' of that line. Throws after 5 s or at the end of the stream.
    int port_after(const std::string& marker) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        std::string text;
        for (;;) {
            for (std::size_t end; (end = text.find('\n')) != std::string::npos; text.erase(0, end + 1)) {
                const std::string line = text.substr(0, end);
                if (line.find(marker) != std::string::npos) {
                    return std::stoi(line.substr(line.rfind(':') + 1));
                }
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd waiting{out_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) {
                throw std::runtime_error("no line with \"" + marker + "\" within 5 s");
            }
            char buffer[4096];
            const ssize_t n = ::read(out_, buffer, sizeof buffer);
            if (n <= 0) {
                throw std::runtime_error("the child ended before printing \"" + marker + "\"");
            }
            text.append(buffer, static_cast<std::size_t>(n));
        }
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
};

// 127.0.0.1:port as a sockaddr_in.
sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// Writes all of size bytes, retrying partial writes and EINTR.
void write_all(int fd, const unsigned char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        check(static_cast<int>(n < 0 ? -1 : 0), "send");
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

// Sends total bytes through the echo at port and reads them back; returns GB/s (one way). Throws
// Stalled when nothing comes back for 5 s, std::runtime_error when the echo is wrong.
double measure(int port, std::uint64_t total) {
    const int fd = check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
    const sockaddr_in address = loopback(port);
    check(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), "connect");
    const auto& bytes = pattern();
    std::uint64_t sent_sum = 0;
    std::uint64_t received = 0;
    std::uint64_t received_sum = 0;
    bool same = true;
    bool stalled = false;
    std::string failure;
    const auto start = std::chrono::steady_clock::now();
    {
        std::jthread sender([&] {
            try {
                for (std::uint64_t done = 0; done < total;) {
                    const std::size_t size =
                        static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, total - done));
                    const unsigned char* data = bytes.data() + done % kPattern;
                    sent_sum += checksum(data, size);
                    write_all(fd, data, size);
                    done += size;
                }
                ::shutdown(fd, SHUT_WR);
            } catch (const std::exception& error) {
                failure = error.what();
                ::shutdown(fd, SHUT_RDWR);
            }
        });
        std::jthread receiver([&] {
            std::vector<unsigned char> buffer(kChunk);
            for (;;) {
                pollfd waiting{fd, POLLIN, 0};
                if (::poll(&waiting, 1, kStallMs) == 0) {
                    stalled = true;
                    ::shutdown(fd, SHUT_RDWR); // wakes the sender
                    return;
                }
                const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n <= 0) {
                    return;
                }
                const auto size = static_cast<std::size_t>(n);
                if (received + size > total) {
                    same = false;
                    return;
                }
                same = same && std::memcmp(buffer.data(), bytes.data() + received % kPattern, size) == 0;
                received_sum += checksum(buffer.data(), size);
                received += size;
            }
        });
    }
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    ::close(fd);
    if (stalled) {
        throw Stalled();
    }
    if (!failure.empty()) {
        throw std::runtime_error("sending: " + failure);
    }
    if (received != total || !same || received_sum != sent_sum) {
        throw std::runtime_error("the echo came back wrong: " + std::to_string(received) + " of " +
                                 std::to_string(total) + " bytes" + (same ? "" : ", bytes differ") +
                                 (received_sum == sent_sum ? "" : ", checksums differ"));
    }
    return static_cast<double>(total) / seconds.count() / 1e9;
}

// A plain blocking echo of one connection on a listener in this process: the ceiling.
class PlainEcho {
public:
    // Listens on 127.0.0.1:0 and serves one connection in a thread.
    PlainEcho() {
        listener_ = check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
        sockaddr_in address = loopback(0);
        check(::bind(listener_, reinterpret_cast<const sockaddr*>(&address), sizeof address), "bind");
        check(::listen(listener_, 1), "listen");
        socklen_t size = sizeof address;
        check(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size), "getsockname");
        port_ = ntohs(address.sin_port);
        thread_ = std::jthread([this] { serve(); });
    }
    PlainEcho(const PlainEcho&) = delete;
    PlainEcho& operator=(const PlainEcho&) = delete;
    // Wakes accept if no client came, joins the thread.
    ~PlainEcho() {
        ::shutdown(listener_, SHUT_RDWR);
        thread_.join();
        ::close(listener_);
    }
    // The port it listens on.
    int port() const { return port_; }

private:
    // Accepts one client; reads 256 KiB and writes it back until the client closes.
    void serve() {
        const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) {
            return;
        }
        std::vector<unsigned char> buffer(kChunk);
        try {
            for (ssize_t n; (n = ::recv(client, buffer.data(), buffer.size(), 0)) != 0;) {
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                check(static_cast<int>(n < 0 ? -1 : 0), "recv");
                write_all(client, buffer.data(), static_cast<std::size_t>(n));
            }
        } catch (const std::exception&) {
        }
        ::close(client);
    }

    int listener_ = -1;
    int port_ = 0;
    std::jthread thread_;
};

// Whether program is found on PATH.
bool on_path(const std::string& program) {
    return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

// One round with a new socat; retried with another socat when it stalls (see the top of the file).
double measure_socat(std::uint64_t total) {
    for (int attempt = 1;; ++attempt) {
        // socat 1.7.4 with -d -d logs "... N listening on AF=2 127.0.0.1:PORT" on stderr.
        Child socat({"socat", "-d", "-d", "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr", "PIPE"}, 2);
        try {
            return measure(socat.port_after("listening on AF=2"), total);
        } catch (const Stalled&) {
            std::fprintf(stderr, "echo_throughput_driver: socat stalled (attempt %d of 3)\n", attempt);
            if (attempt == 3) {
                throw;
            }
        }
    }
}

// Reads a whole number above 0 from text; returns 0 if it is not one.
std::uint64_t whole_number(const char* text) {
    char* end = nullptr;
    const std::uint64_t value = std::strtoull(text, &end, 10);
    return end != text && *end == '\0' && text[0] != '-' ? value : 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 4) {
        std::fprintf(
            stderr,
            "usage: echo_throughput_driver REFPEER_PATH [MiB] [ROUNDS]   (default 512 MiB, 3 rounds)\n");
        return 64;
    }
    const std::uint64_t mib = argc >= 3 ? whole_number(argv[2]) : 512;
    const std::uint64_t rounds = argc >= 4 ? whole_number(argv[3]) : 3;
    if (mib == 0 || rounds == 0) {
        std::fprintf(stderr, "echo_throughput_driver: MiB and ROUNDS must be whole numbers above 0\n");
        return 64;
    }
    if (::access(argv[1], X_OK) != 0) {
        std::fprintf(
            stderr, "echo_throughput_driver: %s: %s (build it: cmake --build build-bench --target refpeer)\n",
            argv[1], std::strerror(errno));
        return 66;
    }
    const std::uint64_t total = mib * 1024 * 1024;
    const bool with_socat = on_path("socat");
    try {
        std::printf("%llu MiB each way, one loopback connection, best of %llu rounds\n",
                    static_cast<unsigned long long>(mib), static_cast<unsigned long long>(rounds));
        std::fflush(stdout);
        Child refpeer({argv[1], "echo"}, 1);
        const int refpeer_port = refpeer.port_after("listening on");
        double refpeer_rate = 0;
        double socat_rate = 0;
        double plain_rate = 0;
        for (std::uint64_t round = 0; round < rounds; ++round) {
            refpeer_rate = std::max(refpeer_rate, measure(refpeer_port, total));
            if (with_socat) {
                socat_rate = std::max(socat_rate, measure_socat(total));
            }
            const PlainEcho plain;
            plain_rate = std::max(plain_rate, measure(plain.port(), total));
        }
        std::printf("refpeer echo: %.2f GB/s\n", refpeer_rate);
        if (with_socat) {
            std::printf("socat PIPE: %.2f GB/s\n", socat_rate);
        } else {
            std::printf("socat PIPE: not measured (socat is not installed)\n");
        }
        std::printf("plain blocking echo: %.2f GB/s\n", plain_rate);
        if (with_socat) {
            std::printf("refpeer / socat = %.2fx (goal >= 2x)\n", refpeer_rate / socat_rate);
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "echo_throughput_driver: %s\n", error.what());
        return 1;
    }
    return 0;
}
