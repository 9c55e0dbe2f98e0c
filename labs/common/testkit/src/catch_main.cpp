// The main of every lab's tests, compiled once: Catch2's runner, plus a SIGPIPE tripwire.
//
// A send() without MSG_NOSIGNAL on a connection whose peer has gone raises SIGPIPE, and SIGPIPE
// kills a process without a word. Here the tripwire names the test and prints the stack of the
// send that forgot the flag, then lets the signal do what it would have done.
#define CATCH_CONFIG_RUNNER
// Wide enough that a docs link in a failure message stays on one line, ready to copy.
#define CATCH_CONFIG_CONSOLE_WIDTH 200
#include "socklab/testkit/catch_support.hpp"

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

namespace {

// The running test's name, for the signal handler (which may only read plain memory).
char g_current_test[512] = "(before any test)";

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

class CurrentTestListener : public Catch::TestEventListenerBase {
public:
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseStarting(const Catch::TestCaseInfo& info) override {
        std::strncpy(g_current_test, info.name.c_str(), sizeof g_current_test - 1);
    }
    // A failed test says which section of the docs explains the behaviour it checks: the tag
    // every lab test carries, like "[docs/labs/01-endpoints.md#step-1-parse-an-ipv4-address]".
    void testCaseEnded(const Catch::TestCaseStats& stats) override {
        if (stats.totals.assertions.allOk()) {
            return;
        }
        for (const std::string& tag : stats.testInfo.tags) {
            if (tag.rfind("docs/", 0) == 0) {
                std::cout << "read: " << tag << std::endl;
            }
        }
    }
};

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
    struct sigaction tripwire {};
    tripwire.sa_handler = on_sigpipe;
    sigemptyset(&tripwire.sa_mask);
    ::sigaction(SIGPIPE, &tripwire, nullptr);
    return Catch::Session().run(argc, argv);
}
