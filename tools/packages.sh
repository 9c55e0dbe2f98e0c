# The Debian and Ubuntu packages socklab needs, per distribution: the one place for their names.
# Sourced (bash) by ./socklab (deps, deps --list; also in a handout) and by the Gradescope
# autograder's setup.sh; it runs before python3 is installed, so it is bash.
#
#   socklab_distribution [OS_RELEASE]   sets SOCKLAB_DISTRO (debian-12, debian-13, ubuntu-22.04,
#                                       ubuntu-24.04, or "" for any other) and SOCKLAB_DISTRO_NAME
#                                       from /etc/os-release (or the file given)
#   socklab_packages SET                prints SET's packages for SOCKLAB_DISTRO, one per line:
#                                       full (the instructor's tree), handout (a student's), or
#                                       gradescope (the autograder's image)
#
# What differs between distributions, and why:
#   - clang's runtime (sanitizers, libFuzzer) is versioned: libclang-rt-N-dev for the clang N that
#     the distribution's `clang` installs (Debian 12: 14, Debian 13: 19, Ubuntu 24.04: 18). Ubuntu
#     22.04's clang 14 still carries it in libclang-common-14-dev, which clang depends on.
#     `llvm` (llvm-symbolizer) is the metapackage of that same version.
#   - Catch2: v2.13 on Debian 12 and Ubuntu 22.04, v3 on Debian 13 and Ubuntu 24.04 (the tests take
#     either). Debian 13 packages it as libcatch2-dev (catch2 is a transitional package there).
#   - telnet: Debian 13 and Ubuntu 24.04 make `telnet` a transitional package for
#     inetutils-telnet; Debian 12 and Ubuntu 22.04 still package telnet itself.
#   - Ubuntu 22.04 has no libtomlplusplus-dev and its cmake (3.22) is older than the 3.25 socklab
#     needs: socklab_packages leaves toml++ out there, and instructor/gradescope/setup.sh installs
#     both from elsewhere; a student on 22.04 is better served by Ubuntu 24.04.
# Debian 12 and 13 are tested in CI (./socklab distro-check); the Ubuntu names are not tested here.

socklab_distribution() {
    local file="${1:-/etc/os-release}" id="" version=""
    SOCKLAB_DISTRO=""
    SOCKLAB_DISTRO_NAME="an unknown distribution (no $file)"
    if [[ -r "$file" ]]; then
        id="$(. "$file" && echo "${ID:-}")"
        version="$(. "$file" && echo "${VERSION_ID:-}")"
        SOCKLAB_DISTRO_NAME="$(. "$file" && echo "${PRETTY_NAME:-${ID:-unknown}${VERSION_ID:+ $VERSION_ID}}")"
    fi
    case "$id-$version" in
        debian-12 | debian-13 | ubuntu-22.04 | ubuntu-24.04) SOCKLAB_DISTRO="$id-$version" ;;
    esac
}

socklab_packages() {
    local set="$1" clang_rt telnet toml=libtomlplusplus-dev catch2=catch2
    case "$SOCKLAB_DISTRO" in
        debian-12) clang_rt=libclang-rt-14-dev telnet=telnet ;;
        debian-13) clang_rt=libclang-rt-19-dev telnet=inetutils-telnet catch2=libcatch2-dev ;;
        ubuntu-22.04) clang_rt=libclang-common-14-dev telnet=telnet toml="" ;;
        ubuntu-24.04) clang_rt=libclang-rt-18-dev telnet=inetutils-telnet ;;
        # Any other: the names every Debian-like system has; the clang runtime is left out (its
        # name carries clang's version), so only the clang presets (fuzz) may miss it.
        *) clang_rt="" telnet=inetutils-telnet ;;
    esac
    # bubblewrap: the grader's sandbox (tools/sandbox/), in every tree that builds the grader.
    # libpcap-dev: the wire view (labs/common/wire, socklab-wire), in every tree.
    local common=(cmake ninja-build g++ $catch2 libgtest-dev python3 git iproute2 libasio-dev libcli11-dev
        $toml nlohmann-json3-dev libpugixml-dev bubblewrap libpcap-dev)
    case "$set" in
        # Benchmarks, the grader's tests (python3-yaml), clang's tools, the programs the docs try a
        # server with, tcpdump (reads a socklab-wire .pcap), and debootstrap for ./socklab distro-check.
        full) printf '%s\n' "${common[@]}" libbenchmark-dev python3-yaml clang $clang_rt llvm clang-format \
            clang-tidy netcat-openbsd socat $telnet tcpdump unzip debootstrap ;;
        # No benchmarks and no grader tests. clang, its runtime and llvm (llvm-symbolizer names the
        # functions of a crash report) for the fuzz preset lab 04's page shows.
        handout) printf '%s\n' "${common[@]}" clang $clang_rt llvm clang-format clang-tidy netcat-openbsd \
            socat $telnet tcpdump ;;
        # What the grader needs to build and run; pip and curl for setup.sh's fallbacks.
        gradescope) printf '%s\n' "${common[@]}" python3-pip util-linux curl ca-certificates ;;
        *)
            echo "socklab_packages: unknown set '$set' (full, handout or gradescope)" >&2
            return 64
            ;;
    esac
}
