// Lab 04: messages over a connected stream (docs/labs/04-framing.md, step 3).
#include "socklab/message_stream.hpp"
#include "socklab/testkit/catch_support.hpp"
#include "socklab/testkit/stream_pair.hpp"
#include "socklab/testkit/watchdog.hpp"

#include <sys/socket.h>

#include <optional>
#include <stdexcept>
#include <string>

using socklab::IncompleteMessage;
using socklab::LineTooLong;
using socklab::MessageStream;
using namespace socklab::testkit;

namespace {

// messages.receive() under soon(): one that waits for bytes that never come (it read before
// taking out a message the framer already held, or the framer lost the rest of a read) fails the
// test within seconds, naming what to check, not at CTest's timeout.
std::optional<std::string> receive_soon(MessageStream& messages) {
    return returns_within(
        "receive()", soon(), [&] { ::shutdown(messages.stream().fd(), SHUT_RD); },
        "a message already held must come out before the next read: does receive ask the framer for one "
        "before it reads, and does the framer keep the rest of a read?",
        [&] { return messages.receive(); });
}

} // namespace

// --- Step 3: send and receive messages ----------------------------------------------------------

TEST_CASE("MessageStream send ends the message with a newline",
          "[docs/labs/04-framing.md#step-3-send-and-receive-messages]") {
    StreamPair pair = make_stream_pair();
    MessageStream messages(pair.stream);
    messages.send("ECHO hello");
    CHECK_THAT(Bytes(recv_exactly(pair.peer.get(), 11, soon())), EqualsBytes("ECHO hello\n"));
}

TEST_CASE("MessageStream send refuses a message that holds a newline",
          "[docs/labs/04-framing.md#step-3-send-and-receive-messages]") {
    StreamPair pair = make_stream_pair();
    MessageStream messages(pair.stream);
    REQUIRE_THROWS_MATCHES(messages.send("two\nlines"), std::invalid_argument, MessageContains({"\\n"}));
}

TEST_CASE("MessageStream receive puts together a message sent one byte per write",
          "[docs/labs/04-framing.md#step-3-send-and-receive-messages]") {
    StreamPair pair = make_stream_pair();
    send_in_pieces(pair.peer.get(), "UPPER split\r\n", 1, soon());
    MessageStream messages(pair.stream);
    CHECK(receive_soon(messages) == std::optional<std::string>("UPPER split"));
}

TEST_CASE("MessageStream receive gives two messages that arrived together one at a time",
          "[docs/labs/04-framing.md#step-3-send-and-receive-messages]") {
    StreamPair pair = make_stream_pair();
    send_all(pair.peer.get(), "first\nsecond\n", soon());
    MessageStream messages(pair.stream);
    CHECK(receive_soon(messages) == std::optional<std::string>("first"));
    CHECK(receive_soon(messages) == std::optional<std::string>("second"));
}

TEST_CASE("MessageStream receive gives nothing when the peer closes between messages",
          "[docs/labs/04-framing.md#step-3-send-and-receive-messages]") {
    StreamPair pair = make_stream_pair();
    send_all(pair.peer.get(), "last\n", soon());
    pair.peer.reset();
    MessageStream messages(pair.stream);
    CHECK(receive_soon(messages) == std::optional<std::string>("last"));
    CHECK_FALSE(receive_soon(messages).has_value());
}

TEST_CASE("MessageStream receive reports a peer that closes in the middle of a message",
          "[docs/labs/04-framing.md#step-3-send-and-receive-messages]") {
    StreamPair pair = make_stream_pair();
    const std::string peer = pair.stream.peer_endpoint().to_string();
    send_all(pair.peer.get(), "ECHO cut sh", soon());
    pair.peer.reset();
    MessageStream messages(pair.stream);
    REQUIRE_THROWS_MATCHES(receive_soon(messages), IncompleteMessage, MessageContains({peer, "11 bytes"}));
}

TEST_CASE("MessageStream receive rejects a line over its limit",
          "[docs/labs/04-framing.md#step-3-send-and-receive-messages]") {
    StreamPair pair = make_stream_pair();
    const std::string peer = pair.stream.peer_endpoint().to_string();
    send_all(pair.peer.get(), std::string(100, 'x') + "\n", soon());
    MessageStream messages(pair.stream, 64);
    REQUIRE_THROWS_MATCHES(receive_soon(messages), LineTooLong, MessageContains({peer, "64"}));
}
