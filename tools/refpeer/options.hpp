// The options of each refpeer mode, as the command line gives them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace refpeer {

// The misbehaviours a mode applies to every write it makes (on each connection).
struct Behaviour {
    std::size_t fragment = 0;                 // --fragment N: writes of at most N bytes (0: off)
    std::size_t fragment_min = 0;             // --fragment-random MIN:MAX (0: off)
    std::size_t fragment_max = 0;             //
    std::uint32_t seed = 1;                   // --seed S for --fragment-random
    std::size_t coalesce = 1;                 // --coalesce N: N messages per write
    std::uint64_t delay_ms = 0;               // --delay-ms N before each write
    std::optional<std::uint64_t> close_after; // --close-after N: FIN once N bytes are sent
    std::optional<std::uint64_t> reset_after; // --reset-after N: RST once N bytes are sent
    bool no_answer = false;                   // --no-answer: never write

    // Whether every option is at its default, so a mode may take its fast path.
    bool plain() const {
        return fragment == 0 && fragment_min == 0 && coalesce <= 1 && delay_ms == 0 && !close_after &&
               !reset_after && !no_answer;
    }
    // Whether writes are split, so small segments must not wait for Nagle's algorithm.
    bool fragments() const { return fragment != 0 || fragment_min != 0; }
};

// The server modes.
enum class ServerMode { echo, lines, silent, blackhole };

// The options of `refpeer echo|lines|silent|blackhole`.
struct ServerOptions {
    ServerMode mode = ServerMode::echo;
    std::string bind = "127.0.0.1:0";
    std::size_t max_line = 65536;
    Behaviour behaviour;
};

// The options of `refpeer client`.
struct ClientOptions {
    std::string endpoint;
    std::uint64_t timeout_ms = 5000;
    bool crlf = false;
    bool raw = false;
    bool times = true;
    Behaviour behaviour;
};

} // namespace refpeer
