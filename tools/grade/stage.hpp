// What every stage of one grade shares (intake, build, run, score, and the batch around them):
// the Context the Grader (grade.cpp) makes for one submission and hands to each stage, the error
// that means the instructor's tree failed rather than the submission, and a few small helpers.
// Internal to the grader: grade.hpp is its interface.
#pragma once

#include "grade.hpp"
#include "rubric.hpp"
#include "sandbox.hpp"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace socklab::grade {

// The instructor's tree failed (it does not configure or build), not a submission: a batch stops.
class TreeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The group of a test whose docs tag is no [[lab.group]]'s section (check_rubric_names stops).
inline const std::string kNoGroup = "(in no group of the rubric)";

// Now, as 2024-01-31T12:00:00Z.
[[nodiscard]] std::string now_utc();

// The whole content of a file ("" when it cannot be read): the sandbox's reader.
using sandbox::read_text;

// Context: what the stages of one grade share. The Grader makes it for one submission and fills
// it in as it sets up the sandbox and starts the clock (build_phase); the stages (build.hpp,
// run.hpp) only read it.
struct Context {
    Context(const GradeOptions& options, const Rubric& rubric);

    const GradeOptions& options;
    const Rubric& rubric;
    std::filesystem::path root;  // the instructor's tree
    std::filesystem::path work;  // the work folder
    std::filesystem::path build; // WORK/build: the grading build, reused from one grade to the next
    std::filesystem::path files; // WORK/files: the submission's files, taken (intake.hpp)
    // The user the submission's programs and compiler run as (lease.hpp), -1: the grader's own.
    // Fixed once the sandbox is set up.
    int uid = -1;
    std::string sandbox_why_not;      // "" when bubblewrap works here (set_up_sandbox)
    std::vector<std::string> cgroups; // the submission's cgroup folders, or none (per-process limits)
    std::chrono::steady_clock::time_point submission_deadline; // the rubric's submission_timeout_seconds

    // How a step of this submission runs: inside bubblewrap where it works here (as the grading
    // user, under the submission's cgroup), seeing the system and the given code (labs/)
    // read-only, plus binds. Nothing else of the machine exists there: not files/ as a whole (in
    // a batch it may hold the next student's files while this one's tests run).
    [[nodiscard]] sandbox::Policy policy(std::vector<sandbox::Bind> binds) const;

    // What is left of the submission's wall-clock cap (the rubric's submission_timeout_seconds).
    [[nodiscard]] std::chrono::milliseconds submission_left() const;

    // Why what the cap left no time for was not run (an item's reason).
    [[nodiscard]] std::string submission_cut() const;
};

// Between one grade and a batch (batch.cpp). Grades one submission beside others: the build,
// which the work folder holds once, takes turns under build_mutex; then the programs are copied
// to run_dir, where the tests and scripts run while the next submission builds (Grader::run_shared,
// grade.cpp).
[[nodiscard]] Grade grade_shared(const GradeOptions& options, const Rubric& rubric, std::mutex& build_mutex,
                                 const std::filesystem::path& run_dir);

// Copies the programs of folder from into folder to (made), keeping their modes.
void copy_programs(const std::filesystem::path& from, const std::filesystem::path& to);

} // namespace socklab::grade
