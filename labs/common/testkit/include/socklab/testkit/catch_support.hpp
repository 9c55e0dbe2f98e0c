// Catch2 support for socklab tests (v2 or v3: socklab/testkit/catch.hpp): escaped bytes in failure output,
// matchers on exception messages and error codes, and a way to skip a test the machine cannot run.
#pragma once

#include "socklab/testkit/bytes.hpp"

#include "socklab/testkit/catch.hpp"

#include <cerrno>
#include <initializer_list>
#include <string.h> // strerrorname_np
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

// REQUIRE_THROWS_MATCHES(f(), std::system_error, HasErrno(EADDRINUSE)): the error code is that
// errno value (in the system category).
class HasErrno : public MatcherBase<std::system_error> {
public:
    explicit HasErrno(int err) : expected_(err) {}
    bool match(const std::system_error& e) const override {
        actual_ = e.code();
        message_ = e.what();
        return e.code() == std::error_code(expected_, std::system_category());
    }
    std::string describe() const override {
        return "has error code " + errno_name(expected_) + "\n  actual code: " + actual_.category().name() +
               " " + std::to_string(actual_.value()) + " (" + actual_.message() + ")" +
               "\n  actual message: " + escape_bytes(message_);
    }

private:
    static std::string errno_name(int err) {
        const char* name = ::strerrorname_np(err);
        return name != nullptr ? name : std::to_string(err);
    }
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
