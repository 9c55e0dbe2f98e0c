#include "connector.hpp"

#include "endpoint.hpp"
#include "failure.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

namespace refpeer {

namespace {

using Clock = std::chrono::steady_clock;

} // namespace

Connected connect_with_deadline(asio::io_context& io, const std::vector<asio::ip::tcp::endpoint>& endpoints,
                                std::uint64_t timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::error_code error;
    std::string shown;
    for (const auto& endpoint : endpoints) {
        shown = to_string(endpoint);
        asio::ip::tcp::socket socket(io);
        socket.open(endpoint.protocol(), error);
        if (error) {
            continue;
        }
        socket.non_blocking(true, error);
        int result =
            ::connect(socket.native_handle(), endpoint.data(), static_cast<socklen_t>(endpoint.size()));
        if (result != 0 && errno != EINPROGRESS) {
            error = std::error_code(errno, std::system_category());
            continue;
        }
        while (result != 0) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            pollfd waiting{socket.native_handle(), POLLOUT, 0};
            const int ready = left.count() > 0 ? ::poll(&waiting, 1, static_cast<int>(left.count())) : 0;
            if (ready < 0 && errno == EINTR) {
                continue;
            }
            if (ready <= 0) {
                throw connect_failure(shown + " (gave up after " + std::to_string(timeout_ms) + " ms)",
                                      std::error_code(ETIMEDOUT, std::system_category()));
            }
            int pending = 0;
            socklen_t size = sizeof pending;
            ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &pending, &size);
            result = pending == 0 ? 0 : -1;
            error = std::error_code(pending, std::system_category());
            break;
        }
        if (result == 0) {
            socket.non_blocking(false, error);
            return {std::move(socket), endpoint};
        }
    }
    throw connect_failure(shown, error);
}

} // namespace refpeer
