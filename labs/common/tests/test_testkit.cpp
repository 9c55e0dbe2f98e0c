// Tests of the test kit: the lab tests' failure messages and deadlines are only as good as these.
#include "socklab/check.hpp"
#include "socklab/testkit/bytes.hpp"
#include "socklab/testkit/child.hpp"
#include "socklab/testkit/deadline.hpp"
#include "socklab/testkit/loopback.hpp"
#include "socklab/testkit/names.hpp"
#include "socklab/testkit/process.hpp"
#include "socklab/testkit/watchdog.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

using namespace socklab::testkit;
using std::chrono::milliseconds;

namespace {

TEST(EscapeBytes, MakesControlBytesVisible) {
    EXPECT_EQ(escape_bytes(std::string("a\r\n\t\0\x7f\xff\"\\", 9)), R"("a\r\n\t\0\x7f\xff\"\\")");
}

TEST(EscapeBytes, ElidesTheMiddleOfALongString) {
    const std::string text = escape_bytes(std::string(1000, 'x'), 100);
    EXPECT_NE(text.find("900 bytes elided, 1000 in all"), std::string::npos) << text;
}

TEST(Names, AnErrnoIsPrintedWithItsNameAndNumber) {
    EXPECT_EQ(errno_text(ECONNREFUSED), "ECONNREFUSED (111)");
    EXPECT_EQ(errno_text(4242), "errno 4242");
}

TEST(Names, AnErrorCodeIsPrintedWithItsNameAndMeaning) {
    EXPECT_EQ(error_code_text(std::error_code(ECONNRESET, std::system_category())),
              "ECONNRESET (104): Connection reset by peer");
    EXPECT_EQ(error_code_text(std::make_error_code(std::errc::broken_pipe)), "EPIPE (32): Broken pipe");
}

TEST(Names, FileStatusFlagsArePrintedByName) {
    EXPECT_EQ(status_flags_text(O_RDWR | O_NONBLOCK), "O_RDWR|O_NONBLOCK (0x802)");
    EXPECT_EQ(status_flags_text(O_RDONLY), "O_RDONLY (0x0)");
    EXPECT_EQ(status_flags_text(O_WRONLY | O_APPEND | 0x40000000),
              "O_WRONLY|O_APPEND|0x40000000 (0x40000401)");
}

TEST(Names, DescriptorFlagsAndFamiliesArePrintedByName) {
    EXPECT_EQ(descriptor_flags_text(FD_CLOEXEC), "FD_CLOEXEC (0x1)");
    EXPECT_EQ(descriptor_flags_text(0), "none (0x0)");
    EXPECT_EQ(family_text(AF_INET), "AF_INET (2)");
    EXPECT_EQ(family_text(99), "address family (99)");
}

TEST(Names, TheFlagsOfASocketAreReadAndNamed) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(is_nonblocking(fd));
    EXPECT_TRUE(closes_on_exec(fd));
    EXPECT_EQ(describe_flags(fd),
              "status flags O_RDWR|O_NONBLOCK (0x802), descriptor flags FD_CLOEXEC (0x1)");
    ::close(fd);
    EXPECT_FALSE(is_nonblocking(fd));
    EXPECT_EQ(describe_flags(fd), "fcntl(" + std::to_string(fd) + ", F_GETFL) failed: EBADF (9)");
}

TEST(DescribeDifference, PutsTheCaretUnderTheFirstDifferingByte) {
    const std::string picture = describe_difference("hello\n", "hello\r\n");
    EXPECT_EQ(picture, "first difference at byte 5 (expected 6 bytes, got 7)\n"
                       "  expected: \"hello\\n\"\n"
                       "  actual:   \"hello\\r\\n\"\n"
                       "                  ^");
}

TEST(DescribeDifference, ReportsAShortActualAtTheEndOfIt) {
    EXPECT_EQ(first_difference("abc", "ab"), 2U);
    EXPECT_EQ(first_difference("abc", "abc"), std::string_view::npos);
}

TEST(Deadline, RemainingNeverGoesNegative) {
    const Deadline deadline(milliseconds(0));
    EXPECT_TRUE(deadline.expired());
    EXPECT_EQ(deadline.remaining(), milliseconds(0));
    EXPECT_EQ(deadline.poll_timeout(), 0);
}

TEST(WaitUntil, ThrowsTimeoutErrorNamingWhatDidNotHappen) {
    try {
        wait_until([] { return false; }, Deadline(milliseconds(20)), "the flag to be set");
        FAIL() << "no TimeoutError";
    } catch (const TimeoutError& e) {
        EXPECT_NE(std::string(e.what()).find("the flag to be set"), std::string::npos) << e.what();
    }
}

TEST(RunProgram, CollectsStdoutStderrAndTheExitCode) {
    const RunResult run = run_program("/bin/sh", {"-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(run.status.describe(), "exit code 3");
    EXPECT_EQ(run.out, "out\n");
    EXPECT_EQ(run.err, "err\n");
}

TEST(RunProgram, FeedsStdin) {
    EXPECT_EQ(run_program("/bin/cat", {}, "abc\n").out, "abc\n");
}

TEST(RunProgram, SurvivesAChildThatExitsWithoutReadingStdin) {
    // Writing to a pipe nobody reads raises SIGPIPE; the kit must absorb it.
    const RunResult run = run_program("/bin/true", {}, std::string(1 << 20, 'x'));
    EXPECT_EQ(run.status.describe(), "exit code 0");
}

TEST(RunProgram, NamesASignalThatKilledTheChild) {
    EXPECT_EQ(run_program("/bin/sh", {"-c", "kill -SEGV $$"}).status.describe(), "killed by SIGSEGV");
}

TEST(RunProgram, GivesUpAtTheDeadlineAndSaysWhatWasPrinted) {
    try {
        (void)run_program("/bin/sh", {"-c", "echo started; exec sleep 30"}, {}, milliseconds(200));
        FAIL() << "no TimeoutError";
    } catch (const TimeoutError& e) {
        EXPECT_NE(std::string(e.what()).find("still running after 200 ms"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("started"), std::string::npos) << e.what();
    }
}

TEST(ChildProcess, ReadsStdoutLineByLine) {
    ChildProcess child("/bin/sh", {"-c", "echo one; echo two"});
    EXPECT_EQ(child.read_stdout_line(Deadline(milliseconds(2000))), "one");
    EXPECT_EQ(child.read_stdout_line(Deadline(milliseconds(2000))), "two");
    EXPECT_EQ(child.read_stdout_line(Deadline(milliseconds(2000))), std::nullopt);
}

TEST(ChildProcess, KillsItsWholeProcessGroupWhenDestroyed) {
    pid_t grandchild = 0;
    {
        ChildProcess child("/bin/sh", {"-c", "sleep 30 & echo $!; wait"});
        grandchild = std::stoi(child.read_stdout_line(Deadline(milliseconds(2000))).value());
    }
    // The grandchild was killed with the group: gone, or a zombie waiting for init to reap it.
    const auto dead = [grandchild] {
        const RunResult state = run_program("/bin/sh", {"-c", "cat /proc/" + std::to_string(grandchild) +
                                                                  "/stat 2>/dev/null | cut -d' ' -f3"});
        return state.out.empty() || state.out == "Z\n";
    };
    wait_until(dead, Deadline(milliseconds(2000)), "the grandchild to be killed");
}

TEST(Loopback, CarriesBytesBothWaysAndSeesEof) {
    LoopbackListener listener;
    ASSERT_NE(listener.port(), 0);
    socklab::UniqueFd client = connect_loopback(listener.port(), Deadline(milliseconds(2000)));
    socklab::UniqueFd server = listener.accept(Deadline(milliseconds(2000)));
    send_all(client.get(), "hello\nrest", Deadline(milliseconds(2000)));
    EXPECT_EQ(recv_line(server.get(), Deadline(milliseconds(2000))), "hello\n");
    EXPECT_EQ(recv_exactly(server.get(), 4, Deadline(milliseconds(2000))), "rest");
    client.reset();
    EXPECT_EQ(recv_until_eof(server.get(), Deadline(milliseconds(2000))), "");
}

TEST(Loopback, AcceptGivesUpAtTheDeadline) {
    LoopbackListener listener;
    EXPECT_THROW((void)listener.accept(Deadline(milliseconds(20))), TimeoutError);
}

TEST(Loopback, RecvQuotesWhatCameBeforeTheDeadline) {
    LoopbackListener listener;
    socklab::UniqueFd client = connect_loopback(listener.port(), Deadline(milliseconds(2000)));
    socklab::UniqueFd server = listener.accept(Deadline(milliseconds(2000)));
    send_all(client.get(), "par\r", Deadline(milliseconds(2000)));
    try {
        (void)recv_line(server.get(), Deadline(milliseconds(50)));
        FAIL() << "no TimeoutError";
    } catch (const TimeoutError& e) {
        EXPECT_NE(std::string(e.what()).find(R"("par\r")"), std::string::npos) << e.what();
    }
}

TEST(Loopback, CloseWithResetMakesThePeerSeeEconnreset) {
    LoopbackListener listener;
    socklab::UniqueFd client = connect_loopback(listener.port(), Deadline(milliseconds(2000)));
    socklab::UniqueFd server = listener.accept(Deadline(milliseconds(2000)));
    close_with_reset(std::move(server));
    try {
        (void)recv_until_eof(client.get(), Deadline(milliseconds(2000)));
        FAIL() << "the reset was not seen";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::error_code(ECONNRESET, std::system_category())) << e.what();
    }
}

TEST(Loopback, ConnectToAClosedPortIsRefused) {
    std::uint16_t port = 0;
    {
        LoopbackListener listener;
        port = listener.port();
    }
    try {
        (void)connect_loopback(port, Deadline(milliseconds(2000)));
        FAIL() << "connect succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::error_code(ECONNREFUSED, std::system_category())) << e.what();
    }
}

TEST(Tripwire, NamesTheTestWhoseSendRaisedSigpipe) {
    const RunResult run = run_program(program_path("sigpipe_probe"), {});
    EXPECT_EQ(run.status.describe(), "killed by SIGPIPE");
    EXPECT_NE(run.err.find("SIGPIPE in test \"probe sends without MSG_NOSIGNAL to a closed peer\""),
              std::string::npos)
        << run.err;
    EXPECT_NE(run.err.find("docs/reference/testkit.md#the-sigpipe-tripwire"), std::string::npos) << run.err;
}

// A sanitizer's report ends with the test it happened in and the docs section of that test, even
// where the test itself passed (a ThreadSanitizer report does not fail a check). Only the
// sanitizer presets build the probe with a sanitizer; in the others there is no report to read.
TEST(Sanitizers, AReportEndsWithTheTestAndItsReadLine) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    const RunResult run = run_program(program_path("sanitizer_probe"), {});
    EXPECT_NE(run.status.describe(), "exit code 0") << run.err;
    EXPECT_NE(run.err.find("SUMMARY: "), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("*** reported during test \"probe makes the sanitizer it was built with report\""),
              std::string::npos)
        << run.err;
    EXPECT_NE(run.err.find("\nread: docs/reference/testkit.md#sanitizers\n"), std::string::npos) << run.err;
#else
    GTEST_SKIP() << "this build has no sanitizer (the asan and tsan presets have)";
#endif
}

// What a student reads when a check with an errno or a flag in it fails: names and numbers,
// never a number alone (tools/checks/check_failure_names.py keeps the labs' checks in these forms).
TEST(Names, AFailingCheckPrintsErrnoValuesAndFlagsByName) {
    const RunResult run = run_program(program_path("names_probe"), {});
    const std::string out = run.out + run.err;
    EXPECT_EQ(run.status.describe(), "exit code 5") << out; // Catch2: the number of failed tests
    for (const char* expected : {
             "HasErrno(std::errc::connection_reset)",
             "has error code ECONNRESET (104)",
             "actual code: ECONNREFUSED (111): Connection refused",
             "HasErrno(std::errc::connection_refused)",
             "ECONNRESET (104): Connection reset by peer\n  ==\n  EPIPE (32)",
             "status flags O_RDWR|O_NONBLOCK (0x802), descriptor flags FD_CLOEXEC (0x1)",
             "::shutdown(-1, SHUT_WR) failed: EBADF (9), Bad file descriptor",
         }) {
        EXPECT_NE(out.find(expected), std::string::npos) << "missing: " << expected << "\n" << out;
    }
    EXPECT_EQ(out.find("HasErrno(1"), std::string::npos) << out;
}

TEST(PrivateNetns, HasNoRouteOffTheMachine) {
    const ChildOutcome outcome = run_in_private_netns([] {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(9);
        address.sin_addr.s_addr = htonl(0xC0000201U); // 192.0.2.1, a documentation address
        const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
        const int err = errno;
        ::close(fd);
        return rc == -1 ? std::string(::strerrorname_np(err)) : std::string("connected");
    });
    if (!outcome.ran) {
        GTEST_SKIP() << outcome.reason;
    }
    EXPECT_EQ(outcome.result, "ENETUNREACH");
}

TEST(PrivateNetns, ReportsAnExceptionFromTheBody) {
    const ChildOutcome outcome =
        run_in_private_netns([]() -> std::string { throw std::runtime_error("boom"); });
    if (!outcome.ran) {
        GTEST_SKIP() << outcome.reason;
    }
    EXPECT_EQ(outcome.result, "exception: boom");
}

// A body's own child (a student's server that forks, a fork bomb) inherits the report's pipe: the
// report ends when the body's process exits, not when every holder of the pipe has closed it.
TEST(RunInChild, EndsWhenTheChildExitsThoughAProcessItForkedHoldsThePipe) {
    const ChildOutcome outcome = run_in_child(
        [] {
            const pid_t lingering = ::fork();
            if (lingering == 0) {
                ::alarm(10); // gone by itself even if this test fails before it kills it
                for (;;) {
                    ::pause();
                }
            }
            return std::to_string(lingering);
        },
        ChildSetup{}, milliseconds(2000));
    ASSERT_TRUE(outcome.ran) << outcome.reason;
    const pid_t lingering = std::stoi(outcome.result);
    ASSERT_GT(lingering, 0);
    EXPECT_EQ(::kill(lingering, 0), 0) << "the forked process is still there, holding the pipe";
    ::kill(lingering, SIGKILL);
}

// --- The watchdog: a blocking call under a deadline -----------------------------------------------

TEST(Watchdog, GivesBackTheValueOfACallThatReturnsInTime) {
    EXPECT_EQ(returns_within(
                  "a quick call", Deadline(milliseconds(2000)), [] {}, "", [] { return 42; }),
              42);
}

TEST(Watchdog, ThrowsAgainWhatTheCallThrew) {
    EXPECT_THROW(call_within(
                     "a throwing call", Deadline(milliseconds(2000)), [] {}, "",
                     [] { throw std::invalid_argument("bad"); }),
                 std::invalid_argument);
}

TEST(Watchdog, WakesACallBlockedInAcceptAndFailsNamingItAndTheHint) {
    LoopbackListener listener; // nobody connects: accept blocks until the socket is shut down
    const int fd = listener.fd();
    try {
        call_within(
            "accept on the test's listener", Deadline(milliseconds(200)), [fd] { ::shutdown(fd, SHUT_RD); },
            "is anyone connecting?", [fd] { (void)::accept(fd, nullptr, nullptr); });
        FAIL() << "no TimeoutError";
    } catch (const TimeoutError& e) {
        EXPECT_STREQ(e.what(), "accept on the test's listener did not return within 200 ms (it returned only "
                               "when the test shut its socket down): is anyone connecting?");
    }
}

TEST(Watchdog, EndsTheProgramWithTheDocsSectionWhenTheCallNeverReturns) {
    EXPECT_EXIT(
        {
            set_current_docs_section("docs/labs/02-server.md#step-3-accept-a-connection");
            call_within(
                "a call that never returns", Deadline(milliseconds(100)), [] {}, "does it loop?",
                [] {
                    for (;;) {
                        ::pause();
                    }
                });
        },
        ::testing::ExitedWithCode(1),
        "a call that never returns did not return within 100 ms, nor when the test shut its socket down: "
        "does it loop\?(.|\n)*read: docs/labs/02-server.md#step-3-accept-a-connection");
}

TEST(Watchdog, ShutsDownAConnectWaitingForAServerThatNeverAnswers) {
    FullListener silent; // drops every SYN: a blocking connect would wait about two minutes
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    const timeval bound{3, 0}; // connect(2) gives up after SO_SNDTIMEO: this test cannot hang
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound), 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(silent.port());
    std::string waker_error;
    std::thread waker([&] {
        try {
            wait_until([] { return shut_down_connecting_sockets() > 0; }, Deadline(milliseconds(2000)),
                       "a socket of this process in SYN_SENT");
        } catch (const std::exception& e) {
            waker_error = e.what();
        }
    });
    const int result = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int error = errno;
    waker.join();
    ::close(fd);
    EXPECT_EQ(waker_error, "");
    EXPECT_EQ(result, -1);
    EXPECT_EQ(error, ECONNRESET) << ::strerror(error);
}

} // namespace
