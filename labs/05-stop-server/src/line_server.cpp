// Lab 05: a server for many clients that stops gracefully. This file is yours to edit.
// Read docs/labs/05-stop-server.md beside it; run `ctest --test-dir build -L lab05` to check.
#include "socklab/line_server.hpp"

#include "socklab/line_protocol.hpp"
#include "socklab/not_implemented.hpp"
#include "socklab/tcp_listener.hpp"

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

namespace socklab {

// TODO: what the server needs: the TcpListener, the accepting thread, one thread per client
// (std::jthread, never detached) with its socket, a mutex for the list of clients, a "stopping"
// flag, and whatever stop() needs to wait for the clients (a std::condition_variable).
struct LineServer::State {};

LineServer::LineServer([[maybe_unused]] const Endpoint& endpoint, [[maybe_unused]] std::size_t max_line) {
    // TODO: state_ = std::make_unique<State>(...), which binds and listens with a TcpListener.
    throw NotImplemented("LineServer::LineServer",
                         "docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once");
}

// TODO: call stop(), so that the server never outlives its threads.
LineServer::~LineServer() = default;

Endpoint LineServer::local_endpoint() const {
    // TODO: the listener's local_endpoint().
    throw NotImplemented("LineServer::local_endpoint",
                         "docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once");
}

void LineServer::start() {
    // TODO: start the thread that accepts clients and starts one thread per client, which serves
    // it like serve_lines (lab 04) but also ends, saying "BYE server stopping", when stop() wakes it.
    throw NotImplemented("LineServer::start",
                         "docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once");
}

void LineServer::stop() noexcept {
    // TODO: the four steps of the header, in order: docs/labs/05-stop-server.md#step-2-stop-accepting
    // to #step-4-join-every-thread. It must not throw: it runs in the destructor.
}

std::size_t LineServer::active_clients() const {
    // TODO: count the clients whose thread has not finished.
    throw NotImplemented("LineServer::active_clients",
                         "docs/labs/05-stop-server.md#step-1-serve-many-clients-at-once");
}

} // namespace socklab
