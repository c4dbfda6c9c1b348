//! The commands the command line and the shell share: get, put, delete, scan, stats,
//! keyspaces. Each takes a [`Ctx`] (the open database, where to print, and the shell's
//! current keyspace) and its parsed arguments.

use std::io::{Read, Write};
use std::path::Path;

use indicatif::HumanBytes;
use katamari::{Db, IterOptions};
use serde_json::json;

use crate::args::{DeleteArgs, GetArgs, JsonArgs, KeyOpts, PutArgs, ScanArgs};
use crate::bytes;
use crate::error::{CliError, CliResult};
use crate::open::Space;

/// Where commands print.
pub type Out = Box<dyn Write>;

pub struct Ctx<'a> {
    pub db: &'a Db,
    pub out: &'a mut Out,
    /// The keyspace commands use when they are given none (the shell's `use`).
    pub keyspace: Option<String>,
}

impl<'a> Ctx<'a> {
    pub fn new(db: &'a Db, out: &'a mut Out) -> Ctx<'a> {
        Ctx {
            db,
            out,
            keyspace: None,
        }
    }

    /// The keyspace named by `opts`, else the current one.
    fn keyspace_name<'b>(&'b self, opts: &'b KeyOpts) -> Option<&'b str> {
        opts.keyspace.as_deref().or(self.keyspace.as_deref())
    }

    fn existing_space(&self, opts: &KeyOpts) -> CliResult<Space> {
        Space::existing(self.db, self.keyspace_name(opts))
    }

    pub fn write(&mut self, bytes: &[u8]) -> CliResult<()> {
        self.out.write_all(bytes).map_err(CliError::output)
    }

    pub fn line(&mut self, text: &str) -> CliResult<()> {
        self.write(text.as_bytes())?;
        self.write(b"\n")
    }
}

pub fn get(ctx: &mut Ctx<'_>, a: &GetArgs) -> CliResult<()> {
    let key = bytes::from_arg(&a.key, a.opts.hex, "KEY")?;
    let what = || format!("get {}", bytes::show(&key, a.opts.hex));
    let space = ctx.existing_space(&a.opts)?;
    let value = space
        .get(ctx.db, &key)
        .map_err(|e| CliError::db(what(), e))?
        .ok_or_else(|| CliError::not_found(what()))?;
    if a.raw {
        ctx.write(&value)
    } else if a.opts.hex {
        ctx.line(&hex::encode(&value))
    } else {
        ctx.write(&value)?;
        ctx.write(b"\n")
    }
}

pub fn put(ctx: &mut Ctx<'_>, a: &PutArgs) -> CliResult<()> {
    let key = bytes::from_arg(&a.key, a.opts.hex, "KEY")?;
    let value = match (&a.value, &a.file) {
        (Some(v), _) => bytes::from_arg(v, a.opts.hex, "VALUE")?,
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .map_err(|e| CliError::io("reading the value from standard input", e))?;
            v
        }
        (None, Some(path)) => std::fs::read(path).map_err(|e| CliError::io(path.display(), e))?,
        (None, None) => unreachable!("clap requires VALUE or --file"),
    };
    let what = || format!("put {}", bytes::show(&key, a.opts.hex));
    let space =
        Space::resolve(ctx.db, ctx.keyspace_name(&a.opts), true)?.expect("created when missing");
    space
        .put(ctx.db, &key, &value, a.ttl)
        .map_err(|e| CliError::db(what(), e))
}

pub fn delete(ctx: &mut Ctx<'_>, a: &DeleteArgs) -> CliResult<()> {
    let key = bytes::from_arg(&a.key, a.opts.hex, "KEY")?;
    // Deleting from a keyspace that does not exist deletes nothing, like deleting a
    // missing key; it does not create the keyspace.
    let Some(space) = Space::resolve(ctx.db, ctx.keyspace_name(&a.opts), false)? else {
        return Ok(());
    };
    space
        .delete(ctx.db, &key)
        .map_err(|e| CliError::db(format!("delete {}", bytes::show(&key, a.opts.hex)), e))
}

pub fn scan(ctx: &mut Ctx<'_>, a: &ScanArgs) -> CliResult<()> {
    let hex = a.opts.hex;
    let bound = |arg: &Option<String>, what: &str| {
        arg.as_deref()
            .map(|s| bytes::from_arg(s, hex, what))
            .transpose()
    };
    let opts = IterOptions {
        prefix: bound(&a.prefix, "--prefix")?,
        start: bound(&a.start, "--start")?,
        end: bound(&a.end, "--end")?,
        reverse: a.reverse,
    };
    let space = ctx.existing_space(&a.opts)?;
    let iter = space
        .iter(ctx.db, &opts)
        .map_err(|e| CliError::db("scan", e))?;
    for item in iter.take(a.limit.unwrap_or(usize::MAX)) {
        let (k, v) = item.map_err(|e| CliError::db("scan", e))?;
        let line = match (a.json, a.keys_only) {
            (true, true) => json!({ "key": bytes::json(&k, hex) }).to_string(),
            (true, false) => {
                json!({ "key": bytes::json(&k, hex), "value": bytes::json(&v, hex) }).to_string()
            }
            (false, true) => bytes::show(&k, hex),
            (false, false) => format!("{}\t{}", bytes::show(&k, hex), bytes::show(&v, hex)),
        };
        ctx.line(&line)?;
    }
    Ok(())
}

pub fn stats(ctx: &mut Ctx<'_>, dir: &Path, a: &JsonArgs) -> CliResult<()> {
    let s = ctx
        .db
        .stats()
        .map_err(|e| CliError::db("reading stats", e))?;
    let names = ctx
        .db
        .keyspaces()
        .map_err(|e| CliError::db("listing keyspaces", e))?;
    if a.json {
        let v = json!({
            "path": dir.display().to_string(),
            "live_keys": s.live_keys,
            "live_bytes": s.live_bytes,
            "dead_bytes": s.dead_bytes,
            "total_bytes": s.total_bytes,
            "segments": s.segments,
            "keydir_bytes": s.keydir_bytes,
            "last_seq": s.last_seq,
            "keyspaces": names.iter().map(|n| bytes::json(n, false)).collect::<Vec<_>>(),
        });
        return ctx.line(&v.to_string());
    }
    let size = |n: u64| format!("{} ({n} bytes)", HumanBytes(n));
    let shown: Vec<String> = names.iter().map(|n| bytes::escape(n)).collect();
    let rows = [
        ("path", dir.display().to_string()),
        ("live keys", s.live_keys.to_string()),
        ("live data", size(s.live_bytes)),
        ("dead data", size(s.dead_bytes)),
        ("total on disk", size(s.total_bytes)),
        ("segments", s.segments.to_string()),
        ("index memory", size(s.keydir_bytes)),
        ("last sequence", s.last_seq.to_string()),
        (
            "keyspaces",
            if shown.is_empty() {
                "0".to_owned()
            } else {
                format!("{} ({})", shown.len(), shown.join(", "))
            },
        ),
    ];
    for (name, value) in rows {
        ctx.line(&format!("{name:<14}{value}"))?;
    }
    Ok(())
}

pub fn keyspaces(ctx: &mut Ctx<'_>, a: &JsonArgs) -> CliResult<()> {
    let names = ctx
        .db
        .keyspaces()
        .map_err(|e| CliError::db("listing keyspaces", e))?;
    if a.json {
        let v: Vec<_> = names.iter().map(|n| bytes::json(n, false)).collect();
        return ctx.line(&serde_json::Value::Array(v).to_string());
    }
    for n in names {
        ctx.line(&bytes::escape(&n))?;
    }
    Ok(())
}
