//! Shared by `tests/vectors.rs` and `examples/roundtrip.rs` (included with `#[path]`):
//! decoding the byte strings of `kv.json` / `dataset.json` (see `tests/vectors/README.md`),
//! translating both files into the line format the C programs in `tests/vectors/` read
//! (so that C needs no JSON parser), and the Rust round-trip writer and reader.
//!
//! Line format: one record per line, fields separated by single spaces. A byte field is
//! `-` when absent, otherwise `x` followed by the bytes in lowercase hex (`x` alone is
//! empty). Statuses are constant names (`KAT_OK`, ...). See `runner.c` and `roundtrip.c`
//! for the records each program reads.
#![allow(dead_code)]

use std::fmt::Write as _;

use serde_json::Value;

/// The bytes a JSON byte field denotes: a string (its UTF-8 bytes) or
/// `{"hex": "..", "repeat": N}`.
pub fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => {
            let hex = o
                .get("hex")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("byte object without \"hex\": {v}"));
            let one = unhex(hex);
            let n = o.get("repeat").map_or(1, |r| {
                r.as_u64()
                    .unwrap_or_else(|| panic!("\"repeat\" is not a count: {v}"))
            });
            let mut out = Vec::with_capacity(one.len() * n as usize);
            for _ in 0..n {
                out.extend_from_slice(&one);
            }
            out
        }
        _ => panic!("not a byte field: {v}"),
    }
}

/// `field` of `obj` as bytes, if present (and not null).
pub fn opt_bytes(obj: &Value, field: &str) -> Option<Vec<u8>> {
    obj.get(field).filter(|v| !v.is_null()).map(bytes)
}

/// `field` of `obj` as a string, if present (and not null).
pub fn opt_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get(field).filter(|v| !v.is_null()).map(|v| {
        v.as_str()
            .unwrap_or_else(|| panic!("\"{field}\" is not a string: {obj}"))
    })
}

/// `field` of `obj` as a bool (false when absent).
pub fn flag(obj: &Value, field: &str) -> bool {
    obj.get(field).is_some_and(|v| {
        v.as_bool()
            .unwrap_or_else(|| panic!("\"{field}\" is not a bool: {obj}"))
    })
}

/// The expected status name of a step (`KAT_OK` when omitted).
pub fn status(step: &Value) -> &str {
    opt_str(step, "status").unwrap_or("KAT_OK")
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {s:?}")))
        .collect()
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A byte field in the line format.
pub fn field(b: Option<&[u8]>) -> String {
    match b {
        None => "-".into(),
        Some(b) => format!("x{}", hex(b)),
    }
}

fn str_field(s: Option<&str>) -> String {
    field(s.map(str::as_bytes))
}

/// Translates every case of `kv.json` into runner.c's script.
pub fn kv_to_lines(doc: &Value) -> String {
    let mut out = String::new();
    for case in doc["cases"].as_array().expect("\"cases\" is a list") {
        let name = case["name"].as_str().expect("case name");
        let seg = case
            .get("options")
            .and_then(|o| o.get("segment_size"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let _ = writeln!(out, "case {seg} {}", field(Some(name.as_bytes())));
        for step in case["steps"].as_array().expect("\"steps\" is a list") {
            step_to_lines(step, &mut out);
        }
    }
    out
}

fn step_to_lines(step: &Value, out: &mut String) {
    let op = step["op"].as_str().expect("step op");
    let ks = str_field(opt_str(step, "ks"));
    let txn = str_field(opt_str(step, "txn"));
    let key = field(opt_bytes(step, "key").as_deref());
    let st = status(step);
    let line = match op {
        "put" => format!(
            "put {ks} {key} {} {st}",
            field(opt_bytes(step, "value").as_deref())
        ),
        "get" => format!(
            "get {ks} {key} {st} {}",
            field(opt_bytes(step, "value").as_deref())
        ),
        "delete" => format!("delete {ks} {key} {st}"),
        "contains" => {
            let found = match step.get("found").and_then(Value::as_bool) {
                None => "-",
                Some(true) => "1",
                Some(false) => "0",
            };
            format!("contains {ks} {key} {st} {found}")
        }
        "batch" => {
            let ops = step["ops"].as_array().expect("batch ops");
            let mut s = format!("batch {st} {}", ops.len());
            for o in ops {
                let oks = str_field(opt_str(o, "ks"));
                let okey = field(opt_bytes(o, "key").as_deref());
                match o["op"].as_str() {
                    Some("put") => {
                        let v = field(opt_bytes(o, "value").as_deref());
                        let _ = write!(s, "\nbput {oks} {okey} {v}");
                    }
                    Some("delete") => {
                        let _ = write!(s, "\nbdel {oks} {okey}");
                    }
                    other => panic!("unknown batch op {other:?}"),
                }
            }
            s
        }
        "begin" => {
            let mut flags = 0;
            if flag(step, "read_only") {
                flags |= 1;
            }
            if flag(step, "serializable") {
                flags |= 2;
            }
            format!("begin {txn} {flags} {st}")
        }
        "txn_put" => format!(
            "txn_put {txn} {ks} {key} {} {st}",
            field(opt_bytes(step, "value").as_deref())
        ),
        "txn_get" => format!(
            "txn_get {txn} {ks} {key} {st} {}",
            field(opt_bytes(step, "value").as_deref())
        ),
        "txn_delete" => format!("txn_delete {txn} {ks} {key} {st}"),
        "commit" => format!("commit {txn} {st}"),
        "abort" => format!("abort {txn} {st}"),
        "scan" => {
            let entries = step
                .get("entries")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut s = format!(
                "scan {ks} {txn} {} {} {} {} {st} {}",
                field(opt_bytes(step, "prefix").as_deref()),
                field(opt_bytes(step, "start").as_deref()),
                field(opt_bytes(step, "end").as_deref()),
                u8::from(flag(step, "reverse")),
                entries.len()
            );
            for e in entries {
                let _ = write!(
                    s,
                    "\nentry {} {}",
                    field(Some(&bytes(&e[0]))),
                    field(Some(&bytes(&e[1])))
                );
            }
            s
        }
        "drop_keyspace" => format!("drop_keyspace {ks} {st}"),
        "reopen" => "reopen".into(),
        other => panic!("unknown op {other:?}"),
    };
    out.push_str(&line);
    out.push('\n');
}

/// `dataset.json`: keyspace names and entries (`ks` None is the default keyspace).
pub struct Dataset {
    pub keyspaces: Vec<String>,
    pub entries: Vec<(Option<String>, Vec<u8>, Vec<u8>)>,
}

impl Dataset {
    pub fn parse(doc: &Value) -> Dataset {
        assert_eq!(doc["format"].as_u64(), Some(1), "dataset format");
        let keyspaces = doc["keyspaces"]
            .as_array()
            .expect("\"keyspaces\" is a list")
            .iter()
            .map(|k| k.as_str().expect("keyspace name").to_string())
            .collect();
        let entries = doc["entries"]
            .as_array()
            .expect("\"entries\" is a list")
            .iter()
            .map(|e| {
                (
                    opt_str(e, "ks").map(str::to_string),
                    bytes(&e["key"]),
                    bytes(&e["value"]),
                )
            })
            .collect();
        Dataset { keyspaces, entries }
    }

    pub fn load(path: &std::path::Path) -> Dataset {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Dataset::parse(&doc)
    }

    /// The dataset in roundtrip.c's line format: `keyspace <name>` lines, then
    /// `entry <ks|-> <key> <value>` lines.
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        for k in &self.keyspaces {
            let _ = writeln!(out, "keyspace {}", field(Some(k.as_bytes())));
        }
        for (ks, k, v) in &self.entries {
            let _ = writeln!(
                out,
                "entry {} {} {}",
                str_field(ks.as_deref()),
                field(Some(k)),
                field(Some(v))
            );
        }
        out
    }
}

/// Keyspace name, key, value.
type DatasetEntry<'a> = (Option<&'a str>, &'a [u8], &'a [u8]);

/// Key/value pairs by keyspace name (None: the default keyspace).
type ByKeyspace<'a> = std::collections::BTreeMap<Option<&'a str>, Vec<(&'a [u8], &'a [u8])>>;

impl Dataset {
    fn entries(&self) -> impl Iterator<Item = DatasetEntry<'_>> {
        self.entries
            .iter()
            .map(|(ks, k, v)| (ks.as_deref(), k.as_slice(), v.as_slice()))
    }

    /// The expected full scan of each keyspace (None: the default keyspace), sorted.
    fn expected(&self) -> ByKeyspace<'_> {
        let mut by_ks = ByKeyspace::new();
        by_ks.insert(None, Vec::new());
        for k in &self.keyspaces {
            by_ks.insert(Some(k.as_str()), Vec::new());
        }
        for (ks, k, v) in self.entries() {
            by_ks
                .get_mut(&ks)
                .unwrap_or_else(|| panic!("entry in unlisted keyspace {ks:?}"))
                .push((k, v));
        }
        for (ks, list) in by_ks.iter_mut() {
            list.sort();
            for pair in list.windows(2) {
                assert!(pair[0].0 != pair[1].0, "duplicate key in {ks:?}");
            }
            if ks.is_none() {
                assert!(
                    list.iter().all(|(k, _)| *k != WRITER_KEY),
                    "the dataset must not use the key \"writer\""
                );
            }
        }
        by_ks
    }
}

/// The default-keyspace key a round-trip writer sets to its language's name.
pub const WRITER_KEY: &[u8] = b"writer";

/// Writes `ds` into a fresh database at `dir`, plus `writer` = `lang`.
pub fn write_dataset(dir: &std::path::Path, ds: &Dataset, lang: &str) -> Result<(), String> {
    let db = katamari::Db::open(dir, katamari::Options::default())
        .map_err(|e| format!("open {}: {e}", dir.display()))?;
    let mut handles = std::collections::HashMap::new();
    for name in &ds.keyspaces {
        let ks = db
            .keyspace(name.as_bytes())
            .map_err(|e| format!("keyspace {name:?}: {e}"))?;
        handles.insert(name.as_str(), ks);
    }
    for (ks, k, v) in ds.entries() {
        match ks {
            None => db.put(k, v),
            Some(name) => handles[name].put(k, v),
        }
        .map_err(|e| format!("put into {ks:?}: {e}"))?;
    }
    db.put(WRITER_KEY, lang.as_bytes())
        .map_err(|e| format!("put writer: {e}"))?;
    drop(handles);
    db.close().map_err(|e| format!("close: {e}"))
}

/// Checks that the database at `dir` holds exactly `ds` (plus the writer key) in every
/// keyspace and has exactly its keyspaces; returns the writer's name.
pub fn verify_dataset(dir: &std::path::Path, ds: &Dataset) -> Result<String, String> {
    let db = katamari::Db::open(dir, katamari::Options::default().create_if_missing(false))
        .map_err(|e| format!("open {}: {e}", dir.display()))?;
    let result = verify_open(&db, ds);
    db.close().map_err(|e| format!("close: {e}"))?;
    result
}

fn verify_open(db: &katamari::Db, ds: &Dataset) -> Result<String, String> {
    let mut want_names: Vec<&[u8]> = ds.keyspaces.iter().map(|k| k.as_bytes()).collect();
    want_names.sort();
    let names = db.keyspaces().map_err(|e| format!("keyspaces: {e}"))?;
    let names: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
    if names != want_names {
        return Err(format!(
            "keyspaces {:?}, expected {:?}",
            names
                .iter()
                .map(|n| String::from_utf8_lossy(n))
                .collect::<Vec<_>>(),
            ds.keyspaces
        ));
    }
    let mut writer = None;
    for (ks, want) in ds.expected() {
        let opts = katamari::IterOptions::default();
        let it = match ks {
            None => db.iter(&opts),
            Some(name) => db.keyspace(name.as_bytes()).and_then(|h| h.iter(&opts)),
        }
        .map_err(|e| format!("scan {ks:?}: {e}"))?;
        let mut got: Vec<(Vec<u8>, Vec<u8>)> = it
            .collect::<Result<_, _>>()
            .map_err(|e| format!("scan {ks:?}: {e}"))?;
        if ks.is_none() {
            let at = got
                .iter()
                .position(|(k, _)| k == WRITER_KEY)
                .ok_or("no \"writer\" key")?;
            writer = Some(String::from_utf8_lossy(&got.remove(at).1).into_owned());
        }
        if got.len() != want.len() {
            return Err(format!(
                "keyspace {ks:?}: {} entries, expected {}",
                got.len(),
                want.len()
            ));
        }
        for ((gk, gv), (wk, wv)) in got.iter().zip(&want) {
            if gk.as_slice() != *wk {
                return Err(format!(
                    "keyspace {ks:?}: key x{} where x{} was expected",
                    hex(gk),
                    hex(wk)
                ));
            }
            if gv.as_slice() != *wv {
                return Err(format!(
                    "keyspace {ks:?}, key x{}: a value of {} bytes differs from the expected {} bytes",
                    hex(gk),
                    gv.len(),
                    wv.len()
                ));
            }
        }
    }
    writer.ok_or_else(|| "no writer key".to_string())
}
