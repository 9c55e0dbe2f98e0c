// Deadlines for tests: every blocking step in a test waits until a Deadline, never sleeps.
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace socklab::testkit {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How much slower code runs under the sanitizers (the asan and tsan presets), for deadlines on
// work that is CPU-bound in the test itself. Waiting on a peer needs no such factor.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 15;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int kSanitizerSlowdown = 5;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

// A point in time after which a test step gives up.
class Deadline {
public:
    // A deadline `budget` from now.
    explicit Deadline(milliseconds budget) : budget_(budget), at_(Clock::now() + budget) {}

    [[nodiscard]] bool expired() const { return Clock::now() >= at_; }
    // Time left, never negative.
    [[nodiscard]] milliseconds remaining() const;
    // Time left as a poll(2) timeout in milliseconds (0 when expired).
    [[nodiscard]] int poll_timeout() const { return static_cast<int>(remaining().count()); }
    // The whole budget this deadline was made with, for messages ("within 2000 ms").
    [[nodiscard]] milliseconds budget() const { return budget_; }

private:
    milliseconds budget_;
    Clock::time_point at_;
};

// The deadline of a test step that a working peer completes at once (a connect, a reply on
// loopback): 3 s, room for a loaded machine and the sanitizers. Only a failing step waits that long.
[[nodiscard]] inline Deadline soon() {
    return Deadline(milliseconds(3000));
}

// Thrown by a test helper when what it waited for did not happen in time. The message says
// what did not happen, within how long, and what was seen instead.
class TimeoutError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Calls condition() until it returns true; throws TimeoutError naming `what` when the deadline
// passes first. For states no file descriptor can signal (a count in /proc, a thread's flag).
void wait_until(const std::function<bool()>& condition, Deadline deadline, std::string_view what);

} // namespace socklab::testkit
