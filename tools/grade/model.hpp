// The grader's result model: what it observed, and the points it gave. Only the grader writes
// it (never parsed from what a submission prints); every report is made from it. Its JSON form
// is documented in docs/reference/grader.md.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace socklab::grade {

enum class Status { Passed, Failed, Error, Skipped };

// "passed", "failed", "error" (a timeout, a crash, a limit), "skipped" (the machine cannot run it)
[[nodiscard]] const char* status_name(Status status);

// One unit test case or one script check.
struct Item {
    std::string name;
    std::string kind;  // "test" or "check"
    std::string group; // the rubric group (a step of the lab, or the lab's scripts)
    Status status = Status::Failed;
    double score = 0;
    double max_score = 0;
    bool hidden = false;
    double seconds = 0;
    std::string reason;     // one line: why it did not pass
    std::string output;     // what the test printed, or the script's transcript (bounded)
    std::string docs;       // the docs section to read
    std::string replay;     // the command that runs it again
    std::uint64_t seed = 0; // a check: the seed its script ran with (send-random); 0 for a test
};

struct Group {
    std::string name;
    double score = 0;
    double max_score = 0;
    int passed = 0;
    int counted = 0; // items that count (skipped ones do not)
};

struct Lab {
    std::string id;
    std::string folder;
    std::string title;
    std::string build = "ok";         // "ok", "compile error", "not graded"
    std::string build_log;            // the compiler's first errors
    std::vector<std::string> missing; // student-owned files the submission lacked (the skeleton's were used)
    std::vector<std::string> extra;   // files beside them that the grader ignored
    double score = 0;
    double max_score = 0;
    std::vector<Group> groups;
    std::vector<Item> items;
    std::string read_first; // the docs section to read before anything else
};

struct Grade {
    std::string student;
    std::string submission;
    bool cumulative = false;
    std::uint64_t seed = 0; // --seed, given to every script; 0: each ran with its own
    std::string started;
    std::string finished;
    double build_seconds = 0; // placing the files, configuring and building the graded labs
    double run_seconds = 0;   // running their tests and scripts
    double score = 0;
    double max_score = 0;
    std::vector<Lab> labs;
    std::vector<std::string> notes; // what the grader could not do on this machine, etc.
};

[[nodiscard]] nlohmann::json to_json(const Grade& grade);
[[nodiscard]] Grade grade_from_json(const nlohmann::json& json);

// Text that is safe in JSON and XML: valid UTF-8 is kept, tab/newline/CR kept, every other
// control byte and every byte of an invalid sequence becomes \xHH.
[[nodiscard]] std::string clean_text(const std::string& bytes);

} // namespace socklab::grade
