#include "socklab/resolve.hpp"

#include "socklab/check.hpp"

#include <netdb.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

namespace socklab {

std::vector<Endpoint> resolve(std::string_view host, std::uint16_t port) {
    if (host.empty()) {
        throw std::invalid_argument("invalid host name \"\": it is empty; give a name like localhost "
                                    "or an address like 127.0.0.1");
    }
    // Digits and dots only: an address, not a name. Parse it strictly rather than let
    // getaddrinfo apply inet_aton's old rules (octal parts, missing parts).
    if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
        return {Endpoint{Ipv4Address::parse(host), port}};
    }
    addrinfo hints{};
    hints.ai_family = AF_INET;       // IPv4 only: the labs' Endpoint is IPv4
    hints.ai_socktype = SOCK_STREAM; // TCP; without it each address comes back once per socket type
    addrinfo* list = nullptr;
    const std::string name(host);
    const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &list);
    if (rc != 0) {
        throw_resolver_error(rc, host);
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(list, &::freeaddrinfo);

    std::vector<Endpoint> endpoints;
    for (const addrinfo* entry = list; entry != nullptr; entry = entry->ai_next) {
        Endpoint endpoint = Endpoint::from_sockaddr(*reinterpret_cast<const sockaddr_in*>(entry->ai_addr));
        endpoint.port = port;
        if (std::find(endpoints.begin(), endpoints.end(), endpoint) == endpoints.end()) {
            endpoints.push_back(endpoint);
        }
    }
    return endpoints;
}

} // namespace socklab
