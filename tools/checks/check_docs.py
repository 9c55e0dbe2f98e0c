#!/usr/bin/env python3
"""Checks of socklab's docs (python3, standard library only).

  check_docs.py links ROOT
      Every relative link [text](path), [text](path#anchor), [text](#anchor) (and ![img](path),
      [ref]: path) in the Markdown files of ROOT points to a file or folder that exists, and the
      anchor to a section of the target .md file. Links in fenced code blocks and inline code
      are ignored, and so are links with a scheme (http:, https:, mailto:, ...).
  check_docs.py skeletons ROOT
      Every "docs/...md#anchor" named in the given and skeleton code under labs/ points to a
      section that exists, and every NotImplemented thrown by a skeleton names a docs section.
  check_docs.py coverage ROOT BUILD_DIR
      docs/coverage.md maps each point of the cheatsheet to the doc sections that teach it
      ("Taught in": relative links, checked like links) and the tests that check it ("Checked
      by": test names in backticks, each known to CTest in BUILD_DIR, or the word "planned").
  check_docs.py sessions ROOT PAGE...
      The Python sessions each PAGE shows print what it shows (lab_page_checks.py).
  check_docs.py mistakes ROOT BUILD_DIR PAGE...
      Every usual mistake each PAGE lists is a mutation-catalogue mistake that the test the page
      names catches, or the page says why no test can (lab_page_checks.py).

Markdown is read by markdown_links.py: lines outside code, headings, anchors and link targets.

Each mode prints one line per problem (FILE:LINE: what is wrong) and exits 1, or exits 0 when
everything is in order. Anchors follow GitHub's rules: the heading's text in lower case, every
character that is not a letter, digit, space, hyphen or underscore dropped, spaces turned into
hyphens; a repeated heading gets -1, -2, ...; <a id="x"></a> and <a name="x"></a> count too.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_page_checks import check_mistakes, check_sessions, load_mistake_catalogue  # noqa: E402
from wire_blocks import NO_CAPTURE, check_wire_blocks  # noqa: E402
from markdown_links import (DOC_REF, AnchorCache, check_links, check_target, is_relative, links_in,  # noqa: E402
                            markdown_files, markdown_lines, show, slug)  # slug: for the tests

def skeleton_sources(root: Path) -> list[Path]:
    labs = root / "labs"
    files: set[Path] = set()
    files.update(labs.glob("*/src/**/*.cpp"))
    files.update(labs.glob("*/src/**/*.hpp"))
    files.update(labs.glob("*/include/**/*.hpp"))
    files.update(labs.glob("*/app/**/*.cpp"))
    files.update(labs.glob("common/**/*.cpp"))
    files.update(labs.glob("common/**/*.hpp"))
    # Tests are not skeletons: they may name made-up sections as test data.
    return sorted(f for f in files if f.is_file() and "tests" not in f.relative_to(labs).parts)


def check_skeletons(root: Path) -> list[str]:
    cache = AnchorCache()
    problems = []
    sources = skeleton_sources(root)
    if not sources:
        return [f"{show(root / 'labs', root)}:0: no sources found under labs/ (is ROOT the project root?)"]
    for source in sources:
        text = source.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for match in DOC_REF.finditer(line):
                wrong = check_target(match.group(0), root / "x", root, cache)
                if wrong:
                    problems.append(f"{show(source, root)}:{number}: {match.group(0)}: {wrong}")
        if source.parent.name == "src" and source.parent.parent.parent.name == "labs" \
                and source.parent.parent.name != "common":
            for match in re.finditer(r"\bthrow\s+(?:socklab::)?NotImplemented\s*[({]", text):
                call = text[match.start() : text.find(";", match.end()) + 1 or len(text)]
                if not DOC_REF.search(call):
                    number = text.count("\n", 0, match.start()) + 1
                    problems.append(f"{show(source, root)}:{number}: NotImplemented names no docs section "
                                    f"(give it \"docs/....md#section\" as its second argument)")
    problems += check_test_tags(root, cache)
    problems += check_script_docs(root, cache)
    return problems


def check_script_docs(root: Path, cache: "AnchorCache") -> list[str]:
    """Every conversation script of a lab (and every hidden one) says with a `docs` statement
    which section explains what it checks (the runner prints it on failure), and it exists."""
    problems = []
    scripts = sorted(root.glob("labs/[0-9][0-9]-*/scripts/*.script")) + sorted(root.glob("instructor/hidden/*/*.script"))
    for script in scripts:
        lines = script.read_text(encoding="utf-8", errors="replace").splitlines()
        docs = [(n, line.split()[1]) for n, line in enumerate(lines, start=1)
                if line.startswith("docs ") and len(line.split()) > 1]
        if not docs:
            problems.append(f"{show(script, root)}:1: the script names no docs section (add: docs docs/....md#section)")
        for number, target in docs:
            wrong = check_target(target, root / "x", root, cache)
            if wrong:
                problems.append(f"{show(script, root)}:{number}: {target}: {wrong}")
    return problems


TEST_CASE = re.compile(r'TEST_CASE\(\s*"((?:[^"\\]|\\.)*)"\s*(?:,\s*"([^"]*)")?\s*\)')


def check_test_tags(root: Path, cache: "AnchorCache") -> list[str]:
    """Every lab test case carries a tag "[docs/....md#section]" naming the section that explains
    what it checks (the test main prints it when the test fails), and that section exists."""
    problems = []
    for source in sorted((root / "labs").glob("[0-9][0-9]-*/tests/*.cpp")):
        text = source.read_text(encoding="utf-8", errors="replace")
        for match in TEST_CASE.finditer(text):
            number = text.count("\n", 0, match.start()) + 1
            tags = re.findall(r"\[([^\]]*)\]", match.group(2) or "")
            docs = [tag for tag in tags if tag.startswith("docs/")]
            if not docs:
                problems.append(f"{show(source, root)}:{number}: test \"{match.group(1)}\" has no "
                                f"\"[docs/....md#section]\" tag")
            for tag in docs:
                wrong = check_target(tag, root / "x", root, cache)
                if wrong:
                    problems.append(f"{show(source, root)}:{number}: {tag}: {wrong}")
    return problems


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table row; | inside backticks or escaped as \\| does not split."""
    cells, cell, in_code, i = [], [], False, 0
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cell.append("|")
            i += 2
            continue
        if c == "`":
            in_code = not in_code
        if c == "|" and not in_code:
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(c)
        i += 1
    cells.append("".join(cell).strip())
    return cells


@dataclass
class CoverageRow:
    line: int
    point: str
    taught: str
    checked: str


# A plain record with a list, as ctest_results.CtestRun is: alike in shape only.
@dataclass
class CoverageTables:
    rows: list[CoverageRow] = field(default_factory=list)
    tables: int = 0


def coverage_rows(text: str) -> CoverageTables:
    """The rows of every table of text whose header has a 'Taught in' and a 'Checked by' column."""
    result = CoverageTables()
    lines = markdown_lines(text)
    raw_lines = text.splitlines()
    i = 0
    while i + 1 < len(lines):
        header = lines[i]
        if header.in_code or not header.text.lstrip().startswith("|") or \
                not re.match(r"^\s*\|?\s*:?-{3,}", raw_lines[i + 1]):
            i += 1
            continue
        names = [c.lower() for c in split_row(raw_lines[i])]
        taught = next((k for k, n in enumerate(names) if "taught" in n), None)
        checked = next((k for k, n in enumerate(names) if "checked" in n), None)
        i += 2
        if taught is None or checked is None:
            continue
        result.tables += 1
        while i < len(lines) and raw_lines[i].lstrip().startswith("|") and not lines[i].in_code:
            cells = split_row(raw_lines[i])
            cells += [""] * (len(names) - len(cells))
            result.rows.append(CoverageRow(lines[i].number, cells[0], cells[taught], cells[checked]))
            i += 1
    return result


def ctest_names(build_dir: Path) -> set[str]:
    """The names of the tests CTest knows in build_dir."""
    out = subprocess.run(
        ["ctest", "--test-dir", str(build_dir), "--show-only=json-v1"],
        check=True, capture_output=True, text=True,
    ).stdout
    return {test["name"] for test in json.loads(out).get("tests", [])}


def check_coverage(root: Path, known_tests: set[str]) -> list[str]:
    coverage = root / "docs" / "coverage.md"
    where = show(coverage, root)
    if not coverage.is_file():
        return [f"{where}:0: missing: it should map every point of the cheatsheet to the doc "
                "sections that teach it and the tests that check it"]
    text = coverage.read_text(encoding="utf-8", errors="replace")
    tables = coverage_rows(text)
    if tables.tables == 0:
        return [f"{where}:0: no table with a 'Taught in' and a 'Checked by' column"]
    if not tables.rows:
        return [f"{where}:0: the coverage table has no rows"]
    cache = AnchorCache()
    problems = []
    for row in tables.rows:
        point = re.sub(r"\s+", " ", row.point)[:60] or "(empty)"
        if not row.point.strip():
            problems.append(f"{where}:{row.line}: a row without a cheatsheet point")
        links = [(label, dest) for _, label, dest in links_in(row.taught)]
        relative = [(label, dest) for label, dest in links if is_relative(dest)]
        if not relative:
            problems.append(f"{where}:{row.line}: '{point}': 'Taught in' has no relative link to a doc section")
        for label, dest in relative:
            wrong = check_target(dest, coverage, root, cache)
            if wrong:
                problems.append(f"{where}:{row.line}: '{point}': broken link [{label}]({dest}): {wrong}")
        names = re.findall(r"`([^`]+)`", row.checked)
        planned = re.search(r"\bplanned\b", re.sub(r"`[^`]*`", "", row.checked), re.IGNORECASE)
        if not names and not planned:
            problems.append(f"{where}:{row.line}: '{point}': 'Checked by' names no test in backticks "
                            "and does not say 'planned'")
        for name in names:
            if name not in known_tests:
                hint = difflib.get_close_matches(name, sorted(known_tests), n=1)
                problems.append(f"{where}:{row.line}: '{point}': no test named `{name}` in CTest"
                                + (f" (did you mean `{hint[0]}`?)" if hint else ""))
    return problems


def check_named_tests(root: Path, known_tests: set[str]) -> list[str]:
    """Any Markdown file may name a test as `labNN/<name>`, `common/<name>` or `docs/<name>` in
    backticks; each such name must be a test CTest knows, so that lists of tests cannot go stale."""
    problems = []
    for md in markdown_files(root):
        if md.name == "coverage.md" and md.parent.name == "docs":
            continue  # checked row by row above
        in_fence = False
        for number, line in enumerate(md.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            for name in re.findall(r"`((?:lab0[1-9]|common)/[^`]+)`", line):
                if name not in known_tests and "*" not in name and "<" not in name:
                    hint = difflib.get_close_matches(name, sorted(known_tests), n=1)
                    problems.append(f"{show(md, root)}:{number}: no test named `{name}` in CTest"
                                    + (f" (did you mean `{hint[0]}`?)" if hint else ""))
    return problems


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="check_docs.py", description="Checks of socklab's docs.")
    modes = parser.add_subparsers(dest="mode", required=True, metavar="MODE")
    modes.add_parser("links", help="every relative link and anchor of the Markdown files resolves")
    modes.add_parser("skeletons", help="every docs section named by given and skeleton code exists")
    modes.add_parser("coverage", help="docs/coverage.md names only doc sections and tests that exist")
    modes.add_parser("sessions", help="the Python sessions of PAGE print what the page shows")
    modes.add_parser("mistakes", help="every usual mistake of PAGE is a catalogue mistake the named test catches")
    modes.add_parser("wire", help="every timeline of PAGE marked <!-- wire: COMMAND --> is what COMMAND prints")
    for name, sub in modes.choices.items():
        sub.add_argument("root", type=Path, metavar="ROOT", help="the project's folder")
        if name in ("coverage", "mistakes"):
            sub.add_argument("build_dir", type=Path, metavar="BUILD_DIR", help="a build folder, to list its tests")
        if name == "wire":
            sub.add_argument("bin_dir", type=Path, metavar="BIN_DIR", help="the build's bin/, with socklab-wire")
        if name in ("sessions", "mistakes", "wire"):
            sub.add_argument("pages", nargs="+", metavar="PAGE", help="a page, relative to ROOT")
    args = parser.parse_args(argv)
    args.root = args.root.resolve()
    if not args.root.is_dir():
        parser.error(f"ROOT {args.root} is not a folder")
    return args


def known_tests(build_dir: Path) -> set[str]:
    try:
        return ctest_names(build_dir)
    except (OSError, subprocess.CalledProcessError, ValueError) as error:
        raise SystemExit(f"check_docs.py: could not list the tests of {build_dir} with ctest --show-only=json-v1: "
                         f"{error}") from error


def main(argv: list[str]) -> int:
    args = arguments(argv)
    mode, root = args.mode, args.root
    if mode == "links":
        files = markdown_files(root)
        problems = check_links(root, files)
        checked = f"{len(files)} Markdown files"
    elif mode == "mistakes":
        problems, count = check_mistakes(root, args.pages, known_tests(args.build_dir))
        checked = f"{count} usual mistakes in {len(args.pages)} pages"
        if load_mistake_catalogue(root) is None:
            checked += " (no instructor/mutants/ here: a handout; nothing to check)"
        elif count == 0:
            problems.append("no usual mistake found: the pattern or the page list is wrong")
    elif mode == "sessions":
        problems, count = check_sessions(root, args.pages)
        checked = f"{count} Python sessions in {len(args.pages)} pages"
        if count == 0:
            problems.append("no Python session found: the pattern or the page list is wrong")
    elif mode == "wire":
        problems, count, no_capture = check_wire_blocks(root, args.bin_dir.resolve(), args.pages)
        if no_capture:
            print(f"check_docs.py wire: skipped, no capture can be made here: {no_capture}")
            return NO_CAPTURE
        checked = f"{count} wire timelines in {len(args.pages)} pages"
        if count == 0:
            problems.append("no wire timeline found: the pattern or the page list is wrong")
    elif mode == "skeletons":
        problems = check_skeletons(root)
        checked = f"{len(skeleton_sources(root))} source files"
    else:
        known = known_tests(args.build_dir)
        problems = check_coverage(root, known) + check_named_tests(root, known)
        checked = f"docs/coverage.md against {len(known)} CTest tests"
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_docs.py {mode}: {len(problems)} problem(s) in {checked}", file=sys.stderr)
        return 1
    print(f"check_docs.py {mode}: {checked}, no problem")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
