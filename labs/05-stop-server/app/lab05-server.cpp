// lab05-server [--bind HOST:PORT] [--max-line N]: the lab 04 protocol for many clients at once,
// stopped gracefully by SIGINT (Ctrl-C) or SIGTERM (given code).
//
// The signal handler only writes one byte to a pipe (write(2) is async-signal-safe); main waits
// on that pipe and calls LineServer::stop() in ordinary code, where locks, joins and allocation
// are allowed. Exit 0 once every client has been told "BYE server stopping".
#include "socklab/check.hpp"
#include "socklab/line_server.hpp"
#include "socklab/program.hpp"
#include "socklab/server_options.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view kUsage = "usage: lab05-server [--bind HOST:PORT] [--max-line N]\n";

int g_stop_pipe_write = -1; // the write end of the self-pipe, for the signal handler

extern "C" void on_stop_signal(int) {
    const int saved = errno;
    const char byte = 's';
    (void)::write(g_stop_pipe_write, &byte, 1); // all a handler may safely do here
    errno = saved;
}

} // namespace

// It starts as lab02-server's and lab04-server's mains do, on purpose: each lab's program reads
// whole on its own (this one adds the stop signals and serves many clients).
int main(int argc, char* argv[]) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    return socklab::run_main("lab05-server", [&] {
        const auto options = socklab::parse_server_options(args, true);
        if (!options) {
            std::cerr << kUsage;
            return socklab::exit_code::kUsage;
        }
        int fds[2];
        socklab::check(::pipe2(fds, O_CLOEXEC), "pipe2");
        // Non-blocking on the handler's side: a flood of signals must never block it on a full pipe.
        socklab::check(::fcntl(fds[1], F_SETFL, O_NONBLOCK), "fcntl O_NONBLOCK");
        g_stop_pipe_write = fds[1];
        struct sigaction stop_action = {};
        stop_action.sa_handler = on_stop_signal;
        sigemptyset(&stop_action.sa_mask);
        // No SA_RESTART: the read below must return (EINTR) when a signal comes. Some runtimes,
        // ThreadSanitizer among them, run a handler only when the interrupted call returns.
        stop_action.sa_flags = 0;
        socklab::check(::sigaction(SIGINT, &stop_action, nullptr), "sigaction SIGINT");
        socklab::check(::sigaction(SIGTERM, &stop_action, nullptr), "sigaction SIGTERM");

        socklab::LineServer server(options->bind, options->max_line);
        std::cout << "listening on " << server.local_endpoint().to_string() << std::endl;
        // The server's threads inherit this mask: with the signals blocked there, they always
        // reach the main thread, which waits on the pipe below.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
        server.start();
        ::pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);

        char byte = 0;
        while (::read(fds[0], &byte, 1) == -1 && errno == EINTR) {
        }
        std::cerr << "lab05-server: stopping" << std::endl;
        server.stop();
        std::cerr << "lab05-server: stopped" << std::endl;
        return socklab::exit_code::kOk;
    });
}
