// Running one built lab (run.cpp): its test cases, each alone with a deadline and its verdict from
// Catch2's XML report, and its conversation scripts, all in the sandbox and within the lab's and
// the submission's time budgets. The items land in the Lab, unscored (score.hpp).
#pragma once

#include "grade.hpp"
#include "model.hpp"
#include "rubric.hpp"
#include "stage.hpp"

#include <filesystem>

namespace socklab::grade {

// Runs the lab's tests and scripts from the programs in bin, adding their items to lab. With
// own_network (the calling thread is in a network namespace of its own, which the programs share),
// each script's loopback is captured, so that a failed check's report shows the wire and
// expect-fin checks the FIN on it, as socklab-script does for the student; never on the machine's
// own loopback, whose other traffic is not the grader's to read.
void run_lab(const Context& ctx, const ManifestLab& m, const LabRubric& lr, Lab& lab,
             const std::filesystem::path& bin, bool own_network);

// Where the lab's tests and programs work: a fresh folder in the sandbox, or without one a folder
// on disk beside bin, which the caller removes after the lab.
[[nodiscard]] inline std::filesystem::path scratch(const std::filesystem::path& bin) {
    return bin.parent_path() / "scratch";
}

} // namespace socklab::grade
