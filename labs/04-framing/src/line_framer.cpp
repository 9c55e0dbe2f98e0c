// Lab 04: the line framer. This file is yours to edit.
// Read docs/labs/04-framing.md beside it; run `ctest --test-dir build -L lab04` to check.
#include "socklab/line_framer.hpp"

#include "socklab/not_implemented.hpp"

#include <cstring>

namespace socklab {

void LineFramer::feed([[maybe_unused]] std::string_view bytes) {
    // TODO: append bytes to buffer_. Then check the line still being gathered (the bytes after
    // the last "\n", memrchr finds it): more than max_line_ bytes (max_line_ + 1 if the last is a
    // "\r") can never fit, so throw LineTooLong. Drop taken messages (before start_) now and then,
    // not on every call, so that feeding stays linear in the number of bytes.
    throw NotImplemented("LineFramer::feed", "docs/labs/04-framing.md#step-1-gather-bytes-into-lines");
}

std::optional<std::string_view> LineFramer::next() {
    // TODO: memchr for "\n" from max(scanned_, start_) (never search the same bytes twice); none:
    // remember how far you searched, return std::nullopt. Else the message is buffer_[start_, end)
    // less one "\r" at its end; over max_line_: throw LineTooLong; move start_ past the "\n"
    // and return a std::string_view of it (no copy, no allocation).
    throw NotImplemented("LineFramer::next", "docs/labs/04-framing.md#step-1-gather-bytes-into-lines");
}

void LineFramer::finish() const {
    // TODO: bytes after the last "\n" still held: throw IncompleteMessage saying how many.
    throw NotImplemented("LineFramer::finish", "docs/labs/04-framing.md#step-2-the-end-of-the-stream");
}

std::size_t LineFramer::buffered() const {
    // TODO: the bytes fed and not yet taken out by next().
    throw NotImplemented("LineFramer::buffered", "docs/labs/04-framing.md#step-1-gather-bytes-into-lines");
}

} // namespace socklab
