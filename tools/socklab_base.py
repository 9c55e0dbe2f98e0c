"""What every ./socklab command written in Python shares (python3, standard library only): the
project's folders, output helpers, the lab manifest, and configuring and building a CMake preset.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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


def run_reporting(command: str, run: Callable[[], int], interrupted: str = "interrupted.") -> int:
    """Runs one ./socklab command: a Failure ends it with `socklab COMMAND: why` (exit 1), Ctrl-C
    with `socklab COMMAND: ` and the interrupted text (exit 130, as a shell says)."""
    try:
        return run()
    except Failure as failure:
        print(f"\nsocklab {command}: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nsocklab {command}: {interrupted}", file=sys.stderr)
        return 130
