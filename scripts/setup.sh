#!/usr/bin/env bash
# Installs what `make test` needs that a fresh Debian machine may lack. Idempotent:
# each item is checked first, and nothing is printed when everything is present.
# Prints one line per thing it installs. Meant to run as root (uses sudo otherwise).
#
#   libclang-dev   bindgen (tests/abi-check) loads libclang and clang's builtin headers
#   valgrind       memory checks of the C test programs
#   pkg-config     the pkg-config consumer test
#   binutils       readelf and nm: SONAME and exported symbols of libkatamari.so
#   rustfmt/clippy rustup components for `cargo fmt --check` and `cargo clippy`
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.sh: must run as root to install: $*" >&2
        exit 1
    fi
}

# Debian packages still missing; need_deb PACKAGE CHECK... adds PACKAGE when CHECK fails.
apt_missing=()
need_deb() {
    local pkg=$1
    shift
    if ! "$@" >/dev/null 2>&1; then
        apt_missing+=("$pkg")
    fi
}

deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

need_deb libclang-dev deb_installed libclang-dev
need_deb valgrind command -v valgrind
need_deb pkg-config command -v pkg-config
need_deb binutils command -v readelf

if [ "${#apt_missing[@]}" -gt 0 ]; then
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup.sh: apt-get update failed" >&2
        exit 1
    fi
    for pkg in "${apt_missing[@]}"; do
        echo "setup.sh: installing $pkg (apt)"
    done
    if ! as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${apt_missing[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup.sh: apt-get install ${apt_missing[*]} failed" >&2
        exit 1
    fi
fi

# Rust components of the toolchain that builds this repository (run from its root, so
# a rust-toolchain file, if one is ever added, is honoured).
need_component() {
    local component=$1
    shift
    if ! "$@" >/dev/null 2>&1; then
        if ! command -v rustup >/dev/null 2>&1; then
            echo "setup.sh: $component is missing and rustup is not available" >&2
            exit 1
        fi
        echo "setup.sh: installing $component (rustup component)"
        if ! out=$(rustup component add "$component" 2>&1); then
            echo "$out" >&2
            echo "setup.sh: rustup component add $component failed" >&2
            exit 1
        fi
    fi
}

need_component rustfmt cargo fmt --version
need_component clippy cargo clippy --version

# Further set-up steps of individual suites (Go, Node, CMake, ...), one file each; each
# is idempotent and quiet when all is present.
for step in "$(dirname "$0")"/setup.d/*.sh; do
    [ -e "$step" ] || continue
    bash "$step"
done
