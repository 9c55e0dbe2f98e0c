// Bytes made readable for a transcript: escapes for every byte a terminal would hide, and a
// caret under the first byte where what arrived departs from what was expected.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace socklab::script {

// bytes quoted, with \r \n \t \0 \\ \" and \xHH for every other non-printable byte; the middle of
// a long string is elided (its length said) so a 70000-byte line stays one readable line.
[[nodiscard]] std::string quote_bytes(std::string_view bytes, std::size_t max_bytes = 200);

// The index of the first byte where a and b differ (the shorter length when one is a prefix).
[[nodiscard]] std::size_t first_difference(std::string_view a, std::string_view b);

// Three lines: "expected: ...", "actual:   ...", and a caret under the first differing byte, with
// both strings cut around that byte so the caret stays on screen.
[[nodiscard]] std::string caret_picture(std::string_view expected, std::string_view actual,
                                        std::string_view indent);

} // namespace socklab::script
