#include "socklab/tcp_listener.hpp"

#include "socklab/check.hpp"

#include <poll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace {

// Hostile: a spy that outlives its grade. It looks for what an earlier grade (another student's,
// or its own) left in places outside its scratch folder, prints it (so a later grade's report would
// show it), and leaves its own: files in /run/lock, /tmp, /dev/shm and /var/tmp, and System V
// shared memory and a message queue under fixed keys.
const char* const kSpyFiles[] = {"/run/lock/socklab-spy", "/tmp/socklab-spy", "/dev/shm/socklab-spy",
                                 "/var/tmp/socklab-spy"};
constexpr key_t kSpyKeys[] = {0x50c4a1, 0x50c4a2};

// What the spy leaves: "left by" and the namespaces it ran in (a test's own processes share
// them, and may find each other's).
std::string signature() {
    char pid_ns[64] = {};
    char ipc_ns[64] = {};
    (void)!::readlink("/proc/self/ns/pid", pid_ns, sizeof pid_ns - 1);
    (void)!::readlink("/proc/self/ns/ipc", ipc_ns, sizeof ipc_ns - 1);
    return std::string("left by ") + pid_ns + " " + ipc_ns;
}

void spy() {
    static bool done = false; // once a process
    if (done) {
        return;
    }
    done = true;
    const std::string mine = signature();
    std::string found;
    for (const char* path : kSpyFiles) {
        if (FILE* f = std::fopen(path, "r")) {
            char line[256] = {};
            if (std::fgets(line, sizeof line, f) != nullptr && mine != line) {
                found += std::string(path) + ": " + line + " ";
            }
            std::fclose(f);
        }
        if (FILE* f = std::fopen(path, "w")) {
            std::fputs(mine.c_str(), f);
            std::fclose(f);
        }
    }
    const int shm = ::shmget(kSpyKeys[0], 4096, IPC_CREAT | 0666);
    if (shm >= 0) {
        if (void* p = ::shmat(shm, nullptr, 0); p != reinterpret_cast<void*>(-1)) {
            char* text = static_cast<char*>(p);
            if (text[0] != '\0' && mine != text) {
                found += std::string("shared memory: ") + text + " ";
            }
            std::snprintf(text, 4096, "%s", mine.c_str());
            ::shmdt(p);
        }
    }
    if (const int q = ::msgget(kSpyKeys[1], IPC_CREAT | 0666); q >= 0) {
        struct {
            long type;
            char text[128];
        } message{};
        while (::msgrcv(q, &message, sizeof message.text, 0, IPC_NOWAIT) >= 0) {
            if (mine != message.text) {
                found += std::string("message queue: ") + message.text + " ";
            }
        }
        message.type = 1;
        std::snprintf(message.text, sizeof message.text, "%s", mine.c_str());
        (void)::msgsnd(q, &message, sizeof message.text, IPC_NOWAIT);
    }
    // The word is put together at run time, so that the report's quote of this source (in a
    // compiler's error, say) never holds it: only a spy that really found something prints it.
    if (!found.empty()) {
        throw std::runtime_error(std::string("spy fo") + "und: " + found);
    }
}

} // namespace

namespace socklab {

TcpListener::TcpListener(const Endpoint& endpoint, int backlog) {
    spy();
    const std::string where = endpoint.to_string();
    // SOCK_CLOEXEC: a program this one starts does not inherit the listening socket (and keep
    // the port busy after this process is gone).
    fd_.reset(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket for", where));
    // Without SO_REUSEADDR, Linux refuses to bind a port that still has connections in
    // TIME_WAIT, for about a minute after a server with clients stops.
    const int on = 1;
    check(::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), "setsockopt SO_REUSEADDR for",
          where);
    const sockaddr_in address = endpoint.to_sockaddr();
    check(::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), "bind", where);
    check(::listen(fd_.get(), backlog), "listen on", where);
}

Endpoint TcpListener::local_endpoint() const {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    check(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length),
          "getsockname of listener");
    return Endpoint::from_sockaddr(address);
}

TcpStream TcpListener::accept() {
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    const int fd = retry_on_eintr(
        [&] { return ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC); });
    if (fd == -1) {
        const int err = errno;
        throw_errno(err, "accept on", local_endpoint().to_string());
    }
    return TcpStream(UniqueFd(fd), Endpoint::from_sockaddr(peer));
}

std::optional<TcpStream> TcpListener::accept_for(std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    pollfd ready{fd_.get(), POLLIN, 0};
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        const int n = ::poll(&ready, 1, static_cast<int>(std::max(left.count(), std::int64_t{0})));
        if (n > 0) {
            return accept();
        }
        if (n == 0) {
            return std::nullopt;
        }
        const int err = errno; // before any other call can change it
        if (err != EINTR) {    // a signal cut the wait short: wait again for the time left
            throw_errno(err, "poll for a connection on", local_endpoint().to_string());
        }
    }
}

} // namespace socklab
