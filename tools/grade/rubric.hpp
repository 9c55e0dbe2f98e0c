// The rubric (tools/grade/rubric.toml): how many points each lab's groups of tests and its scripts
// are worth. Read with toml++; every mistake is reported with the file and line.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace socklab::grade {

// A group of unit tests: the test cases tagged with one docs section (one step of a lab).
struct TestGroup {
    std::string name;
    std::string section; // the tag, as in [docs/labs/02-server.md#step-1-bind-and-listen]
    double points = 0;
    int line = 0; // where the group starts in the rubric, for errors
};

struct LabRubric {
    std::string id;
    std::string title;
    std::vector<TestGroup> groups;
    double visible_scripts = 0; // points shared by the checks of labs/NN-*/scripts/, by their weights
    double hidden_scripts = 0;  // points shared by the checks of instructor/hidden/NN-*/
    std::map<std::string, double> check_weights; // "script/check name" -> weight (overrides the script's)
    std::map<std::string, std::string> ungraded; // test name -> why it earns no points
    std::map<std::string, int> lines;            // a weight's or an ungraded test's name -> its line
};

struct Rubric {
    std::string path;
    double test_timeout_seconds = 20;
    double build_timeout_seconds = 600; // building one lab with the submission's files
    double lab_timeout_seconds = 300;   // all of a lab's test cases; those not started by then are errors
    // After this many of a lab's test cases time out (counted in the tests' order), the rest of the
    // lab is not run. Unlike the wall-clock budget, where it cuts does not depend on the machine.
    int lab_max_timeouts = 15;
    // A whole submission (every lab's build, tests and scripts): what is not started by then is
    // "not run", with the reason. A submission that sleeps just under every deadline ends here.
    double submission_timeout_seconds = 1800;
    // All of a submission's processes together (a cgroup, where the machine allows one).
    int memory_mib = 2048;
    int max_processes = 256;
    // Functions a student's object may not call, unless the lab's reference code calls them too:
    // they end or control the process, which would let code under test fake a test's result.
    // Not syscall: libstdc++'s std::atomic::wait calls it from the lab's own object (lab 05).
    std::vector<std::string> refused_calls{
        "_exit",   "_Exit",       "exit",         "quick_exit", "at_quick_exit", "atexit", "on_exit",
        "ptrace",  "dlopen",      "dlsym",        "dlvsym",     "dlmopen",       "prctl",  "personality",
        "execve",  "execv",       "execvp",       "execvpe",    "execl",         "execlp", "execle",
        "fexecve", "posix_spawn", "posix_spawnp", "system",     "popen"};
    std::vector<LabRubric> labs;
    [[nodiscard]] const LabRubric* lab(const std::string& id) const;
};

class RubricError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads and checks a rubric file. Throws RubricError.
[[nodiscard]] Rubric load_rubric(const std::string& path);

} // namespace socklab::grade
