// The main of every lab's tests, compiled once: Catch2's runner, plus a SIGPIPE tripwire.
//
// A send() without MSG_NOSIGNAL on a connection whose peer has gone raises SIGPIPE, and SIGPIPE
// kills a process without a word. Here the tripwire names the test and prints the stack of the
// send that forgot the flag, then lets the signal do what it would have done.
//
// Catch2 v2 or v3 (socklab/testkit/catch.hpp): the few places where they differ are here, so the
// tests and the grader see one program: the same options, names, listener and exit codes.
#if SOCKLAB_CATCH2_MAJOR == 2
#define CATCH_CONFIG_RUNNER
// Wide enough that a docs link in a failure message stays on one line, ready to copy. (v3 fixes
// the width when Catch2 itself is built: 80 on Debian; tools/socklab.py reads wrapped messages.)
#define CATCH_CONFIG_CONSOLE_WIDTH 200
#endif
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/watchdog.hpp"

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

// The running test's name and docs section, for the signal handler and the sanitizers' report
// hook (which may only read plain memory).
char g_current_test[512] = "(before any test)";
char g_current_docs[512] = "";

void write_text(const char* text) {
    std::size_t left = std::strlen(text);
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, text, left);
        if (n <= 0) {
            return;
        }
        text += n;
        left -= static_cast<std::size_t>(n);
    }
}

extern "C" void on_sigpipe(int) {
    write_text("\n*** SIGPIPE in test \"");
    write_text(g_current_test);
    write_text("\".\n*** A send() or write() went to a connection whose peer had closed it, without "
               "MSG_NOSIGNAL,\n*** so the kernel raised SIGPIPE, which ends the process. Pass "
               "MSG_NOSIGNAL to send()\n*** and handle the EPIPE error it then reports "
               "(docs/reference/testkit.md#the-sigpipe-tripwire).\n*** The call came from:\n");
    void* frames[48];
    const int count = ::backtrace(frames, 48);
    ::backtrace_symbols_fd(frames, count, STDERR_FILENO);
    ::signal(SIGPIPE, SIG_DFL);
    ::raise(SIGPIPE);
}

} // namespace

// A sanitizer's report ends with its SUMMARY line, which the runtime prints through this hook (a
// weak function of the AddressSanitizer, ThreadSanitizer and UBSan runtimes; without a sanitizer
// it is never called). A ThreadSanitizer report does not fail the test that caused it: Catch2
// goes on to print "1 passed", and only the exit code says otherwise. So the hook names the test
// and the docs section to read, as a failed check does. (The name is the runtimes', reserved for
// them to define and for a program to override, which is the point here.)
// NOLINTNEXTLINE(bugprone-reserved-identifier)
extern "C" void __sanitizer_report_error_summary(const char* summary) {
    write_text(summary);
    write_text("\n*** reported during test \"");
    write_text(g_current_test);
    write_text("\" (the sanitizer's report above says where; docs/reference/testkit.md#sanitizers)\n");
    if (g_current_docs[0] != '\0') {
        write_text("read: ");
        write_text(g_current_docs);
        write_text("\n");
    }
}

namespace {

// The base of a listener (v2 declares it only where CATCH_CONFIG_RUNNER is, here), and a test's
// tags as text: v2 keeps them as strings, v3 as Tag objects (and testInfo as a pointer).
#if SOCKLAB_CATCH2_MAJOR == 3
using ListenerBase = Catch::EventListenerBase;
const Catch::TestCaseInfo& info_of(const Catch::TestCaseStats& stats) {
    return *stats.testInfo;
}
std::string tag_text(const Catch::Tag& tag) {
    return std::string(tag.original);
}
#else
using ListenerBase = Catch::TestEventListenerBase;
const Catch::TestCaseInfo& info_of(const Catch::TestCaseStats& stats) {
    return stats.testInfo;
}
std::string tag_text(const std::string& tag) {
    return tag;
}
#endif

class CurrentTestListener : public ListenerBase {
public:
    // Its constructor: v2's takes the reporter's config, v3's the run's.
    using ListenerBase::ListenerBase;
    void testCaseStarting(const Catch::TestCaseInfo& info) override {
        std::strncpy(g_current_test, info.name.c_str(), sizeof g_current_test - 1);
        g_current_docs[0] = '\0';
        socklab::testkit::set_current_docs_section({});
        for (const auto& tag : info.tags) {
            const std::string text = tag_text(tag);
            if (text.rfind("docs/", 0) == 0) {
                socklab::testkit::set_current_docs_section(text);
                std::strncpy(g_current_docs, text.c_str(), sizeof g_current_docs - 1);
            }
        }
    }
    // A failed test says which section of the docs explains the behaviour it checks: the tag
    // every lab test carries, like "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]".
    void testCaseEnded(const Catch::TestCaseStats& stats) override {
        if (stats.totals.assertions.allOk()) {
            return;
        }
        for (const auto& tag : info_of(stats).tags) {
            const std::string text = tag_text(tag);
            if (text.rfind("docs/", 0) == 0) {
                std::cout << "read: " << text << std::endl;
            }
        }
    }
    // A report after the last test (LeakSanitizer's comes at exit) belongs to no test: its stacks
    // say where the memory was allocated.
    void testRunEnded(const Catch::TestRunStats& stats) override {
        std::strncpy(g_current_test, "(none: the run had ended)", sizeof g_current_test - 1);
        g_current_docs[0] = '\0';
        ListenerBase::testRunEnded(stats);
    }
};

// The command line as Catch2 v2 reads it, for the version built in. The grader and the docs use
// v2's --list-test-names-only (one name per line, nothing else); v3 says it
// --list-tests --verbosity quiet. Every other option means the same on both.
std::vector<std::string> catch_arguments(int argc, char* argv[]) {
    std::vector<std::string> args(argv, argv + argc);
#if SOCKLAB_CATCH2_MAJOR == 3
    std::vector<std::string> translated;
    for (const std::string& arg : args) {
        if (arg == "--list-test-names-only") {
            translated.insert(translated.end(), {"--list-tests", "--verbosity", "quiet"});
        } else {
            translated.push_back(arg);
        }
    }
    args = std::move(translated);
#endif
    return args;
}

} // namespace

CATCH_REGISTER_LISTENER(CurrentTestListener)

namespace socklab::testkit {

void report_skip(std::string_view reason) {
    const char* under_ctest = std::getenv("SOCKLAB_UNDER_CTEST");
    if (under_ctest != nullptr && std::string_view(under_ctest) == "1") {
        std::cout << "SKIPPED: " << reason << std::endl;
        std::_Exit(77); // CTest's SKIP_RETURN_CODE for socklab tests (cmake/SocklabLab.cmake)
    }
}

} // namespace socklab::testkit

int main(int argc, char* argv[]) {
    // backtrace() loads libgcc on first use, which is not safe inside a signal handler: warm it up.
    void* warm_up[1];
    ::backtrace(warm_up, 1);
    struct sigaction tripwire = {};
    tripwire.sa_handler = on_sigpipe;
    sigemptyset(&tripwire.sa_mask);
    ::sigaction(SIGPIPE, &tripwire, nullptr);
    std::vector<std::string> args = catch_arguments(argc, argv);
    std::vector<char*> pointers;
    pointers.reserve(args.size());
    for (std::string& arg : args) {
        pointers.push_back(arg.data());
    }
    return Catch::Session().run(static_cast<int>(pointers.size()), pointers.data());
}
