// The server modes: an acceptor and a signal_set on one io_context in the main thread, and one
// thread per connection (connection.cpp), joined at the stop.
#include "behaviour.hpp"
#include "connection.hpp"
#include "endpoint.hpp"
#include "failure.hpp"
#include "modes.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <list>
#include <memory>
#include <thread>
#include <vector>

namespace refpeer {

namespace {

// The threads of the open connections: started by the accept handler, joined at the stop.
class ConnectionThreads {
public:
    // Starts a thread that serves socket; first joins the threads that have finished.
    void start(asio::ip::tcp::socket socket, const ServerOptions& options) {
        std::erase_if(threads_, [](const Entry& entry) { return entry.done->load(); });
        auto done = std::make_shared<std::atomic<bool>>(false);
        threads_.push_back(
            {std::jthread([socket = std::move(socket), &options, done](std::stop_token stop) mutable {
                 Connection(std::move(socket), options, std::move(stop)).serve();
                 done->store(true);
             }),
             done});
    }
    // Asks every connection to stop (all at once), then joins them all.
    void stop_all() {
        for (auto& entry : threads_) {
            entry.thread.request_stop();
        }
        threads_.clear();
    }

private:
    struct Entry {
        std::jthread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::list<Entry> threads_;
};

// Opens, binds and listens on the first endpoint that works; throws Failure (71, 77).
void open_listener(asio::ip::tcp::acceptor& acceptor, const std::vector<asio::ip::tcp::endpoint>& endpoints,
                   int backlog) {
    asio::error_code error;
    std::string operation = "bind";
    std::string shown;
    for (const auto& endpoint : endpoints) {
        shown = to_string(endpoint);
        acceptor.close(error);
        acceptor.open(endpoint.protocol(), error);
        if (!error) {
            acceptor.set_option(asio::socket_base::reuse_address(true), error);
        }
        if (!error) {
            acceptor.bind(endpoint, error);
        }
        if (error) {
            operation = "bind";
            continue;
        }
        acceptor.listen(backlog, error);
        if (!error) {
            return;
        }
        operation = "listen";
    }
    throw bind_failure(operation, shown, error);
}

// Fills the accept queue of a listener with backlog 0 by connecting to it from non-blocking
// sockets until a connect no longer completes; returns the sockets, which must stay open.
std::vector<asio::ip::tcp::socket> fill_accept_queue(asio::io_context& io, asio::ip::tcp::endpoint listener) {
    if (listener.address().is_unspecified()) {
        listener.address(asio::ip::address_v4::loopback());
    }
    std::vector<asio::ip::tcp::socket> held;
    for (int attempt = 0; attempt < 64; ++attempt) {
        asio::ip::tcp::socket socket(io);
        asio::error_code error;
        socket.open(listener.protocol(), error);
        socket.non_blocking(true, error);
        // Asio's connect waits without a deadline; a plain connect(2) + poll(2) has one.
        if (::connect(socket.native_handle(), listener.data(), static_cast<socklen_t>(listener.size())) !=
                0 &&
            errno != EINPROGRESS) {
            break;
        }
        pollfd waiting{socket.native_handle(), POLLOUT, 0};
        int pending = 0;
        socklen_t size = sizeof pending;
        // On loopback a connect completes in microseconds; a dropped SYN is retried only after 1 s.
        if (::poll(&waiting, 1, 200) != 1 ||
            ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &pending, &size) != 0 ||
            pending != 0) {
            break;
        }
        held.push_back(std::move(socket));
    }
    return held;
}

// Accepts connections one after the other and gives each to a thread.
class Listener {
public:
    // Serves connections on acceptor, as options says.
    Listener(asio::ip::tcp::acceptor& acceptor, const ServerOptions& options)
        : acceptor_(acceptor), options_(options), retry_(acceptor.get_executor()) {}
    // Starts an asynchronous accept; its handler starts the next one.
    void accept_next() {
        acceptor_.async_accept([this](asio::error_code error, asio::ip::tcp::socket socket) {
            if (error == asio::error::operation_aborted || !acceptor_.is_open()) {
                return;
            }
            if (!error) {
                threads_.start(std::move(socket), options_);
                accept_next();
                return;
            }
            // Out of descriptors, for example: try again a little later rather than spin.
            log("accept: " + error.message());
            retry_.expires_after(std::chrono::milliseconds(100));
            retry_.async_wait([this](asio::error_code waited) {
                if (!waited) {
                    accept_next();
                }
            });
        });
    }
    // Stops accepting, stops every connection and joins its thread.
    void stop() {
        asio::error_code ignored;
        acceptor_.close(ignored);
        retry_.cancel();
        threads_.stop_all();
    }

private:
    asio::ip::tcp::acceptor& acceptor_;
    const ServerOptions& options_;
    asio::steady_timer retry_;
    ConnectionThreads threads_;
};

} // namespace

void log(const std::string& text) {
    const std::string line = "refpeer: " + text + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
}

int run_server(const ServerOptions& options) {
    const auto endpoints = resolve(parse_host_port(options.bind));
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io);
    const bool blackhole = options.mode == ServerMode::blackhole;
    open_listener(acceptor, endpoints, blackhole ? 0 : asio::socket_base::max_listen_connections);
    const auto local = acceptor.local_endpoint();

    std::vector<asio::ip::tcp::socket> fillers;
    if (blackhole) {
        fillers = fill_accept_queue(io, local);
        log("blackhole: " + std::to_string(fillers.size()) +
            " connection(s) of its own fill the accept queue; a new connect will hang until it times out");
    }
    if (options.behaviour.fragment_min != 0) {
        log("--fragment-random " + std::to_string(options.behaviour.fragment_min) + ":" +
            std::to_string(options.behaviour.fragment_max) + " uses --seed " +
            std::to_string(options.behaviour.seed));
    }
    // The signals are caught before the port is announced: whoever reads the line may send
    // SIGTERM at once, and that must be a clean stop, not a kill.
    Listener listener(acceptor, options);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](asio::error_code error, int number) {
        if (!error) {
            log(std::string("stopping on ") + (number == SIGINT ? "SIGINT" : "SIGTERM"));
        }
        listener.stop();
        fillers.clear();
        io.stop();
    });
    std::printf("listening on %s\n", to_string(local).c_str());
    std::fflush(stdout);
    if (!blackhole) {
        listener.accept_next();
    }
    io.run();
    listener.stop();
    return kExitOk;
}

} // namespace refpeer