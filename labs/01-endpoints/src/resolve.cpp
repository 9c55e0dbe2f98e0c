// Lab 01, step 7: resolving a host name. This file is yours to edit.
// Read docs/labs/01-endpoints.md beside it; run `ctest --test-dir build -L lab01` to check.
#include "socklab/resolve.hpp"

#include "socklab/check.hpp"
#include "socklab/not_implemented.hpp"

#include <netdb.h>

#include <stdexcept>

namespace socklab {

std::vector<Endpoint> resolve([[maybe_unused]] std::string_view host, [[maybe_unused]] std::uint16_t port) {
    // TODO: reject an empty host with std::invalid_argument. A host of only digits and dots is an
    // address: return {Endpoint{Ipv4Address::parse(host), port}}. Otherwise call getaddrinfo(3) with hints
    // ai_family = AF_INET and ai_socktype = SOCK_STREAM; on failure call
    // throw_resolver_error(rc, host). Turn each result's ai_addr into an Endpoint with
    // Endpoint::from_sockaddr, set its port, skip duplicates, and freeaddrinfo(3) the list.
    throw NotImplemented("resolve", "docs/labs/01-endpoints.md#step-7-resolve-a-name");
}

} // namespace socklab
