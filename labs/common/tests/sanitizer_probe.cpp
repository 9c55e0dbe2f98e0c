// A Catch2 test that makes the sanitizer it is built with report, to show that the report ends
// with the test's name and its read: line. Run by common/Sanitizers tests in test_testkit.cpp,
// never by CTest directly. Without a sanitizer it does nothing wrong, and reports nothing.
#include "socklab/testkit/catch_support.hpp"

#include <memory>
#include <thread>

namespace {
int g_shared = 0; // written by two threads with no lock: the data race ThreadSanitizer reports
}

TEST_CASE("probe makes the sanitizer it was built with report", "[docs/reference/testkit.md#sanitizers]") {
#if defined(__SANITIZE_THREAD__)
    std::thread other([] { g_shared = 1; });
    g_shared = 2;
    other.join();
#elif defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer: a read one past the end of a heap array.
    auto values = std::make_unique<int[]>(2);
    volatile int* past = values.get() + 2;
    g_shared = *past;
#endif
    CHECK(g_shared >= 0);
}
