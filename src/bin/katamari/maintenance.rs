//! `merge`, `backup` and `verify`: long operations on a whole database, with a spinner
//! on a terminal and a summary (text or JSON) on stdout.

use std::path::Path;

use indicatif::HumanBytes;
use serde_json::json;

use crate::args::JsonArgs;
use crate::commands::Ctx;
use crate::error::{CliError, CliResult};
use crate::progress;

/// Runs `f` under a spinner titled `what` (hidden when piped or quiet).
fn spinning<T>(quiet: bool, what: &str, f: impl FnOnce() -> T) -> T {
    let bar = progress::bar(quiet, None, what, "");
    let r = f();
    bar.finish_and_clear();
    r
}

pub fn merge(ctx: &mut Ctx<'_>, a: &JsonArgs, quiet: bool) -> CliResult<()> {
    let m =
        spinning(quiet, "merging", || ctx.db.merge()).map_err(|e| CliError::db("merging", e))?;
    if a.json {
        let v = json!({
            "input_segments": m.input_segments,
            "input_bytes": m.input_bytes,
            "output_segments": m.output_segments,
            "output_bytes": m.output_bytes,
            "records": m.records,
            "expired": m.expired,
            "millis": m.millis,
        });
        return ctx.line(&v.to_string());
    }
    ctx.line(&format!(
        "merged {} segments ({}) into {} ({}): {} records kept, {} expired dropped, {} ms",
        m.input_segments,
        HumanBytes(m.input_bytes),
        m.output_segments,
        HumanBytes(m.output_bytes),
        m.records,
        m.expired,
        m.millis
    ))
}

pub fn backup(ctx: &mut Ctx<'_>, dest: &Path, a: &JsonArgs, quiet: bool) -> CliResult<()> {
    let b = spinning(quiet, "backing up", || ctx.db.backup(dest))
        .map_err(|e| CliError::db(format!("backing up to {}", dest.display()), e))?;
    if a.json {
        let v = json!({
            "dest": dest.display().to_string(),
            "seq": b.seq,
            "segments": b.segments,
            "bytes": b.bytes,
            "linked": b.linked,
        });
        return ctx.line(&v.to_string());
    }
    ctx.line(&format!(
        "backed up to {} as of commit {}: {} segments, {} ({} hard-linked)",
        dest.display(),
        b.seq,
        b.segments,
        HumanBytes(b.bytes),
        b.linked
    ))
}

pub fn verify(ctx: &mut Ctx<'_>, a: &JsonArgs, quiet: bool) -> CliResult<()> {
    let r = spinning(quiet, "verifying", || ctx.db.verify())
        .map_err(|e| CliError::db("verifying", e))?;
    let first_bad = r
        .first_bad
        .as_ref()
        .map(|(seg, at, why)| json!({"segment": seg, "offset": at, "reason": why}));
    if a.json {
        let v = json!({
            "clean": r.is_clean(),
            "segments": r.segments,
            "batches": r.batches,
            "records": r.records,
            "bytes": r.bytes,
            "hints_ok": r.hints_ok,
            "hints_bad": r.hints_bad,
            "damaged": r.damaged,
            "first_bad": first_bad,
        });
        ctx.line(&v.to_string())?;
    } else {
        ctx.line(&format!(
            "checked {} segments ({}): {} batches, {} records, {} hint files ok",
            r.segments,
            HumanBytes(r.bytes),
            r.batches,
            r.records,
            r.hints_ok
        ))?;
    }
    if r.is_clean() {
        return Ok(());
    }
    let why = match &r.first_bad {
        Some((seg, at, why)) => format!(
            "{} damaged batches, {} bad hint files; first at segment {seg} byte {at}: {why}",
            r.damaged, r.hints_bad
        ),
        None => format!("{} bad hint files", r.hints_bad),
    };
    Err(CliError::failure("verify", why))
}
