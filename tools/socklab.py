#!/usr/bin/env python3
"""The commands of ./socklab after `deps` (python3, standard library only).

  test     build the solution and student presets; every test passes on the solution build,
           every test of every lab fails on the skeletons, quickly, pointing at docs/
  status   a student's progress: build/ (preset student), per lab N/M tests pass, and the first
           failing test with its message and the docs section it points to
  grade    interim grader: the bundled reference solutions, per lab points
  lint     clang-format --dry-run --Werror and clang-tidy over the sources

Run it through ./socklab, which first makes sure the Debian packages are installed.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "labs" / "manifest.txt"
# A student handout (made by ./socklab handout) has this file and no solutions/.
HANDOUT = (ROOT / ".socklab-handout").is_file()
BUILD_DIRS = {"student": ROOT / "build", "solution": ROOT / "build-solution",
              "asan": ROOT / "build-asan", "tsan": ROOT / "build-tsan", "fuzz": ROOT / "build-fuzz",
              "bench": ROOT / "build-bench"}
SKELETON_SECONDS_LIMIT = 10.0
TIDY_JOBS = 2
DOC_SECTION = re.compile(r"docs/[A-Za-z0-9_./-]+\.md(#[A-Za-z0-9_-]+)?")


class Failure(Exception):
    """A step that could not be done: the message says what failed and what to do."""


# --- Output -------------------------------------------------------------------------------

def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say(f"\n==> {text}")


def table(rows: list[list[str]], header: list[str], right: set[int] | None = None) -> None:
    """Prints rows as aligned columns; columns in right are aligned to the right."""
    right = right or set()
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    say(line(header))
    say(line(["-" * w for w in widths]))
    for row in rows:
        say(line(row))


def quote(cmd: list[str]) -> str:
    return " ".join(shlex.quote(c) for c in cmd)


def rerun_one(build_dir: str, name: str) -> str:
    """The command that reruns one test by name, with its output."""
    pattern = "^" + re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", name) + "$"
    return f"ctest --test-dir {build_dir} -R {shlex.quote(pattern)} --output-on-failure"


# --- The manifest -------------------------------------------------------------------------

@dataclass
class Lab:
    id: str  # "01"
    folder: str  # "01-endpoints"
    files: list[str]

    @property
    def label(self) -> str:
        return f"lab{self.id}"


def read_manifest() -> list[Lab]:
    if not MANIFEST.is_file():
        raise Failure(f"{MANIFEST.relative_to(ROOT)} is missing: it lists the labs; restore it from git.")
    labs = []
    for number, line in enumerate(MANIFEST.read_text(encoding="utf-8").splitlines(), start=1):
        if not re.match(r"^[0-9][0-9] ", line):
            continue
        fields = line.split()
        if len(fields) < 3:
            raise Failure(f"labs/manifest.txt:{number}: expected 'ID FOLDER FILE...', got {line!r}")
        labs.append(Lab(fields[0], fields[1], fields[2:]))
    if not labs:
        raise Failure("labs/manifest.txt lists no lab (lines 'NN  folder  files...').")
    return labs


# --- CMake --------------------------------------------------------------------------------

def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def run_step(cmd: list[str], what: str, fix: str, quiet: bool = False) -> None:
    """Runs cmd from the project root; on failure raises Failure naming what and how to fix it.
    quiet: print the command's output only when it fails."""
    say(f"$ {quote(cmd)}")
    if quiet:
        done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        if done.returncode != 0:
            sys.stdout.write(done.stdout)
    else:
        done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise Failure(f"{what} failed (exit code {done.returncode}; output above). {fix}")


def configure(preset: str, quiet: bool = False) -> None:
    cmd = ["cmake", "--preset", preset]
    if in_ci():
        cmd.append("-DSOCKLAB_WERROR=ON")
    build_dir = BUILD_DIRS[preset].name
    run_step(cmd, f"configuring preset {preset}",
             f"Fix the CMake error it names; if the cache is stale, delete {build_dir}/ and retry.", quiet)


def build(preset: str, quiet: bool = False) -> None:
    if preset == "student":
        fix = ("The compiler messages above name the file and line: fix them "
               "(your code is in labs/NN-*/src/) and run the command again.")
    else:
        fix = "The compiler messages above name the file and line (solutions/ or given code under labs/)."
    run_step(["cmake", "--build", "--preset", preset], f"building preset {preset}", fix, quiet)


# --- CTest --------------------------------------------------------------------------------

@dataclass
class TestResult:
    name: str
    outcome: str  # passed | failed | skipped
    reason: str  # CTest's word for a failure (Failed, Timeout, Not Run, ...) or why skipped
    seconds: float
    output: str


@dataclass
class CtestRun:
    results: list[TestResult] = field(default_factory=list)
    wall_seconds: float = 0.0
    returncode: int = 0
    console: str = ""

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)


def run_ctest(args: list[str], stream: bool) -> CtestRun:
    """Runs ctest with args and --output-junit; returns each test's result.
    stream: show ctest's output as it runs (else keep it quiet)."""
    with tempfile.TemporaryDirectory(prefix="socklab-") as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = ["ctest", *args, "--output-junit", str(junit)]
        if stream:
            say(f"$ {quote(cmd)}")
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if stream:
                sys.stdout.write(line)
                sys.stdout.flush()
        returncode = proc.wait()
        run = CtestRun(wall_seconds=time.monotonic() - start, returncode=returncode, console="".join(lines))
        if junit.is_file():
            run.results = parse_junit(junit, failure_reasons(run.console))
        elif "No tests were found" not in run.console:
            raise Failure(f"ctest wrote no result file ({quote(cmd)} exited {returncode}):\n{run.console}")
    return run


def failure_reasons(console: str) -> dict[str, str]:
    """From ctest's closing list 'The following tests FAILED:', each test's reason."""
    reasons = {}
    after = console.split("The following tests FAILED:", 1)
    if len(after) == 2:
        for line in after[1].splitlines():
            match = re.match(r"^\s+\d+ - (.*) \(([^()]*)\)\s*$", line)
            if match:
                reasons[match.group(1)] = match.group(2)
    return reasons


def parse_junit(path: Path, reasons: dict[str, str]) -> list[TestResult]:
    results = []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "?")
        status = case.get("status", "")
        output = case.findtext("system-out") or ""
        seconds = float(case.get("time") or 0)
        skipped = case.find("skipped")
        if status == "run":
            results.append(TestResult(name, "passed", "", seconds, output))
        elif skipped is not None and status != "run" and \
                skipped.get("message", "").startswith(("SKIP_RETURN_CODE", "SKIP_REGULAR_EXPRESSION")):
            # Catch2 tests say "SKIPPED: why"; GoogleTest prints "FILE:LINE: Skipped" then why.
            lines = output.splitlines()
            why = next((l[len("SKIPPED:"):].strip() for l in lines if l.startswith("SKIPPED:")), "") or \
                next((lines[i + 1].strip() for i, l in enumerate(lines[:-1]) if l.endswith(": Skipped")), "") or \
                skipped.get("message", "")
            results.append(TestResult(name, "skipped", why, seconds, output))
        elif status == "disabled":
            results.append(TestResult(name, "skipped", "disabled", seconds, output))
        else:
            reason = reasons.get(name) or (skipped.get("message") if skipped is not None else "") or "Failed"
            results.append(TestResult(name, "failed", reason, seconds, output))
    return results


def test_labels(build_dir: Path) -> dict[str, list[str]]:
    """Each test's labels, as CTest knows them in build_dir."""
    done = subprocess.run(["ctest", "--test-dir", str(build_dir), "--show-only=json-v1"], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise Failure(f"ctest --show-only=json-v1 failed in {build_dir}: {done.stderr.strip()}")
    labels = {}
    for test in json.loads(done.stdout).get("tests", []):
        found: list[str] = []
        for prop in test.get("properties", []):
            if prop.get("name") == "LABELS":
                found = list(prop.get("value", []))
        labels[test["name"]] = found
    return labels


def lab_ctest_args(build_dir: Path, lab: Lab) -> list[str]:
    return ["--test-dir", str(build_dir), "-L", f"^{lab.label}$"]


def failure_summary(output: str) -> str:
    """The first line of a failed Catch2 test's message: the exception's message, or the
    expansion of the failed check, or the failed expression."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if "FAILED:" not in line:
            continue
        block = []
        for following in lines[i + 1:]:
            if not following.strip() or following.startswith(("----", "====")):
                if block:
                    break
                continue
            block.append(following.strip())
        for j, text in enumerate(block):
            if text.endswith("with message:") and j + 1 < len(block):
                # Catch2 v3 wraps at 80 columns, after a space or a hyphen: a line that opens a
                # parenthesis it does not close ("... (read docs/labs/...") goes on below.
                message = block[j + 1]
                for more in block[j + 2:]:
                    if message.count("(") <= message.count(")"):
                        break
                    message += ("" if message.endswith("-") else " ") + more
                return message
            if text.endswith("with expansion:") and j + 1 < len(block):
                return f"{block[0]}  with expansion: {block[j + 1]}" if j > 0 else block[j + 1]
        if block:
            return block[0]
        return line.strip()
    interesting = [l.strip() for l in lines if l.strip() and not l.startswith(("====", "----", "...."))]
    return interesting[-1] if interesting else "(no output)"


def docs_section(output: str) -> str | None:
    """The docs section a failure points to: the one a skeleton's "not implemented yet" names
    (what to write first), else the test's own "read:" line (what the behaviour is), else any."""
    # Catch2 v3 wraps its console output at 80 columns, after a space (hence \s+) or a hyphen
    # (joined again here).
    unwrapped = re.sub(r"(?<=-)\n[ \t]+", "", output)
    for pattern in (r"not implemented yet: \S+\s+\(read\s+(" + DOC_SECTION.pattern + r")\)",
                    r"^read: (" + DOC_SECTION.pattern + r")"):
        match = re.search(pattern, unwrapped, re.MULTILINE)
        if match:
            return match.group(1)
    match = DOC_SECTION.search(output)
    return match.group(0) if match else None


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
        # The same SOCKLAB_GRADE_DIR and SOCKLAB_GRADE_CUMULATIVE as grader/grade/build.cpp passes, so
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
    heading("socklab-script: a script of 200 steps (bench/script_200_steps.script)")
    times = []
    for _ in range(10):
        start = time.perf_counter()
        run_step([str(bin_dir / "socklab-script"), str(ROOT / "bench" / "script_200_steps.script")],
                 "socklab-script", "It should not fail: read its output above.", quiet=True)
        times.append(time.perf_counter() - start)
    times.sort()
    say(f"200 steps, 10 runs: median {1000 * times[5]:.0f} ms, worst {1000 * times[-1]:.0f} ms (goal: under 1 s)")
    return 0


# --- ./socklab fuzz -----------------------------------------------------------------------

FUZZ_TARGETS = {"fuzz_line_framer": ROOT / "fuzz" / "corpus" / "line_framer"}


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


# --- ./socklab lint -----------------------------------------------------------------------

FINDING = re.compile(r"^(?P<where>[^\s:][^:]*:\d+:\d+): (?P<kind>warning|error): (?P<what>.*?)(?: \[(?P<check>[^\]]+)\])?$")


def existing(*folders: str) -> list[Path]:
    return [ROOT / f for f in folders if (ROOT / f).is_dir()]


def sources(folders: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    found = set()
    for folder in folders:
        for path in folder.rglob("*"):
            if path.suffix in suffixes and path.is_file():
                found.add(path)
    return sorted(found)


def compiled_files(database: Path) -> set[str]:
    """The source files a compile_commands.json knows how to compile."""
    entries = json.loads(database.read_text(encoding="utf-8"))
    return {str((Path(e.get("directory", ".")) / e["file"]).resolve()) for e in entries}


def tidy_one(path: Path, build_dir: Path) -> tuple[Path, int, str]:
    # The compile commands are GCC's: clang-tidy must skip GCC-only warning flags (-Wno-restrict).
    done = subprocess.run(["clang-tidy", "-p", str(build_dir), "--quiet",
                           "--extra-arg=-Wno-unknown-warning-option", str(path)], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    return path, done.returncode, done.stdout + done.stderr


def finding_blocks(output: str) -> list[list[str]]:
    """clang-tidy's output cut into findings: a 'file:line:col: warning|error:' line and the lines
    (source, caret, notes) under it. Noise such as 'N warnings generated.' is dropped."""
    blocks: list[list[str]] = []
    for line in output.splitlines():
        if re.match(r"^\d+ (warning|error)s? (generated|treated as errors?)", line) or \
                line.startswith(("Suppressed ", "Use -header-filter", "Error while processing")):
            continue
        match = FINDING.match(line)
        if match:
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return blocks


def cmd_lint() -> int:
    problems = 0
    heading("clang-format --dry-run --Werror")
    # grader/corpus holds hostile submissions as they were handed in (a digraph directive, say):
    # formatting them could change what they test.
    format_files = [f for f in sources(existing("labs", "solutions", "bench", "fuzz", "grader"), (".cpp", ".hpp"))
                    if "corpus" not in f.relative_to(ROOT).parts[:2]]
    bad_format: dict[str, int] = {}
    for start in range(0, len(format_files), 100):
        chunk = format_files[start:start + 100]
        done = subprocess.run(["clang-format", "--dry-run", "--Werror", *map(str, chunk)], cwd=ROOT,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
        for line in done.stderr.splitlines():
            match = re.match(r"^(.*?):\d+:\d+: (?:error|warning): code should be clang-formatted", line)
            if match:
                name = Path(match.group(1)).resolve().relative_to(ROOT).as_posix()
                bad_format[name] = bad_format.get(name, 0) + 1
        if done.returncode != 0 and not bad_format:
            raise Failure(f"clang-format failed: {done.stderr.strip()}")
    for name, count in sorted(bad_format.items()):
        say(f"  {name}: {count} place(s) to reformat")
    if bad_format:
        problems += sum(bad_format.values())
        say(f"{len(bad_format)} of {len(format_files)} files need formatting: run "
            "clang-format -i FILE (and review the diff), or see each place with "
            "clang-format --dry-run FILE")
    else:
        say(f"{len(format_files)} files formatted as .clang-format says.")

    heading(f"clang-tidy ({TIDY_JOBS} files at a time)")
    preset = "student" if HANDOUT else "solution"
    build_dir = BUILD_DIRS[preset]
    tidy_folders = [ROOT / "labs" / "common" / "src", ROOT / "labs" / "common" / "testkit" / "src"]
    tidy_folders += sorted(p for p in (ROOT / "labs").glob("*/app") if p.is_dir())
    if HANDOUT:
        # The student's code, and what the student build compiles (it does not build the grader).
        tidy_folders += existing("grader/script", "grader/refpeer")
        tidy_folders += sorted(p for p in (ROOT / "labs").glob("*/src") if p.is_dir())
    else:
        tidy_folders += existing("solutions", "grader/script", "grader/refpeer", "grader/grade", "grader/sandbox")
    tidy_files = sources([f for f in tidy_folders if f.is_dir()], (".cpp",))
    database = build_dir / "compile_commands.json"
    if not database.is_file():
        say(f"{build_dir.name}/compile_commands.json is missing: configuring preset {preset} first.")
        configure(preset, quiet=True)
    elif not set(map(str, tidy_files)) <= compiled_files(database):
        say(f"{build_dir.name}/compile_commands.json lacks some sources (a new lab?): configuring preset "
            f"{preset} again.")
        configure(preset, quiet=True)
    seen: set[str] = set()
    findings = 0
    broken: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=TIDY_JOBS) as pool:
        for path, returncode, output in pool.map(lambda p: tidy_one(p, build_dir), tidy_files):
            blocks = finding_blocks(output)
            for block in blocks:
                if block[0] in seen:  # a finding in a header shows once for every file including it
                    continue
                seen.add(block[0])
                findings += 1
                say("\n".join(block))
            if returncode != 0 and not blocks:
                broken.append(f"{path.relative_to(ROOT)}: clang-tidy exited {returncode}:\n{output.strip()}")
    for text in broken:
        say(text)
    if findings or broken:
        problems += findings + len(broken)
        say(f"clang-tidy: {findings} finding(s) in {len(tidy_files)} files"
            + (f", {len(broken)} file(s) it could not check" if broken else "")
            + ". Fix the code, or if a check is wrong here, silence that line with // NOLINT(check-name) "
              "and say why.")
    else:
        say(f"clang-tidy: {len(tidy_files)} files, no finding.")
    if problems:
        say(f"\nlint failed: {sum(bad_format.values())} place(s) to reformat in {len(bad_format)} file(s), "
            f"{findings} clang-tidy finding(s)" + (f", {len(broken)} file(s) clang-tidy could not check"
                                                    if broken else "") + ".")
        return 1
    say(f"\nlint: clean ({len(format_files)} files formatted, {len(tidy_files)} files through clang-tidy).")
    return 0


# --- main ---------------------------------------------------------------------------------

COMMANDS = {"test": cmd_test, "status": cmd_status, "grade": lambda: cmd_grade([]), "lint": cmd_lint,
            "sanitize": cmd_sanitize, "bench": cmd_bench}


def main(argv: list[str]) -> int:
    if HANDOUT and argv and argv[0] in ("sanitize", "fuzz", "bench"):
        print(f"socklab {argv[0]}: not in the handout (it builds the reference solutions, which stay with "
              "your instructor). To run your own code under the sanitizers or the fuzzer, use the presets as "
              "your lab's page shows, e.g. cmake --preset asan -B build-asan-mine && cmake --build "
              "build-asan-mine && ctest --test-dir build-asan-mine -L lab02", file=sys.stderr)
        return 64
    if HANDOUT and argv == ["test"]:
        try:
            return cmd_status(exit_status=True)
        except Failure as failure:
            print(f"\nsocklab test: {failure}", file=sys.stderr)
            return 1
    if len(argv) in (1, 2) and argv[0] == "fuzz":
        seconds = argv[1] if len(argv) == 2 else "60"
        if not seconds.isdigit() or int(seconds) == 0:
            print("usage: ./socklab fuzz [SECONDS]   (a whole number above 0; 60 by default)", file=sys.stderr)
            return 64
        return cmd_fuzz(int(seconds))
    if argv and argv[0] == "grade":
        try:
            return cmd_grade(argv[1:])
        except Failure as failure:
            print(f"\nsocklab grade: {failure}", file=sys.stderr)
            return 1
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: ./socklab {{{'|'.join(COMMANDS)}}}   (./socklab help says more)", file=sys.stderr)
        return 64
    try:
        return COMMANDS[argv[0]]()
    except Failure as failure:
        print(f"\nsocklab {argv[0]}: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nsocklab {argv[0]}: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
