#include "socklab/failure_kind.hpp"

#include "socklab/check.hpp"

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace socklab {

FailureKind classify_failure(const std::exception& error) {
    if (dynamic_cast<const std::invalid_argument*>(&error) != nullptr) {
        return FailureKind::Malformed;
    }
    const auto* system = dynamic_cast<const std::system_error*>(&error);
    if (system == nullptr) {
        return FailureKind::Other;
    }
    if (system->code().category() == resolver_category()) {
        return FailureKind::Unresolved;
    }
    // Compared with std::errc conditions, so errno values in the system category and the same
    // errors built from std::errc (the generic category) are read alike.
    const std::error_code code = system->code();
    if (code == std::errc::connection_refused) {
        return FailureKind::Refused;
    }
    if (code == std::errc::network_unreachable || code == std::errc::host_unreachable) {
        return FailureKind::Unreachable;
    }
    if (code == std::errc::timed_out) {
        return FailureKind::TimedOut;
    }
    // ENOTCONN: a reset can arrive before our own shutdown(SHUT_WR), which then finds no
    // connection left to shut down.
    if (code == std::errc::connection_reset || code == std::errc::broken_pipe ||
        code == std::errc::connection_aborted || code == std::errc::not_connected) {
        return FailureKind::ConnectionLost;
    }
    return FailureKind::Other;
}

} // namespace socklab
