// The script runner's own tests: the parser's messages, the caret, and whole runs against
// deliberately broken programs whose output is compared with stored transcripts (golden/).
// SOCKLAB_UPDATE_GOLDEN=1 rewrites the stored transcripts from this run (read the diff before
// committing it).
// Tests alike in shape (here and in the other test file of the grader) repeat their setup on
// purpose: each one is one behaviour that reads alone.
#include "escape.hpp"
#include "script.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

using socklab::script::parse_script;
using socklab::script::ScriptError;

struct Outcome {
    int exit_code = -1;
    std::string output;
};

// Runs a shell command; its stdout and exit code.
Outcome run(const std::string& command) {
    Outcome r;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return r;
    }
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        r.output.append(buffer.data(), n);
    }
    const int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string runner_command(const std::string& script, const std::string& extra = "") {
    return std::string(SOCKLAB_SCRIPT_PROGRAM) + " --stable --bin " + SOCKLAB_BROKEN_BIN + " " + extra + " " +
           SOCKLAB_GRADER_TESTS + "/scripts/" + script + " 2>&1";
}

// The same without --stable: with the wire under a failure (its times and ports vary, so never
// against a golden file).
std::string live_runner_command(const std::string& script, const std::string& extra = "") {
    return std::string(SOCKLAB_SCRIPT_PROGRAM) + " --bin " + SOCKLAB_BROKEN_BIN + " " + extra + " " +
           SOCKLAB_GRADER_TESTS + "/scripts/" + script + " 2>&1";
}

// Whether the runner could not capture here (no network namespace): the wire tests then skip.
bool not_captured(const std::string& output) {
    return output.find("the wire: not captured here") != std::string::npos;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The script's path is printed absolute; the golden files hold it relative to instructor/tests.
std::string relative(std::string output) {
    const std::string root = std::string(SOCKLAB_GRADER_TESTS) + "/";
    for (std::size_t at = 0; (at = output.find(root, at)) != std::string::npos;) {
        output.replace(at, root.size(), "");
    }
    return output;
}

void expect_golden(const std::string& script, int expected_exit) {
    const Outcome r = run(runner_command(script + ".script"));
    const std::string golden_path = std::string(SOCKLAB_GRADER_TESTS) + "/golden/" + script + ".txt";
    const std::string actual = relative(r.output);
    if (std::getenv("SOCKLAB_UPDATE_GOLDEN") != nullptr) {
        std::ofstream(golden_path, std::ios::binary) << actual;
    }
    EXPECT_EQ(r.exit_code, expected_exit) << actual;
    EXPECT_EQ(read_file(golden_path), actual)
        << "the runner's output differs from " << golden_path
        << "; if the change is intended, rerun with SOCKLAB_UPDATE_GOLDEN=1 and read the diff";
}

std::string parse_error(const std::string& text) {
    try {
        (void)parse_script(text, "t.script");
    } catch (const ScriptError& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

// --- whole runs against broken programs, compared with stored transcripts ---------------------

TEST(ScriptRunner, AnEchoThatDropsTheLastByteShowsTheCaretAtTheMissingByte) {
    expect_golden("drops_last_byte", 1);
}

TEST(ScriptRunner, AServerThatNeverPrintsItsPortGetsTheFlushHint) {
    expect_golden("never_prints_port", 1);
}

TEST(ScriptRunner, AClientThatNeverExitsFailsAtTheDeadline) {
    expect_golden("client_never_exits", 1);
}

TEST(ScriptRunner, AServerThatCrashesIsReportedWithItsSignal) {
    expect_golden("crashes", 1);
}

TEST(ScriptRunner, AnEofThatCameFromTheServersExitIsNotCountedAsItsClose) {
    expect_golden("dies_after_close", 1);
}

TEST(ScriptRunner, AReplyThatKeepsTheCarriageReturnGetsTheCrHint) {
    expect_golden("keeps_cr", 1);
}

TEST(ScriptRunner, ACorrectProgramPassesEveryCheck) {
    expect_golden("good_echo", 0);
}

TEST(ScriptRunner, AFailedRunPrintsTheCommandThatReplaysIt) {
    const Outcome r = run(runner_command("drops_last_byte.script"));
    EXPECT_NE(r.output.find("replay: socklab-script --bin BIN --seed SEED SCRIPT\n"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("--attach srv=PORT"), std::string::npos) << r.output;
}

// The wire view: the runner's programs live in a network namespace of its own, whose loopback it
// captures; a failed check's report shows the segments of that check's connections.
TEST(ScriptRunner, AFailedCheckShowsTheSegmentsOfItsConnections) {
    const Outcome r = run(live_runner_command("drops_last_byte.script"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    if (not_captured(r.output)) {
        GTEST_SKIP() << "no capture on this machine:\n" << r.output;
    }
    EXPECT_NE(r.output.find("the wire: the TCP segments of this check's connections"), std::string::npos)
        << r.output;
    // The connection a, opened in the set-up, whole: its handshake, the 6 bytes sent, the 5 echoed.
    EXPECT_TRUE(
        std::regex_search(r.output, std::regex(R"(a +127\.0\.0\.1:\d+ -> srv +127\.0\.0\.1:\d+ +SYN )")))
        << r.output;
    EXPECT_TRUE(std::regex_search(
        r.output,
        std::regex(R"(a +127\.0\.0\.1:\d+ -> srv +127\.0\.0\.1:\d+ +PSH ACK .* 6 bytes "hello\\n")")))
        << r.output;
    EXPECT_TRUE(std::regex_search(
        r.output, std::regex(R"(srv +127\.0\.0\.1:\d+ -> a +127\.0\.0\.1:\d+ +PSH ACK .* 5 bytes "hello")")))
        << r.output;
}

TEST(ScriptRunner, ALongTimelineKeepsItsFirstAndLastSegmentsInTheReport) {
    const Outcome r = run(live_runner_command("many_segments.script"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    if (not_captured(r.output)) {
        GTEST_SKIP() << "no capture on this machine:\n" << r.output;
    }
    const auto wire = r.output.find("the wire: the TCP segments of this check's connections");
    ASSERT_NE(wire, std::string::npos) << r.output;
    const std::string timeline = r.output.substr(wire, r.output.find("\nreplay:", wire) - wire);
    std::smatch hidden;
    ASSERT_TRUE(std::regex_search(timeline, hidden, std::regex(R"(\n    \((\d+) segments not shown\)\n)")))
        << "150 one-byte pieces and their echoes are more than 100 segments:\n"
        << timeline;
    EXPECT_GT(std::stoi(hidden[1]), 0);
    EXPECT_EQ(std::count(timeline.begin(), timeline.end(), '\n'), 1 + 20 + 1 + 80 - 1) << timeline;
    EXPECT_TRUE(std::regex_search(timeline.substr(0, hidden.position(0)),
                                  std::regex(R"(a +127\.0\.0\.1:\d+ -> srv +127\.0\.0\.1:\d+ +SYN )")))
        << "the handshake is kept:\n"
        << timeline;
}

TEST(ScriptRunner, ExpectFinPassesOnAConnectionThatEndsInOrder) {
    const Outcome r = run(live_runner_command("fin_good_echo.script"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ScriptRunner, ExpectFinFailsOnARstThatOnlyTheWireShows) {
    const Outcome r = run(live_runner_command("fin_then_reset.script"));
    if (not_captured(r.output)) {
        GTEST_SKIP() << "no capture on this machine:\n" << r.output;
    }
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find(
                  "a: the wire shows a RST on this connection, where an orderly close (FIN) was expected"),
              std::string::npos)
        << r.output;
    EXPECT_TRUE(
        std::regex_search(r.output, std::regex(R"(srv +127\.0\.0\.1:\d+ -> a +127\.0\.0\.1:\d+ +RST)")))
        << "the report shows the RST in the wire's timeline:\n"
        << r.output;
}

TEST(ScriptRunner, WithNoWireItRunsOnTheMachinesLoopbackAndShowsNoSegments) {
    const Outcome r = run(live_runner_command("drops_last_byte.script", "--no-wire"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("FAILED: a line comes back unchanged"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("the wire"), std::string::npos) << r.output;
}

TEST(ScriptRunner, AttachTalksToAServerStartedByHand) {
    // Start good_echo ourselves, as a student would under gdb, and hand its port to the runner.
    // The shell prints its pid and becomes good_echo, so only this server is stopped at the end
    // (other tests run their own good_echo at the same time).
    FILE* server = ::popen((std::string("echo $$; exec ") + SOCKLAB_BROKEN_BIN + "/good_echo").c_str(), "r");
    ASSERT_NE(server, nullptr);
    std::array<char, 128> line{};
    ASSERT_NE(std::fgets(line.data(), line.size(), server), nullptr);
    const pid_t pid = static_cast<pid_t>(std::stol(line.data()));
    ASSERT_NE(std::fgets(line.data(), line.size(), server), nullptr);
    std::smatch m;
    const std::string text(line.data());
    ASSERT_TRUE(std::regex_search(text, m, std::regex(R"(127\.0\.0\.1:([0-9]+))"))) << text;
    const Outcome r = run(runner_command("good_echo.script", "--attach srv=" + m[1].str()));
    ::kill(pid, SIGTERM);
    ::pclose(server);
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ScriptRunner, TheSameSeedSendsTheSameFragments) {
    const std::string script = "random_fragments.script";
    const Outcome first = run(runner_command(script, "--seed 7"));
    const Outcome again = run(runner_command(script, "--seed 7"));
    const Outcome other = run(runner_command(script, "--seed 8"));
    const auto sent = [](const std::string& output) {
        std::string lines;
        std::istringstream in(output);
        for (std::string l; std::getline(in, l);) {
            if (l.find(" -> ") != std::string::npos) {
                lines += l + "\n";
            }
        }
        return lines;
    };
    ASSERT_FALSE(sent(first.output).empty()) << first.output;
    EXPECT_EQ(sent(first.output), sent(again.output));
    EXPECT_NE(sent(first.output), sent(other.output));
}

TEST(ScriptRunner, AMissingProgramSaysWhereItWasLookedFor) {
    const Outcome r = run(runner_command("missing_program.script"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("cannot start BIN/no_such_program: No such file or directory"), std::string::npos)
        << r.output;
}

// --- the parser ---------------------------------------------------------------------------

TEST(ScriptParser, DecodesEscapesAndRepetition) {
    const auto s =
        parse_script("server srv x\nconnect a\na send \"\\r\\n\\t\\0\\\\\\\"\\x41\" \"ab\" * 3\n", "t");
    ASSERT_EQ(s.steps.size(), 3u);
    EXPECT_EQ(s.steps[2].data, std::string("\r\n\t\0\\\"Aababab", 13));
}

TEST(ScriptParser, KeepsUnknownEscapesInARegularExpression) {
    const auto s = parse_script("run c x\nc expect-stderr \"127\\.0\\.0\\.1:\\d+\"\n", "t");
    EXPECT_EQ(s.steps[1].data, "127\\.0\\.0\\.1:\\d+");
}

TEST(ScriptParser, ReadsDurationsChecksPointsAndHidden) {
    const auto s = parse_script(
        "timeout 3s\nserver srv x\nconnect a\ncheck \"one\" points 3 hidden\na expect-eof within 250ms\n",
        "t");
    EXPECT_EQ(s.timeout.count(), 3000);
    ASSERT_EQ(s.checks.size(), 1u);
    EXPECT_EQ(s.checks[0].points, 3);
    EXPECT_TRUE(s.checks[0].hidden);
    EXPECT_EQ(s.setup_end, 2u);
    EXPECT_EQ(s.steps[2].within->count(), 250);
}

TEST(ScriptParser, AScriptWithoutChecksIsOneCheckNamedAfterTheFile) {
    const auto s = parse_script("server srv x\n", "dir/whole.script");
    ASSERT_EQ(s.checks.size(), 1u);
    EXPECT_EQ(s.checks[0].name, "whole.script");
}

TEST(ScriptParser, RejectsAnUnclosedStringWithItsLine) {
    EXPECT_EQ(parse_error("server srv x\nconnect a\na send \"abc\n"),
              "t.script:3: a string is not closed: a \" is missing");
}

TEST(ScriptParser, RejectsAnUnknownEscapeInBytes) {
    EXPECT_EQ(parse_error("server srv x\nconnect a\na send \"\\q\"\n"),
              "t.script:3: unknown escape \\q (known: \\n \\r \\t \\0 \\\\ \\\" \\xHH)");
}

TEST(ScriptParser, RejectsANameUsedBeforeItIsDefined) {
    EXPECT_EQ(
        parse_error("a send \"x\"\n"),
        "t.script:1: 'a' is neither a statement nor a name defined above (by server, run, connect, accept "
        "or listen)");
}

TEST(ScriptParser, RejectsAMalformedDuration) {
    EXPECT_EQ(parse_error("pause 5 ms\n"),
              "t.script:1: '5' is not a valid how long to pause (a duration such as 500ms or 2s)");
}

TEST(ScriptParser, RejectsAnInvalidRegularExpression) {
    EXPECT_NE(parse_error("run c x\nc expect-stderr \"(\"\n")
                  .find("t.script:2: the regular expression \"(\" is not valid"),
              std::string::npos);
}

TEST(ScriptParser, RejectsTwoChecksWithOneName) {
    EXPECT_EQ(parse_error("check \"x\"\ncheck \"x\"\n"), "t.script:2: two checks are named \"x\"");
}

TEST(ScriptParser, RejectsAStatementKeywordAsAName) {
    EXPECT_EQ(
        parse_error("server server x\n"),
        "t.script:1: 'server' is a statement, so it cannot name a program or connection (say srv, lab04, a)");
}

TEST(ScriptParser, RejectsProgramActionsOnAConnection) {
    EXPECT_EQ(parse_error("server srv x\nconnect a\na signal TERM\n"),
              "t.script:3: signal needs a program started by server or run; 'a' is a connection");
}

// --- the caret ----------------------------------------------------------------------------

TEST(Caret, PointsAtTheFirstDifferingByte) {
    EXPECT_EQ(socklab::script::caret_picture("HELLO\n", "HELLP\n", ""),
              "expected: \"HELLO\\n\"\n"
              "actual:   \"HELLP\\n\"\n"
              "               ^ first difference at byte 4\n");
}

TEST(Caret, CountsEscapesInTheCaretsColumn) {
    EXPECT_EQ(socklab::script::caret_picture("a\r\nb", "a\r\nc", ""),
              "expected: \"a\\r\\nb\"\n"
              "actual:   \"a\\r\\nc\"\n"
              "                ^ first difference at byte 3\n");
}

TEST(Caret, SaysWhenActualIsShort) {
    const std::string picture = socklab::script::caret_picture("hello\n", "hello", "");
    EXPECT_NE(picture.find("first difference at byte 5 (actual ends there)"), std::string::npos) << picture;
}
