// LineServer: the lab 04 protocol for many clients at once, and a graceful stop (the
// cheatsheet's StopServer).
#pragma once

#include "socklab/endpoint.hpp"
#include "socklab/line_framer.hpp"

#include <chrono>
#include <cstddef>
#include <memory>

namespace socklab {

class LineServer {
public:
    // How long stop() lets clients finish (answers owed, "BYE server stopping") before it cuts
    // off a client that does not read what it is sent.
    static constexpr std::chrono::milliseconds kStopGrace{500};

    // Binds and listens at endpoint (TcpListener, lab 02); serves nobody until start().
    // Throws what TcpListener throws.
    explicit LineServer(const Endpoint& endpoint, std::size_t max_line = LineFramer::kDefaultMaxLine);
    LineServer(const LineServer&) = delete;
    LineServer& operator=(const LineServer&) = delete;
    // stop(): a server never outlives its threads.
    ~LineServer();

    // The endpoint really bound (the port the kernel chose for port 0).
    [[nodiscard]] Endpoint local_endpoint() const;

    // Starts a thread that accepts clients; each client is served on a thread of its own with
    // the lab 04 protocol (answer, LineFramer): one reply per request, in order.
    void start();

    // The cheatsheet's StopServer, in this order:
    //   1. stop accepting: from now on a new connection is refused;
    //   2. wake every thread blocked in accept or read (shutdown(2): close(2) alone does not
    //      wake a thread blocked in accept on Linux);
    //   3. every request received in full is answered, then each client is sent
    //      "BYE server stopping" and closed in order (FIN, not RST); a partial line is dropped;
    //   4. every thread is joined and every descriptor closed.
    // Returns within one second even with idle clients, clients stuck mid-line and clients that
    // do not read (cut off after kStopGrace). Safe to call twice, from two threads at once, and
    // from the destructor. Never throws.
    void stop() noexcept;

    // How many clients are being served right now.
    [[nodiscard]] std::size_t active_clients() const;

private:
    struct State; // yours: define it in line_server.cpp with whatever the server needs
    std::unique_ptr<State> state_;
};

} // namespace socklab
