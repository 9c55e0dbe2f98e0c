// Lab 04: the line framer, with no sockets (docs/labs/04-framing.md, steps 1-2).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/line_framer.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/deadline.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using socklab::IncompleteMessage;
using socklab::LineFramer;
using socklab::LineTooLong;
using socklab::testkit::Bytes;
using socklab::testkit::Deadline;
using socklab::testkit::EqualsBytes;
using socklab::testkit::escape_bytes;
using socklab::testkit::kSanitizerSlowdown;
using socklab::testkit::MessageContains;
using std::chrono::milliseconds;

namespace {

// Feeds each piece in turn and takes out every message that completes.
std::vector<std::string> frame(LineFramer& framer, const std::vector<std::string>& pieces) {
    std::vector<std::string> messages;
    for (const auto& piece : pieces) {
        framer.feed(piece);
        while (const auto message = framer.next()) {
            messages.emplace_back(*message);
        }
    }
    return messages;
}

std::vector<std::string> frame(const std::vector<std::string>& pieces) {
    LineFramer framer;
    return frame(framer, pieces);
}

// text cut into pieces of random sizes (1 to 16 bytes), the same for the same seed.
std::vector<std::string> random_split(const std::string& text, unsigned seed) {
    std::mt19937 generator(seed);
    std::uniform_int_distribution<std::size_t> size(1, 16);
    std::vector<std::string> pieces;
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t n = std::min(size(generator), text.size() - at);
        pieces.push_back(text.substr(at, n));
        at += n;
    }
    return pieces;
}

using Messages = std::vector<std::string>;

} // namespace

// --- Step 1: gather bytes into lines ------------------------------------------------------------

TEST_CASE("LineFramer gives one message for one whole line",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    CHECK(frame({"ECHO hello\n"}) == Messages{"ECHO hello"});
}

TEST_CASE("LineFramer gives nothing until the newline arrives",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    LineFramer framer;
    framer.feed("ECHO hel");
    CHECK_FALSE(framer.next().has_value());
    framer.feed("lo\n");
    CHECK(framer.next() == std::optional<std::string_view>("ECHO hello"));
}

TEST_CASE("LineFramer answers a request delivered one byte per feed once when it is complete",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    std::vector<std::string> pieces;
    for (const char c : std::string("LEN abc\n")) {
        pieces.emplace_back(1, c);
    }
    CHECK(frame(pieces) == Messages{"LEN abc"});
}

TEST_CASE("LineFramer separates many requests that came in a single feed",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    CHECK(frame({"ECHO a\nUPPER b\nLEN c\n"}) == Messages{"ECHO a", "UPPER b", "LEN c"});
}

TEST_CASE("LineFramer keeps the rest of a feed for the next line",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    CHECK(frame({"ECHO a\nECH", "O b\n"}) == Messages{"ECHO a", "ECHO b"});
}

TEST_CASE("LineFramer drops the carriage return that telnet sends before the newline",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    CHECK(frame({"ECHO hi\r\n"}) == Messages{"ECHO hi"});
}

TEST_CASE("LineFramer drops the carriage return when it is split from its newline",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    CHECK(frame({"ECHO hi\r", "\n"}) == Messages{"ECHO hi"});
}

TEST_CASE("LineFramer keeps a carriage return that is not just before the newline",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    CHECK(frame({"a\rb\n"}) == Messages{"a\rb"});
}

TEST_CASE("LineFramer drops only one carriage return",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    CHECK(frame({"a\r\r\n"}) == Messages{"a\r"});
}

TEST_CASE("LineFramer gives an empty message for an empty line",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    CHECK(frame({"\n\r\nx\n"}) == Messages{"", "", "x"});
}

TEST_CASE("LineFramer keeps NUL and non-ASCII bytes inside a line",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    const std::string line("A\0B\xc3\xa9\xff", 6);
    const auto messages = frame({line + "\n"});
    REQUIRE(messages.size() == 1);
    CHECK_THAT(Bytes(messages[0]), EqualsBytes(line));
}

TEST_CASE("LineFramer keeps a NUL byte in a line that arrives in two feeds",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    // The second piece begins with the NUL: a search for the newline that stops at a NUL byte (a C
    // string function on the gathered bytes) never finds it.
    const auto messages = frame({"A", std::string("\0B\n", 3)});
    REQUIRE(messages.size() == 1);
    CHECK_THAT(Bytes(messages[0]), EqualsBytes(std::string("A\0B", 3)));
}

TEST_CASE("LineFramer gives the same messages however the bytes are split for 200 seeds",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    const std::string text = "ECHO one\nUPPER two\r\n\nLEN three four\nREVERSE \x01\x02\r\n";
    const Messages expected{"ECHO one", "UPPER two", "", "LEN three four", "REVERSE \x01\x02"};
    for (unsigned seed = 1; seed <= 200; ++seed) {
        INFO("seed " << seed << " (random_split in " << __FILE__ << ")");
        REQUIRE(frame(random_split(text, seed)) == expected);
    }
}

TEST_CASE("LineFramer counts the bytes it holds that were not taken out",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    LineFramer framer;
    framer.feed("ab\ncd");
    CHECK(framer.buffered() == 5);
    (void)framer.next();
    CHECK(framer.buffered() == 2);
}

TEST_CASE("LineFramer accepts a line of exactly the limit",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    LineFramer framer(8);
    CHECK(frame(framer, {"12345678\n"}) == Messages{"12345678"});
}

TEST_CASE("LineFramer does not count the CRLF against the limit",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    LineFramer framer(8);
    CHECK(frame(framer, {"12345678\r", "\n"}) == Messages{"12345678"});
}

TEST_CASE("LineFramer rejects a complete line one byte over the limit",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    LineFramer framer(8);
    framer.feed("12345678");
    // feed may see it already, or next() when it takes the line out: either is right.
    const auto feed_and_take = [&] {
        framer.feed("9\n");
        return framer.next();
    };
    REQUIRE_THROWS_MATCHES(feed_and_take(), LineTooLong, MessageContains({"8"}));
}

TEST_CASE("LineFramer rejects a line over the limit before its newline arrives",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    LineFramer framer(8);
    framer.feed("12345678");
    REQUIRE_THROWS_AS(framer.feed("9"), LineTooLong);
}

TEST_CASE("LineFramer never holds much more than the limit when no newline comes",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    LineFramer framer(1024);
    const std::string chunk(100, 'x');
    bool rejected = false;
    for (int i = 0; i < 100 && !rejected; ++i) {
        try {
            framer.feed(chunk);
        } catch (const LineTooLong&) {
            rejected = true;
        }
        INFO("after " << (i + 1) * chunk.size() << " bytes fed, the framer holds " << framer.buffered());
        REQUIRE(framer.buffered() <= 1024 + chunk.size());
    }
    CHECK(rejected);
}

// The time the two linear-time tests below give a framer. A linear one needs well under a second
// even unoptimized (a student's Debug build) on a loaded machine; a framer that searches or moves
// its buffer again for every byte or message needs minutes. The room is that wide on purpose: the
// tests must fail on an algorithm, never on a slow machine. Capped so that ThreadSanitizer's 15x
// stays within CTest's 20 s per test.
const milliseconds kLinearBudget = milliseconds(3000) * std::min(kSanitizerSlowdown, 5);

TEST_CASE("LineFramer frames a 1 MiB line fed one byte at a time in linear time",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    // A framer that searches its whole buffer again on every feed does about 550 billion byte
    // comparisons here (seconds, even in cache); a linear one does about a million (milliseconds).
    constexpr std::size_t kLine = 1 << 20;
    LineFramer framer(2 * kLine);
    // Plain counting inside the loop, one assertion after it: the deadline measures the framer,
    // not a million Catch assertions (slow under the sanitizers).
    std::size_t early_messages = 0;
    const Deadline deadline(kLinearBudget);
    for (std::size_t i = 0; i < kLine; ++i) {
        framer.feed("x");
        early_messages += framer.next().has_value() ? 1 : 0;
        if (i % 4096 == 0 && deadline.expired()) {
            FAIL("after " << deadline.budget().count() << " ms only " << i << " of " << kLine
                          << " bytes were framed: does next() search bytes it searched before?");
        }
    }
    INFO("next() gave a message before the newline arrived " << early_messages << " times");
    REQUIRE(early_messages == 0);
    framer.feed("\n");
    const auto message = framer.next();
    REQUIRE(message.has_value());
    CHECK(message->size() == kLine);
}

TEST_CASE("LineFramer takes a million short lines out of one feed in linear time",
          "[docs/labs/04-framing.md#step-1-gather-bytes-into-lines]") {
    // Erasing each message from the front of the buffer moves the rest every time: about 6e12
    // bytes moved for these 11 MB, minutes; a linear framer takes milliseconds.
    constexpr int kLines = 1'000'000;
    std::string many;
    for (int i = 0; i < kLines; ++i) {
        many += "ECHO " + std::to_string(i) + "\n";
    }
    LineFramer framer;
    framer.feed(many);
    int first_wrong = -1; // checked once after the loop, for the reason given in the test above
    std::string wrong_message;
    const Deadline deadline(kLinearBudget);
    int count = 0;
    while (const auto message = framer.next()) {
        if (first_wrong < 0 && *message != "ECHO " + std::to_string(count)) {
            first_wrong = count;
            wrong_message = *message;
        }
        if (++count % 1024 == 0 && deadline.expired()) {
            FAIL("after " << deadline.budget().count() << " ms only " << count << " of " << kLines
                          << " lines were taken out: does next() move the rest of "
                             "the buffer for every message?");
        }
    }
    CHECK(count == kLines);
    INFO("message " << first_wrong << " was " << escape_bytes(wrong_message));
    CHECK(first_wrong == -1);
}

// --- Step 2: the end of the stream --------------------------------------------------------------

TEST_CASE("LineFramer finish accepts a stream that ended between lines",
          "[docs/labs/04-framing.md#step-2-the-end-of-the-stream]") {
    LineFramer framer;
    CHECK(frame(framer, {"ECHO a\n"}) == Messages{"ECHO a"});
    CHECK_NOTHROW(framer.finish());
}

TEST_CASE("LineFramer finish reports a stream that ended in the middle of a line",
          "[docs/labs/04-framing.md#step-2-the-end-of-the-stream]") {
    LineFramer framer;
    CHECK(frame(framer, {"ECHO a\nECHO b"}) == Messages{"ECHO a"});
    REQUIRE_THROWS_MATCHES(framer.finish(), IncompleteMessage, MessageContains({"6 bytes"}));
}

TEST_CASE("LineFramer finish counts only the bytes after the last newline",
          "[docs/labs/04-framing.md#step-2-the-end-of-the-stream]") {
    LineFramer framer;
    framer.feed("ECHO a\nECHO b"); // "ECHO a" is complete, though not taken out yet
    REQUIRE_THROWS_MATCHES(framer.finish(), IncompleteMessage, MessageContains({" 6 bytes"}));
}

TEST_CASE("LineFramer finish reports a lone carriage return as an incomplete message",
          "[docs/labs/04-framing.md#step-2-the-end-of-the-stream]") {
    LineFramer framer;
    framer.feed("\r");
    REQUIRE_THROWS_AS(framer.finish(), IncompleteMessage);
}
