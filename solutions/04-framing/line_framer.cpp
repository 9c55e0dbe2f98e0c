#include "socklab/line_framer.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace socklab {
namespace {

// Where the line after the last "\n" of bytes begins (0 when bytes hold no "\n").
std::size_t after_last_newline(std::string_view bytes) {
    const void* last = ::memrchr(bytes.data(), '\n', bytes.size());
    return last == nullptr ? 0 : static_cast<std::size_t>(static_cast<const char*>(last) - bytes.data()) + 1;
}

} // namespace

// The reference design: lines are read in place out of the caller's bytes where they can be, and
// copied into buffer_ only when they span two feeds (docs/labs/04-framing.md, "Going further").
struct LineFramer::State {
    explicit State(std::size_t max_line) : max_line_(max_line) {}

    void feed(std::string_view bytes);
    std::optional<std::string_view> next();
    void finish() const;
    [[nodiscard]] std::size_t buffered() const;

    std::size_t max_line_;
    std::string buffer_;        // bytes fed and not yet taken
    std::size_t start_ = 0;     // where the next message begins in buffer_
    std::size_t scanned_ = 0;   // buffer_[start_, scanned_) has been searched and holds no "\n"
    std::size_t gathering_ = 0; // where the line still being gathered (no "\n" yet) begins
    std::string_view input_;    // bytes fed and read in place, not copied (may be empty)
};

void LineFramer::State::feed(std::string_view bytes) {
    // Bytes still read in place from the last feed are copied before new ones arrive.
    if (!input_.empty()) {
        buffer_.append(input_);
        input_ = {};
    }
    if (start_ == buffer_.size()) {
        buffer_.clear();
        start_ = scanned_ = gathering_ = 0;
    } else if (start_ > 0 && start_ >= buffer_.size() / 2) {
        // Forget the messages already taken once they fill half the buffer: each byte is moved at
        // most a few times, so feeding n bytes costs O(n) however they are split.
        buffer_.erase(0, start_);
        scanned_ -= start_;
        gathering_ -= start_;
        start_ = 0;
    }
    // Copy only what must be: the bytes that complete a line begun earlier. Every line after
    // those is read straight out of bytes (input_), without a copy.
    const void* first_newline = std::memchr(bytes.data(), '\n', bytes.size());
    std::size_t gathered = 0;
    if (first_newline == nullptr) {
        buffer_.append(bytes); // no line ends here: all of it belongs to the line being gathered
        gathered = buffer_.size() - gathering_;
    } else {
        const auto copied =
            static_cast<std::size_t>(static_cast<const char*>(first_newline) - bytes.data()) + 1;
        if (!buffer_.empty()) {
            buffer_.append(bytes.substr(0, copied));
            bytes.remove_prefix(copied);
        }
        input_ = bytes;
        gathering_ = buffer_.size();
        gathered = input_.size() - after_last_newline(input_);
    }
    // The line being gathered may need max_line bytes and one "\r" before its "\n" arrives; one
    // byte more and it can never fit.
    const bool may_end_in_cr = gathered == max_line_ + 1 && !bytes.empty() && bytes.back() == '\r';
    if (gathered > max_line_ && !may_end_in_cr) {
        throw LineTooLong("line too long: more than " + std::to_string(max_line_) +
                          " bytes without a \"\\n\"");
    }
}

std::optional<std::string_view> LineFramer::State::next() {
    std::string_view line;
    // Copied bytes come first: they end with a "\n" whenever input_ holds more.
    const std::size_t from = std::max(scanned_, start_);
    const void* newline = nullptr;
    if (from < buffer_.size()) {
        // A byte search, not a string one: the buffer holds no terminator and needs none.
        newline = std::memchr(buffer_.data() + from, '\n', buffer_.size() - from);
    }
    if (newline != nullptr) {
        const auto end = static_cast<std::size_t>(static_cast<const char*>(newline) - buffer_.data());
        line = std::string_view(buffer_).substr(start_, end - start_);
        start_ = end + 1;
        scanned_ = start_;
    } else {
        scanned_ = buffer_.size();
        if (input_.empty()) {
            return std::nullopt;
        }
        newline = std::memchr(input_.data(), '\n', input_.size());
        if (newline == nullptr) {
            // No whole message left in place: keep the rest, so the caller may reuse its bytes.
            buffer_.assign(input_);
            start_ = gathering_ = 0;
            scanned_ = buffer_.size(); // and it holds no "\n"
            input_ = {};
            return std::nullopt;
        }
        const auto end = static_cast<std::size_t>(static_cast<const char*>(newline) - input_.data());
        line = input_.substr(0, end);
        input_.remove_prefix(end + 1);
    }
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    if (line.size() > max_line_) {
        throw LineTooLong("line too long: " + std::to_string(line.size()) +
                          " bytes, more than the limit of " + std::to_string(max_line_));
    }
    return line;
}

void LineFramer::State::finish() const {
    // The bytes after the last "\n" held, in place or copied (never both: see feed).
    const std::string_view held = input_.empty() ? std::string_view(buffer_).substr(start_) : input_;
    const std::size_t left = held.size() - after_last_newline(held);
    if (left > 0) {
        throw IncompleteMessage("the stream ended in the middle of a message: " + std::to_string(left) +
                                " bytes without a \"\\n\"");
    }
}

std::size_t LineFramer::State::buffered() const {
    return buffer_.size() - start_ + input_.size();
}

LineFramer::LineFramer(std::size_t max_line) : state_(std::make_unique<State>(max_line)) {}
LineFramer::LineFramer(LineFramer&&) noexcept = default;
LineFramer& LineFramer::operator=(LineFramer&&) noexcept = default;
LineFramer::~LineFramer() = default;

void LineFramer::feed(std::string_view bytes) {
    state_->feed(bytes);
}

std::optional<std::string_view> LineFramer::next() {
    return state_->next();
}

void LineFramer::finish() const {
    state_->finish();
}

std::size_t LineFramer::buffered() const {
    return state_->buffered();
}

std::size_t LineFramer::max_line() const {
    return state_->max_line_;
}

} // namespace socklab
