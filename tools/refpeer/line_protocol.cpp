#include "line_protocol.hpp"

#include <cstring>

namespace refpeer {

namespace {

// The ASCII upper case of c; every other byte unchanged (std::toupper depends on the locale).
char ascii_upper(char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

// Whether command is name, ignoring ASCII case.
bool is_command(std::string_view command, std::string_view name) {
    if (command.size() != name.size()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (ascii_upper(command[i]) != name[i]) {
            return false;
        }
    }
    return true;
}

} // namespace

void LineSplitter::feed(std::string_view bytes) {
    if (start_ > 0 && start_ >= buffer_.size() / 2) {
        // Drop the lines already taken, so the buffer holds one partial line, not the whole stream.
        buffer_.erase(0, start_);
        start_ = 0;
    }
    buffer_.append(bytes);
}

LineEvent LineSplitter::next() {
    const std::size_t held = buffer_.size() - start_;
    const char* begin = buffer_.data() + start_;
    const void* newline = std::memchr(begin + scanned_, '\n', held - scanned_);
    if (newline == nullptr) {
        scanned_ = held;
        // A partial line may end in the '\r' of its "\r\n": that byte does not count yet.
        const bool over = held > max_line_ + 1 || (held == max_line_ + 1 && buffer_.back() != '\r');
        return over ? LineEvent{LineEvent::too_long, {}} : LineEvent{};
    }
    std::size_t length = static_cast<std::size_t>(static_cast<const char*>(newline) - begin);
    start_ += length + 1;
    scanned_ = 0;
    if (length > 0 && begin[length - 1] == '\r') {
        --length;
    }
    if (length > max_line_) {
        return {LineEvent::too_long, {}};
    }
    return {LineEvent::line, std::string_view(begin, length)};
}

std::string answer(std::string_view request, bool& quit) {
    quit = false;
    if (request.empty()) {
        return "ERR empty request\n";
    }
    const auto space = request.find(' ');
    const std::string_view command = request.substr(0, space);
    const std::string_view text =
        space == std::string_view::npos ? std::string_view{} : request.substr(space + 1);
    std::string reply;
    if (is_command(command, "ECHO")) {
        reply = text;
    } else if (is_command(command, "UPPER")) {
        for (const char c : text) {
            reply.push_back(ascii_upper(c));
        }
    } else if (is_command(command, "REVERSE")) {
        reply.assign(text.rbegin(), text.rend());
    } else if (is_command(command, "LEN")) {
        reply = std::to_string(text.size());
    } else if (is_command(command, "QUIT")) {
        quit = true;
        reply = "BYE";
    } else {
        reply = "ERR unknown command: ";
        reply += command;
    }
    reply.push_back('\n');
    return reply;
}

} // namespace refpeer
