// Lab 04: the line framer. This file is yours to edit.
// Read docs/labs/04-framing.md beside it; run `ctest --test-dir build -L lab04` to check.
#include "socklab/line_framer.hpp"

#include "socklab/not_implemented.hpp"

#include <cstring>
#include <memory>

namespace socklab {

// What the framer remembers between calls: yours to design. The page's plain design keeps the
// bytes in a std::string and the offsets where the next message begins, how far next() has
// searched, and where the line still being gathered begins.
struct LineFramer::State {
    std::size_t max_line;
    // TODO: what else your framer needs.
};

LineFramer::LineFramer(std::size_t max_line) : state_(std::make_unique<State>(State{max_line})) {}
LineFramer::LineFramer(LineFramer&&) noexcept = default;
LineFramer& LineFramer::operator=(LineFramer&&) noexcept = default;
LineFramer::~LineFramer() = default;

std::size_t LineFramer::max_line() const {
    return state_->max_line;
}

void LineFramer::feed([[maybe_unused]] std::string_view bytes) {
    // TODO: keep bytes. Then check the line still being gathered (the bytes after the last "\n",
    // memrchr finds it): more than max_line bytes (max_line + 1 if the last is a "\r") can never
    // fit, so throw LineTooLong. Drop taken messages now and then, not on every call, so that
    // feeding stays linear in the number of bytes.
    throw NotImplemented("LineFramer::feed", "docs/labs/04-framing.md#step-1-gather-bytes-into-lines");
}

std::optional<std::string_view> LineFramer::next() {
    // TODO: memchr for "\n" from where the last search stopped (never search the same bytes
    // twice); none: remember how far you searched, return std::nullopt. Else the message is the
    // bytes from where it begins to the "\n", less one "\r" at its end; over max_line: throw
    // LineTooLong; move past the "\n" and return a std::string_view of the message (no copy, no
    // allocation).
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
