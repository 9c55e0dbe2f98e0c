#!/usr/bin/env python3
"""No check in the labs' tests prints an errno value or a flag as a bare number.

Catch2 prints a failing CHECK or REQUIRE as its expression after macro expansion: a test that
writes CHECK(err == EPIPE) shows the student `err == 32`, and HasErrno(ECONNREFUSED) shows
`HasErrno(111)`. This check reads every CHECK, REQUIRE and matcher macro of the labs' tests and of
the test kit, and fails on each one whose expression holds an errno name or a constant of the
socket, fcntl, poll or signal APIs. Write instead: HasErrno(std::errc::connection_refused),
CHECK(code == std::errc::broken_pipe) (the test kit prints both sides by name),
is_nonblocking(fd) and closes_on_exec(fd) with INFO(describe_flags(fd)), and
SOCKLAB_REQUIRE_SYSCALL(call) for a system call the test makes itself.

Usage: check_failure_names.py ROOT        (exit 1 and a list when some check breaks the rule)
       check_failure_names.py --self-test
"""
from __future__ import annotations

import errno
import re
import sys
from pathlib import Path

ASSERTIONS = re.compile(
    r"\b(?:CHECK|REQUIRE)(?:_FALSE|_THAT|_THROWS_MATCHES|_THROWS_AS|_THROWS_WITH|_THROWS|_NOTHROW)?\s*\(")
ERRNO_NAMES = set(errno.errorcode.values()) | {"EAGAIN", "EWOULDBLOCK"}
CONSTANT = re.compile(r"^(?:O_|FD_|F_[A-Z]|SO_|SOL_|IPPROTO_|TCP_|MSG_|SHUT_|POLL|AF_|PF_|SOCK_|SIOC|EAI_|"
                      r"INADDR_|SIG[A-Z])")


def without_comments_and_strings(code: str) -> str:
    code = re.sub(r"//[^\n]*", "", code)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])\'', '""', code)


def findings(text: str) -> list[tuple[int, list[str], str]]:
    """(line, offending names, expression) for each assertion that prints a constant bare."""
    code = without_comments_and_strings(text)
    found = []
    for m in ASSERTIONS.finditer(code):
        depth, end = 1, m.end()
        while depth and end < len(code):
            depth += {"(": 1, ")": -1}.get(code[end], 0)
            end += 1
        expression = code[m.end():end - 1]
        bad = sorted({w for w in re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", expression)
                      if w in ERRNO_NAMES or CONSTANT.match(w)})
        if bad:
            found.append((code[:m.start()].count("\n") + 1, bad, " ".join(expression.split())))
    return found


def sources(root: Path) -> list[Path]:
    return sorted([*root.glob("labs/*/tests/*.[ch]pp"), *root.glob("labs/common/testkit/**/*.[ch]pp")])


def self_test() -> int:
    sample = '''
        // CHECK(err == EPIPE) in a comment is fine
        CHECK(last == EPIPE);
        REQUIRE_THROWS_MATCHES(f(), std::system_error, HasErrno(ECONNREFUSED));
        CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
        CHECK_THAT(Bytes(got), EqualsBytes("ECHO EPIPE\\n"));
        CHECK(last == std::errc::broken_pipe);
        SOCKLAB_REQUIRE_SYSCALL(::shutdown(fd, SHUT_WR));
    '''
    got = [(line, names) for line, names, _ in findings(sample)]
    want = [(3, ["EPIPE"]), (4, ["ECONNREFUSED"]), (5, ["F_GETFL", "O_NONBLOCK"])]
    if got != want:
        print(f"self-test: found {got}, expected {want}")
        return 1
    print("self-test: the three bare constants found, the named forms and the comment let through")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) != 1:
        print(__doc__)
        return 2
    root = Path(argv[0])
    bad = 0
    files = sources(root)
    for path in files:
        for line, names, expression in findings(path.read_text(encoding="utf-8")):
            bad += 1
            print(f"{path.relative_to(root)}:{line}: prints {', '.join(names)} as a number: {expression[:120]}")
    if bad:
        print(f"{bad} checks would print an errno or a flag as a bare number (see this script's docstring "
              "for the named forms)")
        return 1
    print(f"{len(files)} files: every check prints errno values and flags by name")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
