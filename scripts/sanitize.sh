#!/usr/bin/env bash
# Sanitizer runs (docs/FUZZING.md). Parts:
#   c     the library built with AddressSanitizer on the Rust side (rustc
#         -Zsanitizer=address, accepted by the stable toolchain through RUSTC_BOOTSTRAP=1;
#         debug profile, so debug assertions and overflow checks are on too); the C test
#         programs tests/c/*.c, the C++ wrapper test tests/cpp/wrapper.cpp and the examples
#         bindings/c/examples/demo.c{,pp} and the C reproducers in fuzz/regressions/ built
#         with gcc/g++ -fsanitize=address,undefined (plus the flags tests/c_api.rs uses)
#         against it, each run like tests/c_api.rs runs them: a fresh empty directory as
#         argv[1], and from tests/c a "<name>: N checks passed" line. Any ASan, UBSan or
#         LeakSanitizer report fails the run.
#   go    bindings/go (build tag katamari_system, linked against the library built here):
#         go test -race with GODEBUG=cgocheck=1; GOEXPERIMENT=cgocheck2 go test; go test
#         -asan against the ASan library (memory errors on both sides of cgo, and C leaks at
#         exit); TestFinalizerStress, which checks that RSS stays flat, runs under -asan
#         with a 4 MiB quarantine (ASan's default 256 MiB one grows RSS on its own).
#   node  bindings/node, copied to <target dir>/sanitize/node-root (the repository's build/
#         is left alone), its addon built with -fsanitize=address,undefined against the ASan
#         static library, then node --expose-gc --test test/*.test.js (the lifetime tests
#         call global.gc(), so finalizers run) with libasan preloaded into node.
#   Miri is not run (it needs a nightly toolchain with the miri and rust-src components).
# Environment:
#   KAT_SANITIZE_PARTS  parts to run (default "c go node"); CARGO_TARGET_DIR (default
#   target/); CARGO (cargo); GO (go); SAN_CC / SAN_CXX (gcc / g++: the sanitizer runtimes
#   must be GCC's, which the Rust-instrumented library also resolves against).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

cargo=${CARGO:-cargo}
go=${GO:-go}
cc=${SAN_CC:-gcc}
cxx=${SAN_CXX:-g++}
read -r -a parts <<<"${KAT_SANITIZE_PARTS:-c go node}"
target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
san=$target_dir/sanitize
host=$(rustc -vV | sed -n 's/^host: //p')
major=$(sed -n 's/^version *= *"\([0-9]*\)\..*/\1/p' Cargo.toml | head -1)

bash scripts/setup.d/fuzz.sh

san_flags=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
started=$SECONDS
timing=()
failed=()

# A directory with libkatamari.so and the SONAME link the executables ask for.
lib_dir() {
    local dir=$1 so=$2
    mkdir -p "$dir"
    ln -sf "$so" "$dir/libkatamari.so"
    ln -sf "$so" "$dir/libkatamari.so.$major"
}

asan_lib_built=
asan_lib() {
    [ -n "$asan_lib_built" ] && return
    echo "sanitize: building the library with -Zsanitizer=address"
    RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes" \
        "$cargo" build --quiet --lib --no-default-features --target "$host" \
        --target-dir "$san/asan-build"
    lib_dir "$san/asan-lib" "$san/asan-build/$host/debug/libkatamari.so"
    asan_lib_built=1
}

part_c() {
    asan_lib
    local bin=$san/c-bin lib=$san/asan-lib
    mkdir -p "$bin"
    local progs=() p
    for p in tests/c/*.c; do progs+=("c:$p"); done
    progs+=("cxx:tests/cpp/wrapper.cpp" "c:bindings/c/examples/demo.c" "cxx:bindings/c/examples/demo.cpp")
    # Reproducers of C API findings (fuzz/regressions): exit 0 once fixed.
    for p in fuzz/regressions/*/*.c; do [ -e "$p" ] && progs+=("c:$p"); done
    for p in "${progs[@]}"; do
        local lang=${p%%:*} src=${p#*:} name
        name=$(basename "${src%.*}")
        [ "$src" = bindings/c/examples/demo.cpp ] && name=demo-cpp
        local exe=$bin/$name
        if [ "$lang" = c ]; then
            "$cc" -std=c99 -Wall -Wextra -Werror -pedantic -O0 -g -pthread "${san_flags[@]}" \
                -Iinclude "$src" -o "$exe" -L"$lib" -lkatamari -Wl,-rpath,"$lib"
        else
            "$cxx" -std=c++17 -Wall -Wextra -Werror -pedantic -O0 -g "${san_flags[@]}" \
                -Iinclude -Ibindings/c "$src" -o "$exe" -L"$lib" -lkatamari -Wl,-rpath,"$lib"
        fi
        local dir out rc
        dir=$(mktemp -d "${TMPDIR:-/tmp}/katamari-sanitize.XXXXXX")
        set +e
        out=$("$exe" "$dir" 2>"$san/$name.stderr")
        rc=$?
        set -e
        rm -rf "$dir"
        if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$san/$name.stderr"; then
            echo "sanitize: c: $src FAILED (exit $rc)" >&2
            cat "$san/$name.stderr" >&2
            failed+=("c:$name")
        elif [[ $src == tests/* ]] && ! grep -qE "^$name: [1-9][0-9]* checks passed" <<<"$out"; then
            echo "sanitize: c: $src printed no summary line" >&2
            echo "$out" >&2
            failed+=("c:$name")
        else
            echo "sanitize: c: $name ok ($(grep -Eo '[0-9]+ checks passed' <<<"$out" || tail -1 <<<"$out"))"
        fi
    done
}

part_go() {
    if ! command -v "$go" >/dev/null 2>&1; then
        echo "sanitize: go: $go not found" >&2
        failed+=(go)
        return
    fi
    echo "sanitize: go: release library"
    "$cargo" build --release --quiet
    lib_dir "$san/release-lib" "$target_dir/release/libkatamari.so"
    asan_lib
    local go_env=(CGO_ENABLED=1 GOFLAGS=-count=1 CGO_CFLAGS="-I$root/include")
    local rel=(CGO_LDFLAGS="-L$san/release-lib -Wl,-rpath,$san/release-lib")
    local asan=(CGO_LDFLAGS="-L$san/asan-lib -Wl,-rpath,$san/asan-lib")
    local tags=(-tags katamari_system)
    # (set -e does not apply inside a subshell tested by ||: each step says exit 1.)
    (
        cd bindings/go || exit 1
        echo "sanitize: go: go test -race (GODEBUG=cgocheck=1)"
        env "${go_env[@]}" "${rel[@]}" GODEBUG=cgocheck=1 "$go" test -race "${tags[@]}" ./... ||
            exit 1
        echo "sanitize: go: GOEXPERIMENT=cgocheck2 go test"
        env "${go_env[@]}" "${rel[@]}" GOEXPERIMENT=cgocheck2 "$go" test "${tags[@]}" ./... ||
            exit 1
        echo "sanitize: go: go test -asan (ASan library)"
        env "${go_env[@]}" "${asan[@]}" "$go" test -asan "${tags[@]}" \
            -skip '^TestFinalizerStress$' ./... || exit 1
        env "${go_env[@]}" "${asan[@]}" ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=4" \
            "$go" test -asan "${tags[@]}" -run '^TestFinalizerStress$' . || exit 1
    ) || failed+=(go)
}

part_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "sanitize: node: node and npm are required" >&2
        failed+=(node)
        return
    fi
    bash scripts/setup.d/node.sh
    asan_lib
    # A copy of the repository's shape: bindings/node (its build/ is rebuilt here),
    # include/ and tests/ linked, target/release/libkatamari.a the ASan library.
    local nr=$san/node-root
    rm -rf "$nr"
    mkdir -p "$nr/bindings/node" "$nr/target/release"
    local f
    for f in bindings/node/* bindings/node/.[!.]*; do
        [ -e "$f" ] || continue
        case $(basename "$f") in node_modules | build | bench) continue ;; esac
        cp -r "$f" "$nr/bindings/node/"
    done
    ln -s "$root/include" "$nr/include"
    ln -s "$root/tests" "$nr/tests"
    ln -s "$san/asan-build/$host/debug/libkatamari.a" "$nr/target/release/libkatamari.a"
    (
        cd "$nr/bindings/node" || exit 1
        export npm_config_nodedir=/usr npm_config_loglevel=error
        if [ -d "$root/bindings/node/node_modules" ]; then
            ln -s "$root/bindings/node/node_modules" node_modules || exit 1
        else
            npm ci --no-audit --no-fund --prefer-offline --ignore-scripts >/dev/null || exit 1
        fi
        echo "sanitize: node: building the addon with -fsanitize=address,undefined"
        CC=$cc CXX=$cxx CFLAGS="${san_flags[*]}" CXXFLAGS="${san_flags[*]}" \
            LDFLAGS="-fsanitize=address,undefined" \
            npm run --silent build -- --nodedir=/usr >"$san/node-gyp.log" 2>&1 ||
            { cat "$san/node-gyp.log" >&2; exit 1; }
        echo "sanitize: node: node --expose-gc --test (libasan preloaded)"
        # Node itself is not instrumented and frees little at exit: no leak check here.
        LD_PRELOAD=$("$cc" -print-file-name=libasan.so) \
            ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:detect_stack_use_after_return=1" \
            node --expose-gc --test --test-reporter=dot test/*.test.js
    ) || failed+=(node)
}

for part in "${parts[@]}"; do
    t0=$SECONDS
    case $part in
        c) part_c ;;
        go) part_go ;;
        node) part_node ;;
        *)
            echo "sanitize: unknown part $part" >&2
            exit 2
            ;;
    esac
    timing+=("$part $((SECONDS - t0))s")
done

echo "sanitize: times: ${timing[*]} (total $((SECONDS - started))s)"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "sanitize: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "sanitize: ok"
