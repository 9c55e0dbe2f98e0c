// Lab 01, step 4: ports. This file is yours to edit.
// Read docs/labs/01-endpoints.md beside it; run `ctest --test-dir build -L lab01` to check.
#include "socklab/port.hpp"

#include "socklab/not_implemented.hpp"

#include <stdexcept>

namespace socklab {

std::uint16_t parse_port([[maybe_unused]] std::string_view text) {
    // TODO: accept only digits, no leading zero, a value of at most kMaxPort (65535); beware of
    // overflow on long inputs. Anything else: throw std::invalid_argument quoting text.
    throw NotImplemented("parse_port", "docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port");
}

PortClass classify_port([[maybe_unused]] std::uint16_t port) {
    // TODO: 0-1023 well-known, 1024-49151 registered, 49152-65535 dynamic.
    throw NotImplemented("classify_port", "docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port");
}

} // namespace socklab
