// The client mode: a netcat that shows the bytes. The main thread copies stdin to the socket
// through a Sender; a reader thread shows what comes back.
#include "behaviour.hpp"
#include "connector.hpp"
#include "endpoint.hpp"
#include "failure.hpp"
#include "modes.hpp"
#include "transcript.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <thread>

namespace refpeer {

namespace {

constexpr std::size_t kReadBuffer = std::size_t{64} * 1024;

// How the peer's stream ended, as the reader thread saw it.
enum class ReadEnd { running, eof, reset, lost, local };

// One connected session: stdin to the socket, the socket to the transcript.
class Session {
public:
    // Takes the connected socket.
    Session(Connected connected, const ClientOptions& options)
        : socket_(std::move(connected.socket)), options_(options), peer_(to_string(connected.peer)),
          transcript_(options) {}
    // Closes the wake-up pipe.
    ~Session() {
        for (const int fd : wake_) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    // Runs the session to its end; returns the exit code or throws Failure.
    int run();

private:
    // Shows what arrives until the stream ends (runs in the reader thread); then wakes the main one.
    void read_all();
    // Sends one chunk of stdin: --crlf, then one message per line (a partial line waits with --coalesce).
    void send_input(std::string_view chunk);
    // Ends the connection as --close-after or --reset-after says, once the reader is stopped.
    int end_by_limit(std::jthread& reader);

    asio::ip::tcp::socket socket_;
    const ClientOptions& options_;
    std::string peer_;
    Transcript transcript_;
    std::optional<Sender> sender_;
    std::string carry_;
    std::atomic<ReadEnd> read_end_{ReadEnd::running};
    std::atomic<bool> closing_{false};
    std::error_code read_error_;
    std::array<int, 2> wake_{-1, -1};
};

void Session::read_all() {
    std::vector<char> buffer(kReadBuffer);
    ReadEnd end = ReadEnd::eof;
    for (;;) {
        // recv(2) on the descriptor: an Asio socket object may not be used by two threads at once.
        const ssize_t n = ::recv(socket_.native_handle(), buffer.data(), buffer.size(), 0);
        if (n > 0) {
            transcript_.received(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (closing_.load()) {
            end = ReadEnd::local;
        } else if (n < 0) {
            read_error_ = std::error_code(errno, std::system_category());
            end = errno == ECONNRESET ? ReadEnd::reset : ReadEnd::lost;
            transcript_.ended(end == ReadEnd::reset ? "RESET" : "LOST (" + read_error_.message() + ")");
        } else {
            transcript_.ended("EOF");
        }
        break;
    }
    read_end_.store(end);
    const char byte = 1;
    [[maybe_unused]] const auto ignored = ::write(wake_[1], &byte, 1);
}

void Session::send_input(std::string_view chunk) {
    std::string text;
    if (options_.crlf) {
        for (const char c : chunk) {
            if (c == '\n') {
                text.push_back('\r');
            }
            text.push_back(c);
        }
    } else {
        text.assign(chunk);
    }
    carry_ += text;
    std::size_t start = 0;
    for (auto newline = carry_.find('\n'); newline != std::string::npos; newline = carry_.find('\n', start)) {
        sender_->send(std::string_view(carry_).substr(start, newline + 1 - start));
        start = newline + 1;
    }
    carry_.erase(0, start);
    if (options_.behaviour.coalesce <= 1 && !carry_.empty()) {
        // Without --coalesce, a partial line goes now, as netcat would send it.
        sender_->send(carry_);
        carry_.clear();
    }
}

int Session::end_by_limit(std::jthread& reader) {
    const bool reset_it = sender_->ending() == Ending::reset;
    closing_.store(true);
    asio::error_code ignored;
    if (reset_it) {
        socket_.set_option(asio::socket_base::linger(true, 0), ignored);
        // SHUT_RD wakes the reader and sends nothing, so the RST of the close is the first signal.
        ::shutdown(socket_.native_handle(), SHUT_RD);
    } else {
        ::shutdown(socket_.native_handle(), SHUT_RDWR);
    }
    reader.join();
    socket_.close(ignored);
    log(std::string(reset_it ? "reset" : "closed") + " the connection to " + peer_ + " after sending " +
        std::to_string(sender_->bytes_sent()) + " bytes (" + (reset_it ? "--reset-after" : "--close-after") +
        ")");
    return kExitOk;
}

int Session::run() {
    if (::pipe2(wake_.data(), O_CLOEXEC) != 0) {
        throw Failure(kExitOsErr, "pipe: " + std::system_category().message(errno));
    }
    sender_.emplace(socket_, options_.behaviour, std::stop_token{},
                    [this](std::string_view bytes) { transcript_.sent(bytes); });
    std::jthread reader([this] { read_all(); });
    std::error_code send_error;
    bool input_ended = false;
    std::vector<char> chunk(kReadBuffer);
    try {
        while (sender_->ending() == Ending::none) {
            std::array<pollfd, 2> waiting{{{STDIN_FILENO, POLLIN, 0}, {wake_[0], POLLIN, 0}}};
            if (::poll(waiting.data(), waiting.size(), -1) < 0) {
                continue; // EINTR
            }
            if (waiting[1].revents != 0) {
                break; // the server ended the stream first: stop reading stdin
            }
            const ssize_t n = ::read(STDIN_FILENO, chunk.data(), chunk.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                input_ended = true;
                if (!carry_.empty()) {
                    sender_->send(carry_); // a last line without its '\n'
                }
                sender_->flush();
                break;
            }
            send_input(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
        }
    } catch (const std::system_error& failure) {
        send_error = failure.code();
    }
    if (sender_->ending() != Ending::none) {
        return end_by_limit(reader);
    }
    if (input_ended && !send_error) {
        // Half-close, as nc -N: the server reads the end of the stream; we read until it closes.
        asio::error_code ignored;
        socket_.shutdown(asio::socket_base::shutdown_send, ignored);
    }
    // A failed send means a broken connection: the reader's recv returns by itself.
    reader.join();
    switch (read_end_.load()) {
    case ReadEnd::reset:
    case ReadEnd::lost: throw session_failure("recv from", peer_, read_error_);
    default: break;
    }
    if (send_error && read_end_.load() != ReadEnd::eof) {
        throw session_failure("send to", peer_, send_error);
    }
    if (send_error) {
        log("the server closed the connection before all the input was sent");
    }
    return kExitOk;
}

} // namespace

int run_client(const ClientOptions& options) {
    const HostPort where = parse_host_port(options.endpoint);
    if (where.port == 0) {
        throw Failure(kExitUsage,
                      "invalid endpoint \"" + options.endpoint + "\": port 0 cannot be connected to");
    }
    const auto endpoints = resolve(where);
    asio::io_context io;
    Connected connected = connect_with_deadline(io, endpoints, options.timeout_ms);
    std::fprintf(stderr, "connected to %s\n", to_string(connected.peer).c_str());
    if (options.behaviour.fragment_min != 0) {
        log("--fragment-random " + std::to_string(options.behaviour.fragment_min) + ":" +
            std::to_string(options.behaviour.fragment_max) + " uses --seed " +
            std::to_string(options.behaviour.seed));
    }
    Session session(std::move(connected), options);
    return session.run();
}

} // namespace refpeer
