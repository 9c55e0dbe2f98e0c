// The lab 04 line protocol, written again from DESIGN.md (never from labs/ or solutions/), so
// that refpeer can judge them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace refpeer {

// What LineSplitter::next found in the bytes fed so far.
struct LineEvent {
    enum Kind { none, line, too_long } kind = none;
    std::string_view text; // the line, without "\n" and one "\r" before it; valid until feed or next
};

// Cuts a byte stream into lines of at most max_line bytes (the line ending not counted).
class LineSplitter {
public:
    // A splitter that refuses lines longer than max_line bytes.
    explicit LineSplitter(std::size_t max_line) : max_line_(max_line) {}
    // Appends bytes that have just arrived, in a piece of any size.
    void feed(std::string_view bytes);
    // The next complete line, too_long when the line being gathered is already over the limit, or
    // none when more bytes are needed.
    LineEvent next();

private:
    std::size_t max_line_;
    std::string buffer_;
    std::size_t start_ = 0;   // where the next line begins in buffer_
    std::size_t scanned_ = 0; // bytes after start_ known to hold no '\n'
};

// The protocol's answer to one request, with its "\n"; sets quit for QUIT.
std::string answer(std::string_view request, bool& quit);

} // namespace refpeer
