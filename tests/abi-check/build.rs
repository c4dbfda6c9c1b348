//! Generates Rust bindings from the committed C header `include/katamari.h` with bindgen
//! and links them against the shared library of the main crate, so the tests call the
//! library exactly as a C program compiled against that header would.
//!
//! `KATAMARI_LIB_DIR` names the directory holding `libkatamari.so` (default
//! `../../target/debug`; a relative path is taken from this crate's directory). The test
//! binaries get an rpath to it, plus an rpath to a directory in OUT_DIR holding
//! `libkatamari.so.<MAJOR>` -> `<dir>/libkatamari.so`, because the binaries record the
//! library's SONAME and a cargo target directory has no such symlink.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use bindgen::callbacks::{IntKind, ParseCallbacks};

/// Gives the header's integer macros the types the header means for them: status codes
/// are `kat_status` (int32_t), sync modes `kat_sync`, everything else (versions, flags)
/// stays `u32`.
#[derive(Debug)]
struct MacroTypes;

impl ParseCallbacks for MacroTypes {
    fn int_macro(&self, name: &str, _value: i64) -> Option<IntKind> {
        let custom = |name: &'static str, is_signed| IntKind::Custom { name, is_signed };
        if name.starts_with("KAT_SYNC_") {
            Some(custom("kat_sync", false))
        } else if name.starts_with("KAT_VERSION_") || name.starts_with("KAT_TXN_") {
            None
        } else if name.starts_with("KAT_") {
            Some(custom("kat_status", true))
        } else {
            None
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets the dir"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let header = manifest.join("../../include/katamari.h");
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-env-changed=KATAMARI_LIB_DIR");

    let bindings = bindgen::Builder::default()
        .header(header.to_str().expect("the header path is UTF-8"))
        .allowlist_function("kat_.*")
        .allowlist_type("kat_.*")
        .allowlist_var("KAT_.*")
        .parse_callbacks(Box::new(MacroTypes))
        .layout_tests(true)
        .generate_comments(true)
        .generate()
        .expect(
            "bindgen parses include/katamari.h (is libclang-dev installed? run scripts/setup.sh)",
        );
    let text = bindings.to_string();
    fs::write(out_dir.join("bindings.rs"), &text).expect("OUT_DIR is writable");
    fs::write(out_dir.join("functions.rs"), function_table(&text)).expect("OUT_DIR is writable");

    // The library.
    let lib_dir = match env::var_os("KATAMARI_LIB_DIR") {
        Some(d) if !d.is_empty() => manifest.join(d),
        _ => manifest.join("../../target/debug"),
    };
    let lib_dir = fs::canonicalize(&lib_dir).unwrap_or(lib_dir);
    let lib = lib_dir.join("libkatamari.so");
    println!("cargo:rerun-if-changed={}", lib.display());
    if !lib.exists() {
        // `cargo check`/`clippy` need no library; a link or test run will fail clearly.
        println!(
            "cargo:warning={} does not exist: run `cargo build` in the repository root or set KATAMARI_LIB_DIR",
            lib.display()
        );
    }

    // Symlinks named after the SONAME the header implies and, if it differs, the one the
    // library actually has (so a mismatch fails the SONAME test, not the loader).
    let link_dir = out_dir.join("soname");
    fs::create_dir_all(&link_dir).expect("OUT_DIR is writable");
    let mut names = vec![format!("libkatamari.so.{}", header_major(&text))];
    if let Some(actual) = soname(&lib) {
        if !names.contains(&actual) {
            names.push(actual);
        }
    }
    for name in names {
        let link = link_dir.join(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&lib, &link).expect("can create a symlink in OUT_DIR");
    }

    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib=katamari");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", link_dir.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    println!("cargo:rustc-env=KATAMARI_ABI_LIB={}", lib.display());
}

/// `KAT_VERSION_MAJOR` as bindgen read it from the header.
fn header_major(bindings: &str) -> String {
    bindings
        .lines()
        .find_map(|l| l.trim().strip_prefix("pub const KAT_VERSION_MAJOR: u32 = "))
        .and_then(|v| v.strip_suffix(';'))
        .expect("the header defines KAT_VERSION_MAJOR")
        .to_string()
}

/// The SONAME recorded in `lib`, if the library exists and `readelf` can tell.
fn soname(lib: &Path) -> Option<String> {
    let out = Command::new("readelf").arg("-d").arg(lib).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("(SONAME)"))?;
    let start = line.find('[')? + 1;
    let end = line.rfind(']')?;
    Some(line[start..end].to_string())
}

/// Rust source listing every function the header declares with its address, so that
/// linking the tests fails if the library lacks any of them.
fn function_table(bindings: &str) -> String {
    let mut names: Vec<&str> = bindings
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub fn "))
        .filter_map(|l| l.split('(').next())
        .filter(|n| n.starts_with("kat_"))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut src = String::from(
        "/// Every function declared in `include/katamari.h`, with its address in the loaded\n\
         /// library.\n\
         pub fn header_functions() -> Vec<(&'static str, *const ())> {\n    vec![\n",
    );
    for n in names {
        writeln!(src, "        (\"{n}\", crate::sys::{n} as *const ()),").expect("String writes");
    }
    src.push_str("    ]\n}\n");
    src
}
