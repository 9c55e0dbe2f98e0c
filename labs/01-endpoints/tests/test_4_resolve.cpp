// Lab 01: resolving a host name (docs/labs/01-endpoints.md, step 7).
//
// Only "localhost" is ever resolved for real: any other name would send a DNS query off the
// machine. The failure case runs inside a private network namespace, where no query can leave.
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/check.hpp"
#include "socklab/resolve.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/child.hpp"
#include "socklab/testkit/endpoint_printing.hpp"

#include <malloc.h>
#include <netdb.h>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <system_error>

using socklab::Endpoint;
using socklab::Ipv4Address;
using socklab::resolve;
using socklab::testkit::MessageContains;

namespace {

// A name in the .invalid top-level domain (RFC 2606), which never exists. It is resolved only
// inside a private network namespace, where the DNS query cannot leave the machine.
constexpr const char* kNameThatDoesNotExist = "socklab-no-such-host.invalid";

// Resolves kNameThatDoesNotExist in a private network namespace and describes what came back:
// "error <category> <what()>", "endpoints N", or "other exception: ...".
socklab::testkit::ChildOutcome resolve_nonexistent_name_privately() {
    return socklab::testkit::run_in_private_netns([]() -> std::string {
        try {
            const auto endpoints = resolve(kNameThatDoesNotExist, 80);
            return "endpoints " + std::to_string(endpoints.size());
        } catch (const std::system_error& e) {
            return std::string("error ") + e.code().category().name() + " " + e.what();
        }
    });
}

} // namespace

TEST_CASE("resolve finds 127.0.0.1 for localhost", "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    CHECK_THAT(resolve("localhost", 80), Catch::VectorContains(Endpoint{Ipv4Address::loopback(), 80}));
}

TEST_CASE("resolve puts the requested port on every endpoint",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    const auto endpoints = resolve("localhost", 20000);
    REQUIRE_FALSE(endpoints.empty());
    for (const auto& endpoint : endpoints) {
        CHECK(endpoint.port == 20000);
    }
}

TEST_CASE("resolve returns each endpoint once however many socket types the resolver knows",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    const auto endpoints = resolve("localhost", 80);
    CAPTURE(endpoints);
    REQUIRE_FALSE(endpoints.empty());
    auto once = endpoints;
    std::sort(once.begin(), once.end());
    once.erase(std::unique(once.begin(), once.end()), once.end());
    CHECK(endpoints.size() == once.size()); // the endpoints, each once, are captured above
}

TEST_CASE("resolve returns a dotted-decimal address as it is",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    const auto endpoints = resolve("127.0.0.1", 443);
    REQUIRE(endpoints.size() == 1);
    CHECK(endpoints[0] == Endpoint{Ipv4Address::loopback(), 443});
}

TEST_CASE("resolve frees the list getaddrinfo returns on every call",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    // The first calls load the resolver's modules and settings, which stay for good.
    for (int i = 0; i < 10; ++i) {
        (void)resolve("localhost", 80);
    }
    constexpr std::size_t kCalls = 1000;
    const std::size_t before = ::mallinfo2().uordblks;
    for (std::size_t i = 0; i < kCalls; ++i) {
        (void)resolve("localhost", 80);
    }
    const std::size_t after = ::mallinfo2().uordblks;
    // A list never freed is at least one addrinfo per call: the heap would have grown by more.
    const std::size_t grown = after > before ? after - before : 0;
    INFO("the heap grew by " << grown << " bytes over " << kCalls << " calls of resolve(\"localhost\", 80)");
    CHECK(grown < kCalls * sizeof(addrinfo));
}

TEST_CASE("resolve reads only the characters of its host, not what follows them in memory",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    // The host is the view "localhost" at the start of "localhost.invalid", which has no NUL after
    // its ninth character. A lookup of all of it fails; it runs in a private network namespace, so
    // that no DNS query can leave the machine.
    const auto outcome = socklab::testkit::run_in_private_netns([]() -> std::string {
        const std::string text = "localhost.invalid";
        try {
            const auto endpoints = resolve(std::string_view(text).substr(0, 9), 80);
            const bool found = std::find(endpoints.begin(), endpoints.end(),
                                         Endpoint{Ipv4Address::loopback(), 80}) != endpoints.end();
            return found ? "127.0.0.1:80 among " + std::to_string(endpoints.size()) + " endpoints"
                         : std::to_string(endpoints.size()) + " endpoints, not 127.0.0.1:80";
        } catch (const std::exception& e) {
            return std::string("exception: ") + e.what();
        }
    });
    if (!outcome.ran) {
        SOCKLAB_SKIP("no private network namespace can be made here, so no name but localhost may "
                     "be resolved: " +
                     outcome.reason);
    }
    CHECK_THAT(outcome.result, Catch::StartsWith("127.0.0.1:80 among "));
}

TEST_CASE("resolve rejects a numeric host with a leading zero instead of reading it as octal",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    REQUIRE_THROWS_MATCHES(resolve("010.0.0.1", 80), std::invalid_argument,
                           MessageContains({"\"010.0.0.1\"", "leading zero"}));
}

TEST_CASE("resolve rejects a numeric host with fewer than four parts",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    REQUIRE_THROWS_MATCHES(resolve("127.1", 80), std::invalid_argument, MessageContains({"\"127.1\""}));
}

TEST_CASE("resolve rejects an empty host name", "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    REQUIRE_THROWS_MATCHES(resolve("", 80), std::invalid_argument, MessageContains({"\"\""}));
}

TEST_CASE("resolve reports a name that cannot be resolved as a resolver error",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    const auto outcome = resolve_nonexistent_name_privately();
    if (!outcome.ran) {
        SOCKLAB_SKIP("no private network namespace can be made here, so no name but localhost may "
                     "be resolved: " +
                     outcome.reason);
    }
    CHECK_THAT(outcome.result, Catch::StartsWith("error resolver "));
}

TEST_CASE("resolve names the host in the message of a resolver error",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    const auto outcome = resolve_nonexistent_name_privately();
    if (!outcome.ran) {
        SOCKLAB_SKIP("no private network namespace can be made here, so no name but localhost may "
                     "be resolved: " +
                     outcome.reason);
    }
    CHECK_THAT(outcome.result, Catch::Contains(std::string("\"") + kNameThatDoesNotExist + "\""));
}
