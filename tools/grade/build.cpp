// Building a submission into the instructor's tree: the grading build is configured once in the
// work folder and reused, the instructor's parts are built there, and each lab's student files
// are compiled in the sandbox into a library whose objects are checked (objects.hpp) before the
// lab's given tests and programs are linked with it outside the sandbox.
#include "build.hpp"

#include "bounded.hpp"
#include "object_cache.hpp"
#include "objects.hpp"

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace socklab::grade {
namespace {

// The compiler's first errors: from the first line that says "error" on, at most 30 lines.
std::string first_errors(const std::string& log) {
    std::istringstream in(log);
    std::vector<std::string> lines;
    bool started = false;
    static const std::regex progress(R"(^\[[0-9]+/[0-9]+\] )");
    for (std::string line; std::getline(in, line);) {
        if (std::regex_search(line, progress)) {
            continue; // ninja's progress, not the compiler's words
        }
        if (!started &&
            (line.find("error") != std::string::npos || line.find("Error") != std::string::npos)) {
            started = true;
        }
        if (started) {
            lines.push_back(line);
            if (lines.size() == 30) {
                lines.emplace_back("...");
                break;
            }
        }
    }
    if (lines.empty()) {
        std::string tail = log.size() > 3000 ? log.substr(log.size() - 3000) : log;
        return tail;
    }
    std::string out;
    for (const auto& l : lines) {
        out += l + "\n";
    }
    return out;
}

std::string cmake_path() {
    for (const char* candidate : {"/usr/bin/cmake", "/usr/local/bin/cmake"}) {
        if (fs::exists(candidate)) {
            return candidate;
        }
    }
    return "/usr/bin/cmake";
}

BoundedRun cmake(const std::vector<std::string>& args, std::chrono::milliseconds limit) {
    std::vector<std::string> argv{cmake_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    Bounds bounds;
    bounds.wall = limit;
    bounds.max_output = 1 << 20;
    return run_bounded(argv, {}, bounds);
}

// The compile command of source (a student file) from the build's compile_commands.json, split
// into words as a shell would, without its output and dependency-file options.
std::vector<std::string> compile_command(const Context& ctx, const fs::path& source) {
    const nlohmann::json commands = nlohmann::json::parse(read_text(ctx.build / "compile_commands.json"));
    std::string command;
    for (const auto& entry : commands) {
        if (entry.value("file", "") == source.string()) {
            command = entry.value("command", "");
        }
    }
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < command.size(); ++i) {
        const char c = command[i];
        if (quote == 0 && (c == ' ' || c == '\t')) {
            if (in_word) {
                words.push_back(word);
            }
            word.clear();
            in_word = false;
        } else if (quote == 0 && (c == '"' || c == '\'')) {
            quote = c;
            in_word = true;
        } else if (c == quote) {
            quote = 0;
        } else if (c == '\\' && quote != '\'' && i + 1 < command.size()) {
            word += command[++i];
            in_word = true;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) {
        words.push_back(word);
    }
    std::vector<std::string> argv;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (words[i] == "-o" || words[i] == "-c" || words[i] == "-MT" || words[i] == "-MF") {
            ++i; // its value too
        } else if (words[i] != "-MD") {
            argv.push_back(words[i]);
        }
    }
    return argv;
}

// What the reference code of the lab defines and calls (its library in the trusted build):
// the allowlist of a student object's symbols.
ObjectRules object_rules(const Context& ctx, const ManifestLab& m) {
    ObjectRules rules;
    rules.refused_calls = ctx.rubric.refused_calls;
    if (const auto built = cmake({"--build", ctx.build.string(), "--target", "socklab_lab" + m.id},
                                 std::chrono::minutes(10));
        built.exit_code != 0) {
        throw TreeError("building the reference code of lab " + m.id + " failed (" + built.status_text() +
                        "):\n" + first_errors(built.output));
    }
    const auto run = run_bounded(
        {"/usr/bin/nm", "-P", (ctx.build / ("libsocklab_lab" + m.id + ".a")).string()}, {}, Bounds{});
    for (const auto& s : parse_nm(run.output)) {
        if (s.type == 'U') {
            rules.reference_calls.insert(s.name);
        } else if ((s.type >= 'A' && s.type <= 'Z') || s.type == 'u') {
            rules.reference_defines.insert(s.name);
        }
    }
    return rules;
}

} // namespace

void configure(const Context& ctx) {
    const std::string cumulative = ctx.options.cumulative ? "ON" : "OFF";
    const fs::path cache = ctx.build / "CMakeCache.txt";
    if (fs::exists(cache)) {
        const std::string text = read_text(cache);
        if (text.find("SOCKLAB_GRADE_DIR:PATH=" + ctx.files.string() + "\n") != std::string::npos &&
            text.find("SOCKLAB_GRADE_CUMULATIVE:BOOL=" + cumulative + "\n") != std::string::npos) {
            return;
        }
    }
    ctx.options.progress("configuring the grading build in " + ctx.build.string());
    const auto run =
        cmake({"-S", ctx.root.string(), "-B", ctx.build.string(), "-G", "Ninja",
               "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1",
               "-DSOCKLAB_GRADE_DIR=" + ctx.files.string(), "-DSOCKLAB_GRADE_CUMULATIVE=" + cumulative},
              std::chrono::minutes(5));
    if (run.exit_code != 0) {
        throw TreeError("configuring the grading build failed (" + run.status_text() + "):\n" +
                        first_errors(run.output));
    }
}

void build_shared(const Context& ctx) {
    ctx.options.progress("building the instructor's parts (test main, reference peer)");
    const auto run = cmake({"--build", ctx.build.string(), "--target", "socklab_catch_main", "refpeer"},
                           std::chrono::minutes(10));
    if (run.exit_code != 0) {
        throw TreeError("building the instructor's parts failed (" + run.status_text() + "):\n" +
                        first_errors(run.output));
    }
}

std::vector<std::string> programs_of(const Context& ctx, const ManifestLab& m) {
    std::vector<std::string> names;
    const fs::path app = ctx.root / "labs" / m.folder / "app";
    if (fs::is_directory(app)) {
        for (const auto& entry : fs::directory_iterator(app)) {
            if (entry.path().extension() == ".cpp") {
                names.push_back(entry.path().stem().string());
            }
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

bool build_lab(const Context& ctx, const ManifestLab& m, Lab& lab) {
    if (!compile_lab(ctx, m, lab)) {
        return false;
    }
    // The link: the given tests and programs with that library, by the grader's own build.
    std::vector<std::string> args{"--build", ctx.build.string(), "--target", "lab" + m.id + "_tests",
                                  "lab" + m.id + "_tests_list"};
    for (const auto& p : programs_of(ctx, m)) {
        args.push_back(p);
    }
    const auto run = cmake(args, std::chrono::minutes(10));
    if (run.exit_code != 0) {
        lab.build = "compile error";
        lab.build_log =
            "linking the lab's tests and programs with the code failed:\n" + first_errors(run.output);
        return false;
    }
    return true;
}

namespace {

// The same library as the last grade's of this lab (the same objects, as a class's files mostly
// are): the last one goes back in its place, with its time, so that the link finds nothing newer
// and relinks nothing, as ninja would not have. Otherwise library becomes the last one.
void keep_or_restore(const fs::path& library, const fs::path& last) {
    std::error_code ec;
    if (fs::is_regular_file(last, ec) && read_text(last) == read_text(library)) {
        const auto then = fs::last_write_time(last, ec);
        fs::copy_file(last, library, fs::copy_options::overwrite_existing, ec);
        fs::last_write_time(library, then, ec);
        return;
    }
    fs::create_directories(last.parent_path(), ec);
    fs::copy_file(library, last, fs::copy_options::overwrite_existing, ec);
    fs::last_write_time(last, fs::last_write_time(library, ec), ec);
}

// Calls work(0) ... work(count - 1), at most jobs of them at once, and returns when all are done.
void at_once(std::size_t count, int jobs, const std::function<void(std::size_t)>& work) {
    std::atomic<std::size_t> next{0};
    std::vector<std::jthread> workers;
    for (int j = 0; j < std::max(1, jobs) && static_cast<std::size_t>(j) < count; ++j) {
        workers.emplace_back([&] {
            for (std::size_t i = next++; i < count; i = next++) {
                work(i);
            }
        });
    }
}

} // namespace

bool compile_lab(const Context& ctx, const ManifestLab& m, Lab& lab) {
    const fs::path out = ctx.build / "graded" / ("lab" + m.id);
    std::error_code ec;
    fs::remove_all(out, ec);
    fs::create_directories(out);
    if (ctx.uid >= 0) {
        (void)!::chown(out.c_str(), static_cast<uid_t>(ctx.uid), static_cast<gid_t>(ctx.uid));
    }
    const auto started = std::chrono::steady_clock::now();
    const auto limit =
        std::chrono::milliseconds(static_cast<long long>(ctx.rubric.build_timeout_seconds * 1000));
    const auto sandboxed = [&](const std::vector<std::string>& argv, std::size_t max_output) {
        Bounds bounds;
        bounds.wall = std::max(std::chrono::milliseconds(1000),
                               std::min(limit - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    std::chrono::steady_clock::now() - started),
                                        ctx.submission_left()));
        bounds.max_output = max_output;
        bounds.cwd = out.string();
        bounds.confinement = ctx.policy({{(ctx.files / m.folder).string(), false}, {out.string(), true}});
        return run_bounded(argv, {}, bounds);
    };
    const auto fail = [&](const std::string& kind, const std::string& why) {
        lab.build = kind;
        lab.build_log = why;
        return false;
    };
    // Each file compiles in a sandbox of its own, as many at once as the grade's jobs (as ninja
    // would); a failure is reported for the first file, in the manifest's order, that failed.
    std::vector<std::string> objects;
    std::vector<std::vector<std::string>> commands;
    for (const auto& file : m.files) {
        const fs::path source = ctx.files / m.folder / file;
        std::vector<std::string> argv = compile_command(ctx, source);
        if (argv.empty()) {
            throw TreeError("the grading build has no compile command for " + source.string() +
                            " (configure again)");
        }
        objects.push_back((out / (file + ".o")).string());
        argv.insert(argv.end(), {"-c", source.string(), "-o", objects.back()});
        commands.push_back(std::move(argv));
    }
    // A file whose every input is as an earlier grade's compiled it is taken from the cache.
    const ObjectCache cache(ctx.build / "object-cache");
    std::vector<fs::path> sources;
    for (const auto& file : m.files) {
        sources.push_back(ctx.files / m.folder / file);
    }
    const std::string given = ObjectCache::given_stamp(ctx.root / "labs", commands.front().front());
    std::vector<std::string> keys;
    std::vector<char> cached;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        keys.push_back(ObjectCache::key(commands[i], sources, given));
        cached.push_back(cache.take(keys.back(), objects[i]) ? 1 : 0);
    }
    std::vector<BoundedRun> compiled(commands.size());
    at_once(commands.size(), ctx.options.jobs, [&](std::size_t i) {
        if (cached[i] == 0) {
            compiled[i] = sandboxed(commands[i], 1 << 20);
        }
    });
    for (std::size_t i = 0; i < compiled.size(); ++i) {
        const BoundedRun& run = compiled[i];
        if (cached[i] == 0 && run.exit_code != 0) {
            const bool capped = run.timed_out && ctx.submission_left().count() == 0;
            return fail("compile error",
                        capped ? "the build did not finish: " + ctx.submission_cut().substr(9)
                        : run.timed_out
                            ? "the build did not finish in " +
                                  std::to_string(static_cast<long long>(ctx.rubric.build_timeout_seconds)) +
                                  " s (the grader stopped it)"
                        : run.output.empty() ? "the compiler " + run.status_text() + " and said nothing"
                                             : first_errors(run.output));
        }
    }
    // The objects' symbols: what they define and call (nm), and system calls of their own.
    const ObjectRules rules = object_rules(ctx, m);
    std::vector<std::string> refused(objects.size());
    at_once(objects.size(), ctx.options.jobs, [&](std::size_t i) {
        const std::string file = m.folder + "/" + m.files[i];
        const auto nm = sandboxed({"/usr/bin/nm", "-P", objects[i]}, std::size_t{16} << 20);
        const auto dump =
            sandboxed({"/usr/bin/objdump", "-d", "--no-show-raw-insn", objects[i]}, std::size_t{64} << 20);
        if (nm.exit_code != 0 || dump.exit_code != 0) {
            refused[i] = file + ": its object could not be read (nm or objdump " +
                         (nm.exit_code != 0 ? nm.status_text() : dump.status_text()) + ")";
            return;
        }
        for (const std::string& why :
             {object_refused(file, parse_nm(nm.output), rules), assembly_refused(file, dump.output)}) {
            if (!why.empty() && refused[i].empty()) {
                refused[i] = why;
            }
        }
    });
    for (const auto& why : refused) {
        if (!why.empty()) {
            return fail("refused", why);
        }
    }
    for (std::size_t i = 0; i < objects.size(); ++i) {
        if (cached[i] == 0) {
            cache.keep(keys[i], objects[i]);
        }
    }
    std::vector<std::string> archive{"/usr/bin/ar", "rcs", (out / "libgraded.a").string()};
    archive.insert(archive.end(), objects.begin(), objects.end());
    if (const auto run = sandboxed(archive, 1 << 20); run.exit_code != 0) {
        return fail("compile error", "ar " + run.status_text() + ":\n" + first_errors(run.output));
    }
    struct stat st = {};
    if (::lstat((out / "libgraded.a").c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return fail("compile error", "the sandbox made no library of the lab's objects");
    }
    keep_or_restore(out / "libgraded.a", ctx.build / "graded-last" / ("lab" + m.id + ".a"));
    return true;
}

} // namespace socklab::grade
