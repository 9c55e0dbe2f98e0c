#!/usr/bin/env python3
"""The instructor's packaging, checked end to end as an instructor and a student meet it.

  instructor_test.py handout ROOT SCRATCH
      ./socklab handout into SCRATCH, unpacked from its .tar.gz into a fresh folder, which must
      hold nothing of solutions/ or instructor/hidden/ (and the leak check must catch a planted
      reference function body), whose links all resolve, whose GitHub Classroom workflow parses
      and names only options socklab-grade has, and which builds with the student preset and
      reports every lab unfinished with a docs section to read (./socklab test, exit 1). Every
      file of the machine that build used must come from a Debian package that the handout's
      ./socklab installs (or a dependency of one): what a fresh machine will have.

  instructor_test.py gradescope ROOT SCRATCH
      ./socklab gradescope into SCRATCH, unzipped as Gradescope does into a fake /autograder;
      setup.sh (packages skipped) builds the grader; run_autograder then grades the reference
      solutions (full marks), the skeletons (0, every failure with a docs section), and a
      corpus case handed in as loose files (sorted into its lab; lab 04 only).

Each failure says what was expected and what happened. Python 3 standard library, and PyYAML for
the workflow.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


class Failed(Exception):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    print(f"$ {' '.join(cmd)}   (in {cwd})", flush=True)
    done = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", timeout=timeout, env={**os.environ, **(env or {})})
    return done


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def load_instructor(root: Path):
    sys.path.insert(0, str(root / "instructor" / "tools"))
    import instructor  # noqa: E402  (the module under test, from the tree under test)
    return instructor


# --- The handout --------------------------------------------------------------------------

def check_handout(root: Path, scratch: Path) -> None:
    instructor = load_instructor(root)
    made = scratch / "made" / "handout"
    fresh = scratch / "fresh"
    for folder in (made.parent, fresh):
        shutil.rmtree(folder, ignore_errors=True)
    done = run(["bash", str(root / "socklab"), "handout", str(made)], cwd=root)
    expect(done.returncode == 0, f"./socklab handout exited {done.returncode}:\n{done.stdout}{done.stderr}")
    tarball = made.parent / "handout.tar.gz"
    expect(tarball.is_file(), f"no {tarball} beside the handout folder")

    # A student receives the .tar.gz: unpack it where nothing else is.
    fresh.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        expect(all(n == "handout" or n.startswith("handout/") for n in names),
               "the tarball does not unpack into one folder 'handout/'")
        # The "data" filter (no absolute paths, no links out) where this Python has it.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(fresh, filter="data")
        else:
            tar.extractall(fresh)
    handout = fresh / "handout"
    files = sorted(p.relative_to(handout).as_posix() for p in handout.rglob("*") if p.is_file())
    print(f"the handout: {len(files)} files")

    # Nothing of the instructor's.
    for rel in files:
        expect(not rel.startswith(("solutions/", "instructor/hidden/", "instructor/corpus/", "instructor/tests/",
                                   "instructor/docs/")),
               f"the handout holds {rel}, which must stay in the instructor's tree")
    problems = instructor.check_handout(handout, root)
    expect(problems == [], "the leak check found:\n  " + "\n  ".join(problems))
    # ... and the leak check is not blind: a reference function body planted in a given file is found.
    solution = root / "solutions" / "04-framing" / "line_framer.cpp"
    body = next(b for b in instructor.function_bodies(solution.read_text()) if instructor.significant(b))
    planted = handout / "labs" / "common" / "src" / "planted.cpp"
    planted.write_text("// looks innocent\nvoid helper()\n" + body + "\n")
    try:
        found = instructor.check_handout(handout, root)
        expect(any("planted.cpp: holds a function body of the reference solutions" in p for p in found),
               "a reference function body planted in labs/common/src/planted.cpp was not found; the check "
               f"said: {found}")
    finally:
        planted.unlink()
    for student_file in ("labs/manifest.txt", "README.md", "socklab", ".socklab-handout",
                         ".github/workflows/classroom.yml", "labs/04-framing/src/line_framer.cpp",
                         "labs/02-server/scripts/echo_one_client.script", "docs/labs/03-client.md"):
        expect(student_file in files, f"the handout lacks {student_file}")
    presets = json.loads((handout / "CMakePresets.json").read_text())
    names = {p["name"] for p in presets["configurePresets"]}
    expect(names == {"base", "student", "asan", "tsan", "fuzz"},
           f"the handout's configure presets are {sorted(names)}, expected base, student, asan, tsan, fuzz "
           "(the ones the lab pages show)")
    for preset in presets["configurePresets"]:
        expect(preset.get("cacheVariables", {}).get("SOCKLAB_IMPL") in (None, "student"),
               f"the handout's preset {preset['name']} builds {preset.get('cacheVariables', {}).get('SOCKLAB_IMPL')}")

    # Every link of its Markdown resolves (links into the instructor's pages became plain text).
    done = run([sys.executable, str(handout / "tools" / "checks" / "check_docs.py"), "links", str(handout)], cwd=handout)
    expect(done.returncode == 0, f"broken links in the handout:\n{done.stdout}{done.stderr}")

    check_classroom_workflow(handout / ".github" / "workflows" / "classroom.yml", root)

    # What a student does first: ./socklab test builds the student preset and reports every lab
    # unfinished, each with its docs section.
    done = run(["python3", "tools/socklab.py", "test"], cwd=handout, timeout=1500)
    out = done.stdout + done.stderr
    print(tail(out, 30))
    expect(done.returncode == 1, f"./socklab test in the handout exited {done.returncode}, expected 1 "
                                 f"(every lab unfinished):\n{tail(out)}")
    expect("labs finished: 0 of 5" in out, "./socklab test did not say 'labs finished: 0 of 5'")
    for lab, page in (("01", "01-endpoints"), ("02", "02-server"), ("03", "03-client"), ("04", "04-framing"),
                      ("05", "05-stop-server")):
        expect(re.search(rf"^lab {lab} \({page}\): 0/[1-9][0-9]* tests pass$", out, re.M) is not None,
               f"./socklab test did not report lab {lab} as 0/N tests passing")
        expect(re.search(rf"^    read: docs/labs/{page}\.md#[a-z0-9-]+$", out, re.M) is not None,
               f"./socklab test gave lab {lab} no docs section to read")
    expect(not (handout / "build" / "bin" / "socklab-grade").exists(),
           "the student build compiled the grader, which it never uses")
    listed = run(["bash", "./socklab", "deps", "--list"], cwd=handout).stdout.split()
    check_packages(listed, handout / "build", "the handout's ./socklab")
    print("handout: ok")


def files_the_build_used(build: Path) -> set[str]:
    """The machine's files a configured and built tree used: the absolute paths CMake found (its
    cache), every header the compiler read (Ninja's dependency log) and every absolute path in a
    build command (libraries linked by path, the compiler)."""
    used: set[str] = set()
    for line in (build / "CMakeCache.txt").read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if ":" in key and not line.startswith(("#", "//")):
            used.update(v for v in value.split(";") if v.startswith("/usr/"))
    for args in (["-t", "deps"], ["-t", "commands"]):
        done = subprocess.run(["ninja", "-C", str(build), *args], capture_output=True, text=True, check=True)
        used.update(re.findall(r"(?<![\w.-])(/usr/[^\s:;'\"]+)", done.stdout))
    return {path for path in used if os.path.exists(path) and not os.path.isdir(path)}


def check_packages(listed: list[str], build: Path, who: str) -> None:
    """A fresh machine gets only the packages that `who` installs (`listed`): every file of the
    machine that the build in `build` used must belong to one of them or to one of their
    (installed) dependencies. Catches a library the build needs that is on this machine by chance."""
    expect(bool(listed), f"{who} lists no package")
    closure = run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends", "--no-suggests",
                   "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *listed], cwd=build)
    installable = {line.strip() for line in closure.stdout.splitlines() if line and not line[0].isspace()}
    installable.update(listed)
    # Essential packages (coreutils, bash, ...) are on every Debian system, without being asked for.
    essential = run(["dpkg-query", "-W", "-f", "${Package} ${Essential}\\n"], cwd=build).stdout.splitlines()
    installable.update(line.split()[0] for line in essential if line.endswith(" yes"))
    used = sorted(files_the_build_used(build))
    expect(len(used) > 50, f"found only {len(used)} files of the machine in {build}")
    owners: dict[str, str] = {}
    # dpkg knows a file by the path its package installed it as (/usr/bin/uname is coreutils'
    # /bin/uname on a merged /usr), so ask for the paths as found, then for the others with
    # symbolic links resolved, then without their /usr.
    unowned = used
    for pass_paths in (lambda paths: paths, lambda paths: [os.path.realpath(p) for p in paths],
                       lambda paths: [p.removeprefix("/usr") for p in paths]):
        asked = dict(zip(pass_paths(unowned), unowned))
        if not asked:
            break
        done = subprocess.run(["dpkg-query", "-S", *asked], capture_output=True, text=True)
        found = set()
        for line in done.stdout.splitlines():
            packages, _, path = line.partition(": ")
            if path in asked and not packages.startswith("diversion by"):
                found.add(asked[path])
                for package in packages.split(", "):
                    owners.setdefault(package.split(":")[0], asked[path])
        unowned = [path for path in unowned if path not in found]
    expect(not unowned, f"{build} uses files that no Debian package installed (built by hand, or under "
                        "/usr/local?), which a fresh machine will not have:\n  " + "\n  ".join(unowned))
    missing = {package: path for package, path in owners.items() if package not in installable}
    expect(not missing, f"{build} uses files of Debian packages that {who} does not install (add them to "
                        "its list):\n" +
                        "\n".join(f"  {package} ({path})" for package, path in sorted(missing.items())))
    print(f"packages: {build} used {len(used)} files of {len(owners)} Debian packages, all installed by "
          f"{who}'s list of {len(listed)} or their dependencies")


def check_classroom_workflow(path: Path, root: Path) -> None:
    import yaml  # python3-yaml (./socklab deps installs it)
    workflow = yaml.safe_load(path.read_text())
    expect(isinstance(workflow, dict), f"{path} is not a YAML mapping")
    # YAML 1.1 reads a bare `on` as true: the file quotes it, so the key must be the string.
    triggers = workflow.get("on")
    expect(isinstance(triggers, dict) and "push" in triggers,
           f"the workflow does not run on push (its 'on' is {triggers!r})")
    expect(workflow.get("permissions", {}).get("checks") == "write",
           "the workflow lacks 'permissions: checks: write', which the reporter needs")
    jobs = workflow.get("jobs", {})
    expect(len(jobs) == 1, f"expected one job, found {list(jobs)}")
    job = next(iter(jobs.values()))
    steps = job.get("steps", [])
    uses = [s.get("uses", "") for s in steps]
    expect(any(u.startswith("actions/checkout@") for u in uses), "no actions/checkout step")
    reporter = next((s for s in steps if s.get("uses", "").startswith(
        "classroom-resources/autograding-grading-reporter@")), None)
    expect(reporter is not None, "no classroom-resources/autograding-grading-reporter step")
    runners = [r.strip() for r in reporter.get("with", {}).get("runners", "").split(",") if r.strip()]
    expect(runners, "the reporter names no runner")
    for runner in runners:
        grade = next((s for s in steps if s.get("id") == runner), None)
        expect(grade is not None, f"the reporter reads runner '{runner}', but no step has that id")
        env_name = f"{runner.upper()}_RESULTS"
        expect(f"steps.{runner}.outputs.result" in str(reporter.get("env", {}).get(env_name, "")),
               f"the reporter's env lacks {env_name}: ${{{{ steps.{runner}.outputs.result }}}}")
        script = grade.get("run", "")
        expect("socklab grade" in script and '"$GITHUB_OUTPUT"' in script and "base64" in script,
               f"step '{runner}' does not grade with ./socklab grade and hand the result to the reporter:\n{script}")
        # Every option the step gives the grader exists.
        help_text = run([str(root / "build-solution" / "bin" / "socklab-grade"), "--help"], cwd=root).stdout \
            if (root / "build-solution" / "bin" / "socklab-grade").exists() else None
        for line in script.splitlines():
            if "socklab grade" not in line:
                continue
            for option in re.findall(r"(--[a-z-]+)", line):
                if help_text is not None:
                    expect(option in help_text, f"the workflow passes {option}, which socklab-grade --help "
                                                f"does not list")
            expect("classroom" in line, "the grading line does not ask for the classroom format")
    print(f"classroom workflow: {len(steps)} steps, runners {runners}: ok")


# --- Gradescope -------------------------------------------------------------------------

def check_gradescope(root: Path, scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    bundle = scratch / "autograder.zip"
    done = run(["bash", str(root / "socklab"), "gradescope", str(bundle)], cwd=root)
    expect(done.returncode == 0, f"./socklab gradescope exited {done.returncode}:\n{done.stdout}{done.stderr}")
    fake = scratch / "autograder"
    source = fake / "source"
    source.mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        expect("setup.sh" in names and "run_autograder" in names,
               f"setup.sh and run_autograder must be at the top of the zip; it has {names[:5]}...")
        for info in z.infolist():
            z.extract(info, source)
            mode = info.external_attr >> 16
            if mode:
                os.chmod(source / info.filename, mode & 0o777)
    expect(os.access(source / "run_autograder", os.X_OK), "run_autograder is not executable in the zip")
    # Gradescope copies run_autograder to /autograder/ and runs setup.sh from source/.
    shutil.copy(source / "run_autograder", fake / "run_autograder")
    # Packages are there already; the solutions are graded below, through run_autograder.
    env = {"AUTOGRADER_ROOT": str(fake), "SOCKLAB_SKIP_PACKAGES": "1", "SOCKLAB_SETUP_SELF_CHECK": "0"}
    done = run(["bash", str(source / "setup.sh")], cwd=source, env=env, timeout=1500)
    expect(done.returncode == 0, f"setup.sh exited {done.returncode}:\n{tail(done.stdout + done.stderr, 60)}")
    # Gradescope's image starts with nothing: what the grade build used must come from setup.sh's
    # packages (on Debian 12, where this test runs, no fallback is needed).
    listed = run(["bash", str(source / "setup.sh"), "--list-packages"], cwd=source, env=env).stdout.split()
    check_packages(listed, source / "socklab" / "build-grade" / "build", "setup.sh")

    def grade(name: str, fill, args: list[str] | None = None) -> dict:
        submission = fake / "submission"
        results = fake / "results"
        shutil.rmtree(submission, ignore_errors=True)
        shutil.rmtree(results, ignore_errors=True)
        submission.mkdir()
        fill(submission)
        done = run([str(fake / "run_autograder"), *(args or [])], cwd=fake, env=env, timeout=1500)
        expect(done.returncode == 0, f"run_autograder ({name}) exited {done.returncode}:\n"
                                     f"{tail(done.stdout + done.stderr)}")
        path = results / "results.json"
        expect(path.is_file(), f"run_autograder ({name}) wrote no results/results.json")
        result = json.loads(path.read_text())
        total = sum(t["max_score"] for t in result["tests"])
        print(f"{name}: score {result['score']:.2f} of {total:.2f}, {len(result['tests'])} tests")
        return result

    # The reference solutions, handed in as students hand in: a zip of their clone of the handout,
    # one folder down, with the lab pages' docs/labs/ beside labs/ (which must not be taken for the
    # lab folders), and the reference files in place of the skeleton's: full marks.
    def solved_clone(s: Path) -> None:
        clone = s / "socklab-handout-main"
        shutil.copytree(root / "labs", clone / "labs")
        shutil.copytree(root / "docs", clone / "docs", ignore=shutil.ignore_patterns("instructors"))
        shutil.copy(root / "README.md", clone / "README.md")
        for lab in (root / "solutions").iterdir():
            for f in lab.iterdir():
                targets = list((clone / "labs" / lab.name).rglob(f.name))
                expect(len(targets) == 1, f"{lab.name}/{f.name}: {len(targets)} files of that name in labs/")
                shutil.copy(f, targets[0])
    result = grade("reference solutions (a clone of the handout, zipped)", solved_clone)
    top = result["extra_data"]["max_score"]
    expect(abs(result["score"] - top) < 1e-6,
           f"the reference solutions scored {result['score']} of {top}; failures: " +
           "; ".join(f"{t['name']}: {t['output'][:200]}" for t in result["tests"] if t["score"] < t["max_score"])[:3000])

    # The skeletons, handed in as a clone of the handout: 0, each failure with a docs section.
    def skeleton(s: Path) -> None:
        shutil.copytree(root / "labs", s / "labs")
    result = grade("skeletons", skeleton)
    expect(result["score"] == 0, f"the skeletons scored {result['score']}, expected 0")
    visible_failures = [t for t in result["tests"] if t.get("visibility") == "visible" and t["score"] == 0
                        and t["max_score"] > 0]
    expect(visible_failures, "no visible failed test in the skeletons' results")
    without = [t["name"] for t in visible_failures if "read: docs/" not in t["output"]]
    expect(not without, f"{len(without)} of {len(visible_failures)} failed tests give no docs section, "
                        f"such as {without[:3]}")

    # A corpus case handed in as loose files, as a student drags them into Gradescope: the lab's
    # three files (the reference ones, then the case's line_protocol.cpp over its namesake).
    # run_autograder sorts them into their lab by the manifest. Lab 04 only, to keep the test short.
    case = root / "instructor" / "corpus" / "04-one-read-one-message"
    def loose(s: Path) -> None:
        for f in (root / "solutions" / "04-framing").glob("*.cpp"):
            shutil.copy(f, s / f.name)
        for f in case.rglob("*.cpp"):
            shutil.copy(f, s / f.name)
    # --labs 04 is set the way course-setup.md tells an instructor to: in run_autograder's
    # COURSE_OPTIONS line, since Gradescope passes the script no arguments.
    script = fake / "run_autograder"
    text = script.read_text()
    expect(text.count("\nCOURSE_OPTIONS=()\n") == 1, "run_autograder has no line COURSE_OPTIONS=() to edit")
    script.write_text(text.replace("\nCOURSE_OPTIONS=()\n", "\nCOURSE_OPTIONS=(--labs 04)\n"))
    result = grade("corpus 04-one-read-one-message (loose files)", loose)
    labs = sorted({t["name"].split(":")[0] for t in result["tests"]})
    expect(labs == ["lab 04"], f"COURSE_OPTIONS=(--labs 04) graded {labs}, expected lab 04 alone")
    expect(0 < result["score"] < result["extra_data"]["max_score"],
           f"the case scored {result['score']}, expected partial credit (it passes unfragmented checks only)")
    missing = [t["name"] for t in result["tests"] if "not implemented yet" in t["output"]]
    expect(not missing, f"a file of the upload was not found (the skeleton's ran): {missing[:3]}")
    print("gradescope: ok")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("handout", "gradescope"):
        print(__doc__, file=sys.stderr)
        return 64
    root, scratch = Path(argv[1]).resolve(), Path(argv[2]).resolve()
    try:
        (check_handout if argv[0] == "handout" else check_gradescope)(root, scratch)
    except Failed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


# The usual end of a script of the project (instructor.py ends so too).

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
