#include "socklab/testkit/deadline.hpp"

#include <algorithm>
#include <thread>

namespace socklab::testkit {

milliseconds Deadline::remaining() const {
    const auto left = std::chrono::ceil<milliseconds>(at_ - Clock::now());
    return std::max(left, milliseconds(0));
}

void wait_until(const std::function<bool()>& condition, Deadline deadline, std::string_view what) {
    // Poll with a short back-off: the condition has no descriptor to wait on. The deadline, not
    // the back-off, decides when to give up.
    auto pause = std::chrono::microseconds(100);
    while (!condition()) {
        if (deadline.expired()) {
            throw TimeoutError("timed out after " + std::to_string(deadline.budget().count()) +
                               " ms waiting for: " + std::string(what));
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(5000));
    }
}

} // namespace socklab::testkit
