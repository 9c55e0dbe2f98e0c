// The grader's sandbox (tools/sandbox/), proven from inside: what a program there can see and do.
// Each test runs a small shell command in the sandbox as the grader would, and checks what it
// printed. They skip, with the reason, where bubblewrap cannot make a sandbox.
#include "bounded.hpp"
#include "cgroup.hpp"
#include "launcher.hpp"
#include "process.hpp"
#include "sandbox.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using socklab::grade::Bounds;
using socklab::grade::run_bounded;

namespace {

const fs::path kRoot = SOCKLAB_SOURCE_DIR;

// The policy of a test program as the grader runs it: as root, bwrap starts as root and the
// program runs as a user id of no account (61999 here); otherwise in a user namespace.
socklab::sandbox::Policy grader_like() {
    socklab::sandbox::Policy p;
    p.enabled = true;
    p.privileged = ::geteuid() == 0;
    p.uid = ::geteuid() == 0 ? 61999 : -1;
    p.binds = {{(kRoot / "labs").string(), false}};
    p.fresh = {"/scratch"};
    p.cwd = "/scratch";
    return p;
}

// Runs sh -c command in the sandbox; skips the test where no sandbox can be made.
std::string inside(const std::string& command, socklab::sandbox::Policy p = grader_like()) {
    if (const std::string why = socklab::sandbox::unavailable(p.uid, p.privileged); !why.empty()) {
        throw std::runtime_error(why);
    }
    Bounds bounds;
    bounds.wall = std::chrono::seconds(10);
    bounds.confinement = p;
    bounds.cwd = p.cwd;
    const auto run = run_bounded({"/bin/sh", "-c", command}, {"GIVEN=yes"}, bounds);
    return run.output + "exit " + std::to_string(run.exit_code) + "\n";
}

#define INSIDE(command)                                                                                      \
    [&] {                                                                                                    \
        try {                                                                                                \
            return inside(command);                                                                          \
        } catch (const std::runtime_error& e) {                                                              \
            return std::string("SKIP ") + e.what();                                                          \
        }                                                                                                    \
    }()

#define SKIP_IF_NO_SANDBOX(text)                                                                             \
    if ((text).rfind("SKIP ", 0) == 0) {                                                                     \
        GTEST_SKIP() << "no sandbox here: " << (text).substr(5);                                             \
    }

} // namespace

TEST(Sandbox, TheReferenceSolutionsAndTheGraderDoNotExistInside) {
    std::string script = "for p in " + (kRoot / "solutions").string() + " " +
                         (kRoot / "instructor").string() + " " + (kRoot / "tools").string() + " " +
                         (kRoot / ".git").string() +
                         " /etc/shadow; do test -e $p && echo \"sees $p\"; done; ";
    // A folder of the machine that holds the tree (a chroot's /root, say) exists only as the way to
    // it: the one entry on that way, and nothing else of it.
    for (const std::string folder : {"/root", "/home", "/var", "/run"}) {
        const std::string tree = kRoot.string();
        if (tree.rfind(folder + "/", 0) == 0) {
            const std::string way =
                tree.substr(folder.size() + 1, tree.find('/', folder.size() + 1) - folder.size() - 1);
            script += "for e in $(ls -A " + folder + "); do [ \"$e\" = '" + way + "' ] || echo \"sees " +
                      folder + "/$e\"; done; ";
        } else {
            script += "test -e " + folder + " && echo \"sees " + folder + "\"; ";
        }
    }
    const std::string out = INSIDE(script + "true");
    SKIP_IF_NO_SANDBOX(out);
    EXPECT_EQ(out, "exit 0\n");
}

TEST(Sandbox, TheGivenCodeIsThereAndReadOnly) {
    const std::string out =
        INSIDE("test -r " + (kRoot / "labs/manifest.txt").string() + " && echo readable; touch " +
               (kRoot / "labs/x").string() + " 2>/dev/null || echo read-only");
    SKIP_IF_NO_SANDBOX(out);
    EXPECT_EQ(out, "readable\nread-only\nexit 0\n");
}

TEST(Sandbox, TheEnvironmentIsOnlyWhatTheGraderGives) {
    ::setenv("SOCKLAB_SANDBOX_TEST_SECRET", "do-not-show", 1);
    const std::string out = INSIDE("env | sort");
    SKIP_IF_NO_SANDBOX(out);
    EXPECT_EQ(out.find("do-not-show"), std::string::npos) << out;
    EXPECT_NE(out.find("GIVEN=yes"), std::string::npos) << out;
    EXPECT_NE(out.find("PATH=/usr/local/bin:/usr/bin:/bin"), std::string::npos) << out;
}

TEST(Sandbox, AProgramHasNoControllingTerminalAndIsAloneInItsPidNamespace) {
    // No terminal: opening /dev/tty fails (a TIOCSTI there would type into the instructor's shell).
    const std::string out =
        INSIDE("(: < /dev/tty) 2>/dev/null && echo has-a-tty || echo no-tty; ls /proc | grep -c '^[0-9]'");
    SKIP_IF_NO_SANDBOX(out);
    // Its processes: bwrap's reaper, the shell, ls and grep of the pipeline (at most).
    std::istringstream lines(out);
    std::string tty;
    int processes = 0;
    lines >> tty >> processes;
    EXPECT_EQ(tty, "no-tty");
    EXPECT_LE(processes, 5) << out;
}

TEST(Sandbox, AsRootTheProgramRunsAsTheGradingUserWithNoCapabilities) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "the grader changes user only as root";
    }
    const std::string out =
        INSIDE("id -u; id -g; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status | tr -s '\\t ' ' '");
    SKIP_IF_NO_SANDBOX(out);
    EXPECT_EQ(out, "61999\n61999\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\n"
                   "CapBnd: 0000000000000000\nexit 0\n");
}

TEST(Sandbox, ScratchAndTmpAreFreshAndWritable) {
    const std::string out = INSIDE("ls -A /tmp /scratch; echo x > /tmp/f && echo x > f && echo wrote");
    SKIP_IF_NO_SANDBOX(out);
    EXPECT_EQ(out, "/scratch:\n\n/tmp:\nwrote\nexit 0\n");
}

TEST(Sandbox, SystemVIpcObjectsDoNotOutliveTheSandbox) {
    const std::string out = INSIDE("ipcmk -M 4096 -p 0600 >/dev/null && ipcs -m | grep -c 0x || true");
    SKIP_IF_NO_SANDBOX(out);
    EXPECT_EQ(out.substr(0, 2), "1\n") << out; // it was made, inside
    std::ifstream shm("/proc/sysvipc/shm");
    std::string line;
    std::getline(shm, line);
    int outside_of_user = 0;
    while (std::getline(shm, line)) {
        std::istringstream words(line);
        std::string field;
        std::vector<std::string> fields;
        while (words >> field) {
            fields.push_back(field);
        }
        outside_of_user += fields.size() > 8 && fields[7] == "61999" ? 1 : 0;
    }
    EXPECT_EQ(outside_of_user, 0) << "a shared memory segment of the sandbox's user is left on the machine";
}

TEST(Sandbox, ASignalMeantForTheProgramReachesItNotBwrap) {
    socklab::sandbox::Policy p = grader_like();
    if (const std::string why = socklab::sandbox::unavailable(p.uid, p.privileged); !why.empty()) {
        GTEST_SKIP() << "no sandbox here: " << why;
    }
    // The program traps SIGTERM and says so; a signal to bwrap would kill the sandbox instead.
    socklab::script::Process program("trap", {"/bin/sh", "-c",
                                              "trap 'echo got-term; exit 3' TERM; echo ready; "
                                              "while :; do sleep 0.05; done"});
    program.confine(p);
    std::string error;
    ASSERT_TRUE(program.start(error)) << error;
    std::string out;
    char buffer[256];
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool signalled = false;
    while (std::chrono::steady_clock::now() < until && !program.poll_exit()) {
        const ssize_t n = ::read(program.stdout_fd(), buffer, sizeof buffer);
        if (n > 0) {
            out.append(buffer, static_cast<std::size_t>(n));
        }
        if (!signalled && out.find("ready") != std::string::npos) {
            program.send_signal(SIGTERM);
            signalled = true;
        }
        pollfd ready{program.stdout_fd(), POLLIN, 0};
        (void)::poll(&ready, 1, 20); // a deadline, not a sleep: wakes as soon as it writes
    }
    for (ssize_t n; (n = ::read(program.stdout_fd(), buffer, sizeof buffer)) > 0;) {
        out.append(buffer, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(out, "ready\ngot-term\n");
    EXPECT_EQ(program.status_text(), "exited with code 3");
}

TEST(Sandbox, AKilledProgramIsReportedWithItsSignal) {
    const std::string out = INSIDE("kill -SEGV $$");
    SKIP_IF_NO_SANDBOX(out);
    Bounds bounds;
    bounds.confinement = grader_like();
    bounds.cwd = "/scratch";
    const auto run = run_bounded({"/bin/sh", "-c", "kill -SEGV $$"}, {}, bounds);
    EXPECT_EQ(run.status_text(), "was killed by SIGSEGV");
}

TEST(Sandbox, ACgroupHoldsEveryProcessOfASubmissionAndKillsThemAll) {
    std::string why;
    auto group = socklab::sandbox::Group::make("test-" + std::to_string(::getpid()), std::uint64_t{256} << 20,
                                               32, why);
    if (!group) {
        GTEST_SKIP() << "no cgroup here: " << why;
    }
    socklab::sandbox::Policy p = grader_like();
    p.cgroups = group->folders();
    if (const std::string no = socklab::sandbox::unavailable(p.uid, p.privileged); !no.empty()) {
        GTEST_SKIP() << "no sandbox here: " << no;
    }
    // Forks that leave their session and group; the pids cap (32) stops the loop.
    Bounds bounds;
    bounds.confinement = p;
    bounds.cwd = "/scratch";
    bounds.wall = std::chrono::seconds(5);
    const auto run = run_bounded({"/bin/sh", "-c",
                                  "for i in $(seq 64); do setsid sleep 60 & done 2>/dev/null; "
                                  "echo $(ls /proc | grep -c '^[0-9]')"},
                                 {}, bounds);
    int seen = 0;
    std::istringstream(run.output) >> seen;
    EXPECT_LE(seen, 32) << "more processes than the cgroup's cap: " << run.output;
    // Killing the sandbox takes its PID namespace down: nothing is left for the cgroup to kill once
    // its launcher (where there is one) has ended, as the grader ends it after each lab.
    socklab::sandbox::close_launchers(p.uid);
    EXPECT_EQ(group->kill_all(std::chrono::seconds(2)), 0) << "processes of the sandbox outlived it";
}

TEST(Sandbox, AGroupLeftByAGraderKilledBySigkillIsRemovedByTheNextGrade) {
    std::string why;
    auto probe = socklab::sandbox::Group::make("test-" + std::to_string(::getpid()) + "-probe",
                                               std::uint64_t{64} << 20, 8, why);
    if (!probe) {
        GTEST_SKIP() << "no cgroup here: " << why;
    }
    // A pid that was a process a moment ago and is none now, as a killed grader's is.
    const pid_t dead = ::fork();
    if (dead == 0) {
        ::_exit(0);
    }
    ::waitpid(dead, nullptr, 0);
    std::vector<fs::path> stale;
    for (const auto& folder : probe->folders()) {
        stale.push_back(fs::path(folder).parent_path() /
                        ("socklab-grade-" + std::to_string(dead) + "-61000-1"));
        fs::create_directory(stale.back());
    }
    // Ours, alive: a group named after this process stays.
    const auto next =
        socklab::sandbox::Group::make(std::to_string(::getpid()) + "-0-2", std::uint64_t{64} << 20, 8, why);
    ASSERT_TRUE(next) << why;
    for (const auto& folder : stale) {
        EXPECT_FALSE(fs::exists(folder)) << "a dead grader's group is still there: " << folder;
    }
    for (const auto& folder : probe->folders()) {
        EXPECT_TRUE(fs::exists(folder)) << "a live grader's group was removed: " << folder;
    }
}

// The launcher (launcher.hpp): as root, one bwrap holds a lab's programs, and each program still
// gets namespaces and fresh folders of its own, as under a bwrap of its own.
namespace {

// Skips unless the programs of p start through a launcher here.
#define SKIP_UNLESS_LAUNCHED(p)                                                                              \
    if (::geteuid() != 0) {                                                                                  \
        GTEST_SKIP() << "the launcher runs only where bwrap starts as root";                                 \
    }                                                                                                        \
    if (const std::string why = socklab::sandbox::unavailable((p).uid, (p).privileged); !why.empty()) {      \
        GTEST_SKIP() << "no sandbox here: " << why;                                                          \
    }                                                                                                        \
    if (!socklab::sandbox::launches(p)) {                                                                    \
        GTEST_SKIP() << "the launcher is off (SOCKLAB_LAUNCHER=none)";                                       \
    }

// The processes of this machine whose command line holds marker.
int processes_with(const std::string& marker) {
    int found = 0;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        std::ifstream in(entry.path() / "cmdline");
        std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        found += line.find(marker) != std::string::npos ? 1 : 0;
    }
    return found;
}

// Whether, before the deadline, the number of processes that hold marker is at least `at_least`
// (when 1) or is 0 in five scans in a row, 10 ms apart (when 0): one scan can miss a process
// whose command line cannot be read at that instant (in the middle of an exec or a fork).
bool scans_see(const std::string& marker, int at_least, std::chrono::milliseconds patience) {
    const auto until = std::chrono::steady_clock::now() + patience;
    for (int in_a_row = 0;;) {
        const int n = processes_with(marker);
        in_a_row = (at_least > 0 ? n >= at_least : n == 0) ? in_a_row + 1 : 0;
        if (in_a_row == (at_least > 0 ? 1 : 5)) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        pollfd none{-1, 0, 0};
        (void)::poll(&none, 1, 10); // a deadline, not a sleep: the loop ends as soon as it is settled
    }
}

} // namespace

TEST(Launcher, AsRootTheGradersProgramsStartThroughIt) {
    const auto p = grader_like();
    if (::geteuid() != 0 || !socklab::sandbox::unavailable(p.uid, p.privileged).empty()) {
        GTEST_SKIP() << "the launcher runs only where bwrap starts as root";
    }
    EXPECT_TRUE(socklab::sandbox::launches(p))
        << "socklab-sandbox-launcher is not beside this test program: every program pays a bwrap of its own";
}

TEST(Launcher, WhatOneProgramLeavesInTmpOrScratchTheNextDoesNotSee) {
    const std::string first = INSIDE("echo x > /tmp/left && echo y > /scratch/left && mkdir /dev/shm/left && "
                                     "echo wrote");
    SKIP_IF_NO_SANDBOX(first);
    ASSERT_EQ(first, "wrote\nexit 0\n");
    EXPECT_EQ(INSIDE("ls -A /tmp /scratch /dev/shm"), "/dev/shm:\n\n/scratch:\n\n/tmp:\nexit 0\n");
}

TEST(Launcher, AProgramDoesNotSeeAnotherThatRunsAtTheSameTime) {
    auto p = grader_like();
    SKIP_UNLESS_LAUNCHED(p);
    const std::string marker = "launcher-neighbour-" + std::to_string(::getpid());
    socklab::script::Process neighbour("neighbour",
                                       {"/bin/sh", "-c", "echo ready; sleep 30; echo " + marker});
    neighbour.confine(p);
    std::string error;
    ASSERT_TRUE(neighbour.start(error)) << error;
    pollfd ready{neighbour.stdout_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&ready, 1, 10000), 1) << "the neighbour did not start within 10 s";
    ASSERT_TRUE(scans_see(marker, 1, std::chrono::seconds(5))) << "the neighbour is not running";
    // Every command line in sight, inside; none of them holds the marker (and none of the commands
    // that print them does).
    const std::string seen = INSIDE("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done");
    EXPECT_EQ(seen.find(marker), std::string::npos) << seen;
    EXPECT_NE(seen.find("exit 0"), std::string::npos) << seen;
    neighbour.kill_group();
    EXPECT_EQ(neighbour.status_text(), "was killed by SIGKILL");
}

TEST(Launcher, AProgramCannotSignalOrReadWhatStartedIt) {
    const auto p = grader_like();
    SKIP_UNLESS_LAUNCHED(p);
    // PID 1 of its namespace is the launcher's reaper, root's; the launcher is not in sight at all.
    EXPECT_EQ(INSIDE("kill -STOP 1 2>/dev/null && echo stopped || echo refused; "
                     "cat /proc/1/environ >/dev/null 2>&1 && echo read || echo unreadable; ps -o user= -p 1"),
              "refused\nunreadable\nroot\nexit 0\n");
}

TEST(Launcher, ItKeepsOnlyTheCapabilitiesItNeeds) {
    const auto p = grader_like();
    SKIP_UNLESS_LAUNCHED(p);
    // CAP_KILL (5), CAP_SETGID (6), CAP_SETUID (7), CAP_SETPCAP (8) and CAP_SYS_ADMIN (21): not
    // CAP_DAC_OVERRIDE, CAP_SYS_PTRACE, CAP_NET_ADMIN or any other that bwrap as root would keep.
    EXPECT_EQ(INSIDE("grep -E '^CapEff' /proc/1/status | tr -s '\\t ' ' '"),
              "CapEff: 00000000002001e0\nexit 0\n");
}

TEST(Launcher, AFolderBoundBelowTmpStaysInSightUnderTheFreshTmp) {
    const fs::path folder =
        fs::temp_directory_path() / ("socklab-launcher-bind-" + std::to_string(::getpid()));
    fs::create_directories(folder);
    fs::permissions(folder, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
    std::ofstream(folder / "given") << "given\n";
    auto p = grader_like();
    p.binds.push_back({folder.string(), false});
    std::string out;
    try {
        out = inside("cat " + (folder / "given").string() + "; ls -A /tmp", p);
    } catch (const std::runtime_error& e) {
        out = std::string("SKIP ") + e.what();
    }
    fs::remove_all(folder);
    SKIP_IF_NO_SANDBOX(out);
    EXPECT_EQ(out, "given\n" + folder.filename().string() + "\nexit 0\n");
}

TEST(Launcher, ItsProgramsEndWhenTheGraderDies) {
    auto p = grader_like();
    SKIP_UNLESS_LAUNCHED(p);
    p.fresh.emplace_back("/scratch-of-a-grader-that-dies"); // a launcher of its own, not this process's
    const std::string marker = "launcher-orphan-" + std::to_string(::getpid());
    int started[2];
    ASSERT_EQ(::pipe(started), 0);
    const pid_t grader = ::fork();
    if (grader == 0) {
        socklab::script::Process program("orphan", {"/bin/sh", "-c", "sleep 60; echo " + marker});
        program.confine(p);
        std::string error;
        const char said = program.start(error) ? 'y' : 'n';
        (void)!::write(started[1], &said, 1);
        ::pause(); // until SIGKILL: no destructor runs
    }
    ::close(started[1]);
    char said = 0;
    ASSERT_EQ(::read(started[0], &said, 1), 1);
    ::close(started[0]);
    ASSERT_EQ(said, 'y');
    // "Started" is told once the exec has begun: the new command line is in place a moment later.
    ASSERT_TRUE(scans_see(marker, 1, std::chrono::seconds(5))) << "the program is not running";
    ::kill(grader, SIGKILL);
    ::waitpid(grader, nullptr, 0);
    EXPECT_TRUE(scans_see(marker, 0, std::chrono::seconds(5)))
        << "a program of a grader killed by SIGKILL outlived it by 5 s: " << processes_with(marker)
        << " process(es) still hold " << marker << " in their command line";
}
