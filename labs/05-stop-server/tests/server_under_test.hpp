// Lab 05's tests hold the LineServer under test in a ServerUnderTest: its stop() and its
// destructor run within a deadline, so a stop that never returns fails the test in seconds,
// saying what it waited for and which step of docs/labs/05-stop-server.md to read, instead of
// hanging until CTest's timeout with no message at all.
#pragma once

#include "socklab/line_server.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/deadline.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/process.hpp"
#include "socklab/testkit/watchdog.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace lab05 {

// The names every test file of a lab uses, declared in each file as the other labs' tests do, so
// that a test reads without a look elsewhere.
using socklab::Endpoint;
using socklab::Ipv4Address;
using socklab::LineServer;
using socklab::UniqueFd;
using socklab::testkit::Deadline;
using socklab::testkit::send_all;
using socklab::testkit::soon;
using std::chrono::milliseconds;

// How long stop() or the destructor may run before the test stops waiting for it: the header's
// promise is one second; the rest is room for a loaded machine.
inline constexpr milliseconds kStopPatience{1500};

// Ends the test program with a message in the form the test kit prints for a failure. Used when
// stop() or the destructor does not return: the server's threads still run and reference the
// server, so the test can neither go on nor unwind; exiting is the only way out that is fast.
[[noreturn]] inline void give_up(const std::string& what, const char* section) {
    socklab::testkit::end_test_program(
        what + "\nThe test program ends here: a server whose threads do not end cannot be destroyed.",
        std::string("docs/labs/05-stop-server.md#") + section);
}

// The descriptor of this process on the other end of client: the server's socket for it.
// -1 while the server has not accepted it yet.
inline int server_side_of(int client) {
    sockaddr_storage mine{};
    sockaddr_storage theirs{};
    socklen_t mine_len = sizeof mine;
    socklen_t theirs_len = sizeof theirs;
    if (::getsockname(client, reinterpret_cast<sockaddr*>(&mine), &mine_len) != 0 ||
        ::getpeername(client, reinterpret_cast<sockaddr*>(&theirs), &theirs_len) != 0) {
        return -1;
    }
    for (const int fd : socklab::testkit::open_descriptors()) {
        sockaddr_storage local{};
        sockaddr_storage peer{};
        socklen_t local_len = sizeof local;
        socklen_t peer_len = sizeof peer;
        if (fd != client && ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0 &&
            ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0 &&
            local_len == theirs_len && peer_len == mine_len && std::memcmp(&local, &theirs, local_len) == 0 &&
            std::memcmp(&peer, &mine, peer_len) == 0) {
            return fd;
        }
    }
    return -1;
}

// Whether a thread of this process is blocked in one of the system calls `calls` on fd, as
// /proc/self/task/*/syscall shows it: the thread's system call number and first argument while it
// sleeps in the kernel. nullopt when this kernel does not show it (the file is missing or
// unreadable).
inline std::optional<bool> blocked_in(std::initializer_list<long> calls, int fd) {
    bool readable = false;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream in(task.path() / "syscall");
        std::string number;
        std::string first;
        if (!(in >> number)) {
            continue;
        }
        readable = true;
        if (number == "running" || !(in >> first)) {
            continue;
        }
        const long call = std::strtol(number.c_str(), nullptr, 10);
        if (std::find(calls.begin(), calls.end(), call) != calls.end() &&
            std::strtol(first.c_str(), nullptr, 16) == fd) {
            return true;
        }
    }
    return readable ? std::optional<bool>(false) : std::nullopt;
}

// Blocked in a system call that sends on fd (write, send, sendto, sendmsg, writev).
inline std::optional<bool> blocked_sending_on(int fd) {
    return blocked_in({SYS_write, SYS_sendto, SYS_sendmsg, SYS_writev}, fd);
}

// Whether a thread of this process sleeps in a read or a send on a connection the server on port
// accepted (a socket whose own port is port and that has a peer): a client's thread that stop()
// did not wake. nullopt when this kernel does not show a thread's system call.
inline std::optional<bool> blocked_on_a_client(std::uint16_t port) {
    std::optional<bool> any;
    for (const int fd : socklab::testkit::open_descriptors()) {
        sockaddr_in local{};
        sockaddr_in peer{};
        socklen_t local_len = sizeof local;
        socklen_t peer_len = sizeof peer;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
            local.sin_family != AF_INET || ntohs(local.sin_port) != port ||
            ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
            continue;
        }
        const auto blocked = blocked_in(
            {SYS_read, SYS_recvfrom, SYS_recvmsg, SYS_readv, SYS_write, SYS_sendto, SYS_sendmsg, SYS_writev},
            fd);
        if (!blocked) {
            return std::nullopt;
        }
        if (*blocked) {
            return true;
        }
        any = false;
    }
    return any.value_or(false);
}

// The descriptor of this process that listens on 127.0.0.1:port (SO_ACCEPTCONN), or -1 once the
// server's stop has shut its listener down.
inline int listener_on(std::uint16_t port) {
    for (const int fd : socklab::testkit::open_descriptors()) {
        int listens = 0;
        socklen_t size = sizeof listens;
        sockaddr_in local{};
        socklen_t local_len = sizeof local;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listens, &size) == 0 && listens != 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0 &&
            local.sin_family == AF_INET && ntohs(local.sin_port) == port) {
            return fd;
        }
    }
    return -1;
}

// Whether a socket of this process listens on 127.0.0.1:port: false once the server's stop has
// shut its listener down.
inline bool listening_on(std::uint16_t port) {
    return listener_on(port) >= 0;
}

class ServerUnderTest {
public:
    explicit ServerUnderTest(std::size_t max_line = socklab::LineFramer::kDefaultMaxLine)
        : ServerUnderTest(Endpoint{Ipv4Address::loopback(), 0}, max_line) {}
    explicit ServerUnderTest(const Endpoint& endpoint,
                             std::size_t max_line = socklab::LineFramer::kDefaultMaxLine)
        : server_(std::in_place, endpoint, max_line), port_(server_->local_endpoint().port) {}
    ServerUnderTest(const ServerUnderTest&) = delete;
    ServerUnderTest& operator=(const ServerUnderTest&) = delete;
    ~ServerUnderTest() { destroy(); }

    LineServer& operator*() { return *server_; }
    LineServer* operator->() { return &*server_; }
    [[nodiscard]] std::uint16_t port() const { return port_; }

    // Calls stop() and returns how long it took. If it has not returned after kStopPatience,
    // calls unblock (which should end what the server waits for: reset the test's own clients)
    // and waits as long again; if it still has not returned, the test program ends with a message.
    milliseconds stop(const std::function<void()>& unblock = {}) {
        const auto start = std::chrono::steady_clock::now();
        if (!within([this] { server_->stop(); }, unblock)) {
            const Stuck stuck = where_stuck();
            give_up("stop() did not return within " + std::to_string(2 * kStopPatience.count()) +
                        " ms, and did not return when the test reset its own clients either: " + stuck.why,
                    stuck.section);
        }
        return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    }

    // Destroys the server (its destructor must stop it); ends the test program with a message if
    // that does not finish in time. The destructor calls it.
    void destroy() {
        if (server_ && !within([this] { server_.reset(); }, {})) {
            const Stuck stuck = where_stuck();
            give_up("the LineServer was not destroyed within " + std::to_string(2 * kStopPatience.count()) +
                        " ms: its destructor waits for a thread that stop() did not end: " + stuck.why,
                    stuck.section);
        }
    }

private:
    // Runs work on a thread of its own (the test kit's run_watched); true when it finished within
    // kStopPatience, or within as long again after unblock(). A thread that never finishes is left
    // behind (the caller ends the test program). What work threw is thrown again here.
    static bool within(const std::function<void()>& work, const std::function<void()>& unblock) {
        const auto watched = socklab::testkit::run_watched(
            Deadline(kStopPatience), unblock ? unblock : [] {}, kStopPatience, work);
        if (watched.error) {
            std::rethrow_exception(watched.error);
        }
        return watched.ended != socklab::testkit::Ended::Never;
    }

    // The step that a stuck stop most likely got wrong, from what the server's threads are doing:
    // a listener still accepting is step 2; a thread still asleep reading from or writing to a
    // client is step 3 (wake every client); threads that were woken but never end, or a join
    // that never returns (a join under the lock the threads need to finish), is step 4.
    struct Stuck {
        const char* section;
        std::string why;
    };
    [[nodiscard]] Stuck where_stuck() const {
        try {
            // A listener closed while a thread sleeps in accept on it still completes connections.
            (void)socklab::testkit::connect_loopback(port_, Deadline(milliseconds(200)));
            return {"step-2-stop-accepting",
                    "the listener still accepts connections, so the thread in accept "
                    "was never woken"};
        } catch (const std::exception&) {
        }
        if (blocked_on_a_client(port_).value_or(false)) {
            return {
                "step-3-wake-every-client-and-say-bye",
                "a client's thread still sleeps in a read or a send on its connection: stop() never woke it"};
        }
        return {
            "step-4-join-every-thread",
            "no thread of the server sleeps in accept, read or send any more: the threads were woken, and "
            "something keeps them from ending or stop() from joining them (is stop() holding the mutex "
            "while it joins, which the threads need to finish?)"};
    }

    std::optional<LineServer> server_;
    std::uint16_t port_ = 0;
};

// Waits until the server's accepting thread sleeps in accept on its listener: a stop that comes
// before would find the thread not yet in accept, and a close (instead of a shutdown) would then
// seem to work. Skips the test where the kernel does not show a thread's system call.
inline void wait_until_accepting(std::uint16_t port) {
    const int listener = listener_on(port);
    REQUIRE(listener >= 0);
    socklab::testkit::wait_until(
        [&] {
            const auto accepting = blocked_in({SYS_accept, SYS_accept4}, listener);
            if (!accepting) {
                const char* why =
                    "this kernel does not show a thread's system call in /proc/self/task/*/syscall";
                socklab::testkit::report_skip(why);
                FAIL(why);
            }
            return *accepting;
        },
        soon(), "the server's accepting thread to sleep in accept");
}

// A client that reads slowly, or not at all: its receive buffer is the smallest the kernel
// allows, and so is the send buffer of the server's socket for it, set before the first request.
// Loopback's buffers are otherwise large (megabytes) and absorb every reply: a server would never
// block at all. Setting SO_SNDBUF also locks it: left alone, the kernel grows it each time a few
// bytes are acknowledged (a closed window still lets a few through now and then), and a send that
// looked stuck finishes a moment later.
struct SlowReader {
    UniqueFd client;
    int server = -1; // the server's socket for client, in this process
};

inline SlowReader connect_slow_reader(std::uint16_t port) {
    SlowReader slow;
    slow.client = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(slow.client.get() >= 0);
    const int smallest = 1; // the kernel rounds it up to its minimum
    SOCKLAB_REQUIRE_SYSCALL(
        ::setsockopt(slow.client.get(), SOL_SOCKET, SO_RCVBUF, &smallest, sizeof smallest));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SOCKLAB_REQUIRE_SYSCALL(::connect(slow.client.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to));
    socklab::testkit::wait_until(
        [&] { return (slow.server = server_side_of(slow.client.get())) >= 0; }, soon(),
        "the server to accept the client (its socket to appear among this process's descriptors)");
    SOCKLAB_REQUIRE_SYSCALL(::setsockopt(slow.server, SOL_SOCKET, SO_SNDBUF, &smallest, sizeof smallest));
    return slow;
}

// Whether the server's thread is blocked in send on `server`, as /proc shows it; skips the test
// where the kernel does not show a thread's system call.
inline bool server_blocked_sending_on(int server) {
    const auto blocked = blocked_sending_on(server);
    if (!blocked) {
        const char* why = "this kernel does not show a thread's system call in /proc/self/task/*/syscall";
        socklab::testkit::report_skip(why); // under CTest: ends the test as skipped
        FAIL(why);
    }
    return *blocked;
}

// Waits until the server's thread is in send on `server` in three checks in a row, 20 ms apart:
// asleep until the client reads, not merely preempted inside a send about to finish, as on a
// loaded machine. Only for a client that reads nothing meanwhile.
inline void wait_until_blocked_sending(int server, const char* why_it_should) {
    const Deadline deadline(milliseconds(5000));
    for (int in_a_row = 0; in_a_row < 3;) {
        in_a_row = server_blocked_sending_on(server) ? in_a_row + 1 : 0;
        if (deadline.expired()) {
            FAIL("the server's thread was not blocked in send after 5000 ms: " << why_it_should);
        }
        pollfd none{-1, 0, 0};
        (void)::poll(&none, 1, 20); // a bounded wait for the next look, in a loop with a deadline
    }
}

// Bytes that arrived on fd and that no read has taken yet (SIOCINQ).
inline int bytes_unread(int fd) {
    int n = 0;
    SOCKLAB_REQUIRE_SYSCALL(::ioctl(fd, SIOCINQ, &n));
    return n;
}

// Bytes written on fd that the peer has not acknowledged yet (SIOCOUTQ): 0 once they all reached
// the peer's receive buffer.
inline int bytes_unacknowledged(int fd) {
    int n = 0;
    SOCKLAB_REQUIRE_SYSCALL(::ioctl(fd, SIOCOUTQ, &n));
    return n;
}

// A SlowReader whose server thread is blocked sending it the echo of `echoed`: the client sends
// "ECHO <echoed>\n" and then `after`, in one send, and reads nothing until the test says so.
// `echoed` must be long (thousands of bytes) for the server's send to block.
inline SlowReader owed_a_long_echo(std::uint16_t port, const std::string& echoed,
                                   std::string_view after = {}) {
    SlowReader slow = connect_slow_reader(port);
    send_all(slow.client.get(), "ECHO " + echoed + "\n" + std::string(after), soon());
    const std::string why = "it owes the client a reply of " + std::to_string(echoed.size() + 1) +
                            " bytes that the client does not read yet";
    wait_until_blocked_sending(slow.server, why.c_str());
    return slow;
}

// A client that never reads (a SlowReader): it asks for echoes until the server's thread for it is
// blocked in send (its send buffer full, the client's window closed), and returns then. A server
// that does not cut such a client off at the stop waits for it for ever.
inline UniqueFd client_that_never_reads(std::uint16_t port) {
    SlowReader slow = connect_slow_reader(port);
    const std::string request = "ECHO " + std::string(60000, 'x') + "\n";
    std::size_t offset = 0;
    int quiet = 0; // rounds in a row with the server in send and reading nothing for 20 ms
    const Deadline deadline(milliseconds(5000));
    for (;;) {
        const bool blocked = server_blocked_sending_on(slow.server);
        if (deadline.expired()) {
            FAIL("the server's thread never blocked in send to a client that does not read, after "
                 "5000 ms of requests: does it send the replies it owes?");
        }
        const ssize_t n = ::send(slow.client.get(), request.data() + offset, request.size() - offset,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            offset = (offset + static_cast<std::size_t>(n)) % request.size();
            quiet = 0;
            continue;
        }
        // The client's buffer is full: the server reads nothing. In a send, and still reading
        // nothing 20 ms later three times in a row, its thread is asleep until the client reads,
        // not merely preempted inside a send about to finish, as on a loaded machine.
        pollfd writable{slow.client.get(), POLLOUT, 0};
        const int ready = ::poll(&writable, 1, std::min(20, deadline.poll_timeout()));
        quiet = ready == 0 && blocked ? quiet + 1 : 0;
        if (quiet == 3) {
            return std::move(slow.client);
        }
    }
}

// Calls stop() and, when it has not returned in time, shuts down the server's own socket for
// client, so that a server blocked in send to it gets an error and lets stop() return: the test
// then fails on the time stop() took instead of waiting for ever.
inline milliseconds stop_unblocking(ServerUnderTest& server, int client) {
    return server.stop([client] {
        if (const int stuck = server_side_of(client); stuck >= 0) {
            (void)::shutdown(stuck, SHUT_RDWR);
        }
    });
}

// The address space of this process in bytes (VmSize in /proc/self/status).
inline std::size_t address_space_bytes() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmSize:", 0) == 0) {
            return std::stoull(line.substr(7)) * 1024; // "VmSize:   123456 kB"
        }
    }
    return 0;
}

// The stack size of a new thread here (8 MiB on a default Debian): a thread that ended but was
// never joined keeps that much address space.
inline std::size_t thread_stack_bytes() {
    std::size_t size = 0;
    std::thread([&size] {
        pthread_attr_t attributes;
        if (::pthread_getattr_np(::pthread_self(), &attributes) == 0) {
            (void)::pthread_attr_getstacksize(&attributes, &size);
            (void)::pthread_attr_destroy(&attributes);
        }
    }).join();
    return size;
}

} // namespace lab05
