// A call into student code that may block for ever, run under a deadline: a test that waits on a
// blocking call (accept, read, connect, receive) fails in seconds, saying which call did not
// return and which docs section to read, instead of hanging until CTest's timeout with no message.
#pragma once

#include "socklab/testkit/deadline.hpp"

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace socklab::testkit {

// How long a call gets to return once unblock() has run.
inline constexpr milliseconds kUnblockPatience{2000};

// How a call run by run_watched ended.
enum class Ended {
    InTime,       // it returned before the deadline
    AfterUnblock, // it returned only after unblock() ran, within the patience
    Never,        // it had not returned even then: its thread is left running, detached
};
struct Watched {
    Ended ended = Ended::Never;
    std::exception_ptr error; // what the call threw, if it returned by throwing
};

// Runs call on a thread of its own and waits for it until deadline; if it has not returned by
// then, runs unblock() and waits patience more. The primitive under call_within, for a test that
// must tell the three endings apart (lab 05's stop: slow is a failure, never is the end of the
// test program). With Ended::Never the caller must end the test program (end_test_program): the
// call's thread still runs, and may use what the test's frame owns.
[[nodiscard]] Watched run_watched(Deadline deadline, const std::function<void()>& unblock,
                                  milliseconds patience, const std::function<void()>& call);

// Runs call on a thread of its own and waits for it until deadline. When it returns in time, its
// exception (if any) is thrown again here. When it does not, unblock() runs (shutdown(2) of the
// socket the call waits on wakes a thread blocked in accept, recv, send, connect or poll on it),
// and:
//   - if the call then returns within kUnblockPatience, TimeoutError is thrown: "<what> did not
//     return within N ms ...", with `hint` (the likely cause) after it;
//   - if it still does not, its thread cannot be joined or destroyed: the test program ends with
//     that message and the running test's docs section (end_test_program).
void call_within(std::string_view what, Deadline deadline, const std::function<void()>& unblock,
                 std::string_view hint, const std::function<void()>& call);

// call_within for a call that returns a value: the value, moved out.
template <typename Call>
auto returns_within(std::string_view what, Deadline deadline, const std::function<void()>& unblock,
                    std::string_view hint, Call&& call) {
    using Result = std::invoke_result_t<Call&>;
    if constexpr (std::is_void_v<Result>) {
        call_within(what, deadline, unblock, hint, call);
    } else {
        std::optional<Result> result;
        call_within(what, deadline, unblock, hint, [&] { result.emplace(call()); });
        return std::move(*result);
    }
}

// Ends the test program at once, with what went wrong and the docs section of the running test,
// as a failed check would print them; for a thread that cannot be stopped. Set
// SOCKLAB_WAIT_FOR_GDB to keep the program waiting for a debugger instead.
[[noreturn]] void end_test_program(const std::string& what, std::string_view section = {});

// The docs section tag of the running test ("docs/labs/02-server.md#..."), set by the test main's
// listener when a test starts; empty outside a test.
[[nodiscard]] std::string current_docs_section();
void set_current_docs_section(std::string_view section);

} // namespace socklab::testkit
