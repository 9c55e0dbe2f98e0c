// Catch2 support for socklab tests (v2 or v3: socklab/testkit/catch.hpp): escaped bytes in failure output,
// matchers on exception messages and error codes, and a way to skip a test the machine cannot run.
#pragma once

#include "socklab/testkit/bytes.hpp"
#include "socklab/testkit/names.hpp"

#include "socklab/testkit/catch.hpp"

#include <cerrno>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace Catch {
template <>
struct StringMaker<socklab::testkit::Bytes> {
    static std::string convert(const socklab::testkit::Bytes& bytes) {
        return socklab::testkit::escape_bytes(bytes.data);
    }
};
// An error code prints as "ECONNRESET (104): Connection reset by peer", never as a bare number.
template <>
struct StringMaker<std::error_code> {
    static std::string convert(const std::error_code& code) {
        return socklab::testkit::error_code_text(code);
    }
};
// CHECK(code == std::errc::broken_pipe) prints the right side as "EPIPE (32)".
template <>
struct StringMaker<std::errc> {
    static std::string convert(std::errc err) { return socklab::testkit::errno_text(static_cast<int>(err)); }
};
} // namespace Catch

namespace socklab::testkit {

// REQUIRE_THAT(Bytes(got), EqualsBytes("hello\r\n")): on failure prints both escaped (long ones
// elided in the middle) and a caret under the first byte that differs.
class EqualsBytes : public MatcherBase<Bytes> {
public:
    explicit EqualsBytes(std::string_view expected) : expected_(expected) {}
    bool match(const Bytes& actual) const override {
        actual_ = actual.data;
        return actual_ == expected_;
    }
    std::string describe() const override {
        return "equals " + escape_bytes(expected_) + "\n" + describe_difference(expected_, actual_);
    }

private:
    std::string expected_;
    mutable std::string actual_;
};

// REQUIRE_THROWS_MATCHES(f(), std::invalid_argument, MessageContains({"\"1.2.3\"", "four"})):
// the exception's what() contains every fragment. Prints the actual message on failure.
class MessageContains : public MatcherBase<std::exception> {
public:
    MessageContains(std::initializer_list<std::string> fragments) : fragments_(fragments) {}
    bool match(const std::exception& e) const override {
        actual_ = e.what();
        for (const auto& fragment : fragments_) {
            if (actual_.find(fragment) == std::string::npos) {
                return false;
            }
        }
        return true;
    }
    std::string describe() const override {
        std::string text = "has a message that contains";
        for (const auto& fragment : fragments_) {
            text += " " + escape_bytes(fragment);
        }
        return text + "\n  actual message: " + escape_bytes(actual_);
    }

private:
    std::vector<std::string> fragments_;
    mutable std::string actual_;
};

// REQUIRE_THROWS_MATCHES(f(), std::system_error, HasErrno(std::errc::address_in_use)): the error
// code is that errno value (in the system category, as check() throws it). It takes a std::errc,
// not EADDRINUSE: Catch2 prints the matcher as written after macro expansion, and EADDRINUSE would
// reach the student as HasErrno(98). The failure names both codes: "ECONNREFUSED (111)".
class HasErrno : public MatcherBase<std::system_error> {
public:
    explicit HasErrno(std::errc err) : expected_(static_cast<int>(err)) {}
    bool match(const std::system_error& e) const override {
        actual_ = e.code();
        message_ = e.what();
        return e.code() == std::error_code(expected_, std::system_category());
    }
    std::string describe() const override {
        return "has error code " + errno_text(expected_) + "\n  actual code: " + error_code_text(actual_) +
               "\n  actual message: " + escape_bytes(message_);
    }

private:
    int expected_;
    mutable std::error_code actual_;
    mutable std::string message_;
};

// Under CTest, exits with the skip code so the test shows as skipped with reason; run by hand,
// reports the reason as a warning and lets the test return.
void report_skip(std::string_view reason);

} // namespace socklab::testkit

// Skips the current test: SOCKLAB_SKIP("no network namespace: " + why);
#define SOCKLAB_SKIP(reason)                                                                                 \
    do {                                                                                                     \
        ::socklab::testkit::report_skip(reason);                                                             \
        WARN("skipped: " << (reason));                                                                       \
        return;                                                                                              \
    } while (false)

// REQUIRE_SYSCALL(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one)): a system call the
// test itself makes must succeed (not return -1). On failure it prints the call as written, with
// its constants by name (REQUIRE would print them expanded: "setsockopt(fd, 1, 8, ...)"), and the
// errno by name.
#define SOCKLAB_REQUIRE_SYSCALL(call)                                                                        \
    do {                                                                                                     \
        if ((call) == -1) {                                                                                  \
            const int socklab_errno_ = errno;                                                                \
            FAIL(#call " failed: " << ::socklab::testkit::errno_text(socklab_errno_) << ", "                 \
                                   << std::error_code(socklab_errno_, std::system_category()).message());    \
        }                                                                                                    \
    } while (false)
