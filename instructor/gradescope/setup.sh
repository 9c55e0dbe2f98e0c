#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: it installs what the
# grader needs, builds the grader, and grades the bundled reference solutions once. That last step
# proves the image works (it fails unless they earn every point) and leaves every lab built, so a
# student's submission rebuilds only the student's own files.
#
# Made by ./socklab gradescope; instructor/docs/course-setup.md#gradescope explains it.
# AUTOGRADER_ROOT (default /autograder) moves the whole tree, so a test can run it in a temp folder;
# SOCKLAB_SKIP_PACKAGES=1 skips the package step (a machine that has them already).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TREE="$HERE/socklab"
export DEBIAN_FRONTEND=noninteractive

# What the grader needs to build and run, by this image's package names: tools/packages.sh, the
# one list (./socklab deps reads it too). Gradescope's Ubuntu image is 22.04.
# shellcheck source=../../tools/packages.sh
. "$TREE/tools/packages.sh"
socklab_distribution
mapfile -t PACKAGES < <(socklab_packages gradescope)
if [[ "${1:-}" == --list-packages ]]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi
# A failure says so last, where the eye lands (set -e stops at the failing command).
trap 'status=$?; if ((status != 0)); then echo "setup.sh: FAILED (exit $status): read the output above" >&2; fi' EXIT

install_packages() {
    apt-get update
    local available=()
    for pkg in "${PACKAGES[@]}"; do
        # A name the image lacks (an unknown distribution gets generic names): handled below.
        if apt-cache show "$pkg" >/dev/null 2>&1; then
            available+=("$pkg")
        else
            echo "setup.sh: no package $pkg on this image; a fallback follows if the grader needs it"
        fi
    done
    apt-get install -y --no-install-recommends "${available[@]}"
}

version_at_least() { # $1 >= $2, as dotted versions
    [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

fallbacks() {
    # CMake 3.25 or later (Ubuntu 22.04 has 3.22): Kitware's wheel from PyPI.
    local have
    have="$(cmake --version 2>/dev/null | head -n1 | awk '{print $3}')"
    if ! version_at_least "${have:-0}" 3.25; then
        echo "setup.sh: cmake ${have:-missing} is older than 3.25: installing cmake from PyPI"
        python3 -m pip install --quiet 'cmake>=3.25,<4' || python3 -m pip install --quiet --break-system-packages 'cmake>=3.25,<4'
        hash -r
    fi
    # toml++ (header only): its single-header release, pinned, where the package is missing.
    if [[ ! -e /usr/include/toml++/toml.h && ! -e /usr/local/include/toml++/toml.h ]]; then
        echo "setup.sh: toml++ missing: installing its v3.4.0 single header into /usr/local/include/toml++/"
        mkdir -p /usr/local/include/toml++
        curl -fsSL -o /usr/local/include/toml++/toml.h \
            https://raw.githubusercontent.com/marzer/tomlplusplus/v3.4.0/toml.hpp
    fi
}

if [[ "${SOCKLAB_SKIP_PACKAGES:-0}" != 1 ]]; then
    echo "==> setup.sh: installing the packages the grader needs"
    install_packages
    fallbacks
else
    echo "==> setup.sh: packages skipped (SOCKLAB_SKIP_PACKAGES=1)"
fi
echo "==> setup.sh: building the grader and every lab in $TREE/build-grade"

# Build the grader and every lab once, in $TREE/build-grade (run_autograder reuses it and rebuilds
# only a submission's files). Then, unless SOCKLAB_SETUP_SELF_CHECK=0, grade the bundled reference
# solutions: setup fails unless they earn every point.
cd "$TREE"
python3 tools/socklab.py grade --help >/dev/null
cmake --build build-grade/build
if [[ "${SOCKLAB_SETUP_SELF_CHECK:-1}" != 0 ]]; then
    echo "==> setup.sh: grading the bundled reference solutions (every point must be earned)"
    python3 tools/socklab.py grade
    echo "setup.sh: the autograder is ready (reference solutions: full marks)"
else
    echo "setup.sh: the autograder is built (self-check skipped)"
fi
