// Lab 01: resolving a host name (docs/labs/01-endpoints.md, step 7).
//
// Only "localhost" is ever resolved for real: any other name would send a DNS query off the
// machine. The failure case runs inside a private network namespace, where no query can leave.
#include "socklab/check.hpp"
#include "socklab/resolve.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/child.hpp"
#include "socklab/testkit/endpoint_printing.hpp"

#include <algorithm>
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
    auto sorted = endpoints;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
}

TEST_CASE("resolve returns a dotted-decimal address as it is",
          "[docs/labs/01-endpoints.md#step-7-resolve-a-name]") {
    const auto endpoints = resolve("127.0.0.1", 443);
    REQUIRE(endpoints.size() == 1);
    CHECK(endpoints[0] == Endpoint{Ipv4Address::loopback(), 443});
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
