// What every stage of one grade shares (stage.hpp): the Context's policy and time cap, and the
// small helpers.
#include "stage.hpp"

#include "fd.hpp"
#include "process.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <system_error>

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

// Copies the programs of folder from into folder to (made), keeping their modes. Each file is
// open for writing only under script::fork_lock() held exclusively, and close-on-exec, so that no
// child forked meanwhile keeps it open (running it would then fail with ETXTBSY).
void copy_programs(const fs::path& from, const fs::path& to) {
    fs::create_directories(to);
    for (const auto& entry : fs::directory_iterator(from)) {
        const fs::path target = to / entry.path().filename();
        if (entry.is_directory()) {
            copy_programs(entry.path(), target);
            continue;
        }
        if (!entry.is_regular_file()) {
            continue;
        }
        const sandbox::Fd in(::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC));
        if (!in) {
            throw std::system_error(errno, std::generic_category(), "open " + entry.path().string());
        }
        struct stat st = {};
        (void)::fstat(in.get(), &st);
        const std::unique_lock writing(script::fork_lock());
        const sandbox::Fd out(
            ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777));
        if (!out) {
            throw std::system_error(errno, std::generic_category(), "create " + target.string());
        }
        off_t offset = 0;
        while (offset < st.st_size) {
            const ssize_t n =
                ::sendfile(out.get(), in.get(), &offset, static_cast<std::size_t>(st.st_size - offset));
            if (n <= 0) {
                throw std::system_error(n < 0 ? errno : EIO, std::generic_category(),
                                        "copy to " + target.string());
            }
        }
        (void)::fchmod(out.get(), st.st_mode & 07777);
    }
}

} // namespace socklab::grade
