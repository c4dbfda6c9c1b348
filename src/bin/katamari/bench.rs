//! `bench`: a quick fill and random-read run against an empty database.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::HumanBytes;
use katamari::{SyncMode, WriteBatch};
use serde_json::json;

use crate::args::BenchArgs;
use crate::commands::Out;
use crate::error::{CliError, CliResult};
use crate::open::{self, Mode};
use crate::progress;

fn key(i: u64) -> Vec<u8> {
    format!("bench:{i:012}").into_bytes()
}

fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

pub fn run(dir: &Path, create: bool, a: &BenchArgs, quiet: bool, mut out: Out) -> CliResult<()> {
    let sync = if a.sync {
        SyncMode::Always
    } else {
        SyncMode::Never
    };
    let db = open::open_with(dir, Mode::write(create), sync)?;
    let stats = db.stats().map_err(|e| CliError::db("reading stats", e))?;
    let keyspaces = db
        .keyspaces()
        .map_err(|e| CliError::db("listing keyspaces", e))?;
    if stats.live_keys > 0 || !keyspaces.is_empty() {
        return Err(CliError::failure(
            dir.display(),
            format!(
                "bench needs an empty database, this one holds {} keys and {} keyspaces \
                 (use a new directory with --create)",
                stats.live_keys,
                keyspaces.len()
            ),
        ));
    }

    // Fill: sequential keys, random values, in batches.
    let mut rng = fastrand::Rng::with_seed(a.seed);
    let mut value = vec![0u8; a.value_size];
    let mut batch = WriteBatch::new();
    let bar = progress::bar(quiet, Some(a.keys), "fill", "keys");
    let started = Instant::now();
    for i in 0..a.keys {
        rng.fill(&mut value);
        batch
            .put(&key(i), &value)
            .map_err(|e| CliError::db("bench fill", e))?;
        if batch.len() >= a.batch as usize || i + 1 == a.keys {
            db.write(&batch)
                .map_err(|e| CliError::db("bench fill", e))?;
            bar.inc(batch.len() as u64);
            batch.clear();
        }
    }
    db.sync().map_err(|e| CliError::db("bench fill", e))?;
    let fill = started.elapsed();
    bar.finish_and_clear();

    // Random reads of keys that exist.
    let reads = a.reads.unwrap_or(a.keys);
    let bar = progress::bar(quiet, Some(reads), "read", "gets");
    let started = Instant::now();
    let mut read_bytes = 0u64;
    for n in 0..reads {
        let k = key(rng.u64(0..a.keys));
        let v = db
            .get(&k)
            .map_err(|e| CliError::db("bench read", e))?
            .ok_or_else(|| {
                CliError::failure(
                    "bench read",
                    format!("{} is missing", String::from_utf8_lossy(&k)),
                )
            })?;
        read_bytes += v.len() as u64;
        if n % 1024 == 1023 {
            bar.inc(1024);
        }
    }
    let read = started.elapsed();
    bar.finish_and_clear();
    let disk = db
        .stats()
        .map_err(|e| CliError::db("reading stats", e))?
        .total_bytes;
    db.close()
        .map_err(|e| CliError::db("closing the database", e))?;

    let written = a.keys * (a.value_size as u64);
    let text = if a.json {
        json!({
            "keys": a.keys,
            "value_size": a.value_size,
            "batch": a.batch,
            "sync": a.sync,
            "fill_secs": fill.as_secs_f64(),
            "fill_ops_per_sec": per_sec(a.keys, fill),
            "reads": reads,
            "read_secs": read.as_secs_f64(),
            "read_ops_per_sec": per_sec(reads, read),
            "read_bytes": read_bytes,
            "disk_bytes": disk,
        })
        .to_string()
    } else {
        format!(
            "fill: {} keys of {} B in {:.3} s: {:.0} ops/s, {}/s (batches of {}, {})\n\
             read: {} random gets in {:.3} s: {:.0} ops/s\n\
             disk: {}",
            a.keys,
            a.value_size,
            fill.as_secs_f64(),
            per_sec(a.keys, fill),
            HumanBytes(per_sec(written, fill) as u64),
            a.batch,
            if a.sync { "each synced" } else { "synced once" },
            reads,
            read.as_secs_f64(),
            per_sec(reads, read),
            HumanBytes(disk),
        )
    };
    writeln!(out, "{text}").map_err(CliError::output)?;
    out.flush().map_err(CliError::output)
}
