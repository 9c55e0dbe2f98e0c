// Signals that interrupt a blocking call, for lab 02's tests of EINTR (accept, poll, recv).
#pragma once

#include "socklab/testkit/catch_support.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <exception>
#include <functional>
#include <thread>

namespace lab02 {

// How many SIGUSR1 the SignalStorm's handler has run for so far.
inline std::atomic<int> storm_signals_handled{0};

// Signals for the thread that makes it, as a busy process gets them: another thread sends it
// SIGUSR1 again and again, through a handler without SA_RESTART, so that a blocking call it makes
// fails with EINTR. Once `count` signals were handled, `then` runs on that other thread (a client
// connects, a peer sends): the blocked call can return what `then` brings only if it waited on
// after each EINTR.
class SignalStorm {
public:
    SignalStorm(int count, std::function<void()> then) : target_(::pthread_self()) {
        struct sigaction interrupt = {};
        interrupt.sa_handler = [](int) { storm_signals_handled.fetch_add(1); };
        sigemptyset(&interrupt.sa_mask);
        SOCKLAB_REQUIRE_SYSCALL(::sigaction(SIGUSR1, &interrupt, &previous_));
        storm_signals_handled = 0;
        thread_ = std::thread([this, count, then = std::move(then)] {
            try {
                while (storm_signals_handled < count && !stopping_) {
                    ::pthread_kill(target_, SIGUSR1);
                    std::this_thread::yield();
                }
                if (!stopping_) {
                    then();
                }
            } catch (...) {
                error_ = std::current_exception();
            }
        });
    }
    SignalStorm(const SignalStorm&) = delete;
    SignalStorm& operator=(const SignalStorm&) = delete;
    // The test left early: stops the signals, joins, and puts the old disposition back.
    ~SignalStorm() {
        stopping_ = true;
        join();
    }

    // Waits until `then` has run, and rethrows what it threw.
    void finish() {
        join();
        if (error_) {
            std::rethrow_exception(error_);
        }
    }

private:
    void join() {
        if (thread_.joinable()) {
            thread_.join(); // no SIGUSR1 comes after this: the old disposition is safe to put back
            ::sigaction(SIGUSR1, &previous_, nullptr);
        }
    }

    pthread_t target_;
    struct sigaction previous_ = {};
    std::atomic<bool> stopping_{false};
    std::exception_ptr error_;
    std::thread thread_;
};

} // namespace lab02
