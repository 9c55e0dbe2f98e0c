// The exit codes of refpeer (sysexits.h) and the exception that carries one to main.
#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

namespace refpeer {

// Exit codes, as in sysexits.h and DESIGN.md.
enum ExitCode : int {
    kExitOk = 0,
    kExitUsage = 64,
    kExitNoHost = 68,
    kExitUnavailable = 69,
    kExitSoftware = 70,
    kExitOsErr = 71,
    kExitIoErr = 74,
    kExitTempFail = 75,
    kExitNoPerm = 77,
};

// A failure that ends refpeer: the message for stderr and the exit code.
class Failure : public std::runtime_error {
public:
    Failure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    // The exit code the failure ends refpeer with.
    int code() const { return code_; }

private:
    int code_;
};

// Builds the Failure for a failed connect to endpoint: "connect EP: what. Likely cause: ...";
// exit 69 refused or unreachable, 74 reset, 75 timed out.
Failure connect_failure(const std::string& endpoint, std::error_code error);
// Builds the Failure for a failed bind or listen on endpoint.
Failure bind_failure(const std::string& operation, const std::string& endpoint, std::error_code error);
// Builds the Failure for a connection lost during a session (recv or send failed).
Failure session_failure(const std::string& operation, const std::string& endpoint, std::error_code error);

} // namespace refpeer
