#!/usr/bin/env bash
# Set-up for the C/C++ consumer tests (scripts/test-cmake.sh): cmake 3.19 or newer and a
# C++ compiler. Idempotent; prints nothing when everything is present. (pkg-config and
# readelf come from scripts/setup.sh itself; Ninja is used when present, not required.)
set -euo pipefail

missing=()
cmake_ok() {
    command -v cmake >/dev/null 2>&1 || return 1
    local v
    v=$(cmake --version 2>/dev/null | sed -n '1s/^cmake version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
    [ -n "$v" ] || return 1
    set -- $v
    [ "$1" -gt 3 ] || { [ "$1" -eq 3 ] && [ "$2" -ge 19 ]; }
}
cmake_ok || missing+=(cmake)
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || missing+=(g++)

[ "${#missing[@]}" -eq 0 ] && exit 0

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.d/cmake.sh: must run as root to install: $*" >&2
        exit 1
    fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in "${missing[@]}"; do
    echo "setup.sh: installing $pkg (apt)"
done
if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup.d/cmake.sh: apt-get update failed" >&2
    exit 1
fi
if ! as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup.d/cmake.sh: apt-get install ${missing[*]} failed" >&2
    exit 1
fi
