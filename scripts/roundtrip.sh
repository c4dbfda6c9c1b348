#!/usr/bin/env bash
# The cross-language round trip (tests/vectors/README.md): every available writer
# (Rust, C, Go, Node) writes tests/vectors/dataset.json into a fresh directory, then every
# reader (each other language, and the writer itself) checks that directory.
#
#   scripts/roundtrip.sh            (KEEP=1 keeps the temporary directory;
#                                    ROUNDTRIP_LANGS="rust c" limits the languages;
#                                    ROUNDTRIP_STRICT=1 fails instead of skipping)
#
# Each language's tool takes the same arguments and exits 0 on success:
#
#   <tool> write <dir> <dataset>   writes the dataset plus "writer" = <language>
#   <tool> read  <dir> <dataset>   verifies <dir>; prints a line naming the writer
#
#   rust  cargo build --release --example roundtrip   (examples/roundtrip.rs)
#   c     tests/vectors/roundtrip.c, built here; reads the dataset translated to lines
#   go    go build ./cmd/katamari-roundtrip in bindings/go
#   node  node bindings/node/tools/roundtrip.js (the addon must be built: scripts/test-node.sh)
#
# A language whose tool is not in the tree (yet) is skipped, saying so. The tools find
# the library through LD_LIBRARY_PATH (and LIBRARY_PATH / C_INCLUDE_PATH for building),
# set to a directory holding libkatamari.so and libkatamari.so.<MAJOR> from target/release.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

work=$(mktemp -d "${TMPDIR:-/tmp}/katamari-roundtrip.XXXXXX")
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        echo "roundtrip: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

log="$work/log"
fail() {
    echo "roundtrip: FAILED: $*" >&2
    if [ -s "$log" ]; then
        echo "---- output ----" >&2
        tail -n 40 "$log" >&2
    fi
    exit 1
}
quiet() {
    if ! "$@" >"$log" 2>&1; then
        fail "$*"
    fi
}
run_limit() {
    if command -v timeout >/dev/null 2>&1; then
        timeout 600 "$@"
    else
        "$@"
    fi
}

dataset="$root/tests/vectors/dataset.json"
want_langs=${ROUNDTRIP_LANGS:-rust c go node}
wanted() { [[ " $want_langs " == *" $1 "* ]]; }

# The library and the Rust tool.
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
quiet cargo build --release --quiet --lib --example roundtrip
release="$target_dir/release"
major=$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([0-9]*\)\..*/\1/p}' Cargo.toml | head -n1)
lib="$work/lib"
mkdir -p "$lib"
ln -s "$release/libkatamari.so" "$lib/libkatamari.so"
ln -s "$release/libkatamari.so" "$lib/libkatamari.so.$major"
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
export C_INCLUDE_PATH="$root/include${C_INCLUDE_PATH:+:$C_INCLUDE_PATH}"

langs=()
declare -A tool data
skip() {
    if [ "${ROUNDTRIP_STRICT:-0}" = 1 ]; then
        fail "$1 is required (ROUNDTRIP_STRICT=1) but $2"
    fi
    echo "roundtrip: $1 skipped ($2)"
}

if wanted rust; then
    langs+=(rust)
    tool[rust]="$release/examples/roundtrip"
    data[rust]=$dataset
fi

if wanted c; then
    quiet "${CC:-cc}" -std=c99 -Wall -Wextra -Werror -pedantic -O1 -I include \
        tests/vectors/roundtrip.c -L "$lib" -lkatamari -Wl,-rpath,"$lib" -o "$work/roundtrip-c"
    "$release/examples/roundtrip" lines "$dataset" >"$work/dataset.lines" ||
        fail "translating the dataset for C"
    langs+=(c)
    tool[c]="$work/roundtrip-c"
    data[c]="$work/dataset.lines"
fi

if wanted go; then
    if [ ! -d bindings/go/cmd/katamari-roundtrip ]; then
        skip go "bindings/go/cmd/katamari-roundtrip is not present"
    elif ! command -v go >/dev/null 2>&1; then
        skip go "go is not installed"
    else
        quiet bash -c 'cd bindings/go && CGO_ENABLED=1 go build -o "$1" ./cmd/katamari-roundtrip' \
            _ "$work/roundtrip-go"
        langs+=(go)
        tool[go]="$work/roundtrip-go"
        data[go]=$dataset
    fi
fi

if wanted node; then
    if [ ! -f bindings/node/tools/roundtrip.js ]; then
        skip node "bindings/node/tools/roundtrip.js is not present"
    elif ! command -v node >/dev/null 2>&1; then
        skip node "node is not installed"
    elif [ ! -f bindings/node/build/Release/katamari.node ] &&
        [ ! -f bindings/node/build/Debug/katamari.node ]; then
        skip node "the addon is not built: run scripts/test-node.sh first"
    else
        langs+=(node)
        printf '#!/bin/sh\nexec node "%s" "$@"\n' "$root/bindings/node/tools/roundtrip.js" \
            >"$work/roundtrip-node"
        chmod +x "$work/roundtrip-node"
        tool[node]="$work/roundtrip-node"
        data[node]=$dataset
    fi
fi

[ "${#langs[@]}" -gt 0 ] || fail "no language selected"

pairs=0
for writer in "${langs[@]}"; do
    dir="$work/data-by-$writer"
    quiet run_limit "${tool[$writer]}" write "$dir" "${data[$writer]}"
    results=()
    for reader in "${langs[@]}"; do
        quiet run_limit "${tool[$reader]}" read "$dir" "${data[$reader]}"
        grep -qw -- "$writer" "$log" ||
            fail "the $reader reader did not report the writer '$writer' for $dir"
        results+=("$reader ok")
        [ "$reader" = "$writer" ] || pairs=$((pairs + 1))
    done
    list=$(printf '%s, ' "${results[@]}")
    echo "roundtrip: written by $writer, read by: ${list%, }"
done
echo "roundtrip: ok (${#langs[@]} languages: ${langs[*]}; $pairs cross-language pairs)"
