//! Generates the C header from `src/ffi` with cbindgen and sets the shared library's
//! SONAME. The generated header goes to OUT_DIR; `tests/header.rs` fails when the
//! committed `include/katamari.h` differs from it. `KATAMARI_WRITE_HEADER=1` (as used by
//! `make header`) also writes it into `include/`.

use std::env;
use std::path::PathBuf;

fn main() {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkatamari.so.{major}");

    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets the dir"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=KATAMARI_WRITE_HEADER");

    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen can parse src/ffi");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("katamari.h");
    bindings.write_to_file(&out);
    println!(
        "cargo:rustc-env=KATAMARI_GENERATED_HEADER={}",
        out.display()
    );
    if env::var_os("KATAMARI_WRITE_HEADER").is_some_and(|v| v == "1") {
        bindings.write_to_file(root.join("include/katamari.h"));
    }
}
