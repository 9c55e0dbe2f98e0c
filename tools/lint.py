"""./socklab lint: clang-format --dry-run --Werror and clang-tidy over the sources (python3,
standard library only)."""
from __future__ import annotations

import concurrent.futures
import json
import re
import subprocess
from pathlib import Path

from socklab_base import BUILD_DIRS, HANDOUT, ROOT, TIDY_JOBS, Failure, configure, heading, say

# --- ./socklab lint -----------------------------------------------------------------------

FINDING = re.compile(r"^(?P<where>[^\s:][^:]*:\d+:\d+): (?P<kind>warning|error): (?P<what>.*?)(?: \[(?P<check>[^\]]+)\])?$")


def existing(*folders: str) -> list[Path]:
    return [ROOT / f for f in folders if (ROOT / f).is_dir()]


def sources(folders: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    found = set()
    for folder in folders:
        for path in folder.rglob("*"):
            if path.suffix in suffixes and path.is_file():
                found.add(path)
    return sorted(found)


def compiled_files(database: Path) -> set[str]:
    """The source files a compile_commands.json knows how to compile."""
    entries = json.loads(database.read_text(encoding="utf-8"))
    return {str((Path(e.get("directory", ".")) / e["file"]).resolve()) for e in entries}


def tidy_one(path: Path, build_dir: Path) -> tuple[Path, int, str]:
    # The compile commands are GCC's: clang-tidy must skip GCC-only warning flags (-Wno-restrict).
    done = subprocess.run(["clang-tidy", "-p", str(build_dir), "--quiet",
                           "--extra-arg=-Wno-unknown-warning-option", str(path)], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    return path, done.returncode, done.stdout + done.stderr


def finding_blocks(output: str) -> list[list[str]]:
    """clang-tidy's output cut into findings: a 'file:line:col: warning|error:' line and the lines
    (source, caret, notes) under it. Noise such as 'N warnings generated.' is dropped."""
    blocks: list[list[str]] = []
    for line in output.splitlines():
        if re.match(r"^\d+ (warning|error)s? (generated|treated as errors?)", line) or \
                line.startswith(("Suppressed ", "Use -header-filter", "Error while processing")):
            continue
        match = FINDING.match(line)
        if match:
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return blocks


def cmd_lint() -> int:
    problems = 0
    heading("clang-format --dry-run --Werror")
    # instructor/corpus holds hostile submissions as they were handed in (a digraph directive, say):
    # formatting them could change what they test.
    format_files = [f for f in sources(existing("labs", "solutions", "tools", "instructor"), (".cpp", ".hpp"))
                    if "corpus" not in f.relative_to(ROOT).parts[:2]]
    bad_format: dict[str, int] = {}
    for start in range(0, len(format_files), 100):
        chunk = format_files[start:start + 100]
        done = subprocess.run(["clang-format", "--dry-run", "--Werror", *map(str, chunk)], cwd=ROOT,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
        for line in done.stderr.splitlines():
            match = re.match(r"^(.*?):\d+:\d+: (?:error|warning): code should be clang-formatted", line)
            if match:
                name = Path(match.group(1)).resolve().relative_to(ROOT).as_posix()
                bad_format[name] = bad_format.get(name, 0) + 1
        if done.returncode != 0 and not bad_format:
            raise Failure(f"clang-format failed: {done.stderr.strip()}")
    for name, count in sorted(bad_format.items()):
        say(f"  {name}: {count} place(s) to reformat")
    if bad_format:
        problems += sum(bad_format.values())
        say(f"{len(bad_format)} of {len(format_files)} files need formatting: run "
            "clang-format -i FILE (and review the diff), or see each place with "
            "clang-format --dry-run FILE")
    else:
        say(f"{len(format_files)} files formatted as .clang-format says.")

    heading(f"clang-tidy ({TIDY_JOBS} files at a time)")
    preset = "student" if HANDOUT else "solution"
    build_dir = BUILD_DIRS[preset]
    tidy_folders = [ROOT / "labs" / "common" / "src", ROOT / "labs" / "common" / "testkit" / "src",
                    ROOT / "labs" / "common" / "wire" / "src"]
    tidy_folders += sorted(p for p in (ROOT / "labs").glob("*/app") if p.is_dir())
    if HANDOUT:
        # The student's code, and what the student build compiles (it does not build the grader).
        tidy_folders += existing("tools/script", "tools/refpeer", "tools/wire")
        tidy_folders += sorted(p for p in (ROOT / "labs").glob("*/src") if p.is_dir())
    else:
        tidy_folders += existing("solutions", "tools/script", "tools/refpeer", "tools/grade", "tools/sandbox",
                                 "tools/wire")
    tidy_files = sources([f for f in tidy_folders if f.is_dir()], (".cpp",))
    database = build_dir / "compile_commands.json"
    if not database.is_file():
        say(f"{build_dir.name}/compile_commands.json is missing: configuring preset {preset} first.")
        configure(preset, quiet=True)
    elif not set(map(str, tidy_files)) <= compiled_files(database):
        say(f"{build_dir.name}/compile_commands.json lacks some sources (a new lab?): configuring preset "
            f"{preset} again.")
        configure(preset, quiet=True)
    seen: set[str] = set()
    findings = 0
    broken: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=TIDY_JOBS) as pool:
        for path, returncode, output in pool.map(lambda p: tidy_one(p, build_dir), tidy_files):
            blocks = finding_blocks(output)
            for block in blocks:
                if block[0] in seen:  # a finding in a header shows once for every file including it
                    continue
                seen.add(block[0])
                findings += 1
                say("\n".join(block))
            if returncode != 0 and not blocks:
                broken.append(f"{path.relative_to(ROOT)}: clang-tidy exited {returncode}:\n{output.strip()}")
    for text in broken:
        say(text)
    if findings or broken:
        problems += findings + len(broken)
        say(f"clang-tidy: {findings} finding(s) in {len(tidy_files)} files"
            + (f", {len(broken)} file(s) it could not check" if broken else "")
            + ". Fix the code, or if a check is wrong here, silence that line with // NOLINT(check-name) "
              "and say why.")
    else:
        say(f"clang-tidy: {len(tidy_files)} files, no finding.")
    if problems:
        say(f"\nlint failed: {sum(bad_format.values())} place(s) to reformat in {len(bad_format)} file(s), "
            f"{findings} clang-tidy finding(s)" + (f", {len(broken)} file(s) clang-tidy could not check"
                                                    if broken else "") + ".")
        return 1
    say(f"\nlint: clean ({len(format_files)} files formatted, {len(tidy_files)} files through clang-tidy).")
    return 0
