// The statements of the script language that are steps (docs/reference/scripts.md): each one an
// enumerator, so that the parser and the runner name them in code the compiler checks, and a
// switch over Op that forgets one is a warning (-Wswitch), an error in CI.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace socklab::script {

enum class Op {
    // Statements that stand alone: they start with their keyword.
    Server,        // server NAME PROGRAM [ARGS...] [within D]
    Run,           // run NAME PROGRAM [ARGS...]
    Listen,        // listen NAME
    Accept,        // accept NAME from LISTENER [within D]
    Pause,         // pause D
    Connect,       // connect NAME [to TARGET] [within D]
    ExpectRefused, // expect-refused [TARGET] [within D]
    // Statements about a connection or a program: NAME VERB ...
    Send,          // NAME send "BYTES"
    SendSplit,     // NAME send-split N "BYTES" [gap D]
    SendRandom,    // NAME send-random MIN MAX "BYTES" [gap D]
    Shutdown,      // NAME shutdown
    Close,         // NAME close
    Reset,         // NAME reset
    ExpectLine,    // NAME expect-line "BYTES" [within D]
    ExpectRegex,   // NAME expect-regex "REGEX" [within D]
    ExpectBytes,   // NAME expect-bytes "BYTES" [within D]
    ExpectEof,     // NAME expect-eof [within D]
    ExpectReset,   // NAME expect-reset [within D]
    ExpectFin,     // NAME expect-fin [within D]: expect-eof, and on the wire a FIN and no RST
    ExpectSilence, // NAME expect-silence D
    // Statements about a program only.
    Signal,       // NAME signal SIG
    ExpectExit,   // NAME expect-exit CODE [within D]
    ExpectStderr, // NAME expect-stderr "REGEX" [within D]
};

// Each statement's keyword, as a script writes it.
inline constexpr std::array<std::pair<Op, std::string_view>, 23> kKeywords = {{
    {Op::Server, "server"},
    {Op::Run, "run"},
    {Op::Listen, "listen"},
    {Op::Accept, "accept"},
    {Op::Pause, "pause"},
    {Op::Connect, "connect"},
    {Op::ExpectRefused, "expect-refused"},
    {Op::Send, "send"},
    {Op::SendSplit, "send-split"},
    {Op::SendRandom, "send-random"},
    {Op::Shutdown, "shutdown"},
    {Op::Close, "close"},
    {Op::Reset, "reset"},
    {Op::ExpectLine, "expect-line"},
    {Op::ExpectRegex, "expect-regex"},
    {Op::ExpectBytes, "expect-bytes"},
    {Op::ExpectEof, "expect-eof"},
    {Op::ExpectReset, "expect-reset"},
    {Op::ExpectFin, "expect-fin"},
    {Op::ExpectSilence, "expect-silence"},
    {Op::Signal, "signal"},
    {Op::ExpectExit, "expect-exit"},
    {Op::ExpectStderr, "expect-stderr"},
}};

[[nodiscard]] constexpr std::string_view keyword(Op op) {
    for (const auto& [known, word] : kKeywords) {
        if (known == op) {
            return word;
        }
    }
    return "?";
}

// The statement a keyword names, if any.
[[nodiscard]] constexpr std::optional<Op> op_named(std::string_view word) {
    for (const auto& [op, known] : kKeywords) {
        if (known == word) {
            return op;
        }
    }
    return std::nullopt;
}

// Statements that start with their keyword; the others follow the name of what they act on.
[[nodiscard]] constexpr bool stands_alone(Op op) {
    return op <= Op::ExpectRefused;
}

// Statements that only a program (started by server or run) can do.
[[nodiscard]] constexpr bool for_programs_only(Op op) {
    return op >= Op::Signal;
}

} // namespace socklab::script
