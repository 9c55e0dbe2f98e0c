#!/usr/bin/env python3
"""./socklab distro-check SUITE...: the README's commands on fresh Debian roots, as a new user would.

For each SUITE (bookworm = Debian 12, trixie = Debian 13) it makes a fresh root with
`debootstrap --variant=minbase` from the mirror apt on this machine uses, clones this tree's HEAD
commit into it, and runs there, inside a chroot (with /proc, /dev and /sys mounted, and unmounted
again whatever happens):

  as a user    ./socklab deps      must exit 1 and print the `sudo apt-get install` line
  as root      ./socklab grade     the main job: must exit 0 with every point (500/500)
  as root      ./socklab test      unless --quick: every test passes on the solutions, fails on the skeletons
  as root      ./socklab handout   the student handout
  as a user    handout's ./socklab test   builds; exits 1 by design on the skeletons, "labs finished: 0 of 5",
                                      and the tests that need a network namespace skip (a chroot has none)

With --beside-host, this machine's own `./socklab grade` runs again and again while each root's
`./socklab grade` runs: two graders at once, one in a chroot with a /run of its own, must both give
the reference solutions every point (each grader leases a user id the other cannot take).

then, with two or more suites, each suite's handout is also built and tested in every other
suite's root (a handout made on Debian 12 works on Debian 13, and the reverse). It prints one
table: distribution, command, exit code, minutes; it exits 0 only if every row is as expected.

The debootstrap result is kept as a tarball in ~/.cache/socklab/ (SOCKLAB_CACHE moves it), so a
rerun starts in seconds; --fresh makes it anew. Needs root, debootstrap and git; the roots live in
a temporary folder (--keep leaves them there, to look around in).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITES = {"bookworm": "Debian 12", "trixie": "Debian 13"}
USER = "student"  # the non-root user inside each root
TREE = "/root/socklab"  # where the clone lives inside each root
HANDOUT = "/home/student/handout"  # where a handout is unpacked inside each root


class Failure(Exception):
    """The check could not run (not a row that failed): the message says why."""


@dataclass
class Row:
    distribution: str
    command: str
    exit_code: int
    minutes: float
    ok: bool
    why: str = ""


def log(text: str) -> None:
    print(f"distro-check: {text}", flush=True)


def mirror_of_this_machine() -> str:
    """The Debian mirror apt on this machine uses (sources.list or the deb822 .sources files)."""
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        # deb822: a stanza with "URIs:" whose suites are Debian's (not -security, not a third party).
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and any(s in SUITES or s in ("stable", "testing", "unstable", "sid")
                                       for s in suites.group(1).split()):
                return uris.group(1)
        for line in text.splitlines():
            match = re.match(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
            if match and match.group(2) in list(SUITES) + ["stable", "testing", "unstable", "sid"]:
                return match.group(1)
    raise Failure("found no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/: "
                  "this check makes Debian roots from the mirror apt uses")


def cache_dir() -> Path:
    return Path(os.environ.get("SOCKLAB_CACHE", Path.home() / ".cache" / "socklab"))


def fresh_root(suite: str, mirror: str, where: Path, fresh: bool) -> Path:
    """A minbase root of suite in where/suite, from the cached tarball or from debootstrap."""
    root = where / suite
    tarball = cache_dir() / f"debootstrap-{suite}-minbase.tar"
    if tarball.is_file() and not fresh:
        log(f"{suite}: unpacking the cached root {tarball}")
        root.mkdir(parents=True)
        subprocess.run(["tar", "-xpf", str(tarball), "-C", str(root)], check=True)
        return root
    log(f"{suite}: debootstrap --variant=minbase {suite} from {mirror}")
    done = subprocess.run(["debootstrap", "--variant=minbase", suite, str(root), mirror],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise Failure(f"debootstrap {suite} failed (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial")
    subprocess.run(["tar", "-cpf", str(partial), "-C", str(root), "."], check=True)
    partial.replace(tarball)
    return root


@contextlib.contextmanager
def mounted(root: Path):
    """root bound onto itself (a mount point, as bubblewrap needs), /proc, /dev (with /dev/pts and
    /dev/shm) and /sys inside it, and this machine's resolv.conf so apt reaches the mirror; every
    mount undone on the way out, whatever happened."""
    done: list[Path] = []
    try:
        # The root made a mount point of its own: bubblewrap (the grader's sandbox) needs / to be one
        # ("Failed to make / slave: Invalid argument" in a plain chroot).
        subprocess.run(["mount", "--bind", str(root), str(root)], check=True)
        done.append(root)
        for source, target, args in (("proc", "proc", ["-t", "proc"]), ("/dev", "dev", ["--rbind"]),
                                     ("sys", "sys", ["-t", "sysfs"])):
            path = root / target
            path.mkdir(exist_ok=True)
            subprocess.run(["mount", *args, source, str(path)], check=True)
            done.append(path)
            if target == "dev":
                # A slave: unmounting the root's /dev/pts must never propagate to this machine's.
                subprocess.run(["mount", "--make-rslave", str(path)], check=True)
        # The root's /run is its own: a grader inside leases its user id (61000-61999) with an
        # abstract socket as well as a lock file there, and abstract sockets are shared with this
        # machine's graders (one network namespace), so the two never take the same id.
        shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
        yield
    finally:
        for path in reversed(done):
            # --rbind mounts are undone recursively; lazily, so a process still ending cannot block it.
            subprocess.run(["umount", "-R", "-l", str(path)], check=False)


def in_root(root: Path, script: str, user: str = "root", log_file: Path | None = None,
            timeout: float = 3600) -> tuple[int, str]:
    """Runs a bash script inside root as user (root or USER), with a clean login-like environment;
    returns its exit code and output (also written to log_file)."""
    home = "/root" if user == "root" else f"/home/{user}"
    env = ["env", "-i", f"HOME={home}", f"USER={user}", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG=C.UTF-8", "TERM=dumb", f"CI={os.environ.get('CI', '')}"]
    command = ["chroot", str(root)]
    if user != "root":
        command += ["runuser", "-u", user, "--"]
    command += [*env, "bash", "-c", script]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout)
        code, out = done.returncode, done.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        code, out = 124, out + f"\n(distro-check: timed out after {timeout:.0f} s)\n"
    if log_file is not None:
        log_file.write_text(out)
    return code, out


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])


class Check:
    def __init__(self, logs: Path, verbose: bool):
        self.rows: list[Row] = []
        self.logs = logs
        self.verbose = verbose

    def step(self, distro: str, root: Path, label: str, script: str, user: str, expect) -> tuple[int, str]:
        """Runs one row of the table; expect(code, output) returns "" when it is right, else why not."""
        log(f"{distro}: {label} ...")
        start = time.monotonic()
        safe = re.sub(r"[^a-z0-9]+", "-", f"{distro} {label}".lower()).strip("-")
        code, out = in_root(root, script, user, self.logs / f"{safe}.log")
        minutes = (time.monotonic() - start) / 60
        why = expect(code, out)
        self.rows.append(Row(distro, label, code, minutes, not why, why))
        log(f"{distro}: {label}: exit {code} in {minutes:.1f} min{'' if not why else ' -- NOT AS EXPECTED: ' + why}")
        if why or self.verbose:
            print(tail(out), flush=True)
            print(f"(whole output: {self.logs / (safe + '.log')})", flush=True)
        return code, out

    def beside_host(self, distro: str, step) -> None:
        """Runs step() (a row in a root) while this machine's ./socklab grade runs, over and over,
        beside it; adds a row for the host's grades: each must give 500/500, and one at least must
        have finished while the root's grader ran."""
        # This machine's grader built first (./socklab grade --help builds it, grades nothing), so
        # that its grades overlap the root's grade itself, not the root's build.
        subprocess.run([str(ROOT / "socklab"), "grade", "--help"], cwd=ROOT, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log(f"{distro}: this machine's ./socklab grade, again and again, beside the root's")
        start = time.monotonic()
        stop = threading.Event()
        results: list[tuple[int, str]] = []

        def host_grades() -> None:
            while not stop.is_set():
                done = subprocess.run([str(ROOT / "socklab"), "grade"], cwd=ROOT, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
                results.append((done.returncode, done.stdout))
                (self.logs / f"host-grade-{len(results)}.log").write_text(done.stdout)

        thread = threading.Thread(target=host_grades)
        thread.start()
        try:
            step()
        finally:
            stop.set()
            thread.join()
        full = [code == 0 and re.search(r"\b500\s*/\s*500\b", out) is not None for code, out in results]
        why = "" if results and all(full) else (
            "no grade finished" if not results else f"{full.count(False)} of {len(results)} grades without 500/500"
            f" (see {self.logs}/host-grade-N.log)")
        self.rows.append(Row("this machine", f"./socklab grade x{len(results)}, beside {distro}'s",
                             0 if not why else 1, (time.monotonic() - start) / 60, not why, why))

    def table(self) -> str:
        head = ("distribution", "command", "exit", "minutes", "as expected")
        body = [(r.distribution, r.command, str(r.exit_code), f"{r.minutes:.1f}", "yes" if r.ok else f"NO: {r.why}")
                for r in self.rows]
        widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [head, *body]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def exits(code_wanted: int, *needles: str, pattern: str = ""):
    def expect(code: int, out: str) -> str:
        if code != code_wanted:
            return f"exit {code}, expected {code_wanted}"
        for needle in needles:
            if needle not in out:
                return f"no {needle!r} in its output"
        if pattern and not re.search(pattern, out, re.M):
            return f"no line matching {pattern!r}"
        return ""
    return expect


def handout_test_script() -> str:
    return f"cd {HANDOUT} && ./socklab test"


def handout_expected():
    """The skeletons fail by design; and in a chroot no user may make a user namespace (the kernel
    refuses it there), so the tests that need a private network namespace must say "skipped", on
    Catch2 v2 and v3 alike (v3 would count the test kit's skip code as a failure if not told)."""
    return exits(1, "labs finished: 0 of 5", pattern=r"^lab 01 \(01-endpoints\): 0/[0-9]+ tests pass \([0-9]+ skipped")


def unpack_handout(root: Path, tarball: Path) -> None:
    """The handout tarball (made by ./socklab handout) unpacked into USER's home, owned by USER."""
    target = root / HANDOUT.lstrip("/")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(target), "--strip-components=1"], check=True)
    subprocess.run(["chroot", str(root), "chown", "-R", f"{USER}:{USER}", HANDOUT], check=True)


def check_suite(check: Check, suite: str, root: Path, commit: str, quick: bool, out: Path,
                beside_host: bool = False) -> Path | None:
    """The rows of one suite; returns the handout tarball it made (None if it made none)."""
    distro = SUITES[suite]
    subprocess.run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    # The tree at HEAD, as `git clone` gives it (git runs on this machine: the root has none yet).
    tree = root / TREE.lstrip("/")
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "checkout", "--quiet", "--detach", commit], check=True)
    user_copy = root / "home" / USER / "socklab"
    shutil.copytree(tree, user_copy, symlinks=True)
    subprocess.run(["chroot", str(root), "chown", "-R", f"{USER}:{USER}", f"/home/{USER}/socklab"], check=True)

    # Before anything is installed: a user is told the exact line to run.
    check.step(distro, root, "./socklab deps (user)", f"cd /home/{USER}/socklab && ./socklab deps", USER,
               exits(1, pattern=r"^\s+sudo apt-get update && sudo apt-get install -y --no-install-recommends \S"))
    def grade() -> None:
        check.step(distro, root, "./socklab grade", f"cd {TREE} && ./socklab grade", "root",
                   exits(0, pattern=r"\b500\s*/\s*500\b"))
    if beside_host:
        check.beside_host(distro, grade)
    else:
        grade()
    if not quick:
        check.step(distro, root, "./socklab test", f"cd {TREE} && ./socklab test", "root", exits(0))
    code, _ = check.step(distro, root, "./socklab handout", f"cd {TREE} && ./socklab handout /root/handout", "root",
                         exits(0))
    tarball = root / "root" / "handout.tar.gz"
    if code != 0 or not tarball.is_file():
        return None
    kept = out / f"handout-{suite}.tar.gz"
    shutil.copy(tarball, kept)
    unpack_handout(root, kept)
    check.step(distro, root, "handout ./socklab test (user)", handout_test_script(), USER, handout_expected())
    return kept


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./socklab distro-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="+", choices=sorted(SUITES), metavar="SUITE",
                        help="bookworm (Debian 12) or trixie (Debian 13)")
    parser.add_argument("--quick", action="store_true",
                        help="leave out ./socklab test as root (grade, handout and its test remain): what CI runs")
    parser.add_argument("--fresh", action="store_true", help="debootstrap anew instead of the cached root")
    parser.add_argument("--keep", action="store_true", help="leave the roots in place, to look around")
    parser.add_argument("--beside-host", action="store_true",
                        help="run this machine's ./socklab grade over and over while each root's runs")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise Failure("distro-check needs root (debootstrap, chroot, mount): run it with sudo")
    for tool in ("debootstrap", "git", "chroot", "mount"):
        if shutil.which(tool) is None:
            raise Failure(f"{tool} not found: apt-get install debootstrap git")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=True).stdout.strip()
    if dirty:
        log(f"note: uncommitted changes are not checked: the roots get commit {commit[:12]}")
    mirror = mirror_of_this_machine()
    work = Path(tempfile.mkdtemp(prefix="socklab-distro-check-", dir=os.environ.get("SOCKLAB_DISTRO_TMP", "/var/tmp")))
    logs = work / "logs"
    logs.mkdir()
    log(f"commit {commit[:12]}, mirror {mirror}, work folder {work}")
    check = Check(logs, verbose=False)
    roots: dict[str, Path] = {}
    handouts: dict[str, Path] = {}
    try:
        for suite in dict.fromkeys(args.suites):
            start = time.monotonic()
            root = fresh_root(suite, mirror, work, args.fresh)
            check.rows.append(Row(SUITES[suite], f"debootstrap {suite} (or cached)", 0,
                                  (time.monotonic() - start) / 60, True))
            roots[suite] = root
            with mounted(root):
                made = check_suite(check, suite, root, commit, args.quick, work, args.beside_host)
            if made is not None:
                handouts[suite] = made
        # Each handout on every other distribution: made on one, built and tested on another.
        for suite, root in roots.items():
            for origin, tarball in handouts.items():
                if origin == suite:
                    continue
                unpack_handout(root, tarball)
                with mounted(root):
                    check.step(SUITES[suite], root, f"{SUITES[origin]} handout ./socklab test (user)",
                               handout_test_script(), USER, handout_expected())
    finally:
        print()
        print(check.table(), flush=True)
        if args.keep:
            log(f"roots kept in {work}")
        else:
            for root in roots.values():
                # Never delete through a mount that is still there.
                mounts = Path("/proc/mounts").read_text()
                if f" {root}/" in mounts or f" {root} " in mounts:
                    log(f"{root} still has mounts: left in place")
                    continue
                shutil.rmtree(root, ignore_errors=True)
            log(f"logs in {logs}")
    return 0 if check.rows and all(r.ok for r in check.rows) else 1


if __name__ == "__main__":
    # SIGTERM (a CI job cancelled, kill) unwinds as an exception does, so the roots' mounts are undone.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        print(f"distro-check: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
