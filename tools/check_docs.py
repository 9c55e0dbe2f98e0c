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

Each mode prints one line per problem (FILE:LINE: what is wrong) and exits 1, or exits 0 when
everything is in order. Anchors follow GitHub's rules: the heading's text in lower case, every
character that is not a letter, digit, space, hyphen or underscore dropped, spaces turned into
hyphens; a repeated heading gets -1, -2, ...; <a id="x"></a> and <a name="x"></a> count too.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

# A docs section as code names it: docs/labs/01-endpoints.md#step-4-parse-and-classify-a-port
DOC_REF = re.compile(r"docs/[A-Za-z0-9_./-]+\.md(?:#[A-Za-z0-9_-]+)?")
# An inline link or image: [text](dest) or [text](<dest> "title"). Text may hold one level of [].
INLINE_LINK = re.compile(
    r"!?\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*(?P<dest><[^>\n]*>|[^\s)]+)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
# A reference definition: [label]: dest "title"
REF_DEFINITION = re.compile(r"^ {0,3}\[(?P<text>[^\]^][^\]]*)\]:\s*(?P<dest><[^>]*>|\S+)")  # not [^1]: notes
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
SKIP_DIRS = {".git", "node_modules", "__pycache__"}


# --- Markdown reading -----------------------------------------------------------------------

@dataclass
class MarkdownLine:
    number: int  # 1-based
    text: str  # the line with inline code spans blanked out ("" inside fenced code blocks)
    in_code: bool


def blank_inline_code(line: str) -> str:
    """Replaces every inline code span (`x`, ``x``) by spaces of the same length."""
    out = []
    i = 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            out.append(line[i : i + 2])
            i += 2
            continue
        if line[i] == "`":
            run = len(line[i:]) - len(line[i:].lstrip("`"))
            closing = line.find("`" * run, i + run)
            # The closing run must be exactly as long as the opening one.
            while closing != -1 and closing + run < len(line) and line[closing + run] == "`":
                closing = line.find("`" * run, closing + run + 1)
            if closing == -1:
                out.append(line[i : i + run])
                i += run
                continue
            out.append(" " * (closing + run - i))
            i = closing + run
            continue
        out.append(line[i])
        i += 1
    return "".join(out)


def markdown_lines(text: str) -> list[MarkdownLine]:
    """The lines of a Markdown text, marking those inside fenced code blocks."""
    lines = []
    fence: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        match = FENCE.match(raw)
        if fence is None:
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = match.group(1)
                lines.append(MarkdownLine(number, "", True))
            else:
                lines.append(MarkdownLine(number, blank_inline_code(raw), False))
        else:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not match.group(2).strip():
                fence = None
            lines.append(MarkdownLine(number, "", True))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (before duplicates are numbered)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text)  # HTML tags
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors_of(text: str) -> set[str]:
    """Every anchor a Markdown text defines: one per heading (numbered when repeated), and
    explicit <a id> / <a name> anchors."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}

    def add_heading(title: str) -> None:
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.add(base if count == 0 else f"{base}-{count}")

    lines = text.splitlines()
    previous_is_paragraph = False
    previous_text = ""
    fence: str | None = None
    for raw in lines:
        match = FENCE.match(raw)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not match.group(2).strip():
                fence = None
            previous_is_paragraph = False
            continue
        if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
            fence = match.group(1)
            previous_is_paragraph = False
            continue
        for anchor in HTML_ANCHOR.findall(raw):
            anchors.add(anchor)
        heading = ATX_HEADING.match(raw)
        if heading:
            add_heading(heading.group(2) or "")
            previous_is_paragraph = False
            continue
        if previous_is_paragraph and SETEXT_UNDERLINE.match(raw):
            add_heading(previous_text)
            previous_is_paragraph = False
            continue
        stripped = raw.strip()
        starts_block = stripped.startswith(("|", ">", "- ", "* ", "+ ", "<")) or re.match(r"\d+[.)] ", stripped)
        previous_is_paragraph = bool(stripped) and not starts_block and not raw.startswith("    ")
        previous_text = stripped
    return anchors


# --- Files --------------------------------------------------------------------------------

def markdown_files(root: Path) -> list[Path]:
    """The project's Markdown files: those git knows (tracked, or new and not ignored); outside
    a git checkout, every .md file under root but in build*/ and hidden folders."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.md"],
            check=True, capture_output=True, text=True,
        ).stdout
        files = sorted({root / name for name in out.split("\0") if name})
        return [f for f in files if f.is_file() and not is_build_path(f.relative_to(root))]
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith((".", "build")))
        found += [Path(folder) / n for n in sorted(names) if n.endswith(".md")]
    return found


def is_build_path(relative: Path) -> bool:
    return any(part.startswith("build") or part in SKIP_DIRS for part in relative.parts[:-1])


class AnchorCache:
    """The anchors of each .md file, read once."""

    def __init__(self) -> None:
        self._anchors: dict[Path, set[str]] = {}

    def get(self, path: Path) -> set[str]:
        path = path.resolve()
        if path not in self._anchors:
            self._anchors[path] = anchors_of(path.read_text(encoding="utf-8", errors="replace"))
        return self._anchors[path]


def show(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def check_target(dest: str, source: Path, root: Path, cache: AnchorCache) -> str | None:
    """What is wrong with relative link dest written in source, or None."""
    if dest.startswith("<") and dest.endswith(">"):
        dest = dest[1:-1]
    path_part, _, anchor = dest.partition("#")
    path_part = urllib.parse.unquote(path_part)
    anchor = urllib.parse.unquote(anchor)
    if path_part.startswith("/"):
        target = root / path_part.lstrip("/")
    elif path_part:
        # The handout's templates are checked where ./socklab handout puts them: at the top.
        placed = root if source.parent.resolve() == (root / "tools" / "handout").resolve() else source.parent
        target = placed / path_part
    else:
        target = source
    if not target.exists():
        return f"no such file or folder: {show(target, root)}"
    if anchor and target.is_file() and target.suffix.lower() == ".md":
        anchors = cache.get(target)
        if anchor not in anchors:
            hint = difflib.get_close_matches(anchor, sorted(anchors), n=1)
            where = "this file" if target.resolve() == source.resolve() else show(target, root)
            return f"no section #{anchor} in {where}" + (f" (did you mean #{hint[0]}?)" if hint else "")
    return None


def links_in(text: str) -> list[tuple[int, str, str]]:
    """(line number, link text, destination) of every link outside code."""
    found = []
    for line in markdown_lines(text):
        if line.in_code:
            continue
        for match in INLINE_LINK.finditer(line.text):
            found.append((line.number, match.group("text"), match.group("dest")))
        definition = REF_DEFINITION.match(line.text)
        if definition:
            found.append((line.number, definition.group("text"), definition.group("dest")))
    return found


def is_relative(dest: str) -> bool:
    return not SCHEME.match(dest.strip("<>")) and not dest.startswith("//")


# --- The three checks ---------------------------------------------------------------------

def check_links(root: Path, files: list[Path] | None = None) -> list[str]:
    cache = AnchorCache()
    problems = []
    for md in files if files is not None else markdown_files(root):
        text = md.read_text(encoding="utf-8", errors="replace")
        for number, label, dest in links_in(text):
            if not is_relative(dest):
                continue
            wrong = check_target(dest, md, root, cache)
            if wrong:
                problems.append(f"{show(md, root)}:{number}: broken link [{label}]({dest}): {wrong}")
    return problems


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
    scripts = sorted(root.glob("labs/[0-9][0-9]-*/scripts/*.script")) + sorted(root.glob("grader/hidden/*/*.script"))
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
    """Every entry of grader/mutants/*.toml by id; None where the tree has no catalogue (a handout)."""
    folder = root / "grader" / "mutants"
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
                                f"(grader/mutants/), or make one: {flat[:90]}")
            for mistake in ids:
                entry = catalogue.get(mistake)
                if mistake == "untestable" or (entry is not None and entry.get("uncaught")):
                    if not says_uncaught:
                        problems.append(f"{where}: {mistake} is caught by no test: the bullet must say so "
                                        "('no test ...') and why")
                    continue
                if entry is None:
                    problems.append(f"{where}: no mistake {mistake} in grader/mutants/")
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


USAGE = """usage: check_docs.py links ROOT
       check_docs.py skeletons ROOT
       check_docs.py coverage ROOT BUILD_DIR
       check_docs.py sessions ROOT PAGE...
       check_docs.py mistakes ROOT BUILD_DIR PAGE..."""


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("links", "skeletons", "coverage", "sessions", "mistakes"):
        print(USAGE, file=sys.stderr)
        return 64
    mode, root = argv[0], Path(argv[1]).resolve()
    if not root.is_dir():
        print(f"check_docs.py: ROOT {root} is not a folder", file=sys.stderr)
        return 64
    if mode == "links":
        files = markdown_files(root)
        problems = check_links(root, files)
        checked = f"{len(files)} Markdown files"
    elif mode == "mistakes":
        try:
            known = ctest_names(Path(argv[2]))
        except (IndexError, OSError, subprocess.CalledProcessError, ValueError) as error:
            print(f"check_docs.py mistakes needs the build folder, to list its tests: {error}", file=sys.stderr)
            return 64
        problems, count = check_mistakes(root, argv[3:], known)
        checked = f"{count} usual mistakes in {len(argv[3:])} pages"
        if load_mistake_catalogue(root) is None:
            checked += " (no grader/mutants/ here: a handout; nothing to check)"
        elif count == 0:
            problems.append("no usual mistake found: the pattern or the page list is wrong")
    elif mode == "sessions":
        problems, count = check_sessions(root, argv[2:])
        checked = f"{count} Python sessions in {len(argv[2:])} pages"
        if count == 0:
            problems.append("no Python session found: the pattern or the page list is wrong")
    elif mode == "skeletons":
        problems = check_skeletons(root)
        checked = f"{len(skeleton_sources(root))} source files"
    else:
        if len(argv) < 3:
            print("check_docs.py coverage needs the build folder: check_docs.py coverage ROOT BUILD_DIR",
                  file=sys.stderr)
            return 64
        try:
            known = ctest_names(Path(argv[2]))
        except (OSError, subprocess.CalledProcessError, ValueError) as error:
            print(f"check_docs.py: could not list the tests of {argv[2]} with ctest --show-only=json-v1: {error}",
                  file=sys.stderr)
            return 1
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
