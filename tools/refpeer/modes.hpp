// The modes of refpeer; each returns the exit code, or throws Failure.
#pragma once

#include "options.hpp"

#include <string>

namespace refpeer {

// Runs a server mode (echo, lines, silent, blackhole) until SIGINT or SIGTERM; returns 0.
int run_server(const ServerOptions& options);
// Runs the client mode: connects, copies stdin to the peer and shows what comes back.
int run_client(const ClientOptions& options);
// Writes "refpeer: TEXT" and a newline on stderr, in one write (threads do not interleave).
void log(const std::string& text);

} // namespace refpeer
