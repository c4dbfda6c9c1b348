//! `dump` and `load`: the portable JSON-lines format of docs/CLI.md.
//!
//! ```text
//! {"format":"katamari-dump","version":1}                    header, first line
//! {"keyspace":"dXNlcnM="}                                    a named keyspace (may be empty)
//! {"keyspace":"dXNlcnM=","key":"YQ==","value":"MQ==","expires_at":1767225600000}
//! {"key":"Yg==","value":""}                                   default keyspace, no expiry
//! {"end":true,"records":2}                                   trailer, last line
//! ```
//!
//! Every byte string (keyspace name, key, value) is standard base64 with padding.
//!
//! Buckets and columns live in the library's internal keyspaces and are not part of a
//! dump: their stored form (bucket ids bound into encrypted chunks, version numbers,
//! column descriptors) cannot be recreated through the public API of another database.
//! A dump with `--all` says how many it left out, in its end line (`"skipped"`) and in
//! a note on stderr; `load` repeats the note.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::prelude::{Engine as _, BASE64_STANDARD};
use katamari::{Db, IterOptions, Keyspace, SyncMode, TxnOptions, WriteBatch};
use serde_json::{json, Map, Value};

use crate::args::{DumpArgs, LoadArgs};
use crate::commands::Out;
use crate::error::{CliError, CliResult};
use crate::open::{self, Mode};
use crate::progress;

/// The header's `format` value.
pub const FORMAT: &str = "katamari-dump";
/// The format version this tool writes and reads.
pub const VERSION: u64 = 1;
/// A load batch is committed at this many bytes of keys and values even when it holds
/// fewer records than `--batch`.
const BATCH_BYTES: usize = 8 << 20;

fn b64(bytes: &[u8]) -> String {
    BASE64_STANDARD.encode(bytes)
}

/// What one dump covers: the default keyspace and/or named ones.
struct Plan {
    default: bool,
    named: Vec<Keyspace>,
    /// Buckets and columns of the database, which the dump leaves out (counted for
    /// `--all` only: the other dumps choose one part of the database anyway).
    skipped: Skipped,
}

/// Buckets and columns a dump leaves out.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub buckets: u64,
    pub columns: u64,
}

impl Skipped {
    fn is_empty(self) -> bool {
        self == Skipped::default()
    }

    fn json(self) -> Value {
        json!({ "buckets": self.buckets, "columns": self.columns })
    }

    /// `2 buckets and 1 column`.
    fn describe(self) -> String {
        let count = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let parts: Vec<String> = [(self.buckets, "bucket"), (self.columns, "column")]
            .into_iter()
            .filter(|&(n, _)| n > 0)
            .map(|(n, what)| count(n, what))
            .collect();
        parts.join(" and ")
    }
}

pub fn dump(dir: &Path, a: &DumpArgs, quiet: bool, mut out: Out) -> CliResult<()> {
    let db = open::open(dir, Mode::Existing)?;
    let plan = if let Some(name) = &a.keyspace {
        match open::Space::existing(&db, Some(name))? {
            open::Space::Named(ks) => Plan {
                default: false,
                named: vec![ks],
                skipped: Skipped::default(),
            },
            open::Space::Default => unreachable!("a name was given"),
        }
    } else if a.all {
        let names = db
            .keyspaces()
            .map_err(|e| CliError::db("listing keyspaces", e))?;
        let named = names
            .iter()
            .map(|n| db.keyspace(n))
            .collect::<katamari::Result<Vec<_>>>()
            .map_err(|e| CliError::db("opening keyspaces", e))?;
        let buckets = db
            .buckets()
            .map_err(|e| CliError::db("listing buckets", e))?
            .len() as u64;
        let columns = db
            .columns()
            .map_err(|e| CliError::db("listing columns", e))?
            .len() as u64;
        Plan {
            default: true,
            named,
            skipped: Skipped { buckets, columns },
        }
    } else {
        Plan {
            default: true,
            named: Vec::new(),
            skipped: Skipped::default(),
        }
    };
    let started = Instant::now();
    let bar = progress::bar(quiet, None, "dumping", "records");
    let count = match a.output.as_deref().filter(|p| p.as_os_str() != "-") {
        None => {
            let n = write_dump(&db, &plan, &mut out, &bar, &CliError::output)?;
            out.flush().map_err(CliError::output)?;
            n
        }
        Some(path) => dump_to_file(&db, &plan, path, &bar)?,
    };
    bar.finish_and_clear();
    db.close()
        .map_err(|e| CliError::db("closing the database", e))?;
    if progress::shown(quiet) {
        eprintln!(
            "dumped {count} records from {} in {:.2?}",
            dir.display(),
            started.elapsed()
        );
    }
    // Shown when piped too: data left out of a dump must not go unnoticed.
    if !quiet && !plan.skipped.is_empty() {
        eprintln!(
            "katamari: note: the dump does not hold the database's {}: dumps hold \
             keyspaces only (`katamari backup` copies everything)",
            plan.skipped.describe()
        );
    }
    Ok(())
}

fn dump_to_file(db: &Db, plan: &Plan, path: &Path, bar: &indicatif::ProgressBar) -> CliResult<u64> {
    replace_file(path, |w, werr| write_dump(db, plan, w, bar, werr))
}

/// Writes `path` through `f` (given the writer and the error for a failed write) into a
/// temporary file beside it, syncs it and renames it over `path`, so `path` is never
/// left holding partial output. On failure the temporary file is removed.
pub fn replace_file<T>(
    path: &Path,
    f: impl FnOnce(&mut dyn Write, &dyn Fn(io::Error) -> CliError) -> CliResult<T>,
) -> CliResult<T> {
    let tmp = partial_path(path);
    let file = File::create(&tmp).map_err(|e| CliError::io(path.display(), e))?;
    let mut w = io::BufWriter::new(file);
    let werr = |e: io::Error| CliError::io(path.display(), e);
    let result = f(&mut w, &werr).and_then(|n| {
        let file = w.into_inner().map_err(|e| werr(e.into_error()))?;
        file.sync_all().map_err(werr)?;
        std::fs::rename(&tmp, path).map_err(|e| CliError::io(path.display(), e))?;
        Ok(n)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `dir/.NAME.partial` for `dir/NAME`.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dump".into());
    path.with_file_name(format!(".{name}.partial"))
}

/// Writes header, records and trailer; returns the number of records. All keyspaces are
/// read from one snapshot.
fn write_dump(
    db: &Db,
    plan: &Plan,
    w: &mut dyn Write,
    bar: &indicatif::ProgressBar,
    werr: &dyn Fn(io::Error) -> CliError,
) -> CliResult<u64> {
    let mut txn = db
        .begin_with(TxnOptions {
            read_only: true,
            ..TxnOptions::default()
        })
        .map_err(|e| CliError::db("starting a read transaction", e))?;
    writeln!(w, "{}", json!({ "format": FORMAT, "version": VERSION })).map_err(werr)?;
    let mut count = 0u64;
    let all = IterOptions::default();
    let mut spaces: Vec<(Option<String>, Option<&katamari::Keyspace>, katamari::Iter)> = Vec::new();
    if plan.default {
        let iter = txn.iter(&all).map_err(|e| CliError::db("scan", e))?;
        spaces.push((None, None, iter));
    }
    for ks in &plan.named {
        let iter = txn.iter_in(ks, &all).map_err(|e| CliError::db("scan", e))?;
        spaces.push((Some(b64(ks.name())), Some(ks), iter));
    }
    for (name, space, iter) in spaces {
        if let Some(name) = &name {
            writeln!(w, "{}", json!({ "keyspace": name })).map_err(werr)?;
        }
        for item in iter {
            let (key, value) = item.map_err(|e| CliError::db("scan", e))?;
            // The dump holds the only handle (the directory lock), so the newest expiry
            // is the snapshot's.
            let expires_at = match space {
                None => db.expires_at(&key),
                Some(ks) => ks.expires_at(&key),
            }
            .map_err(|e| CliError::db("reading an expiry", e))?;
            write_record(w, name.as_deref(), &key, &value, expires_at).map_err(werr)?;
            count += 1;
            bar.inc(1);
        }
    }
    let mut end = json!({ "end": true, "records": count });
    if !plan.skipped.is_empty() {
        end["skipped"] = plan.skipped.json();
    }
    writeln!(w, "{end}").map_err(werr)?;
    Ok(count)
}

/// One record line. Base64 needs no JSON escaping, so the line is written directly.
fn write_record(
    w: &mut dyn Write,
    keyspace: Option<&str>,
    key: &[u8],
    value: &[u8],
    expires_at: Option<u64>,
) -> io::Result<()> {
    w.write_all(b"{")?;
    if let Some(ks) = keyspace {
        write!(w, "\"keyspace\":\"{ks}\",")?;
    }
    write!(w, "\"key\":\"{}\",\"value\":\"{}\"", b64(key), b64(value))?;
    if let Some(at) = expires_at {
        write!(w, ",\"expires_at\":{at}")?;
    }
    w.write_all(b"}\n")
}

pub fn load(dir: &Path, create: bool, a: &LoadArgs, quiet: bool) -> CliResult<()> {
    // Open the input first: a missing input file must not create a database.
    let (input, name, len): (Box<dyn Read>, String, Option<u64>) =
        match a.input.as_deref().filter(|p| p.as_os_str() != "-") {
            None => (Box::new(io::stdin()), "<stdin>".to_owned(), None),
            Some(path) => {
                let file = File::open(path).map_err(|e| CliError::io(path.display(), e))?;
                let len = file.metadata().ok().map(|m| m.len());
                (Box::new(file), path.display().to_string(), len)
            }
        };
    // Batches are not synced one by one; closing syncs everything once at the end.
    let db = open::open_with(dir, Mode::write(create), SyncMode::Never)?;
    let started = Instant::now();
    let (bar, input): (_, Box<dyn Read>) = match len {
        Some(len) => {
            let bar = progress::bytes_bar(quiet, len, "loading");
            let input = Box::new(bar.wrap_read(input));
            (bar, input)
        }
        None => (progress::bar(quiet, None, "loading", "records"), input),
    };
    let mut loader = Loader {
        db: &db,
        batch: WriteBatch::new(),
        batch_bytes: 0,
        batch_limit: a.batch as usize,
        spaces: HashMap::new(),
        records: 0,
        expired: 0,
        skipped: Skipped::default(),
    };
    let result = loader.run(BufReader::with_capacity(1 << 16, input), &name, &bar);
    bar.finish_and_clear();
    result?;
    db.close()
        .map_err(|e| CliError::db("closing the database", e))?;
    if progress::shown(quiet) {
        eprintln!(
            "loaded {} records ({} already expired, skipped) into {} in {:.2?}",
            loader.records,
            loader.expired,
            dir.display(),
            started.elapsed()
        );
    }
    if !quiet && !loader.skipped.is_empty() {
        eprintln!(
            "katamari: note: {name}: the dumped database also held {}, which the dump \
             does not hold",
            loader.skipped.describe()
        );
    }
    Ok(())
}

struct Loader<'a> {
    db: &'a Db,
    batch: WriteBatch,
    batch_bytes: usize,
    batch_limit: usize,
    spaces: HashMap<Vec<u8>, Keyspace>,
    /// Records read (loaded or skipped as expired).
    records: u64,
    /// Records skipped because their expiry had passed.
    expired: u64,
    /// What the end line says the dump left out.
    skipped: Skipped,
}

/// Where a load is in its input.
#[derive(PartialEq)]
enum Stage {
    Header,
    Body,
    Done,
}

impl Loader<'_> {
    fn run(
        &mut self,
        mut input: impl BufRead,
        name: &str,
        bar: &indicatif::ProgressBar,
    ) -> CliResult<()> {
        let mut stage = Stage::Header;
        let mut line = String::new();
        let mut line_no = 0u64;
        loop {
            line.clear();
            let n = input
                .read_line(&mut line)
                .map_err(|e| CliError::io(format!("{name}:{}", line_no + 1), e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            let at = || format!("{name}:{line_no}");
            let value: Value = serde_json::from_str(&line)
                .map_err(|e| CliError::failure(at(), format!("not JSON: {e}")))?;
            let Value::Object(obj) = value else {
                return Err(CliError::failure(at(), "not a JSON object"));
            };
            match stage {
                Stage::Header => {
                    check_header(&obj).map_err(|why| CliError::failure(at(), why))?;
                    stage = Stage::Body;
                }
                Stage::Done => {
                    return Err(CliError::failure(at(), "data after the end line"));
                }
                Stage::Body if obj.contains_key("end") => {
                    self.flush()
                        .map_err(|e| CliError::new(e.exit, at(), e.message))?;
                    let expected = obj.get("records").and_then(Value::as_u64);
                    if obj.get("end") != Some(&Value::Bool(true)) || expected.is_none() {
                        return Err(CliError::failure(
                            at(),
                            "the end line must be {\"end\":true,\"records\":N}",
                        ));
                    }
                    if expected != Some(self.records) {
                        return Err(CliError::failure(
                            at(),
                            format!(
                                "the dump says {} records but holds {}",
                                expected.unwrap_or(0),
                                self.records
                            ),
                        ));
                    }
                    if let Some(Value::Object(s)) = obj.get("skipped") {
                        let n = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
                        self.skipped = Skipped {
                            buckets: n("buckets"),
                            columns: n("columns"),
                        };
                    }
                    stage = Stage::Done;
                }
                Stage::Body => {
                    self.record(&obj)
                        .map_err(|e| CliError::new(e.exit, at(), e.message))?;
                    if bar.length().is_none() {
                        bar.set_position(self.records);
                    }
                }
            }
        }
        match stage {
            Stage::Header => Err(CliError::failure(name, "empty input: not a Katamari dump")),
            Stage::Body => {
                self.flush()
                    .map_err(|e| CliError::new(e.exit, name, e.message))?;
                Err(CliError::failure(
                    name,
                    format!(
                        "the input ends without the end line: the dump is incomplete \
                         ({} records were loaded)",
                        self.records
                    ),
                ))
            }
            Stage::Done => Ok(()),
        }
    }

    /// Adds one keyspace declaration or key record to the batch.
    fn record(&mut self, obj: &Map<String, Value>) -> CliResult<()> {
        let keyspace = match obj.get("keyspace") {
            None | Some(Value::Null) => None,
            Some(v) => Some(self.keyspace(&field_bytes(v, "keyspace")?)?),
        };
        let Some(key) = obj.get("key") else {
            return match keyspace {
                Some(_) => Ok(()),
                None => Err(CliError::failure(
                    "invalid record",
                    "neither \"key\" nor \"keyspace\"",
                )),
            };
        };
        let key = field_bytes(key, "key")?;
        let value = field_bytes(
            obj.get("value")
                .ok_or_else(|| CliError::failure("invalid record", "no \"value\""))?,
            "value",
        )?;
        let expires_at = match obj.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                CliError::failure(
                    "invalid record",
                    "\"expires_at\" must be milliseconds since the Unix epoch",
                )
            })?),
        };
        self.records += 1;
        let ttl = match expires_at {
            None => None,
            Some(at) => {
                let now = now_ms();
                if at <= now {
                    self.expired += 1;
                    return Ok(());
                }
                Some(Duration::from_millis(at - now))
            }
        };
        let added = match (&keyspace, ttl) {
            (None, None) => self.batch.put(&key, &value),
            (None, Some(t)) => self.batch.put_with_ttl(&key, &value, t),
            (Some(ks), None) => self.batch.put_in(ks, &key, &value),
            (Some(ks), Some(t)) => self.batch.put_with_ttl_in(ks, &key, &value, t),
        };
        added.map_err(|e| CliError::db("invalid record", e))?;
        self.batch_bytes += key.len() + value.len();
        if self.batch.len() >= self.batch_limit || self.batch_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// The keyspace called `name`, created if missing.
    fn keyspace(&mut self, name: &[u8]) -> CliResult<Keyspace> {
        if let Some(ks) = self.spaces.get(name) {
            return Ok(ks.clone());
        }
        let ks = self
            .db
            .keyspace(name)
            .map_err(|e| CliError::db("keyspace", e))?;
        self.spaces.insert(name.to_vec(), ks.clone());
        Ok(ks)
    }

    fn flush(&mut self) -> CliResult<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.db
            .write(&self.batch)
            .map_err(|e| CliError::db("writing a batch", e))?;
        self.batch.clear();
        self.batch_bytes = 0;
        Ok(())
    }
}

fn check_header(obj: &Map<String, Value>) -> Result<(), String> {
    if obj.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(format!(
            "not a Katamari dump: the first line must be {{\"format\":\"{FORMAT}\",\"version\":{VERSION}}}"
        ));
    }
    match obj.get("version").and_then(Value::as_u64) {
        Some(VERSION) => Ok(()),
        Some(v) => Err(format!(
            "dump format version {v} is not supported (this tool reads version {VERSION})"
        )),
        None => Err("the header has no \"version\"".into()),
    }
}

/// A base64 string field's bytes.
fn field_bytes(v: &Value, field: &str) -> CliResult<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| {
        CliError::failure(
            "invalid record",
            format!("\"{field}\" must be a base64 string"),
        )
    })?;
    BASE64_STANDARD
        .decode(s)
        .map_err(|e| CliError::failure("invalid record", format!("\"{field}\" is not base64: {e}")))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
