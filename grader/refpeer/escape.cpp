#include "escape.hpp"

namespace refpeer {

std::string escape(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    text.reserve(bytes.size() + 2);
    text.push_back('"');
    for (const char c : bytes) {
        switch (c) {
        case '\r': text += "\\r"; break;
        case '\n': text += "\\n"; break;
        case '\t': text += "\\t"; break;
        case '\\': text += "\\\\"; break;
        case '"': text += "\\\""; break;
        default:
            // Bytes above 0x7e are not printable ASCII either: they are shown, never interpreted.
            if (const auto byte = static_cast<unsigned char>(c); byte < 0x20 || byte > 0x7e) {
                text += "\\x";
                text.push_back(kHex[byte >> 4]);
                text.push_back(kHex[byte & 0xf]);
            } else {
                text.push_back(c);
            }
        }
    }
    text.push_back('"');
    return text;
}

} // namespace refpeer
