// LineFramer: turns a TCP byte stream back into messages, one per line ending in "\n".
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace socklab {

// What can go wrong when framing: a line longer than the limit, or a stream that ends in the
// middle of a line. Both are std::runtime_errors; catch FramingError for either.
class FramingError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
class LineTooLong : public FramingError {
public:
    using FramingError::FramingError;
};
class IncompleteMessage : public FramingError {
public:
    using FramingError::FramingError;
};

// Feed it bytes as they arrive, in pieces of any size; take complete messages out, in order.
// A message is the bytes before a "\n", without the "\n" and without one "\r" just before it
// (telnet ends lines with "\r\n"). No sockets in here: it is tested on its own.
class LineFramer {
public:
    static constexpr std::size_t kDefaultMaxLine = 65536;

    // max_line: the most bytes one message may have (its "\r\n" or "\n" not counted).
    explicit LineFramer(std::size_t max_line = kDefaultMaxLine);
    // A framer can be moved, not copied (a copy would hold views into the caller's bytes twice).
    // A framer moved from may only be assigned to or destroyed.
    LineFramer(LineFramer&&) noexcept;
    LineFramer& operator=(LineFramer&&) noexcept;
    ~LineFramer();

    // Adds bytes to what is held. Throws LineTooLong (quoting the limit) as soon as the line being
    // gathered can no longer fit in max_line, even before its "\n" arrives: the framer never holds
    // more than one line of at most max_line bytes (+1 for a "\r") besides complete messages.
    // The framer may read the messages straight out of bytes instead of copying them: leave bytes
    // unchanged until next() has returned nullopt or feed() is called again (the usual loop, read
    // then take every message out, does just that).
    void feed(std::string_view bytes);

    // The next complete message, or nullopt when none is complete yet. Each message comes out
    // once, in the order it was fed. The view points into the framer's buffer: it stays valid
    // until the next call to feed() or next() (copy it into a std::string to keep it longer); no
    // message costs an allocation. Throws LineTooLong for a complete line over max_line.
    [[nodiscard]] std::optional<std::string_view> next();

    // Call at the end of the stream: throws IncompleteMessage (saying how many bytes) when part
    // of a line is still held, since a message without its "\n" may be cut short.
    void finish() const;

    // Bytes fed but not yet taken out by next().
    [[nodiscard]] std::size_t buffered() const;

    // The limit given to the constructor.
    [[nodiscard]] std::size_t max_line() const;

private:
    struct State; // yours: define it in line_framer.cpp with whatever the framer needs to remember
    std::unique_ptr<State> state_;
};

} // namespace socklab
