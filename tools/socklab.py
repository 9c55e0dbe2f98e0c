#!/usr/bin/env python3
"""The commands of ./socklab that python3 runs (standard library only): test, status, grade, lint,
sanitize, fuzz and bench. What each does is in the one list of commands, tools/commands.tsv, from
which the argument parser below is built (./socklab help prints it).

Run it through ./socklab, which first makes sure the Debian packages are installed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ctest_results import (TestResult, docs_section, failure_summary, lab_ctest_args, run_ctest,  # noqa: E402
                           test_labels)
from lint import cmd_lint  # noqa: E402
from socklab_base import (BUILD_DIRS, HANDOUT, ROOT, SKELETON_SECONDS_LIMIT, Failure, build, configure,  # noqa: E402
                          heading, in_ci, quote, read_manifest, rerun_one, run_reporting, run_step, say, table)


# --- ./socklab test -----------------------------------------------------------------------

def cmd_test() -> int:
    labs = read_manifest()
    for preset in ("solution", "student"):
        heading(f"configure and build preset {preset}" + (" (CI: warnings are errors)" if in_ci() else ""))
        configure(preset)
        build(preset)

    jobs = str(os.cpu_count() or 2)
    heading("every test of the solution build")
    solution = run_ctest(["--preset", "solution", "--parallel", jobs], stream=True)
    labels = test_labels(BUILD_DIRS["solution"])
    problems: list[str] = []
    if solution.returncode != 0 and not solution.results:
        problems.append(f"solution: ctest exited {solution.returncode} without running a test")
    for result in solution.results:
        if result.outcome == "failed":
            problems.append(f"solution: test '{result.name}' failed ({result.reason}); "
                            f"rerun: {rerun_one('build-solution', result.name)}")
        if not labels.get(result.name):
            problems.append(f"solution: test '{result.name}' has no CTest label (every test needs labNN or docs)")

    heading(f"skeletons: every test of every lab fails on the student build, in under "
            f"{SKELETON_SECONDS_LIMIT:.0f} s per lab")
    rows = []
    skeleton_ok = skeleton_skipped = 0
    by_name = {r.name: r for r in solution.results}
    lab_labels = set()
    for lab in labs:
        lab_labels.add(lab.label)
        sol = [by_name[n] for n, ls in labels.items() if lab.label in ls and n in by_name]
        skeleton = run_ctest(lab_ctest_args(BUILD_DIRS["student"], lab), stream=False)
        sk = skeleton.results
        say(f"{lab.label}: {len(sk)} tests on the skeleton in {skeleton.wall_seconds:.1f} s: "
            f"{skeleton.count('failed')} failed, {skeleton.count('passed')} passed, "
            f"{skeleton.count('skipped')} skipped")
        if not sol:
            problems.append(f"{lab.label}: no tests in the solution build (labs/{lab.folder}/tests/ has no "
                            "TEST_CASE, or its tests are not labelled)")
        if not sk:
            problems.append(f"{lab.label}: no tests on the skeleton build (build/ has no test labelled "
                            f"{lab.label}; add Catch2 tests under labs/{lab.folder}/tests/)")
        for result in sk:
            if result.outcome == "passed":
                problems.append(f"{lab.label}: test '{result.name}' passes on the skeleton: a test must fail "
                                "until the student writes the code (does it check anything?)")
            elif result.outcome == "skipped":
                say(f"  skipped on the skeleton: '{result.name}': {result.reason}")
        silent = [r.name for r in sk if r.outcome == "failed" and "docs/" not in r.output]
        skeleton_ok += skeleton.count("failed") - len(silent)
        skeleton_skipped += skeleton.count("skipped")
        for name in silent:
            reason = next(r.reason for r in sk if r.name == name)
            problems.append(f"{lab.label}: test '{name}' fails on the skeleton ({reason}) without naming a "
                            "docs/ section in its output (it should fail on a NotImplemented)")
        if skeleton.wall_seconds >= SKELETON_SECONDS_LIMIT:
            slowest = max(sk, key=lambda r: r.seconds, default=None)
            problems.append(f"{lab.label}: the skeleton's tests took {skeleton.wall_seconds:.1f} s, limit "
                            f"{SKELETON_SECONDS_LIMIT:.0f} s" +
                            (f" (slowest: '{slowest.name}', {slowest.seconds:.1f} s)" if slowest else ""))
        rows.append([lab.label, lab.folder, str(len(sol)),
                     f"{sum(r.outcome == 'passed' for r in sol)}/{len(sol)}" if sol else "no tests",
                     f"{skeleton.count('failed')}/{len(sk)}" if sk else "no tests",
                     str(sum(r.outcome == "skipped" for r in sol) + skeleton.count("skipped")),
                     f"{skeleton.wall_seconds:.1f}", f"{sum(r.seconds for r in sol):.1f}"])

    # The grader's hidden scripts (instructor tree only) must fail on the skeletons too.
    if any("hidden" in ls for ls in labels.values()):
        hidden = run_ctest(["--test-dir", str(BUILD_DIRS["student"]), "-L", "^hidden$"], stream=False)
        say(f"hidden: {len(hidden.results)} hidden scripts on the skeleton in {hidden.wall_seconds:.1f} s: "
            f"{hidden.count('failed')} failed, {hidden.count('passed')} passed")
        for result in hidden.results:
            if result.outcome == "passed":
                problems.append(f"hidden: script '{result.name}' passes on the skeleton: it checks nothing of "
                                "the student's")
            else:
                skeleton_ok += 1
        if not hidden.results:
            problems.append("hidden: the solution build has hidden scripts but the student build ran none")

    # Tests that belong to no lab (docs checks, and the grader's own tests).
    others: dict[str, list[TestResult]] = {}
    for name, ls in labels.items():
        if name in by_name and not lab_labels.intersection(ls):
            others.setdefault(",".join(ls) or "(no label)", []).append(by_name[name])
    for label, results in sorted(others.items()):
        rows.append([label, "", str(len(results)),
                     f"{sum(r.outcome == 'passed' for r in results)}/{len(results)}", "-",
                     str(sum(r.outcome == "skipped" for r in results)), "-",
                     f"{sum(r.seconds for r in results):.1f}"])

    heading("summary")
    table(rows, ["label", "folder", "tests", "passed on solution", "failed on skeleton", "skipped",
                 "skeleton s", "solution s"], right={2, 3, 4, 5, 6, 7})
    say(f"(skeleton s: wall time of `ctest --test-dir build -L labNN`; solution s: the lab's tests' "
        f"times added up; solution tests ran {jobs} at a time in {solution.wall_seconds:.1f} s)")
    skipped = solution.count("skipped")
    if skipped:
        say(f"{skipped} test(s) skipped on the solution build (the machine cannot run them):")
        for r in solution.results:
            if r.outcome == "skipped":
                say(f"  {r.name}: {r.reason}")
    if problems:
        say(f"\n{len(problems)} problem(s):")
        for problem in problems:
            say(f"  - {problem}")
    else:
        say("\nall good: every test passes on the solutions and fails on the skeletons.")
    # One closing line for CI logs: each solution test and each skeleton test is a check that
    # passed (the solution test passed; the skeleton test failed, naming docs/) or not.
    say(f"checks: {solution.count('passed') + skeleton_ok} passed, {len(problems)} failed, "
        f"{skipped + skeleton_skipped} skipped")
    return 1 if problems else 0


# --- ./socklab status ---------------------------------------------------------------------

def cmd_status(exit_status: bool = False) -> int:
    """A student's progress. exit_status: exit 1 unless every test passes (./socklab test in a
    handout), else 0."""
    labs = read_manifest()
    build_dir = BUILD_DIRS["student"]
    if not (build_dir / "CMakeCache.txt").is_file():
        heading("configure your build (preset student, into build/)")
        configure("student", quiet=True)
    heading("build your code (labs/NN-*/src)")
    build("student", quiet=True)
    say("built.")
    heading("your progress")
    total_passed = total = 0
    finished = set()
    for lab in labs:
        run = run_ctest(lab_ctest_args(build_dir, lab), stream=False)
        results = run.results
        passed = run.count("passed")
        skipped = run.count("skipped")
        total_passed += passed
        total += len(results)
        title = f"lab {lab.id} ({lab.folder})"
        if not results:
            say(f"{title}: no tests yet")
            continue
        extra = f" ({skipped} skipped: this machine cannot run them)" if skipped else ""
        done = " - done!" if run.count("failed") == 0 else ""
        if done:
            finished.add(lab.id)
        say(f"{title}: {passed}/{len(results)} tests pass{extra}{done}")
        first = next((r for r in results if r.outcome == "failed"), None)
        if first is None:
            continue
        say(f"    next: {first.name}" + (f" ({first.reason})" if first.reason not in ("", "Failed") else ""))
        say(f"          {failure_summary(first.output)}")
        section = docs_section(first.output)
        if section:
            say(f"    read: {section}")
        say(f"    run:  {rerun_one('build', first.name)}")
    say(f"\nin all: {total_passed}/{total} tests pass")
    unfinished = [lab.id for lab in labs if lab.id not in finished]
    say(f"labs finished: {len(labs) - len(unfinished)} of {len(labs)}" +
        (f" (unfinished: {', '.join(unfinished)})" if unfinished else ""))
    return 1 if exit_status and unfinished else 0


# --- ./socklab grade ----------------------------------------------------------------------

def cmd_grade(args: list[str]) -> int:
    """Builds the grader in its own work folder (build-grade/) and runs it: with no argument on the
    bundled reference solutions (full marks expected), else with the arguments given
    (./socklab grade --submission DIR ...; build-grade/build/bin/socklab-grade --help lists them)."""
    labs = read_manifest()
    work = ROOT / "build-grade"
    files = work / "files"
    build_dir = work / "build"
    # The grading build compiles the graded files from build-grade/files/; CMake needs them there
    # before it configures, so start from the reference solutions, or in a handout from the
    # student's own files (the grader replaces them).
    for lab in labs:
        for name in lab.files:
            target = files / lab.folder / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = ROOT / "labs" / lab.folder / "src" / name if HANDOUT else ROOT / "solutions" / lab.folder / name
                shutil.copyfile(source, target)
    heading("build the grader (build-grade/build, grade mode)")
    if not (build_dir / "CMakeCache.txt").is_file():
        # The same SOCKLAB_GRADE_DIR and SOCKLAB_GRADE_CUMULATIVE as tools/grade/build.cpp passes, so
        # the grader finds this build configured and reuses it.
        # A handout has no reference code for the labs below the graded one: it grades cumulatively.
        run_step(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1", f"-DSOCKLAB_GRADE_DIR={files}",
                  f"-DSOCKLAB_GRADE_CUMULATIVE={'ON' if HANDOUT else 'OFF'}"],
                 "configuring the grading build", "Read the CMake error above.", quiet=True)
    run_step(["cmake", "--build", str(build_dir), "--target", "socklab-grade"], "building socklab-grade",
             "Read the compiler's errors above.", quiet=True)
    grader = [str(build_dir / "bin" / "socklab-grade")]
    if not any(arg == "--work" or arg.startswith("--work=") for arg in args):
        grader += ["--work", str(work)]  # unless the caller names a work folder of its own
    if HANDOUT:
        # The student's own tree, each lab on the student's labs below it, without hidden checks
        # (the handout has none): the grader's report says so too.
        heading("grade your code (labs/NN-*/src) on the visible checks only: the tests and scripts of this "
                "handout; your instructor's grade adds hidden checks. Cumulative: each lab is built on your "
                "own labs below it (your instructor's, on the reference code of those labs)")
        grader += ["--submission", str(ROOT), "--cumulative", "--no-hidden"]
        done = subprocess.run(grader + args, cwd=ROOT)
        return done.returncode
    if not args:
        heading("grade the bundled reference solutions (solutions/): every point should be earned")
        grader.append("--require-full")
    else:
        heading("grade: socklab-grade " + quote(args))
    done = subprocess.run(grader + args, cwd=ROOT)
    return done.returncode


# --- ./socklab sanitize -------------------------------------------------------------------

def cmd_sanitize() -> int:
    """Builds the solution code under ASan+UBSan and under TSan and runs every test in each."""
    rows = []
    failed = False
    for preset in ("asan", "tsan"):
        heading(f"configure, build and test preset {preset}")
        configure(preset, quiet=True)
        build(preset, quiet=True)
        # Not the grader's whole-submission grades: each builds a grading tree of its own (minutes),
        # and the grader's code runs sanitized in its unit tests and in the script tests.
        run = run_ctest(["--preset", preset, "--parallel", str(os.cpu_count() or 2),
                         "-E", r"^grader/(Grader|Formats|Batch|Cases/Corpus)\.|^grader/instructor:"], stream=False)
        bad = [r for r in run.results if r.outcome == "failed"]
        for result in bad:
            say(f"FAILED under {preset}: {result.name} ({result.reason})")
            say(result.output[-4000:])
            say(f"  rerun: {rerun_one(str(BUILD_DIRS[preset].name), result.name)}")
        failed = failed or bool(bad) or not run.results
        rows.append([preset, str(len(run.results)), str(run.count("passed")), str(len(bad)),
                     str(run.count("skipped")), f"{run.wall_seconds:.1f}"])
    table(rows, ["preset", "tests", "passed", "failed", "skipped", "seconds"], right={1, 2, 3, 4, 5})
    total = sum(int(r[1]) for r in rows)
    passed = sum(int(r[2]) for r in rows)
    say(f"sanitize: {passed} passed, {total - passed} failed")
    return 1 if failed else 0


# --- ./socklab bench ----------------------------------------------------------------------

def cmd_bench() -> int:
    """Builds the bench preset (solution code, Release) and prints the figures the issues set
    goals for, each measured against its baseline in the same run."""
    heading("configure and build preset bench")
    configure("bench", quiet=True)
    build("bench", quiet=True)
    bin_dir = BUILD_DIRS["bench"] / "bin"
    with tempfile.TemporaryDirectory(prefix="socklab-bench-") as tmp:
        out = Path(tmp) / "framer.json"
        cmd = [str(bin_dir / "bench_line_framer"), f"--benchmark_out={out}", "--benchmark_out_format=json"]
        heading("lab 04: LineFramer")
        run_step(cmd, "bench_line_framer", "It should not fail: read its output above.")
        results = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    memchr = results["BM_MemchrScan/min_time:3.000"]["bytes_per_second"]
    framer = results["BM_LineFramer/min_time:3.000"]["bytes_per_second"]
    short = results["BM_OneLineByteAtATime/262144/min_time:1.000"]["real_time"]
    long = results["BM_OneLineByteAtATime/1048576/min_time:1.000"]["real_time"]
    rows = [
        ["framer / memchr on 1 GiB of 32-byte lines", f"{framer / 1e9:.2f} / {memchr / 1e9:.2f} GB/s",
         f"{100 * framer / memchr:.0f}%", ">= 45%"],
        ["1 MiB line / 256 KiB line, a byte at a time", f"{long:.1f} / {short:.1f} ms", f"{long / short:.2f}x",
         "<= 5x"],
    ]
    table(rows, ["figure", "measured", "ratio", "goal"])
    heading("lab 04: lab04-server, pipelined requests")
    run_step([str(bin_dir / "pipeline_driver"), str(bin_dir / "lab04-server")], "pipeline_driver",
             "It should not fail: read its output above.")
    heading("lab 05: LineServer, stop latency, accept rate and load")
    run_step([str(bin_dir / "stop_driver")], "stop_driver", "It should not fail: read its output above.")
    heading("refpeer: echo throughput against socat PIPE, one connection, 512 MiB each way")
    run_step([str(bin_dir / "echo_throughput_driver"), str(bin_dir / "refpeer")], "echo_throughput_driver",
             "It should not fail: read its output above (is socat installed?).")
    heading("grader: starting a program in the sandbox (bare, a bwrap each, the launcher)")
    run_step([str(bin_dir / "sandbox_start_driver")], "sandbox_start_driver",
             "It should not fail: read its output above.")
    heading("socklab-script: a script of 200 steps (instructor/bench/script_200_steps.script)")
    times = []
    for _ in range(10):
        start = time.perf_counter()
        run_step([str(bin_dir / "socklab-script"), str(ROOT / "instructor" / "bench" / "script_200_steps.script")],
                 "socklab-script", "It should not fail: read its output above.", quiet=True)
        times.append(time.perf_counter() - start)
    times.sort()
    say(f"200 steps, 10 runs: median {1000 * times[5]:.0f} ms, worst {1000 * times[-1]:.0f} ms (goal: under 1 s)")
    return 0


# --- ./socklab wire -----------------------------------------------------------------------

def cmd_wire(args: list[str]) -> int:
    """Builds the student build (build/: your code, refpeer and socklab-wire) and runs socklab-wire
    with the arguments given: a command in a private network namespace, and its segments."""
    heading("build your code, refpeer and socklab-wire (preset student, build/)")
    configure("student", quiet=True)
    build("student", quiet=True)
    wire = BUILD_DIRS["student"] / "bin" / "socklab-wire"
    if not args:
        args = ["--help"]
    return subprocess.run([str(wire), *args], cwd=ROOT).returncode


# --- ./socklab fuzz -----------------------------------------------------------------------

FUZZ_TARGETS = {"fuzz_line_framer": ROOT / "labs" / "04-framing" / "fuzz" / "corpus" / "line_framer"}


def cmd_fuzz(seconds: int) -> int:
    """Builds the libFuzzer targets (preset fuzz, clang) and runs each for `seconds`, starting from
    a copy of its seed corpus in build-fuzz/ (so the tracked seeds stay small)."""
    heading("configure and build preset fuzz")
    configure("fuzz", quiet=True)
    build("fuzz", quiet=True)
    failed = False
    for target, seeds in FUZZ_TARGETS.items():
        corpus = BUILD_DIRS["fuzz"] / "corpus" / target
        corpus.mkdir(parents=True, exist_ok=True)
        for seed in seeds.iterdir():
            shutil.copy(seed, corpus / seed.name)
        cmd = [str(BUILD_DIRS["fuzz"] / "bin" / target), f"-max_total_time={seconds}", "-max_len=4096",
               f"-artifact_prefix={BUILD_DIRS['fuzz']}/", str(corpus)]
        heading(f"fuzz {target} for {seconds} s")
        say(f"$ {quote(cmd)}")
        done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        tail = done.stdout.strip().splitlines()[-12:]
        say("\n".join(tail))
        if done.returncode != 0:
            failed = True
            say(f"FINDING in {target}: the input is saved in build-fuzz/ (crash-*); replay it with "
                f"build-fuzz/bin/{target} build-fuzz/crash-<id>")
    say(f"fuzz: {0 if failed else len(FUZZ_TARGETS)} passed, {1 if failed else 0} failed")
    return 1 if failed else 0


# --- main ---------------------------------------------------------------------------------

COMMAND_LIST = ROOT / "tools" / "commands.tsv"
# The commands of the list that this file runs (./socklab runs the others itself, or another tool).
PYTHON_COMMANDS = ("test", "status", "grade", "wire", "lint", "sanitize", "fuzz", "bench")
EX_USAGE = 64  # sysexits.h: the command was used wrongly


@dataclass
class Command:
    name: str
    audience: str  # student | instructor | both
    usage: str
    text: str


def read_commands() -> list[Command]:
    """The rows of tools/commands.tsv: name, for whom, usage and what it does, tab-separated."""
    commands = []
    for line in COMMAND_LIST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, audience, usage, text = line.split("\t")
            commands.append(Command(name, audience, usage, text))
    return commands


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message} (./socklab help lists the commands)", file=sys.stderr)
        sys.exit(EX_USAGE)


def seconds(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds above 0")
    return int(text)


def command_parser() -> Parser:
    """The parser of the commands this file runs, with the help texts of the list, for this tree
    (a handout's rows in a handout)."""
    who = "student" if HANDOUT else "instructor"
    parser = Parser(prog="./socklab", description="The socklab commands that run in python3.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for command in read_commands():
        if command.name in PYTHON_COMMANDS and command.audience in ("both", who):
            sub = commands.add_parser(command.name, help=command.text, description=command.text)
            if command.name == "fuzz":
                sub.add_argument("seconds", nargs="?", type=seconds, default=60,
                                 help="how long to run each fuzz target (60 by default)")
            if command.name in ("grade", "wire"):
                program = "socklab-grade" if command.name == "grade" else "socklab-wire"
                sub.add_argument("args", nargs="*", help=f"{program}'s own options (./socklab {command.name} --help)")
    return parser


def run_command(args: argparse.Namespace) -> int:
    if args.command == "test":
        # In a handout, test is the student's: the status, failing until every test passes.
        return cmd_status(exit_status=True) if HANDOUT else cmd_test()
    if args.command == "grade":
        return cmd_grade(args.args)
    if args.command == "wire":
        return cmd_wire(args.args)
    if args.command == "fuzz":
        return cmd_fuzz(args.seconds)
    return {"status": cmd_status, "lint": cmd_lint, "sanitize": cmd_sanitize, "bench": cmd_bench}[args.command]()


def main(argv: list[str]) -> int:
    if HANDOUT and argv and argv[0] in ("sanitize", "fuzz", "bench"):
        print(f"socklab {argv[0]}: not in the handout (it builds the reference solutions, which stay with "
              "your instructor). To run your own code under the sanitizers or the fuzzer, use the presets as "
              "your lab's page shows, e.g. cmake --preset asan -B build-asan-mine && cmake --build "
              "build-asan-mine && ctest --test-dir build-asan-mine -L lab02", file=sys.stderr)
        return EX_USAGE
    if argv and argv[0] in ("grade", "wire"):
        # Everything after grade or wire is its program's (socklab-grade, socklab-wire): not parsed here.
        args = argparse.Namespace(command=argv[0], args=argv[1:])
    else:
        args = command_parser().parse_args(argv)
    return run_reporting(args.command, lambda: run_command(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
