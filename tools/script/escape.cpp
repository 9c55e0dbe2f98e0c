#include "escape.hpp"

#include "socklab/escape.hpp"

#include <algorithm>
#include <cstdio>

namespace socklab::script {
std::string quote_bytes(std::string_view bytes, std::size_t max_bytes) {
    return escape::quoted(bytes, max_bytes);
}

std::size_t first_difference(std::string_view a, std::string_view b) {
    const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    return static_cast<std::size_t>(ia - a.begin());
}

std::string caret_picture(std::string_view expected, std::string_view actual, std::string_view indent) {
    const std::size_t at = first_difference(expected, actual);
    // Show at most 60 bytes before the difference so the caret stays on a terminal's screen.
    const std::size_t from = at > 60 ? at - 60 : 0;
    const auto window = [&](std::string_view s) {
        std::string shown = from > 0 ? "..." : "";
        shown += escape::escaped(s.substr(std::min(from, s.size()), 120));
        if (s.size() > from + 120) {
            shown += "...";
        }
        return shown;
    };
    const std::string prefix = (from > 0 ? "..." : "") + escape::escaped(expected.substr(from, at - from));
    std::string out;
    out += std::string(indent) + "expected: \"" + window(expected) + "\"\n";
    out += std::string(indent) + "actual:   \"" + window(actual) + "\"\n";
    out += std::string(indent) + std::string(11 + prefix.size(), ' ') + "^ first difference at byte " +
           std::to_string(at);
    if (at == actual.size() && actual.size() < expected.size()) {
        out += " (actual ends there)";
    } else if (at == expected.size() && expected.size() < actual.size()) {
        out += " (actual goes on)";
    }
    out += "\n";
    return out;
}

} // namespace socklab::script
