"""The timelines a page shows were printed by socklab-wire, and it still prints them.

A page marks each one with the command that printed it, in a comment just above its block:

    <!-- wire: socklab-wire -- lab03-client 127.0.0.1:9 -->
    ```text
        0.000 ms  client 127.0.0.1:33844 -> server 127.0.0.1:9      SYN      seq 0
    ```

The command runs again (bash, with the build's bin/ first on PATH), and the block must show the
same segments: who sent each to whom, and its flags, in order. Times, ports, sequence numbers, how
many times one segment is sent again in a row, and bare ACKs (a kernel sends one at once, later,
or folded into its next segment, as its timers and the machine's load decide) are not compared.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

MARK = re.compile(r"^<!-- wire: (.+?) -->\n```text\n(.*?)^```", re.S | re.M)
# "    0.000 ms  client 127.0.0.1:1 -> server 127.0.0.1:9      SYN      seq 0"
LINE = re.compile(r"^\s*[\d.]+ ms  (\S+)\s+\S+\s+->\s+(\S+)\s+\S+\s+(.+?)(?:\s+seq \d+.*)?$")
NO_CAPTURE = 77  # socklab-wire's exit code where no capture can be made


def shape(timeline: str) -> list[str]:
    """Each segment as 'client -> server SYN', a segment sent again in a row counted once."""
    out: list[str] = []
    for line in timeline.splitlines():
        match = LINE.match(line)
        if match:
            flags = match.group(3).strip()
            if flags == "ACK" and " bytes " not in line and " byte " not in line:
                continue  # a bare ACK: when, and whether alone, is the kernel's choice
            seen = f"{match.group(1)} -> {match.group(2)} {flags}"
            if not out or out[-1] != seen:
                out.append(seen)
    return out


TIMEOUT = 60  # seconds a block's command may take (the slowest prints in under 3)
ATTEMPTS = 2  # a segment a loaded machine times differently once is not a page gone stale


def _print(command: str, env: dict[str, str], root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], env=env, cwd=root, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=TIMEOUT)


def check_wire_blocks(root: Path, bin_dir: Path, pages: list[str]) -> tuple[list[str], int, str]:
    """Problems, how many blocks were checked, and why none could be (no capture here), or "".

    A block whose command prints other segments is run again; it is a problem only if every one
    of ATTEMPTS runs differs from the page (a page gone stale differs every time)."""
    problems: list[str] = []
    count = 0
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ.get('PATH', '')}")
    for page in pages:
        text = (root / page).read_text(encoding="utf-8")
        for block in MARK.finditer(text):
            number = text.count("\n", 0, block.start()) + 1
            command, expected = block.group(1), shape(block.group(2))
            if not expected:
                problems.append(f"{page}:{number}: the block under the wire comment holds no timeline line")
                continue
            runs: list[list[str]] = []
            for _ in range(ATTEMPTS):
                try:
                    done = _print(command, env, root)
                except subprocess.TimeoutExpired:
                    runs.append([f"(the command did not end within {TIMEOUT} s)"])
                    break
                if done.returncode == NO_CAPTURE and "==> the wire" not in done.stdout:
                    return problems, count, done.stderr.strip()
                runs.append(shape(done.stdout.split("==> the wire", 1)[-1]))
                if runs[-1] == expected:
                    break
            count += 1
            if runs[-1] != expected:
                printed = "\n  and then\n".join("    " + "\n    ".join(run or ["(nothing)"]) for run in runs)
                problems.append(f"{page}:{number}: `{command}` now prints\n{printed}"
                                + "\n  where the page shows\n    " + "\n    ".join(expected))
    return problems, count, ""
