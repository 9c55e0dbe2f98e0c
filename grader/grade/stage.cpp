// What every stage of one grade shares (stage.hpp): the Context's policy and time cap, and the
// small helpers.
#include "stage.hpp"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace socklab::grade {

std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

Context::Context(const GradeOptions& options, const Rubric& rubric)
    : options(options), rubric(rubric), root(fs::absolute(options.root)), work(fs::absolute(options.work)),
      build(work / "build"), files(work / "files") {}

sandbox::Policy Context::policy(std::vector<sandbox::Bind> binds) const {
    sandbox::Policy p;
    p.enabled = sandbox_why_not.empty();
    p.privileged = ::geteuid() == 0;
    p.uid = uid;
    p.limits = true;
    p.max_processes = rubric.max_processes;
    p.cgroups = cgroups;
    p.binds = {{(root / "labs").string(), false}};
    p.binds.insert(p.binds.end(), binds.begin(), binds.end());
    return p;
}

std::chrono::milliseconds Context::submission_left() const {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(submission_deadline -
                                                                          std::chrono::steady_clock::now()));
}

std::string Context::submission_cut() const {
    return "not run: the submission's time cap (" +
           std::to_string(static_cast<long long>(rubric.submission_timeout_seconds)) +
           " s, the rubric's submission_timeout_seconds) ran out";
}

} // namespace socklab::grade
