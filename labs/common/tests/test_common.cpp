// Tests of the given code every lab builds on: UniqueFd, the checker, NotImplemented, run_main.
#include "socklab/check.hpp"
#include "socklab/not_implemented.hpp"
#include "socklab/program.hpp"
#include "socklab/unique_fd.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netdb.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace {

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

int open_pipe_end() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    ::close(fds[1]);
    return fds[0];
}

TEST(UniqueFd, ClosesItsDescriptorWhenDestroyed) {
    const int fd = open_pipe_end();
    {
        socklab::UniqueFd owner(fd); // closes fd at this block's end
    }
    EXPECT_FALSE(is_open(fd));
}

TEST(UniqueFd, MoveLeavesTheSourceEmptyAndClosesOnce) {
    const int fd = open_pipe_end();
    socklab::UniqueFd a(fd);
    socklab::UniqueFd b(std::move(a));
    EXPECT_EQ(a.get(), -1); // NOLINT(bugprone-use-after-move): the moved-from state is specified
    EXPECT_EQ(b.get(), fd);
    b = socklab::UniqueFd();
    EXPECT_FALSE(is_open(fd));
}

TEST(UniqueFd, ReleaseGivesUpOwnershipWithoutClosing) {
    const int fd = open_pipe_end();
    {
        socklab::UniqueFd owner(fd);
        EXPECT_EQ(owner.release(), fd);
        EXPECT_FALSE(owner);
    }
    EXPECT_TRUE(is_open(fd));
    ::close(fd);
}

TEST(Check, ReturnsTheResultWhenItIsNotMinusOne) {
    EXPECT_EQ(socklab::check(7, "op"), 7);
}

TEST(Check, ThrowsSocketErrorCarryingErrnoOperationAndEndpoint) {
    errno = ECONNREFUSED;
    try {
        socklab::check(-1, "connect to", "127.0.0.1:9");
        FAIL() << "check(-1) did not throw";
    } catch (const socklab::SocketError& e) {
        EXPECT_EQ(e.code(), std::error_code(ECONNREFUSED, std::system_category()));
        EXPECT_EQ(e.operation(), "connect to");
        EXPECT_EQ(e.endpoint(), "127.0.0.1:9");
        const std::string what = e.what();
        EXPECT_NE(what.find("connect to 127.0.0.1:9: Connection refused [ECONNREFUSED]"), std::string::npos)
            << what;
        EXPECT_NE(what.find("nothing listens there"), std::string::npos) << what;
    }
}

TEST(Check, NamesAWellKnownPortAsTheLikelyCauseOfEaccesOnBind) {
    EXPECT_NE(socklab::likely_cause(EACCES, "bind").find("0-1023"), std::string_view::npos);
    EXPECT_EQ(socklab::likely_cause(EACCES, "connect to").find("0-1023"), std::string_view::npos);
}

TEST(Check, HasALikelyCauseForEveryErrnoTheLabsTeach) {
    for (const int err : {EADDRINUSE, EADDRNOTAVAIL, EACCES, ECONNREFUSED, ETIMEDOUT, ENETUNREACH,
                          EHOSTUNREACH, ECONNRESET, EPIPE, EMFILE}) {
        EXPECT_FALSE(socklab::likely_cause(err, "connect to").empty()) << ::strerrorname_np(err);
    }
}

TEST(Check, RetriesOnEintrAndReturnsTheFirstOtherResult) {
    int calls = 0;
    const int result = socklab::retry_on_eintr([&] {
        ++calls;
        errno = EINTR;
        return calls < 3 ? -1 : 42;
    });
    EXPECT_EQ(result, 42);
    EXPECT_EQ(calls, 3);
}

TEST(ResolverError, IsInTheResolverCategoryAndQuotesTheHost) {
    try {
        socklab::throw_resolver_error(EAI_NONAME, "nowhere.invalid");
    } catch (const socklab::SocketError& e) {
        EXPECT_EQ(&e.code().category(), &socklab::resolver_category());
        EXPECT_EQ(e.code().value(), EAI_NONAME);
        const std::string what = e.what();
        EXPECT_NE(what.find("resolve \"nowhere.invalid\""), std::string::npos) << what;
        EXPECT_NE(what.find("[EAI_NONAME]"), std::string::npos) << what;
    }
}

TEST(NotImplemented, NamesTheFunctionAndTheDocSection) {
    const socklab::NotImplemented e("Endpoint::parse", "docs/labs/01-endpoints.md#step-5");
    EXPECT_STREQ(e.what(), "not implemented yet: Endpoint::parse (read docs/labs/01-endpoints.md#step-5)");
}

TEST(NotImplemented, IsNeitherAnInvalidArgumentNorASystemError) {
    // Tests that expect those types must not accept a skeleton's NotImplemented.
    const socklab::NotImplemented e("f", "docs/x.md");
    EXPECT_EQ(dynamic_cast<const std::logic_error*>(static_cast<const std::exception*>(&e)), nullptr);
    EXPECT_EQ(dynamic_cast<const std::system_error*>(static_cast<const std::exception*>(&e)), nullptr);
}

TEST(RunMain, MapsEachKindOfFailureToItsSysexitsCode) {
    using socklab::run_main;
    EXPECT_EQ(run_main("t", [] { return 0; }), 0);
    EXPECT_EQ(run_main("t", []() -> int { throw std::invalid_argument("bad"); }), 64);
    EXPECT_EQ(run_main("t", []() -> int { throw socklab::NotImplemented("f", "docs/x.md"); }), 70);
    EXPECT_EQ(run_main("t", []() -> int { socklab::throw_resolver_error(EAI_AGAIN, "h"); }), 68);
    EXPECT_EQ(run_main("t", []() -> int { socklab::throw_errno(ECONNREFUSED, "connect to"); }), 69);
    EXPECT_EQ(run_main("t", []() -> int { socklab::throw_errno(EADDRINUSE, "bind"); }), 71);
    EXPECT_EQ(run_main("t", []() -> int { socklab::throw_errno(ECONNRESET, "recv"); }), 74);
    EXPECT_EQ(run_main("t", []() -> int { socklab::throw_errno(ETIMEDOUT, "connect to"); }), 75);
    EXPECT_EQ(run_main("t", []() -> int { socklab::throw_errno(EACCES, "bind"); }), 77);
}

TEST(RunMain, PrintsTheProgramNameAndTheMessageOnStderr) {
    testing::internal::CaptureStderr();
    (void)socklab::run_main("lab09-x", []() -> int { throw std::invalid_argument("invalid port \"x\""); });
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "lab09-x: invalid port \"x\"\n");
}

} // namespace
