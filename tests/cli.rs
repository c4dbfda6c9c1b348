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
    let mut child = Command::new(BIN)
        .args(args)
        .env("KATAMARI_HISTORY", "")
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
