// The one checker: every failed system call becomes a SocketError (a std::system_error).
#pragma once

#include <cerrno>
#include <concepts>
#include <string>
#include <string_view>
#include <system_error>

namespace socklab {

// A failed operation: std::system_error (code() is the errno, or a resolver code) whose what()
// reads "<operation> <endpoint>: <system message> [<ERRNO>]. Likely cause: <plain words>".
class SocketError : public std::system_error {
public:
    SocketError(std::error_code code, std::string_view operation, std::string_view endpoint);

    [[nodiscard]] const char* what() const noexcept override { return message_.c_str(); }
    // What was attempted: "bind", "connect to", "resolve", ...
    [[nodiscard]] const std::string& operation() const noexcept { return operation_; }
    // On what: "127.0.0.1:8080", "\"localhost\"", or empty.
    [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

private:
    std::string operation_;
    std::string endpoint_;
    std::string message_;
};

// Throws SocketError for errno value err. operation and endpoint go into the message.
[[noreturn]] void throw_errno(int err, std::string_view operation, std::string_view endpoint = {});

// Returns result unless it is -1; then throws SocketError carrying errno. Use it on every call
// that reports failure as -1 + errno: check(::bind(fd, ...), "bind", endpoint.to_string()).
template <std::signed_integral T>
T check(T result, std::string_view operation, std::string_view endpoint = {}) {
    if (result == -1) {
        throw_errno(errno, operation, endpoint);
    }
    return result;
}

// Calls call() again while it fails with EINTR (a signal arrived before anything happened),
// then returns its result. The one place where socklab retries EINTR.
template <typename Call>
auto retry_on_eintr(Call&& call) {
    for (;;) {
        auto result = call();
        if (result != -1 || errno != EINTR) {
            return result;
        }
    }
}

// The likely causes of errno value err for operation, in plain words; empty when unknown.
// Examples: EADDRINUSE -> another socket holds the port; ECONNREFUSED -> nothing listens there.
[[nodiscard]] std::string_view likely_cause(int err, std::string_view operation);

// The error category of getaddrinfo(3) results (EAI_NONAME, EAI_AGAIN, ...), named "resolver".
[[nodiscard]] const std::error_category& resolver_category() noexcept;

// Throws SocketError for a non-zero getaddrinfo(3) result rc while resolving host. EAI_SYSTEM
// becomes the errno it stands for.
[[noreturn]] void throw_resolver_error(int rc, std::string_view host);

} // namespace socklab
