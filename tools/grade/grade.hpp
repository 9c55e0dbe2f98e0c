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
    bool hidden = true;                // run instructor/hidden/ too
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

// A class: every subfolder of a batch folder is one student's submission, named after it.
struct BatchOptions {
    std::string folder;
    int jobs = 2; // submissions graded at once (their builds take turns; their tests overlap)
    // A grade kept from an earlier, interrupted run (nothing: grade it).
    std::function<std::optional<Grade>(const std::string& student)> done_before;
    // Called, one at a time, as each submission's grade is ready (in completion order).
    std::function<void(const Grade& grade, std::size_t done, std::size_t total)> finished;
};

// The names of the submissions in a batch folder, sorted.
[[nodiscard]] std::vector<std::string> batch_students(const std::string& folder);

// Grades every submission of a batch; base gives everything but the submission and the student.
// Returns the grades in the order of batch_students().
[[nodiscard]] std::vector<Grade> grade_batch(const GradeOptions& base, const Rubric& rubric,
                                             const BatchOptions& batch);

} // namespace socklab::grade
