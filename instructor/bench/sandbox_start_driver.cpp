// What starting a program costs the grader, per program, three ways in the same run: bare
// (fork and exec, as a grader without a sandbox), with a bwrap of its own (sandbox::command, as
// a grader as another user, or as root with SOCKLAB_LAUNCHER=none), and through the sandbox's
// launcher (sandbox::launch, as root). The program is /usr/bin/true; each way runs it 200 times
// and the median of five rounds is printed. A grade starts about 400 programs.
//
// Needs root and bubblewrap (the launcher runs only where bwrap starts as root); says why not and
// exits 0 otherwise. Run by ./socklab bench.
#include "launcher.hpp"
#include "sandbox.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

constexpr int kRuns = 200;
constexpr int kRounds = 5;
const std::vector<std::string> kTrue{"/usr/bin/true"};

// Forks, applies p between fork and exec as the grader does, runs argv and waits for it.
void fork_and_wait(const socklab::sandbox::Policy& p, const std::vector<std::string>& argv) {
    std::vector<std::string> words = argv;
    std::vector<std::string> env = socklab::sandbox::environment(p);
    const std::vector<char*> args = socklab::sandbox::pointers(words);
    const std::vector<char*> envp = socklab::sandbox::pointers(env);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        if (socklab::sandbox::enter(p) != 0) {
            ::_exit(126);
        }
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "sandbox_start_driver: %s ended with status %d\n", args[0], status);
        std::exit(1);
    }
}

// Milliseconds per program, the median of kRounds rounds of kRuns.
double per_program(const std::function<void()>& start_one) {
    start_one(); // warm: the launcher's own start is paid once per lab, not per program
    std::vector<double> rounds;
    for (int r = 0; r < kRounds; ++r) {
        const auto begin = std::chrono::steady_clock::now();
        for (int i = 0; i < kRuns; ++i) {
            start_one();
        }
        rounds.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count() /
            kRuns);
    }
    std::sort(rounds.begin(), rounds.end());
    return rounds[kRounds / 2];
}

} // namespace

int main() {
    socklab::sandbox::Policy p;
    p.enabled = true;
    p.privileged = true;
    p.uid = 61998;
    p.limits = true;
    p.fresh = {"/scratch"};
    p.cwd = "/scratch";
    if (::geteuid() != 0) {
        std::printf("skipped: the launcher runs only as root\n");
        return 0;
    }
    if (const std::string why = socklab::sandbox::unavailable(p.uid, p.privileged); !why.empty()) {
        std::printf("skipped: no sandbox here (%s)\n", why.c_str());
        return 0;
    }
    if (!socklab::sandbox::launches(p)) {
        std::printf("skipped: socklab-sandbox-launcher is not beside this program\n");
        return 0;
    }
    socklab::sandbox::Policy bare = p;
    bare.enabled = false;
    bare.cwd = "/";
    const double plain = per_program([&] { fork_and_wait(bare, kTrue); });
    const double bwrap = per_program([&] { fork_and_wait(p, socklab::sandbox::command(p, kTrue)); });
    const double launched = per_program([&] {
        const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        std::string error;
        auto program = socklab::sandbox::launch(
            p, socklab::sandbox::launch_of(p, kTrue, {devnull, devnull, devnull, -1}), error);
        ::close(devnull);
        if (!program || program->wait() != 0) {
            std::fprintf(stderr, "sandbox_start_driver: the launcher did not run it: %s\n", error.c_str());
            std::exit(1);
        }
    });
    socklab::sandbox::close_launchers(p.uid);
    std::printf("per program, the median of %d rounds of %d starts of %s:\n", kRounds, kRuns,
                kTrue[0].c_str());
    std::printf("  bare (fork, exec, a user of its own):     %6.2f ms\n", plain);
    std::printf("  a bwrap of its own (and setpriv):         %6.2f ms (+%.2f ms)\n", bwrap, bwrap - plain);
    std::printf("  through the launcher (one bwrap per lab): %6.2f ms (+%.2f ms)\n", launched,
                launched - plain);
    std::printf("  for 400 programs, a grade's: %.1f s with a bwrap each, %.1f s through the launcher\n",
                400 * (bwrap - plain) / 1000, 400 * (launched - plain) / 1000);
    return 0;
}
