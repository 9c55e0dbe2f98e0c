#include "socklab/testkit/loopback.hpp"

#include "socklab/check.hpp"
#include "socklab/testkit/bytes.hpp"
#include "socklab/testkit/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <stdexcept>

namespace socklab::testkit {
namespace {

sockaddr_in loopback_address(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

std::string on_port(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

// Waits until fd is ready for events; TimeoutError naming `what` otherwise.
void wait_ready(int fd, short events, Deadline deadline, const std::string& what) {
    pollfd p{fd, events, 0};
    const int ready = check(retry_on_eintr([&] { return ::poll(&p, 1, deadline.poll_timeout()); }), "poll");
    if (ready == 0) {
        throw TimeoutError(what);
    }
}

std::string timeout_text(std::string_view what, Deadline deadline, const std::string& got) {
    return std::string(what) + " did not happen within " + std::to_string(deadline.budget().count()) +
           " ms; received so far: " + escape_bytes(got);
}

// One recv(2) of up to `limit` bytes, appended to into; returns bytes read, 0 at EOF.
std::size_t recv_some(int fd, std::string& into, std::size_t limit, Deadline deadline,
                      std::string_view what) {
    wait_ready(fd, POLLIN, deadline, timeout_text(what, deadline, into));
    char buffer[65536];
    const ssize_t n =
        check(retry_on_eintr([&] { return ::recv(fd, buffer, std::min(limit, sizeof buffer), 0); }), "recv");
    into.append(buffer, static_cast<std::size_t>(n));
    return static_cast<std::size_t>(n);
}

} // namespace

LoopbackListener::LoopbackListener(int backlog) {
    fd_.reset(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    const int on = 1;
    check(::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), "setsockopt SO_REUSEADDR");
    sockaddr_in address = loopback_address(0);
    check(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), "bind", "127.0.0.1:0");
    check(::listen(fd_.get(), backlog), "listen");
    socklen_t length = sizeof address;
    check(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length), "getsockname");
    port_ = ntohs(address.sin_port);
}

UniqueFd LoopbackListener::accept(Deadline deadline) {
    wait_ready(fd_.get(), POLLIN, deadline,
               "no connection arrived at " + on_port(port_) + " within " +
                   std::to_string(deadline.budget().count()) + " ms");
    return UniqueFd(
        check(retry_on_eintr([&] { return ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC); }),
              "accept on", on_port(port_)));
}

FullListener::FullListener() {
    fd_.reset(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    sockaddr_in address = loopback_address(0);
    check(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), "bind", "127.0.0.1:0");
    check(::listen(fd_.get(), 0), "listen");
    socklen_t length = sizeof address;
    check(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length), "getsockname");
    port_ = ntohs(address.sin_port);
    // Connect until one connection gets no answer: from then on the queue is full. Linux keeps
    // backlog + 1 completed connections, so with backlog 0 the second one already waits.
    constexpr int kMostFillers = 16;
    while (fillers_.size() < kMostFillers) {
        try {
            fillers_.push_back(connect_loopback(port_, Deadline(milliseconds(100))));
        } catch (const TimeoutError&) {
            return;
        }
    }
    throw std::runtime_error("FullListener: " + std::to_string(kMostFillers) + " connections to 127.0.0.1:" +
                             std::to_string(port_) + " all completed; the accept queue never filled");
}

UniqueFd connect_loopback(std::uint16_t port, Deadline deadline) {
    UniqueFd fd(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket"));
    const sockaddr_in address = loopback_address(port);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == -1) {
        if (errno != EINPROGRESS) {
            throw_errno(errno, "connect to", on_port(port));
        }
        wait_ready(fd.get(), POLLOUT, deadline,
                   "connect to " + on_port(port) + " did not complete within " +
                       std::to_string(deadline.budget().count()) + " ms");
        int error = 0;
        socklen_t length = sizeof error;
        check(::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length), "getsockopt SO_ERROR");
        if (error != 0) {
            throw_errno(error, "connect to", on_port(port));
        }
    }
    const int flags = check(::fcntl(fd.get(), F_GETFL), "fcntl F_GETFL");
    check(::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK), "fcntl F_SETFL");
    return fd;
}

void send_all(int fd, std::string_view bytes, Deadline deadline) {
    while (!bytes.empty()) {
        wait_ready(fd, POLLOUT, deadline,
                   "sending " + std::to_string(bytes.size()) + " more bytes did not finish within " +
                       std::to_string(deadline.budget().count()) + " ms (is the peer reading?)");
        const ssize_t n =
            check(retry_on_eintr(
                      [&] { return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT); }),
                  "send");
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

namespace {

void no_delay(int fd) {
    const int on = 1;
    check(::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), "setsockopt TCP_NODELAY");
}

} // namespace

void send_in_pieces(int fd, std::string_view bytes, std::size_t piece_size, Deadline deadline) {
    no_delay(fd);
    for (std::size_t at = 0; at < bytes.size(); at += piece_size) {
        send_all(fd, bytes.substr(at, piece_size), deadline);
    }
}

void send_in_random_pieces(int fd, std::string_view bytes, unsigned seed, std::size_t max_piece,
                           Deadline deadline) {
    no_delay(fd);
    std::mt19937 generator(seed);
    std::uniform_int_distribution<std::size_t> size(1, max_piece);
    for (std::size_t at = 0; at < bytes.size();) {
        const std::size_t n = std::min(size(generator), bytes.size() - at);
        send_all(fd, bytes.substr(at, n), deadline);
        at += n;
    }
}

void wait_until_delivered(int fd, Deadline deadline) {
    wait_until(
        [fd] {
            int unacknowledged = 0;
            check(::ioctl(fd, SIOCOUTQ, &unacknowledged), "ioctl SIOCOUTQ");
            return unacknowledged == 0;
        },
        deadline, "the peer to receive every byte sent (SIOCOUTQ to reach 0)");
}

std::string recv_exactly(int fd, std::size_t n, Deadline deadline) {
    std::string got;
    const std::string what = "receiving " + std::to_string(n) + " bytes";
    while (got.size() < n) {
        if (recv_some(fd, got, n - got.size(), deadline, what) == 0) {
            throw std::runtime_error("the peer closed the connection after " + std::to_string(got.size()) +
                                     " of " + std::to_string(n) + " bytes: " + escape_bytes(got));
        }
    }
    return got;
}

std::string recv_line(int fd, Deadline deadline) {
    std::string got;
    // One byte at a time, so nothing after the line is consumed.
    while (got.empty() || got.back() != '\n') {
        if (recv_some(fd, got, 1, deadline, "receiving a whole line (ending in \\n)") == 0) {
            throw std::runtime_error("the peer closed the connection before a whole line came: " +
                                     escape_bytes(got));
        }
    }
    return got;
}

std::string recv_until_eof(int fd, Deadline deadline) {
    std::string got;
    while (recv_some(fd, got, 65536, deadline, "the peer closing the connection (EOF)") != 0) {
    }
    return got;
}

BackgroundReader::BackgroundReader(int fd, std::size_t count, Deadline deadline, std::size_t chunk)
    : fd_(fd), thread_([this, count, deadline, chunk] {
          try {
              while (data_.size() < count) {
                  const std::size_t want = std::min(chunk, count - data_.size());
                  if (recv_some(fd_, data_, want, deadline, "receiving in the background") == 0) {
                      if (count != kUntilEof) {
                          throw std::runtime_error("the peer closed the connection after " +
                                                   std::to_string(data_.size()) + " of " +
                                                   std::to_string(count) + " bytes");
                      }
                      return;
                  }
              }
          } catch (...) {
              error_ = std::current_exception();
          }
      }) {}

BackgroundReader::~BackgroundReader() {
    if (thread_.joinable()) {
        ::shutdown(fd_, SHUT_RDWR); // wakes the thread's poll: it reads EOF and stops
        thread_.join();
    }
}

std::string BackgroundReader::finish() {
    thread_.join();
    if (error_) {
        std::rethrow_exception(error_);
    }
    return std::move(data_);
}

void close_with_reset(UniqueFd fd) {
    const linger abort_on_close{1, 0};
    check(::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close),
          "setsockopt SO_LINGER");
    fd.reset();
}

int shut_down_connecting_sockets() {
    int shut = 0;
    for (const int fd : open_descriptors()) {
        struct stat st = {};
        if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            continue;
        }
        tcp_info info = {};
        socklen_t size = sizeof info;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) == 0 && info.tcpi_state == TCP_SYN_SENT) {
            if (::shutdown(fd, SHUT_RDWR) == 0) {
                ++shut;
            }
        }
    }
    return shut;
}

} // namespace socklab::testkit
