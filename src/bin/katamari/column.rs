//! `column`: typed columns of values (`i64`, `f64`, `bytes:N`, `bytes`).
//!
//! Values are given and printed as text: integers and floats in decimal, byte strings
//! as the CLI's keys and values are (their UTF-8 bytes in, escaped out; hexadecimal
//! both ways with `--hex`). A column must be created before values go in.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use katamari::{Column, ColumnType};
use serde_json::{json, Value};

use crate::args::{ColumnCommand, JsonArgs};
use crate::bytes;
use crate::commands::{Ctx, Out};
use crate::error::{CliError, CliResult, Exit};
use crate::open::Mode;
use crate::progress;

/// Values read per library call by `range` (a fixed-size column; variable ones read
/// fewer, as their values may be large).
const RANGE_PIECE: u64 = 1 << 16;
const RANGE_PIECE_VAR: u64 = 1 << 12;

/// Runs `katamari column DIR COMMAND`.
pub fn main(dir: &Path, cmd: &ColumnCommand, quiet: bool, out: Out) -> CliResult<()> {
    let mode = match cmd {
        ColumnCommand::Create { create, .. } => Mode::write(*create),
        _ => Mode::Existing,
    };
    crate::with_db(dir, mode, out, |c| run(c, cmd, quiet))
}

/// Runs one column command on an open database (the command line and the shell).
pub fn run(ctx: &mut Ctx<'_>, cmd: &ColumnCommand, quiet: bool) -> CliResult<()> {
    match cmd {
        ColumnCommand::Ls(a) => ls(ctx, a),
        ColumnCommand::Create { name, ty, .. } => ctx
            .db
            .create_column(name.as_bytes(), *ty)
            .map(|_| ())
            .map_err(|e| CliError::db(format!("create column {name:?}"), e)),
        ColumnCommand::Append { name, values, opts } => append(ctx, name, values, opts.hex),
        ColumnCommand::Extend { name, input, opts } => {
            extend(ctx, name, input.as_deref(), opts.hex, quiet)
        }
        ColumnCommand::Get { name, index, opts } => {
            let c = column(ctx, name)?;
            let what = format!("get {index} of column {name:?}");
            let v = c.get(*index).map_err(|e| out_of_range(&c, what, e))?;
            ctx.line(&show(c.ty(), &v, opts.hex))
        }
        ColumnCommand::Range {
            name,
            start,
            end,
            opts,
        } => range(ctx, name, *start, *end, opts.hex),
        ColumnCommand::Len { name } => {
            let c = column(ctx, name)?;
            let len = c
                .len()
                .map_err(|e| CliError::db(format!("len of column {name:?}"), e))?;
            ctx.line(&len.to_string())
        }
        ColumnCommand::Set {
            name,
            index,
            value,
            opts,
        } => {
            let c = column(ctx, name)?;
            let v = parse_value(c.ty(), value.as_bytes(), opts.hex)
                .map_err(|why| CliError::usage(format!("VALUE {value:?}"), why))?;
            let what = format!("set {index} of column {name:?}");
            c.set(*index, &v).map_err(|e| out_of_range(&c, what, e))
        }
        ColumnCommand::Truncate { name, len } => column(ctx, name)?
            .truncate(*len)
            .map_err(|e| CliError::db(format!("truncate column {name:?}"), e)),
        ColumnCommand::Pop { name, opts } => {
            let c = column(ctx, name)?;
            let what = format!("pop column {name:?}");
            match c.pop().map_err(|e| CliError::db(&what, e))? {
                Some(v) => ctx.line(&show(c.ty(), &v, opts.hex)),
                None => Err(CliError::new(Exit::NotFound, what, "the column is empty")),
            }
        }
        ColumnCommand::Drop { name } => ctx
            .db
            .drop_column(name.as_bytes())
            .map_err(|e| CliError::db(format!("drop column {name:?}"), e)),
    }
}

/// Column `name`; a missing one is a not-found error.
fn column(ctx: &Ctx<'_>, name: &str) -> CliResult<Column> {
    ctx.db
        .column(name.as_bytes())
        .map_err(|e| CliError::db(format!("column {name:?}"), e))
}

/// A failed access by index, saying how many values there are when it was out of range.
fn out_of_range(c: &Column, what: String, e: katamari::Error) -> CliError {
    match (&e, c.len()) {
        (katamari::Error::NotFound, Ok(len)) => CliError::new(
            Exit::NotFound,
            what,
            format!("out of range: the column holds {len} values"),
        ),
        _ => CliError::db(what, e),
    }
}

/// The stored bytes of one value written as text (an argument or a line of input).
fn parse_value(ty: ColumnType, text: &[u8], hex: bool) -> Result<Vec<u8>, String> {
    match ty {
        ColumnType::I64 => {
            number::<i64>(text, "a 64-bit integer").map(|v| v.to_le_bytes().to_vec())
        }
        ColumnType::F64 => number::<f64>(text, "a number").map(|v| v.to_le_bytes().to_vec()),
        ColumnType::Bytes(_) | ColumnType::VarBytes => {
            let v = if hex {
                hex::decode(text.trim_ascii()).map_err(|e| format!("not hexadecimal: {e}"))?
            } else {
                text.to_vec()
            };
            match ty {
                ColumnType::Bytes(n) if v.len() != n as usize => {
                    Err(format!("a bytes:{n} value is {n} bytes, not {}", v.len()))
                }
                _ => Ok(v),
            }
        }
    }
}

fn number<T: FromStr>(text: &[u8], what: &str) -> Result<T, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("not {what}"))
}

/// One value as a line of text: decimal numbers (floats as Rust writes them, which
/// reads back exactly: `1.0`, `1e300`, `NaN`, `-inf`), byte strings escaped or in
/// hexadecimal.
fn show(ty: ColumnType, v: &[u8], hex: bool) -> String {
    let word = <[u8; 8]>::try_from(v);
    match (ty, word) {
        (ColumnType::I64, Ok(w)) => i64::from_le_bytes(w).to_string(),
        (ColumnType::F64, Ok(w)) => format!("{:?}", f64::from_le_bytes(w)),
        _ => bytes::show(v, hex),
    }
}

/// The start of an invalid line, escaped, for an error message.
fn excerpt(line: &[u8]) -> String {
    const MAX: usize = 40;
    match line.get(..MAX) {
        Some(start) if line.len() > MAX => format!("{}...", bytes::escape(start)),
        _ => bytes::escape(line),
    }
}

fn ls(ctx: &mut Ctx<'_>, a: &JsonArgs) -> CliResult<()> {
    let all = ctx
        .db
        .columns()
        .map_err(|e| CliError::db("listing columns", e))?;
    if a.json {
        let v: Vec<Value> = all
            .iter()
            .map(|c| {
                json!({
                    "name": bytes::json(&c.name, false),
                    "type": c.ty.to_string(),
                    "len": c.len,
                })
            })
            .collect();
        return ctx.line(&Value::Array(v).to_string());
    }
    for c in all {
        ctx.line(&format!("{}\t{}\t{}", bytes::escape(&c.name), c.ty, c.len))?;
    }
    Ok(())
}

fn append(ctx: &mut Ctx<'_>, name: &str, values: &[String], hex: bool) -> CliResult<()> {
    let c = column(ctx, name)?;
    let ty = c.ty();
    let parsed = values
        .iter()
        .map(|v| {
            parse_value(ty, v.as_bytes(), hex)
                .map_err(|why| CliError::usage(format!("VALUE {v:?}"), why))
        })
        .collect::<CliResult<Vec<_>>>()?;
    // All the values in one commit: either all of them are appended or none.
    let appended = if ty == ColumnType::VarBytes {
        let mut offsets = vec![0u64];
        let mut data = Vec::new();
        for v in &parsed {
            data.extend_from_slice(v);
            offsets.push(data.len() as u64);
        }
        c.extend_var(&offsets, &data)
    } else {
        c.extend(&parsed.concat())
    };
    appended
        .map(|_| ())
        .map_err(|e| CliError::db(format!("append to column {name:?}"), e))
}

fn extend(
    ctx: &mut Ctx<'_>,
    name: &str,
    input: Option<&Path>,
    hex: bool,
    quiet: bool,
) -> CliResult<()> {
    let c = column(ctx, name)?;
    let ty = c.ty();
    let (reader, src, len): (Box<dyn Read>, String, Option<u64>) =
        match input.filter(|p| p.as_os_str() != "-") {
            None => (Box::new(io::stdin()), "<stdin>".to_owned(), None),
            Some(path) => {
                let file = File::open(path).map_err(|e| CliError::io(path.display(), e))?;
                let len = file
                    .metadata()
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len());
                (Box::new(file), path.display().to_string(), len)
            }
        };
    let what = || format!("extend column {name:?}");
    let started = Instant::now();
    let before = c.len().map_err(|e| CliError::db(what(), e))?;
    let mut app = c.appender().map_err(|e| CliError::db(what(), e))?;
    let bar = match len {
        Some(len) => progress::bytes_bar(quiet, len, "appending"),
        None => progress::bar(quiet, None, "appending", "values"),
    };
    let mut input = BufReader::with_capacity(1 << 16, reader);
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let result = (|| loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::io(format!("{src}:{}", line_no + 1), e))?;
        if n == 0 {
            return app.flush().map_err(|e| CliError::db(what(), e));
        }
        line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let at = || format!("{src}:{line_no}");
        let v = parse_value(ty, &line, hex)
            .map_err(|why| CliError::failure(at(), format!("\"{}\": {why}", excerpt(&line))))?;
        app.append(&v).map_err(|e| CliError::db(at(), e))?;
        bar.inc(if len.is_some() { n as u64 } else { 1 });
    })();
    bar.finish_and_clear();
    match result {
        Ok(total) => {
            if progress::shown(quiet) {
                eprintln!(
                    "appended {} values to column {name:?} ({total} in all) in {:.2?}",
                    total - before,
                    started.elapsed()
                );
            }
            Ok(())
        }
        Err(e) => {
            // An appender commits what it holds when dropped (it has no way to discard
            // it), so the values appended so far are taken back by truncating.
            drop(app);
            let message = match c.truncate(before) {
                Ok(()) => format!("{}; nothing was appended", e.message),
                Err(t) => format!(
                    "{}; taking back the values appended before it failed too: {t}",
                    e.message
                ),
            };
            Err(CliError {
                exit: e.exit,
                message,
            })
        }
    }
}

fn range(ctx: &mut Ctx<'_>, name: &str, start: i64, end: Option<i64>, hex: bool) -> CliResult<()> {
    let c = column(ctx, name)?;
    let ty = c.ty();
    let shown_end = end.map(|e| e.to_string()).unwrap_or_default();
    let what = || format!("range {start}..{shown_end} of column {name:?}");
    let len = c.len().map_err(|e| CliError::db(what(), e))?;
    // A position from the start (at most the length) or, when negative, from the end.
    let at = |i: i64| {
        if i < 0 {
            len.checked_sub(i.unsigned_abs())
        } else {
            Some(i as u64).filter(|&p| p <= len)
        }
    };
    let (Some(from), Some(to)) = (at(start), end.map_or(Some(len), at)) else {
        return Err(CliError::new(
            Exit::NotFound,
            what(),
            format!("out of range: the column holds {len} values"),
        ));
    };
    if from > to {
        return Err(CliError::usage(what(), "START is after END"));
    }
    let (piece, width) = match ty {
        ColumnType::VarBytes => (RANGE_PIECE_VAR, 0),
        ColumnType::I64 | ColumnType::F64 => (RANGE_PIECE, 8),
        ColumnType::Bytes(n) => (RANGE_PIECE, n as usize),
    };
    let mut pos = from;
    while pos < to {
        let upto = to.min(pos + piece);
        let (offsets, data) = c.range(pos, upto).map_err(|e| CliError::db(what(), e))?;
        if width == 0 {
            for w in offsets.windows(2) {
                ctx.line(&show(ty, &data[w[0] as usize..w[1] as usize], hex))?;
            }
        } else {
            for v in data.chunks_exact(width) {
                ctx.line(&show(ty, v, hex))?;
            }
        }
        pos = upto;
    }
    Ok(())
}
