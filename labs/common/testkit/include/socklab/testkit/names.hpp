// Names for the numbers a failing check would otherwise print bare: errno values, error codes,
// fcntl flags, address families. A student reads "ECONNREFUSED (111)" and "O_RDWR|O_NONBLOCK
// (0x802)", never 111 or 2050 alone.
#pragma once

#include <string>
#include <system_error>

namespace socklab::testkit {

// "ECONNREFUSED (111)"; "errno 4242" when the C library has no name for it.
[[nodiscard]] std::string errno_text(int err);

// An error code with its name and meaning: "ECONNREFUSED (111): Connection refused" for an errno
// (system or generic category); "<category> <value>: <message>" for any other category.
[[nodiscard]] std::string error_code_text(const std::error_code& code);

// File status flags, as fcntl(F_GETFL) returns them: "O_RDWR|O_NONBLOCK (0x802)".
[[nodiscard]] std::string status_flags_text(int flags);

// Descriptor flags, as fcntl(F_GETFD) returns them: "FD_CLOEXEC (0x1)", or "none (0x0)".
[[nodiscard]] std::string descriptor_flags_text(int flags);

// An address family: "AF_INET (2)", "AF_INET6 (10)", "AF_UNSPEC (0)".
[[nodiscard]] std::string family_text(int family);

// fd's status flags include O_NONBLOCK. Fails the check with a message when fcntl itself fails.
[[nodiscard]] bool is_nonblocking(int fd);

// fd's descriptor flags include FD_CLOEXEC.
[[nodiscard]] bool closes_on_exec(int fd);

// What fcntl says of fd, as names: "status flags O_RDWR (0x2), descriptor flags FD_CLOEXEC (0x1)",
// or the errno when fd is not open.
[[nodiscard]] std::string describe_flags(int fd);

} // namespace socklab::testkit
