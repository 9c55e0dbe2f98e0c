// socklab-grade: grades a submission (by default the bundled reference solutions) against the
// lab tests, the conversation scripts and the hidden scripts, and writes its reports.
// docs/reference/grader.md describes every option; instructor/docs/grading.md the workflow.
#include "grade.hpp"
#include "reports.hpp"
#include "rubric.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

namespace fs = std::filesystem;

namespace {

// Where --out-dir puts each format.
const std::map<std::string, std::string> kFileNames = {
    {"text", "report.txt"},         {"json", "report.json"},         {"junit", "junit.xml"},
    {"gradescope", "results.json"}, {"classroom", "classroom.json"}, {"csv", "grades.csv"}};

std::string render(const std::string& format, const socklab::grade::Grade& grade, bool colour) {
    using namespace socklab::grade;
    if (format == "text") {
        return text_report(grade, TextStyle{colour, true});
    }
    if (format == "json") {
        return json_report(grade);
    }
    if (format == "junit") {
        return junit_report(grade);
    }
    if (format == "gradescope") {
        return gradescope_report(grade);
    }
    if (format == "classroom") {
        return classroom_report(grade);
    }
    return csv_header(grade) + csv_row(grade);
}

// The folder's own name, also for "." or "dir/".
std::string options_submission_name(const std::string& folder) {
    std::string path = fs::absolute(folder).lexically_normal().string();
    while (path.size() > 1 && path.back() == '/') {
        path.pop_back();
    }
    return path;
}

// --batch: one folder of reports per student in out_dir, and out_dir/grades.csv, rewritten as each
// grade is ready. A student whose report.json is already there is not graded again (so a batch
// that was interrupted goes on where it stopped); remove that folder to grade them again.
int grade_class(socklab::grade::GradeOptions options, const socklab::grade::Rubric& rubric,
                const std::string& folder, int jobs, const std::string& out_dir,
                const std::vector<std::string>& formats, bool require_full) {
    namespace g = socklab::grade;
    options.jobs = 1; // the submissions run side by side; each runs its tests one at a time
    std::vector<g::Grade> ready;
    std::size_t kept_count = 0;
    const auto started = std::chrono::steady_clock::now();
    g::BatchOptions batch;
    batch.folder = folder;
    batch.jobs = jobs;
    batch.done_before = [&](const std::string& student) -> std::optional<g::Grade> {
        const fs::path report = fs::path(out_dir) / student / "report.json";
        std::ifstream in(report);
        if (!in) {
            return std::nullopt;
        }
        try {
            return g::grade_from_json(nlohmann::json::parse(in));
        } catch (const std::exception&) {
            return std::nullopt; // unreadable: grade again
        }
    };
    batch.finished = [&](const g::Grade& grade, std::size_t done, std::size_t total) {
        const fs::path dir = fs::path(out_dir) / grade.student;
        const bool kept = fs::exists(dir / "report.json");
        kept_count += kept ? 1 : 0;
        if (!kept) {
            for (const auto& f : formats) {
                if (f != "json" && f != "csv") {
                    g::write_atomically((dir / kFileNames.at(f)).string(), render(f, grade, false));
                }
            }
            g::write_atomically((dir / "report.json").string(), g::json_report(grade)); // last: marks it done
        }
        ready.push_back(grade);
        std::sort(ready.begin(), ready.end(),
                  [](const auto& a, const auto& b) { return a.student < b.student; });
        std::string csv = g::csv_header(ready.front());
        for (const auto& r : ready) {
            csv += g::csv_row(r);
        }
        g::write_atomically((fs::path(out_dir) / "grades.csv").string(), csv);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::cerr << "[" << done << "/" << total << "] " << grade.student << ": " << grade.score << " / "
                  << grade.max_score << (kept ? "   (kept: its report was already there)" : "") << "   ("
                  << static_cast<int>(seconds) << " s so far)\n";
    };
    const auto grades = g::grade_batch(options, rubric, batch);
    const std::size_t graded = grades.size() - kept_count;
    std::cout << "graded " << graded << (graded == 1 ? " submission" : " submissions")
              << (kept_count > 0 ? " (and kept " + std::to_string(kept_count) + " from an earlier run)" : "")
              << " into " << out_dir << " (gradebook: " << (fs::path(out_dir) / "grades.csv").string()
              << ")\n";
    const bool all_full = std::all_of(grades.begin(), grades.end(),
                                      [](const g::Grade& x) { return x.score >= x.max_score - 0.005; });
    return require_full && !all_full ? 1 : 0;
}

} // namespace

int main(int argc, char* argv[]) try {
    std::signal(SIGPIPE, SIG_IGN); // scripts write to sockets whose peers may be gone
    CLI::App app{"Grades socklab submissions (instructor/docs/grading.md)", "socklab-grade"};
    std::string root = SOCKLAB_SOURCE_DIR;
    std::string submission;
    std::string student;
    std::string labs;
    std::string work;
    std::string rubric_path;
    std::vector<std::string> formats;
    std::string out;
    std::string out_dir;
    std::string colour = "auto";
    bool cumulative = false;
    bool no_hidden = false;
    bool require_full = false;
    std::uint64_t seed = 0;
    int jobs = 2;
    app.add_option("--submission", submission, "the folder to grade (default: the reference solutions)");
    app.add_option("--student", student, "the student's name in the reports (default: the folder's name)");
    app.add_option("--labs", labs, "the labs to grade, as 02,04 (default: all)");
    app.add_flag("--cumulative", cumulative, "build lab N on the student's own labs below it");
    app.add_flag("--no-hidden", no_hidden, "leave out the hidden scripts");
    auto* seed_option =
        app.add_option("--seed", seed, "run every script with this seed (default: each script's)");
    app.add_option("--format", formats,
                   "text, json, junit, gradescope, classroom, csv (several with --out-dir)")
        ->check(CLI::IsMember({"text", "json", "junit", "gradescope", "classroom", "csv"}));
    app.add_option("--out", out, "write the one --format to this file (default: the terminal)");
    app.add_option("--out-dir", out_dir, "write every --format (default: all) into this folder");
    app.add_option("--color", colour, "colour in the text report: auto, always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    app.add_option("--root", root, "the instructor's tree (default: the one this grader was built from)");
    app.add_option("--work", work, "the work folder, whose build is reused (default: ROOT/build-grade)");
    app.add_option("--rubric", rubric_path, "the rubric (default: ROOT/tools/grade/rubric.toml)");
    std::string batch;
    app.add_option("--batch", batch,
                   "grade every subfolder of this folder, one student each (needs --out-dir)");
    app.add_option("--jobs", jobs, "with --batch: submissions graded at once; else: test cases run at once")
        ->check(CLI::Range(1, 64));
    app.add_flag("--require-full", require_full, "exit 1 unless every point is earned (for CI)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 64;
    }
    if (!batch.empty() && (out_dir.empty() || !out.empty() || !submission.empty())) {
        std::cerr
            << "socklab-grade: --batch DIR writes into --out-dir DIR (one folder per student), and takes no "
               "--out or --submission\n";
        return 64;
    }
    if (!out.empty() && !out_dir.empty()) {
        std::cerr << "socklab-grade: give --out FILE or --out-dir DIR, not both\n";
        return 64;
    }
    if (!out.empty() && formats.size() > 1) {
        std::cerr << "socklab-grade: --out takes one --format; for several use --out-dir\n";
        return 64;
    }
    root = fs::absolute(root).lexically_normal().string();
    socklab::grade::GradeOptions options;
    options.root = root;
    options.submission =
        fs::absolute(submission.empty() ? root + "/solutions" : submission).lexically_normal().string();
    if (options.submission.size() > 1 && options.submission.back() == '/') {
        options.submission.pop_back();
    }
    options.student = !student.empty() ? student
                      : submission.empty()
                          ? "reference solutions"
                          : fs::path(options_submission_name(submission)).filename().string();
    options.cumulative = cumulative;
    options.hidden = !no_hidden;
    options.work = work.empty() ? root + "/build-grade" : work;
    options.jobs = jobs;
    if (seed_option->count() > 0) {
        options.seed = seed;
    }
    for (std::size_t at = 0; at < labs.size();) {
        const auto comma = labs.find(',', at);
        std::string id = labs.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        if (id.size() == 1) {
            id.insert(0, "0");
        }
        options.labs.push_back(id);
        at = comma == std::string::npos ? labs.size() : comma + 1;
    }
    const bool to_terminal = out.empty() && out_dir.empty();
    if (formats.empty()) {
        if (to_terminal || !out.empty()) {
            formats = {"text"};
        } else {
            formats = {"text", "json", "junit", "gradescope", "classroom", "csv"};
        }
    }
    // Gradescope reads results.json whatever happens: leave a valid one before anything can fail.
    const auto destination = [&](const std::string& format) {
        return !out.empty() ? out : (fs::path(out_dir) / kFileNames.at(format)).string();
    };
    for (const auto& f : formats) {
        if (f == "gradescope" && !to_terminal && batch.empty()) {
            socklab::grade::write_atomically(
                destination(f), socklab::grade::gradescope_fallback("it did not get to write results"));
        }
    }
    if (!batch.empty() && !fs::is_directory(batch)) {
        std::cerr << "socklab-grade: the batch " << batch << " is not a folder\n";
        return 66;
    }
    if (!fs::is_directory(options.submission)) {
        std::cerr << "socklab-grade: the submission " << options.submission << " is not a folder\n";
        return 66;
    }
    {
        const auto manifest = socklab::grade::read_manifest(root);
        for (const auto& id : options.labs) {
            if (std::none_of(manifest.begin(), manifest.end(), [&](const auto& m) { return m.id == id; })) {
                std::cerr << "socklab-grade: --labs names lab " << id
                          << ", which labs/manifest.txt does not list\n";
                return 64;
            }
        }
    }
    const bool verbose = ::isatty(STDERR_FILENO) != 0;
    options.progress = [&](const std::string& line) {
        if (verbose) {
            std::cerr << "socklab-grade: " << line << "\n";
        }
    };
    const auto rubric =
        socklab::grade::load_rubric(rubric_path.empty() ? root + "/tools/grade/rubric.toml" : rubric_path);
    if (!batch.empty()) {
        return grade_class(options, rubric, batch, jobs, out_dir, formats, require_full);
    }
    const auto grade = socklab::grade::grade(options, rubric);
    // Colour goes to stdout when it is a terminal (or --color always), never into a file.
    const bool colour_on = colour == "always" || (colour == "auto" && ::isatty(STDOUT_FILENO) != 0);
    for (const auto& f : formats) {
        const std::string text = render(f, grade, colour_on && to_terminal && f == "text");
        if (to_terminal) {
            std::cout << text;
        } else {
            socklab::grade::write_atomically(destination(f), text);
        }
    }
    if (!to_terminal) {
        std::cout << socklab::grade::text_report(grade, {colour_on, false});
    }
    return require_full && grade.score < grade.max_score - 0.005 ? 1 : 0;
} catch (const std::exception& e) {
    std::cerr << "socklab-grade: " << e.what() << "\n";
    return 70;
}
