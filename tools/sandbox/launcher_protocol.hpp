// The messages between the grader (launcher.cpp) and socklab-sandbox-launcher (launcher_main.cpp)
// on a program's control socket.
#pragma once

#include <cstddef>

namespace socklab::sandbox::protocol {

struct Message {
    char kind;
    int value;
};

inline constexpr char kStarted = 'S'; // the program runs (value 0)
inline constexpr char kError = 'E';   // it could not be started (value: the errno)
inline constexpr char kExited = 'X';  // it ended (value: its wait(2) status)
inline constexpr char kSignal = 'K';  // from the grader: send it this signal

// The largest request (working folder, limits, argv, environment) the launcher reads.
inline constexpr std::size_t kMaxRequest = 64 * 1024;

} // namespace socklab::sandbox::protocol
