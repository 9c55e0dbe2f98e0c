#!/usr/bin/env python3
"""./socklab mutants: are the mistakes students make caught by the labs' tests?

The catalogue (instructor/mutants/NN-*.toml, one file per lab) lists realistic student mistakes, each
an exact edit of one file of the reference solutions. For each, this tool copies solutions/ into
build-mutants/ (the working tree is never edited), makes the edit there, rebuilds that lab's tests
against the copy, runs them, and says whether the mistake was caught (killed: at least one test
failed) or survived, and by which tests. It ends with "N of M mistakes caught".

  ./socklab mutants                  every mistake of every lab
  ./socklab mutants --lab 05         one lab's (repeatable)
  ./socklab mutants --first          the first mistake of each lab (what CI runs)
  ./socklab mutants --list           the catalogue, without running anything
  ./socklab mutants --only ID        one mistake by its id (repeatable)
  ./socklab mutants --verbose        name every test that failed on each mistake, not only the first

A catalogue entry:

  [[mutant]]
  id = "05-stop-waits-without-grace"      # unique; starts with the lab's number
  file = "line_server.cpp"                # a file of solutions/NN-folder/
  mistake = "stop() waits for every client to finish, without a grace period"
  find = '''...'''                        # text that occurs exactly once in that file
  replace = '''...'''                     # what a student wrote instead
  caught_by = "lab05/LineServer stop cuts off a client that never reads within one second"
                                          # the test(s) the lab page names as the one that catches
                                          # it (a string or a list): each must fail on the mistake
  # uncaught = "why no test can catch it without asserting on timing"   (left out of the count)

Needs Python 3.11 or later (tomllib), as Debian 12 and 13 have.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Ubuntu 22.04)
    tomllib = None  # type: ignore[assignment]

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))  # socklab_base, ctest_results
from ctest_results import run_ctest  # noqa: E402
from socklab_base import ROOT, Failure, Lab, read_manifest, run_reporting, say, table  # noqa: E402

CATALOGUE = ROOT / "instructor" / "mutants"
WORK = ROOT / "build-mutants"
# The targets a lab's CTest tests run: its test program (which depends on the lab's programs), and
# the script runner and the reference peer of its script tests.
TOOL_TARGETS = ["socklab-script", "refpeer"]
# A mistake that makes a test hang is caught by CTest's timeout (20 s per test): the catalogue
# aims for tests that fail faster than that, and the report shows each mutant's time.
FIELDS = {"id", "file", "mistake", "find", "replace", "uncaught", "caught_by"}


@dataclass
class Mutant:
    id: str
    lab: Lab
    file: str
    mistake: str
    find: str
    replace: str
    uncaught: str = ""
    source: str = ""  # the catalogue file and entry, for messages
    # The tests a lab page names as the ones that catch this mistake: each must fail on it.
    caught_by: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return Path("solutions") / self.lab.folder / self.file


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # killed | survived | broken (does not compile; a catalogue error)
    seconds: float
    caught_by: list[str] = field(default_factory=list)
    detail: str = ""
    slowest: float = 0.0  # seconds of the slowest failing test
    timed_out: list[str] = field(default_factory=list)  # failing tests that CTest had to kill
    unexplained: list[str] = field(default_factory=list)  # failing tests that printed "{?}"
    # The tests of the mutant's caught_by that did not fail: the page names a test that misses it.
    missed_by_named: list[str] = field(default_factory=list)


def load_catalogue(labs: list[Lab]) -> list[Mutant]:
    """Every mutant of every lab's catalogue file, checked against solutions/: each find text must
    occur exactly once in its file, and change it."""
    if tomllib is None:
        raise Failure("./socklab mutants needs Python 3.11 or later (tomllib): Debian 12 or 13 has it.")
    mutants: list[Mutant] = []
    seen: set[str] = set()
    problems: list[str] = []
    for lab in labs:
        path = CATALOGUE / f"{lab.folder}.toml"
        if not path.is_file():
            problems.append(f"{path.relative_to(ROOT)}: missing (the catalogue of lab {lab.id})")
            continue
        rel = path.relative_to(ROOT)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            problems.append(f"{rel}: not valid TOML: {e}")
            continue
        for index, entry in enumerate(data.get("mutant", []), start=1):
            where = f"{rel}, mutant {index}"
            unknown = set(entry) - FIELDS
            missing = {"id", "file", "mistake", "find", "replace"} - set(entry)
            if unknown or missing:
                problems.append(f"{where}: " + "; ".join(
                    ([f"unknown fields {sorted(unknown)}"] if unknown else []) +
                    ([f"missing fields {sorted(missing)}"] if missing else [])))
                continue
            named = entry.get("caught_by", [])
            named = [named] if isinstance(named, str) else list(named)
            m = Mutant(entry["id"], lab, entry["file"], entry["mistake"].strip(), entry["find"], entry["replace"],
                       entry.get("uncaught", "").strip(), where, named)
            if named and m.uncaught:
                problems.append(f"{where} ({m.id}): caught_by and uncaught together: a mistake is caught or not")
            if not m.id.startswith(lab.id + "-"):
                problems.append(f"{where}: id {m.id!r} must start with the lab's number, '{lab.id}-'")
            if m.id in seen:
                problems.append(f"{where}: id {m.id!r} is used twice")
            seen.add(m.id)
            if m.file not in lab.files:
                problems.append(f"{where} ({m.id}): {m.file} is not a student file of lab {lab.id} "
                                f"(labs/manifest.txt lists {', '.join(lab.files)})")
                continue
            text = (ROOT / m.path).read_text(encoding="utf-8")
            count = text.count(m.find)
            if count != 1:
                problems.append(f"{where} ({m.id}): its find text occurs {count} times in {m.path}, not once: "
                                "the reference changed, or the text needs more context")
            elif m.find == m.replace:
                problems.append(f"{where} ({m.id}): replace is the same as find")
            mutants.append(m)
    if problems:
        raise Failure("the catalogue does not match solutions/:\n  " + "\n  ".join(problems))
    return mutants


def run(cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace")
    if done.returncode != 0:
        raise Failure(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{done.stdout[-6000:]}")
    return done


class Workspace:
    """build-mutants/: solutions/ copied (files rewritten only when their bytes differ, so that an
    unchanged file is not rebuilt) and a build of the labs against that copy, unoptimized as a
    student's Debug build is, without its debug information (which only costs compile time here)."""

    def __init__(self) -> None:
        self.solutions = WORK / "solutions"
        self.build = WORK / "build"

    def prepare(self) -> None:
        source = ROOT / "solutions"
        for path in sorted(source.rglob("*")):
            if not path.is_file():
                continue
            target = self.solutions / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_file() or target.read_bytes() != path.read_bytes():
                shutil.copyfile(path, target)
        if not (self.build / "CMakeCache.txt").is_file():
            say(f"configuring {self.build.relative_to(ROOT)} (the labs, unoptimized, against "
                f"{self.solutions.relative_to(ROOT)})")
        run(["cmake", "-S", str(ROOT), "-B", str(self.build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=None",
             "-DSOCKLAB_IMPL=solution", f"-DSOCKLAB_SOLUTIONS_DIR={self.solutions}"], "configuring the mutants' build")

    def build_lab(self, lab: Lab) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["cmake", "--build", str(self.build), "--target", f"lab{lab.id}_tests", *TOOL_TARGETS],
                              cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace")

    def test_lab(self, lab: Lab):
        return run_ctest(["--test-dir", str(self.build), "-L", f"^lab{lab.id}$", "--parallel",
                          str(os.cpu_count() or 2)], stream=False)


def baseline(ws: Workspace, lab: Lab) -> None:
    """The copy as it is must build and pass every test of the lab: else a mutant's failures mean
    nothing."""
    built = ws.build_lab(lab)
    if built.returncode != 0:
        raise Failure(f"lab {lab.id}: the reference solutions do not build:\n{built.stdout[-6000:]}")
    result = ws.test_lab(lab)
    failed = [r.name for r in result.results if r.outcome == "failed"]
    if failed or not result.results:
        raise Failure(f"lab {lab.id}: the reference solutions fail {len(failed)} of the lab's "
                      f"{len(result.results)} tests before any mistake is made: {', '.join(failed[:5])}")


def try_mutant(ws: Workspace, m: Mutant) -> Outcome:
    target = ws.solutions / m.lab.folder / m.file
    original = target.read_text(encoding="utf-8")
    start = time.monotonic()
    try:
        target.write_text(original.replace(m.find, m.replace, 1), encoding="utf-8")
        built = ws.build_lab(m.lab)
        if built.returncode != 0:
            lines = [l for l in built.stdout.splitlines() if "error" in l]
            return Outcome(m, "broken", time.monotonic() - start,
                           detail="does not compile: " + (lines[0] if lines else built.stdout[-400:]))
        result = ws.test_lab(m.lab)
        failed = [r for r in result.results if r.outcome == "failed"]
        verdict = "killed" if failed else "survived"
        skipped = [r for r in result.results if r.outcome == "skipped"]
        detail = ""
        if failed:
            first = failed[0]
            detail = f"{first.reason}: {first.name}"
        elif skipped:  # a skip is no catch: say which, in case one hid the mistake
            detail = f"{len(skipped)} skipped: " + "; ".join(f"{r.name} ({r.reason})" for r in skipped[:3])
        failed_names = {r.name for r in failed}
        return Outcome(m, verdict, time.monotonic() - start, [r.name for r in failed], detail,
                       missed_by_named=[n for n in m.caught_by if n not in failed_names],
                       slowest=max((r.seconds for r in failed), default=0.0),
                       timed_out=[r.name for r in failed if "Timeout" in r.reason],
                       # Catch2 prints "{?}" for a value it cannot print: a failure that explains nothing.
                       unexplained=[r.name for r in failed if "{?}" in r.output])
    finally:
        target.write_text(original, encoding="utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./socklab mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", action="append", metavar="NN", help="only this lab's mistakes (repeatable)")
    parser.add_argument("--only", action="append", metavar="ID", help="only this mistake (repeatable)")
    parser.add_argument("--first", action="store_true", help="only the first mistake of each lab's catalogue")
    parser.add_argument("--list", action="store_true", help="list the catalogue and stop")
    parser.add_argument("--verbose", action="store_true", help="name every test that failed on each mistake")
    args = parser.parse_args(argv)
    return run_reporting("mutants", lambda: run_catalogue(args),
                         interrupted="interrupted (the working tree was never edited).")


def run_catalogue(args: argparse.Namespace) -> int:
    if not (ROOT / "solutions").is_dir():
        raise Failure("solutions/ is missing: the mutants are edits of the reference solutions, which a "
                      "handout does not have.")
    labs = read_manifest()
    if args.lab:
        wanted = {n.zfill(2) for n in args.lab}
        unknown = wanted - {lab.id for lab in labs}
        if unknown:
            raise Failure(f"no lab {', '.join(sorted(unknown))} in labs/manifest.txt")
        labs = [lab for lab in labs if lab.id in wanted]
    elif args.only:
        # An id starts with its lab's number: only those labs' catalogues are read.
        labs = [lab for lab in labs if any(i.startswith(lab.id + "-") for i in args.only)]
    mutants = load_catalogue(labs)
    if args.only:
        unknown = set(args.only) - {m.id for m in mutants}
        if unknown:
            raise Failure(f"no mistake {', '.join(sorted(unknown))} in the catalogue (./socklab mutants --list)")
        mutants = [m for m in mutants if m.id in args.only]
    if args.first:
        firsts: dict[str, Mutant] = {}
        for m in mutants:
            if not m.uncaught:
                firsts.setdefault(m.lab.id, m)
        mutants = list(firsts.values())
    if args.list:
        for m in mutants:
            say(f"{m.id:40} {m.path}: {m.mistake}" + (f"  [left out: {m.uncaught}]" if m.uncaught else ""))
        say(f"{len(mutants)} mistakes, {sum(1 for m in mutants if not m.uncaught)} counted")
        return 0

    started = time.monotonic()
    ws = Workspace()
    ws.prepare()
    outcomes: list[Outcome] = []
    for lab in labs:
        mine = [m for m in mutants if m.lab.id == lab.id]
        counted = [m for m in mine if not m.uncaught]
        for m in mine:
            if m.uncaught:
                say(f"  left out  {m.id}: {m.uncaught}")
        if not counted:
            continue
        say(f"lab {lab.id}: building and running its tests on the reference solutions")
        baseline(ws, lab)
        for m in counted:
            outcome = try_mutant(ws, m)
            outcomes.append(outcome)
            word = {"killed": "caught", "survived": "SURVIVED", "broken": "BROKEN"}[outcome.verdict]
            say(f"  {word:9} {m.id} ({outcome.seconds:.1f} s): {m.mistake}")
            if outcome.verdict == "killed":
                more = len(outcome.caught_by) - 1
                say(f"            by {outcome.detail}" + (f" (and {more} more)" if more else "") +
                    f"; the slowest failing test took {outcome.slowest:.1f} s")
                if args.verbose:
                    for name in outcome.caught_by:
                        say(f"              failed: {name}")
                for name in outcome.timed_out:
                    say(f"            only CTest's timeout ended {name}: it should fail by itself, sooner")
                for name in outcome.unexplained:
                    say(f"            {name} printed {{?}} for a value: make its check print it")
                for name in outcome.missed_by_named:
                    say(f"            NOT by {name}, which the lab page names as the test that catches it")
            elif outcome.detail:
                say(f"            {outcome.detail}")

    caught = sum(1 for o in outcomes if o.verdict == "killed")
    say()
    table([[o.mutant.id, o.verdict, str(len(o.caught_by)), f"{o.slowest:.1f}", f"{o.seconds:.1f}"]
           for o in outcomes],
          ["mistake", "verdict", "tests failed", "slowest failing test (s)", "seconds"], right={2, 3, 4})
    left_out = sum(1 for m in mutants if m.uncaught)
    say(f"{caught} of {len(outcomes)} mistakes caught" +
        (f" ({left_out} left out of the count, with the reason in the catalogue)" if left_out else "") +
        f", in {time.monotonic() - started:.0f} s")
    timeouts = sum(1 for o in outcomes if o.timed_out)
    unexplained = sum(1 for o in outcomes if o.unexplained)
    misnamed = sum(1 for o in outcomes if o.missed_by_named)
    if timeouts:
        say(f"{timeouts} of them only through CTest's timeout (a test that hangs instead of failing)")
    if unexplained:
        say(f"{unexplained} of them with a failure that prints {{?}} instead of a value")
    if misnamed:
        say(f"{misnamed} of them not by the test their lab page names (caught_by in the catalogue)")
    return 0 if caught == len(outcomes) and not unexplained and not misnamed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
