#!/usr/bin/env python3
"""The instructor's packaging commands of ./socklab (python3, standard library only).

  handout OUT        the student handout: the folder OUT and OUT.tar.gz
  gradescope OUT.zip a Gradescope autograder bundle (setup.sh, run_autograder, the instructor's tree)

instructor/docs/course-setup.md walks through both. The handout holds what a student needs and
nothing they must not have; check_handout() proves the second half.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Paths (a folder ends with "/") that stay in the instructor's tree.
NOT_IN_HANDOUT = [
    "solutions/",   # the reference solutions
    "instructor/",  # everything else only the instructor has (docs/architecture.md lists it)
    ".ci/",         # the project's CI (a handout gets its own workflow from instructor/handout/)
]
# Files of the handout that are made from a template rather than copied.
TEMPLATES = {
    "README.md": "instructor/handout/README.md",
    ".github/workflows/classroom.yml": "instructor/handout/classroom.yml",
}
MARKER = ".socklab-handout"  # its presence tells ./socklab it runs in a handout
# The presets a student can use. The lab pages show the sanitizer and fuzz presets on the
# student's code (cmake --preset asan -DSOCKLAB_IMPL=student ...): in the handout they build the
# student's code by default. The rest (solution, bench) need solutions/.
STUDENT_PRESETS = {"base", "student", "asan", "tsan", "fuzz"}
NOT_IN_GRADESCOPE = ["instructor/corpus/", "instructor/tests/", "instructor/mutants/", "instructor/bench/",
                     "instructor/handout/", ".ci/"]


class Failure(Exception):
    """A packaging step that could not be done: the message says why and what to do."""


def excluded(path: str, rules: list[str]) -> bool:
    return any(path.startswith(rule) if rule.endswith("/") else path == rule for rule in rules)


def tree_files(root: Path) -> list[str]:
    """The project's files: what git tracks (a build folder, an editor's backup or a local note
    never reaches a student), or, outside a git checkout, every file but build output."""
    if (root / ".git").exists():
        done = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, text=True)
        if done.returncode != 0:
            raise Failure(f"git ls-files failed in {root}: {done.stderr.strip()}")
        return sorted(p for p in done.stdout.split("\0") if p and (root / p).is_file())
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        top = rel.split("/", 1)[0]
        if path.is_file() and not top.startswith("build") and "__pycache__" not in rel and top != ".git":
            found.append(rel)
    return sorted(found)


# --- Markdown: a link to a page that stays behind becomes plain text -------------------------

LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")


def unlink_excluded(text: str, page: str, rules: list[str]) -> str:
    """Replaces [words](target) by words where target is a file the handout leaves out. Fenced code
    is left alone (a link there is not a link)."""
    out = []
    fenced = False
    folder = Path(page).parent
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced:
            out.append(line)
            continue

        def replace(match: re.Match) -> str:
            target = match.group(2).split("#", 1)[0]
            if not target or re.match(r"^[a-z]+:", target):
                return match.group(0)
            resolved = os.path.normpath((folder / target).as_posix())
            return match.group(1) if excluded(resolved + ("/" if target.endswith("/") else ""), rules) or \
                excluded(resolved, rules) else match.group(0)

        out.append(LINK.sub(replace, line))
    return "".join(out)


def student_presets(text: str) -> str:
    """CMakePresets.json with only the presets that build the student's code (student, and the
    hidden base it inherits from), of every kind."""
    presets = json.loads(text)
    for kind in ("configurePresets", "buildPresets", "testPresets", "packagePresets", "workflowPresets"):
        if kind in presets:
            presets[kind] = [p for p in presets[kind] if p["name"] in STUDENT_PRESETS]
    for preset in presets.get("configurePresets", []):
        if preset.get("cacheVariables", {}).get("SOCKLAB_IMPL") == "solution":
            preset["cacheVariables"]["SOCKLAB_IMPL"] = "student"
            preset["displayName"] = preset.get("displayName", "").replace("Solution", "Your code").replace(
                "the solution code", "your code")
    return json.dumps(presets, indent=2) + "\n"


def uncommitted(root: Path) -> list[str]:
    """Files git does not track (and does not ignore): a packaging command leaves them out, which
    surprises whoever just wrote a new script. Tracked files are taken as they are on disk."""
    if not (root / ".git").exists():
        return []
    done = subprocess.run(["git", "-C", str(root), "ls-files", "--others", "--exclude-standard"],
                          capture_output=True, text=True)
    return [f for f in done.stdout.splitlines() if f.startswith(("labs/", "docs/", "tools/", "instructor/"))]


def warn_uncommitted(root: Path, rules: list[str]) -> None:
    left = [f for f in uncommitted(root) if not excluded(f, rules)]
    if left:
        print(f"warning: {len(left)} file(s) git does not know are left out (git add them and run again "
              "to include them):\n  " + "\n  ".join(left[:20]) + ("\n  ..." if len(left) > 20 else ""),
              file=sys.stderr)


def commit_of(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                          text=True)
    return done.stdout.strip() if done.returncode == 0 else "not a git checkout"


# A passage of a page that only the instructor's tree can follow (a command that needs instructor/bench/, say):
# the handout's copy of the page leaves it out, markers included.
INSTRUCTOR_ONLY = re.compile(r"^<!-- instructor-only -->\n.*?^<!-- /instructor-only -->\n", flags=re.S | re.M)


def strip_instructor_only(text: str) -> str:
    return INSTRUCTOR_ONLY.sub("", text)


def make_handout(out: Path, root: Path = ROOT) -> tuple[Path, Path]:
    """Writes the handout into the folder `out` (which must not exist or be empty) and
    `out`.tar.gz beside it. Returns both paths."""
    out = out.resolve()
    inside = out == root or root in out.parents
    if inside and not out.relative_to(root).parts[0].startswith("build"):
        raise Failure(f"{out} is inside the instructor's tree {root}: choose a folder outside it "
                      "(./socklab handout ../handout), or under a build*/ folder")
    if out.exists() and any(out.iterdir()):
        raise Failure(f"{out} exists and is not empty: remove it or choose another folder")
    files = [f for f in tree_files(root) if not excluded(f, NOT_IN_HANDOUT) and f not in TEMPLATES]
    warn_uncommitted(root, NOT_IN_HANDOUT)
    out.mkdir(parents=True, exist_ok=True)
    for rel in files:
        source = root / rel
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".md"):
            text = strip_instructor_only(source.read_text(encoding="utf-8"))
            target.write_text(unlink_excluded(text, rel, NOT_IN_HANDOUT), encoding="utf-8")
        elif rel == "CMakePresets.json":
            target.write_text(student_presets(source.read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copyfile(source, target)
        shutil.copymode(source, target)
    for rel, template in TEMPLATES.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / template, target)
    (out / MARKER).write_text(
        "This folder is a socklab student handout: ./socklab reads this file to know it.\n"
        f"made: {datetime.date.today().isoformat()} from {commit_of(root)}\n", encoding="utf-8")
    problems = check_handout(out, root)
    if problems:
        shutil.rmtree(out)  # a folder that leaks must not be handed out by mistake
        raise Failure("the handout would leak or is incomplete (nothing was written):\n  " + "\n  ".join(problems))
    tarball = out.parent / (out.name + ".tar.gz")
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(out, arcname=out.name, filter=_tar_entry)
    return out, tarball


def _tar_entry(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# --- Proof that nothing leaked ------------------------------------------------------------

def function_bodies(source: str) -> list[str]:
    """The bodies of the functions defined in a C++ file, without comments and with whitespace
    squeezed: each a string from its '{' to the matching '}'. A body is a function's when the
    text before its '{' ends with ')' (and maybe const, noexcept, an initializer list...)."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", " ", source, flags=re.S)
    bodies = []
    i = 0
    while True:
        start = text.find("{", i)
        if start < 0:
            return bodies
        head = text[max(0, start - 300):start].rstrip()
        depth = 0
        end = start
        for end in range(start, len(text)):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    break
        is_function = re.search(r"\)\s*(const|noexcept|override|final|\s|->\s*[\w:<>&*, ]+)*$", head) or \
            re.search(r"\)\s*:\s*[\w:]+[({][^;{}]*[)}]\s*$", head)
        if is_function and not re.search(r"\b(if|for|while|switch|catch)\s*\([^()]*\)\s*$", head):
            bodies.append(" ".join(text[start:end + 1].split()))
            i = end + 1
        else:
            i = start + 1


def significant(body: str) -> bool:
    """A body long enough that finding it elsewhere cannot be chance: at least three statements and
    120 characters (a one-line getter is the same in every implementation)."""
    return body.count(";") >= 3 and len(body) >= 120


def check_handout(handout: Path, root: Path = ROOT) -> list[str]:
    """Everything wrong with a handout: files it must not hold, a reference solution's function
    body anywhere in it, a student file or template missing."""
    problems = []
    files = [p for p in handout.rglob("*") if p.is_file()]
    rels = [p.relative_to(handout).as_posix() for p in files]
    for rel in rels:
        if excluded(rel, NOT_IN_HANDOUT) and rel not in TEMPLATES:
            problems.append(f"{rel}: must not be in a handout")
    reference = set()
    if (root / "solutions").is_dir():
        for path in (root / "solutions").rglob("*"):
            if path.is_file():
                reference.update(b for b in function_bodies(path.read_text(encoding="utf-8", errors="replace"))
                                 if significant(b))
                # No file of solutions/ under any name, byte for byte.
                data = path.read_bytes()
                for other, rel in zip(files, rels):
                    if other.stat().st_size == len(data) and other.read_bytes() == data:
                        problems.append(f"{rel}: a copy of solutions/{path.relative_to(root / 'solutions')}")
    rubric = handout / "tools" / "grade" / "rubric.toml"
    if (root / "instructor" / "hidden").is_dir():
        for path in (root / "instructor" / "hidden").rglob("*.script"):
            # A weight for a hidden check in [lab.scripts.weights] would show its name to students.
            if rubric.is_file() and re.search(rf"""["']{re.escape(path.stem)}/""", rubric.read_text()):
                problems.append(f"tools/grade/rubric.toml: names the hidden script {path.stem} (a weight in "
                                "[lab.scripts.weights]?): give the weight in the script instead "
                                "(check \"...\" points N)")
            data = path.read_bytes()
            for other, rel in zip(files, rels):
                if other.stat().st_size == len(data) and other.read_bytes() == data:
                    problems.append(f"{rel}: a copy of instructor/hidden/{path.name}")
    if not reference and (root / "solutions").is_dir():
        problems.append("no function body found in solutions/: the leak check would check nothing")
    for other, rel in zip(files, rels):
        try:
            text = " ".join(re.sub(r"//[^\n]*|/\*.*?\*/", " ", other.read_text(encoding="utf-8"), flags=re.S).split())
        except UnicodeDecodeError:
            continue
        for body in reference:
            if body in text:
                problems.append(f"{rel}: holds a function body of the reference solutions: {body[:80]}...")
                break
    for required in ["README.md", "socklab", "labs/manifest.txt", MARKER, "CMakePresets.json",
                     ".github/workflows/classroom.yml"]:
        if required not in rels:
            problems.append(f"{required}: missing from the handout")
    problems += missing_in_docs(handout, files, rels)
    return problems


# A path in a command of the docs that a handout leaves out: the folder, or what building in it
# makes (build-bench/ is the bench preset's).
LEFT_OUT_IN_COMMANDS = re.compile(r"(?<![\w./-])(" + "|".join(
    re.escape(rule) for rule in [*(r for r in NOT_IN_HANDOUT if r.endswith("/")), "build-bench"]) + ")")


def missing_in_docs(handout: Path, files: list[Path], rels: list[str]) -> list[str]:
    """The docs of a handout must not send students to what it lacks: every `--preset NAME` in a
    Markdown file must be a preset of the handout's CMakePresets.json, and no shell command in a
    fenced block may use a folder the handout leaves out (instructor/bench/, solutions/, ...)."""
    problems = []
    presets_file = handout / "CMakePresets.json"
    presets = set()
    if presets_file.is_file():
        data = json.loads(presets_file.read_text(encoding="utf-8"))
        presets = {p["name"] for kind in ("configurePresets", "buildPresets", "testPresets")
                   for p in data.get(kind, [])}
    for path, rel in zip(files, rels):
        if path.suffix != ".md":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for name in re.findall(r"--preset[ =]([A-Za-z0-9_-]+)", line):
                if name not in presets:
                    problems.append(f"{rel}:{number}: names the preset {name!r}, which the handout's "
                                    f"CMakePresets.json does not have")
        for block in re.finditer(r"^```(?:sh|bash|console|shell)\n(.*?)^```", text, flags=re.S | re.M):
            first = text.count("\n", 0, block.start()) + 2
            for offset, line in enumerate(block.group(1).splitlines()):
                hit = LEFT_OUT_IN_COMMANDS.search(line.split("#", 1)[0])
                if hit:
                    problems.append(f"{rel}:{first + offset}: a command uses {hit.group(1)}, which the "
                                    "handout does not have")
    return problems


# --- Gradescope -------------------------------------------------------------------------------

def make_gradescope(zip_path: Path, root: Path = ROOT) -> Path:
    """A Gradescope autograder bundle: setup.sh and run_autograder at the top of the zip (where
    Gradescope looks for them) and the instructor's tree under socklab/."""
    zip_path = zip_path.resolve()
    if zip_path.suffix != ".zip":
        raise Failure(f"{zip_path.name}: the bundle's name must end in .zip (Gradescope takes a zip)")
    files = [f for f in tree_files(root) if not excluded(f, NOT_IN_GRADESCOPE)]
    warn_uncommitted(root, NOT_IN_GRADESCOPE)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in ("setup.sh", "run_autograder"):
            _add(bundle, root / "instructor" / "gradescope" / name, name)
        for rel in files:
            _add(bundle, root / rel, "socklab/" + rel)
        info = zipfile.ZipInfo("socklab/.socklab-bundle")
        info.external_attr = 0o644 << 16
        bundle.writestr(info, f"made: {datetime.date.today().isoformat()} from {commit_of(root)}\n")
    return zip_path


def _add(bundle: zipfile.ZipFile, source: Path, name: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    mode = source.stat().st_mode
    info.external_attr = (0o755 if mode & stat.S_IXUSR else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, source.read_bytes())


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="instructor.py", description="The instructor's packaging commands "
                                     "(./socklab handout, ./socklab gradescope).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("handout", help="the student handout: the folder OUT and OUT.tar.gz").add_argument(
        "out", type=Path, metavar="OUT")
    commands.add_parser("gradescope", help="a Gradescope autograder bundle").add_argument(
        "out", type=Path, metavar="OUT.zip")
    commands.add_parser("check-handout", help="the leak check of a handout folder alone").add_argument(
        "out", type=Path, metavar="FOLDER")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = arguments(argv)
    try:
        if args.command == "handout":
            folder, tarball = make_handout(args.out)
            count = sum(1 for p in folder.rglob("*") if p.is_file())
            print(f"handout: {count} files in {folder}\n         {tarball} ({tarball.stat().st_size // 1024} KiB)\n"
                  f"no file of solutions/ or instructor/hidden/ and no function body of the reference solutions "
                  f"is in it.\nnext: give students the folder (as a repository) or the .tar.gz; see "
                  f"instructor/docs/course-setup.md")
        elif args.command == "gradescope":
            bundle = make_gradescope(args.out)
            print(f"gradescope: {bundle} ({bundle.stat().st_size // 1024} KiB); upload it as the autograder "
                  "(instructor/docs/course-setup.md#gradescope)")
        else:
            problems = check_handout(args.out)
            for problem in problems:
                print(problem)
            print(f"check-handout: {len(problems)} problem(s)")
            return 1 if problems else 0
    except Failure as failure:
        print(f"socklab {args.command}: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
