// Grading a class: every subfolder of a batch folder is one submission, graded by --jobs workers
// at once in one work folder (grade_shared: their builds take turns, their tests overlap). A
// submission that breaks the grader scores 0 with the reason and the class goes on; a failure
// of the instructor's tree (TreeError) stops the batch.
#include "grade.hpp"
#include "lease.hpp"
#include "process.hpp"
#include "stage.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

namespace fs = std::filesystem;

namespace socklab::grade {

std::vector<std::string> batch_students(const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.is_directory() && !entry.is_symlink() && entry.path().filename().string()[0] != '.') {
            names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<Grade> grade_batch(const GradeOptions& base, const Rubric& rubric, const BatchOptions& batch) {
    const auto names = batch_students(batch.folder);
    const fs::path work = fs::absolute(base.work);
    const WorkLock lock(work, base.progress);
    std::vector<Grade> grades(names.size());
    std::mutex build_mutex;
    std::mutex report_mutex;
    std::atomic<std::size_t> next{0};
    std::size_t done = 0;
    std::exception_ptr grader_failure;
    const auto worker = [&] {
        for (std::size_t i = next++; i < names.size(); i = next++) {
            std::optional<Grade> kept = batch.done_before ? batch.done_before(names[i]) : std::nullopt;
            if (!kept) {
                GradeOptions options = base;
                options.submission = (fs::absolute(batch.folder) / names[i]).lexically_normal().string();
                options.student = names[i];
                try {
                    kept = grade_shared(options, rubric, build_mutex, work / "runs" / names[i]);
                } catch (const TreeError&) {
                    // The instructor's tree failed, not the submission: stop, keep what is done.
                    const std::lock_guard<std::mutex> guard(report_mutex);
                    grader_failure = std::current_exception();
                    next = names.size();
                    return;
                } catch (const std::exception& e) {
                    // This submission broke the grader itself: it scores 0 with the reason (every
                    // graded lab listed, so the gradebook keeps its columns), and the class goes on.
                    Grade failed;
                    failed.student = names[i];
                    failed.submission = options.submission;
                    failed.started = failed.finished = now_utc();
                    failed.notes.push_back(std::string("the grader failed on this submission: ") + e.what());
                    for (const auto& m : read_manifest(options.root)) {
                        const LabRubric* lr = rubric.lab(m.id);
                        if (lr == nullptr ||
                            (!options.labs.empty() && std::find(options.labs.begin(), options.labs.end(),
                                                                m.id) == options.labs.end())) {
                            continue;
                        }
                        Lab lab;
                        lab.id = m.id;
                        lab.folder = m.folder;
                        lab.title = lr->title;
                        lab.build = "grader failed";
                        lab.build_log = e.what();
                        for (const auto& g : lr->groups) {
                            lab.max_score += g.points;
                        }
                        lab.max_score += lr->visible_scripts + (options.hidden ? lr->hidden_scripts : 0);
                        failed.max_score += lab.max_score;
                        failed.labs.push_back(std::move(lab));
                    }
                    kept = std::move(failed);
                }
            }
            const std::lock_guard<std::mutex> guard(report_mutex);
            grades[i] = std::move(*kept);
            ++done;
            if (batch.finished) {
                batch.finished(grades[i], done, names.size());
            }
        }
    };
    {
        std::vector<std::jthread> workers;
        for (int j = 0; j < std::max(1, batch.jobs); ++j) {
            workers.emplace_back(worker);
        }
    }
    if (grader_failure) {
        std::rethrow_exception(grader_failure);
    }
    return grades;
}

} // namespace socklab::grade
