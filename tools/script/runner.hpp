// The script runner: holds the conversation a script describes with the programs it starts, and
// reports each check with a transcript a student can act on.
#pragma once

#include "process.hpp"
#include "script.hpp"

#include "socklab/wire/capture.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace socklab::script {

struct RunOptions {
    std::string bin_dir = ".";         // where programs named without a / are found
    std::optional<std::uint64_t> seed; // overrides the script's seed
    double time_scale = 1.0;           // multiplies every deadline (sanitizer builds are slower)
    std::map<std::string, int> attach; // server name -> port of a server started by hand
    std::vector<std::string> replay;   // the command that replays this run (without --seed)
    bool stable = false;               // no times or ports in the output (for golden tests)
    // How the programs the script starts are confined (the grader sets it: limits, a user, hidden
    // folders). Off by default: a sanitizer build's shadow memory needs far more address space
    // than any sane limit.
    Confinement confinement;
    // The capture of the loopback the programs use (socklab-script starts one in a network
    // namespace of its own, docs/reference/wire.md): a failed check's report then shows its
    // connections' segments. Null: no wire view, and wire_unavailable says why (if it is known).
    socklab::wire::Capture* capture = nullptr;
    std::string wire_unavailable;
};

struct CheckResult {
    std::string name;
    int points = 0;
    bool hidden = false;
    bool passed = false;
    double seconds = 0;  // how long its steps took (the set-up counts for the first check)
    std::string summary; // one line: why it failed
    std::string report;  // the full failure report: expectation, caret, hint, transcript, replay
};

struct RunResult {
    std::uint64_t seed = 0;
    std::vector<CheckResult> checks;
    [[nodiscard]] bool passed() const;
};

// Runs a script and writes its progress and every failure's report to out.
[[nodiscard]] RunResult run_script(const Script& script, const RunOptions& options, std::ostream& out);

} // namespace socklab::script
