// socklab-wire's own tests: the command run as a student runs it, on a lab's client, as root and
// as another user, with its .pcap read back by tcpdump; and a lab's wire test where no capture can
// be made, which must skip with the reason rather than fail.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Outcome {
    int exit_code = -1;
    std::string output; // stdout and stderr
};

Outcome run(const std::string& command) {
    Outcome r;
    FILE* pipe = ::popen((command + " </dev/null 2>&1").c_str(), "r");
    if (pipe == nullptr) {
        return r;
    }
    std::array<char, 4096> buffer{};
    for (std::size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) {
        r.output.append(buffer.data(), n);
    }
    const int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

const std::string kWire = SOCKLAB_WIRE_PROGRAM;
const std::string kClient = std::string(SOCKLAB_BIN_DIR) + "/lab03-client";

// The timeline part of socklab-wire's output (from its "==> the wire" line on).
std::string timeline_of(const std::string& output) {
    const auto at = output.find("==> the wire");
    return at == std::string::npos ? "" : output.substr(at);
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) {
        ++n;
    }
    return n;
}

const std::string kAsNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

// Why a test that runs program as nobody cannot run here (this run is not root, or nobody cannot
// reach the build), or "".
std::string why_not_as_nobody(const std::string& program) {
    if (::geteuid() != 0) {
        return "needs root to become another user (nobody)";
    }
    if (run(kAsNobody + "test -x " + program).exit_code != 0) {
        return "nobody cannot reach " + program + " (a folder closed to others on the way)";
    }
    return "";
}

// Whether this machine can capture at all (a private namespace and CAP_NET_RAW in it).
std::string why_no_capture() {
    const Outcome probe = run(kWire + " -- true");
    return probe.exit_code == 77 ? probe.output : "";
}

} // namespace

TEST(WireCommand, ARefusedConnectShowsTheSynAndTheRstAckThatAnswersIt) {
    if (const std::string why = why_no_capture(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    const Outcome o = run(kWire + " -- " + kClient + " 127.0.0.1:9");
    EXPECT_EQ(o.exit_code, 69) << o.output; // the client's own code: refused
    const std::string t = timeline_of(o.output);
    std::smatch syn;
    std::smatch rst;
    ASSERT_TRUE(
        std::regex_search(t, syn, std::regex(R"(client 127\.0\.0\.1:\d+ +-> server 127\.0\.0\.1:9 +SYN )")))
        << o.output;
    ASSERT_TRUE(std::regex_search(
        t, rst, std::regex(R"(server 127\.0\.0\.1:9 +-> client 127\.0\.0\.1:\d+ +RST ACK )")))
        << o.output;
    EXPECT_LT(syn.position(0), rst.position(0)) << o.output;
    EXPECT_EQ(count(t, " ms  "), 2U) << "a refused connect is two segments:\n" << o.output;
}

TEST(WireCommand, ATimeoutShowsTheSynSentAgainAndNeverAnswered) {
    if (const std::string why = why_no_capture(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    // refpeer blackhole: a listener whose accept queue is full, so the kernel drops each new SYN.
    const Outcome o =
        run(kWire + " --peer 'refpeer blackhole' -- " + kClient + " --timeout-ms 1500 '127.0.0.1:{port}'");
    EXPECT_EQ(o.exit_code, 75) << o.output; // timed out
    const std::string t = timeline_of(o.output);
    EXPECT_GE(count(t, "  SYN      seq 0"), 2U) << "the SYN is sent again when unanswered:\n" << o.output;
    EXPECT_EQ(count(t, "SYN ACK"), 0U) << o.output;
    EXPECT_EQ(count(t, "RST"), 0U) << o.output;
}

// wire.md: nc and socat work as the command, found on PATH, with what is piped into socklab-wire.
TEST(WireCommand, NcAndSocatAreCommandsToo) {
    if (const std::string why = why_no_capture(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    for (const std::string command : {"nc -N 127.0.0.1 {port}", "socat - TCP:127.0.0.1:{port}"}) {
        SCOPED_TRACE(command);
        const std::string program = command.substr(0, command.find(' '));
        if (run("command -v " + program).exit_code != 0) {
            ADD_FAILURE() << program
                          << " is not installed (./socklab deps installs netcat-openbsd and socat)";
            continue;
        }
        // Within braces, the </dev/null that run() adds is the group's: socklab-wire reads the pipe.
        const Outcome o =
            run("{ printf 'hello\\n' | " + kWire + " --peer 'refpeer echo' -- " + command + "; }");
        EXPECT_EQ(o.exit_code, 0) << o.output;
        EXPECT_EQ(o.output.rfind("hello\n", 0), 0U) << "the echo comes first:\n" << o.output;
        const std::string t = timeline_of(o.output);
        EXPECT_TRUE(std::regex_search(
            t, std::regex(
                   R"(client 127\.0\.0\.1:\d+ +-> server 127\.0\.0\.1:\d+ +PSH ACK .* 6 bytes "hello\\n")")))
            << o.output;
        EXPECT_TRUE(std::regex_search(
            t, std::regex(
                   R"(server 127\.0\.0\.1:\d+ +-> client 127\.0\.0\.1:\d+ +PSH ACK .* 6 bytes "hello\\n")")))
            << o.output;
    }
}

TEST(WireCommand, ACommandNamedWithoutAFolderIsFoundOnPathAndItsExitCodeIsReturned) {
    if (const std::string why = why_no_capture(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    const Outcome o = run("PATH=/usr/bin:/bin " + kWire + " -- sh -c 'echo typed; exit 3'");
    EXPECT_EQ(o.exit_code, 3) << o.output;
    EXPECT_EQ(o.output.rfind("typed\n", 0), 0U) << "the command's own output comes first:\n" << o.output;
    EXPECT_NE(o.output.find("==> the wire: 0 segments"), std::string::npos) << o.output;
}

TEST(WireCommand, APeerWhoseFirstLineIsNotListeningOnIsReportedWithThatLine) {
    if (const std::string why = why_no_capture(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    const Outcome o = run(kWire + " --peer 'echo ready' -- true");
    EXPECT_EQ(o.exit_code, 69) << o.output;
    EXPECT_NE(o.output.find("socklab-wire: the peer 'echo ready' printed 'ready' as its first line, where "
                            "'listening on 127.0.0.1:PORT' was expected"),
              std::string::npos)
        << o.output;
}

TEST(WireCommand, APeerThatExitsBeforeListeningIsReportedWithItsStderrAndTheCommandIsNotRun) {
    if (const std::string why = why_no_capture(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    const fs::path never = fs::temp_directory_path() / ("socklab-wire-never-" + std::to_string(::getpid()));
    fs::remove(never);
    const Outcome o = run(kWire + " --peer 'refpeer no-such-mode' -- touch " + never.string());
    EXPECT_EQ(o.exit_code, 69) << o.output;
    EXPECT_NE(
        o.output.find("socklab-wire: the peer 'refpeer no-such-mode' exited with code 64 before printing "
                      "'listening on 127.0.0.1:PORT'"),
        std::string::npos)
        << o.output;
    EXPECT_NE(o.output.find("refpeer: "), std::string::npos) << "the peer's stderr is shown:\n" << o.output;
    EXPECT_FALSE(fs::exists(never)) << "the command ran:\n" << o.output;
    fs::remove(never);
}

TEST(WireCommand, TheCommandHoldsNoSocketOfTheCapture) {
    if (const std::string why = why_no_capture(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    // What the command has open: its stdio (a pipe, /dev/null) and nothing of socklab-wire's.
    const Outcome o =
        run(kWire + " -- sh -c 'for f in /proc/$$/fd/*; do echo \"fd $f: $(readlink $f)\"; done'");
    EXPECT_EQ(o.exit_code, 0) << o.output;
    EXPECT_NE(o.output.find("fd /proc/"), std::string::npos) << o.output;
    EXPECT_EQ(o.output.find("socket:"), std::string::npos) << "the command inherited a socket:\n" << o.output;
}

TEST(WireCommand, ThePcapFileHoldsTheSameSegmentsForTcpdump) {
    if (const std::string why = why_no_capture(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    if (run("command -v tcpdump").exit_code != 0) {
        GTEST_SKIP() << "tcpdump is not installed (./socklab deps installs it)";
    }
    const fs::path pcap =
        fs::temp_directory_path() / ("socklab-wire-test-" + std::to_string(::getpid()) + ".pcap");
    const Outcome o = run(kWire + " --pcap " + pcap.string() + " -- " + kClient + " 127.0.0.1:9");
    ASSERT_TRUE(fs::exists(pcap)) << o.output;
    const Outcome read = run("tcpdump -nr " + pcap.string());
    fs::remove(pcap);
    EXPECT_EQ(read.exit_code, 0) << read.output;
    EXPECT_EQ(count(read.output, "Flags [S]"), 1U) << read.output;
    EXPECT_EQ(count(read.output, "Flags [R.]"), 1U) << read.output;
    EXPECT_EQ(count(read.output, "127.0.0.1.9:"), 1U) << "one segment to port 9:\n" << read.output;
}

TEST(WireCommand, AsAnotherUserItCapturesInAUserNamespace) {
    if (const std::string why = why_not_as_nobody(kWire); !why.empty()) {
        GTEST_SKIP() << why;
    }
    if (run(kAsNobody + "unshare --user true").exit_code != 0) {
        GTEST_SKIP() << "this machine allows no user namespace to another user";
    }
    const Outcome o = run(kAsNobody + kWire + " -- " + kClient + " 127.0.0.1:9");
    EXPECT_EQ(o.exit_code, 69) << o.output;
    const std::string t = timeline_of(o.output);
    EXPECT_NE(t.find("SYN"), std::string::npos) << o.output;
    EXPECT_NE(t.find("RST ACK"), std::string::npos) << o.output;
}

TEST(WireCommand, WhereNoNamespaceCanBeMadeItSaysWhyAndExits77) {
    if (const std::string why = why_not_as_nobody(kWire); !why.empty()) {
        GTEST_SKIP() << why;
    }
    // As nobody (no CAP_SYS_ADMIN) behind a filter that refuses user namespaces, as Docker's does.
    const Outcome o = run(kAsNobody + std::string(SOCKLAB_NO_USER_NAMESPACES) + " " + kWire + " -- " +
                          kClient + " 127.0.0.1:9");
    EXPECT_EQ(o.exit_code, 77) << o.output;
    EXPECT_NE(o.output.find("cannot make a private network namespace"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("unprivileged user namespaces"), std::string::npos) << o.output;
    EXPECT_EQ(o.output.find("==> the wire"), std::string::npos) << "nothing was captured:\n" << o.output;
}

TEST(WireCommand, WhereTheNamespaceHoldsNoCapabilityItSaysWhyAndExits77) {
    if (const std::string why = why_not_as_nobody(kWire); !why.empty()) {
        GTEST_SKIP() << why;
    }
    // As on Ubuntu 24.04: the user namespace is made, but what needs a capability in it (bringing
    // loopback up, capturing) is refused with EPERM.
    const Outcome o = run(kAsNobody + std::string(SOCKLAB_NO_USER_NAMESPACES) +
                          " --capabilities-denied-inside " + kWire + " -- " + kClient + " 127.0.0.1:9");
    EXPECT_EQ(o.exit_code, 77) << o.output;
    EXPECT_NE(o.output.find("Operation not permitted"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("apparmor_restrict_unprivileged_userns"), std::string::npos) << o.output;
    EXPECT_EQ(o.output.find("==> the wire"), std::string::npos) << "nothing was captured:\n" << o.output;
}

// A lab's wire test, run as CTest runs it (SOCKLAB_UNDER_CTEST=1: a skip exits 77), as nobody where
// no capture can be made: it skips, and says why, in both of the machines above.
TEST(WireCommand, ALabsWireTestSkipsWithTheReasonWhereNoCaptureCanBeMade) {
    const std::string tests = std::string(SOCKLAB_BIN_DIR) + "/lab03_tests";
    if (const std::string why = why_not_as_nobody(tests); !why.empty()) {
        GTEST_SKIP() << why;
    }
    const std::string test_name = "'TcpClient reports refused when the SYN it sent is answered by RST ACK'";
    for (const std::string filter : {"", " --capabilities-denied-inside"}) {
        SCOPED_TRACE("no_user_namespaces" + filter);
        const Outcome o = run("SOCKLAB_UNDER_CTEST=1 " + kAsNobody + std::string(SOCKLAB_NO_USER_NAMESPACES) +
                              filter + " " + tests + " " + test_name);
        EXPECT_EQ(o.exit_code, 77) << o.output;
        // The reason is the refused call's (EPERM; under ThreadSanitizer, whose thread forbids a user
        // namespace to the test's child, EINVAL), after the skip's own words.
        EXPECT_TRUE(std::regex_search(o.output, std::regex("SKIPPED: the wire cannot be captured here: .*("
                                                           "Operation not permitted|Invalid argument)")))
            << o.output;
    }
}
