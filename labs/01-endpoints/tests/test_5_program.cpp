// Lab 01: the program lab01-endpoint, run as a person would run it.
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/process.hpp"

#include <string>

using socklab::testkit::program_path;
using socklab::testkit::run_program;

namespace {

socklab::testkit::RunResult lab01_endpoint(const std::vector<std::string>& args) {
    return run_program(program_path("lab01-endpoint"), args);
}

} // namespace

TEST_CASE("lab01-endpoint parse reports port 5 of 192.168.1.169:5 as well-known",
          "[docs/labs/01-endpoints.md#try-it-by-hand]") {
    const auto run = lab01_endpoint({"parse", "192.168.1.169:5"});
    INFO("stderr: " << run.err);
    REQUIRE(run.status.describe() == "exit code 0");
    CHECK_THAT(run.out, Catch::Contains("5 (well-known"));
}

TEST_CASE("lab01-endpoint parse reports the address class", "[docs/labs/01-endpoints.md#try-it-by-hand]") {
    const auto run = lab01_endpoint({"parse", "192.168.1.169:5"});
    INFO("stderr: " << run.err);
    REQUIRE(run.status.describe() == "exit code 0");
    CHECK_THAT(run.out, Catch::Contains("192.168.1.169 (private)"));
}

TEST_CASE("lab01-endpoint parse shows the port bytes in network byte order",
          "[docs/labs/01-endpoints.md#try-it-by-hand]") {
    const auto run = lab01_endpoint({"parse", "127.0.0.1:8080"});
    INFO("stderr: " << run.err);
    REQUIRE(run.status.describe() == "exit code 0");
    CHECK_THAT(run.out, Catch::Contains("sin_port bytes 1f 90"));
}

TEST_CASE("lab01-endpoint parse exits 64 and quotes a malformed endpoint",
          "[docs/labs/01-endpoints.md#try-it-by-hand]") {
    const auto run = lab01_endpoint({"parse", "1.2.3.4:65536"});
    INFO("stdout: " << run.out);
    CHECK(run.status.describe() == "exit code 64");
    CHECK_THAT(run.err, Catch::Contains("\"1.2.3.4:65536\""));
}

TEST_CASE("lab01-endpoint resolve localhost prints 127.0.0.1 with the port",
          "[docs/labs/01-endpoints.md#try-it-by-hand]") {
    const auto run = lab01_endpoint({"resolve", "localhost", "8080"});
    INFO("stderr: " << run.err);
    REQUIRE(run.status.describe() == "exit code 0");
    CHECK_THAT(run.out, Catch::Contains("127.0.0.1:8080 (loopback)"));
}

TEST_CASE("lab01-endpoint resolve exits 64 on a malformed port",
          "[docs/labs/01-endpoints.md#try-it-by-hand]") {
    const auto run = lab01_endpoint({"resolve", "localhost", "http"});
    INFO("stdout: " << run.out);
    CHECK(run.status.describe() == "exit code 64");
    CHECK_THAT(run.err, Catch::Contains("\"http\""));
}
