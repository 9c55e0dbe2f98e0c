// Lab 01: IPv4 addresses in dotted decimal (docs/labs/01-endpoints.md, steps 1-3).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/ipv4_address.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/endpoint_printing.hpp"

#include <stdexcept>

using socklab::AddressClass;
using socklab::Ipv4Address;
using socklab::testkit::Bytes;
using socklab::testkit::EqualsBytes;
using socklab::testkit::MessageContains;

// --- Step 1: parse ------------------------------------------------------------------------------

TEST_CASE("Ipv4Address parses four decimal numbers joined by dots",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    CHECK(Ipv4Address::parse("192.168.1.169") == Ipv4Address(192, 168, 1, 169));
}

TEST_CASE("Ipv4Address parse puts the first number in the most significant byte",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    CHECK(Ipv4Address::parse("1.2.3.4").value() == 0x01020304U);
}

TEST_CASE("Ipv4Address parses the smallest and the largest address",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    CHECK(Ipv4Address::parse("0.0.0.0") == Ipv4Address(0U));
    CHECK(Ipv4Address::parse("255.255.255.255") == Ipv4Address(0xFFFFFFFFU));
}

TEST_CASE("Ipv4Address parses a lone zero in a part",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    CHECK(Ipv4Address::parse("10.0.0.1") == Ipv4Address(10, 0, 0, 1));
}

TEST_CASE("Ipv4Address rejects a part larger than 255 and says the limit",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("256.1.1.1"), std::invalid_argument,
                           MessageContains({"\"256.1.1.1\"", "255"}));
}

TEST_CASE("Ipv4Address rejects a part too long to fit in 32 bits without overflowing",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("4294967297.1.1.1"), std::invalid_argument,
                           MessageContains({"\"4294967297.1.1.1\"", "255"}));
}

TEST_CASE("Ipv4Address rejects three parts and says how many parts an address has",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("1.2.3"), std::invalid_argument,
                           MessageContains({"\"1.2.3\"", "part"}));
}

TEST_CASE("Ipv4Address rejects five parts", "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("1.2.3.4.5"), std::invalid_argument,
                           MessageContains({"\"1.2.3.4.5\"", "part"}));
}

TEST_CASE("Ipv4Address rejects an empty part between two dots",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("1..3.4"), std::invalid_argument,
                           MessageContains({"\"1..3.4\"", "empty"}));
}

TEST_CASE("Ipv4Address rejects a trailing dot", "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("1.2.3.4."), std::invalid_argument,
                           MessageContains({"\"1.2.3.4.\""}));
}

TEST_CASE("Ipv4Address rejects letters", "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("a.b.c.d"), std::invalid_argument,
                           MessageContains({"\"a.b.c.d\"", "digit"}));
}

TEST_CASE("Ipv4Address rejects a leading space", "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse(" 1.2.3.4"), std::invalid_argument,
                           MessageContains({"\" 1.2.3.4\""}));
}

TEST_CASE("Ipv4Address rejects a trailing newline",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("1.2.3.4\n"), std::invalid_argument,
                           MessageContains({"1.2.3.4"}));
}

TEST_CASE("Ipv4Address rejects a sign in a part",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("1.2.+3.4"), std::invalid_argument,
                           MessageContains({"\"1.2.+3.4\""}));
}

TEST_CASE("Ipv4Address rejects the empty string",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse(""), std::invalid_argument, MessageContains({"\"\"", "empty"}));
}

TEST_CASE("Ipv4Address rejects a leading zero because some tools read it as octal",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("010.0.0.1"), std::invalid_argument,
                           MessageContains({"\"010.0.0.1\"", "leading zero"}));
}

TEST_CASE("Ipv4Address rejects a leading zero in any part, not only the first",
          "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]") {
    REQUIRE_THROWS_MATCHES(Ipv4Address::parse("10.0.0.01"), std::invalid_argument,
                           MessageContains({"\"10.0.0.01\"", "leading zero"}));
}

// --- Step 2: format -----------------------------------------------------------------------------

TEST_CASE("Ipv4Address formats as dotted decimal",
          "[docs/labs/01-endpoints.md#step-2-format-an-ipv4-address]") {
    CHECK_THAT(Bytes(Ipv4Address(192, 168, 1, 169).to_string()), EqualsBytes("192.168.1.169"));
}

TEST_CASE("Ipv4Address formats zeros without padding",
          "[docs/labs/01-endpoints.md#step-2-format-an-ipv4-address]") {
    CHECK_THAT(Bytes(Ipv4Address(10, 0, 0, 1).to_string()), EqualsBytes("10.0.0.1"));
}

TEST_CASE("Ipv4Address formatting and parsing give back the same address",
          "[docs/labs/01-endpoints.md#step-2-format-an-ipv4-address]") {
    for (const auto address : {Ipv4Address(0U), Ipv4Address(127, 0, 0, 1), Ipv4Address(255, 1, 20, 100),
                               Ipv4Address(0xFFFFFFFFU)}) {
        CAPTURE(address);
        CHECK(Ipv4Address::parse(address.to_string()) == address);
    }
}

// --- Step 3: classify ---------------------------------------------------------------------------

TEST_CASE("Ipv4Address classifies 0.0.0.0 as unspecified",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(0, 0, 0, 0).classify() == AddressClass::Unspecified);
}

TEST_CASE("Ipv4Address classifies all of 127.0.0.0/8 as loopback",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(127, 0, 0, 1).classify() == AddressClass::Loopback);
    CHECK(Ipv4Address(127, 255, 255, 254).classify() == AddressClass::Loopback);
}

TEST_CASE("Ipv4Address classifies the three RFC 1918 ranges as private",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(10, 1, 2, 3).classify() == AddressClass::Private);
    CHECK(Ipv4Address(172, 16, 0, 1).classify() == AddressClass::Private);
    CHECK(Ipv4Address(172, 31, 255, 255).classify() == AddressClass::Private);
    CHECK(Ipv4Address(192, 168, 1, 169).classify() == AddressClass::Private);
}

TEST_CASE("Ipv4Address classifies addresses just outside 172.16.0.0/12 as public",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(172, 15, 255, 255).classify() == AddressClass::Public);
    CHECK(Ipv4Address(172, 32, 0, 0).classify() == AddressClass::Public);
}

TEST_CASE("Ipv4Address classifies the cheatsheet example 168.192.1.5 as public",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(168, 192, 1, 5).classify() == AddressClass::Public);
}

TEST_CASE("Ipv4Address classifies 100.64.0.0/10 as shared",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(100, 64, 0, 1).classify() == AddressClass::Shared);
    CHECK(Ipv4Address(100, 127, 255, 255).classify() == AddressClass::Shared);
    CHECK(Ipv4Address(100, 128, 0, 0).classify() == AddressClass::Public);
}

TEST_CASE("Ipv4Address classifies 169.254.0.0/16 as link-local",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(169, 254, 10, 20).classify() == AddressClass::LinkLocal);
}

TEST_CASE("Ipv4Address classifies the RFC 5737 example ranges as documentation",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(192, 0, 2, 1).classify() == AddressClass::Documentation);
    CHECK(Ipv4Address(198, 51, 100, 7).classify() == AddressClass::Documentation);
    CHECK(Ipv4Address(203, 0, 113, 255).classify() == AddressClass::Documentation);
}

TEST_CASE("Ipv4Address classifies 224.0.0.0/4 as multicast",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(224, 0, 0, 1).classify() == AddressClass::Multicast);
    CHECK(Ipv4Address(239, 255, 255, 255).classify() == AddressClass::Multicast);
}

TEST_CASE("Ipv4Address classifies 255.255.255.255 as broadcast",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(255, 255, 255, 255).classify() == AddressClass::Broadcast);
}

TEST_CASE("Ipv4Address classifies 240.0.0.0/4 and the rest of 0.0.0.0/8 as reserved",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(240, 0, 0, 1).classify() == AddressClass::Reserved);
    CHECK(Ipv4Address(255, 255, 255, 254).classify() == AddressClass::Reserved);
    CHECK(Ipv4Address(0, 1, 2, 3).classify() == AddressClass::Reserved);
}

TEST_CASE("Ipv4Address classifies an Internet address as public",
          "[docs/labs/01-endpoints.md#step-3-classify-an-address]") {
    CHECK(Ipv4Address(8, 8, 8, 8).classify() == AddressClass::Public);
}
