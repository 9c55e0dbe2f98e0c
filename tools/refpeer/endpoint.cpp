#include "endpoint.hpp"

#include "failure.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/address_v4.hpp>

#include <algorithm>

namespace refpeer {

namespace {

// Whether text is made of digits and dots only: then it is an address, never a name to look up.
bool looks_numeric(const std::string& text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// The Failure for a malformed HOST:PORT, quoting the input.
Failure malformed(const std::string& text, const std::string& why) {
    return {kExitUsage, "invalid endpoint \"" + text + "\": " + why};
}

} // namespace

HostPort parse_host_port(const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos) {
        throw malformed(text, "no ':'; write HOST:PORT, e.g. 127.0.0.1:7000");
    }
    if (text.find(':', colon + 1) != std::string::npos) {
        throw malformed(text, "more than one ':'; write one host, one ':', one port (IPv6 is not supported)");
    }
    HostPort result{text.substr(0, colon), 0};
    const std::string port = text.substr(colon + 1);
    if (result.host.empty()) {
        throw malformed(text, "the host is empty");
    }
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        throw malformed(text, "the port \"" + port + "\" is not a number from 0 to 65535");
    }
    const unsigned long value = std::stoul(port);
    if (value > 65535) {
        throw malformed(text, "the port " + port + " is more than 65535");
    }
    result.port = static_cast<std::uint16_t>(value);
    return result;
}

std::vector<asio::ip::tcp::endpoint> resolve(const HostPort& where) {
    const std::string shown = where.host + ":" + std::to_string(where.port);
    if (looks_numeric(where.host)) {
        asio::error_code error;
        const auto address = asio::ip::make_address_v4(where.host, error);
        if (error) {
            throw malformed(shown, "\"" + where.host + "\" is not an IPv4 address (four numbers 0-255)");
        }
        return {asio::ip::tcp::endpoint(address, where.port)};
    }
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    asio::error_code error;
    const auto results = resolver.resolve(asio::ip::tcp::v4(), where.host, std::to_string(where.port),
                                          asio::ip::resolver_base::numeric_service, error);
    if (error || results.empty()) {
        throw Failure(kExitNoHost, "resolve " + where.host + ": " +
                                       (error ? error.message() : std::string("no IPv4 address")) +
                                       ". Likely cause: the name is misspelt, or no DNS answers.");
    }
    std::vector<asio::ip::tcp::endpoint> endpoints;
    for (const auto& entry : results) {
        endpoints.push_back(entry.endpoint());
    }
    return endpoints;
}

std::string to_string(const asio::ip::tcp::endpoint& endpoint) {
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

} // namespace refpeer
