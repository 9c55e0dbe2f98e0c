"""Running CTest and reading its results (python3, standard library only): each test's outcome
from CTest's JUnit file, its labels, and from a failed test's output the first line of its message
and the docs section it points to. Used by ./socklab test and status, and by ./socklab mutants.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from socklab_base import DOC_SECTION, ROOT, Failure, Lab, quote, say

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
