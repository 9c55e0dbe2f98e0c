// Lab 01: ports and their classes (docs/labs/01-endpoints.md, step 4).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/port.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/endpoint_printing.hpp"

#include <stdexcept>

using socklab::classify_port;
using socklab::parse_port;
using socklab::PortClass;
using socklab::testkit::MessageContains;

TEST_CASE("parse_port reads a decimal port", "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    CHECK(parse_port("8080") == 8080);
}

TEST_CASE("parse_port accepts 0 and 65535 the ends of the range",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    CHECK(parse_port("0") == 0);
    CHECK(parse_port("65535") == 65535);
}

TEST_CASE("parse_port rejects 65536 because a port is 16 bits",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port("65536"), std::invalid_argument,
                           MessageContains({"\"65536\"", "65535"}));
}

TEST_CASE("parse_port rejects a port too long to fit in 32 bits without overflowing",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port("4294967376"), std::invalid_argument,
                           MessageContains({"\"4294967376\"", "65535"}));
}

TEST_CASE("parse_port rejects a negative port",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port("-1"), std::invalid_argument, MessageContains({"\"-1\""}));
}

TEST_CASE("parse_port rejects a leading space",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port(" 80"), std::invalid_argument, MessageContains({"\" 80\""}));
}

TEST_CASE("parse_port rejects a trailing newline",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port("80\n"), std::invalid_argument, MessageContains({"\"80\n\""}));
}

TEST_CASE("parse_port rejects a trailing space",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port("80 "), std::invalid_argument, MessageContains({"\"80 \""}));
}

TEST_CASE("parse_port rejects a plus sign", "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port("+80"), std::invalid_argument, MessageContains({"\"+80\""}));
}

TEST_CASE("parse_port rejects the empty string",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port(""), std::invalid_argument, MessageContains({"\"\"", "empty"}));
}

TEST_CASE("parse_port rejects trailing letters",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port("80x"), std::invalid_argument, MessageContains({"\"80x\""}));
}

TEST_CASE("parse_port rejects a leading zero",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    REQUIRE_THROWS_MATCHES(parse_port("080"), std::invalid_argument,
                           MessageContains({"\"080\"", "leading zero"}));
}

TEST_CASE("classify_port puts 0 to 1023 in the well-known range",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    CHECK(classify_port(0) == PortClass::WellKnown);
    CHECK(classify_port(5) == PortClass::WellKnown);
    CHECK(classify_port(80) == PortClass::WellKnown);
    CHECK(classify_port(1023) == PortClass::WellKnown);
}

TEST_CASE("classify_port puts 1024 to 49151 in the registered range",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    CHECK(classify_port(1024) == PortClass::Registered);
    CHECK(classify_port(20000) == PortClass::Registered);
    CHECK(classify_port(49151) == PortClass::Registered);
}

TEST_CASE("classify_port puts 49152 to 65535 in the dynamic range",
          "[docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port]") {
    CHECK(classify_port(49152) == PortClass::Dynamic);
    CHECK(classify_port(65535) == PortClass::Dynamic);
}
