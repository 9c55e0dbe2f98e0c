// Lab 04: messages over a connected stream. This file is yours to edit.
// Read docs/labs/04-framing.md beside it; run `ctest --test-dir build -L lab04` to check.
#include "socklab/message_stream.hpp"

#include "socklab/not_implemented.hpp"

#include <stdexcept>

namespace socklab {

void MessageStream::send([[maybe_unused]] std::string_view message) {
    // TODO: reject a message holding "\n" (std::invalid_argument); write_all message + "\n" in
    // one call.
    throw NotImplemented("MessageStream::send", "docs/labs/04-framing.md#step-3-send-and-receive-messages");
}

std::optional<std::string> MessageStream::receive() {
    // TODO: loop: framer_.next() has a message? return it. Else stream_.read_some into a buffer;
    // 0 bytes: framer_.finish(), return std::nullopt; else framer_.feed what came.
    throw NotImplemented("MessageStream::receive",
                         "docs/labs/04-framing.md#step-3-send-and-receive-messages");
}

} // namespace socklab
