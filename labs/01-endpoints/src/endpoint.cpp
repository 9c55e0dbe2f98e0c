// Lab 01, steps 5-6: endpoints, and sockaddr_in in network byte order. This file is yours to edit.
// Read docs/labs/01-endpoints.md beside it; run `ctest --test-dir build -L lab01` to check.
#include "socklab/endpoint.hpp"

#include "socklab/not_implemented.hpp"
#include "socklab/port.hpp"

#include <arpa/inet.h>

#include <stdexcept>

namespace socklab {

Endpoint Endpoint::parse([[maybe_unused]] std::string_view text) {
    // TODO: find the one ':'; parse what is before it with Ipv4Address::parse and what is after
    // it with parse_port. Throw std::invalid_argument quoting the whole text when either part is
    // missing or wrong (catch the part's exception and add the whole endpoint to its message).
    throw NotImplemented("Endpoint::parse", "docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint");
}

std::string Endpoint::to_string() const {
    // TODO: address, ':', port.
    throw NotImplemented("Endpoint::to_string",
                         "docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint");
}

sockaddr_in Endpoint::to_sockaddr() const {
    // TODO: a zeroed sockaddr_in with sin_family = AF_INET, sin_port = htons(port) and
    // sin_addr.s_addr = htonl(address.value()).
    throw NotImplemented("Endpoint::to_sockaddr",
                         "docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in");
}

Endpoint Endpoint::from_sockaddr([[maybe_unused]] const sockaddr_in& address) {
    // TODO: check sin_family is AF_INET (else std::invalid_argument), then undo to_sockaddr with
    // ntohs and ntohl.
    throw NotImplemented("Endpoint::from_sockaddr",
                         "docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in");
}

} // namespace socklab
