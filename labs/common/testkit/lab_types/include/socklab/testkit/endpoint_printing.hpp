// How Catch2 prints lab 01's types in failure messages. Header-only, for the tests of lab 01 and
// the labs after it. It formats from octets() and port directly, never through the student's
// to_string(), so a failure message never depends on the code under test.
#pragma once

#include "socklab/endpoint.hpp"
#include "socklab/ipv4_address.hpp"
#include "socklab/port.hpp"

#include "socklab/testkit/catch.hpp"

#include <string>

namespace Catch {

template <>
struct StringMaker<socklab::Ipv4Address> {
    static std::string convert(const socklab::Ipv4Address& address) {
        const auto o = address.octets();
        return std::to_string(o[0]) + "." + std::to_string(o[1]) + "." + std::to_string(o[2]) + "." +
               std::to_string(o[3]);
    }
};

template <>
struct StringMaker<socklab::Endpoint> {
    static std::string convert(const socklab::Endpoint& endpoint) {
        return StringMaker<socklab::Ipv4Address>::convert(endpoint.address) + ":" +
               std::to_string(endpoint.port);
    }
};

template <>
struct StringMaker<socklab::AddressClass> {
    static std::string convert(socklab::AddressClass value) { return std::string(socklab::to_string(value)); }
};

template <>
struct StringMaker<socklab::PortClass> {
    static std::string convert(socklab::PortClass value) { return std::string(socklab::to_string(value)); }
};

} // namespace Catch
