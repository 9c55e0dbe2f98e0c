// A test's verdict from Catch2's XML reporter (v2 and v3 write the same elements), read with
// pugixml: the grader never decides from the console text, which differs between versions and
// which the code under test can print itself.
#pragma once

#include <string>
#include <vector>

namespace socklab::grade {

// The arguments that run the one test named name with the XML reporter writing to descriptor 3.
[[nodiscard]] std::vector<std::string> catch_run_args(const std::string& name);

struct CatchResult {
    bool finished = false; // the report holds the test's OverallResult: the test ran to its end
    bool success = false;  // and it passed
    std::string reason;    // one line: the first failure (the failed expression, the exception)
    std::string text;      // every failure with its place and expansion, for the report's output
};

// Reads the XML report of a run of the one test named name.
[[nodiscard]] CatchResult read_catch_report(const std::string& xml, const std::string& name);

} // namespace socklab::grade
