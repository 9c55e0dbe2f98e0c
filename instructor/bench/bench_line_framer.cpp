// Google Benchmark: the reference LineFramer against a bare memchr scan of the same bytes, and
// the framer's cost for one long line fed a byte at a time (it must grow linearly).
// Run by ./socklab bench, which prints the ratios the lab 04 issue sets goals for.
#include "socklab/line_framer.hpp"

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t kGiB = std::size_t{1} << 30;
constexpr std::size_t kChunk = 64 * 1024; // what one read_some of a 64 KiB buffer hands over

// 1 GiB of 32-byte lines: 31 bytes and a "\n".
const std::string& lines_of_32_bytes() {
    static const std::string all = [] {
        std::string line = "ECHO abcdefghijklmnopqrstuvwxyz\n";
        std::string text;
        text.reserve(kGiB);
        while (text.size() < kGiB) {
            text += line;
        }
        return text;
    }();
    return all;
}

// The floor: find every "\n" with memchr and do nothing else.
void BM_MemchrScan(benchmark::State& state) {
    const std::string& text = lines_of_32_bytes();
    for (auto _ : state) {
        std::size_t lines = 0;
        const char* at = text.data();
        const char* end = text.data() + text.size();
        while (const void* newline = std::memchr(at, '\n', static_cast<std::size_t>(end - at))) {
            ++lines;
            at = static_cast<const char*>(newline) + 1;
        }
        benchmark::DoNotOptimize(lines);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_MemchrScan)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// The reference framer fed the same bytes in 64 KiB pieces, every message taken out.
void BM_LineFramer(benchmark::State& state) {
    const std::string& text = lines_of_32_bytes();
    for (auto _ : state) {
        socklab::LineFramer framer;
        std::size_t lines = 0;
        for (std::size_t at = 0; at < text.size(); at += kChunk) {
            framer.feed(std::string_view(text).substr(at, kChunk));
            while (const auto message = framer.next()) {
                benchmark::DoNotOptimize(message->data());
                ++lines;
            }
        }
        benchmark::DoNotOptimize(lines);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_LineFramer)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// One line of range(0) bytes fed one byte at a time, then its "\n": linear means 4x the bytes
// cost 4x the time.
void BM_OneLineByteAtATime(benchmark::State& state) {
    const auto length = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        socklab::LineFramer framer(length);
        for (std::size_t i = 0; i < length; ++i) {
            framer.feed("x");
            benchmark::DoNotOptimize(framer.next());
        }
        framer.feed("\n");
        benchmark::DoNotOptimize(framer.next());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * length));
}
BENCHMARK(BM_OneLineByteAtATime)
    ->Arg(256 * 1024)
    ->Arg(1024 * 1024)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

} // namespace

BENCHMARK_MAIN();
