#!/usr/bin/env bash
# Installs Katamari under a prefix:
#
#   scripts/install.sh PREFIX          (make install PREFIX=...)
#
#   PREFIX/lib/libkatamari.so.X.Y.Z    shared library (SONAME libkatamari.so.X)
#   PREFIX/lib/libkatamari.so.X        -> libkatamari.so.X.Y.Z
#   PREFIX/lib/libkatamari.so          -> libkatamari.so.X
#   PREFIX/lib/libkatamari.a           static archive
#   PREFIX/include/katamari.h          the C API
#   PREFIX/include/katamari.hpp        C++17 RAII wrappers (header-only)
#   PREFIX/lib/cmake/Katamari/KatamariConfig.cmake         imported targets
#   PREFIX/lib/cmake/Katamari/KatamariConfigVersion.cmake  SameMajorVersion
#   PREFIX/lib/pkgconfig/katamari.pc
#
# The CMake and pkg-config files locate the prefix relative to themselves, so the tree may
# be moved as a whole. Builds the release library first (`cargo build --release`, a no-op
# when up to date) unless KATAMARI_NO_BUILD=1. Artifacts come from $CARGO_TARGET_DIR
# (default: the repository's target/). DESTDIR is honoured for staged installs.
# LIBDIR (default "lib") names the library directory relative to PREFIX.
set -euo pipefail

usage() {
    echo "usage: $0 PREFIX" >&2
    exit 2
}
[ "$#" -eq 1 ] && [ -n "$1" ] || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=$1
case "$prefix" in
    /*) ;;
    *) prefix="$(pwd)/$prefix" ;;
esac
libdir_rel=${LIBDIR:-lib}
libdir_rel=${libdir_rel%/}
case "$libdir_rel" in
    /* | "" | *..*) echo "install.sh: LIBDIR must be a relative path below PREFIX" >&2; exit 2 ;;
esac
dest=${DESTDIR:-}${prefix}

# The system libraries the static archive needs (the Rust standard library's); the list
# `cargo rustc -- --print native-static-libs` prints. scripts/test-cmake.sh checks it.
native_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl"

version=$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' "$root/Cargo.toml" | head -n1)
if ! [[ "$version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "install.sh: cannot read the package version from Cargo.toml (got '$version')" >&2
    exit 1
fi
major=${BASH_REMATCH[1]}

target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in
    /*) ;;
    *) target_dir="$root/$target_dir" ;;
esac
release="$target_dir/release"

if [ "${KATAMARI_NO_BUILD:-0}" != 1 ]; then
    (cd "$root" && cargo build --release --quiet --lib)
fi
for f in "$release/libkatamari.so" "$release/libkatamari.a" "$root/include/katamari.h" \
    "$root/bindings/c/katamari.hpp"; do
    if [ ! -f "$f" ]; then
        echo "install.sh: $f is missing (run cargo build --release)" >&2
        exit 1
    fi
done

# "../" once per component of "<libdir>/cmake/Katamari" and "<libdir>/pkgconfig".
up_from() {
    local rel=$1 out="" part
    local IFS=/
    for part in $rel; do
        [ -n "$part" ] && out="$out../"
    done
    printf '%s' "${out%/}"
}
config_to_prefix=$(up_from "$libdir_rel/cmake/Katamari")
pc_to_prefix=$(up_from "$libdir_rel/pkgconfig")

sizeof_void_p=$(getconf LONG_BIT 2>/dev/null || echo 64)
sizeof_void_p=$((sizeof_void_p / 8))

# The CMake list form of the native libraries: "-lgcc_s;-lutil;...".
native_libs_cmake=${native_libs// /;}

substitute() {
    sed -e "s|@KATAMARI_VERSION@|$version|g" \
        -e "s|@KATAMARI_VERSION_MAJOR@|$major|g" \
        -e "s|@KATAMARI_LIBDIR@|$libdir_rel|g" \
        -e "s|@KATAMARI_CONFIG_TO_PREFIX@|$config_to_prefix|g" \
        -e "s|@KATAMARI_PC_TO_PREFIX@|$pc_to_prefix|g" \
        -e "s|@KATAMARI_SIZEOF_VOID_P@|$sizeof_void_p|g" \
        -e "s|@KATAMARI_NATIVE_LIBS_CMAKE@|$native_libs_cmake|g" \
        -e "s|@KATAMARI_NATIVE_LIBS@|$native_libs|g" \
        "$1" >"$2.tmp"
    if grep -q '@KATAMARI_[A-Z_]*@' "$2.tmp"; then
        echo "install.sh: unsubstituted placeholder in $2" >&2
        rm -f "$2.tmp"
        exit 1
    fi
    chmod 0644 "$2.tmp"
    mv -f "$2.tmp" "$2"
}

lib="$dest/$libdir_rel"
install -d "$lib" "$dest/include" "$lib/cmake/Katamari" "$lib/pkgconfig"

real="libkatamari.so.$version"
install -m 0755 "$release/libkatamari.so" "$lib/$real.tmp"
mv -f "$lib/$real.tmp" "$lib/$real"
ln -sfn "$real" "$lib/libkatamari.so.$major"
ln -sfn "libkatamari.so.$major" "$lib/libkatamari.so"
install -m 0644 "$release/libkatamari.a" "$lib/libkatamari.a"
install -m 0644 "$root/include/katamari.h" "$dest/include/katamari.h"
install -m 0644 "$root/bindings/c/katamari.hpp" "$dest/include/katamari.hpp"

substitute "$root/cmake/KatamariConfig.cmake.in" "$lib/cmake/Katamari/KatamariConfig.cmake"
substitute "$root/cmake/KatamariConfigVersion.cmake.in" \
    "$lib/cmake/Katamari/KatamariConfigVersion.cmake"
substitute "$root/cmake/katamari.pc.in" "$lib/pkgconfig/katamari.pc"

if [ -z "${KATAMARI_INSTALL_QUIET:-}" ]; then
    echo "installed katamari $version under $dest"
fi
