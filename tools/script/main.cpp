// socklab-script: runs a telnet-style conversation script against the lab programs.
//
//   socklab-script [--bin DIR] [--seed N] [--time-scale F] [--attach NAME=PORT]... [--no-wire] SCRIPT
//
// Exit status: 0 every check passed, 1 a check failed, 2 the script or the command line is wrong.
#include "runner.hpp"

#include "socklab/wire/capture.hpp"
#include "socklab/wire/namespace.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

namespace {

std::string absolute(const std::string& path) {
    return std::filesystem::absolute(path).lexically_normal().string();
}

} // namespace

int main(int argc, char* argv[]) try {
    // The runner writes to pipes and sockets whose readers may be gone: a failed write is an error
    // it reports, not a reason to die. (Children get SIGPIPE back before exec.)
    std::signal(SIGPIPE, SIG_IGN);

    CLI::App app{"Runs a conversation script against the lab programs (docs/reference/scripts.md)",
                 "socklab-script"};
    std::string script_path;
    std::string bin_dir = std::filesystem::path(argv[0]).parent_path().string();
    std::uint64_t seed = 0;
    double time_scale = 1.0;
    std::vector<std::string> attach;
    bool stable = false;
    app.add_option("script", script_path, "the .script file")->required();
    app.add_option("--bin", bin_dir, "where the programs are (default: beside socklab-script)");
    auto* seed_option = app.add_option("--seed", seed, "seed of send-random (default: the script's)");
    app.add_option("--time-scale", time_scale, "multiply every deadline (sanitizer builds run slower)")
        ->check(CLI::Range(0.1, 100.0));
    app.add_option(
        "--attach", attach,
        "NAME=PORT: do not start server NAME, talk to the one you started on PORT (under gdb, say)");
    app.add_flag("--stable", stable, "no times, ports or seeds in the output (for golden files)");
    bool no_wire = false;
    app.add_flag("--no-wire", no_wire,
                 "run on this machine's loopback, without a network namespace of its own: no wire view in "
                 "a failure's report (--attach implies it)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    socklab::script::RunOptions options;
    options.bin_dir = bin_dir.empty() ? "." : absolute(bin_dir);
    options.time_scale = time_scale;
    options.stable = stable;
    if (seed_option->count() > 0) {
        options.seed = seed;
    }
    for (const auto& a : attach) {
        const auto eq = a.find('=');
        try {
            if (eq == std::string::npos) {
                throw std::invalid_argument(a);
            }
            options.attach[a.substr(0, eq)] = std::stoi(a.substr(eq + 1));
        } catch (const std::exception&) {
            std::cerr << "socklab-script: --attach wants NAME=PORT, as in --attach srv=40123; got '" << a
                      << "'\n";
            return 2;
        }
    }
    options.replay = {absolute(argv[0]), "--bin", options.bin_dir};
    if (time_scale != 1.0) {
        options.replay.emplace_back("--time-scale");
        std::ostringstream scale;
        scale << time_scale;
        options.replay.push_back(scale.str());
    }
    options.replay.push_back(absolute(script_path));
    if (stable) {
        options.replay = {"socklab-script", "--bin", "BIN", "SCRIPT"};
    }
    // The wire view (docs/reference/wire.md): the programs run in a network namespace of this
    // process's own, whose loopback is captured; a failed check's report shows its segments. Made
    // first, while this process has one thread. Where it cannot be made, the script runs as before.
    std::unique_ptr<socklab::wire::Capture> capture;
    if (!no_wire && attach.empty()) {
        std::string why = socklab::wire::enter_private_network();
        if (why.empty()) {
            capture = socklab::wire::Capture::start(why);
        }
        options.capture = capture.get();
        options.wire_unavailable = why;
    }
    try {
        const auto script = socklab::script::load_script(script_path);
        const auto result = socklab::script::run_script(script, options, std::cout);
        return result.passed() ? 0 : 1;
    } catch (const socklab::script::ScriptError& e) {
        std::cerr << "socklab-script: " << e.what() << "\n";
        return 2;
    }
} catch (const std::exception& e) {
    // Anything else is a bug of the runner, not of the program under test: say so, exit 2.
    std::cerr << "socklab-script: internal error: " << e.what() << "\n";
    return 2;
}
