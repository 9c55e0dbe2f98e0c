#include "socklab/check.hpp"

#include <netdb.h>

#include <cstring>

namespace socklab {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

// getaddrinfo's error codes as the names a reader can search for.
const char* resolver_code_name(int rc) {
    switch (rc) {
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_BADFLAGS: return "EAI_BADFLAGS";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_FAMILY: return "EAI_FAMILY";
    case EAI_MEMORY: return "EAI_MEMORY";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_SERVICE: return "EAI_SERVICE";
    case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
    case EAI_SYSTEM: return "EAI_SYSTEM";
#ifdef EAI_NODATA
    case EAI_NODATA: return "EAI_NODATA";
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
#endif
    default: return "EAI_?";
    }
}

std::string_view resolver_likely_cause(int rc) {
    switch (rc) {
    case EAI_NONAME:
        return "no such name: check its spelling (no DNS server and no line of /etc/hosts knows it)";
    case EAI_AGAIN:
        return "no DNS server answered: the machine may be offline or its DNS settings "
               "(/etc/resolv.conf) wrong; try again later";
    case EAI_FAIL: return "the DNS server failed for good on this name";
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return "the name exists but has no IPv4 address";
    default: return {};
    }
}

class ResolverCategory final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "resolver"; }
    [[nodiscard]] std::string message(int rc) const override { return ::gai_strerror(rc); }
};

std::string compose(std::string_view operation, std::string_view endpoint, std::string_view what,
                    std::string_view code_name, std::string_view cause) {
    std::string message(operation);
    if (!endpoint.empty()) {
        message.append(" ").append(endpoint);
    }
    message.append(": ").append(what).append(" [").append(code_name).append("]");
    if (!cause.empty()) {
        message.append(". Likely cause: ").append(cause);
    }
    return message;
}

} // namespace

SocketError::SocketError(std::error_code code, std::string_view operation, std::string_view endpoint)
    : std::system_error(code), operation_(operation), endpoint_(endpoint) {
    if (code.category() == resolver_category()) {
        message_ = compose(operation, endpoint, code.message(), resolver_code_name(code.value()),
                           resolver_likely_cause(code.value()));
    } else {
        const char* name = ::strerrorname_np(code.value());
        message_ = compose(operation, endpoint, code.message(), name != nullptr ? name : "errno ?",
                           likely_cause(code.value(), operation));
    }
}

void throw_errno(int err, std::string_view operation, std::string_view endpoint) {
    throw SocketError(std::error_code(err, std::system_category()), operation, endpoint);
}

std::string_view likely_cause(int err, std::string_view operation) {
    const bool binding = starts_with(operation, "bind");
    switch (err) {
    case EADDRINUSE:
        return "another socket already holds this endpoint (another process, or an earlier run "
               "still in TIME_WAIT: a listener needs SO_REUSEADDR to bind again at once)";
    case EADDRNOTAVAIL:
        return binding ? "the address is not one of this host's: no network interface has it "
                         "(see `ip address`)"
                       : "no local port is free, or the address cannot be used here";
    case EACCES:
    case EPERM:
        return binding ? "ports 0-1023 are well-known ports: binding one needs root or "
                         "CAP_NET_BIND_SERVICE; pick a port above 1023"
                       : "a firewall rule or a permission forbids it";
    case ECONNREFUSED:
        return "nothing listens there: the server was not started or has crashed, or the port "
               "or the address is wrong";
    case ETIMEDOUT:
        return "nothing answered in time: a firewall may be dropping the packets, the address may "
               "be wrong, or the server is too busy to accept";
    case ENETUNREACH:
        return "this host has no route to that network: the address is wrong or the network is down";
    case EHOSTUNREACH:
        return "that host cannot be reached: it is down, the address is wrong, or a firewall "
               "rejected the packets";
    case ECONNRESET:
        return "the peer reset the connection: its program crashed, or closed the socket while "
               "data was still unread";
    case EPIPE: return "the peer has closed the connection, so nothing more can be sent on it";
    case ECONNABORTED: return "the connection was aborted before it could be accepted";
    case ENOTCONN: return "the socket is not connected (yet, or any more)";
    case EMFILE:
    case ENFILE: return "too many open descriptors: is one leaking (never closed) for every connection?";
    case EBADF: return "the descriptor is not open: it was closed already, or never opened";
    case ENOTSOCK: return "the descriptor is not a socket";
    default: return {};
    }
}

const std::error_category& resolver_category() noexcept {
    static const ResolverCategory category;
    return category;
}

void throw_resolver_error(int rc, std::string_view host) {
    const std::string quoted = "\"" + std::string(host) + "\"";
    if (rc == EAI_SYSTEM) {
        throw_errno(errno, "resolve", quoted);
    }
    throw SocketError(std::error_code(rc, resolver_category()), "resolve", quoted);
}

} // namespace socklab
