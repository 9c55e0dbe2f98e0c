// Grading one submission: take the student-owned files, build them into the instructor's tree
// (in a work folder whose build is reused), run each lab's tests and scripts, and score them.
#pragma once

#include "model.hpp"
#include "rubric.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace socklab::grade {

struct GradeOptions {
    std::string root;                  // the instructor's tree (with labs/manifest.txt)
    std::string submission;            // the folder to grade; its layout is detected
    std::string student;               // the name in reports
    std::vector<std::string> labs;     // ids to grade; empty: all
    bool cumulative = false;           // lab N on the student's own labs below it
    bool hidden = true;                // run grader/hidden/ too
    std::string work;                  // the work folder: files/, build/
    std::optional<std::uint64_t> seed; // overrides every script's seed
    int jobs = 2;                      // test cases run at once
    std::function<void(const std::string&)> progress = [](const std::string&) {};
};

// One line of labs/manifest.txt.
struct ManifestLab {
    std::string id;
    std::string folder;
    std::vector<std::string> files;
};

[[nodiscard]] std::vector<ManifestLab> read_manifest(const std::string& root);

// Grades a submission. Throws std::runtime_error when the grader itself cannot work (the
// instructor's tree does not build, say); a submission's failures are in the Grade.
[[nodiscard]] Grade grade(const GradeOptions& options, const Rubric& rubric);

} // namespace socklab::grade
