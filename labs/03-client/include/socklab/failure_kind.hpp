// FailureKind: the ways a client's connection can fail, told apart.
#pragma once

#include "socklab/program.hpp"

#include <exception>
#include <string>
#include <string_view>

namespace socklab {

// What went wrong, as a client must tell it apart (docs/concepts/when-connecting-fails.md).
enum class FailureKind {
    Malformed,      // the endpoint text is not HOST:PORT (std::invalid_argument)
    Unresolved,     // the host name cannot be resolved (resolver_category(): EAI_NONAME, EAI_AGAIN, ...)
    Refused,        // nothing listens there (ECONNREFUSED)
    Unreachable,    // no route to that network or host (ENETUNREACH, EHOSTUNREACH)
    TimedOut,       // no answer before the deadline (ETIMEDOUT)
    ConnectionLost, // the connection broke after it was up (ECONNRESET, EPIPE, ECONNABORTED, ENOTCONN)
    Other,          // anything else
};

// "malformed", "unresolved", "refused", "unreachable", "timed out", "connection lost", "other".
[[nodiscard]] constexpr std::string_view to_string(FailureKind kind) {
    switch (kind) {
    case FailureKind::Malformed: return "malformed";
    case FailureKind::Unresolved: return "unresolved";
    case FailureKind::Refused: return "refused";
    case FailureKind::Unreachable: return "unreachable";
    case FailureKind::TimedOut: return "timed out";
    case FailureKind::ConnectionLost: return "connection lost";
    case FailureKind::Other: return "other";
    }
    return "?";
}

// The exit code of lab03-client for each kind (sysexits.h; docs/reference/programs.md).
[[nodiscard]] constexpr int exit_code_for(FailureKind kind) {
    switch (kind) {
    case FailureKind::Malformed: return exit_code::kUsage;
    case FailureKind::Unresolved: return exit_code::kNoHost;
    case FailureKind::Refused:
    case FailureKind::Unreachable: return exit_code::kUnavailable;
    case FailureKind::TimedOut: return exit_code::kTimedOut;
    case FailureKind::ConnectionLost: return exit_code::kConnectionLost;
    case FailureKind::Other: return exit_code::kCannotServe;
    }
    return exit_code::kCannotServe;
}

// Which kind of failure error is: std::invalid_argument is Malformed; a std::system_error in
// resolver_category() is Unresolved; other std::system_errors by their errno; anything else Other.
[[nodiscard]] FailureKind classify_failure(const std::exception& error);

} // namespace socklab
