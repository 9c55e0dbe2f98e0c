#include "socklab/line_server.hpp"

#include "socklab/line_protocol.hpp"
#include "socklab/tcp_listener.hpp"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <list>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

namespace socklab {

struct LineServer::State {
    // One connected client and the thread that serves it.
    struct Client {
        int fd = -1;       // the socket, for stop() to shut down; -1 once the thread closed it
        bool done = false; // the thread has finished (guarded by State::mutex)
        std::jthread thread;
    };

    State(const Endpoint& endpoint, std::size_t max_line) : listener(endpoint), max_line(max_line) {}

    TcpListener listener;
    const std::size_t max_line;
    std::atomic<bool> stopping{false};

    mutable std::mutex mutex;     // guards clients and their fd and done
    std::condition_variable idle; // a client finished
    std::list<Client> clients;    // a list: a Client never moves while its thread runs

    std::mutex stop_mutex; // one stop at a time; a second caller waits for the first to finish
    bool stopped = false;
    std::jthread acceptor;

    void accept_loop();
    void serve(Client& client, TcpStream stream);
    void forget_finished_clients();
};

namespace {

// Sends FIN, reads what the client already sent (so the close is not turned into an RST by
// unread bytes), then closes.
void close_in_order(TcpStream& stream) {
    ::shutdown(stream.fd(), SHUT_WR);
    std::array<char, 4096> sink{};
    while (::recv(stream.fd(), sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
    }
    stream.close();
}

} // namespace

void LineServer::State::accept_loop() {
    for (;;) {
        std::optional<TcpStream> stream;
        try {
            stream.emplace(listener.accept());
        } catch (const std::system_error& e) {
            if (stopping) {
                return; // stop() shut the listener down: that is what woke accept
            }
            std::cerr << "LineServer: " << e.what() << "; accepting again" << std::endl;
            // A lasting error (EMFILE: out of descriptors) would fail again at once: pause
            // rather than spin, and let finishing clients free what they hold.
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        if (stopping) {
            close_in_order(*stream); // came in as the stop began: too late to be served
            return;
        }
        forget_finished_clients();
        const std::lock_guard lock(mutex);
        Client& client = clients.emplace_back();
        client.fd = stream->fd();
        client.thread =
            std::jthread([this, &client, s = std::move(*stream)]() mutable { serve(client, std::move(s)); });
    }
}

void LineServer::State::serve(Client& client, TcpStream stream) {
    LineFramer framer(max_line);
    // Not zeroed: read_some writes what it reads, and zeroing 64 KiB would touch (and fault in)
    // every page of a new thread's stack for each client.
    std::array<char, 65536> buffer; // NOLINT(cppcoreguidelines-pro-type-member-init)
    std::string replies;
    bool bye = false; // end with "BYE server stopping"
    try {
        for (bool open = true; open;) {
            const std::size_t n = stream.read_some(buffer);
            if (n == 0) {
                // stop() shut our reading side: what was received is answered; or the client
                // closed its side.
                bye = stopping;
                break;
            }
            bool too_long = false;
            try {
                framer.feed(std::string_view(buffer.data(), n));
            } catch (const LineTooLong&) {
                too_long = true;
            }
            // Lab 04's serve_lines loop again (solutions/04-framing/line_protocol.cpp), on purpose: lab
            // 05's student writes it anew around a read that a stop can interrupt.
            for (;;) {
                std::optional<std::string_view> request;
                try {
                    request = framer.next();
                } catch (const LineTooLong&) {
                    too_long = true;
                }
                if (!request) {
                    break;
                }
                const Reply reply = answer(*request);
                replies.append(reply.line).push_back('\n');
                if (reply.close_after) {
                    open = false;
                    break;
                }
            }
            if (too_long && open) {
                replies.append("ERR line too long\n");
                open = false;
            }
            stream.write_all(replies);
            replies.clear();
        }
        if (bye) {
            stream.write_all("BYE server stopping\n");
        }
    } catch (const std::system_error&) {
        // The client reset the connection or stopped reading and was cut off: nothing to say.
    } catch (const std::exception& e) {
        // Anything else ends this client only, never the whole server (std::terminate).
        std::cerr << "LineServer: " << e.what() << "; closing this client" << std::endl;
    }
    {
        const std::lock_guard lock(mutex);
        client.fd = -1; // before the close: stop() must never shut down a reused descriptor
    }
    close_in_order(stream);
    {
        const std::lock_guard lock(mutex);
        client.done = true;
    }
    idle.notify_all();
}

void LineServer::State::forget_finished_clients() {
    std::list<Client> finished;
    {
        const std::lock_guard lock(mutex);
        for (auto it = clients.begin(); it != clients.end();) {
            auto current = it++;
            if (current->done) {
                finished.splice(finished.end(), clients, current);
            }
        }
    }
    // ~jthread joins, outside the lock: the threads are done or about to return.
}

LineServer::LineServer(const Endpoint& endpoint, std::size_t max_line)
    : state_(std::make_unique<State>(endpoint, max_line)) {}

LineServer::~LineServer() {
    stop();
}

Endpoint LineServer::local_endpoint() const {
    return state_->listener.local_endpoint();
}

void LineServer::start() {
    const std::lock_guard lock(state_->stop_mutex);
    if (!state_->stopped && !state_->acceptor.joinable()) {
        state_->acceptor = std::jthread([state = state_.get()] { state->accept_loop(); });
    }
}

void LineServer::stop() noexcept {
    State& s = *state_;
    const std::lock_guard stop_lock(s.stop_mutex);
    if (s.stopped) {
        return;
    }
    s.stopping = true;

    // 1-2. Stop accepting. shutdown wakes the thread blocked in accept (close would not), and
    //      from then on connections are refused. Only then close: the acceptor is gone.
    ::shutdown(s.listener.fd(), SHUT_RDWR);
    if (s.acceptor.joinable()) {
        s.acceptor.join();
    }
    s.listener.close();

    // 2. Wake every client thread blocked in read: after SHUT_RD, read returns what had arrived
    //    and then 0, so every request received in full is still answered.
    std::unique_lock lock(s.mutex);
    for (auto& client : s.clients) {
        if (client.fd >= 0) {
            ::shutdown(client.fd, SHUT_RD);
        }
    }
    // 3. Let them answer, say BYE and close; cut off the ones that will not finish in time (a
    //    client that does not read keeps its thread blocked in send).
    const auto all_done = [&] {
        for (const auto& client : s.clients) {
            if (!client.done) {
                return false;
            }
        }
        return true;
    };
    if (!s.idle.wait_for(lock, kStopGrace, all_done)) {
        for (auto& client : s.clients) {
            if (client.fd >= 0) {
                ::shutdown(client.fd, SHUT_RDWR);
            }
        }
    }
    // 4. Join them all, outside the lock they need to finish.
    std::list<State::Client> joining = std::move(s.clients);
    lock.unlock();
    joining.clear();
    s.stopped = true;
}

std::size_t LineServer::active_clients() const {
    const std::lock_guard lock(state_->mutex);
    std::size_t active = 0;
    for (const auto& client : state_->clients) {
        active += client.done ? 0 : 1;
    }
    return active;
}

} // namespace socklab
