#include "socklab/testkit/watchdog.hpp"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

namespace socklab::testkit {
namespace {

// The docs section of the running test. Tests run one at a time, but a call left running by
// call_within may read it from another thread.
std::mutex g_section_mutex;
std::string g_section;

// What the thread running a call and the test share: the call may outlive the test's frame.
struct Outcome {
    std::mutex mutex;
    std::condition_variable changed;
    bool returned = false;
    std::exception_ptr error;

    bool wait_until(Clock::time_point until) {
        std::unique_lock lock(mutex);
        return changed.wait_until(lock, until, [this] { return returned; });
    }
};

} // namespace

std::string current_docs_section() {
    const std::lock_guard lock(g_section_mutex);
    return g_section;
}

void set_current_docs_section(std::string_view section) {
    const std::lock_guard lock(g_section_mutex);
    g_section = section;
}

void end_test_program(const std::string& what, std::string_view section) {
    std::cout.flush(); // what Catch2 has written of the test so far: _Exit would drop it
    std::fflush(stdout);
    const std::string docs = section.empty() ? current_docs_section() : std::string(section);
    std::fprintf(stderr, "\nFAILED:\n  %s\n", what.c_str());
    if (!docs.empty()) {
        std::fprintf(stderr, "read: %s\n", docs.c_str());
    }
    if (std::getenv("SOCKLAB_WAIT_FOR_GDB") != nullptr) {
        std::fprintf(stderr, "SOCKLAB_WAIT_FOR_GDB is set: waiting; gdb -p %d shows every thread\n",
                     ::getpid());
        std::fflush(stderr);
        for (;;) {
            ::pause();
        }
    }
    std::fflush(stderr);
    std::_Exit(1);
}

Watched run_watched(Deadline deadline, const std::function<void()>& unblock, milliseconds patience,
                    const std::function<void()>& call) {
    auto outcome = std::make_shared<Outcome>();
    // call is copied into the thread: it must outlive this frame if the thread is left behind.
    std::thread worker([outcome, call] {
        std::exception_ptr error;
        try {
            call();
        } catch (...) {
            error = std::current_exception();
        }
        {
            const std::lock_guard lock(outcome->mutex);
            outcome->returned = true;
            outcome->error = error;
        }
        outcome->changed.notify_all();
    });
    Ended ended = Ended::InTime;
    if (!outcome->wait_until(Clock::now() + deadline.remaining())) {
        unblock();
        ended = outcome->wait_until(Clock::now() + patience) ? Ended::AfterUnblock : Ended::Never;
    }
    if (ended == Ended::Never) {
        worker.detach();
        return Watched{ended, nullptr};
    }
    worker.join();
    return Watched{ended, outcome->error};
}

void call_within(std::string_view what, Deadline deadline, const std::function<void()>& unblock,
                 std::string_view hint, const std::function<void()>& call) {
    const auto budget = std::to_string(deadline.budget().count());
    const Watched watched = run_watched(deadline, unblock, kUnblockPatience, call);
    if (watched.ended == Ended::InTime) {
        if (watched.error) {
            std::rethrow_exception(watched.error);
        }
        return;
    }
    std::string message = std::string(what) + " did not return within " + budget + " ms";
    message += watched.ended == Ended::AfterUnblock ? " (it returned only when the test shut its socket down)"
                                                    : ", nor when the test shut its socket down";
    if (!hint.empty()) {
        message += ": " + std::string(hint);
    }
    if (watched.ended == Ended::AfterUnblock) {
        throw TimeoutError(message);
    }
    end_test_program(message + "\nThe test program ends here: a call that never returns cannot be stopped.");
}

} // namespace socklab::testkit
