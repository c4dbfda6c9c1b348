#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer, AddressSanitizer, debug assertions and overflow
# checks on) of the targets in fuzz/ (docs/FUZZING.md):
#   segment     segment files: record and batch decoders, recovery (strict and salvage),
#               check_segment, a full open/write/close/reopen
#   hint        hint files of merged segments: hint::load, recovery, reads, verify, merge
#   merge_file  the MERGE file of a committed merge, at each stage of the switch-over
#   c_api       sequences of C API calls (NULLs and bad arguments included) against a model
# Steps:
#   1. set-up check (scripts/setup.d/fuzz.sh); cargo-fuzz (pinned) is installed into
#      <target dir>/fuzz-tools when missing (from crates.io, once);
#   2. cargo fuzz build of the targets (stable toolchain: RUSTC_BOOTSTRAP=1 lets it accept
#      the -Zsanitizer flags cargo-fuzz passes);
#   3. per target: each file in fuzz/regressions/<target>/ (reproducers of findings) runs
#      once; then libFuzzer runs for KAT_FUZZ_SECS seconds, starting by replaying the
#      seeds in fuzz/corpus/<target>/ (never written to) and the working corpus in
#      <target dir>/fuzz-corpus/<target>/ (new finds go there and are kept between runs).
# Exits 1 when a reproducer or a fuzz run fails; crashing inputs are saved in
# <target dir>/fuzz-artifacts/<target>/<date-time>/ and the command replaying them is
# printed.
# Environment:
#   KAT_FUZZ_SECS     seconds of fuzzing per target (default 20, the CI run; e.g. 3600)
#   KAT_FUZZ_TARGETS  targets to run (default "segment hint merge_file c_api")
#   KAT_FUZZ_JOBS     libFuzzer processes per target (-fork=N; default 1)
#   KAT_FUZZ_KEEP_GOING=1  go on after a crash (-fork, -ignore_crashes): a long run then
#                     collects every distinct failure instead of stopping at the first
#   CARGO_TARGET_DIR  build directory (default target/); CARGO (default cargo)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

CARGO_FUZZ_VERSION=0.13.2
cargo=${CARGO:-cargo}
secs=${KAT_FUZZ_SECS:-20}
jobs=${KAT_FUZZ_JOBS:-1}
read -r -a targets <<<"${KAT_FUZZ_TARGETS:-segment hint merge_file c_api}"
target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac

bash scripts/setup.d/fuzz.sh

started=$SECONDS
host=$(rustc -vV | sed -n 's/^host: //p')
sysroot=$(rustc --print sysroot)
if ! compgen -G "$sysroot/lib/rustlib/$host/lib/librustc-*_rt.asan.a" >/dev/null; then
    echo "fuzz: the toolchain has no AddressSanitizer runtime for $host" >&2
    exit 1
fi

# cargo-fuzz, pinned, in a directory of its own (its build directory is removed after).
tools=$target_dir/fuzz-tools
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -q "^cargo-fuzz $CARGO_FUZZ_VERSION\$"; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools"
    CARGO_TARGET_DIR=$tools/build "$cargo" install cargo-fuzz --version "$CARGO_FUZZ_VERSION" \
        --locked --root "$tools" --quiet
    rm -rf "$tools/build"
fi
export PATH=$tools/bin:$PATH
export RUSTC_BOOTSTRAP=1

fuzz_build=$target_dir/fuzz
echo "fuzz: cargo fuzz build (${targets[*]})"
build_start=$SECONDS
if [ "${KAT_FUZZ_TARGETS+set}" = set ]; then
    for t in "${targets[@]}"; do
        "$cargo" fuzz build --fuzz-dir fuzz --target-dir "$fuzz_build" "$t"
    done
else
    "$cargo" fuzz build --fuzz-dir fuzz --target-dir "$fuzz_build"
fi
echo "fuzz: built in $((SECONDS - build_start))s"

logs=$target_dir/fuzz-logs
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
    bin=$fuzz_build/$host/release/$t
    art=$target_dir/fuzz-artifacts/$t/$(date +%Y%m%d-%H%M%S)
    work=$target_dir/fuzz-corpus/$t
    mkdir -p "$art" "$work"
    t_start=$SECONDS

    # Reproducers of findings: each must run clean.
    for f in fuzz/regressions/"$t"/*; do
        [ -f "$f" ] || continue
        case $f in *.c | *.md) continue ;; esac
        if ! "$bin" -timeout=120 "$f" >"$logs/$t.regression.log" 2>&1; then
            echo "fuzz: $t: reproducer $f fails:" >&2
            grep -m1 -A2 -E 'panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' \
                "$logs/$t.regression.log" >&2 || tail -20 "$logs/$t.regression.log" >&2
            echo "fuzz:   replay: $bin $f" >&2
            failed+=("$t:$f")
        fi
    done

    echo "fuzz: $t: ${secs}s from fuzz/corpus/$t and $work"
    fork=()
    if [ "${KAT_FUZZ_KEEP_GOING:-0}" = 1 ]; then
        fork=(-fork="$jobs" -ignore_crashes=1)
    elif [ "$jobs" -gt 1 ]; then
        fork=(-fork="$jobs")
    fi
    set +e
    "$bin" "${fork[@]}" -max_total_time="$secs" -timeout=60 -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$art/" "$work" "fuzz/corpus/$t" \
        >"$logs/$t.log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    # Fork mode prints no final stats: take the last status line's count.
    [ -n "$execs" ] || execs=$(grep -Eo '^#[0-9]+' "$logs/$t.log" | tail -1 | tr -d '#' || true)
    cov=$(grep -Eo 'cov: [0-9]+' "$logs/$t.log" | tail -1 | cut -d' ' -f2 || true)
    summary+=("$(printf '%-10s %4ss  %9s execs  cov %s  rc %s' "$t" "$((SECONDS - t_start))" \
        "${execs:-?}" "${cov:-?}" "$rc")")
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: $t: FAILED (exit $rc); log $logs/$t.log" >&2
        grep -m1 -A3 -E 'panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' \
            "$logs/$t.log" >&2 || tail -40 "$logs/$t.log" >&2
        for a in $(sed -n "s|.*Test unit written to \(.*\)|\1|p" "$logs/$t.log") "$art"/crash-* "$art"/oom-* "$art"/timeout-*; do
            if [ -f "$a" ]; then echo "fuzz:   replay: $bin $a"; fi
        done | sort -u >&2
        failed+=("$t")
    fi
done

echo "fuzz: summary (KAT_FUZZ_SECS=$secs, total $((SECONDS - started))s)"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ok"
