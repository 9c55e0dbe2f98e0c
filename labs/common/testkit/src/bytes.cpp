#include "socklab/testkit/bytes.hpp"

#include "socklab/escape.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

namespace socklab::testkit {
std::string escape_bytes(std::string_view bytes, std::size_t max_bytes) {
    return escape::quoted(bytes, max_bytes);
}

std::string random_bytes(std::size_t size, unsigned seed) {
    std::mt19937 generator(seed);
    std::string bytes(size, '\0');
    for (auto& byte : bytes) {
        byte = static_cast<char>(generator() & 0xFF);
    }
    return bytes;
}

std::size_t first_difference(std::string_view a, std::string_view b) {
    const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    if (ia == a.end() && ib == b.end()) {
        return std::string_view::npos;
    }
    return static_cast<std::size_t>(ia - a.begin());
}

std::string describe_difference(std::string_view expected, std::string_view actual) {
    const std::size_t at = first_difference(expected, actual);
    if (at == std::string_view::npos) {
        return "the bytes are equal";
    }
    // Show a window around the first difference so the caret stays on screen.
    constexpr std::size_t kBefore = 24;
    constexpr std::size_t kWindow = 64;
    const std::size_t from = at > kBefore ? at - kBefore : 0;
    const auto window = [&](std::string_view s) {
        const std::string_view part = from < s.size() ? s.substr(from, kWindow) : std::string_view{};
        return (from > 0 ? std::string("...") : std::string()) + "\"" + escape::escaped(part) + "\"" +
               (from + kWindow < s.size() ? "..." : "");
    };
    const std::string prefix =
        (from > 0 ? "..." : "") + std::string("\"") + escape::escaped(expected.substr(from, at - from));
    std::string picture = "first difference at byte " + std::to_string(at) + " (expected " +
                          std::to_string(expected.size()) + " bytes, got " + std::to_string(actual.size()) +
                          ")\n";
    picture += "  expected: " + window(expected) + "\n";
    picture += "  actual:   " + window(actual) + "\n";
    picture += "            " + std::string(prefix.size(), ' ') + "^";
    return picture;
}

} // namespace socklab::testkit
