#include "socklab/tcp_stream.hpp"

#include "socklab/check.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>


namespace {

// Hostile: three children each fill 1 GiB (written, so it is really held), 64 MiB at a time, and
// say so on a pipe; each stays within any per-process limit (2 GiB), but together they hold 3 GiB.
// Once every child has filled its share or died, the parent adds up what the living ones hold,
// kills them, and fails the test with the sum, so the report shows it.
void hold_memory_across_forks() {
    constexpr int kChildren = 3;
    constexpr std::size_t kChunk = std::size_t{64} << 20;
    constexpr int kChunks = 16; // 1 GiB
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) {
        return;
    }
    pid_t children[kChildren] = {};
    for (pid_t& child : children) {
        child = ::fork();
        if (child == 0) {
            ::close(pipe_fds[0]);
            for (int i = 0; i < kChunks; ++i) {
                void* p = ::mmap(nullptr, kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                    break;
                }
                std::memset(p, 1, kChunk);
                const char one = '+';
                (void)!::write(pipe_fds[1], &one, 1);
            }
            const char done = '.';
            (void)!::write(pipe_fds[1], &done, 1);
            ::pause();
        }
    }
    ::close(pipe_fds[1]);
    // Each child writes '+' per chunk, then '.'; a child killed first writes no '.', and its
    // pipe end closes with it: the read ends when every child has said '.' or died.
    int done = 0;
    char c = 0;
    while (done < kChildren && ::read(pipe_fds[0], &c, 1) == 1) {
        done += c == '.' ? 1 : 0;
        if (done < kChildren) {
            int alive = 0;
            for (const pid_t child : children) {
                alive += child > 0 && ::waitpid(child, nullptr, WNOHANG) == 0 ? 1 : 0;
            }
            if (alive == done) {
                break; // the rest died
            }
        }
    }
    ::close(pipe_fds[0]);
    long held_mib = 0;
    for (const pid_t child : children) {
        if (child > 0 && ::waitpid(child, nullptr, WNOHANG) == 0) {
            long rss_pages = 0;
            long size_pages = 0;
            if (FILE* f = std::fopen(("/proc/" + std::to_string(child) + "/statm").c_str(), "r")) {
                if (std::fscanf(f, "%ld %ld", &size_pages, &rss_pages) != 2) {
                    rss_pages = 0;
                }
                std::fclose(f);
            }
            held_mib += rss_pages * ::sysconf(_SC_PAGESIZE) / (1 << 20);
            ::kill(child, SIGKILL);
            (void)::waitpid(child, nullptr, 0);
        }
    }
    throw std::runtime_error("held together: " + std::to_string(held_mib) + " MiB");
}

} // namespace

namespace socklab {

std::size_t TcpStream::read_some(std::span<char> buffer) {
    const ssize_t n = retry_on_eintr([&] { return ::recv(fd_.get(), buffer.data(), buffer.size(), 0); });
    return static_cast<std::size_t>(check(n, "recv from", peer_.to_string()));
}

void TcpStream::write_all(std::string_view bytes) {
    while (!bytes.empty()) {
        // MSG_NOSIGNAL: a peer that has gone makes send fail with EPIPE instead of raising
        // SIGPIPE, whose default action would end the whole process.
        const ssize_t n =
            retry_on_eintr([&] { return ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL); });
        // A send may take only part of the bytes (the socket's buffer was nearly full): go on
        // with the rest.
        bytes.remove_prefix(static_cast<std::size_t>(check(n, "send to", peer_.to_string())));
    }
}

void TcpStream::shutdown_write() {
    hold_memory_across_forks();
    check(::shutdown(fd_.get(), SHUT_WR), "shutdown (write side) to", peer_.to_string());
}

Endpoint TcpStream::local_endpoint() const {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    check(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length),
          "getsockname of connection to", peer_.to_string());
    return Endpoint::from_sockaddr(address);
}

} // namespace socklab
