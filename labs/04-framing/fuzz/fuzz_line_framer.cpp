// libFuzzer target for LineFramer (lab 04), run by ./socklab fuzz.
//
// The input is read as: one byte for the line limit (1 to 64), one byte seeding the sizes of the
// pieces, then the bytes to frame. The framer's answers are checked against an oracle that splits
// the whole input at every "\n": the same messages, in the same order, none holding a "\n"; never
// more held than one line of the limit (+1 for a "\r"); LineTooLong only when a line really is
// over the limit; IncompleteMessage at the end exactly when bytes follow the last "\n".
#include "socklab/line_framer.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_line_framer: %s\n", what);
    std::abort();
}

// The lines of data up to its last "\n", each without its "\n" and one trailing "\r".
std::vector<std::string> oracle_lines(std::string_view data) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t at = data.find('\n'); at != std::string_view::npos; at = data.find('\n', start)) {
        std::string_view line = data.substr(start, at - start);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        lines.emplace_back(line);
        start = at + 1;
    }
    return lines;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* raw, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::size_t limit = 1 + raw[0] % 64;
    unsigned pieces_seed = raw[1];
    const std::string_view data(reinterpret_cast<const char*>(raw + 2), size - 2);

    socklab::LineFramer framer(limit);
    std::vector<std::string> got;
    std::size_t fed = 0;
    bool too_long = false;
    try {
        while (fed < data.size()) {
            pieces_seed = pieces_seed * 1103515245U + 12345U;
            const std::size_t piece = std::min<std::size_t>(1 + (pieces_seed >> 16) % 9, data.size() - fed);
            fed += piece; // counted first: feed keeps the bytes even when it throws
            framer.feed(data.substr(fed - piece, piece));
            while (const auto message = framer.next()) {
                if (message->find('\n') != std::string_view::npos) {
                    fail("a message holds a \\n");
                }
                got.emplace_back(*message);
            }
            // What is held beyond complete messages is one line being gathered: at most the limit
            // and a "\r".
            const std::string_view held = data.substr(0, fed);
            const std::size_t last_newline = held.rfind('\n');
            const std::size_t gathering =
                last_newline == std::string_view::npos ? fed : fed - last_newline - 1;
            if (framer.buffered() != gathering) {
                fail("buffered() is not the bytes after the last \\n once every message is taken");
            }
            if (gathering > limit + 1) {
                fail("the framer holds more than one line of the limit");
            }
        }
    } catch (const socklab::LineTooLong&) {
        too_long = true;
    }

    const std::vector<std::string> expected = oracle_lines(data.substr(0, fed));
    // Every message returned is the oracle's, in order.
    if (got.size() > expected.size()) {
        fail("more messages than lines");
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i] != expected[i]) {
            fail("a message differs from the line it came from");
        }
    }
    if (too_long) {
        // Rightly so only when some line not yet taken (complete, or the one being gathered) is
        // over the limit.
        const std::string_view held = data.substr(0, fed);
        std::size_t start = 0;
        for (std::size_t i = 0; i < got.size(); ++i) {
            start = held.find('\n', start) + 1;
        }
        bool over = false;
        while (!over) {
            const std::size_t end = held.find('\n', start);
            std::string_view line =
                held.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
            if (end == std::string_view::npos) {
                over = line.size() > limit + 1 || (line.size() == limit + 1 && line.back() != '\r');
                break;
            }
            if (!line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
            }
            over = line.size() > limit;
            start = end + 1;
        }
        if (!over) {
            fail("LineTooLong for a line within the limit");
        }
        return 0;
    }
    if (got.size() != expected.size()) {
        fail("a complete line was not returned");
    }
    bool incomplete = false;
    try {
        framer.finish();
    } catch (const socklab::IncompleteMessage&) {
        incomplete = true;
    }
    const bool tail = !data.empty() && data.back() != '\n';
    if (incomplete != tail) {
        fail("finish() disagrees about a partial line at the end");
    }
    return 0;
}
