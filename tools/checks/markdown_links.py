"""Markdown as socklab's doc checks read it (python3, standard library only): lines outside code,
headings and their GitHub anchors, links and whether their targets exist. Used by check_docs.py.
"""
from __future__ import annotations

import difflib
import os
import re
import subprocess
import urllib.parse
from dataclasses import dataclass
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
        placed = root if source.parent.resolve() == (root / "instructor" / "handout").resolve() else source.parent
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
