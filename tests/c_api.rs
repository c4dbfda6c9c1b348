//! The C API seen from C: builds the programs in `tests/c/` and the example
//! `bindings/c/examples/demo.c` with the `cc` crate (C99, `-Wall -Wextra -Werror
//! -pedantic`) against the `libkatamari.so` that `cargo test` just built, and runs each
//! with a fresh temporary directory as `argv[1]`.
//!
//! With `KAT_VALGRIND=1` every program also runs under valgrind and must have no memory
//! errors and no definite, indirect or possible leaks.
//!
//! Also checks that `include/katamari.h` compiles on its own as C99 and as C++17 and that
//! C++ links against the library (C linkage), and that the C programs call every function
//! and use every constant the header declares.
#![cfg(target_os = "linux")]

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The C test programs in `tests/c/`, one `#[test]` each (checked by
/// `every_c_program_has_a_test`).
const PROGRAMS: &[&str] = &[
    "basics",
    "keyspace",
    "null_args",
    "closed",
    "batch",
    "persistence",
    "corruption",
    "txn",
    "iter",
    "ttl",
    "maintenance",
    "column",
    "bucket",
];

/// Longest a program may run (valgrind included) before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(300);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where the artifacts go and where the library is linked from.
struct BuildEnv {
    /// Executables and objects.
    out_dir: PathBuf,
    /// Holds `libkatamari.so` and `libkatamari.so.<MAJOR>` (the SONAME the executables
    /// ask for at run time), both symlinks to the library cargo built.
    lib_dir: PathBuf,
}

/// The cdylib cargo built for this test run. `cargo test` builds the library with all its
/// crate types into `<target>/<profile>/deps/` next to this test binary (only `cargo build`
/// also copies it up to `<target>/<profile>/`), so that directory comes first.
fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("test binary has a directory");
    let candidates = [
        deps.to_path_buf(),
        deps.parent().unwrap_or(deps).to_path_buf(),
    ]
    .map(|d| d.join("libkatamari.so"));
    candidates
        .iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("libkatamari.so not found; looked at {candidates:?}"))
        .clone()
}

/// Replaces `link` by a symlink to `target` atomically (other test processes may race).
fn symlink_atomically(target: &Path, link: &Path) {
    let tmp = link.with_extension(format!("tmp{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).expect("create symlink");
    fs::rename(&tmp, link).expect("rename symlink into place");
}

fn build_env() -> &'static BuildEnv {
    static ENV: OnceLock<BuildEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        let lib = cdylib();
        let profile_dir = lib
            .parent()
            .and_then(|d| {
                if d.ends_with("deps") {
                    d.parent()
                } else {
                    Some(d)
                }
            })
            .expect("library directory")
            .to_path_buf();
        let out_dir = profile_dir.join("c-api-tests");
        let lib_dir = out_dir.join("lib");
        fs::create_dir_all(&lib_dir).expect("create the C build directory");
        let soname = format!("libkatamari.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
        symlink_atomically(&lib, &lib_dir.join("libkatamari.so"));
        symlink_atomically(&lib, &lib_dir.join(soname));
        BuildEnv { out_dir, lib_dir }
    })
}

/// The target triple of this test binary (there is no TARGET variable outside build
/// scripts); Linux only, like the rest of this file.
fn target_triple() -> String {
    let arch = match std::env::consts::ARCH {
        "x86" => "i686",
        a => a,
    };
    let env = if cfg!(target_env = "musl") {
        "musl"
    } else {
        "gnu"
    };
    format!("{arch}-unknown-linux-{env}")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    C99,
    Cxx17,
}

/// A compiler command for `lang` with the project's warning flags and `-I include`; `CC`
/// / `CXX` and `CFLAGS` / `CXXFLAGS` are honoured as the `cc` crate does; C++ defaults to
/// g++. The `cc` crate probes the compiler once per language, in a directory of its own
/// (its probe files have fixed names, so parallel probes must not share one).
fn compiler(lang: Lang) -> Command {
    static C99: OnceLock<cc::Tool> = OnceLock::new();
    static CXX17: OnceLock<cc::Tool> = OnceLock::new();
    let cell = match lang {
        Lang::C99 => &C99,
        Lang::Cxx17 => &CXX17,
    };
    cell.get_or_init(|| make_tool(lang)).to_command()
}

fn make_tool(lang: Lang) -> cc::Tool {
    let (std_name, probe_dir) = match lang {
        Lang::C99 => ("c99", "cc-probe-c99"),
        Lang::Cxx17 => ("c++17", "cc-probe-cxx17"),
    };
    let probe_dir = build_env().out_dir.join(probe_dir);
    fs::create_dir_all(&probe_dir).expect("create the probe directory");
    let target = target_triple();
    let mut b = cc::Build::new();
    b.target(&target)
        .host(&target)
        .opt_level(0)
        .debug(true)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .emit_rerun_if_env_changed(false)
        .inherit_rustflags(false)
        .out_dir(&probe_dir)
        .std(std_name)
        .warnings(true) // -Wall
        .extra_warnings(true) // -Wextra
        .warnings_into_errors(true) // -Werror
        .flag("-pedantic")
        .include(root().join("include"));
    if lang == Lang::Cxx17 {
        b.cpp(true);
        if std::env::var_os("CXX").is_none() {
            b.compiler("g++");
        }
    }
    let tool = b
        .try_get_compiler()
        .unwrap_or_else(|e| panic!("no C/C++ compiler: {e}"));
    let args: Vec<&OsStr> = tool.args().iter().map(|a| a.as_os_str()).collect();
    let std_flag = format!("-std={std_name}");
    for flag in [
        std_flag.as_str(),
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
    ] {
        assert!(
            args.contains(&OsStr::new(flag)),
            "compiler command lacks {flag}: {args:?}"
        );
    }
    tool
}

/// Runs `cmd` to completion (killing it after [`TIMEOUT`]); returns status, stdout and
/// stderr.
fn run(cmd: &mut Command) -> (ExitStatus, String, String) {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} still running after {TIMEOUT:?}; killed\nstdout:\n{}\nstderr:\n{}",
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    (
        status,
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    )
}

/// Runs `cmd` and panics with its output unless it succeeds; returns stdout.
fn run_ok(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    let (status, out, err) = run(cmd);
    assert!(
        status.success(),
        "{what} failed with {status}\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}

/// Compiles and links `source` into an executable named `name` against libkatamari.so.
fn build_program(source: &Path, name: &str, lang: Lang) -> PathBuf {
    let env = build_env();
    let exe = env.out_dir.join(name);
    let _ = fs::remove_file(&exe);
    let mut cmd = compiler(lang);
    cmd.arg(source)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&env.lib_dir)
        .arg("-lkatamari")
        .arg(format!("-Wl,-rpath,{}", env.lib_dir.display()));
    run_ok(&mut cmd);
    assert!(exe.is_file(), "{} was not produced", exe.display());
    exe
}

fn valgrind_requested() -> bool {
    std::env::var_os("KAT_VALGRIND").is_some_and(|v| v == "1")
}

/// Runs `exe <fresh temp dir>`, then (with `KAT_VALGRIND=1`) once more under valgrind in
/// another fresh directory. Returns the stdout of the plain run.
fn run_program(exe: &Path) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_ok(Command::new(exe).arg(dir.path()));
    if valgrind_requested() {
        run_under_valgrind(exe);
    }
    out
}

fn run_under_valgrind(exe: &Path) {
    if let Err(e) = Command::new("valgrind").arg("--version").output() {
        panic!(
            "KAT_VALGRIND=1 but valgrind cannot be run ({e}); install it \
             (scripts/setup.sh, or apt-get install valgrind) or unset KAT_VALGRIND"
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect,possible",
        "--show-leak-kinds=definite,indirect,possible",
    ])
    .arg(exe)
    .arg(dir.path());
    let what = format!("{cmd:?}");
    let (status, out, err) = run(&mut cmd);
    assert!(
        status.success() && err.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
        "{what}: memory errors or leaks (exit {status})\nstdout:\n{out}\nvalgrind:\n{err}"
    );
}

/// Builds and runs `tests/c/<name>.c`; it must report a positive number of checks.
fn check_c_program(name: &str) {
    let source = root().join("tests/c").join(format!("{name}.c"));
    let exe = build_program(&source, name, Lang::C99);
    let out = run_program(&exe);
    let summary = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .and_then(|rest| rest.strip_suffix(" checks passed"))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{name} printed no summary line:\n{out}"));
    assert!(summary > 0, "{name} ran no checks");
}

#[test]
fn c_basics() {
    check_c_program("basics");
}

#[test]
fn c_null_args() {
    check_c_program("null_args");
}

#[test]
fn c_closed() {
    check_c_program("closed");
}

#[test]
fn c_batch() {
    check_c_program("batch");
}

#[test]
fn c_persistence() {
    check_c_program("persistence");
}

#[test]
fn c_corruption() {
    check_c_program("corruption");
}

#[test]
fn c_txn() {
    check_c_program("txn");
}

#[test]
fn c_iter() {
    check_c_program("iter");
}

#[test]
fn c_ttl() {
    check_c_program("ttl");
}

#[test]
fn c_maintenance() {
    check_c_program("maintenance");
}

#[test]
fn c_keyspace() {
    check_c_program("keyspace");
}

#[test]
fn c_column() {
    check_c_program("column");
}

#[test]
fn c_bucket() {
    check_c_program("bucket");
}

#[test]
fn every_c_program_has_a_test() {
    let mut found: Vec<String> = fs::read_dir(root().join("tests/c"))
        .expect("tests/c")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension() == Some(OsStr::new("c")))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = PROGRAMS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "tests/c/*.c and PROGRAMS differ");
}

/// The function names a header declares (one declaration starts per line).
fn declared_functions(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in header.lines() {
        let line = line.trim_start();
        if line.starts_with('*') || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        if let Some(open) = line.find('(') {
            if let Some(name) = line[..open].rsplit([' ', '*']).next() {
                if name.starts_with("kat_") {
                    names.push(name.to_string());
                }
            }
        }
    }
    names
}

/// The `KAT_*` macros a header defines.
fn declared_constants(header: &str) -> Vec<String> {
    header
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("KAT_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn c_programs_use_every_function_and_constant_of_the_header() {
    let header = fs::read_to_string(root().join("include/katamari.h")).expect("header");
    let mut sources = String::new();
    for name in PROGRAMS {
        sources += &fs::read_to_string(root().join(format!("tests/c/{name}.c"))).unwrap();
    }
    let functions = declared_functions(&header);
    assert!(functions.len() >= 30, "parsed only {functions:?}");
    let uncalled: Vec<_> = functions
        .iter()
        .filter(|f| !sources.contains(&format!("{f}(")))
        .collect();
    assert!(
        uncalled.is_empty(),
        "never called from tests/c: {uncalled:?}"
    );
    let constants = declared_constants(&header);
    assert!(constants.len() >= 20, "parsed only {constants:?}");
    let unused: Vec<_> = constants
        .iter()
        .filter(|c| !sources.contains(c.as_str()))
        .collect();
    assert!(unused.is_empty(), "never used in tests/c: {unused:?}");
}

/// Compiles `text` (a translation unit) to an object file.
fn compile_only(name: &str, text: &str, lang: Lang) {
    let env = build_env();
    let src = env.out_dir.join(name);
    fs::write(&src, text).expect("write translation unit");
    let obj = env.out_dir.join(format!("{name}.o"));
    let _ = fs::remove_file(&obj);
    run_ok(compiler(lang).arg("-c").arg(&src).arg("-o").arg(&obj));
    assert!(obj.is_file());
}

const HEADER_ONLY: &str = "#include \"katamari.h\"\n#include \"katamari.h\" /* guarded */\n";

#[test]
fn header_compiles_alone_as_c99() {
    compile_only("header_only.c", HEADER_ONLY, Lang::C99);
}

#[test]
fn header_compiles_alone_as_cpp17() {
    compile_only("header_only.cpp", HEADER_ONLY, Lang::Cxx17);
}

#[test]
fn header_links_from_cpp17() {
    let exe = build_program(
        &root().join("tests/c/header_cpp.cpp"),
        "header_cpp",
        Lang::Cxx17,
    );
    let out = run_program(&exe);
    assert_eq!(out.trim(), "header_cpp: ok");
}

#[test]
fn c_demo() {
    let exe = build_program(
        &root().join("bindings/c/examples/demo.c"),
        "demo",
        Lang::C99,
    );
    let out = run_program(&exe);
    let before = out.find("reading back:").expect("demo reads back");
    let after = out.find("after reopening:").expect("demo reopens");
    assert!(before < after, "{out}");
    assert!(out.starts_with(&format!("katamari {}", env!("CARGO_PKG_VERSION"))));
    // The same values before closing and after reopening; the batch's delete held.
    for part in [&out[before..after], &out[after..]] {
        for line in [
            "get  c:greeting = hello, world",
            "get  c:language = C",
            "get  c:answer   = 42",
            "get  c:fruit:1  = apple",
            "get  c:fruit:2  = banana",
            "get  c:scratch  : not found",
        ] {
            assert!(part.contains(line), "missing {line:?} in:\n{part}");
        }
    }
    assert!(out.contains("stats: 5 live keys"), "{out}");
    assert_eq!(out.matches("opened ").count(), 2);
    assert_eq!(out.matches("closed").count(), 2);
}
