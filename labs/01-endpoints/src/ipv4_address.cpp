// Lab 01, step 1-3: IPv4 addresses. This file is yours to edit.
// Read docs/labs/01-endpoints.md beside it; run `ctest --test-dir build -L lab01` to check.
#include "socklab/ipv4_address.hpp"

#include "socklab/not_implemented.hpp"

#include <stdexcept>

namespace socklab {

Ipv4Address Ipv4Address::parse([[maybe_unused]] std::string_view text) {
    // TODO: split text at '.', check there are exactly four parts, each of 1-3 digits with no
    // leading zero and a value of at most 255; build the address with Ipv4Address(a, b, c, d).
    // Any other text: throw std::invalid_argument whose message quotes text and says what is wrong.
    throw NotImplemented("Ipv4Address::parse", "docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address");
}

std::string Ipv4Address::to_string() const {
    // TODO: the four numbers of octets(), joined by '.' (std::to_string on each).
    throw NotImplemented("Ipv4Address::to_string", "docs/labs/01-endpoints.md#step-2-format-an-ipv4-address");
}

AddressClass Ipv4Address::classify() const {
    // TODO: compare value() with each range of AddressClass, masking off the bits that vary:
    // (value() & mask) == network. 127.0.0.0/8 means the first 8 bits are 127.
    throw NotImplemented("Ipv4Address::classify", "docs/labs/01-endpoints.md#step-3-classify-an-address");
}

} // namespace socklab
