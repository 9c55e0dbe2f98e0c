// The grader's own tests: whole grades of made-up submissions (the reference solutions, the
// skeleton, one lab broken in different ways, edited tests), and every report format checked
// against what its reader expects. The grades share one work folder, so the instructor's parts
// are built once and each submission recompiles only its own files.
// Tests alike in shape (here and in the other test file of the grader) repeat their setup on
// purpose: each one is one behaviour that reads alone.
#include "model.hpp"
#include "reports.hpp"
#include "rubric.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <toml++/toml.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::string_literals;

namespace {

const fs::path kRoot = SOCKLAB_SOURCE_DIR;
const fs::path kScratch = SOCKLAB_GRADER_SCRATCH;

struct Graded {
    int exit_code = -1;
    std::string console;
    fs::path out;
    json report;
};

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

// Runs socklab-grade on a submission (empty: the default, the reference solutions) and reads
// its JSON report. With a terminal, the grader runs with a new terminal (a pty) as its controlling
// terminal, as from an instructor's shell, and *typed gets what reached that terminal's input.
Graded grade(const std::string& name, const fs::path& submission, const std::string& extra = "",
             std::string* typed = nullptr) {
    Graded g;
    g.out = kScratch / "reports" / name;
    fs::remove_all(g.out);
    std::string command = std::string(SOCKLAB_GRADE_PROGRAM) + " --work " + (kScratch / "work").string() +
                          " --out-dir " + g.out.string() + " " + extra;
    if (!submission.empty()) {
        command += " --submission " + submission.string();
    }
    int terminal = -1;
    std::string slave;
    if (typed != nullptr) {
        terminal = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (terminal < 0 || ::grantpt(terminal) != 0 || ::unlockpt(terminal) != 0) {
            ADD_FAILURE() << "no pseudo-terminal: " << std::strerror(errno);
            return g;
        }
        slave = ::ptsname(terminal);
    }
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << std::strerror(errno);
        return g;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (terminal >= 0) {
            ::setsid();
            const int tty = ::open(slave.c_str(), O_RDWR); // a session leader's first terminal: its own
            ::ioctl(tty, TIOCSCTTY, 0);
            ::dup2(tty, 0);
        }
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(out[1]);
    std::array<char, 4096> buffer{};
    for (ssize_t n; (n = ::read(out[0], buffer.data(), buffer.size())) > 0;) {
        g.console.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    g.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (terminal >= 0) {
        // What was typed waits in the terminal's input, and its echo in the terminal's output.
        const int tty = ::open(slave.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        for (const int fd : {tty, terminal}) {
            ::fcntl(fd, F_SETFL, O_NONBLOCK);
            for (ssize_t n; (n = ::read(fd, buffer.data(), buffer.size())) > 0;) {
                typed->append(buffer.data(), static_cast<std::size_t>(n));
            }
        }
        ::close(tty);
        ::close(terminal);
    }
    if (fs::exists(g.out / "report.json")) {
        g.report = json::parse(read_file(g.out / "report.json"));
    }
    return g;
}

// A submission laid out like the solutions: one folder per lab, from solutions/.
fs::path solutions_copy(const std::string& name) {
    const fs::path dir = kScratch / "submissions" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy(kRoot / "solutions", dir, fs::copy_options::recursive);
    return dir;
}

// A submission laid out like a student's clone of the handout, with the skeletons.
fs::path handout_copy(const std::string& name) {
    const fs::path dir = kScratch / "submissions" / name;
    fs::remove_all(dir);
    for (const auto& lab : fs::directory_iterator(kRoot / "labs")) {
        if (fs::is_directory(lab.path() / "src")) {
            const fs::path to = dir / "labs" / lab.path().filename();
            fs::create_directories(to);
            fs::copy(lab.path() / "src", to / "src", fs::copy_options::recursive);
            fs::copy(lab.path() / "tests", to / "tests", fs::copy_options::recursive);
            if (fs::is_directory(lab.path() / "scripts")) {
                fs::copy(lab.path() / "scripts", to / "scripts", fs::copy_options::recursive);
            }
        }
    }
    return dir;
}

const json& lab(const json& report, const std::string& id) {
    for (const auto& l : report.at("labs")) {
        if (l.at("id") == id) {
            return l;
        }
    }
    throw std::runtime_error("no lab " + id + " in the report");
}

std::string failures(const json& l) {
    std::string out;
    for (const auto& item : l.at("items")) {
        if (item.at("status") != "passed") {
            out += "  " + item.at("name").get<std::string>() + ": " + item.at("reason").get<std::string>() +
                   "\n";
        }
    }
    return out;
}

} // namespace

TEST(Grader, TheReferenceSolutionsGetFullMarks) {
    const Graded g = grade("solutions", "", "--require-full");
    ASSERT_EQ(g.exit_code, 0) << g.console;
    EXPECT_EQ(g.report.at("score"), g.report.at("max_score"));
    EXPECT_EQ(g.report.at("max_score"), 500);
    for (const auto& l : g.report.at("labs")) {
        EXPECT_EQ(l.at("build"), "ok");
        EXPECT_EQ(l.at("score"), l.at("max_score")) << "lab " << l.at("id") << ":\n" << failures(l);
    }
}

TEST(Grader, TheSkeletonGetsZeroAndEachLabSaysWhatToReadFirst) {
    const Graded g = grade("skeleton", handout_copy("skeleton"));
    ASSERT_EQ(g.exit_code, 0) << g.console;
    EXPECT_EQ(g.report.at("score"), 0);
    for (const auto& l : g.report.at("labs")) {
        const std::string first = l.at("read_first");
        EXPECT_EQ(first.rfind("docs/labs/" + l.at("id").get<std::string>() + "-", 0), 0u)
            << "lab " << l.at("id") << " reads first: " << first;
    }
    const std::string text = read_file(g.out / "report.txt");
    EXPECT_NE(text.find("docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address"), std::string::npos) << text;
}

// The report reaches students: the commands it gives them run in their own checkout, never in the
// grader's work folder, which they do not have.
TEST(Grader, TheCommandsAReportGivesRunInTheStudentsCheckout) {
    const Graded g = grade("skeleton-04", handout_copy("skeleton-04"), "--labs 04");
    ASSERT_EQ(g.exit_code, 0) << g.console;
    const std::string text = read_file(g.out / "report.txt");
    EXPECT_NE(text.find("(say under gdb --args build/bin/lab04-server)"), std::string::npos) << text;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find("rerun:") != std::string::npos || line.find("replay") != std::string::npos) {
            EXPECT_EQ(line.find((kScratch / "work").string()), std::string::npos) << line;
        }
    }
}

TEST(Grader, OneLabFileFromTheSkeletonCostsOnlyThatLab) {
    const fs::path sub = solutions_copy("one-skeleton-file");
    fs::copy_file(kRoot / "labs/04-framing/src/line_framer.cpp", sub / "04-framing/line_framer.cpp",
                  fs::copy_options::overwrite_existing);
    const Graded g = grade("one-skeleton-file", sub);
    ASSERT_EQ(g.exit_code, 0) << g.console;
    for (const auto& l : g.report.at("labs")) {
        if (l.at("id") == "04") {
            EXPECT_LT(l.at("score").get<double>(), 50.0);
        } else {
            EXPECT_EQ(l.at("score"), l.at("max_score")) << "lab " << l.at("id") << ":\n" << failures(l);
        }
    }
}

TEST(Grader, ReplacingOneFunctionByTheSkeletonsDropsOnlyTheChecksThatNeedIt) {
    // failure_kind.cpp holds one function, classify_failure: every test and check that fails must
    // fail because of it, and the rest of lab 03 still passes.
    const fs::path sub = solutions_copy("one-function");
    fs::copy_file(kRoot / "labs/03-client/src/failure_kind.cpp", sub / "03-client/failure_kind.cpp",
                  fs::copy_options::overwrite_existing);
    const Graded g = grade("one-function", sub);
    ASSERT_EQ(g.exit_code, 0) << g.console;
    const json& l03 = lab(g.report, "03");
    int passed = 0;
    int failed = 0;
    for (const auto& item : l03.at("items")) {
        if (item.at("status") == "passed") {
            ++passed;
            continue;
        }
        if (item.at("status") == "skipped") {
            continue; // this machine cannot run it (no route to make unreachable, say): not a failure
        }
        ++failed;
        EXPECT_NE(item.at("output").get<std::string>().find("classify_failure"), std::string::npos)
            << item.at("name") << " failed for another reason: " << item.at("reason");
    }
    EXPECT_GT(failed, 0);
    EXPECT_GT(passed, failed) << failures(l03);
    for (const char* other : {"01", "02", "04", "05"}) {
        EXPECT_EQ(lab(g.report, other).at("score"), lab(g.report, other).at("max_score")) << "lab " << other;
    }
}

TEST(Grader, TestsAndScriptsEditedInASubmissionHaveNoEffect) {
    const fs::path sub = handout_copy("edited-tests");
    for (const auto& file : fs::directory_iterator(sub / "labs/02-server/tests")) {
        write_file(file.path(),
                   "#include \"socklab/testkit/catch.hpp\"\nTEST_CASE(\"always passes\") { CHECK(true); }\n");
    }
    for (const auto& file : fs::directory_iterator(sub / "labs/02-server/scripts")) {
        write_file(file.path(), "# nothing to check\n");
    }
    const Graded g = grade("edited-tests", sub);
    ASSERT_EQ(g.exit_code, 0) << g.console;
    const json& l02 = lab(g.report, "02");
    EXPECT_EQ(l02.at("score"), 0);
    EXPECT_GT(l02.at("items").size(), 40u) << "the instructor's tests were not the ones run";
}

TEST(Grader, AFileThatDoesNotCompileScoresItsLabZeroWithTheErrorShown) {
    const fs::path sub = solutions_copy("does-not-compile");
    write_file(sub / "04-framing/line_framer.cpp",
               "#include \"socklab/line_framer.hpp\"\nthis is not C++;\n");
    const Graded g = grade("does-not-compile", sub);
    ASSERT_EQ(g.exit_code, 0) << g.console;
    const json& l04 = lab(g.report, "04");
    EXPECT_EQ(l04.at("build"), "compile error");
    EXPECT_EQ(l04.at("score"), 0);
    EXPECT_EQ(l04.at("max_score"), 100);
    EXPECT_NE(l04.at("build_log").get<std::string>().find("line_framer.cpp:2"), std::string::npos)
        << l04.at("build_log");
    // Lab 05 builds on the reference lab 04, so it does not suffer.
    EXPECT_EQ(lab(g.report, "05").at("score"), 100);
    EXPECT_NE(read_file(g.out / "report.txt").find("compile error"), std::string::npos);
}

// An instructor's tree under /root (mode 700) is closed to the grading user: the programs run
// from a copy it can reach, still as that user, and the copy is gone afterwards.
TEST(Grader, AWorkFolderClosedToOtherUsersStillRunsTheProgramsAsTheGradingUserInTheSandbox) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "the grader runs programs as a user of their own only as root";
    }
    const fs::path work = kScratch / "work";
    fs::create_directories(work);
    const auto before = fs::status(work).permissions();
    struct Restore {
        fs::path path;
        fs::perms perms;
        ~Restore() { fs::permissions(path, perms); }
    } restore{work, before};
    fs::permissions(work, fs::perms::owner_all);
    const Graded g = grade("closed-work-folder", "", "--labs 01");
    ASSERT_EQ(g.exit_code, 0) << g.console;
    EXPECT_EQ(lab(g.report, "01").at("score"), 100) << failures(lab(g.report, "01"));
    std::string notes;
    for (const auto& note : g.report.at("notes")) {
        notes += note.get<std::string>() + "\n";
    }
    std::smatch uid;
    ASSERT_TRUE(std::regex_search(notes, uid, std::regex("ran as user id ([0-9]+)"))) << notes;
    // bwrap starts as root and binds the programs into the sandbox, where the folders above them
    // are open: no copy is needed, and the compiler and the programs still run as that user.
    EXPECT_NE(notes.find("ran in bubblewrap"), std::string::npos) << notes;
}

// While a lab is graded, every process that compiles or runs the submission's code (the compiler
// on its files, its test program, its lab's programs) runs as the grading user, never as root:
// the test looks at /proc as ps would, many times during the grade.
TEST(Grader, NoProcessOfASubmissionRunsAsRoot) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "as another user, the grader's processes are not root either";
    }
    const fs::path sub = solutions_copy("not-root");
    // So that the compiler runs again: neither the last grade's library nor the object cache may
    // hold lab 02's objects.
    fs::remove_all(kScratch / "work/build/graded/lab02");
    fs::remove_all(kScratch / "work/build/object-cache");
    std::atomic<bool> done{false};
    std::vector<std::string> as_root;
    int seen = 0;
    std::thread watcher([&] {
        const std::string files = (kScratch / "work/files/").string();
        const std::string bin = (kScratch / "work/build/bin/").string();
        while (!done) {
            std::error_code ec;
            for (const auto& entry : fs::directory_iterator("/proc", ec)) {
                std::string cmdline = read_file(entry.path() / "cmdline");
                std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
                const std::string exe = fs::read_symlink(entry.path() / "exe", ec).string();
                const bool compiler =
                    cmdline.find(files) != std::string::npos &&
                    (exe.find("cc1plus") != std::string::npos || exe.find("/as") != std::string::npos ||
                     exe.find("g++") != std::string::npos);
                // By its argv[0]: in a chroot, /proc/PID/exe of a process in the sandbox's mount
                // namespace does not read as the path it was started by.
                const std::string argv0 = cmdline.substr(0, cmdline.find(' '));
                const bool program = argv0.rfind(bin, 0) == 0 &&
                                     argv0.find("socklab-") == std::string::npos &&
                                     argv0.find("_tests_list") == std::string::npos;
                if (!compiler && !program) {
                    continue;
                }
                ++seen;
                struct stat st = {};
                if (::stat(entry.path().c_str(), &st) == 0 && st.st_uid == 0) {
                    as_root.push_back(exe + ": " + cmdline);
                }
            }
        }
    });
    const Graded g = grade("not-root", sub, "--labs 02 --no-hidden");
    done = true;
    watcher.join();
    ASSERT_EQ(g.exit_code, 0) << g.console;
    EXPECT_GT(seen, 0) << "no process of the submission was seen during the grade";
    EXPECT_EQ(as_root, std::vector<std::string>{}) << "processes of the submission ran as root";
}

// Where bubblewrap cannot make a sandbox (not installed, or a container that takes away the
// namespaces it needs), the grader still grades, and its notes say what did not hold.
TEST(Grader, WithoutASandboxItStillGradesAndItsNotesSaySo) {
    ::setenv("SOCKLAB_BWRAP", "/nonexistent/bwrap", 1);
    const Graded g = grade("no-sandbox", "", "--labs 01");
    ::unsetenv("SOCKLAB_BWRAP");
    ASSERT_EQ(g.exit_code, 0) << g.console;
    EXPECT_EQ(lab(g.report, "01").at("score"), 100) << failures(lab(g.report, "01"));
    std::string notes;
    for (const auto& note : g.report.at("notes")) {
        notes += note.get<std::string>() + "\n";
    }
    EXPECT_NE(notes.find("sandbox: none (/nonexistent/bwrap is not installed"), std::string::npos) << notes;
}

namespace {

// The grader run by a command of its own, behind prefix (setpriv as another user, say), on the
// reference solutions' lab 01, in the work folder work-LABEL (owned by owner; "work", the other
// tests' folder, when owner is root: its build is reused), with its reports in reports/LABEL.
struct Console {
    int status = 0;
    std::string text;
    json report;
    std::string notes;
};
// Whether nobody (65534) can read the instructor's tree and write beside the grader tests' scratch
// folder: not when either is under a folder closed to others (a chroot's /root, say).
bool nobody_reaches_the_tree() {
    const std::string probe = "setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'test -r " +
                              (kRoot / "labs" / "manifest.txt").string() + " && test -x " +
                              kScratch.string() + "' 2>/dev/null";
    return std::system(probe.c_str()) == 0;
}

Console grade_behind(const std::string& prefix, const std::string& label, int owner) {
    const fs::path work = kScratch / (owner == 0 ? std::string("work") : "work-" + label);
    const fs::path out = kScratch / "reports" / label;
    for (const auto& folder : {work, out}) {
        fs::create_directories(folder);
        (void)!::chown(folder.c_str(), static_cast<uid_t>(owner), static_cast<gid_t>(owner));
    }
    const std::string command = prefix + " " + std::string(SOCKLAB_GRADE_PROGRAM) + " --work " +
                                work.string() + " --out-dir " + out.string() + " --labs 01 2>&1";
    Console c;
    FILE* pipe = ::popen(command.c_str(), "r");
    std::array<char, 4096> buffer{};
    for (std::size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) {
        c.text.append(buffer.data(), n);
    }
    c.status = ::pclose(pipe);
    if (c.status == 0) {
        c.report = json::parse(read_file(out / "report.json"));
        for (const auto& note : c.report.at("notes")) {
            c.notes += note.get<std::string>() + "\n";
        }
    }
    return c;
}

} // namespace

// A container that gives no user namespaces at all (Docker's seccomp profile refuses them): as
// root, bwrap needs none, so the grader keeps its whole sandbox. The grader runs behind a seccomp
// filter that refuses them to it and every process it starts.
TEST(Grader, AsRootWithoutUserNamespacesTheSandboxStillHolds) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "the grader as root is the point";
    }
    const Console c = grade_behind(SOCKLAB_NO_USER_NAMESPACES, "no-user-namespaces", 0);
    ASSERT_EQ(c.status, 0) << c.text;
    EXPECT_EQ(lab(c.report, "01").at("score"), 100) << failures(lab(c.report, "01"));
    EXPECT_NE(c.notes.find("ran in bubblewrap (started as root, without a user namespace)"),
              std::string::npos)
        << c.notes;
}

// As a user other than root, the grader grades in a user namespace of bubblewrap's, and its notes
// list what held (the sandbox) and what did not (a user of its own, the cgroup).
TEST(Grader, AsAnotherUserItGradesInAUserNamespaceAndSaysWhatHeld) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "the test becomes another user, which needs root";
    }
    if (!nobody_reaches_the_tree()) {
        GTEST_SKIP() << "another user cannot read " << kRoot.string()
                     << " (a folder above it is closed to others)";
    }
    // A chroot (or a machine that forbids them) gives another user no user namespace: that case is
    // the next test's.
    if (std::system("setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user true 2>/dev/null") !=
        0) {
        GTEST_SKIP() << "another user may make no user namespace here (a chroot, or a machine that forbids "
                        "them): the next test grades so";
    }
    const Console c = grade_behind("setpriv --reuid=65534 --regid=65534 --clear-groups", "nobody", 65534);
    ASSERT_EQ(c.status, 0) << c.text;
    EXPECT_EQ(lab(c.report, "01").at("score"), 100) << failures(lab(c.report, "01"));
    EXPECT_NE(c.notes.find("ran in bubblewrap (in a user namespace)"), std::string::npos) << c.notes;
    EXPECT_NE(c.notes.find("limits: per process only (the grader is not root)"), std::string::npos)
        << c.notes;
    EXPECT_NE(c.notes.find("processes: the programs ran as the grader's own user"), std::string::npos)
        << c.notes;
}

// Not root, where no user namespace may be made (a container that takes them away, or Ubuntu's
// AppArmor rule for unprivileged ones; here a seccomp filter as Docker's): no protection of
// bubblewrap's can be had. The grader still
// grades, and its notes say that none of them held, and why.
TEST(Grader, AsAnotherUserWithoutUserNamespacesItGradesWithoutASandboxAndSaysSo) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "the test becomes another user, which needs root";
    }
    if (!nobody_reaches_the_tree()) {
        GTEST_SKIP() << "another user cannot read " << kRoot.string()
                     << " (a folder above it is closed to others)";
    }
    // The same work folder as the test above: its build is reused.
    const Console c = grade_behind(std::string(SOCKLAB_NO_USER_NAMESPACES) +
                                       " setpriv --reuid=65534 --regid=65534 --clear-groups",
                                   "nobody", 65534);
    ASSERT_EQ(c.status, 0) << c.text;
    EXPECT_EQ(lab(c.report, "01").at("score"), 100) << failures(lab(c.report, "01"));
    EXPECT_NE(c.notes.find("sandbox: none (bwrap with a user namespace failed"), std::string::npos)
        << c.notes;
    EXPECT_NE(c.notes.find("limits: per process only (the grader is not root)"), std::string::npos)
        << c.notes;
    EXPECT_NE(c.notes.find("processes: the programs ran as the grader's own user"), std::string::npos)
        << c.notes;
}

// Root without CAP_SYS_ADMIN, as in a Docker container by default (Gradescope's autograder runs as
// root in one): bubblewrap cannot make its namespaces, but root can still give the programs a user
// of their own. The notes say which of the two held.
TEST(Grader, AsRootWithoutSysAdminLikeInDockerItGradesAsAnotherUserWithoutASandboxAndSaysSo) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "dropping a capability of root's needs root";
    }
    const Console c =
        grade_behind("setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin", "no-sys-admin", 0);
    ASSERT_EQ(c.status, 0) << c.text;
    EXPECT_EQ(lab(c.report, "01").at("score"), 100) << failures(lab(c.report, "01"));
    EXPECT_NE(c.notes.find("sandbox: none (bwrap as root failed"), std::string::npos) << c.notes;
    if (nobody_reaches_the_tree()) {
        EXPECT_NE(c.notes.find("processes: the programs ran as user id"), std::string::npos) << c.notes;
    } else { // a tree under /root, say: without a sandbox to bind it in, no other user reaches it
        EXPECT_NE(
            c.notes.find("processes: the programs ran as the grader's own user (without a sandbox, another "
                         "user cannot reach"),
            std::string::npos)
            << c.notes;
    }
}

TEST(Grader, AMissingFileIsReportedAndTheOtherLabsAreGraded) {
    const fs::path sub = solutions_copy("missing-file");
    fs::remove(sub / "02-server/tcp_stream.cpp");
    write_file(sub / "02-server/notes.txt", "my notes\n");
    const Graded g = grade("missing-file", sub);
    ASSERT_EQ(g.exit_code, 0) << g.console;
    const json& l02 = lab(g.report, "02");
    EXPECT_EQ(l02.at("missing"), json::array({"02-server/tcp_stream.cpp"}));
    EXPECT_EQ(l02.at("extra"), json::array({"02-server/notes.txt"}));
    EXPECT_LT(l02.at("score").get<double>(), 100.0);
    EXPECT_EQ(lab(g.report, "04").at("score"), 100);
}

// --- the formats, on the reference solutions' grade (graded again: the build is reused) -----

class Formats : public ::testing::Test {
protected:
    static void SetUpTestSuite() { graded_ = new Graded(grade("formats", "", "--labs 03,04")); }
    static void TearDownTestSuite() { delete graded_; }
    static Graded* graded_;
};
Graded* Formats::graded_ = nullptr;

TEST_F(Formats, TheJsonReportHasTheModelsFields) {
    const json& r = graded_->report;
    for (const char* key : {"format", "student", "submission", "cumulative", "seed", "started", "finished",
                            "score", "max_score", "labs"}) {
        EXPECT_TRUE(r.contains(key)) << key;
    }
    ASSERT_EQ(r.at("labs").size(), 2u);
    for (const auto& item : r.at("labs")[0].at("items")) {
        for (const char* key : {"name", "kind", "group", "status", "score", "max_score", "hidden", "reason",
                                "output", "docs", "replay"}) {
            EXPECT_TRUE(item.contains(key)) << key;
        }
    }
}

TEST_F(Formats, TheJunitReportParsesWithATestcasePerTestAndCheck) {
    pugi::xml_document doc;
    const auto parsed = doc.load_file((graded_->out / "junit.xml").c_str());
    ASSERT_TRUE(parsed) << parsed.description();
    std::size_t cases = 0;
    for (const auto& suite : doc.child("testsuites").children("testsuite")) {
        for (const auto& tc : suite.children("testcase")) {
            ++cases;
            EXPECT_TRUE(tc.child("properties").find_child_by_attribute("property", "name", "points"));
        }
    }
    std::size_t items = 0;
    for (const auto& l : graded_->report.at("labs")) {
        items += l.at("items").size();
    }
    EXPECT_EQ(cases, items);
}

TEST_F(Formats, TheGradescopeResultsHaveTheFieldsGradescopeReads) {
    const json r = json::parse(read_file(graded_->out / "results.json"));
    EXPECT_EQ(r.at("score"), graded_->report.at("score"));
    ASSERT_FALSE(r.at("tests").empty());
    bool hidden_seen = false;
    for (const auto& t : r.at("tests")) {
        EXPECT_TRUE(t.at("name").is_string());
        EXPECT_TRUE(t.at("score").is_number());
        EXPECT_TRUE(t.at("max_score").is_number());
        EXPECT_TRUE(t.at("status") == "passed" || t.at("status") == "failed");
        EXPECT_TRUE(t.at("output").is_string());
        EXPECT_TRUE(t.at("visibility") == "visible" || t.at("visibility") == "after_published");
        hidden_seen = hidden_seen || t.at("visibility") == "after_published";
    }
    EXPECT_TRUE(hidden_seen) << "the hidden checks should be after_published";
}

TEST_F(Formats, TheClassroomResultKeepsPartialCredit) {
    const json r = json::parse(read_file(graded_->out / "classroom.json"));
    EXPECT_EQ(r.at("version"), 1);
    EXPECT_EQ(r.at("status"), "pass");
    EXPECT_EQ(r.at("max_score"), 200);
    double total = 0;
    for (const auto& t : r.at("tests")) {
        EXPECT_TRUE(t.at("status") == "pass" || t.at("status") == "fail" || t.at("status") == "error");
        total += t.at("score").get<double>();
    }
    EXPECT_NEAR(total, 200, 0.01);
}

TEST_F(Formats, TheCsvHasAHeaderAndOneRow) {
    EXPECT_EQ(read_file(graded_->out / "grades.csv"), "student,submission,lab03,lab04,total,max\n"
                                                      "reference solutions," +
                                                          (kRoot / "solutions").string() +
                                                          ",100,100,200,200\n");
}

// --- reports of hostile bytes ---------------------------------------------------------------

namespace {

socklab::grade::Grade hostile_grade() {
    socklab::grade::Grade g;
    g.student = "eve\x01";
    g.submission = "/tmp/x";
    socklab::grade::Lab l;
    l.id = "04";
    l.title = "t";
    socklab::grade::Item item;
    item.name = "a test named ]]> & <b>";
    item.kind = "test";
    item.group = "g";
    item.status = socklab::grade::Status::Failed;
    item.reason = "got \x00\xff\xfe and \xc3\x28"s;
    item.output = "\x1b[31mred\x1b[0m \x00 </failure> \xed\xa0\x80"s;
    l.items.push_back(item);
    g.labs.push_back(l);
    return g;
}

} // namespace

// The Classroom workflow hands classroom.json to the reporter in one environment variable, base64
// (Linux: at most 128 KiB): a submission failing every test at length still fits, with its points.
TEST(Reports, TheClassroomResultOfAFailingClassFitsInAnEnvironmentVariable) {
    socklab::grade::Grade g;
    g.student = "s";
    g.max_score = 100;
    socklab::grade::Lab l;
    l.id = "02";
    l.build = "ok";
    for (int i = 0; i < 600; ++i) {
        socklab::grade::Item item;
        item.name = "a test with a long name, number " + std::to_string(i) + std::string(60, 'x');
        item.kind = "test";
        item.group = "group " + std::to_string(i % 7);
        item.status = i % 5 == 0 ? socklab::grade::Status::Passed : socklab::grade::Status::Failed;
        item.score = i % 5 == 0 ? 0.5 : 0;
        item.reason = "expected \"" + std::string(300, 'a') + "\" but got something else";
        item.docs = "docs/labs/02-server.md#step-1-bind-and-listen";
        l.items.push_back(item);
    }
    g.labs.push_back(l);
    const std::string text = socklab::grade::classroom_report(g);
    EXPECT_LT((text.size() + 2) / 3 * 4, std::size_t{128} * 1024) << "too big once base64-encoded";
    const json r = json::parse(text);
    double total = 0;
    for (const auto& t : r.at("tests")) {
        total += t.at("score").get<double>();
    }
    EXPECT_NEAR(total, 60.0, 1e-9) << "the points changed when the entries were grouped";
    EXPECT_EQ(r.at("tests").size(), 7u);
    EXPECT_NE(r.at("tests")[0].at("message").get<std::string>().find("did not pass; the first"),
              std::string::npos);
}

// A failed check's report ends with the wire, which can be long: the text report keeps the
// report's own last 60 lines (the caret under the wrong byte among them) and the wire's last 20.
TEST(Reports, TheTextReportKeepsAChecksTranscriptAboveALongWire) {
    socklab::grade::Grade g;
    g.student = "s";
    socklab::grade::Lab l;
    l.id = "04";
    l.build = "ok";
    socklab::grade::Item item;
    item.name = "coalesced/three requests";
    item.kind = "check";
    item.group = "scripts";
    item.status = socklab::grade::Status::Failed;
    item.reason = "a: the connection was closed";
    std::string output = "FAILED: three requests\n    ^ the caret under the first wrong byte\n";
    for (int i = 0; i < 30; ++i) {
        output += "  transcript event " + std::to_string(i) + "\n";
    }
    output += "the wire: the TCP segments of this check's connections (docs/reference/wire.md):\n";
    for (int i = 0; i < 100; ++i) {
        output += "  segment " + std::to_string(i) + "\n";
    }
    output += "replay: build/bin/socklab-script --seed 1 labs/04-framing/scripts/coalesced.script\n";
    item.output = output;
    l.items.push_back(item);
    g.labs.push_back(l);
    const std::string text = socklab::grade::text_report(g, {});
    EXPECT_NE(text.find("| FAILED: three requests\n"), std::string::npos) << text;
    EXPECT_NE(text.find("|     ^ the caret under the first wrong byte\n"), std::string::npos) << text;
    EXPECT_NE(text.find("| the wire: the TCP segments of this check's connections"), std::string::npos)
        << text;
    EXPECT_NE(text.find("| (81 earlier lines not shown)\n  |   segment 81\n"), std::string::npos) << text;
    EXPECT_NE(text.find("|   segment 99\n  | replay: "), std::string::npos) << text;
    EXPECT_EQ(text.find("segment 80\n"), std::string::npos) << text;
}

// A skeleton's reason names its docs section already: a grouped entry does not name it twice.
TEST(Reports, AGroupedClassroomEntryNamesItsDocsSectionOnce) {
    socklab::grade::Grade g;
    g.student = "s";
    socklab::grade::Lab l;
    l.id = "01";
    l.build = "ok";
    const std::string docs = "docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address";
    for (int i = 0; i < 300; ++i) {
        socklab::grade::Item item;
        item.name = "test " + std::to_string(i) + std::string(100, 'x');
        item.kind = "test";
        item.group = "Step 1";
        item.status = socklab::grade::Status::Failed;
        item.reason = "not implemented yet: parse_ipv4 (read " + docs + ")" + std::string(200, ' ') + ".";
        item.docs = docs;
        l.items.push_back(item);
    }
    g.labs.push_back(l);
    const json r = json::parse(socklab::grade::classroom_report(g));
    ASSERT_EQ(r.at("tests").size(), 1u) << "expected the entries grouped (the JSON passes 64 KiB)";
    const std::string message = r.at("tests")[0].at("message");
    const auto first = message.find(docs);
    ASSERT_NE(first, std::string::npos) << message;
    EXPECT_EQ(message.find(docs, first + 1), std::string::npos) << "the docs section twice in: " << message;
}

namespace {

// Lab 04 built and ran; lab 05's test program did not start.
socklab::grade::Grade a_lab_whose_tests_do_not_start() {
    socklab::grade::Grade g;
    g.student = "s";
    for (const std::string build : {"ok", "test program does not start"}) {
        socklab::grade::Lab l;
        l.id = build == "ok" ? "04" : "05";
        l.build = build;
        l.max_score = 100;
        l.read_first = "docs/labs/04-framing.md#step-1-gather-bytes-into-lines";
        l.build_log = "timed out after 20.0 s when asked to list its tests";
        g.labs.push_back(l);
    }
    return g;
}

} // namespace

// A lab whose test program does not start has no compiler errors: the table points to the reason,
// and the wider build state keeps the columns aligned.
TEST(Reports, ALabWhoseTestsDoNotStartPointsToTheReasonInTheTable) {
    const socklab::grade::Grade g = a_lab_whose_tests_do_not_start();
    const std::string text = socklab::grade::text_report(g, {});
    std::istringstream lines(text);
    std::string line;
    std::vector<std::string> table;
    while (std::getline(lines, line)) {
        if (line.rfind("lab  build", 0) == 0 || line.rfind("04 ", 0) == 0 || line.rfind("05 ", 0) == 0) {
            table.push_back(line);
        }
    }
    ASSERT_EQ(table.size(), 3u) << text;
    EXPECT_NE(table[2].find("test program does not start "), std::string::npos) << table[2];
    EXPECT_NE(table[2].find("why its tests do not start, below"), std::string::npos) << table[2];
    EXPECT_EQ(table[2].find("compiler"), std::string::npos) << table[2];
    const auto points_end = [](const std::string& row) { return row.find(" / 100"); };
    EXPECT_EQ(points_end(table[1]), points_end(table[2])) << "columns not aligned:\n"
                                                          << table[1] << "\n"
                                                          << table[2];
    EXPECT_EQ(table[0].find("tests") + 5, table[1].find("0/0") + 3) << table[0] << "\n" << table[1];
}

TEST(Reports, TheGradescopeEntryOfALabWhoseTestsDoNotStartSaysSoNotThatItDidNotCompile) {
    const json r = json::parse(socklab::grade::gradescope_report(a_lab_whose_tests_do_not_start()));
    std::string output;
    for (const auto& t : r.at("tests")) {
        if (t.at("name") == "lab 05: build") {
            output = t.at("output");
        }
    }
    EXPECT_EQ(output.rfind("The lab's test program does not start", 0), 0u) << output;
    EXPECT_EQ(output.find("compile"), std::string::npos) << output;
    EXPECT_NE(output.find("timed out after 20.0 s"), std::string::npos) << output;
}

TEST(Reports, JunitStaysValidXmlWhateverBytesTheProgramSent) {
    pugi::xml_document doc;
    const std::string xml = socklab::grade::junit_report(hostile_grade());
    const auto parsed = doc.load_string(xml.c_str());
    ASSERT_TRUE(parsed) << parsed.description() << "\n" << xml;
    const auto failure = doc.child("testsuites").child("testsuite").child("testcase").child("failure");
    EXPECT_NE(std::string(failure.text().get()).find("\\x1b[31mred"), std::string::npos);
    EXPECT_NE(std::string(failure.attribute("message").value()).find("\\x00\\xff\\xfe"), std::string::npos);
}

TEST(Reports, JsonReportsStayValidUtf8WhateverBytesTheProgramSent) {
    for (const std::string& text :
         {socklab::grade::json_report(hostile_grade()), socklab::grade::gradescope_report(hostile_grade()),
          socklab::grade::classroom_report(hostile_grade())}) {
        EXPECT_TRUE(json::accept(text)) << text;
    }
}

TEST(Reports, CleanTextKeepsUtf8AndEscapesTheRest) {
    EXPECT_EQ(socklab::grade::clean_text("caf\xc3\xa9 \x01\t\n\xff"), "caf\xc3\xa9 \\x01\t\n\\xff");
}

TEST(Reports, CsvQuotesFieldsWithCommasAndQuotes) {
    socklab::grade::Grade g;
    g.student = "Doe, \"JD\"";
    g.submission = "s";
    EXPECT_EQ(socklab::grade::csv_row(g), "\"Doe, \"\"JD\"\"\",s,0,0\n");
}

TEST(Grader, AGraderThatStopsEarlyStillLeavesAValidGradescopeFile) {
    const fs::path out = kScratch / "reports" / "stops-early";
    fs::remove_all(out);
    const std::string command = std::string(SOCKLAB_GRADE_PROGRAM) +
                                " --rubric /no/such/rubric.toml --out-dir " + out.string() +
                                " --format gradescope > /dev/null 2>&1";
    const int status = std::system(command.c_str());
    EXPECT_EQ(WEXITSTATUS(status), 70);
    const json r = json::parse(read_file(out / "results.json"));
    EXPECT_EQ(r.at("score"), 0);
    EXPECT_NE(r.at("output").get<std::string>().find("did not"), std::string::npos);
}

TEST(Grader, ASymbolicLinkInASubmissionIsNotTaken) {
    // On a grading machine the reference solutions' path is easy to guess: a link must not work.
    const fs::path sub = solutions_copy("symlink");
    fs::remove(sub / "04-framing/line_framer.cpp");
    fs::create_symlink(kRoot / "solutions/04-framing/line_framer.cpp", sub / "04-framing/line_framer.cpp");
    const Graded g = grade("symlink", sub, "--labs 04 --no-hidden");
    ASSERT_EQ(g.exit_code, 0) << g.console;
    const json& l04 = lab(g.report, "04");
    EXPECT_EQ(l04.at("missing"), json::array({"04-framing/line_framer.cpp (a symbolic link: not accepted)"}));
    EXPECT_LT(l04.at("score").get<double>(), 50.0);
}

TEST(Grader, ALabTheManifestDoesNotListIsAUsageError) {
    const Graded g = grade("no-such-lab", "", "--labs 09");
    EXPECT_EQ(g.exit_code, 64);
    EXPECT_NE(g.console.find("lab 09"), std::string::npos) << g.console;
}

TEST(Rubric, AMisspeltKeyIsAnErrorWithItsLine) {
    const fs::path file = kScratch / "rubrics" / "misspelt.toml";
    write_file(file,
               "[[lab]]\nid = \"01\"\ntitle = \"t\"\n  [[lab.group]]\n  name = \"g\"\n  section = \"s\"\n"
               "  pionts = 5\n");
    try {
        (void)socklab::grade::load_rubric(file.string());
        FAIL() << "no error";
    } catch (const socklab::grade::RubricError& e) {
        EXPECT_NE(std::string(e.what()).find("misspelt.toml:7: unknown key 'pionts' in [[lab.group]]"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Rubric, ATimeOutCountBelowOneIsAnErrorWithItsLine) {
    const fs::path file = kScratch / "rubrics" / "no-timeouts.toml";
    write_file(file, "[grader]\nlab_max_timeouts = 0\n[[lab]]\nid = \"01\"\ntitle = \"t\"\n");
    try {
        (void)socklab::grade::load_rubric(file.string());
        FAIL() << "no error";
    } catch (const socklab::grade::RubricError& e) {
        EXPECT_NE(
            std::string(e.what()).find("no-timeouts.toml:2: lab_max_timeouts must be a whole number from 1"),
            std::string::npos)
            << e.what();
    }
}

TEST(Rubric, ACheckNameWithAnApostropheInSingleQuotesSaysToUseDoubleQuotes) {
    const fs::path file = kScratch / "rubrics" / "apostrophe.toml";
    write_file(file, "[[lab]]\nid = \"02\"\ntitle = \"t\"\n  [lab.scripts.weights]\n"
                     "  'echo/after the client's FIN the server closes too' = 3\n");
    try {
        (void)socklab::grade::load_rubric(file.string());
        FAIL() << "no error";
    } catch (const socklab::grade::RubricError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("apostrophe.toml:5: "), std::string::npos) << what;
        EXPECT_NE(what.find("needs double quotes"), std::string::npos) << what;
    }
}

TEST(Rubric, ThatNameInDoubleQuotesIsAWeight) {
    const fs::path file = kScratch / "rubrics" / "double-quoted.toml";
    write_file(file, "[[lab]]\nid = \"02\"\ntitle = \"t\"\n  [lab.scripts.weights]\n"
                     "  \"echo/after the client's FIN the server closes too\" = 3\n");
    const auto rubric = socklab::grade::load_rubric(file.string());
    EXPECT_EQ(rubric.labs.at(0).check_weights.at("echo/after the client's FIN the server closes too"), 3);
}

TEST(Grader, AWeightThatNamesNoCheckStopsTheGraderWithTheRubricsLine) {
    std::string text = read_file(kRoot / "tools/grade/rubric.toml");
    ASSERT_EQ(text.back(), '\n');
    const auto key_line = std::count(text.begin(), text.end(), '\n') + 2;
    text += "  [lab.scripts.weights]\n  'shutdown/no such check' = 3\n"; // in the last lab, 05
    const fs::path rubric = kScratch / "rubrics" / "names-no-check.toml";
    write_file(rubric, text);
    const Graded g =
        grade("names-no-check", solutions_copy("names-no-check"), "--labs 05 --rubric " + rubric.string());
    EXPECT_EQ(g.exit_code, 70) << g.console;
    const std::string expect =
        "names-no-check.toml:" + std::to_string(key_line) +
        ": lab 05: [lab.scripts.weights] names \"shutdown/no such check\", which is not a check";
    EXPECT_NE(g.console.find(expect), std::string::npos)
        << "expected: " << expect << "\nactual: " << g.console;
}

TEST(Rubric, TheProjectsRubricGivesEachLab100Points) {
    const auto rubric = socklab::grade::load_rubric((kRoot / "tools/grade/rubric.toml").string());
    ASSERT_EQ(rubric.labs.size(), 5u);
    for (const auto& l : rubric.labs) {
        double total = l.visible_scripts + l.hidden_scripts;
        for (const auto& g : l.groups) {
            total += g.points;
        }
        EXPECT_EQ(total, 100) << "lab " << l.id;
    }
}

// --- a class at once ------------------------------------------------------------------------

namespace {

// Three students: alice hands in the reference lab 04, bob the skeleton, carol a lab 04 that does
// not compile.
fs::path make_class() {
    const fs::path dir = kScratch / "class";
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy(solutions_copy("alice"), dir / "alice", fs::copy_options::recursive);
    fs::copy(handout_copy("bob"), dir / "bob", fs::copy_options::recursive);
    fs::copy(solutions_copy("carol"), dir / "carol", fs::copy_options::recursive);
    write_file(dir / "carol/04-framing/line_framer.cpp", "not C++\n");
    return dir;
}

Graded grade_class(const std::string& name, const fs::path& batch, bool fresh) {
    Graded g;
    g.out = kScratch / "reports" / name;
    if (fresh) {
        fs::remove_all(g.out);
    }
    const std::string command = std::string(SOCKLAB_GRADE_PROGRAM) + " --work " +
                                (kScratch / "work").string() + " --batch " + batch.string() +
                                " --jobs 2 --labs 04 --out-dir " + g.out.string() + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        g.console.append(buffer.data(), n);
    }
    const int status = ::pclose(pipe);
    g.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return g;
}

} // namespace

TEST(Batch, AClassGetsOneRowPerStudentAndAReportEach) {
    const fs::path batch = make_class();
    const Graded g = grade_class("class", batch, true);
    ASSERT_EQ(g.exit_code, 0) << g.console;
    EXPECT_EQ(read_file(g.out / "grades.csv"), "student,submission,lab04,total,max\n"
                                               "alice," +
                                                   (batch / "alice").string() +
                                                   ",100,100,100\n"
                                                   "bob," +
                                                   (batch / "bob").string() +
                                                   ",0,0,100\n"
                                                   "carol," +
                                                   (batch / "carol").string() + ",0,0,100\n");
    for (const char* student : {"alice", "bob", "carol"}) {
        for (const char* file :
             {"report.json", "report.txt", "junit.xml", "results.json", "classroom.json"}) {
            EXPECT_TRUE(fs::exists(g.out / student / file)) << student << "/" << file;
        }
    }
    EXPECT_EQ(json::parse(read_file(g.out / "carol/report.json")).at("labs")[0].at("build"), "compile error");
}

TEST(Batch, ARunThatStoppedGoesOnWithoutGradingAgainWhatWasDone) {
    const fs::path batch = make_class();
    const Graded first = grade_class("resume", batch, true);
    ASSERT_EQ(first.exit_code, 0) << first.console;
    const std::string csv = read_file(first.out / "grades.csv");
    // As if the grader had been killed while grading bob: bob has no report yet.
    fs::remove_all(first.out / "bob");
    const auto alice_written = fs::last_write_time(first.out / "alice/report.json");
    const Graded again = grade_class("resume", batch, false);
    ASSERT_EQ(again.exit_code, 0) << again.console;
    EXPECT_EQ(fs::last_write_time(first.out / "alice/report.json"), alice_written)
        << "alice was graded again";
    EXPECT_TRUE(fs::exists(first.out / "bob/report.json"));
    EXPECT_EQ(read_file(first.out / "grades.csv"), csv);
}

TEST(Batch, GradingTheSameClassTwiceGivesTheSameScores) {
    const fs::path batch = make_class();
    const Graded one = grade_class("twice-1", batch, true);
    const Graded two = grade_class("twice-2", batch, true);
    ASSERT_EQ(one.exit_code, 0) << one.console;
    ASSERT_EQ(two.exit_code, 0) << two.console;
    EXPECT_EQ(read_file(one.out / "grades.csv"), read_file(two.out / "grades.csv"));
    // Each check says the seed its script ran with, and it is the same both times.
    const auto seeds = [](const fs::path& report) {
        std::map<std::string, std::uint64_t> found;
        const json parsed = json::parse(read_file(report));
        for (const auto& l : parsed.at("labs")) {
            for (const auto& item : l.at("items")) {
                if (item.at("kind") == "check") {
                    found[item.at("name").get<std::string>()] = item.at("seed").get<std::uint64_t>();
                }
            }
        }
        return found;
    };
    const auto first = seeds(one.out / "alice/report.json");
    EXPECT_FALSE(first.empty());
    EXPECT_EQ(first, seeds(two.out / "alice/report.json"));
    for (const auto& [name, seed] : first) {
        EXPECT_NE(seed, 0u) << name;
    }
}

// --- the corpus of buggy and hostile submissions ---------------------------------------------

namespace {

std::vector<std::string> corpus_cases() {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(kRoot / "instructor/corpus")) {
        if (fs::exists(entry.path() / "case.toml")) {
            names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

// The project's rubric with short deadlines, so that the cases that hang end quickly (a correct
// lab's tests take about 1 s in all).
fs::path fast_rubric(const std::string& name, int build_seconds, int test_seconds,
                     int submission_seconds = 1800) {
    std::string text = read_file(kRoot / "tools/grade/rubric.toml");
    text = std::regex_replace(text, std::regex("test_timeout_seconds = [0-9]+"),
                              "test_timeout_seconds = " + std::to_string(test_seconds));
    text = std::regex_replace(text, std::regex("lab_timeout_seconds = [0-9]+"), "lab_timeout_seconds = 10");
    text = std::regex_replace(text, std::regex("lab_max_timeouts = [0-9]+"), "lab_max_timeouts = 3");
    text = std::regex_replace(text, std::regex("build_timeout_seconds = [0-9]+"),
                              "build_timeout_seconds = " + std::to_string(build_seconds));
    text = std::regex_replace(text, std::regex("submission_timeout_seconds = [0-9]+"),
                              "submission_timeout_seconds = " + std::to_string(submission_seconds));
    const fs::path path = kScratch / "rubrics" / (name + ".toml");
    write_file(path, text);
    return path;
}

// Whether this machine lets the grader make a network namespace (root, or user namespaces).
bool can_make_network_namespace() {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::_exit(::unshare(CLONE_NEWNET) == 0 ? 0 : 1);
    }
    int status = 0;
    return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Processes still running a program of the work folder's build.
std::vector<std::string> leftovers() {
    std::vector<std::string> found;
    const std::string prefix = fs::weakly_canonical(kScratch / "work").string() + "/";
    for (const auto& entry : fs::directory_iterator("/proc")) {
        std::error_code ec;
        const std::string exe = fs::read_symlink(entry.path() / "exe", ec).string();
        if (!ec && exe.rfind(prefix, 0) == 0) {
            found.push_back(entry.path().filename().string() + " " + exe);
        }
    }
    return found;
}

// The grading user a grade ran as (its report's notes name it), or -1 (not run as root).
int grading_user_of(const json& report) {
    int wanted = -1;
    for (const auto& note : report.at("notes")) {
        std::smatch m;
        const std::string text = note.get<std::string>();
        if (std::regex_search(text, m, std::regex("ran as user id ([0-9]+)"))) {
            wanted = std::stoi(m[1].str());
        }
    }
    return wanted;
}

// Processes of the grading user a grade ran as, whatever they run. Only that one: another grader
// working at the same time (a Gradescope test, say) has its own.
std::vector<std::string> processes_of_grading_user(const json& report) {
    const int wanted = grading_user_of(report);
    std::vector<std::string> found;
    if (wanted < 0) {
        return found; // not run as root: no grading user
    }
    for (const auto& entry : fs::directory_iterator("/proc")) {
        std::ifstream status(entry.path() / "status");
        std::string line;
        std::string state;
        while (std::getline(status, line)) {
            if (line.rfind("State:", 0) == 0) {
                state = line;
            } else if (line.rfind("Uid:", 0) == 0) {
                const int uid = std::stoi(line.substr(4));
                if (uid == wanted && state.find('Z') == std::string::npos) {
                    found.push_back(entry.path().filename().string() + " uid " + std::to_string(uid));
                }
                break;
            }
        }
    }
    return found;
}

// Secrets every case is checked against: a value exported to the grader, and a root-only folder
// outside the tree with a marker and a copy of a reference solution (cases include or .incbin
// them). None may reach a report.
struct Secrets {
    std::string environment = "instructor-secret-" + std::to_string(::getpid());
    std::string marker = "SOCKLAB-ROOT-ONLY-" + std::to_string(::getpid());
};

const Secrets& plant_secrets() {
    static const Secrets secrets = [] {
        Secrets s;
        const fs::path dir = "/var/tmp/socklab-corpus-secret";
        fs::create_directories(dir);
        fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
        write_file(dir / "secret.txt", s.marker + "\n");
        fs::copy_file(kRoot / "solutions/02-server/tcp_stream.cpp", dir / "tcp_stream.cpp",
                      fs::copy_options::overwrite_existing);
        for (const char* f : {"secret.txt", "tcp_stream.cpp"}) {
            fs::permissions(dir / f, fs::perms::owner_read | fs::perms::owner_write,
                            fs::perm_options::replace);
        }
        ::setenv("SOCKLAB_CORPUS_SECRET", s.environment.c_str(), 1);
        return s;
    }();
    return secrets;
}

// Lines of the lab's hidden scripts that no visible script of the lab has: a report that shows one
// read the hidden checks.
std::vector<std::string> hidden_lines(const std::string& id) {
    std::set<std::string> visible;
    std::vector<std::string> hidden;
    for (const auto& lab_dir : fs::directory_iterator(kRoot / "labs")) {
        if (lab_dir.path().filename().string().rfind(id + "-", 0) == 0 &&
            fs::is_directory(lab_dir.path() / "scripts")) {
            for (const auto& f : fs::directory_iterator(lab_dir.path() / "scripts")) {
                std::istringstream lines(read_file(f.path()));
                for (std::string line; std::getline(lines, line);) {
                    visible.insert(line);
                }
            }
        }
    }
    for (const auto& folder : fs::directory_iterator(kRoot / "instructor/hidden")) {
        if (folder.path().filename().string().rfind(id + "-", 0) != 0) {
            continue;
        }
        for (const auto& f : fs::directory_iterator(folder.path())) {
            std::istringstream lines(read_file(f.path()));
            for (std::string line; std::getline(lines, line);) {
                if (line.size() >= 40 && visible.count(line) == 0) {
                    hidden.push_back(line);
                }
            }
        }
    }
    return hidden;
}

// What a submission may have left outside its sandbox: files of the spy case, System V IPC objects
// under its keys, cgroups of the grader's.
// What a grade of report left on the machine: files and IPC objects of the corpus's spies, and
// its cgroups (socklab-grade-PID-UID-N: another grader at work meanwhile, such as the Gradescope
// test's, has another grading user and cgroups of its own).
std::vector<std::string> left_on_the_machine(const json& report) {
    const std::string ours = "-" + std::to_string(grading_user_of(report)) + "-";
    std::vector<std::string> found;
    for (const char* f :
         {"/run/lock/socklab-spy", "/tmp/socklab-spy", "/dev/shm/socklab-spy", "/var/tmp/socklab-spy"}) {
        if (fs::exists(f)) {
            found.emplace_back(f);
        }
    }
    for (const char* table : {"/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"}) {
        std::istringstream lines(read_file(table));
        std::string line;
        std::getline(lines, line); // the header
        while (std::getline(lines, line)) {
            long long key = 0;
            if (std::istringstream(line) >> key && (key == 0x50c4a1 || key == 0x50c4a2 || key == 0x50c4a3)) {
                found.push_back(std::string(table) + ": key " + std::to_string(key));
            }
        }
    }
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator("/sys/fs/cgroup",
                                                    fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind("socklab-grade-", 0) == 0 && name.find(ours) != std::string::npos) {
            found.push_back(it->path().string());
            it.disable_recursion_pending();
        }
    }
    return found;
}

// The case's submission: a copy of the solutions with the case's files over it, or what its
// link keys say (a lab folder, or a handout's src, that is a symbolic link to the solutions).
fs::path case_submission(const std::string& name, const fs::path& dir, const toml::table& expect) {
    const auto link = expect["link"].value<std::string>();
    if (expect["handout_link"].value_or(false)) {
        const fs::path sub = handout_copy("corpus-" + name);
        fs::remove_all(sub / "labs/02-server/src");
        fs::create_symlink(kRoot / "solutions/02-server", sub / "labs/02-server/src");
        return sub;
    }
    const fs::path sub = solutions_copy("corpus-" + name);
    if (link) {
        fs::remove_all(sub / *link);
        const fs::path target = kRoot / "solutions" / *link;
        fs::create_symlink(expect["relative_link"].value_or(false) ? fs::relative(target, sub) : target,
                           sub / *link);
    }
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().filename() != "case.toml") {
            fs::create_directories((sub / fs::relative(entry.path(), dir)).parent_path());
            fs::copy_file(entry.path(), sub / fs::relative(entry.path(), dir),
                          fs::copy_options::overwrite_existing);
        }
    }
    return sub;
}

} // namespace

class Corpus : public ::testing::TestWithParam<std::string> {};

TEST_P(Corpus, TheGraderReportsTheExpectedOutcomeAndLeavesNothingBehind) {
    const fs::path dir = kRoot / "instructor/corpus" / GetParam();
    const auto expect = toml::parse_file((dir / "case.toml").string());
    const std::string id = expect["lab"].value_or(std::string());
    if (expect["needs_network_namespace"].value_or(false) && !can_make_network_namespace()) {
        GTEST_SKIP() << "this machine cannot make a network namespace, and this case connects outside "
                        "loopback: run only where nothing can leave the machine";
    }
    if (expect["needs_root"].value_or(false) && ::geteuid() != 0) {
        GTEST_SKIP() << "the grader confines a submission's programs to a user of their own only as root";
    }
    if (expect["needs_cgroup"].value_or(false) && !fs::exists("/sys/fs/cgroup/cgroup.controllers") &&
        !fs::exists("/sys/fs/cgroup/memory/cgroup.procs")) {
        GTEST_SKIP() << "this machine has no cgroup memory controller for the grader to use";
    }
    const Secrets& secrets = plant_secrets();
    const fs::path sub = case_submission(GetParam(), dir, *expect.as_table());
    const auto started = std::chrono::steady_clock::now();
    const int build_seconds = expect["build_timeout_seconds"].value_or(120);
    const int test_seconds = expect["test_timeout_seconds"].value_or(2);
    const int submission_seconds = expect["submission_timeout_seconds"].value_or(1800);
    const std::string options =
        "--labs " + id + " --no-hidden --rubric " +
        fast_rubric(GetParam(), build_seconds, test_seconds, submission_seconds).string();
    std::string first_report;
    if (expect["grade_twice"].value_or(false)) {
        const Graded first = grade("corpus-" + GetParam(), sub, options);
        ASSERT_EQ(first.exit_code, 0) << first.console;
        first_report = read_file(first.out / "report.json");
    }
    const bool with_terminal = expect["with_terminal"].value_or(false);
    if (with_terminal && read_file("/proc/sys/dev/tty/legacy_tiocsti").rfind('0', 0) == 0) {
        GTEST_SKIP() << "this kernel refuses TIOCSTI to all but CAP_SYS_ADMIN (dev.tty.legacy_tiocsti = 0): "
                        "the case could not fail here";
    }
    std::string typed;
    const Graded g = grade("corpus-" + GetParam(), sub, options, with_terminal ? &typed : nullptr);
    EXPECT_EQ(typed.find("SOCKLAB-TYPED"), std::string::npos)
        << "the submission typed into the grader's terminal: " << typed;
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() /
                         (first_report.empty() ? 1 : 2);
    ASSERT_EQ(g.exit_code, 0) << g.console;
    if (expect["needs_cgroup"].value_or(false)) {
        for (const auto& note : g.report.at("notes")) {
            if (note.get<std::string>().find("limits: per process only") != std::string::npos) {
                GTEST_SKIP() << "the grader had no cgroup here: " << note.get<std::string>();
            }
        }
    }
    // The budget: the build, then 10 s of tests (the rest are not run), the scripts, the sweep.
    EXPECT_LT(seconds, build_seconds + 60.0) << "the grader did not end within its budget";
    const json& l = lab(g.report, id);
    const double score = l.at("score").get<double>();
    if (const auto max = expect["max_score"].value<double>()) {
        EXPECT_LE(score, *max) << failures(l);
    }
    if (const auto min = expect["min_score"].value<double>()) {
        EXPECT_GE(score, *min) << failures(l);
    }
    if (const auto reason = expect["reason"].value<std::string>()) {
        const std::regex wanted(*reason);
        bool seen = false;
        for (const auto& item : l.at("items")) {
            seen = seen || (item.at("status") != "passed" &&
                            (std::regex_search(item.at("reason").get<std::string>(), wanted) ||
                             std::regex_search(item.at("output").get<std::string>(), wanted)));
        }
        seen = seen || std::regex_search(l.at("build_log").get<std::string>(), wanted);
        EXPECT_TRUE(seen) << "no failed item (nor the build) says /" << *reason << "/:\n"
                          << l.at("build_log").get<std::string>() << "\n"
                          << failures(l);
    }
    if (const auto wire = expect["wire"].value<std::string>()) {
        bool own_network = false;
        for (const auto& note : g.report.at("notes")) {
            own_network =
                own_network || note.get<std::string>().rfind("network: the programs ran in a network "
                                                             "namespace of their own",
                                                             0) == 0;
        }
        if (own_network) { // else the grader captures nothing, and says so in the report
            const std::regex wanted(*wire);
            bool seen = false;
            bool captured = true;
            for (const auto& item : l.at("items")) {
                const std::string output = item.at("output").get<std::string>();
                captured = captured && output.find("the wire: not captured here") == std::string::npos;
                seen = seen || (item.at("kind") == "check" && item.at("status") != "passed" &&
                                std::regex_search(output, wanted));
            }
            if (!captured) {
                GTEST_SKIP() << "the grader could not capture here:\n" << failures(l);
            }
            EXPECT_TRUE(seen) << "no failed check's report shows /" << *wire << "/ on the wire:\n"
                              << failures(l);
        }
    }
    if (const auto missing = expect["missing"].value<std::string>()) {
        bool listed = false;
        for (const auto& e : l.at("missing")) {
            listed = listed || e.get<std::string>().find(*missing) != std::string::npos;
        }
        EXPECT_TRUE(listed) << "the report does not list a missing file with " << *missing << ": "
                            << l.at("missing");
    }
    if (const auto extra = expect["extra"].value<std::string>()) {
        bool listed = false;
        for (const auto& e : l.at("extra")) {
            listed = listed || e.get<std::string>().find(*extra) != std::string::npos;
        }
        EXPECT_TRUE(listed) << "the report does not list " << *extra << " as ignored: " << l.at("extra");
    }
    const std::string report_text = read_file(g.out / "report.json");
    for (const std::string& text : {report_text, first_report}) {
        if (const auto absent = expect["absent"].value<std::string>()) {
            EXPECT_EQ(text.find(*absent), std::string::npos)
                << "the report shows what the submission must not see: " << *absent;
        }
        EXPECT_EQ(text.find(secrets.environment), std::string::npos)
            << "a report shows the grader's environment";
        EXPECT_EQ(text.find(secrets.marker), std::string::npos) << "a report shows a root-only file";
        for (const auto& line : hidden_lines(id)) {
            EXPECT_EQ(text.find(line), std::string::npos)
                << "a report shows a line of a hidden script: " << line;
        }
    }
    EXPECT_EQ(left_on_the_machine(g.report), std::vector<std::string>{})
        << "the submission left something on the machine";
    if (const auto kib = expect["max_report_kib"].value<std::int64_t>()) {
        EXPECT_LT(report_text.size(), static_cast<std::size_t>(*kib) * 1024) << "the report grew unbounded";
    }
    EXPECT_EQ(leftovers(), std::vector<std::string>{}) << "processes of the submission outlived the grade";
    EXPECT_EQ(processes_of_grading_user(g.report), std::vector<std::string>{})
        << "processes of a grading user outlived the grade";
    EXPECT_FALSE(fs::exists(kScratch / "work/build/scratch")) << "the tests' scratch folder was left behind";
    EXPECT_FALSE(fs::exists(kRoot / "results.json"));
    EXPECT_FALSE(fs::exists(fs::current_path() / "results.json")) << "a program wrote where the grader runs";
}

INSTANTIATE_TEST_SUITE_P(Cases, Corpus, ::testing::ValuesIn(corpus_cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

// A lab whose tests hang is cut after the same test on every grade, whatever else loads the
// machine and with tests run two at a time: the cut counts time-outs in the tests' order (the
// rubric's lab_max_timeouts), not seconds.
TEST(Grader, AHangingLabIsCutAtTheSameTestOnEveryGrade) {
    const fs::path sub = solutions_copy("hangs-twice");
    const fs::path dir = kRoot / "instructor/corpus/02-hangs-in-read";
    fs::copy_file(dir / "02-server/tcp_stream.cpp", sub / "02-server/tcp_stream.cpp",
                  fs::copy_options::overwrite_existing);
    const std::string rubric = fast_rubric("hangs-twice", 120, 2).string();
    std::vector<std::string> runs[2];
    for (int i = 0; i < 2; ++i) {
        const Graded g = grade("hangs-twice-" + std::to_string(i), sub,
                               "--labs 02 --no-hidden --jobs 2 --rubric " + rubric);
        ASSERT_EQ(g.exit_code, 0) << g.console;
        for (const auto& item : lab(g.report, "02").at("items")) {
            runs[i].push_back(
                item.at("name").get<std::string>() + ": " + item.at("status").get<std::string>() +
                (item.at("reason").get<std::string>().rfind("not run:", 0) == 0 ? " (not run)" : ""));
        }
    }
    EXPECT_EQ(runs[0], runs[1]) << "the second grade differs from the first";
    const auto cut = std::find_if(runs[0].begin(), runs[0].end(), [](const std::string& line) {
        return line.find("(not run)") != std::string::npos;
    });
    EXPECT_NE(cut, runs[0].end()) << "the lab was not cut after its third time-out";
}
