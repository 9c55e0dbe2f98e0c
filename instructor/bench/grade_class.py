#!/usr/bin/env python3
"""Grades a class of 40 submissions with socklab-grade --batch --jobs 2 and prints the figures the
grader's class-scale issue asks for: seconds per submission with and without the build, and
submissions per hour. Then grades the class again, killing the grader mid-batch and running it once
more, and checks that the second run gives the same gradebook without grading again what was done.

The class: every case of instructor/corpus (each a copy of the reference solutions with its files in
place; the case that needs a network namespace is left out where none can be made) and copies of the
reference solutions, 40 in all. The rubric is the project's with short deadlines (5 s per test, 30 s
per build), so that the hostile cases cost seconds, not minutes. A lab stops after its third test
that times out (lab_max_timeouts); the lab's wall-clock budget (120 s) is far enough away never to
cut, as a cut by the clock would depend on the machine's speed and make the scores differ.

With --same-class-as REV the corpus cases are only those the corpus held at git revision REV (their
files as they are now), so that a figure can be set beside one measured then: the class of 40 of
the grader's issue 17 was the 28 cases of c089bab and 12 reference solutions.

Usage: python3 instructor/bench/grade_class.py [--grader PATH] [--keep DIR] [--same-class-as REV] [--no-resume]
"""
import argparse
import csv
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLASS_SIZE = 40


def can_make_network_namespace() -> bool:
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


def cases_at(revision: str) -> set[str]:
    listing = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{revision}:instructor/corpus"],
                             capture_output=True, text=True, check=True).stdout
    return set(listing.split())


def make_class(folder: Path, only: set[str] | None) -> list[str]:
    names = []
    cases = sorted(p for p in (ROOT / "instructor" / "corpus").iterdir()
                   if (p / "case.toml").exists() and (only is None or p.name in only))
    netns = can_make_network_namespace()
    for case in cases:
        expect = tomllib.loads((case / "case.toml").read_text())
        if expect.get("needs_network_namespace") and not netns:
            continue
        if expect.get("needs_root") and os.geteuid() != 0:
            continue
        target = folder / f"corpus-{case.name}"
        shutil.copytree(ROOT / "solutions", target)
        for f in case.rglob("*"):
            if f.is_file() and f.name != "case.toml":
                (target / f.relative_to(case)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, target / f.relative_to(case))
        names.append(target.name)
    for i in range(CLASS_SIZE - len(names)):
        shutil.copytree(ROOT / "solutions", folder / f"solution-{i + 1:02d}")
        names.append(f"solution-{i + 1:02d}")
    return names


def fast_rubric(path: Path) -> None:
    text = (ROOT / "tools" / "grade" / "rubric.toml").read_text()
    text = re.sub(r"test_timeout_seconds = [0-9]+", "test_timeout_seconds = 5", text)
    text = re.sub(r"lab_timeout_seconds = [0-9]+", "lab_timeout_seconds = 120", text)
    text = re.sub(r"build_timeout_seconds = [0-9]+", "build_timeout_seconds = 30", text)
    text = re.sub(r"lab_max_timeouts = [0-9]+", "lab_max_timeouts = 3", text)
    path.write_text(text)


def grade(grader: Path, work: Path, batch: Path, out: Path, rubric: Path, stop_after: float | None = None):
    cmd = [str(grader), "--root", str(ROOT), "--work", str(work), "--batch", str(batch), "--jobs", "2",
           "--out-dir", str(out), "--rubric", str(rubric)]
    start = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    if stop_after is not None:
        try:
            process.wait(timeout=stop_after)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # as a power cut would: no chance to tidy up
            process.wait()
            return None, time.perf_counter() - start
    _, err = process.communicate()
    if process.returncode != 0:
        sys.exit(f"socklab-grade failed ({process.returncode}):\n{err[-3000:]}")
    return err, time.perf_counter() - start


def reports(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/report.json")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grader", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it (default: a temp folder)")
    parser.add_argument("--no-resume", action="store_true",
                        help="grade the class once: leave out the run killed mid-batch and resumed")
    parser.add_argument("--same-class-as", metavar="REV", default=None,
                        help="take only the corpus cases that git revision REV had")
    args = parser.parse_args()
    grader = args.grader
    if grader is None:
        for candidate in (ROOT / "build-grade/build/bin/socklab-grade", ROOT / "build-solution/bin/socklab-grade"):
            if candidate.exists():
                grader = candidate
                break
    if grader is None or not grader.exists():
        sys.exit("no socklab-grade: run ./socklab grade (or build the solution preset) first")
    base = args.keep or Path(tempfile.mkdtemp(prefix="socklab-class-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        batch = base / "class"
        shutil.rmtree(batch, ignore_errors=True)
        batch.mkdir()
        names = make_class(batch, cases_at(args.same_class_as) if args.same_class_as else None)
        rubric = base / "rubric.toml"
        fast_rubric(rubric)
        work = base / "work"
        shutil.rmtree(work, ignore_errors=True)
        corpus = sum(1 for n in names if n.startswith("corpus-"))
        print(f"a class of {len(names)}: {corpus} corpus cases, {len(names) - corpus} reference solutions; "
              f"grader {grader}; {os.cpu_count()} cores")

        # 1. The whole class, from a cold work folder.
        out1 = base / "out-1"
        shutil.rmtree(out1, ignore_errors=True)
        _, wall = grade(grader, work, batch, out1, rubric)
        first = reports(out1)
        assert len(first) == len(names), f"{len(first)} reports for {len(names)} submissions"
        builds = [r["build_seconds"] for r in first.values()]
        runs = [r["run_seconds"] for r in first.values()]
        totals = [r["build_seconds"] + r["run_seconds"] for r in first.values()]
        print(f"run 1 (cold work folder, --jobs 2): {wall:.0f} s for {len(names)} submissions = "
              f"{wall / len(names):.1f} s each on the wall clock, {3600 * len(names) / wall:.0f} submissions/hour")
        print(f"  per submission, build included: median {statistics.median(totals):.1f} s, "
              f"mean {statistics.mean(totals):.1f} s, worst {max(totals):.1f} s (goal: under 30 s)")
        print(f"  per submission, build excluded: median {statistics.median(runs):.1f} s, "
              f"mean {statistics.mean(runs):.1f} s, worst {max(runs):.1f} s (goal: under 10 s)")
        print(f"  the build alone: median {statistics.median(builds):.1f} s, worst {max(builds):.1f} s "
              f"(the first configures and builds everything)")
        solutions = [r["build_seconds"] + r["run_seconds"] for n, r in first.items() if n.startswith("solution-")]
        print(f"  reference solutions only: median {statistics.median(solutions):.1f} s with the build")

        if args.no_resume:
            return 0
        # 2. Again, killed mid-batch, then resumed: same gradebook, nothing graded twice.
        out2 = base / "out-2"
        shutil.rmtree(out2, ignore_errors=True)
        _, stopped_at = grade(grader, work, batch, out2, rubric, stop_after=wall / 2)
        done = {p.parent.name: p.stat().st_mtime_ns for p in out2.glob("*/report.json")}
        _, wall2 = grade(grader, work, batch, out2, rubric)
        regraded = [n for n, m in done.items() if (out2 / n / "report.json").stat().st_mtime_ns != m]
        rows1 = list(csv.reader((out1 / "grades.csv").open()))
        rows2 = list(csv.reader((out2 / "grades.csv").open()))
        same = rows1 == rows2
        print(f"run 2: killed (SIGKILL) after {stopped_at:.0f} s with {len(done)} reports written; "
              f"resumed and finished in {wall2:.0f} s; graded again: {len(regraded)}; "
              f"gradebook identical to run 1: {'yes' if same else 'NO'}")
        if not same:
            for a, b in zip(rows1, rows2):
                if a != b:
                    print(f"  run 1: {a}\n  run 2: {b}")
        # The grading users this class ran as (their reports' notes name them); another grader on
        # the machine has its own.
        users = set()
        for report in list(reports(out1).values()) + list(reports(out2).values()):
            for note in report.get("notes", []):
                users.update(int(u) for u in re.findall(r"ran as user id ([0-9]+)", note))
        ps = subprocess.run(["ps", "-eo", "uid=,stat="], capture_output=True, text=True).stdout.split("\n")
        leftover = str(sum(1 for line in ps if line.split() and int(line.split()[0]) in users
                           and not line.split()[1].startswith("Z")))
        print(f"processes of this class's grading users ({', '.join(map(str, sorted(users))) or 'none'}) "
              f"left: {leftover}")
        return 0 if same and not regraded and leftover == "0" else 1
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
