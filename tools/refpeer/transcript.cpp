#include "transcript.hpp"

#include "socklab/escape.hpp"

#include <cstdio>

namespace refpeer {

void Transcript::sent(std::string_view bytes) {
    if (!raw_) {
        const std::lock_guard lock(mutex_);
        print("-> " + socklab::escape::quoted(bytes));
    }
}

void Transcript::received(std::string_view bytes) {
    const std::lock_guard lock(mutex_);
    if (raw_) {
        std::fwrite(bytes.data(), 1, bytes.size(), stdout);
        std::fflush(stdout);
    } else {
        print("<- " + socklab::escape::quoted(bytes));
    }
}

void Transcript::ended(const std::string& how) {
    if (!raw_) {
        const std::lock_guard lock(mutex_);
        print("<- " + how);
    }
}

void Transcript::print(const std::string& text) {
    if (times_) {
        const std::chrono::duration<double, std::milli> since = std::chrono::steady_clock::now() - start_;
        std::fprintf(stdout, "[%8.3f ms] %s\n", since.count(), text.c_str());
    } else {
        std::fprintf(stdout, "%s\n", text.c_str());
    }
    // Flushed at once: a person or a script reads the lines as they come.
    std::fflush(stdout);
}

} // namespace refpeer
