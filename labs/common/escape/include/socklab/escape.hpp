// Bytes made readable: the one escaper of socklab, used by the test kit's failure messages, the
// script runner's transcripts and the reference peer's trace, so that a byte looks the same in
// all three. Header-only, standard library only, and no lab code: the grader's tools use it too.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace socklab::escape {

// Appends one byte as socklab shows it: \r \n \t \0 \\ \" as C writes them, \xHH (two lower-case
// hex digits) for every other byte that is not printable ASCII, the byte itself otherwise.
inline void append_escaped(std::string& out, unsigned char byte) {
    static constexpr char kHex[] = "0123456789abcdef";
    switch (byte) {
    case '\r': out += "\\r"; return;
    case '\n': out += "\\n"; return;
    case '\t': out += "\\t"; return;
    case '\0': out += "\\0"; return;
    case '\\': out += "\\\\"; return;
    case '"': out += "\\\""; return;
    default: break;
    }
    if (byte < 0x20 || byte >= 0x7f) {
        out += "\\x";
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xf]);
    } else {
        out.push_back(static_cast<char>(byte));
    }
}

// bytes escaped, without quotes.
[[nodiscard]] inline std::string escaped(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (const char c : bytes) {
        append_escaped(out, static_cast<unsigned char>(c));
    }
    return out;
}

// bytes escaped in double quotes. Longer than max_bytes, only the first and the last
// max_bytes / 2 are shown, and between them how many were left out and how many there are:
// "abc" ... (900 bytes elided, 1000 in all) ... "xyz". So a 70 000-byte line stays one line.
[[nodiscard]] inline std::string quoted(std::string_view bytes,
                                        std::size_t max_bytes = std::numeric_limits<std::size_t>::max()) {
    if (bytes.size() <= max_bytes) {
        return "\"" + escaped(bytes) + "\"";
    }
    const std::size_t half = max_bytes / 2;
    return "\"" + escaped(bytes.substr(0, half)) + "\" ... (" + std::to_string(bytes.size() - 2 * half) +
           " bytes elided, " + std::to_string(bytes.size()) + " in all) ... \"" +
           escaped(bytes.substr(bytes.size() - half)) + "\"";
}

} // namespace socklab::escape
