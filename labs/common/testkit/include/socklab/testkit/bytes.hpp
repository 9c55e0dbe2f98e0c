// Byte strings in test output: escaped, so "\r", "\n" and "\x00" are visible in a failure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace socklab::testkit {

// bytes with every non-printable byte escaped: \r \n \t \0 \\ \" and \xNN for the rest.
// Longer than max_bytes? The middle is elided and the length said.
[[nodiscard]] std::string escape_bytes(std::string_view bytes, std::size_t max_bytes = 512);

// The offset of the first byte where a and b differ; npos when they are equal.
[[nodiscard]] std::size_t first_difference(std::string_view a, std::string_view b);

// A two-line picture of where actual departs from expected: both escaped, and a caret under
// the first byte that differs.
[[nodiscard]] std::string describe_difference(std::string_view expected, std::string_view actual);

// size bytes of every value 0-255, the same for the same seed: data that no text handling may
// change (NUL, "\r", "\n", high bytes), reproducible from the seed a failure prints.
[[nodiscard]] std::string random_bytes(std::size_t size, unsigned seed);

// A byte string that prints escaped in Catch2 output: CHECK(Bytes(got) == Bytes("ok\n")).
struct Bytes {
    std::string data;
    explicit Bytes(std::string_view bytes) : data(bytes) {}
    friend bool operator==(const Bytes&, const Bytes&) = default;
};

} // namespace socklab::testkit
