// Lab 01: endpoints, and sockaddr_in in network byte order (docs/labs/01-endpoints.md, steps 5-6).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/endpoint.hpp"
#include "socklab/port.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/endpoint_printing.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

using socklab::Endpoint;
using socklab::Ipv4Address;
using socklab::testkit::Bytes;
using socklab::testkit::EqualsBytes;
using socklab::testkit::family_text;
using socklab::testkit::MessageContains;

namespace {

// The bytes of an object as they lie in memory, first byte first, in hex: "c0 a8 01 a9".
template <typename T>
std::string memory_bytes(const T& value) {
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    std::string hex;
    for (const unsigned char byte : bytes) {
        char two[4];
        std::snprintf(two, sizeof two, "%02x", byte);
        hex += (hex.empty() ? "" : " ") + std::string(two);
    }
    return hex;
}

} // namespace

// --- Step 5: parse and format -------------------------------------------------------------------

TEST_CASE("Endpoint parses the cheatsheet example 192.168.1.169:5 as that address and port 5",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    const Endpoint endpoint = Endpoint::parse("192.168.1.169:5");
    CHECK(endpoint.address == Ipv4Address(192, 168, 1, 169));
    CHECK(endpoint.port == 5);
}

TEST_CASE("Endpoint 192.168.1.169:5 has a well-known port",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    CHECK(socklab::classify_port(Endpoint::parse("192.168.1.169:5").port) == socklab::PortClass::WellKnown);
}

TEST_CASE("Endpoint parses a loopback endpoint with a dynamic port",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    CHECK(Endpoint::parse("127.0.0.1:50000") == Endpoint{Ipv4Address::loopback(), 50000});
}

TEST_CASE("Endpoint rejects a missing port after the colon",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse("1.2.3.4:"), std::invalid_argument,
                           MessageContains({"\"1.2.3.4:\"", "port"}));
}

TEST_CASE("Endpoint rejects a missing address before the colon",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse(":80"), std::invalid_argument,
                           MessageContains({"\":80\"", "address"}));
}

TEST_CASE("Endpoint rejects a missing colon",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse("1.2.3.4"), std::invalid_argument,
                           MessageContains({"\"1.2.3.4\"", "':'"}));
}

TEST_CASE("Endpoint rejects port 65536 and quotes the whole endpoint",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse("1.2.3.4:65536"), std::invalid_argument,
                           MessageContains({"\"1.2.3.4:65536\"", "65535"}));
}

TEST_CASE("Endpoint rejects a negative port",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse("1.2.3.4:-1"), std::invalid_argument,
                           MessageContains({"\"1.2.3.4:-1\""}));
}

TEST_CASE("Endpoint rejects a malformed address and quotes the whole endpoint",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse("256.1.1.1:80"), std::invalid_argument,
                           MessageContains({"\"256.1.1.1:80\"", "255"}));
}

TEST_CASE("Endpoint rejects a host name because an endpoint holds an address",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse("localhost:80"), std::invalid_argument,
                           MessageContains({"\"localhost:80\""}));
}

TEST_CASE("Endpoint rejects a space after the colon",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse("1.2.3.4: 80"), std::invalid_argument,
                           MessageContains({"\"1.2.3.4: 80\""}));
}

// The message of a part parser given text, or "" where it accepts it.
template <typename Parse>
std::string part_message(Parse parse, std::string_view text) {
    try {
        (void)parse(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

TEST_CASE("Endpoint rejects a second colon",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    REQUIRE_THROWS_MATCHES(Endpoint::parse("1.2.3.4:80:81"), std::invalid_argument,
                           MessageContains({"\"1.2.3.4:80:81\"", "':'"}));
    // The message says what is wrong with the shape, as for a missing colon, not what a part
    // parser says of "1.2.3.4:80" or "80:81" (that it is not an address, or not a port).
    std::string message;
    try {
        (void)Endpoint::parse("1.2.3.4:80:81");
    } catch (const std::invalid_argument& e) {
        message = e.what();
    }
    for (const std::string& part :
         {part_message(&Ipv4Address::parse, "1.2.3.4:80"), part_message(&socklab::parse_port, "80:81")}) {
        INFO("the message of a part parser: " << part);
        CHECK((part.empty() || message.find(part) == std::string::npos));
    }
}

TEST_CASE("Endpoint formats as address colon port",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    CHECK_THAT(Bytes(Endpoint{Ipv4Address(192, 168, 1, 169), 5}.to_string()), EqualsBytes("192.168.1.169:5"));
}

TEST_CASE("Endpoint formatting and parsing give back the same endpoint",
          "[docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint]") {
    const Endpoint endpoint{Ipv4Address(10, 20, 30, 40), 65535};
    CHECK(Endpoint::parse(endpoint.to_string()) == endpoint);
}

// --- Step 6: sockaddr_in and network byte order -------------------------------------------------

TEST_CASE("Endpoint to_sockaddr sets the family to AF_INET",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    CHECK(family_text(Endpoint{Ipv4Address::loopback(), 80}.to_sockaddr().sin_family) == "AF_INET (2)");
}

TEST_CASE("Endpoint to_sockaddr stores the port most significant byte first",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    const sockaddr_in address = Endpoint{Ipv4Address(192, 168, 1, 169), 0x1234}.to_sockaddr();
    CHECK(memory_bytes(address.sin_port) == "12 34");
}

TEST_CASE("Endpoint to_sockaddr stores port 5 as the bytes 00 05",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    const sockaddr_in address = Endpoint::parse("192.168.1.169:5").to_sockaddr();
    CHECK(memory_bytes(address.sin_port) == "00 05");
}

TEST_CASE("Endpoint to_sockaddr stores the address in the order it is written",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    const sockaddr_in address = Endpoint{Ipv4Address(192, 168, 1, 169), 5}.to_sockaddr();
    CHECK(memory_bytes(address.sin_addr) == "c0 a8 01 a9");
}

TEST_CASE("Endpoint to_sockaddr leaves sin_zero zero",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    // The result is built straight into memory that holds 0xAA bytes (a returned local is built in
    // the caller's storage), so a sockaddr_in that is not zeroed shows them, not the zeros the
    // stack happened to hold.
    alignas(sockaddr_in) unsigned char storage[sizeof(sockaddr_in)];
    std::memset(storage, 0xAA, sizeof storage);
    const sockaddr_in& address =
        *new (storage) sockaddr_in(Endpoint{Ipv4Address(1, 2, 3, 4), 5}.to_sockaddr());
    CHECK(memory_bytes(address.sin_zero) == "00 00 00 00 00 00 00 00");
}

TEST_CASE("Endpoint to_sockaddr agrees with inet_pton and htons",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    const sockaddr_in address = Endpoint{Ipv4Address(203, 0, 113, 9), 443}.to_sockaddr();
    in_addr expected{};
    if (::inet_pton(AF_INET, "203.0.113.9", &expected) != 1) {
        FAIL("inet_pton does not read 203.0.113.9");
    }
    CHECK(address.sin_addr.s_addr == expected.s_addr);
    CHECK(address.sin_port == htons(443));
}

TEST_CASE("Endpoint from_sockaddr reads what to_sockaddr wrote",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    const Endpoint endpoint{Ipv4Address(172, 16, 5, 4), 20000};
    CHECK(Endpoint::from_sockaddr(endpoint.to_sockaddr()) == endpoint);
}

TEST_CASE("Endpoint from_sockaddr reads a sockaddr_in built with htons and htonl",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(8080);
    address.sin_addr.s_addr = htonl(0x7F000001U);
    CHECK(Endpoint::from_sockaddr(address) == Endpoint{Ipv4Address::loopback(), 8080});
}

TEST_CASE("Endpoint from_sockaddr rejects a family other than AF_INET",
          "[docs/labs/01-endpoints.md#step-6-convert-to-and-from-sockaddr_in]") {
    sockaddr_in address{};
    address.sin_family = AF_INET6;
    REQUIRE_THROWS_MATCHES(Endpoint::from_sockaddr(address), std::invalid_argument,
                           MessageContains({"AF_INET"}));
}
