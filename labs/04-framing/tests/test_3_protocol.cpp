// Lab 04: the protocol's replies (docs/labs/04-framing.md, step 4).
// Tests alike in shape repeat their setup here on purpose: each one is one behaviour that reads
// alone, so a student who opens the test that failed sees all of it in one place.
#include "socklab/line_protocol.hpp"
#include "socklab/testkit/catch_support.hpp"

#include <string>

using socklab::answer;
using socklab::Reply;
using socklab::testkit::Bytes;
using socklab::testkit::EqualsBytes;

namespace Catch {
template <>
struct StringMaker<Reply> {
    static std::string convert(const Reply& reply) {
        return socklab::testkit::escape_bytes(reply.line) + (reply.close_after ? " then close" : "");
    }
};
} // namespace Catch

// --- Step 4: answer a request -------------------------------------------------------------------

TEST_CASE("answer ECHO sends the text back", "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("ECHO hello world") == Reply{"hello world"});
}

TEST_CASE("answer UPPER turns ASCII letters to upper case and leaves other bytes",
          "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("UPPER abc xyz 1-2 \xc3\xa9") == Reply{"ABC XYZ 1-2 \xc3\xa9"});
}

TEST_CASE("answer REVERSE reverses the text byte by byte",
          "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("REVERSE abc") == Reply{"cba"});
}

TEST_CASE("answer LEN counts the bytes of the text", "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("LEN hello") == Reply{"5"});
    CHECK(answer("LEN \xc3\xa9") == Reply{"2"});
}

TEST_CASE("answer QUIT says BYE and asks to close", "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("QUIT") == Reply{"BYE", true});
}

TEST_CASE("answer takes commands in any case", "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("echo a") == Reply{"a"});
    CHECK(answer("Upper a") == Reply{"A"});
    CHECK(answer("quit") == Reply{"BYE", true});
}

TEST_CASE("answer takes everything after the first space as the text",
          "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("ECHO  two  spaces ") == Reply{" two  spaces "});
}

TEST_CASE("answer ECHO without text sends an empty line",
          "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("ECHO") == Reply{""});
}

TEST_CASE("answer an empty request with ERR empty request",
          "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("") == Reply{"ERR empty request"});
}

TEST_CASE("answer an unknown command with ERR naming it",
          "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("HELLO there") == Reply{"ERR unknown command: HELLO"});
}

TEST_CASE("answer names an unknown command as it was sent",
          "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    CHECK(answer("hello there") == Reply{"ERR unknown command: hello"});
}

TEST_CASE("answer keeps NUL bytes in the text", "[docs/labs/04-framing.md#step-4-answer-a-request]") {
    const std::string request("ECHO a\0b", 8);
    CHECK_THAT(Bytes(answer(request).line), EqualsBytes(std::string("a\0b", 3)));
}
