#!/usr/bin/env python3
"""The commands of ./socklab are listed once, in tools/commands.tsv. This check holds the other
places that name them to that list: the cases of ./socklab's dispatch, the commands tools/socklab.py
runs, and the table of commands in docs/architecture.md (each row's usage as the list gives it).

  check_commands.py ROOT          check the tree at ROOT
  check_commands.py --self-test   show that it finds a command missing from each place
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

CASE_LABEL = re.compile(r"^\s+([a-z][a-z| -]*)\)\s*$")
TABLE_ROW = re.compile(r"^\| `\./socklab ([^`]+)` \|")


def listed(root: Path) -> dict[str, dict[str, str]]:
    """name -> {audience: usage} from tools/commands.tsv."""
    commands: dict[str, dict[str, str]] = {}
    for line in (root / "tools" / "commands.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, audience, usage, _text = line.split("\t")
            commands.setdefault(name, {})[audience] = usage
    return commands


def dispatched(root: Path) -> set[str]:
    """The command names of the case labels in ./socklab's main()."""
    text = (root / "socklab").read_text(encoding="utf-8")
    body = text[text.index("\nmain() {"):]
    names: set[str] = set()
    for line in body.splitlines():
        match = CASE_LABEL.match(line)
        if match:
            names |= {n.strip() for n in match.group(1).split("|")} - {"-h", "--help", ""}
    return names


def python_commands(root: Path) -> set[str]:
    text = (root / "tools" / "socklab.py").read_text(encoding="utf-8")
    match = re.search(r"^PYTHON_COMMANDS = \(([^)]*)\)", text, re.M)
    return set(re.findall(r'"([a-z-]+)"', match.group(1))) if match else set()


def check(root: Path) -> list[str]:
    commands = listed(root)
    names = set(commands)
    problems = []
    for name in sorted(names - dispatched(root)):
        problems.append(f"socklab: {name} is in tools/commands.tsv but no case of main() runs it")
    for name in sorted(dispatched(root) - names):
        problems.append(f"socklab: main() runs {name}, which tools/commands.tsv does not list")
    for name in sorted(python_commands(root) - names):
        problems.append(f"tools/socklab.py: PYTHON_COMMANDS has {name}, which tools/commands.tsv does not list")
    rows = {}
    for line in (root / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines():
        match = TABLE_ROW.match(line)
        if match:
            usage = match.group(1)
            rows[usage.split()[0]] = usage
    for name in sorted(names - {"help"} - set(rows)):
        problems.append(f"docs/architecture.md: the table of commands has no row for ./socklab {name}")
    for name, usage in sorted(rows.items()):
        if name not in commands:
            problems.append(f"docs/architecture.md: ./socklab {name} is not in tools/commands.tsv")
        elif usage not in commands[name].values():
            expected = " or ".join(f"`./socklab {u}`" for u in commands[name].values())
            problems.append(f"docs/architecture.md: `./socklab {usage}` should be {expected}, as tools/commands.tsv says")
    return problems


def self_test(root: Path) -> int:
    """Copies of the four files, each with a command taken out of one place, must each fail."""
    files = ["tools/commands.tsv", "socklab", "tools/socklab.py", "docs/architecture.md"]
    cases = [
        ("docs/architecture.md", lambda t: re.sub(r"^\| `\./socklab lint` \|.*\n", "", t, flags=re.M), "no row"),
        ("socklab", lambda t: t.replace("        mutants)\n", "        mutants-gone)\n"), "no case"),
        ("tools/commands.tsv", lambda t: re.sub(r"^bench\t.*\n", "", t, flags=re.M), "does not list"),
        ("docs/architecture.md", lambda t: t.replace("`./socklab fuzz [S]`", "`./socklab fuzz`"), "should be"),
    ]
    if check(root):
        print("self-test: the tree itself has problems; run the check first", file=sys.stderr)
        return 1
    failed = 0
    for target, change, expected in cases:
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch)
            for f in files:
                (copy / f).parent.mkdir(parents=True, exist_ok=True)
                text = (root / f).read_text(encoding="utf-8")
                (copy / f).write_text(change(text) if f == target else text, encoding="utf-8")
            problems = check(copy)
            if not any(expected in p for p in problems):
                print(f"self-test: a change to {target} was not found (expected a problem with '{expected}'): {problems}")
                failed += 1
    print(f"self-test: {len(cases) - failed} of {len(cases)} broken copies found")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    if argv == ["--self-test"]:
        return self_test(root)
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 64
    problems = check(Path(argv[0]).resolve())
    for problem in problems:
        print(problem)
    print(f"check_commands.py: {len(problems)} problem(s)" if problems else
          "check_commands.py: every place that names a command agrees with tools/commands.tsv")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
