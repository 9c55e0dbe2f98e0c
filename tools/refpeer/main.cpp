// refpeer: the reference peer. Reads the command line (CLI11) and runs one mode; see
// docs/reference/refpeer.md.
#include "failure.hpp"
#include "modes.hpp"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <limits>

namespace {

using refpeer::Behaviour;

constexpr std::uint64_t kMaxBytes = std::uint64_t{1} << 30; // one write or line: at most 1 GiB
constexpr std::uint64_t kMaxMs = 86'400'000;                // one day
constexpr std::uint64_t kMaxCount = std::numeric_limits<std::uint64_t>::max();

// Reads text as a whole decimal number from min to max, digits only (no sign, no hex); throws
// CLI::ValidationError naming the option (exit 64).
std::uint64_t whole_number(const std::string& option, const std::string& text, std::uint64_t min,
                           std::uint64_t max) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc{} || stop != end || value < min || value > max) {
        throw CLI::ValidationError(option, "\"" + text + "\" is not a whole number from " +
                                               std::to_string(min) + " to " + std::to_string(max));
    }
    return value;
}

// Adds an option that takes a whole number from min to max and stores it in target.
template <class T>
CLI::Option* add_number(CLI::App& mode, const std::string& option, T& target, std::uint64_t min,
                        std::uint64_t max, const std::string& help) {
    return mode
        .add_option_function<std::string>(
            option,
            [&target, option, min, max](const std::string& text) {
                target = static_cast<T>(whole_number(option, text, min, max));
            },
            help)
        ->type_name("N");
}

// Parses "MIN:MAX" of --fragment-random into behaviour; throws CLI::ValidationError (exit 64).
void parse_random_sizes(const std::string& text, Behaviour& behaviour) {
    const auto colon = text.find(':');
    if (colon == std::string::npos) {
        throw CLI::ValidationError("--fragment-random", "\"" + text + "\" is not MIN:MAX, e.g. 1:16");
    }
    const auto low = whole_number("--fragment-random", text.substr(0, colon), 1, kMaxBytes);
    const auto high = whole_number("--fragment-random", text.substr(colon + 1), low, kMaxBytes);
    behaviour.fragment_min = static_cast<std::size_t>(low);
    behaviour.fragment_max = static_cast<std::size_t>(high);
}

// Adds the BEHAVIOUR options to a mode; server adds --no-answer.
void add_behaviour_options(CLI::App& mode, Behaviour& behaviour, bool server) {
    auto* fragment = add_number(mode, "--fragment", behaviour.fragment, 1, kMaxBytes,
                                "split every write into writes of at most N bytes");
    auto* random = mode.add_option_function<std::string>(
                           "--fragment-random",
                           [&behaviour](const std::string& text) { parse_random_sizes(text, behaviour); },
                           "split every write into sizes drawn uniformly from [MIN,MAX]")
                       ->type_name("MIN:MAX");
    fragment->excludes(random);
    add_number(mode, "--seed", behaviour.seed, 0, std::numeric_limits<std::uint32_t>::max(),
               "seed of --fragment-random (default 1)")
        ->type_name("S");
    add_number(mode, "--coalesce", behaviour.coalesce, 1, kMaxBytes, "gather N messages into one write");
    add_number(mode, "--delay-ms", behaviour.delay_ms, 0, kMaxMs, "wait N ms before each write");
    auto* close_after = add_number(mode, "--close-after", behaviour.close_after, 0, kMaxCount,
                                   "close (FIN) once N bytes are sent; 0: at once");
    auto* reset_after = add_number(mode, "--reset-after", behaviour.reset_after, 0, kMaxCount,
                                   "abort (RST) once N bytes are sent; 0: at once");
    close_after->excludes(reset_after);
    if (server) {
        mode.add_flag("--no-answer", behaviour.no_answer, "read but never write");
    }
}

// Adds --bind to a server mode.
void add_bind_option(CLI::App& mode, refpeer::ServerOptions& options) {
    mode.add_option("--bind", options.bind, "HOST:PORT to listen on (default 127.0.0.1:0)")
        ->type_name("HOST:PORT");
}

// Parses the command line and runs the mode it names; returns the exit code.
int run(int argc, char** argv) {
    CLI::App app{"refpeer: the reference peer of socklab (docs/reference/refpeer.md)", "refpeer"};
    app.require_subcommand(1, 1);
    app.fallthrough(false);

    refpeer::ServerOptions server;
    auto* echo = app.add_subcommand("echo", "echo server: sends back every byte, many clients at once");
    add_bind_option(*echo, server);
    add_behaviour_options(*echo, server.behaviour, true);

    auto* lines = app.add_subcommand("lines", "the lab 04 line protocol server");
    add_bind_option(*lines, server);
    add_number(*lines, "--max-line", server.max_line, 1, kMaxBytes,
               "longest request in bytes, line ending not counted (65536)");
    add_behaviour_options(*lines, server.behaviour, true);

    auto* silent = app.add_subcommand("silent", "accepts, reads and discards, never writes");
    add_bind_option(*silent, server);

    auto* blackhole = app.add_subcommand("blackhole", "a listener whose connects hang (full accept queue)");
    add_bind_option(*blackhole, server);

    refpeer::ClientOptions client;
    auto* connect = app.add_subcommand("client", "connects, sends stdin, shows what comes back with escapes");
    connect->add_option("endpoint", client.endpoint, "HOST:PORT to connect to")
        ->required()
        ->type_name("HOST:PORT");
    add_number(*connect, "--timeout-ms", client.timeout_ms, 1, kMaxMs,
               "connect deadline in ms (default 5000)");
    connect->add_flag("--crlf", client.crlf, "send each \\n of stdin as \\r\\n, like telnet");
    connect->add_flag("--raw", client.raw, "write the received bytes unchanged to stdout, and nothing else");
    bool no_times = false;
    connect->add_flag("--no-times", no_times, "leave out the time column");
    add_behaviour_options(*connect, client.behaviour, false);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        const auto chosen = app.get_subcommands();
        std::cout << (chosen.empty() ? app.help() : chosen.front()->help());
        return refpeer::kExitOk;
    } catch (const CLI::ParseError& error) {
        const auto chosen = app.get_subcommands();
        std::cerr << "refpeer: " << error.what() << "\n"
                  << (chosen.empty() ? app.help() : chosen.front()->help());
        return refpeer::kExitUsage;
    }

    try {
        if (connect->parsed()) {
            client.times = !no_times;
            return refpeer::run_client(client);
        }
        server.mode = echo->parsed()     ? refpeer::ServerMode::echo
                      : lines->parsed()  ? refpeer::ServerMode::lines
                      : silent->parsed() ? refpeer::ServerMode::silent
                                         : refpeer::ServerMode::blackhole;
        return refpeer::run_server(server);
    } catch (const refpeer::Failure& failure) {
        std::fprintf(stderr, "refpeer: %s\n", failure.what());
        return failure.code();
    } catch (const std::exception& failure) {
        std::fprintf(stderr, "refpeer: %s\n", failure.what());
        return refpeer::kExitSoftware;
    }
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (...) {
        std::fputs("refpeer: unexpected internal error\n", stderr);
        return refpeer::kExitSoftware;
    }
}
