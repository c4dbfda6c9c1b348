//! The `katamari` command-line tool, driven as a user would: arguments, stdin, exit codes,
//! stdout and stderr. Databases are checked through the library where it matters.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use katamari::{Db, IterOptions, Options};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_katamari");

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }
    fn lines(&self) -> Vec<String> {
        self.out().lines().map(str::to_owned).collect()
    }
    fn json_lines(&self) -> Vec<Value> {
        self.out()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }
    /// Asserts success with nothing on stderr.
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        assert_eq!(
            self.stderr, "",
            "a successful command prints nothing on stderr"
        );
        self
    }
    /// Asserts exit `code` with exactly one `katamari: ...` line on stderr containing
    /// `needle`.
    fn fails(self, code: i32, needle: &str) -> Run {
        assert_eq!(self.code, code, "stderr: {}", self.stderr);
        assert!(
            self.stderr.starts_with("katamari: ") && self.stderr.ends_with('\n'),
            "{:?}",
            self.stderr
        );
        assert_eq!(self.stderr.lines().count(), 1, "{:?}", self.stderr);
        assert!(
            self.stderr.contains(needle),
            "{:?} should contain {needle:?}",
            self.stderr
        );
        self
    }
}

fn run_with(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_env(args, stdin, &[])
}

/// Runs the tool with extra environment variables (and never an inherited bucket key).
fn run_env(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .env("KATAMARI_HISTORY", "")
        .env_remove("KATAMARI_BUCKET_KEY")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the katamari binary runs");
    if let Some(input) = stdin {
        // Written from a thread so a child that prints before reading cannot deadlock.
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: out.stdout,
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn run(args: &[&str]) -> Run {
    run_with(args, None)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A temporary directory and a database path inside it (not yet created).
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    (tmp, db)
}

/// A database with a few keys, made through the CLI.
fn seeded() -> (tempfile::TempDir, PathBuf) {
    let (tmp, db) = scratch();
    run(&["put", "--create", p(&db), "apple", "red"]).ok();
    run(&["put", p(&db), "banana", "yellow"]).ok();
    run(&["put", p(&db), "cherry", "dark red"]).ok();
    run(&["put", p(&db), "other", "x"]).ok();
    (tmp, db)
}

type Contents = BTreeMap<Option<Vec<u8>>, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Every keyspace (`None`: the default one) and every key and value, via the library.
fn contents(dir: &Path) -> Contents {
    let db = Db::open(dir, Options::default().create_if_missing(false)).unwrap();
    let mut all = Contents::new();
    let collect = |it: katamari::Iter| it.map(|r| r.unwrap()).collect::<BTreeMap<_, _>>();
    all.insert(None, collect(db.iter(&IterOptions::default()).unwrap()));
    for name in db.keyspaces().unwrap() {
        let ks = db.keyspace(&name).unwrap();
        all.insert(
            Some(name),
            collect(ks.iter(&IterOptions::default()).unwrap()),
        );
    }
    db.close().unwrap();
    all
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn help_version_and_usage_errors() {
    let r = run(&["--help"]).ok();
    for cmd in [
        "get",
        "put",
        "delete",
        "scan",
        "stats",
        "keyspaces",
        "dump",
        "load",
        "bench",
        "bucket",
        "column",
        "shell",
    ] {
        assert!(r.out().contains(&format!("\n  {cmd} ")), "{cmd} in help");
    }
    assert!(run(&["--version"]).ok().out().starts_with("katamari "));
    assert!(run(&["get", "--help"]).ok().out().contains("<DIR> <KEY>"));

    // No arguments: the help, on stderr, as a usage error.
    let r = run(&[]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty() && r.stderr.contains("Usage: katamari"));

    let (_tmp, db) = seeded();
    let db = p(&db);
    run(&["frobnicate", db]).fails(2, "unrecognized subcommand 'frobnicate'");
    run(&["get", db]).fails(2, "<KEY>");
    run(&["get", db, "apple", "--bogus"]).fails(2, "'--bogus'");
    run(&["put", db, "k"]).fails(2, "<VALUE>");
    run(&["put", db, "k", "v", "--ttl", "soon"]).fails(2, "--ttl");
    run(&["put", db, "k", "v", "--ttl", "0s"]).fails(2, "more than zero");
    run(&["dump", db, "--all", "-k", "x"]).fails(2, "cannot be used with");
    run(&["scan", db, "--limit", "many"]).fails(2, "--limit");
    run(&["load", db, "--batch", "0"]).fails(2, "--batch");
    // Values that parse but do not decode are usage errors too, and change nothing.
    run(&["get", db, "--hex", "0g"]).fails(2, "not hexadecimal");
    run(&["put", db, "--hex", "00", "abc"]).fails(2, "VALUE");
    assert_eq!(contents(Path::new(db))[&None].len(), 4);
}

#[test]
fn missing_database_is_an_error_and_creates_nothing() {
    let (tmp, db) = scratch();
    let d = p(&db);
    for args in [
        vec!["get", d, "k"],
        vec!["scan", d],
        vec!["stats", d],
        vec!["keyspaces", d],
        vec!["dump", d],
        vec!["delete", d, "k"],
    ] {
        run(&args).fails(1, "no such database");
    }
    for args in [
        vec!["put", d, "k", "v"],
        vec!["bench", d, "--keys", "10"],
        vec!["shell", d],
    ] {
        run(&args).fails(1, "no such database (use --create to create it)");
    }
    run_with(&["load", d], Some(b"")).fails(1, "use --create");
    // A missing input file is reported before anything is created.
    run(&["load", "--create", d, p(&tmp.path().join("nope.jsonl"))]).fails(1, "nope.jsonl");
    for args in [
        vec!["bucket", d, "ls"],
        vec!["bucket", d, "get", "b", "k"],
        vec!["bucket", d, "rm", "b", "k"],
        vec!["column", d, "ls"],
        vec!["column", d, "len", "c"],
    ] {
        run(&args).fails(1, "no such database");
    }
    run(&["bucket", d, "put", "b", "k", "-"]).fails(1, "use --create");
    run(&["column", d, "create", "c", "i64"]).fails(1, "use --create");
    let nope = p(&tmp.path().join("nope.bin")).to_owned();
    run(&["bucket", d, "put", "--create", "b", "k", &nope]).fails(1, "nope.bin");
    let key = tmp.path().join("short.key");
    std::fs::write(&key, [0u8; 8]).unwrap();
    run(&[
        "bucket",
        d,
        "put",
        "--create",
        "b",
        "k",
        "-",
        "--key-file",
        p(&key),
    ])
    .fails(2, "32 raw bytes");
    assert!(!db.exists(), "no command above creates the database");

    // A directory that exists but holds no database is refused, and left untouched.
    std::fs::create_dir(&db).unwrap();
    run(&["get", d, "k"]).fails(1, "not a Katamari database");
    run(&["put", d, "k", "v"]).fails(1, "use --create");
    assert_eq!(std::fs::read_dir(&db).unwrap().count(), 0);
    // --create initializes it.
    run(&["put", "--create", d, "k", "v"]).ok();
    assert_eq!(run(&["get", d, "k"]).ok().out(), "v\n");

    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    run(&["get", p(&file), "k"]).fails(1, "not a directory");
}

#[test]
fn put_get_delete_and_missing_keys() {
    let (_tmp, db) = seeded();
    let d = p(&db);
    assert_eq!(run(&["get", d, "banana"]).ok().out(), "yellow\n");
    run(&["put", d, "banana", "green"]).ok();
    assert_eq!(run(&["get", d, "banana"]).ok().out(), "green\n");
    // Empty values are values.
    run(&["put", d, "empty", ""]).ok();
    assert_eq!(run(&["get", d, "empty", "--raw"]).ok().stdout, b"");
    assert_eq!(run(&["get", d, "empty"]).ok().out(), "\n");

    let r = run(&["get", d, "durian"]).fails(3, "get durian: not found");
    assert!(r.stdout.is_empty());
    run(&["delete", d, "banana"]).ok();
    run(&["get", d, "banana"]).fails(3, "not found");
    // Deleting a missing key succeeds.
    run(&["delete", d, "banana"]).ok();
    // A value that starts with a dash goes after `--`.
    run(&["put", d, "--", "neg", "-5"]).ok();
    assert_eq!(run(&["get", d, "neg"]).ok().out(), "-5\n");
}

#[test]
fn binary_keys_and_values() {
    let (_tmp, db) = scratch();
    let d = p(&db);
    run(&["put", "--create", d, "--hex", "00ff0a", "deadbeef00"]).ok();
    run(&["put", d, "tab\tkey", "back\\slash\nnewline"]).ok();

    assert_eq!(run(&["get", d, "-x", "00ff0a"]).ok().out(), "deadbeef00\n");
    assert_eq!(
        run(&["get", d, "-x", "00ff0a", "--raw"]).ok().stdout,
        [0xde, 0xad, 0xbe, 0xef, 0x00]
    );
    // The text key is stored as its UTF-8 bytes.
    assert_eq!(
        run(&["get", d, "-x", &hex("tab\tkey")]).ok().out(),
        format!("{}\n", hex("back\\slash\nnewline"))
    );

    // Text scan output is one escaped line per entry, key and value split by a tab.
    assert_eq!(
        run(&["scan", d]).ok().lines(),
        [
            "\\x00\\xff\\n\t\\xde\\xad\\xbe\\xef\\x00",
            "tab\\tkey\tback\\\\slash\\nnewline"
        ]
    );
    assert_eq!(
        run(&["scan", d, "--hex"]).ok().lines(),
        [
            "00ff0a\tdeadbeef00".to_owned(),
            format!("{}\t{}", hex("tab\tkey"), hex("back\\slash\nnewline"))
        ]
    );
    // JSON: text stays text, other bytes become {"hex": ...}.
    let rows = run(&["scan", d, "--json"]).ok().json_lines();
    assert_eq!(rows[0]["key"]["hex"], "00ff0a");
    assert_eq!(rows[0]["value"]["hex"], "deadbeef00");
    assert_eq!(rows[1]["key"], "tab\tkey");
    assert_eq!(rows[1]["value"], "back\\slash\nnewline");

    // put --file, from a file and from stdin.
    let tmp = db.parent().unwrap();
    let blob: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(tmp.join("blob"), &blob).unwrap();
    run(&["put", d, "blob", "--file", p(&tmp.join("blob"))]).ok();
    assert_eq!(run(&["get", d, "blob", "--raw"]).ok().stdout, blob);
    run_with(&["put", d, "stdin", "-f", "-"], Some(&blob[..1000])).ok();
    assert_eq!(
        run(&["get", d, "stdin", "--raw"]).ok().stdout,
        &blob[..1000]
    );
    run(&["put", d, "both", "v", "--file", "x"]).fails(2, "cannot be used with");
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn keyspaces_are_separate_and_reads_never_create_them() {
    let (_tmp, db) = seeded();
    let d = p(&db);
    run(&["put", d, "-k", "users", "apple", "alice"]).ok();
    assert_eq!(
        run(&["get", d, "-k", "users", "apple"]).ok().out(),
        "alice\n"
    );
    assert_eq!(run(&["get", d, "apple"]).ok().out(), "red\n");
    run(&["get", d, "-k", "users", "banana"]).fails(3, "get banana: not found");

    // Reading or deleting in a keyspace that does not exist does not create it.
    run(&["get", d, "-k", "ghost", "apple"]).fails(3, "keyspace \"ghost\": not found");
    run(&["scan", d, "-k", "ghost"]).fails(3, "keyspace \"ghost\": not found");
    run(&["dump", d, "-k", "ghost"]).fails(3, "keyspace \"ghost\": not found");
    run(&["delete", d, "-k", "ghost", "apple"]).ok();
    assert_eq!(run(&["keyspaces", d]).ok().lines(), ["users"]);
    let names = run(&["keyspaces", d, "--json"]).ok().json_lines();
    assert_eq!(names, [serde_json::json!(["users"])]);

    assert_eq!(
        run(&["scan", d, "-k", "users"]).ok().lines(),
        ["apple\talice"]
    );
    run(&["delete", d, "-k", "users", "apple"]).ok();
    assert!(run(&["scan", d, "-k", "users"]).ok().stdout.is_empty());
}

#[test]
fn scan_prefix_range_reverse_limit() {
    let (_tmp, db) = seeded();
    let d = p(&db);
    let keys = |args: &[&str]| {
        let mut all = vec!["scan", d, "--keys-only"];
        all.extend_from_slice(args);
        run(&all).ok().lines()
    };
    assert_eq!(keys(&[]), ["apple", "banana", "cherry", "other"]);
    assert_eq!(keys(&["--reverse"]), ["other", "cherry", "banana", "apple"]);
    assert_eq!(keys(&["--prefix", "b"]), ["banana"]);
    assert_eq!(
        keys(&["--start", "b", "--end", "other"]),
        ["banana", "cherry"]
    );
    assert_eq!(
        keys(&["-s", "b", "-e", "other", "-r"]),
        ["cherry", "banana"]
    );
    assert_eq!(keys(&["--limit", "2"]), ["apple", "banana"]);
    assert_eq!(keys(&["-r", "-n", "1"]), ["other"]);
    assert_eq!(keys(&["--hex", "--prefix", "63"]), ["636865727279"]);
    assert_eq!(keys(&["--prefix", "zzz"]), Vec::<String>::new());

    let rows = run(&["scan", d, "--json", "--prefix", "c"])
        .ok()
        .json_lines();
    assert_eq!(
        rows,
        [serde_json::json!({"key": "cherry", "value": "dark red"})]
    );
    assert_eq!(run(&["scan", d, "-p", "a"]).ok().lines(), ["apple\tred"]);
}

#[test]
fn ttl_expires_keys() {
    let (_tmp, db) = seeded();
    let d = p(&db);
    run(&["put", d, "short", "v", "--ttl", "700ms"]).ok();
    run(&["put", d, "long", "v", "--ttl", "1h"]).ok();
    assert_eq!(run(&["get", d, "short"]).ok().out(), "v\n");
    std::thread::sleep(Duration::from_millis(900));
    run(&["get", d, "short"]).fails(3, "not found");
    assert_eq!(run(&["get", d, "long"]).ok().out(), "v\n");
    assert!(!run(&["scan", d, "--keys-only"])
        .ok()
        .lines()
        .contains(&"short".to_owned()));
}

#[test]
fn stats_text_and_json() {
    let (_tmp, db) = seeded();
    let d = p(&db);
    run(&["put", d, "-k", "users", "u1", "x"]).ok();
    let text = run(&["stats", d]).ok().out();
    assert!(text.contains("live keys     5\n"), "{text}");
    assert!(text.contains("keyspaces     1 (users)\n"), "{text}");
    let v = &run(&["stats", d, "--json"]).ok().json_lines()[0];
    assert_eq!(v["live_keys"], 5);
    assert_eq!(v["path"], d);
    assert_eq!(v["keyspaces"], serde_json::json!(["users"]));
    assert_eq!(v["segments"], 1);
    for field in [
        "live_bytes",
        "dead_bytes",
        "total_bytes",
        "keydir_bytes",
        "last_seq",
    ] {
        assert!(v[field].as_u64().unwrap() > 0, "{field}: {v}");
    }
    assert_eq!(
        v["live_bytes"].as_u64().unwrap() + v["dead_bytes"].as_u64().unwrap(),
        v["total_bytes"].as_u64().unwrap()
    );
}

/// A database with binary and text keys, an empty value, a large value, and keyspaces
/// (one of them empty), built through the library.
fn varied(dir: &Path) {
    let db = Db::open(dir, Options::default()).unwrap();
    let mut batch = katamari::WriteBatch::new();
    for i in 0..2500u32 {
        batch
            .put(format!("key{i:05}").as_bytes(), &i.to_le_bytes())
            .unwrap();
    }
    batch.put(&[0, 0xff, b'\n'], &[]).unwrap();
    batch.put(b"big", &vec![7u8; 300_000]).unwrap();
    db.write(&batch).unwrap();
    db.put(b"key00001", b"overwritten").unwrap();
    db.delete(b"key00002").unwrap();
    let users = db.keyspace(b"users").unwrap();
    users.put(b"key00001", b"in users").unwrap();
    users.put("ünïcödé".as_bytes(), &[0xc3]).unwrap();
    db.keyspace(b"empty").unwrap();
    db.keyspace(&[0xfe, b'b', b'i', b'n'])
        .unwrap()
        .put(b"k", b"v")
        .unwrap();
    db.close().unwrap();
}

#[test]
fn dump_then_load_gives_an_identical_database() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    varied(&a);
    let file = tmp.path().join("a.jsonl");
    run(&["dump", p(&a), "--all", "-o", p(&file)]).ok();
    let text = std::fs::read_to_string(&file).unwrap();
    // No temporary file is left beside the dump.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);

    // The format: header, declarations, records, trailer; all byte strings base64.
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"format": "katamari-dump", "version": 1})
    );
    assert_eq!(
        lines.last().unwrap(),
        &serde_json::json!({"end": true, "records": 2501 + 2 + 1})
    );
    assert!(
        lines.contains(&serde_json::json!({"keyspace": "ZW1wdHk="})),
        "empty keyspace declared"
    );
    assert!(lines.contains(&serde_json::json!({"key": "AP8K", "value": ""})));
    assert!(lines.contains(&serde_json::json!({
        "keyspace": "dXNlcnM=", "key": "a2V5MDAwMDE=", "value": "aW4gdXNlcnM="
    })));

    // Load in small batches into a new database.
    run(&["load", "--create", p(&b), p(&file), "--batch", "100"]).ok();
    let want = contents(&a);
    assert_eq!(contents(&b), want);
    assert_eq!(
        want.len(),
        4,
        "default + users + empty + binary-named keyspace"
    );
    assert_eq!(want[&Some(b"empty".to_vec())].len(), 0);

    // Dumping B gives the same bytes, to stdout as to a file.
    assert_eq!(run(&["dump", p(&b), "--all"]).ok().out(), text);

    // Loading again through stdin changes nothing (puts of the same values).
    run_with(&["load", p(&b)], Some(text.as_bytes())).ok();
    assert_eq!(contents(&b), want);
}

#[test]
fn dump_of_one_keyspace_and_of_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    varied(&a);
    let users = run(&["dump", p(&a), "-k", "users"]).ok().json_lines();
    assert_eq!(
        users.len(),
        1 + 1 + 2 + 1,
        "header, declaration, 2 records, trailer"
    );
    assert!(users[1..4].iter().all(|l| l["keyspace"] == "dXNlcnM="));
    let default = run(&["dump", p(&a)]).ok().json_lines();
    assert_eq!(default.len(), 2501 + 2);
    assert!(default.iter().all(|l| l.get("keyspace").is_none()));

    let nowhere = tmp.path().join("no-such-dir").join("d.jsonl");
    run(&["dump", p(&a), "-o", p(&nowhere)]).fails(1, "no-such-dir/d.jsonl");

    let b = tmp.path().join("b");
    run_with(
        &["load", "--create", p(&b)],
        Some(run(&["dump", p(&a), "-k", "users"]).ok().stdout.as_slice()),
    )
    .ok();
    let got = contents(&b);
    assert_eq!(got[&None].len(), 0);
    assert_eq!(
        got[&Some(b"users".to_vec())],
        contents(&a)[&Some(b"users".to_vec())]
    );
}

#[test]
fn load_honours_expiry_and_rejects_bad_input() {
    let (tmp, db) = scratch();
    let d = p(&db);
    let future = now_ms() + 3_600_000;
    let past = now_ms() - 1000;
    let dump = format!(
        "{{\"format\":\"katamari-dump\",\"version\":1}}\n\
         {{\"key\":\"YQ==\",\"value\":\"MQ==\",\"expires_at\":{future}}}\n\
         \n\
         {{\"key\":\"Yg==\",\"value\":\"Mg==\",\"expires_at\":{past}}}\n\
         {{\"key\":\"Yw==\",\"value\":\"Mw==\",\"expires_at\":null,\"comment\":\"ignored\"}}\n\
         {{\"end\":true,\"records\":3}}\n"
    );
    run_with(&["load", "--create", d], Some(dump.as_bytes())).ok();
    assert_eq!(run(&["scan", d]).ok().lines(), ["a\t1", "c\t3"]);

    let header = "{\"format\":\"katamari-dump\",\"version\":1}\n";
    let cases = [
        ("", "empty input"),
        (
            "{\"key\":\"YQ==\",\"value\":\"\"}\n",
            ":1: not a Katamari dump",
        ),
        (
            "{\"format\":\"katamari-dump\",\"version\":9}\n",
            "version 9 is not supported",
        ),
        ("not json\n", ":1: not JSON"),
        (
            &format!("{header}{{\"key\":\"!!\",\"value\":\"\"}}\n"),
            ":2: invalid record: \"key\" is not base64",
        ),
        (
            &format!("{header}{{\"key\":\"YQ==\"}}\n"),
            ":2: invalid record: no \"value\"",
        ),
        (
            &format!("{header}{{\"key\":\"YQ==\",\"value\":\"\",\"expires_at\":-1}}\n"),
            "expires_at",
        ),
        (&format!("{header}[1]\n"), ":2: not a JSON object"),
        (
            &format!("{header}{{\"key\":\"eA==\",\"value\":\"\"}}\n"),
            "dump is incomplete (1 records were loaded)",
        ),
        (
            &format!("{header}{{\"end\":true,\"records\":5}}\n"),
            "says 5 records but holds 0",
        ),
        (
            &format!("{header}{{\"end\":true,\"records\":0}}\n{{}}\n"),
            ":3: data after the end line",
        ),
    ];
    for (input, needle) in cases {
        run_with(&["load", d], Some(input.as_bytes())).fails(1, needle);
    }
    // From a file, errors name the file and line.
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{header}\n{{\"key\":1,\"value\":\"\"}}\n")).unwrap();
    run(&["load", d, p(&bad)]).fails(
        1,
        "bad.jsonl:3: invalid record: \"key\" must be a base64 string",
    );
    // The good records before the truncation were written; nothing else changed.
    assert_eq!(
        run(&["scan", d, "--keys-only"]).ok().lines(),
        ["a", "c", "x"]
    );
}

#[test]
fn shell_runs_commands_from_stdin() {
    let (_tmp, db) = seeded();
    let d = p(&db);
    let script = "\
# a comment, then commands as at the prompt
put greeting 'hello world'
get greeting
get nope
use users
put u1 one
scan --json
use
scan --prefix gr
stats --json
keyspaces
put -x 00 01
get --hex 00
exit
put after exit
";
    let r = run_with(&["shell", d], Some(script.as_bytes()));
    assert_eq!(r.code, 3, "the status of the last failed command");
    assert_eq!(r.stderr, "katamari: get nope: not found\n");
    let lines = r.lines();
    assert_eq!(lines[0], "hello world");
    assert_eq!(
        serde_json::from_str::<Value>(&lines[1]).unwrap(),
        serde_json::json!({"key": "u1", "value": "one"})
    );
    assert_eq!(lines[2], "greeting\thello world");
    let stats: Value = serde_json::from_str(&lines[3]).unwrap();
    assert_eq!(stats["live_keys"], 4 + 2);
    assert_eq!(lines[4], "users");
    assert_eq!(lines[5], "01");
    assert_eq!(lines.len(), 6);
    // The writes are in the database; nothing after `exit` ran.
    assert_eq!(run(&["get", d, "-k", "users", "u1"]).ok().out(), "one\n");
    run(&["get", d, "after"]).fails(3, "not found");

    // A clean script exits 0; usage errors are reported on one line and go on.
    let r = run_with(
        &["shell", d],
        Some(b"bogus\nput k\nhelp\nget 'unbalanced\nget greeting\n"),
    );
    assert_eq!(r.code, 2);
    let errors: Vec<_> = r.stderr.lines().collect();
    assert_eq!(errors.len(), 3, "{}", r.stderr);
    assert!(errors[0].contains("unrecognized subcommand 'bogus'"));
    assert!(errors[1].contains("<VALUE>"));
    assert!(errors[2].contains("unbalanced quotes"));
    let out = r.out();
    assert!(
        out.contains("Commands:") && out.contains("keyspaces"),
        "{out}"
    );
    assert!(out.ends_with("hello world\n"), "{out}");
    run_with(&["shell", d], Some(b"get greeting\n")).ok();

    // A shell on a new database needs --create.
    let fresh = db.parent().unwrap().join("fresh");
    run_with(&["shell", p(&fresh)], Some(b"")).fails(1, "use --create");
    run_with(&["shell", "--create", p(&fresh)], Some(b"put k v\n")).ok();
    assert_eq!(run(&["get", p(&fresh), "k"]).ok().out(), "v\n");
}

#[test]
fn bench_fills_and_reads_an_empty_database() {
    let (_tmp, db) = scratch();
    let d = p(&db);
    let r = run(&[
        "bench",
        "--create",
        d,
        "--keys",
        "3000",
        "--value-size",
        "64",
        "--batch",
        "500",
    ])
    .ok();
    let lines = r.lines();
    assert!(
        lines[0].starts_with("fill: 3000 keys of 64 B in "),
        "{lines:?}"
    );
    assert!(lines[0].contains(" ops/s"));
    assert!(
        lines[1].starts_with("read: 3000 random gets in "),
        "{lines:?}"
    );
    assert_eq!(contents(&db)[&None].len(), 3000);
    // It refuses to mix its keys into data.
    run(&["bench", d, "--keys", "10"]).fails(1, "bench needs an empty database");

    let (_tmp2, db2) = scratch();
    let r = run(&[
        "bench",
        "--create",
        p(&db2),
        "--keys",
        "500",
        "--reads",
        "200",
        "--json",
    ])
    .ok();
    let v = &r.json_lines()[0];
    assert_eq!(v["keys"], 500);
    assert_eq!(v["reads"], 200);
    assert_eq!(v["read_bytes"], 200 * 100);
    assert!(v["fill_ops_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["read_ops_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_database_open_elsewhere_is_locked() {
    let (_tmp, db) = seeded();
    let holder = Db::open(&db, Options::default()).unwrap();
    run(&["get", p(&db), "apple"]).fails(4, "locked");
    run(&["put", p(&db), "k", "v"]).fails(4, "locked");
    holder.close().unwrap();
    assert_eq!(run(&["get", p(&db), "apple"]).ok().out(), "red\n");
}

#[test]
fn closed_stdout_ends_quietly_with_sigpipe_status() {
    let (_tmp, db) = scratch();
    let big = vec![b'v'; 1000];
    let dbh = Db::open(&db, Options::default()).unwrap();
    let mut batch = katamari::WriteBatch::new();
    for i in 0..500u32 {
        batch.put(format!("{i:04}").as_bytes(), &big).unwrap();
    }
    dbh.write(&batch).unwrap();
    dbh.close().unwrap();
    // 500 KB of output into a pipe nobody reads: the writer blocks once the pipe is
    // full, then fails with EPIPE when the read end closes.
    let mut child = Command::new(BIN)
        .args(["scan", p(&db)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn merge_backup_and_verify() {
    let (tmp, db) = scratch();
    let d = p(&db);
    {
        let lib = Db::open(&db, Options::default().segment_size(4096)).unwrap();
        for round in 0..4 {
            for i in 0..200 {
                lib.put(
                    format!("k{i:03}").as_bytes(),
                    format!("v{round}-{i}").as_bytes(),
                )
                .unwrap();
            }
        }
        for i in (0..200).step_by(2) {
            lib.delete(format!("k{i:03}").as_bytes()).unwrap();
        }
        lib.close().unwrap();
    }
    let before = contents(&db);

    let m = &run(&["merge", d, "--json"]).ok().json_lines()[0];
    assert_eq!(m["records"], 100, "{m}");
    assert!(m["input_bytes"].as_u64().unwrap() > 3 * m["output_bytes"].as_u64().unwrap());
    assert_eq!(contents(&db), before);
    let text = run(&["merge", d]).ok().out();
    assert!(text.starts_with("merged "), "{text}");

    let dest = tmp.path().join("copy");
    let b = &run(&["backup", d, p(&dest), "--json"]).ok().json_lines()[0];
    assert!(b["seq"].as_u64().unwrap() > 0, "{b}");
    assert_eq!(contents(&dest), before);
    run(&["backup", d, p(&dest)]).fails(1, "already exists");
    run(&["backup", d]).fails(2, "DEST");

    let v = &run(&["verify", d, "--json"]).ok().json_lines()[0];
    assert_eq!(v["clean"], true, "{v}");
    assert_eq!(v["records"], 100, "{v}");
    assert!(v["first_bad"].is_null());
    let text = run(&["verify", d]).ok().out();
    assert!(text.starts_with("checked "), "{text}");

    // Damage in a merged segment (header kind 2): open still works through its hint
    // file, and verify reports it with exit code 1.
    let seg = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "kseg") && std::fs::read(p).unwrap()[12] == 2)
        .expect("a merged segment");
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x08;
    std::fs::write(&seg, &bytes).unwrap();
    let r = run(&["verify", d, "--json"]).fails(1, "damaged");
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["clean"], false);
    assert_eq!(v["damaged"], 1);
    assert!(
        v["first_bad"]["reason"]
            .as_str()
            .unwrap()
            .contains("checksum"),
        "{v}"
    );

    let missing = tmp.path().join("nope");
    run(&["merge", p(&missing)]).fails(1, "nope");
    run(&["verify", p(&missing)]).fails(1, "nope");
    assert!(!missing.exists());
}

#[test]
fn dump_keeps_expiry_times() {
    let (tmp, db) = scratch();
    let d = p(&db);
    run(&["put", "--create", d, "temp", "v", "--ttl", "1h"]).ok();
    run(&["put", d, "kept", "v"]).ok();
    run(&["put", d, "-k", "ks", "temp2", "v", "--ttl", "2h"]).ok();
    let lines = run(&["dump", d, "--all"]).ok().json_lines();
    let now = now_ms();
    let find = |key: &str| {
        let k = base64_of(key);
        lines
            .iter()
            .find(|l| l["key"] == k.as_str())
            .unwrap_or_else(|| panic!("{key} in {lines:?}"))
            .clone()
    };
    let hour = 3_600_000;
    let at = find("temp")["expires_at"].as_u64().unwrap();
    assert!(
        at > now + hour - 60_000 && at <= now + hour,
        "{at} vs {now}"
    );
    let at2 = find("temp2")["expires_at"].as_u64().unwrap();
    assert!(at2 > now + 2 * hour - 60_000 && at2 <= now + 2 * hour);
    assert!(find("kept").get("expires_at").is_none());
    // Loaded elsewhere, the keys keep those expiry times (to the millisecond).
    let dump = tmp.path().join("d.jsonl");
    run(&["dump", d, "--all", "-o", p(&dump)]).ok();
    let other = tmp.path().join("other");
    run(&["load", "--create", p(&other), p(&dump)]).ok();
    let lib = Db::open(&other, Options::default()).unwrap();
    let got = lib.expires_at(b"temp").unwrap().unwrap();
    assert!(got.abs_diff(at) <= 5, "{got} vs {at}");
    assert_eq!(lib.expires_at(b"kept").unwrap(), None);
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

// ---- buckets ----

/// About 3 MiB of text that compresses well but is not one repeated block.
fn document() -> Vec<u8> {
    let mut doc = Vec::with_capacity(3 << 20);
    let mut i = 0u64;
    while doc.len() < 3 << 20 {
        doc.extend_from_slice(format!("{i:08} the quick brown fox {}\n", i * i % 977).as_bytes());
        i += 1;
    }
    doc.truncate(3 << 20);
    doc
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The object infos `list`, `versions` and `put --json` print, parsed.
fn infos(r: &Run) -> Vec<Value> {
    r.json_lines()
}

#[test]
fn bucket_objects_round_trip_compressed_and_streamed() {
    let (tmp, db) = scratch();
    let d = p(&db);
    let doc = document();
    let file = tmp.path().join("doc.txt");
    std::fs::write(&file, &doc).unwrap();

    // A put creates the database (with --create) and the bucket with its settings, and
    // prints the new version.
    let r = run(&[
        "bucket",
        d,
        "put",
        "--create",
        "docs",
        "a/doc.txt",
        p(&file),
        "--compression",
        "zstd:3",
        "--chunk-size",
        "256KiB",
        "--content-type",
        "text/plain",
        "--meta",
        "owner=ann",
        "--meta",
        "tag=x=y",
        "--json",
    ])
    .ok();
    let v1 = infos(&r).remove(0);
    assert_eq!(v1["key"], "a/doc.txt");
    assert_eq!(v1["size"], doc.len() as u64);
    assert_eq!(v1["sha256"], sha256_hex(&doc));
    assert_eq!(v1["content_type"], "text/plain");
    assert_eq!(
        v1["metadata"],
        serde_json::json!({"owner": "ann", "tag": "x=y"})
    );
    let stored = v1["stored_size"].as_u64().unwrap();
    assert!(
        stored < doc.len() as u64 / 3,
        "compressed to {stored} bytes"
    );
    let version1 = v1["version"].as_u64().unwrap();

    // Out to stdout and to a file, byte for byte; no temporary file is left behind.
    assert_eq!(
        run(&["bucket", d, "get", "docs", "a/doc.txt"]).ok().stdout,
        doc
    );
    let out = tmp.path().join("out.txt");
    run(&["bucket", d, "get", "docs", "a/doc.txt", "-o", p(&out)]).ok();
    assert_eq!(std::fs::read(&out).unwrap(), doc);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 3);

    // The library reads what the tool wrote, with the settings it was given.
    {
        let lib = Db::open(&db, Options::default()).unwrap();
        let b = lib
            .bucket(b"docs", &katamari::BucketOptions::default())
            .unwrap();
        assert_eq!(b.chunk_size(), 256 << 10);
        assert_eq!(b.compression(), katamari::Compression::Zstd(3));
        let (info, data) = b.get(b"a/doc.txt").unwrap().unwrap();
        assert_eq!(data, doc);
        assert_eq!(info.version, version1);
        lib.close().unwrap();
    }

    // A second version from standard input; the first stays readable by number.
    let v2 = infos(
        &run_with(
            &["bucket", d, "put", "docs", "a/doc.txt", "-", "--json"],
            Some(b"version two"),
        )
        .ok(),
    )
    .remove(0);
    let version2 = v2["version"].as_u64().unwrap();
    assert!(version2 > version1);
    assert_eq!(
        run(&["bucket", d, "get", "docs", "a/doc.txt"]).ok().stdout,
        b"version two"
    );
    let old = version1.to_string();
    assert_eq!(
        run(&["bucket", d, "get", "docs", "a/doc.txt", "--version", &old])
            .ok()
            .stdout,
        doc
    );
    let lines = run(&["bucket", d, "versions", "docs", "a/doc.txt"])
        .ok()
        .lines();
    assert_eq!(
        lines,
        [
            format!(
                "a/doc.txt\t{version1}\t{}\t{}\ttext/plain",
                doc.len(),
                sha256_hex(&doc)
            ),
            format!(
                "a/doc.txt\t{version2}\t11\t{}\t",
                sha256_hex(b"version two")
            ),
        ]
    );
    let head = run(&["bucket", d, "head", "docs", "a/doc.txt", "--version", &old])
        .ok()
        .lines();
    assert!(
        head.contains(&format!("version       {version1}")),
        "{head:?}"
    );
    assert!(
        head.contains(&"content type  text/plain".to_owned()),
        "{head:?}"
    );
    assert!(
        head.contains(&"metadata      owner=ann".to_owned()),
        "{head:?}"
    );
    assert!(
        head.iter().any(|l| l.starts_with("created       20")),
        "{head:?}"
    );

    // --sha256 refuses content that does not match, and stores nothing.
    let wrong = "00".repeat(32);
    run_with(
        &[
            "bucket",
            d,
            "put",
            "docs",
            "a/doc.txt",
            "-",
            "--sha256",
            &wrong,
        ],
        Some(b"x"),
    )
    .fails(1, "SHA-256");
    run_with(
        &[
            "bucket",
            d,
            "put",
            "docs",
            "b",
            "-",
            "--sha256",
            &sha256_hex(b"x"),
        ],
        Some(b"x"),
    )
    .ok();
    run(&["bucket", d, "put", "docs", "b", "-", "--sha256", "abc"]).fails(2, "--sha256");
    assert_eq!(
        run(&["bucket", d, "versions", "docs", "a/doc.txt"])
            .ok()
            .lines()
            .len(),
        2
    );

    // list: key order, prefix, after, limit, JSON; binary keys with --hex.
    for key in ["a/x", "c", "a/y"] {
        run_with(
            &["bucket", d, "put", "docs", key, "-"],
            Some(key.as_bytes()),
        )
        .ok();
    }
    run_with(
        &["bucket", d, "put", "docs", "-x", "00ff", "-"],
        Some(b"bin"),
    )
    .ok();
    let keys = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["bucket", d, "list", "docs"];
        all.extend_from_slice(args);
        run(&all)
            .ok()
            .lines()
            .iter()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        keys(&[]),
        ["\\x00\\xff", "a/doc.txt", "a/x", "a/y", "b", "c"]
    );
    assert_eq!(keys(&["--prefix", "a/"]), ["a/doc.txt", "a/x", "a/y"]);
    assert_eq!(keys(&["--after", "a/x"]), ["a/y", "b", "c"]);
    assert_eq!(
        keys(&["--prefix", "a/", "--after", "a/doc.txt", "-n", "1"]),
        ["a/x"]
    );
    assert_eq!(keys(&["-x", "--prefix", "00"]), ["00ff"]);
    let listed = infos(&run(&["bucket", d, "list", "docs", "--json", "-p", "a/d"]).ok());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["version"], version2, "the newest version");
    assert_eq!(listed[0]["size"], 11);

    // rm: one version, then the whole object; removing missing things succeeds.
    run(&["bucket", d, "rm", "docs", "a/doc.txt", "--version", &old]).ok();
    assert_eq!(
        run(&["bucket", d, "versions", "docs", "a/doc.txt"])
            .ok()
            .lines()
            .len(),
        1
    );
    run(&["bucket", d, "rm", "docs", "a/doc.txt"]).ok();
    run(&["bucket", d, "rm", "docs", "a/doc.txt"]).ok();
    run(&["bucket", d, "rm", "nobucket", "k"]).ok();

    // Missing things: exit code 3, and reading never creates a bucket.
    run(&["bucket", d, "get", "docs", "a/doc.txt"])
        .fails(3, "get a/doc.txt in bucket \"docs\": not found");
    run(&["bucket", d, "get", "docs", "c", "--version", "999"]).fails(3, "version 999");
    run(&["bucket", d, "head", "docs", "nope"]).fails(3, "not found");
    run(&["bucket", d, "versions", "docs", "nope"]).fails(3, "not found");
    run(&["bucket", d, "list", "nobucket"]).fails(3, "bucket \"nobucket\": not found");
    run(&["bucket", d, "get", "nobucket", "k", "-o", p(&out)]).fails(3, "not found");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        doc,
        "-o FILE untouched on failure"
    );
    assert_eq!(run(&["bucket", d, "ls"]).ok().lines(), ["docs"]);

    // Without versioning a put replaces the object.
    run_with(
        &["bucket", d, "put", "flat", "k", "-", "--no-versioning"],
        Some(b"1"),
    )
    .ok();
    run_with(&["bucket", d, "put", "flat", "k", "-"], Some(b"2")).ok();
    assert_eq!(
        run(&["bucket", d, "versions", "flat", "k"])
            .ok()
            .lines()
            .len(),
        1
    );
    assert_eq!(run(&["bucket", d, "get", "flat", "k"]).ok().stdout, b"2");
    assert_eq!(
        run(&["bucket", d, "ls", "--json"]).ok().json_lines()[0],
        serde_json::json!(["docs", "flat"])
    );

    // Invalid settings are usage errors.
    run(&[
        "bucket",
        d,
        "put",
        "b",
        "k",
        "-",
        "--compression",
        "zstd:99",
    ])
    .fails(2, "1 to 22");
    run(&["bucket", d, "put", "b", "k", "-", "--chunk-size", "1KiB"]).fails(2, "chunk sizes");
    run(&["bucket", d, "put", "b", "k", "-", "--meta", "novalue"]).fails(2, "KEY=VALUE");

    run(&["bucket", d, "drop", "docs"]).ok();
    run(&["bucket", d, "drop", "docs"]).fails(3, "drop bucket \"docs\": not found");
    assert_eq!(run(&["bucket", d, "ls"]).ok().lines(), ["flat"]);
}

#[test]
fn bucket_encryption_key_from_file_or_environment() {
    let (tmp, db) = scratch();
    let d = p(&db);
    // Uncompressed, so the stored bytes would show the plaintext if it were there.
    let marker = b"PLAINTEXT-MARKER-0123456789";
    let doc: Vec<u8> = marker.iter().copied().cycle().take(3 << 20).collect();
    let file = tmp.path().join("secret.bin");
    std::fs::write(&file, &doc).unwrap();
    let key: Vec<u8> = (1..=32u8).collect();
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, &key).unwrap();
    let kf = p(&key_file);

    let r = run(&[
        "bucket",
        "--quiet",
        d,
        "put",
        "--create",
        "vault",
        "s",
        p(&file),
        "--key-file",
        kf,
    ])
    .ok();
    assert!(r.out().starts_with("s\t"), "{}", r.out());
    assert_eq!(
        run(&["bucket", d, "get", "vault", "s", "--key-file", kf])
            .ok()
            .stdout,
        doc
    );
    // The key as 64 hex digits in the environment.
    let env_key = hex::encode(&key);
    let env = [("KATAMARI_BUCKET_KEY", env_key.as_str())];
    assert_eq!(
        run_env(&["bucket", d, "get", "vault", "s"], None, &env)
            .ok()
            .stdout,
        doc
    );
    run_env(&["bucket", d, "versions", "vault", "s"], None, &env).ok();

    // Encrypted at rest: no segment holds the plaintext.
    for entry in std::fs::read_dir(&db).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(marker.len()).any(|w| w == marker));
    }

    // A wrong key, no key, a key for a bucket without encryption.
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, [9u8; 32]).unwrap();
    let r = run(&["bucket", d, "get", "vault", "s", "--key-file", p(&wrong)])
        .fails(1, "wrong encryption key");
    assert!(r.stdout.is_empty());
    run(&["bucket", d, "list", "vault"]).fails(1, "encrypted");
    run(&["bucket", d, "head", "vault", "s"]).fails(1, "--key-file");
    run_with(&["bucket", d, "put", "plain", "k", "-"], Some(b"v")).ok();
    run_env(&["bucket", d, "get", "plain", "k"], None, &env).fails(1, "without encryption");
    // A malformed key is a usage error that never echoes the key.
    let bad = "zz".repeat(32);
    let r = run_env(
        &["bucket", d, "get", "vault", "s"],
        None,
        &[("KATAMARI_BUCKET_KEY", &bad)],
    )
    .fails(2, "KATAMARI_BUCKET_KEY: not 64 hexadecimal digits");
    assert!(!r.stderr.contains(&bad));
    // An empty variable is no key.
    run_env(
        &["bucket", d, "get", "plain", "k"],
        None,
        &[("KATAMARI_BUCKET_KEY", "")],
    )
    .ok();
    // Dropping needs no key.
    run(&["bucket", d, "drop", "vault"]).ok();
}

// ---- columns ----

#[test]
fn column_create_extend_range_get_truncate() {
    let (tmp, db) = scratch();
    let d = p(&db);
    let col = |args: &[&str]| {
        let mut all = vec!["column", d];
        all.extend_from_slice(args);
        run(&all)
    };
    col(&["create", "--create", "n", "i64"]).ok();
    col(&["create", "f", "f64"]).ok();
    col(&["create", "h", "bytes:4"]).ok();
    col(&["create", "s", "bytes"]).ok();

    // extend: one value per line, from a file and from stdin.
    let numbers: String = (0..10_000).map(|i| format!("{}\n", i * 3 - 7)).collect();
    let file = tmp.path().join("numbers.txt");
    std::fs::write(&file, &numbers).unwrap();
    col(&["extend", "n", p(&file)]).ok();
    run_with(&["column", d, "extend", "n"], Some(b"1\n2\n 3 \n4")).ok();
    assert_eq!(col(&["len", "n"]).ok().out(), "10004\n");
    assert_eq!(
        col(&["range", "n", "0", "3"]).ok().lines(),
        ["-7", "-4", "-1"]
    );
    assert_eq!(col(&["range", "n", "-3"]).ok().lines(), ["2", "3", "4"]);
    assert_eq!(
        col(&["range", "n", "9998", "-4"]).ok().lines(),
        ["29987", "29990"]
    );
    assert_eq!(col(&["range", "n", "0"]).ok().lines().len(), 10_004);
    assert_eq!(col(&["get", "n", "-1"]).ok().out(), "4\n");
    assert_eq!(col(&["get", "n", "1"]).ok().out(), "-4\n");
    col(&["get", "n", "10004"]).fails(3, "out of range: the column holds 10004 values");
    col(&["get", "n", "-10005"]).fails(3, "out of range");
    col(&["range", "n", "10000", "10005"]).fails(3, "out of range");
    col(&["range", "n", "5", "4"]).fails(2, "START is after END");

    // An invalid line appends nothing, not even the lines before it.
    run_with(
        &["column", d, "extend", "n", "-"],
        Some(b"5\n6\nseven\n8\n"),
    )
    .fails(
        1,
        "<stdin>:3: \"seven\": not a 64-bit integer; nothing was appended",
    );
    assert_eq!(col(&["len", "n"]).ok().out(), "10004\n");

    col(&["truncate", "n", "3"]).ok();
    assert_eq!(col(&["range", "n", "0"]).ok().lines(), ["-7", "-4", "-1"]);
    col(&["truncate", "n", "4"]).fails(1, "cannot truncate");
    // append takes several values in one commit; negative numbers need no --.
    col(&["append", "n", "-5", "6"]).ok();
    assert_eq!(col(&["get", "n", "-2"]).ok().out(), "-5\n");
    col(&["append", "n", "1", "x"]).fails(2, "VALUE \"x\": not a 64-bit integer");
    assert_eq!(
        col(&["len", "n"]).ok().out(),
        "5\n",
        "nothing of a failed append"
    );
    col(&["set", "n", "0", "100"]).ok();
    col(&["set", "n", "5", "1"]).fails(3, "out of range");
    assert_eq!(col(&["pop", "n"]).ok().out(), "6\n");
    assert_eq!(
        col(&["range", "n", "0"]).ok().lines(),
        ["100", "-4", "-1", "-5"]
    );

    // Floats print in a form that reads back exactly.
    col(&["append", "f", "1.5", "-2", "1e300", "0.1", "NaN"]).ok();
    let floats = col(&["range", "f", "0"]).ok().lines();
    assert_eq!(floats, ["1.5", "-2.0", "1e300", "0.1", "NaN"]);

    // Bytes: text in, escaped out; hexadecimal both ways with -x.
    col(&["append", "h", "abcd"]).ok();
    col(&["append", "h", "-x", "00ff0a0d"]).ok();
    col(&["append", "h", "abc"]).fails(2, "a bytes:4 value is 4 bytes, not 3");
    assert_eq!(
        col(&["range", "h", "0"]).ok().lines(),
        ["abcd", "\\x00\\xff\\n\\r"]
    );
    assert_eq!(col(&["get", "h", "-1", "-x"]).ok().out(), "00ff0a0d\n");
    col(&["append", "s", "hello world", "", "tab\there"]).ok();
    run_with(
        &["column", d, "extend", "s"],
        Some(b"line one\n\nline three\n"),
    )
    .ok();
    assert_eq!(
        col(&["range", "s", "0"]).ok().lines(),
        [
            "hello world",
            "",
            "tab\\there",
            "line one",
            "",
            "line three"
        ]
    );
    run_with(&["column", d, "extend", "s", "-x"], Some(b"00ff\n\n")).ok();
    assert_eq!(col(&["range", "s", "-2", "-x"]).ok().lines(), ["00ff", ""]);

    // ls and missing things.
    assert_eq!(
        col(&["ls"]).ok().lines(),
        ["f\tf64\t5", "h\tbytes:4\t2", "n\ti64\t4", "s\tbytes\t8"]
    );
    assert_eq!(
        col(&["ls", "--json"]).ok().json_lines()[0][2],
        serde_json::json!({"name": "n", "type": "i64", "len": 4})
    );
    col(&["get", "nope", "0"]).fails(3, "column \"nope\": not found");
    col(&["append", "nope", "1"]).fails(3, "not found");
    col(&["create", "n", "f64"]).fails(1, "exists");
    col(&["create", "z", "u8"]).fails(2, "expected i64, f64, bytes:N or bytes");
    col(&["create", "z", "bytes:0"]).fails(2, "bytes:N");
    col(&["drop", "h"]).ok();
    col(&["drop", "h"]).fails(3, "drop column \"h\": not found");
    col(&["truncate", "s", "0"]).ok();
    col(&["pop", "s"]).fails(3, "the column is empty");
    assert_eq!(col(&["ls"]).ok().lines().len(), 3);
}

// ---- dump, load and the shell with buckets and columns ----

#[test]
fn dump_leaves_out_buckets_and_columns_and_says_so() {
    let (tmp, db) = seeded();
    let d = p(&db);
    run_with(&["bucket", d, "put", "b", "k", "-"], Some(b"object")).ok();
    run(&["column", d, "create", "c", "i64"]).ok();
    run(&["column", d, "append", "c", "1"]).ok();

    // --all: the keyspaces, a note on stderr, and the count in the end line.
    let r = run(&["dump", d, "--all"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "katamari: note: the dump does not hold the database's 1 bucket and 1 column: \
         dumps hold keyspaces only (`katamari backup` copies everything)\n"
    );
    let lines = r.json_lines();
    assert_eq!(
        lines.last().unwrap(),
        &serde_json::json!({"end": true, "records": 4, "skipped": {"buckets": 1, "columns": 1}})
    );
    assert!(
        lines.iter().all(|l| l.get("keyspace").is_none()),
        "no internal keyspace"
    );
    // --quiet drops the note, not the count.
    let quiet = run(&["dump", "-q", d, "--all"]).ok();
    assert_eq!(quiet.stdout, r.stdout);
    // A dump of the default keyspace alone says nothing about them.
    let plain = run(&["dump", d]).ok().json_lines();
    assert_eq!(
        plain.last().unwrap(),
        &serde_json::json!({"end": true, "records": 4})
    );

    // Loading repeats the note; the new database has the keys and nothing else.
    let other = tmp.path().join("other");
    let r = run_with(&["load", "--create", p(&other)], Some(&r.stdout));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "katamari: note: <stdin>: the dumped database also held 1 bucket and 1 column, \
         which the dump does not hold\n"
    );
    assert_eq!(contents(&other), contents(&db));
    assert_eq!(run(&["bucket", p(&other), "ls"]).ok().out(), "");
    assert_eq!(run(&["column", p(&other), "ls"]).ok().out(), "");
    // backup is the way to copy them.
    let copy = tmp.path().join("copy");
    run(&["backup", d, p(&copy)]).ok();
    assert_eq!(
        run(&["bucket", p(&copy), "get", "b", "k"]).ok().stdout,
        b"object"
    );
    assert_eq!(
        run(&["column", p(&copy), "get", "c", "0"]).ok().out(),
        "1\n"
    );
}

#[test]
fn shell_takes_bucket_and_column_commands() {
    let (tmp, db) = seeded();
    let d = p(&db);
    let file = tmp.path().join("obj");
    // `bucket get` prints the content as it is: this one ends its line itself.
    std::fs::write(&file, b"object body\n").unwrap();
    let script = format!(
        "\
bucket put b k {}
bucket get b k
bucket ls
column create c f64
column append c 2.5 -1
column range c 0
column get c 9
column len c
",
        p(&file)
    );
    let r = run_with(&["shell", d], Some(script.as_bytes()));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "katamari: get 9 of column \"c\": out of range: the column holds 2 values\n"
    );
    let lines = r.lines();
    assert!(lines[0].starts_with("k\t"), "{lines:?}");
    assert_eq!(lines[1..], ["object body", "b", "2.5", "-1.0", "2"]);
}
