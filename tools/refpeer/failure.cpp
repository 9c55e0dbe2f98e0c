#include "failure.hpp"

#include <cerrno>

namespace refpeer {

namespace {

// Formats "OPERATION ENDPOINT: system words. Likely cause: CAUSE".
std::string describe(const std::string& operation, const std::string& endpoint, std::error_code error,
                     const std::string& cause) {
    std::string text = operation + " " + endpoint + ": " + error.message() + ".";
    if (!cause.empty()) {
        text += " Likely cause: " + cause + ".";
    }
    return text;
}

} // namespace

Failure connect_failure(const std::string& endpoint, std::error_code error) {
    switch (error.value()) {
    case ECONNREFUSED:
        return {kExitUnavailable,
                describe("connect", endpoint, error,
                         "nothing listens there (server not started, wrong port or address)")};
    case ENETUNREACH:
    case EHOSTUNREACH:
        return {kExitUnavailable, describe("connect", endpoint, error,
                                           "no route to that address (wrong address, network down)")};
    case ETIMEDOUT:
        return {
            kExitTempFail,
            describe("connect", endpoint, error,
                     "nothing answered in time (a firewall drops the packets, wrong address, or the server's "
                     "accept queue is full)")};
    case ECONNRESET:
    case ECONNABORTED:
        // The handshake completed and the server aborted at once (--reset-after 0 does that).
        return {kExitIoErr, describe("connect", endpoint, error,
                                     "the server accepted the connection and reset it at once")};
    default: return {kExitUnavailable, describe("connect", endpoint, error, "")};
    }
}

Failure bind_failure(const std::string& operation, const std::string& endpoint, std::error_code error) {
    switch (error.value()) {
    case EADDRINUSE:
        return {kExitOsErr, describe(operation, endpoint, error,
                                     "another process already uses this port (choose another, or port 0)")};
    case EADDRNOTAVAIL:
        return {kExitOsErr,
                describe(operation, endpoint, error, "the address is not one of this machine's addresses")};
    case EACCES:
    case EPERM:
        return {kExitNoPerm, describe(operation, endpoint, error,
                                      "ports below 1024 need privilege (use a port above 1023, or port 0)")};
    default: return {kExitOsErr, describe(operation, endpoint, error, "")};
    }
}

Failure session_failure(const std::string& operation, const std::string& endpoint, std::error_code error) {
    return {kExitIoErr, describe(operation, endpoint, error,
                                 "the peer reset the connection (it crashed, aborted, or closed with data "
                                 "still unread)")};
}

} // namespace refpeer
