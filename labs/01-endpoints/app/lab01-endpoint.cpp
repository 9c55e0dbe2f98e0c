// lab01-endpoint: look at an endpoint the way the labs' code sees it (given code).
//
//   lab01-endpoint parse ADDRESS:PORT  the address, the port, their classes, the sockaddr_in bytes
//   lab01-endpoint resolve NAME PORT   the endpoints NAME resolves to
#include "socklab/endpoint.hpp"
#include "socklab/port.hpp"
#include "socklab/program.hpp"
#include "socklab/resolve.hpp"

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view kUsage =
    "usage: lab01-endpoint parse ADDRESS:PORT  e.g. lab01-endpoint parse 192.168.1.169:5\n"
    "       lab01-endpoint resolve NAME PORT   e.g. lab01-endpoint resolve localhost 80\n";

std::string_view port_range(socklab::PortClass port_class) {
    switch (port_class) {
    case socklab::PortClass::WellKnown: return "0-1023";
    case socklab::PortClass::Registered: return "1024-49151";
    case socklab::PortClass::Dynamic: return "49152-65535";
    }
    return "?";
}

// The bytes of an object as they are in memory, in hex: shows network byte order.
template <typename T>
std::string hex_bytes(const T& value) {
    std::string text;
    const auto* bytes = reinterpret_cast<const unsigned char*>(&value);
    for (std::size_t i = 0; i < sizeof value; ++i) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%02x", bytes[i]);
        text += (i > 0 ? " " : "") + std::string(hex);
    }
    return text;
}

int parse(std::string_view text) {
    const auto endpoint = socklab::Endpoint::parse(text);
    const auto port_class = socklab::classify_port(endpoint.port);
    const sockaddr_in address = endpoint.to_sockaddr();
    std::cout << "endpoint:  " << endpoint.to_string() << "\n"
              << "address:   " << endpoint.address.to_string() << " ("
              << socklab::to_string(endpoint.address.classify()) << ")\n"
              << "port:      " << endpoint.port << " (" << socklab::to_string(port_class) << ", "
              << port_range(port_class) << ")\n"
              << "sockaddr:  sin_port bytes " << hex_bytes(address.sin_port) << ", sin_addr bytes "
              << hex_bytes(address.sin_addr) << " (network byte order)\n";
    return socklab::exit_code::kOk;
}

int resolve(std::string_view name, std::string_view port_text) {
    const auto port = socklab::parse_port(port_text);
    for (const auto& endpoint : socklab::resolve(name, port)) {
        std::cout << endpoint.to_string() << " (" << socklab::to_string(endpoint.address.classify()) << ")\n";
    }
    return socklab::exit_code::kOk;
}

} // namespace

int main(int argc, char* argv[]) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    return socklab::run_main("lab01-endpoint", [&] {
        if (args.size() == 2 && args[0] == "parse") {
            return parse(args[1]);
        }
        if (args.size() == 3 && args[0] == "resolve") {
            return resolve(args[1], args[2]);
        }
        std::cerr << kUsage;
        return socklab::exit_code::kUsage;
    });
}
