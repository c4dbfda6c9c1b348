#!/usr/bin/env bash
# Tests the installed tree as a downstream user sees it:
#
#   1. stages an install prefix in a temporary directory with scripts/install.sh and
#      checks its layout (files, symlinks, SONAME, no absolute paths in the metadata);
#   2. checks that the native libraries listed for the static archive are what rustc
#      says the Rust standard library needs;
#   3. configures, builds and ctests tests/cmake-consumer (C and C++ programs against
#      Katamari::katamari and Katamari::katamari_static, plus the C++ wrapper tests);
#   4. checks KatamariConfigVersion.cmake (SameMajorVersion) with tests/cmake-consumer/version-check;
#   5. moves the prefix elsewhere and does 3 again in a fresh build directory;
#   6. builds consumers with `pkg-config --cflags --libs katamari` from the moved prefix
#      (shared with rpath, shared with LD_LIBRARY_PATH, static, and the C++ demo) and
#      runs them.
#
# Usage: scripts/test-cmake.sh         (KEEP=1 keeps the temporary directory)
# Needs cmake 3.19+ (version ranges), a C and a C++ compiler, pkg-config and readelf;
# scripts/setup.sh installs what is missing. Ninja is used when present.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

work=$(mktemp -d "${TMPDIR:-/tmp}/katamari-cmake.XXXXXX")
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        echo "test-cmake: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

log="$work/log"
fail() {
    echo "test-cmake: FAILED: $*" >&2
    if [ -s "$log" ]; then
        echo "---- output ----" >&2
        tail -n 80 "$log" >&2
    fi
    exit 1
}
# Runs a command with its output in $log; on failure shows it and exits.
quiet() {
    if ! "$@" >"$log" 2>&1; then
        fail "$*"
    fi
}
step() { echo "test-cmake: $*"; }

for tool in cmake pkg-config readelf rustc; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (run scripts/setup.sh)"
done
CC=${CC:-cc}
CXX=${CXX:-c++}
generator=()
if command -v ninja >/dev/null 2>&1; then
    generator=(-G Ninja)
fi

version=$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' Cargo.toml | head -n1)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}

# 1. Install and check the layout.
prefix="$work/stage/prefix"
step "installing into a staged prefix"
quiet env KATAMARI_INSTALL_QUIET=1 scripts/install.sh "$prefix"
for f in "lib/libkatamari.so.$version" lib/libkatamari.a include/katamari.h include/katamari.hpp \
    lib/cmake/Katamari/KatamariConfig.cmake lib/cmake/Katamari/KatamariConfigVersion.cmake \
    lib/pkgconfig/katamari.pc; do
    [ -f "$prefix/$f" ] && [ ! -L "$prefix/$f" ] || fail "$f is missing or not a regular file"
done
[ "$(readlink "$prefix/lib/libkatamari.so.$major")" = "libkatamari.so.$version" ] ||
    fail "lib/libkatamari.so.$major does not point at libkatamari.so.$version"
[ "$(readlink "$prefix/lib/libkatamari.so")" = "libkatamari.so.$major" ] ||
    fail "lib/libkatamari.so does not point at libkatamari.so.$major"
soname=$(readelf -d "$prefix/lib/libkatamari.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libkatamari.so.$major" ] || fail "SONAME is '$soname', not libkatamari.so.$major"
if readelf -d "$prefix/lib/libkatamari.so.$version" | grep -Eq 'RPATH|RUNPATH'; then
    fail "libkatamari.so has an RPATH/RUNPATH"
fi
cmp -s include/katamari.h "$prefix/include/katamari.h" || fail "installed katamari.h differs"
if grep -rl "$work" "$prefix/lib/cmake" "$prefix/lib/pkgconfig" >"$log" 2>&1; then
    fail "absolute install paths in the CMake/pkg-config files (not relocatable)"
fi

# 2. The static archive's native libraries: what the installed metadata lists must be what
# rustc reports for a static library built with this toolchain (-lc is implicit).
step "checking the static archive's native libraries"
echo '' >"$work/empty.rs"
rustc_note=$( (cd "$work" && rustc --crate-type staticlib --print native-static-libs \
    -o "$work/empty.a" empty.rs) 2>&1 | sed -n 's/.*native-static-libs: //p')
[ -n "$rustc_note" ] || fail "rustc printed no native-static-libs"
want=$(tr ' ' '\n' <<<"$rustc_note" | grep -v '^-lc$' | grep . | sort -u | tr '\n' ' ')
pc_private=$(sed -n 's/^Libs.private: //p' "$prefix/lib/pkgconfig/katamari.pc")
have_pc=$(tr ' ' '\n' <<<"$pc_private" | grep . | sort -u | tr '\n' ' ')
[ "$want" = "$have_pc" ] || fail "katamari.pc Libs.private is '$have_pc'; rustc says '$want'"
cmake_libs=$(sed -n 's/.*INTERFACE_LINK_LIBRARIES "\(.*\)")/\1/p' \
    "$prefix/lib/cmake/Katamari/KatamariConfig.cmake")
have_cmake=$(tr ';' '\n' <<<"$cmake_libs" | grep . | sort -u | tr '\n' ' ')
[ "$want" = "$have_cmake" ] || fail "Katamari::katamari_static links '$have_cmake'; rustc says '$want'"

# 3. The CMake consumer.
consume() {
    local where=$1 build=$2
    quiet cmake -S tests/cmake-consumer -B "$build" "${generator[@]}" \
        -DCMAKE_PREFIX_PATH="$where" -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
        -DKATAMARI_WRAPPER_TEST="$root/tests/cpp/wrapper.cpp"
    grep -q "Katamari $version from $where/lib/cmake/Katamari" "$log" ||
        fail "find_package did not use $where"
    quiet cmake --build "$build"
    # Shared programs ask for the SONAME; static ones do not need the shared library.
    local exe
    for exe in consumer_c_shared consumer_cpp_shared cpp_wrapper; do
        readelf -d "$build/$exe" | grep -q "NEEDED.*\[libkatamari.so.$major\]" ||
            fail "$exe does not depend on libkatamari.so.$major"
    done
    for exe in consumer_c_static consumer_cpp_static; do
        if readelf -d "$build/$exe" | grep -q 'NEEDED.*libkatamari'; then
            fail "$exe depends on the shared library"
        fi
    done
    quiet ctest --test-dir "$build" --output-on-failure
    local passed
    passed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1 failed of \2/p' "$log")
    step "  ctest: $(grep -c 'Passed' "$log") passed ($passed)"
}
step "CMake consumer against $prefix"
consume "$prefix" "$work/build-staged"

# 4. The version file: SameMajorVersion.
check_version() {
    local want=$1 expect=$2
    quiet cmake -S tests/cmake-consumer/version-check -B "$work/version-check" \
        -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$want"
    grep -q "KATAMARI_FOUND=$expect" "$log" ||
        fail "find_package(Katamari $want) should give Katamari_FOUND=$expect"
    rm -rf "$work/version-check"
}
step "checking the version file (SameMajorVersion)"
check_version "$major" 1
check_version "$major.$minor" 1
check_version "$version" 1
check_version "$((major + 1))" 0
check_version "$major.$((minor + 1))" 0
check_version "$major.0...$((major + 1)).0" 1

# 5. Move the prefix: everything must still work from the new place.
moved="$work/elsewhere/moved prefix"
mkdir -p "$(dirname "$moved")"
mv "$prefix" "$moved"
rm -rf "$work/build-staged"
step "CMake consumer against the moved prefix"
consume "$moved" "$work/build-moved"

# 6. pkg-config consumers from the moved prefix.
step "pkg-config consumers against the moved prefix"
export PKG_CONFIG_PATH="$moved/lib/pkgconfig"
[ "$(pkg-config --modversion katamari)" = "$version" ] || fail "pkg-config --modversion"
eval "libdir=$(pkg-config --variable=libdir katamari)"
[ "$(cd "$libdir" && pwd)" = "$(cd "$moved/lib" && pwd)" ] ||
    fail "pkg-config libdir $libdir is not the moved prefix"
# pkg-config output is shell words (a space in a path comes escaped): split like a shell.
eval "cflags=($(pkg-config --cflags katamari))"
eval "libs=($(pkg-config --libs katamari))"
eval "static_libs=($(pkg-config --static --libs katamari))"
# Link the archive rather than the shared library: -lkatamari -> -l:libkatamari.a.
static_libs=("${static_libs[@]/#-lkatamari/-l:libkatamari.a}")
pc="$work/pkgconfig"
mkdir -p "$pc"
warn=(-Wall -Wextra -Werror -pedantic)

quiet "$CC" -std=c99 "${warn[@]}" -DCONSUMER_NAME='"pc_shared_rpath"' \
    tests/cmake-consumer/consumer.c "${cflags[@]}" "${libs[@]}" -Wl,-rpath,"$libdir" \
    -o "$pc/shared_rpath"
quiet "$pc/shared_rpath" "$pc/data-rpath"
grep -q "pc_shared_rpath: ok" "$log" || fail "pkg-config shared (rpath) consumer"

quiet "$CC" -std=c99 "${warn[@]}" -DCONSUMER_NAME='"pc_shared_ldpath"' \
    tests/cmake-consumer/consumer.c "${cflags[@]}" "${libs[@]}" -o "$pc/shared_ldpath"
quiet env LD_LIBRARY_PATH="$libdir" "$pc/shared_ldpath" "$pc/data-ldpath"
grep -q "pc_shared_ldpath: ok" "$log" || fail "pkg-config shared (LD_LIBRARY_PATH) consumer"

quiet "$CC" -std=c99 "${warn[@]}" -DCONSUMER_NAME='"pc_static"' \
    tests/cmake-consumer/consumer.c "${cflags[@]}" "${static_libs[@]}" -o "$pc/static"
if readelf -d "$pc/static" | grep -q 'NEEDED.*libkatamari'; then
    fail "the static pkg-config consumer depends on the shared library"
fi
quiet "$pc/static" "$pc/data-static"
grep -q "pc_static: ok" "$log" || fail "pkg-config static consumer"

quiet "$CXX" -std=c++17 "${warn[@]}" bindings/c/examples/demo.cpp "${cflags[@]}" "${libs[@]}" \
    -Wl,-rpath,"$libdir" -o "$pc/demo_cpp"
quiet "$pc/demo_cpp" "$pc/data-demo"
grep -q "after reopening:" "$log" || fail "C++ demo via pkg-config"

step "ok: install layout, CMake (staged and moved), version file, pkg-config (shared, static, C++)"
