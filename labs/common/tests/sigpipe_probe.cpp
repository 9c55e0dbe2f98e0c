// A Catch2 test that forgets MSG_NOSIGNAL on purpose, to show the SIGPIPE tripwire of the shared
// test main at work. Run by common/Tripwire tests in test_testkit.cpp, never by CTest directly.
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/loopback.hpp"

#include <sys/socket.h>

#include <string>

using namespace socklab::testkit;

TEST_CASE("probe sends without MSG_NOSIGNAL to a closed peer") {
    LoopbackListener listener;
    socklab::UniqueFd client = connect_loopback(listener.port(), Deadline(milliseconds(2000)));
    listener.accept(Deadline(milliseconds(2000))).reset();
    const std::string chunk(65536, 'x');
    // The first sends may succeed (buffered) or see the reset; a later one raises SIGPIPE.
    for (int i = 0; i < 100; ++i) {
        (void)::send(client.get(), chunk.data(), chunk.size(), 0);
    }
    FAIL("SIGPIPE was never raised");
}
