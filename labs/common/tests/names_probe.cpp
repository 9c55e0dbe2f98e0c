// Catch2 checks that fail on purpose, each with an errno value or a flag in it, to show that the
// test kit prints them by name. Run by common/Names tests in test_testkit.cpp, never by CTest
// directly.
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/names.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

using namespace socklab::testkit;

TEST_CASE("probe matches a refused connection against ECONNRESET") {
    REQUIRE_THROWS_MATCHES(throw std::system_error(std::make_error_code(std::errc::connection_refused),
                                                   "connect to 127.0.0.1:9"),
                           std::system_error, HasErrno(std::errc::connection_reset));
}

TEST_CASE("probe expects ECONNREFUSED where nothing is thrown") {
    REQUIRE_THROWS_MATCHES((void)0, std::system_error, HasErrno(std::errc::connection_refused));
}

TEST_CASE("probe compares an error code with a std::errc") {
    const std::error_code last(ECONNRESET, std::system_category());
    CHECK(last == std::errc::broken_pipe);
}

TEST_CASE("probe finds a socket still non-blocking") {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    INFO(describe_flags(fd));
    CHECK_FALSE(is_nonblocking(fd));
    ::close(fd);
}

TEST_CASE("probe makes a system call that fails") {
    SOCKLAB_REQUIRE_SYSCALL(::shutdown(-1, SHUT_WR));
}
