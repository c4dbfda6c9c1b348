//! The C++ wrappers (`bindings/c/katamari.hpp`) seen from C++: builds
//! `tests/cpp/wrapper.cpp` as C++17 and C++20 and the example
//! `bindings/c/examples/demo.cpp` as C++17 with g++ (or `$CXX`), `-Wall -Wextra -Werror
//! -pedantic`, against the `libkatamari.so` that `cargo test` just built, and runs each
//! with a fresh temporary directory as `argv[1]`.
//!
//! With `KAT_VALGRIND=1` the C++17 wrapper test also runs under valgrind and must have no
//! memory errors and no definite, indirect or possible leaks.
#![cfg(target_os = "linux")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The cdylib of this test run: `<target>/<profile>/deps/libkatamari.so` next to the
/// test binary (or one directory up after `cargo build`).
fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("test binary has a directory");
    [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|d| d.join("libkatamari.so"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("libkatamari.so not found near {}", exe.display()))
}

/// `(output directory, library directory)`: the library directory holds
/// `libkatamari.so` and `libkatamari.so.<MAJOR>` symlinks to the cdylib.
fn dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let lib = cdylib();
        let profile = lib
            .parent()
            .map(|d| {
                if d.ends_with("deps") {
                    d.parent().unwrap_or(d)
                } else {
                    d
                }
            })
            .expect("library directory")
            .to_path_buf();
        let out = profile.join("cpp-tests");
        let lib_dir = out.join("lib");
        fs::create_dir_all(&lib_dir).expect("create the C++ build directory");
        let soname = format!("libkatamari.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
        for name in ["libkatamari.so", soname.as_str()] {
            // Replace atomically: other test processes may race.
            let link = lib_dir.join(name);
            let tmp = lib_dir.join(format!("{name}.tmp{}", std::process::id()));
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&lib, &tmp).expect("symlink");
            fs::rename(&tmp, &link).expect("rename symlink");
        }
        (out, lib_dir)
    })
}

fn output_text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Compiles `source` as C++ standard `std` into an executable named `name`.
fn build(source: &Path, name: &str, std: &str) -> PathBuf {
    let (out, lib_dir) = dirs();
    let exe = out.join(name);
    let _ = fs::remove_file(&exe);
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    let o = Command::new(&cxx)
        .arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("bindings/c"))
        .arg(source)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(lib_dir)
        .arg("-lkatamari")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cxx}: {e}"));
    assert!(
        o.status.success(),
        "{cxx} -std={std} {} failed\n{}",
        source.display(),
        output_text(&o)
    );
    exe
}

/// Runs `exe <fresh dir>` (under `prefix`, e.g. valgrind, when given); returns stdout.
fn run(prefix: &[&str], exe: &Path) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let o = cmd
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    assert!(
        o.status.success(),
        "{} failed with {}\n{}",
        exe.display(),
        o.status,
        output_text(&o)
    );
    if !prefix.is_empty() {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
            "{}: memory errors or leaks\n{}",
            exe.display(),
            output_text(&o)
        );
    }
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn check_wrapper_output(out: &str) {
    let n: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("wrapper: "))
        .and_then(|r| r.strip_suffix(" checks passed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line:\n{out}"));
    assert!(n >= 100, "only {n} checks ran:\n{out}");
}

#[test]
fn cpp17_wrapper() {
    let exe = build(
        &root().join("tests/cpp/wrapper.cpp"),
        "wrapper-cxx17",
        "c++17",
    );
    check_wrapper_output(&run(&[], &exe));
    if std::env::var_os("KAT_VALGRIND").is_some_and(|v| v == "1") {
        let valgrind = [
            "valgrind",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--show-leak-kinds=definite,indirect,possible",
        ];
        check_wrapper_output(&run(&valgrind, &exe));
    }
}

#[test]
fn cpp20_wrapper() {
    let exe = build(
        &root().join("tests/cpp/wrapper.cpp"),
        "wrapper-cxx20",
        "c++20",
    );
    check_wrapper_output(&run(&[], &exe));
}

#[test]
fn cpp_demo() {
    let exe = build(
        &root().join("bindings/c/examples/demo.cpp"),
        "demo-cpp",
        "c++17",
    );
    let out = run(&[], &exe);
    let after = out.find("after reopening:").expect("the demo reopens");
    for line in [
        "get  greeting = hello from C++",
        "get  fruit:1 = apple",
        "get  counter = 10",
        "get  missing : not found",
        "get  empty = \"\" (present, empty)",
        "users/greeting = hello, users",
    ] {
        assert!(out[after..].contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(out.contains("second commit: KAT_CONFLICT"), "{out}");
}

/// The header is self-contained and include-guarded.
#[test]
fn hpp_compiles_alone_twice() {
    let (out, _) = dirs();
    let src = out.join("hpp_only.cpp");
    fs::write(
        &src,
        "#include \"katamari.hpp\"\n#include \"katamari.hpp\"\nint main() { return 0; }\n",
    )
    .expect("write source");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    let o = Command::new(&cxx)
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-fsyntax-only")
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("bindings/c"))
        .arg(&src)
        .output()
        .expect("run the compiler");
    assert!(o.status.success(), "{}", output_text(&o));
}
