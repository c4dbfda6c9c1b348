#!/usr/bin/env bash
# Set-up for the fuzzing and sanitizer runs (scripts/fuzz.sh, scripts/sanitize.sh): a C++
# compiler (libfuzzer-sys compiles libFuzzer) and GCC's AddressSanitizer and
# UndefinedBehaviorSanitizer runtimes (libasan, libubsan: the C test programs, the Go
# -asan run and the Node addon link them; Debian's g++ brings them through libgcc-dev).
# Idempotent; prints nothing when everything is present. cargo-fuzz itself is installed
# by scripts/fuzz.sh (from crates.io, into the target directory), not here.
set -euo pipefail

missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
if command -v gcc >/dev/null 2>&1; then
    for lib in libasan.so libubsan.so; do
        # gcc prints the bare name back when it has no such file.
        if [ "$(gcc -print-file-name="$lib")" = "$lib" ]; then
            missing+=(g++)
            break
        fi
    done
else
    missing+=(gcc g++)
fi

# The Rust side of the sanitizer builds needs the AddressSanitizer runtime that rustup's
# rust-std ships for x86_64 Linux; nothing apt can add. Only a warning: the other suites
# do not need it, and scripts/fuzz.sh fails with its own message.
if command -v rustc >/dev/null 2>&1; then
    sysroot=$(rustc --print sysroot 2>/dev/null || true)
    host=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')
    if [ -n "$sysroot" ] && [ -n "$host" ] &&
        ! compgen -G "$sysroot/lib/rustlib/$host/lib/librustc-*_rt.asan.a" >/dev/null; then
        echo "setup.d/fuzz.sh: warning: no AddressSanitizer runtime in $sysroot/lib/rustlib/$host/lib;" \
            "scripts/fuzz.sh and scripts/sanitize.sh need one (x86_64/aarch64 Linux rust-std ships it)" >&2
    fi
fi

[ "${#missing[@]}" -eq 0 ] && exit 0
# Deduplicate.
read -r -a missing <<<"$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.d/fuzz.sh: must run as root to install: $*" >&2
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
    echo "setup.d/fuzz.sh: apt-get update failed" >&2
    exit 1
fi
if ! as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup.d/fuzz.sh: apt-get install ${missing[*]} failed" >&2
    exit 1
fi
