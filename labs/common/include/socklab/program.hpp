// What every lab program shares: exit codes from sysexits.h, and one place that turns an
// exception into a message on stderr and the matching exit code.
#pragma once

#include <functional>
#include <string_view>
#include <system_error>

namespace socklab {

// Exit codes of the lab programs (sysexits.h); docs/reference/programs.md lists them.
namespace exit_code {
inline constexpr int kOk = 0;
inline constexpr int kUsage = 64;          // bad arguments, malformed endpoint
inline constexpr int kNoHost = 68;         // host name could not be resolved
inline constexpr int kUnavailable = 69;    // connection refused, network unreachable
inline constexpr int kNotImplemented = 70; // EX_SOFTWARE: a skeleton function is not written yet
inline constexpr int kCannotServe = 71;    // EX_OSERR: could not bind or listen, other system errors
inline constexpr int kConnectionLost = 74; // EX_IOERR: reset by peer, broken pipe
inline constexpr int kTimedOut = 75;       // EX_TEMPFAIL: connect timed out
inline constexpr int kNoPermission = 77;   // EX_NOPERM: e.g. a well-known port without privilege
} // namespace exit_code

// The exit code for a failed operation: resolver errors 68, ECONNREFUSED/ENETUNREACH/EHOSTUNREACH
// 69, ECONNRESET/EPIPE 74, ETIMEDOUT 75, EACCES/EPERM 77, anything else 71.
[[nodiscard]] int exit_code_for(const std::system_error& error);

// Runs body and returns its exit code. What body throws is printed on stderr as
// "<program>: <what()>" and becomes an exit code: std::invalid_argument 64, NotImplemented 70,
// std::system_error as exit_code_for says, anything else 70.
[[nodiscard]] int run_main(std::string_view program, const std::function<int()>& body);

} // namespace socklab
