// What the client shows on stdout: one line per write and per read, escaped and timed.
#pragma once

#include "options.hpp"

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

namespace refpeer {

// Shows the session on stdout, one line per chunk; used by both of the client's threads.
class Transcript {
public:
    // Starts the clock (at the connect); --raw writes only the received bytes, --no-times drops the
    // time column.
    explicit Transcript(const ClientOptions& options) : raw_(options.raw), times_(options.times) {}
    // Shows bytes that one write sends: -> "...".
    void sent(std::string_view bytes);
    // Shows bytes that one read received: <- "...", or the bytes themselves with --raw.
    void received(std::string_view bytes);
    // Shows how the peer's stream ended: <- EOF or <- RESET.
    void ended(const std::string& how);

private:
    // Prints one line with the time column; the caller holds the lock.
    void print(const std::string& text);

    std::mutex mutex_;
    bool raw_;
    bool times_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

} // namespace refpeer
