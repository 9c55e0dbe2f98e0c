// The grader's contract with every lab's test program (tools/grade/run.cpp), on whichever
// Catch2 the machine has: test names that need escaping in a test spec, a docs tag, and one test
// that fails so the shared main's listener prints its "read:" line. catch_cli_test.py runs it.
#include "socklab/testkit/catch_support.hpp"

TEST_CASE("probe a plain name passes", "[docs/reference/testkit.md#the-sigpipe-tripwire]") {
    CHECK(true);
}

TEST_CASE("probe a name with, a comma passes", "[docs/reference/testkit.md#the-sigpipe-tripwire]") {
    CHECK(true);
}

TEST_CASE("probe a name with [brackets] passes") {
    CHECK(true);
}

TEST_CASE("probe a name with a \\ backslash and a * star passes") {
    CHECK(true);
}

TEST_CASE("~probe a name that starts with a tilde passes") {
    CHECK(true);
}

TEST_CASE("probe a failing test names its docs section",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    REQUIRE_THAT(socklab::testkit::Bytes("a\r\n"), socklab::testkit::EqualsBytes("a\n"));
}
