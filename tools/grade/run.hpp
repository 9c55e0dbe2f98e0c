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

// Runs the lab's tests and scripts from the programs in bin, adding their items to lab.
void run_lab(const Context& ctx, const ManifestLab& m, const LabRubric& lr, Lab& lab,
             const std::filesystem::path& bin);

// Where the lab's tests and programs work: a fresh folder in the sandbox, or without one a folder
// on disk beside bin, which the caller removes after the lab.
[[nodiscard]] inline std::filesystem::path scratch(const std::filesystem::path& bin) {
    return bin.parent_path() / "scratch";
}

} // namespace socklab::grade
