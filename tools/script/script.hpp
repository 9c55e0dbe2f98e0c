// A conversation script: what the runner reads from a .script file (see
// docs/reference/scripts.md for the language, with an example of every statement).
#pragma once

#include "statement.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace socklab::script {

using Duration = std::chrono::milliseconds;

// One statement of a script. `op` is the statement (statement.hpp); `subject` the connection or
// program it acts on, empty for statements that stand alone.
struct Step {
    int line = 0;     // line number in the script, for messages
    std::string text; // the statement as written, for the transcript
    Op op = Op::Pause;
    std::string subject;
    std::vector<std::string> words; // program and arguments (server/run), a target (connect)
    std::string data;               // bytes to send or expect, a regex, a docs section
    std::int64_t number = 0;        // fragment size, exit code, signal number, points
    std::int64_t number2 = 0;       // the upper fragment size of send-random
    Duration duration{0};           // pause, silence, gap between fragments
    std::optional<Duration> within; // the deadline of an expectation, when written
};

// A named check: the steps from its `check` statement up to the next one. Steps before the first
// check form the set-up; when the set-up fails, every check fails.
struct Check {
    std::string name;
    int line = 0;
    int points = 1;
    bool hidden = false;
    std::string docs; // the docs section a failure points to
    // More sections, when the check exercises the code of several steps: in the order its steps
    // reach that code, after `docs` (the first). A failure prints them as "then:" lines.
    std::vector<std::string> more_docs;
    bool docs_given = false; // docs was set by a `docs` statement of this check, not the script's
    std::size_t first = 0;   // index of its first step
    std::size_t end = 0;     // one past its last step
};

struct Script {
    std::string path;
    std::uint64_t seed = 1;
    Duration timeout{2000}; // the deadline of an expectation without `within`
    std::string docs;       // the section for failures outside any check
    std::vector<Step> steps;
    std::vector<Check> checks; // empty: the whole script is one check named after the file
    std::size_t setup_end = 0; // steps [0, setup_end) are the set-up
};

// A mistake in a script, with the file and line: "x.script:7: expect-line needs a string".
class ScriptError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses the text of a script; path is used in messages. Throws ScriptError.
[[nodiscard]] Script parse_script(const std::string& text, const std::string& path);

// Reads and parses a script file. Throws ScriptError (also when the file cannot be read).
[[nodiscard]] Script load_script(const std::string& path);

} // namespace socklab::script
