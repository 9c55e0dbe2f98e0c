#!/usr/bin/env python3
"""The two ways the grader runs a lab's test program work on the Catch2 this build uses (v2 or v3):

  PROG --list-test-names-only [TAG]                 one test name per line, nothing else on stdout
                                                    (and nothing on stderr: the grader reads both)
  PROG ESCAPED-NAME --reporter xml --out FILE       exactly that test, its XML in FILE, and the
                                                    shared main's "read: docs/..." line on stdout

Usage: catch_cli_test.py PROBE [CATCH2_VERSION] (PROBE: the program built from catch_cli/probe.cpp;
the version is only printed). Exits 0 when all holds, 1 with what differed.
"""

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

NAMES = [
    "probe a plain name passes",
    "probe a name with, a comma passes",
    "probe a name with [brackets] passes",
    "probe a name with a \\ backslash and a * star passes",
    "~probe a name that starts with a tilde passes",
    "probe a failing test names its docs section",
]
TAGGED = {"[docs/reference/testkit.md#the-sigpipe-tripwire]": NAMES[:2]}
FAILING = "probe a failing test names its docs section"
READ_LINE = "read: docs/labs/04-framing.md#step-1-gather-bytes-into-lines"


def spec(name: str) -> str:
    """A test name as a Catch2 test spec, escaped as tools/grade/catch_report.cpp catch_spec() does."""
    return "".join("\\" + c if c in ",[]\\*~" else c for c in name)


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def main(probe: str, version: str) -> int:
    print(f"Catch2 {version}: {probe}")
    problems: list[str] = []

    # The exit code of a listing means nothing (v2 exits with the number of tests, v3 with 0), and
    # the grader does not read it.
    listed = run([probe, "--list-test-names-only"])
    if listed.stdout.splitlines() != NAMES or listed.stderr:
        problems.append(f"--list-test-names-only printed\n{listed.stdout!r}\nand on stderr {listed.stderr!r}\n"
                        f"expected exactly these lines, and nothing on stderr: {NAMES!r}")
    for tag, names in TAGGED.items():
        listed = run([probe, "--list-test-names-only", tag])
        if listed.stdout.splitlines() != names:
            problems.append(f"--list-test-names-only {tag} printed\n{listed.stdout!r}\nexpected {names!r}")

    with tempfile.TemporaryDirectory() as scratch:
        for i, name in enumerate(NAMES):
            out = Path(scratch) / f"{i}.xml"
            done = run([probe, spec(name), "--reporter", "xml", "--out", str(out)])
            what = f"{probe} {spec(name)!r} --reporter xml --out FILE"
            if not out.is_file():
                problems.append(f"{what} wrote no XML (exit {done.returncode}):\n{done.stdout}{done.stderr}")
                continue
            cases = [c.get("name") for c in ET.parse(out).getroot().iter("TestCase")]
            if cases != [name]:
                problems.append(f"{what} ran {cases!r}, expected exactly [{name!r}]")
            failed = name == FAILING
            if (done.returncode != 0) != failed:
                problems.append(f"{what} exited {done.returncode}, expected {'non-zero' if failed else 0}")
            has_read = READ_LINE in done.stdout.splitlines()
            if has_read != failed:
                problems.append(f"{what}: stdout {'lacks' if failed else 'has'} the line {READ_LINE!r}:\n"
                                f"{done.stdout!r}")

    for problem in problems:
        print(f"FAILED: {problem}\n")
    print(f"{1 + len(TAGGED) + len(NAMES)} invocations checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "(version not given)"))
