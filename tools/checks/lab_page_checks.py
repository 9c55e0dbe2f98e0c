"""The checks of what lab pages claim (python3, standard library only), used by check_docs.py:
that the Python sessions a page shows print what it shows (sessions), and that each usual mistake
a page lists is a catalogue mistake the named test catches (mistakes).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# A Python session in a page: a ```text block whose first line is `$ python3 -c '`, the program up
# to a line that is a lone `'`, and then exactly what it prints.
SESSION = re.compile(r"^```text\n\$ python3 -c '\n(?P<code>.*?)'\n(?P<printed>.*?)^```", re.S | re.M)


def check_sessions(root: Path, pages: list[str]) -> tuple[list[str], int]:
    """Runs every Python session of the pages and compares what it prints with what the page
    shows: a page that shows output proves it, every time the docs are checked. Only pages whose
    sessions stay on loopback, use port 0 and end in seconds are listed for this check."""
    problems, count = [], 0
    for page in pages:
        path = root / page
        text = path.read_text(encoding="utf-8")
        for match in SESSION.finditer(text):
            count += 1
            line = text[:match.start()].count("\n") + 1
            try:
                done = subprocess.run([sys.executable, "-c", match.group("code")], capture_output=True, text=True,
                                      timeout=20, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                problems.append(f"{page}:{line}: the Python session did not end within 20 s")
                continue
            if done.stdout != match.group("printed"):
                problems.append(f"{page}:{line}: the Python session printed\n{done.stdout}{done.stderr}"
                                f"where the page shows\n{match.group('printed')}")
    return problems, count


# A bullet of a "**Usual mistakes**" list names the catalogue entry that is that mistake.
MISTAKE_MARKER = re.compile(r"<!--\s*mistake:\s*([A-Za-z0-9-]+)\s*-->")


def usual_mistakes(text: str) -> list[tuple[int, str]]:
    """(line, text) of each bullet of the page's "**Usual mistakes**" lists, continuation lines
    joined to it."""
    bullets: list[list] = []
    inside, current = False, None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() == "**Usual mistakes**":
            inside, current = True, None
        elif not inside:
            continue
        elif line.startswith("- "):
            current = [number, line]
            bullets.append(current)
        elif line.startswith("  ") and current is not None:
            current[1] += "\n" + line
        elif line.strip() == "":
            current = None
        else:
            inside, current = False, None
    return [(number, body) for number, body in bullets]


def load_mistake_catalogue(root: Path) -> dict[str, dict] | None:
    """Every entry of instructor/mutants/*.toml by id; None where the tree has no catalogue (a handout)."""
    folder = root / "instructor" / "mutants"
    if not folder.is_dir():
        return None
    import tomllib  # Python 3.11, as Debian 12 and 13 have; only this check needs it
    entries = {}
    for path in sorted(folder.glob("*.toml")):
        for entry in tomllib.loads(path.read_text(encoding="utf-8")).get("mutant", []):
            entries[entry["id"]] = entry
    return entries


def check_mistakes(root: Path, pages: list[str], known_tests: set[str]) -> tuple[list[str], int]:
    """Every usual mistake a lab page lists is a mutant of the catalogue (./socklab mutants makes
    it and runs the tests), marked <!-- mistake: ID --> in the bullet. For a mistake the catalogue
    counts as caught, the bullet names each test of the entry's caught_by, and the mutants tool
    checks that each of them fails on it. For one it leaves out (uncaught), the bullet says that no
    test catches it, and why. `untestable` marks a mistake that no edit of the reference can make;
    the bullet then says so too."""
    catalogue = load_mistake_catalogue(root)
    if catalogue is None:
        return [], 0
    problems, count = [], 0
    for page in pages:
        for number, body in usual_mistakes((root / page).read_text(encoding="utf-8")):
            count += 1
            where = f"{page}:{number}"
            flat = " ".join(body.split())
            says_uncaught = "no test" in flat.lower()
            ids = MISTAKE_MARKER.findall(body)
            if not ids:
                problems.append(f"{where}: this usual mistake names no catalogue entry: add <!-- mistake: ID --> "
                                f"(instructor/mutants/), or make one: {flat[:90]}")
            for mistake in ids:
                entry = catalogue.get(mistake)
                if mistake == "untestable" or (entry is not None and entry.get("uncaught")):
                    if not says_uncaught:
                        problems.append(f"{where}: {mistake} is caught by no test: the bullet must say so "
                                        "('no test ...') and why")
                    continue
                if entry is None:
                    problems.append(f"{where}: no mistake {mistake} in instructor/mutants/")
                    continue
                named = entry.get("caught_by", [])
                named = [named] if isinstance(named, str) else named
                if not named:
                    problems.append(f"{where}: {mistake} has no caught_by in the catalogue: name the test "
                                    "that catches it there and on the page")
                for test in named:
                    short = test.split("/", 1)[-1]
                    if test not in known_tests:
                        problems.append(f"{where}: {mistake}'s caught_by names {test}, which CTest does not know")
                    if f"`{test}`" not in flat and f"`{short}`" not in flat:
                        problems.append(f"{where}: the bullet of {mistake} does not name `{short}`, the test the "
                                        "catalogue says catches it")
    return problems, count
