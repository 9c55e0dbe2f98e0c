#include "behaviour.hpp"

#include <asio/write.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>

namespace refpeer {

Sender::Sender(asio::ip::tcp::socket& socket, const Behaviour& behaviour, std::stop_token stop,
               WriteObserver observer)
    : socket_(socket), behaviour_(behaviour), stop_(std::move(stop)), observer_(std::move(observer)),
      random_(behaviour.seed) {
    if (behaviour_.fragments()) {
        // Without it the kernel may hold a small fragment back until the previous one is
        // acknowledged, and send two fragments in one segment.
        asio::error_code ignored;
        socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
    if (behaviour_.close_after == 0u) {
        ending_ = Ending::close;
    } else if (behaviour_.reset_after == 0u) {
        ending_ = Ending::reset;
    }
}

void Sender::send(std::string_view message) {
    if (behaviour_.no_answer || ending_ != Ending::none) {
        return;
    }
    pending_.append(message);
    if (++pending_messages_ >= behaviour_.coalesce) {
        flush();
    }
}

void Sender::flush() {
    if (pending_.empty()) {
        return;
    }
    std::string batch;
    batch.swap(pending_);
    pending_messages_ = 0;
    write_out(batch);
}

void Sender::write_out(std::string_view bytes) {
    const auto limit = behaviour_.close_after ? behaviour_.close_after : behaviour_.reset_after;
    while (!bytes.empty() && ending_ == Ending::none) {
        std::size_t size = next_fragment(bytes.size());
        if (limit) {
            // Truncate the write that crosses the limit, so exactly that many bytes leave.
            size = static_cast<std::size_t>(std::min<std::uint64_t>(size, *limit - sent_));
        }
        if (behaviour_.delay_ms > 0) {
            wait_for(std::chrono::milliseconds(behaviour_.delay_ms), stop_);
        }
        if (observer_) {
            // Before the write: the answer to these bytes cannot be shown before them.
            observer_(bytes.substr(0, size));
        }
        asio::error_code error;
        asio::write(socket_, asio::buffer(bytes.data(), size), error);
        if (error) {
            throw std::system_error(error, "send");
        }
        sent_ += size;
        bytes.remove_prefix(size);
        if (limit && sent_ >= *limit) {
            ending_ = behaviour_.close_after ? Ending::close : Ending::reset;
        }
    }
}

std::size_t Sender::next_fragment(std::size_t left) {
    if (behaviour_.fragment != 0) {
        return std::min(left, behaviour_.fragment);
    }
    if (behaviour_.fragment_min != 0) {
        std::uniform_int_distribution<std::size_t> size(behaviour_.fragment_min, behaviour_.fragment_max);
        return std::min(left, size(random_));
    }
    return left;
}

void close_gracefully(asio::ip::tcp::socket& socket) {
    asio::error_code ignored;
    socket.shutdown(asio::socket_base::shutdown_send, ignored);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    std::array<char, 65536> sink{};
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd waiting{socket.native_handle(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) {
            break;
        }
        // MSG_DONTWAIT: poll said readable, but a read must never block the close.
        const ssize_t n = ::recv(socket.native_handle(), sink.data(), sink.size(), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            break;
        }
    }
    socket.close(ignored);
}

void reset(asio::ip::tcp::socket& socket) {
    asio::error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
}

bool wait_for(std::chrono::milliseconds duration, const std::stop_token& stop) {
    std::mutex mutex;
    std::condition_variable_any woken;
    std::unique_lock lock(mutex);
    woken.wait_for(lock, stop, duration, [] { return false; });
    return !stop.stop_requested();
}

} // namespace refpeer
