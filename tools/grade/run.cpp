// Running one built lab: the LabRun of a lab holds its confinement and its time budget while its
// test cases run (at most --jobs at once, the lab cut short after too many time-outs) and then its
// scripts (the visible ones, and the hidden ones with --hidden). Each test and check becomes an
// Item with its verdict, output, docs section and a command that replays it.
#include "run.hpp"

#include "bounded.hpp"
#include "build.hpp"
#include "catch_report.hpp"
#include "process.hpp"
#include "runner.hpp"
#include "script.hpp"
#include "socklab/wire/capture.hpp"

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fs = std::filesystem;

namespace socklab::grade {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) {
            out.push_back(line);
        }
    }
    return out;
}

// The docs section a failed test's output points to: a skeleton's "not implemented yet: ...
// (read docs/...)" first (what to write), else the "read:" line (what the behaviour is).
std::string docs_in(const std::string& output) {
    static const std::regex not_implemented(R"(not implemented yet: \S+ \(read (docs/[^)\s]+)\))");
    static const std::regex read_line(R"((?:^|\n)read: (docs/\S+))");
    std::smatch m;
    if (std::regex_search(output, m, not_implemented) || std::regex_search(output, m, read_line)) {
        return m[1];
    }
    return "";
}

// The state of one lab's run: what confines its programs, and its time budget.
class LabRun {
public:
    LabRun(const Context& ctx, bool own_network) : ctx_(ctx), own_network_(own_network) {}

    void run(const ManifestLab& m, const LabRubric& lr, Lab& lab, const fs::path& bin) {
        confinement_ = run_policy(m, bin);
        ctx_.options.progress("lab " + m.id + ": running the tests");
        run_tests(m, lr, lab, bin);
        ctx_.options.progress("lab " + m.id + ": running the scripts");
        run_scripts(m, lab, bin);
    }

private:
    // How the lab's tests and programs run: the sandbox sees the lab's test program, its programs
    // and the reference peer (no other program of the build: the test listing links the reference
    // code), and works in a fresh scratch folder.
    [[nodiscard]] script::Confinement run_policy(const ManifestLab& m, const fs::path& bin) const {
        std::vector<sandbox::Bind> binds;
        for (const auto& name : programs_of(ctx_, m)) {
            binds.push_back({(bin / name).string(), false});
        }
        for (const std::string& name : {"lab" + m.id + "_tests", std::string("refpeer")}) {
            if (fs::exists(bin / name)) {
                binds.push_back({(bin / name).string(), false});
            }
        }
        script::Confinement c = ctx_.policy(binds);
        c.fresh = {scratch(bin).string()};
        c.cwd = scratch(bin).string();
        if (!c.enabled) {
            // No sandbox: a scratch folder on disk, the submission's user's, removed after the lab.
            std::error_code ec;
            fs::create_directories(scratch(bin), ec);
            if (ctx_.uid >= 0) {
                (void)!::chown(scratch(bin).c_str(), static_cast<uid_t>(ctx_.uid),
                               static_cast<gid_t>(ctx_.uid));
            }
        }
        return c;
    }

    void run_tests(const ManifestLab& m, const LabRubric& lr, Lab& lab, const fs::path& bin) {
        // A lab whose tests hang one after another must not hold the grader for hours: its tests
        // and scripts share one budget.
        lab_deadline_ =
            std::chrono::steady_clock::now() +
            std::chrono::milliseconds(static_cast<long long>(ctx_.rubric.lab_timeout_seconds * 1000));
        lab_cut_.clear();
        const std::string exe = (bin / ("lab" + m.id + "_tests")).string();
        // The names and groups come from the copy linked to the reference code (trusted); the
        // graded copy only runs them.
        const std::string lister = (bin / ("lab" + m.id + "_tests_list")).string();
        Bounds listing;
        listing.wall = std::chrono::seconds(20);
        const auto names_run = run_bounded({lister, "--list-test-names-only"}, {}, listing);
        if (names_run.timed_out || names_run.signal != 0) {
            throw TreeError("listing the tests of lab " + m.id + " with the reference code " +
                            names_run.status_text() + ":\n" + names_run.output);
        }
        const auto names = lines_of(names_run.output);
        // The graded copy must start at all: code that ends the program before main (a static
        // constructor, say) makes every test of the lab an error.
        Bounds probing = listing;
        probing.confinement = confinement_;
        probing.cwd = confinement_.cwd;
        const auto probe = run_bounded({exe, "--list-test-names-only"}, {}, probing);
        const auto listed = lines_of(probe.output);
        if (probe.timed_out || probe.signal != 0 || listed != names) {
            const auto [ref, got] = std::mismatch(names.begin(), names.end(), listed.begin(), listed.end());
            lab.build = "test program does not start";
            lab.build_log = "the lab's test program, built with this code, " + probe.status_text() +
                            " when asked to list its tests, and did not list them as the reference does (" +
                            std::to_string(listed.size()) + " lines for " + std::to_string(names.size()) +
                            " tests; the first difference: " +
                            (got != listed.end() ? "\"" + *got + "\"" : std::string("the end")) +
                            " where \"" + (ref != names.end() ? *ref : std::string("the end")) +
                            "\" was expected):\n" + probe.output.substr(0, 2000) +
                            "\n(does the code under test print or end the program before main, in a static "
                            "constructor say?)";
            return;
        }
        // The rubric's group of each test: the docs section it is tagged with.
        std::map<std::string, std::string> group_of;
        for (const auto& g : lr.groups) {
            const auto members =
                run_bounded({lister, "--list-test-names-only", "[" + g.section + "]"}, {}, listing);
            for (const auto& n : lines_of(members.output)) {
                group_of[n] = g.name;
            }
        }
        // Test cases start in their order, at most ctx_.options.jobs at once. After the
        // lab_max_timeouts-th time-out in that order, the rest of the lab is not run, whatever it did
        // meanwhile: where the lab is cut depends on which tests hang, not on how fast the machine is.
        std::vector<Item> items(names.size());
        std::vector<char> timed_out(names.size(), 0);
        std::mutex taking;
        std::size_t next = 0;
        int timeouts = 0;
        const auto take = [&]() -> std::optional<std::size_t> {
            const std::scoped_lock lock(taking);
            if (next >= names.size() || timeouts >= ctx_.rubric.lab_max_timeouts) {
                return std::nullopt;
            }
            return next++;
        };
        const auto lab_deadline = lab_deadline_;
        const auto work = [&] {
            while (const auto i = take()) {
                if (ctx_.submission_left().count() == 0) {
                    items[*i] = not_run_test(names[*i], ctx_.submission_cut());
                    continue;
                }
                if (std::chrono::steady_clock::now() >= lab_deadline) {
                    items[*i] = not_run_test(names[*i], wall_clock_cut());
                    continue;
                }
                bool hung = false;
                items[*i] = run_test(m, exe, names[*i], bin, hung);
                if (hung) {
                    const std::scoped_lock lock(taking);
                    timed_out[*i] = 1;
                    ++timeouts;
                }
            }
        };
        {
            std::vector<std::jthread> workers;
            for (int j = 0; j < std::max(1, ctx_.options.jobs); ++j) {
                workers.emplace_back(work);
            }
        }
        int seen = 0;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (!lab_cut_.empty()) {
                items[i] = not_run_test(names[i], lab_cut_);
            } else if (timed_out[i] != 0 && ++seen == ctx_.rubric.lab_max_timeouts) {
                lab_cut_ = "not run: " + std::to_string(seen) +
                           " of the lab's test cases timed out, the last \"" + names[i] +
                           "\" (the rubric's lab_max_timeouts)";
            }
        }
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto g = group_of.find(names[i]);
            items[i].group = g != group_of.end() ? g->second : kNoGroup;
            lab.items.push_back(std::move(items[i]));
        }
    }

    [[nodiscard]] std::string wall_clock_cut() const {
        return "not run: the lab's time budget (" +
               std::to_string(static_cast<int>(ctx_.rubric.lab_timeout_seconds)) +
               " s) ran out, as earlier tests or checks were slow or hung";
    }

    static Item not_run_test(const std::string& name, const std::string& reason) {
        Item item;
        item.name = name;
        item.kind = "test";
        item.status = Status::Error;
        item.reason = reason;
        return item;
    }

    Item run_test(const ManifestLab& m, const std::string& exe, const std::string& name, const fs::path& bin,
                  bool& timed_out) {
        Item item;
        item.name = name;
        item.kind = "test";
        Bounds bounds;
        bounds.wall = std::min(
            std::chrono::milliseconds(static_cast<long long>(ctx_.rubric.test_timeout_seconds * 1000)),
            std::max(ctx_.submission_left(), std::chrono::milliseconds(1)));
        bounds.max_output = std::size_t{64} * 1024;
        bounds.cwd = confinement_.cwd; // what a test writes lands there
        bounds.confinement = confinement_;
        bounds.report_fd = true;
        std::vector<std::string> argv{exe};
        const auto args = catch_run_args(name);
        argv.insert(argv.end(), args.begin(), args.end());
        const auto run =
            run_bounded(argv, {"SOCKLAB_UNDER_CTEST=1", "SOCKLAB_BIN_DIR=" + bin.string()}, bounds);
        item.seconds = run.seconds;
        timed_out = run.timed_out;
        // The verdict comes from Catch2's XML report on descriptor 3; what the program printed
        // (the read: line, its own output) follows the failures the report lists.
        const CatchResult result = read_catch_report(run.report, name);
        item.output = result.text.empty() ? run.output : result.text + "\n\n" + run.output;
        if (run.dropped > 0) {
            item.output += "\n(" + std::to_string(run.dropped) + " more bytes of output not kept)\n";
        }
        item.replay = "ctest --test-dir build -R '^lab" + m.id + "/" +
                      std::regex_replace(name, std::regex(R"([.^$|()*+?{}\[\]\\])"), R"(\$&)") +
                      "$' --output-on-failure";
        if (run.exit_code == 77) {
            item.status = Status::Skipped;
            item.reason = "skipped: this machine cannot run it";
        } else if (run.timed_out || run.signal != 0) {
            item.status = Status::Error;
            item.reason =
                "the test " + run.status_text() + (result.reason.empty() ? "" : " (" + result.reason + ")");
        } else if (!result.finished) {
            // Catch2 writes a test's result when the test ends: without it, something ended the
            // program first (exit() in the code under test, say), whatever its status.
            item.status = Status::Error;
            item.reason = "the test program " + run.status_text() +
                          " before the test finished (Catch2's report has no result for it): the code under "
                          "test ended it early";
        } else if (result.success && run.exit_code == 0) {
            item.status = Status::Passed;
        } else if (result.success) {
            item.status = Status::Error;
            item.reason = "the test passed, but then the test program " + run.status_text() +
                          " (code that runs after the tests: a destructor or an exit handler?)";
        } else {
            item.status = Status::Failed;
            item.reason = result.reason.empty() ? "the test " + run.status_text() : result.reason;
        }
        item.docs = docs_in(run.output);
        return item;
    }

    void run_scripts(const ManifestLab& m, Lab& lab, const fs::path& bin) {
        std::vector<std::pair<fs::path, bool>> scripts; // path, hidden
        const auto add = [&](const fs::path& folder, bool hidden) {
            if (!fs::is_directory(folder)) {
                return;
            }
            std::vector<fs::path> found;
            for (const auto& entry : fs::directory_iterator(folder)) {
                if (entry.path().extension() == ".script") {
                    found.push_back(entry.path());
                }
            }
            std::sort(found.begin(), found.end());
            for (const auto& f : found) {
                scripts.emplace_back(f, hidden);
            }
        };
        add(ctx_.root / "labs" / m.folder / "scripts", false);
        if (ctx_.options.hidden) {
            add(ctx_.root / "instructor" / "hidden" / m.folder, true);
        }
        for (const auto& [path, hidden] : scripts) {
            const auto script = script::load_script(path.string());
            if (ctx_.submission_left().count() == 0) {
                not_run(script, path.stem().string(), hidden, ctx_.submission_cut(), lab);
                continue;
            }
            if (!lab_cut_.empty() || std::chrono::steady_clock::now() >= lab_deadline_) {
                not_run(script, path.stem().string(), hidden, lab_cut_.empty() ? wall_clock_cut() : lab_cut_,
                        lab);
                continue;
            }
            script::RunOptions options;
            options.bin_dir = bin.string();
            options.confinement = confinement_;
            options.confinement.limits = true;
            options.confinement.env = {"SOCKLAB_BIN_DIR=" + bin.string()};
            options.seed = ctx_.options.seed;
            const std::string relative = fs::relative(path, ctx_.root).string();
            options.replay = {"build/bin/socklab-script", relative};
            // Each script's capture starts empty, and ends (its memory freed) with the script.
            std::unique_ptr<wire::Capture> capture;
            if (own_network_) {
                capture = wire::Capture::start(options.wire_unavailable);
                options.capture = capture.get();
            } else {
                options.wire_unavailable =
                    "the programs shared the machine's network, which the grader does not read";
            }
            std::ostringstream transcript;
            const auto result = script::run_script(script, options, transcript);
            const std::string stem = path.stem().string();
            // A check not run because an earlier one failed (the set-up, say) has no docs section of
            // its own: it points to the first one the script's failures name.
            std::string script_docs;
            for (const auto& c : result.checks) {
                if (script_docs.empty() && !c.passed) {
                    script_docs = docs_in(c.report);
                }
            }
            for (const auto& c : result.checks) {
                Item item = check_item(stem, c.name, hidden, c.hidden, c.points);
                item.status = c.passed ? Status::Passed : Status::Failed;
                item.reason = c.summary;
                item.seconds = c.seconds;
                item.seed = result.seed;
                item.output = c.report;
                item.docs = docs_in(c.report);
                if (item.docs.empty() && !c.passed) {
                    item.docs = script_docs;
                }
                item.replay = hidden ? ""
                                     : "build/bin/socklab-script --seed " + std::to_string(result.seed) +
                                           " " + relative;
                lab.items.push_back(std::move(item));
            }
        }
    }

    // The checks of a script that the lab's time budget left no time for: each a failure worth 0.
    static void not_run(const script::Script& script, const std::string& stem, bool hidden,
                        const std::string& reason, Lab& lab) {
        for (const auto& c : script.checks) {
            Item item = check_item(stem, c.name, hidden, c.hidden, c.points);
            item.status = Status::Error;
            item.reason = reason;
            lab.items.push_back(std::move(item));
        }
    }

    // The item of one check of a script, before its outcome: its name, group and weight (its
    // points, until score() shares out the group's points).
    static Item check_item(const std::string& stem, const std::string& check, bool hidden_script,
                           bool hidden_check, int points) {
        Item item;
        item.name = stem + "/" + check;
        item.kind = "check";
        item.group = hidden_script ? "hidden scripts" : "scripts";
        item.hidden = hidden_script || hidden_check;
        item.max_score = points;
        return item;
    }

    const Context& ctx_;
    bool own_network_; // the thread's network namespace is the grade's own: captures may be made
    script::Confinement confinement_;                    // of the submission's programs, set by run()
    std::chrono::steady_clock::time_point lab_deadline_; // the lab's time budget ends
    std::string lab_cut_; // why the rest of the lab is not run (its timed-out tests), or ""
};

} // namespace

void run_lab(const Context& ctx, const ManifestLab& m, const LabRubric& lr, Lab& lab, const fs::path& bin,
             bool own_network) {
    LabRun(ctx, own_network).run(m, lr, lab, bin);
}

} // namespace socklab::grade
