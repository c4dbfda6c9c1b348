//! The cross-language test vectors (`tests/vectors/kv.json`, format in
//! `tests/vectors/README.md`) run through the Rust API and through the C API.
//!
//! - `rust_vectors` executes every case with `katamari::Db`, `Txn`, `Iter`, `Keyspace`
//!   and `WriteBatch`, mapping errors to status names with `Error::status()`.
//! - `c_vectors` translates `kv.json` into a line-based script (`tests/vectors/support.rs`)
//!   and runs it with the C program `tests/vectors/runner.c`, built (C99, `-Wall -Wextra
//!   -Werror -pedantic`) against the `libkatamari.so` of this test run; with
//!   `KAT_VALGRIND=1` it also runs under valgrind, which must report no errors or leaks.
//!
//! Every case starts from an empty directory.
#![cfg(target_os = "linux")]

#[path = "vectors/support.rs"]
mod json;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use katamari::{Db, Error, IterOptions, Keyspace, Options, Status, Txn, TxnOptions, WriteBatch};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load_kv() -> Value {
    let path = root().join("tests/vectors/kv.json");
    let text = fs::read_to_string(&path).expect("read kv.json");
    let doc: Value = serde_json::from_str(&text).expect("kv.json is JSON");
    assert_eq!(doc["format"].as_u64(), Some(1), "kv.json format");
    doc
}

/// The C constant name of a status.
fn status_name(s: Status) -> &'static str {
    match s {
        Status::Ok => "KAT_OK",
        Status::NotFound => "KAT_NOT_FOUND",
        Status::InvalidArgument => "KAT_INVALID_ARGUMENT",
        Status::Io => "KAT_IO",
        Status::Corruption => "KAT_CORRUPTION",
        Status::Conflict => "KAT_CONFLICT",
        Status::Closed => "KAT_CLOSED",
        Status::Locked => "KAT_LOCKED",
        Status::NoSpace => "KAT_NO_SPACE",
        Status::TooLarge => "KAT_TOO_LARGE",
        Status::AuthFailed => "KAT_AUTH_FAILED",
        Status::ReadOnly => "KAT_READ_ONLY",
        Status::Panic => "KAT_PANIC",
        Status::Internal => "KAT_INTERNAL",
        Status::BufferTooSmall => "KAT_BUFFER_TOO_SMALL",
    }
}

fn name_of<T>(r: &Result<T, Error>) -> &'static str {
    match r {
        Ok(_) => "KAT_OK",
        Err(e) => status_name(e.status()),
    }
}

/// Shows bytes readably in failure messages (long values abbreviated).
fn show(b: &[u8]) -> String {
    let s = match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => format!("{s:?}"),
        _ => format!("hex:{}", json::hex(b)),
    };
    if s.len() > 80 {
        format!("{}...({} bytes)", cut(&s, 60), b.len())
    } else {
        s
    }
}

/// The longest prefix of `s` of at most `n` bytes that ends on a character boundary.
fn cut(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn show_entries(e: &Entries) -> String {
    let items: Vec<String> = e
        .iter()
        .map(|(k, v)| format!("[{}, {}]", show(k), show(v)))
        .collect();
    format!("[{}]", items.join(", "))
}

/// Describes how `got` differs from `expect`: both in full when short, else the first
/// difference.
fn entries_mismatch(got: &Entries, expect: &Entries) -> String {
    if got.len() <= 8 && expect.len() <= 8 {
        return format!(
            "entries {}, expected {}",
            show_entries(got),
            show_entries(expect)
        );
    }
    let at = got
        .iter()
        .zip(expect)
        .position(|(g, e)| g != e)
        .unwrap_or(got.len().min(expect.len()));
    let around = |e: &Entries| show_entries(&e[at.min(e.len())..(at + 2).min(e.len())].to_vec());
    format!(
        "{} entries, expected {}; first difference at #{at}: got {}, expected {}",
        got.len(),
        expect.len(),
        around(got),
        around(expect)
    )
}

/// One case's state: the open database, keyspace handles by name, open transactions.
struct Runner {
    dir: PathBuf,
    options: Options,
    db: Option<Db>,
    keyspaces: HashMap<String, Keyspace>,
    txns: HashMap<String, Txn>,
}

impl Runner {
    fn new(dir: PathBuf, case: &Value) -> Result<Runner, String> {
        let mut options = Options::default();
        if let Some(n) = case
            .get("options")
            .and_then(|o| o.get("segment_size"))
            .and_then(Value::as_u64)
        {
            options = options.segment_size(n);
        }
        let db = Db::open(&dir, options.clone()).map_err(|e| format!("open: {e}"))?;
        Ok(Runner {
            dir,
            options,
            db: Some(db),
            keyspaces: HashMap::new(),
            txns: HashMap::new(),
        })
    }

    fn db(&self) -> &Db {
        self.db.as_ref().expect("database is open")
    }

    /// The handle of keyspace `name`, opened (and created) on first use.
    fn keyspace(&mut self, name: &str) -> Result<Keyspace, Error> {
        if let Some(ks) = self.keyspaces.get(name) {
            return Ok(ks.clone());
        }
        let ks = self.db().keyspace(name.as_bytes())?;
        self.keyspaces.insert(name.to_string(), ks.clone());
        Ok(ks)
    }

    fn txn(&mut self, step: &Value) -> Result<&mut Txn, String> {
        let name = json::opt_str(step, "txn").ok_or("step without \"txn\"")?;
        self.txns
            .get_mut(name)
            .ok_or_else(|| format!("no open transaction named {name:?}"))
    }

    /// Runs one step; `Err` describes a mismatch.
    fn step(&mut self, step: &Value) -> Result<(), String> {
        let op = step["op"].as_str().ok_or("step without \"op\"")?;
        let want = json::status(step);
        let key = json::opt_bytes(step, "key");
        let value = json::opt_bytes(step, "value");
        let ks = json::opt_str(step, "ks").map(str::to_string);
        let key_ref = || key.as_deref().expect("step has a key");
        let check = |got: &str| {
            if got == want {
                Ok(())
            } else {
                Err(format!("status {got}, expected {want}"))
            }
        };
        match op {
            "put" => {
                let v = value.as_deref().ok_or("put without value")?;
                let r = match &ks {
                    None => self.db().put(key_ref(), v),
                    Some(n) => self.keyspace(n).and_then(|k| k.put(key_ref(), v)),
                };
                check(name_of(&r))
            }
            "get" => {
                let r = match &ks {
                    None => self.db().get(key_ref()),
                    Some(n) => self.keyspace(n).and_then(|k| k.get(key_ref())),
                };
                check_get(r, want, value.as_deref())
            }
            "delete" => {
                let r = match &ks {
                    None => self.db().delete(key_ref()),
                    Some(n) => self.keyspace(n).and_then(|k| k.delete(key_ref())),
                };
                check(name_of(&r))
            }
            "contains" => {
                let r = match &ks {
                    None => self.db().contains(key_ref()),
                    Some(n) => self.keyspace(n).and_then(|k| k.contains(key_ref())),
                };
                check(name_of(&r))?;
                if let (Ok(found), Some(expect)) = (&r, step.get("found").and_then(Value::as_bool))
                {
                    if *found != expect {
                        return Err(format!("found {found}, expected {expect}"));
                    }
                }
                Ok(())
            }
            "batch" => {
                let r = self.batch(step["ops"].as_array().ok_or("batch without ops")?);
                check(name_of(&r))
            }
            "begin" => {
                let name = json::opt_str(step, "txn").ok_or("begin without txn")?;
                if self.txns.contains_key(name) {
                    return Err(format!("transaction {name:?} is already open"));
                }
                let opts = TxnOptions {
                    read_only: json::flag(step, "read_only"),
                    serializable: json::flag(step, "serializable"),
                };
                let r = self.db().begin_with(opts);
                check(name_of(&r))?;
                if let Ok(t) = r {
                    self.txns.insert(name.to_string(), t);
                }
                Ok(())
            }
            "txn_put" => {
                let v = value.as_deref().ok_or("txn_put without value")?;
                let ksh = ks.as_deref().map(|n| self.keyspace(n)).transpose();
                let txn = self.txn(step)?;
                let r = ksh.and_then(|h| match h {
                    None => txn.put(key_ref(), v),
                    Some(h) => txn.put_in(&h, key_ref(), v),
                });
                check(name_of(&r))
            }
            "txn_get" => {
                let ksh = ks.as_deref().map(|n| self.keyspace(n)).transpose();
                let txn = self.txn(step)?;
                let r = ksh.and_then(|h| match h {
                    None => txn.get(key_ref()),
                    Some(h) => txn.get_in(&h, key_ref()),
                });
                check_get(r, want, value.as_deref())
            }
            "txn_delete" => {
                let ksh = ks.as_deref().map(|n| self.keyspace(n)).transpose();
                let txn = self.txn(step)?;
                let r = ksh.and_then(|h| match h {
                    None => txn.delete(key_ref()),
                    Some(h) => txn.delete_in(&h, key_ref()),
                });
                check(name_of(&r))
            }
            "commit" | "abort" => {
                let name = json::opt_str(step, "txn").ok_or("step without txn")?;
                let txn = self
                    .txns
                    .remove(name)
                    .ok_or_else(|| format!("no open transaction named {name:?}"))?;
                if op == "commit" {
                    check(name_of(&txn.commit()))
                } else {
                    txn.abort();
                    check("KAT_OK")
                }
            }
            "scan" => {
                let opts = IterOptions {
                    prefix: json::opt_bytes(step, "prefix"),
                    start: json::opt_bytes(step, "start"),
                    end: json::opt_bytes(step, "end"),
                    reverse: json::flag(step, "reverse"),
                };
                let ksh = ks.as_deref().map(|n| self.keyspace(n)).transpose();
                let it = match (json::opt_str(step, "txn").is_some(), ksh) {
                    (_, Err(e)) => Err(e),
                    (false, Ok(None)) => self.db().iter(&opts),
                    (false, Ok(Some(h))) => h.iter(&opts),
                    (true, Ok(h)) => {
                        let txn = self.txn(step)?;
                        match h {
                            None => txn.iter(&opts),
                            Some(h) => txn.iter_in(&h, &opts),
                        }
                    }
                };
                let r: Result<Entries, Error> = it.and_then(|it| it.collect());
                check(name_of(&r))?;
                if let Ok(got) = r {
                    let expect: Entries = step
                        .get("entries")
                        .and_then(Value::as_array)
                        .map(|es| {
                            es.iter()
                                .map(|e| (json::bytes(&e[0]), json::bytes(&e[1])))
                                .collect()
                        })
                        .unwrap_or_default();
                    if got != expect {
                        return Err(entries_mismatch(&got, &expect));
                    }
                }
                Ok(())
            }
            "drop_keyspace" => {
                let name = ks.as_deref().ok_or("drop_keyspace without ks")?;
                // Handles on the dropped keyspace are forgotten: the next use of the
                // name opens (creates) it afresh.
                self.keyspaces.remove(name);
                let r = self.db().drop_keyspace(name.as_bytes());
                check(name_of(&r))
            }
            "reopen" => {
                if !self.txns.is_empty() {
                    return Err("reopen with open transactions".into());
                }
                self.keyspaces.clear();
                if let Some(db) = self.db.take() {
                    db.close().map_err(|e| format!("close: {e}"))?;
                }
                let db = Db::open(&self.dir, self.options.clone())
                    .map_err(|e| format!("reopen: {e}"))?;
                self.db = Some(db);
                Ok(())
            }
            other => Err(format!("unknown op {other:?}")),
        }
    }

    fn batch(&mut self, ops: &[Value]) -> Result<(), Error> {
        let mut b = WriteBatch::new();
        for o in ops {
            let key = json::opt_bytes(o, "key").expect("batch op has a key");
            let ks = match json::opt_str(o, "ks") {
                None => None,
                Some(n) => Some(self.keyspace(n)?),
            };
            match (o["op"].as_str(), ks) {
                (Some("put"), None) => {
                    b.put(&key, &json::opt_bytes(o, "value").expect("value"))?;
                }
                (Some("put"), Some(h)) => {
                    b.put_in(&h, &key, &json::opt_bytes(o, "value").expect("value"))?;
                }
                (Some("delete"), None) => {
                    b.delete(&key)?;
                }
                (Some("delete"), Some(h)) => {
                    b.delete_in(&h, &key)?;
                }
                (other, _) => panic!("unknown batch op {other:?}"),
            }
        }
        self.db().write(&b)
    }

    fn finish(mut self) -> Result<(), String> {
        let open: Vec<String> = self.txns.keys().cloned().collect();
        self.txns.clear();
        self.keyspaces.clear();
        if let Some(db) = self.db.take() {
            db.close().map_err(|e| format!("close: {e}"))?;
        }
        if open.is_empty() {
            Ok(())
        } else {
            Err(format!("transactions left open at the end: {open:?}"))
        }
    }
}

fn check_get(
    r: Result<Option<Vec<u8>>, Error>,
    want: &str,
    value: Option<&[u8]>,
) -> Result<(), String> {
    let got = match &r {
        Ok(Some(_)) => "KAT_OK",
        Ok(None) => "KAT_NOT_FOUND",
        Err(e) => status_name(e.status()),
    };
    if got != want {
        let detail = match &r {
            Ok(Some(v)) => format!(" (value {})", show(v)),
            Err(e) => format!(" ({e})"),
            Ok(None) => String::new(),
        };
        return Err(format!("status {got}{detail}, expected {want}"));
    }
    if let (Ok(Some(v)), Some(expect)) = (&r, value) {
        if v.as_slice() != expect {
            return Err(format!("value {}, expected {}", show(v), show(expect)));
        }
    }
    Ok(())
}

fn run_case(case: &Value) -> Result<usize, String> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut r = Runner::new(tmp.path().join("db"), case)?;
    let steps = case["steps"].as_array().ok_or("case without steps")?;
    for (i, step) in steps.iter().enumerate() {
        r.step(step)
            .map_err(|e| format!("step {} {}: {e}", i + 1, abbreviate(step)))?;
    }
    r.finish()?;
    Ok(steps.len())
}

fn abbreviate(step: &Value) -> String {
    let s = step.to_string();
    if s.len() > 200 {
        format!("{}...", cut(&s, 200))
    } else {
        s
    }
}

#[test]
fn rust_vectors() {
    let doc = load_kv();
    let cases = doc["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    let mut steps = 0;
    for case in cases {
        let name = case["name"].as_str().expect("case name");
        match run_case(case) {
            Ok(n) => steps += n,
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    eprintln!("rust vectors: {} cases, {steps} steps passed", cases.len());
}

/// Structural checks the runners rely on: unique case names, known ops and statuses,
/// transactions ended before `reopen` and at the end of each case.
#[test]
fn vectors_are_well_formed() {
    let doc = load_kv();
    let known_status: Vec<&str> = Status::ALL.iter().map(|s| status_name(*s)).collect();
    let mut names = std::collections::HashSet::new();
    for case in doc["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("case name");
        assert!(names.insert(name), "duplicate case name {name:?}");
        let mut open = std::collections::HashSet::new();
        for step in case["steps"].as_array().expect("steps") {
            let st = json::status(step);
            assert!(known_status.contains(&st), "{name}: unknown status {st}");
            let txn = json::opt_str(step, "txn");
            match step["op"].as_str().expect("op") {
                "begin" => assert!(open.insert(txn.expect("txn")), "{name}: txn reused"),
                "commit" | "abort" => assert!(open.remove(txn.expect("txn")), "{name}: txn"),
                "reopen" => assert!(open.is_empty(), "{name}: reopen with open txns"),
                "txn_put" | "txn_get" | "txn_delete" => {
                    assert!(open.contains(txn.expect("txn")), "{name}: txn not open")
                }
                "scan" => {
                    if let Some(t) = txn {
                        assert!(open.contains(t), "{name}: scan in a txn not open");
                    }
                }
                "put" | "get" | "delete" | "contains" | "batch" | "drop_keyspace" => {}
                other => panic!("{name}: unknown op {other}"),
            }
        }
        assert!(open.is_empty(), "{name}: transactions left open");
    }
    // The translation to the C script covers every case.
    let lines = json::kv_to_lines(&doc);
    assert_eq!(
        lines.lines().filter(|l| l.starts_with("case ")).count(),
        names.len()
    );
}

// ---- The C runner ----

fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("test binary has a directory");
    [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|d| d.join("libkatamari.so"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("libkatamari.so not found near {}", exe.display()))
}

fn output_text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `(output directory, library directory)` for the C programs, made once per process
/// (the tests of this file run in parallel threads). The library directory holds
/// `libkatamari.so` and `libkatamari.so.<MAJOR>` symlinks to this run's cdylib.
fn build_dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
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
        let out = profile.join("vectors-c");
        let lib_dir = out.join("lib");
        fs::create_dir_all(&lib_dir).expect("create the build directory");
        let soname = format!("libkatamari.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
        for link in ["libkatamari.so", soname.as_str()] {
            // Replaced atomically: other test processes may race.
            let tmp = lib_dir.join(format!("{link}.tmp{}", std::process::id()));
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&lib, &tmp).expect("symlink");
            fs::rename(&tmp, lib_dir.join(link)).expect("rename symlink");
        }
        (out, lib_dir)
    })
}

/// Builds `tests/vectors/<name>.c` into `<target>/<profile>/vectors-c/<name>`, linked
/// against this run's `libkatamari.so` (with an rpath and a SONAME link beside it).
fn build_c(name: &str) -> PathBuf {
    let (out, lib_dir) = build_dirs();
    let exe = out.join(name);
    let _ = fs::remove_file(&exe);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join(format!("tests/vectors/{name}.c")))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(lib_dir)
        .arg("-lkatamari")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        o.status.success(),
        "{cc} {name}.c failed\n{}",
        output_text(&o)
    );
    exe
}

fn run_c_runner(prefix: &[&str], exe: &Path, script: &Path) -> Output {
    let work = tempfile::tempdir().expect("temp dir");
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let o = cmd
        .arg(script)
        .arg(work.path())
        .output()
        .expect("run the C runner");
    assert!(
        o.status.success(),
        "the C vector runner failed ({})\n{}",
        o.status,
        output_text(&o)
    );
    o
}

#[test]
fn c_vectors() {
    let doc = load_kv();
    let cases = doc["cases"].as_array().expect("cases").len();
    let exe = build_c("runner");
    let scripts = tempfile::tempdir().expect("temp dir");
    let script = scripts.path().join("kv.script");
    fs::write(&script, json::kv_to_lines(&doc)).expect("write the script");

    let o = run_c_runner(&[], &exe, &script);
    let out = String::from_utf8_lossy(&o.stdout);
    let summary = format!("vectors: {cases} cases passed");
    assert!(
        out.contains(&summary),
        "expected {summary:?}\n{}",
        output_text(&o)
    );

    if std::env::var_os("KAT_VALGRIND").is_some_and(|v| v == "1") {
        let valgrind = [
            "valgrind",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--show-leak-kinds=definite,indirect,possible",
        ];
        let o = run_c_runner(&valgrind, &exe, &script);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
            "memory errors or leaks\n{}",
            output_text(&o)
        );
    }
}

// ---- The round trip between Rust and C (scripts/roundtrip.sh adds Go and Node) ----

fn run_roundtrip_c(exe: &Path, args: &[&Path]) -> String {
    let mut cmd = if std::env::var_os("KAT_VALGRIND").is_some_and(|v| v == "1") {
        let mut c = Command::new("valgrind");
        c.args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
        ])
        .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let o = cmd
        .args(args)
        .output()
        .expect("run the C round-trip program");
    assert!(
        o.status.success(),
        "roundtrip.c {args:?} failed ({})\n{}",
        o.status,
        output_text(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn roundtrip_rust_and_c() {
    let ds = json::Dataset::load(&root().join("tests/vectors/dataset.json"));
    let exe = build_c("roundtrip");
    let tmp = tempfile::tempdir().expect("temp dir");
    let lines = tmp.path().join("dataset.lines");
    fs::write(&lines, ds.to_lines()).expect("write the dataset lines");
    let (write, read) = (Path::new("write"), Path::new("read"));

    // Rust writes, C reads.
    let by_rust = tmp.path().join("by-rust");
    json::write_dataset(&by_rust, &ds, "rust").expect("rust writer");
    let out = run_roundtrip_c(&exe, &[read, &by_rust, &lines]);
    assert!(out.contains("c reader: ok (written by rust)"), "{out}");

    // C writes, Rust (and C) read.
    let by_c = tmp.path().join("by-c");
    run_roundtrip_c(&exe, &[write, &by_c, &lines]);
    assert_eq!(json::verify_dataset(&by_c, &ds).as_deref(), Ok("c"));
    let out = run_roundtrip_c(&exe, &[read, &by_c, &lines]);
    assert!(out.contains("c reader: ok (written by c)"), "{out}");

    // A directory that differs from the dataset is refused by both readers.
    let db = Db::open(&by_c, Options::default()).expect("open");
    db.keyspace(b"users")
        .and_then(|ks| ks.put(b"user:9", b"extra"))
        .expect("put");
    db.close().expect("close");
    assert!(json::verify_dataset(&by_c, &ds).is_err());
    let o = Command::new(&exe)
        .arg(read)
        .arg(&by_c)
        .arg(&lines)
        .output()
        .expect("run");
    assert!(
        !o.status.success(),
        "the C reader accepted a changed directory"
    );
}
