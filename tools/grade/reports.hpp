// The reports, all made from the grader's result model: text for a terminal, JSON, JUnit XML,
// Gradescope's results.json, GitHub Classroom's autograding result, and a CSV gradebook row.
#pragma once

#include "model.hpp"

#include <string>

namespace socklab::grade {

struct TextStyle {
    bool colour = false;
    bool details = true; // each failure with its output, hint and replay command
};

[[nodiscard]] std::string text_report(const Grade& grade, const TextStyle& style);
[[nodiscard]] std::string json_report(const Grade& grade);
[[nodiscard]] std::string junit_report(const Grade& grade);
[[nodiscard]] std::string gradescope_report(const Grade& grade);
// What Gradescope shows when the grader stopped before writing its real results.
[[nodiscard]] std::string gradescope_fallback(const std::string& why);
// The JSON that GitHub Classroom's autograding reporter reads (base64-encoded in a step output).
[[nodiscard]] std::string classroom_report(const Grade& grade);
[[nodiscard]] std::string csv_header(const Grade& grade);
[[nodiscard]] std::string csv_row(const Grade& grade);

// Writes text to path through a temporary file and a rename, so a reader never sees half a file.
void write_atomically(const std::string& path, const std::string& text);

} // namespace socklab::grade
