//! `bucket`: versioned objects in buckets, streamed in and out so memory stays bounded
//! whatever their size.
//!
//! Reading commands never create a bucket (a missing one is "not found"); `put` creates
//! it with the settings it is given. The encryption key of an encrypted bucket comes
//! from `--key-file` or `$KATAMARI_BUCKET_KEY`, never from the command line.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use indicatif::{HumanBytes, ProgressBar};
use katamari::{BlobReader, Bucket, BucketOptions, Error, ObjectInfo, PutOptions};
use serde_json::{json, Value};

use crate::args::{
    BucketCommand, BucketGetArgs, BucketHeadArgs, BucketKeyOpts, BucketListArgs, BucketPutArgs,
    BucketRmArgs, BucketVersionsArgs, JsonArgs,
};
use crate::bytes;
use crate::commands::{Ctx, Out};
use crate::dump::replace_file;
use crate::error::{CliError, CliResult};
use crate::open::Mode;
use crate::progress;

/// Environment variable holding the encryption key as 64 hexadecimal digits.
pub const KEY_ENV: &str = "KATAMARI_BUCKET_KEY";
/// Bytes read or written per step of a streamed copy.
const IO_BUF: usize = 256 << 10;
/// Objects listed per library call: `list` pages through a bucket of any size.
const LIST_PAGE: usize = 1000;

/// Runs `katamari bucket DIR COMMAND`.
pub fn main(dir: &Path, cmd: &BucketCommand, quiet: bool, out: Out) -> CliResult<()> {
    match cmd {
        BucketCommand::Put(a) => {
            // The key and the input first: a missing file must not create a database.
            let key = encryption_key(&a.opts.secret)?;
            let input = Input::open(&a.file)?;
            crate::with_db(dir, Mode::write(a.create), out, |c| {
                put(c, a, key.as_ref(), input, quiet)
            })
        }
        _ => crate::with_db(dir, Mode::Existing, out, |c| run(c, cmd, quiet)),
    }
}

/// Runs one bucket command on an open database (the command line and the shell).
pub fn run(ctx: &mut Ctx<'_>, cmd: &BucketCommand, quiet: bool) -> CliResult<()> {
    match cmd {
        BucketCommand::Ls(a) => ls(ctx, a),
        BucketCommand::List(a) => list(ctx, a),
        BucketCommand::Put(a) => {
            let key = encryption_key(&a.opts.secret)?;
            let input = Input::open(&a.file)?;
            put(ctx, a, key.as_ref(), input, quiet)
        }
        BucketCommand::Get(a) => get(ctx, a, quiet),
        BucketCommand::Head(a) => head(ctx, a),
        BucketCommand::Versions(a) => versions(ctx, a),
        BucketCommand::Rm(a) => rm(ctx, a),
        BucketCommand::Drop { bucket } => ctx
            .db
            .drop_bucket(bucket.as_bytes())
            .map_err(|e| CliError::db(format!("drop bucket {bucket:?}"), e)),
    }
}

// ---- the encryption key ----

/// An encryption key and where it came from (for messages; never the key itself).
pub struct Key {
    bytes: [u8; 32],
    from: String,
}

/// The key from `--key-file`, else from `$KATAMARI_BUCKET_KEY` (unset or empty: none).
fn encryption_key(o: &BucketKeyOpts) -> CliResult<Option<Key>> {
    if let Some(path) = &o.key_file {
        let from = format!("--key-file {}", path.display());
        let raw = std::fs::read(path).map_err(|e| CliError::io(&from, e))?;
        let bytes = <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| {
            CliError::usage(
                &from,
                format!(
                    "holds {} bytes; an encryption key is exactly 32 raw bytes",
                    raw.len()
                ),
            )
        })?;
        return Ok(Some(Key { bytes, from }));
    }
    let Some(value) = std::env::var_os(KEY_ENV).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    // The message never repeats the value: it is a secret even when malformed.
    let bytes = value
        .to_str()
        .and_then(|s| hex::decode(s.trim()).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            CliError::usage(
                KEY_ENV,
                "not 64 hexadecimal digits (an encryption key is 32 bytes)",
            )
        })?;
    Ok(Some(Key {
        bytes,
        from: format!("${KEY_ENV}"),
    }))
}

// ---- opening buckets ----

fn bucket_exists(ctx: &Ctx<'_>, name: &str) -> CliResult<bool> {
    Ok(ctx
        .db
        .buckets()
        .map_err(|e| CliError::db("listing buckets", e))?
        .iter()
        .any(|n| n == name.as_bytes()))
}

/// Opens bucket `name`, creating it with `settings` if missing.
fn open(
    ctx: &Ctx<'_>,
    name: &str,
    key: Option<&Key>,
    mut settings: BucketOptions,
) -> CliResult<Bucket> {
    if let Some(k) = key {
        settings = settings.encryption_key(&k.bytes);
    }
    ctx.db
        .bucket(name.as_bytes(), &settings)
        .map_err(|e| open_error(name, key, e))
}

/// Explains a failure to open a bucket: a wrong, missing or superfluous key.
fn open_error(name: &str, key: Option<&Key>, e: Error) -> CliError {
    let what = format!("bucket {name:?}");
    // Names, chunk sizes and compression levels are checked while parsing arguments, so
    // an invalid argument here is about encryption.
    match (&e, key) {
        (Error::AuthFailed, Some(k)) => CliError::failure(
            what,
            format!(
                "wrong encryption key (from {}): authentication failed",
                k.from
            ),
        ),
        (Error::InvalidArgument(_), None) => CliError::failure(
            what,
            format!("{e} (give the key with --key-file PATH or ${KEY_ENV})"),
        ),
        (Error::InvalidArgument(_), Some(k)) => {
            CliError::failure(what, format!("{e} (a key was given by {})", k.from))
        }
        _ => CliError::db(what, e),
    }
}

/// Opens bucket `name` for a command that only reads or removes: `None` if it does not
/// exist, which such a command never creates.
fn open_existing(ctx: &Ctx<'_>, name: &str, secret: &BucketKeyOpts) -> CliResult<Option<Bucket>> {
    let key = encryption_key(secret)?;
    if !bucket_exists(ctx, name)? {
        return Ok(None);
    }
    open(ctx, name, key.as_ref(), BucketOptions::default()).map(Some)
}

/// Like [`open_existing`]; a missing bucket is a not-found error.
fn open_required(ctx: &Ctx<'_>, name: &str, secret: &BucketKeyOpts) -> CliResult<Bucket> {
    open_existing(ctx, name, secret)?.ok_or_else(|| CliError::not_found(format!("bucket {name:?}")))
}

/// `VERB KEY [version V] in bucket "B"`, naming an object in messages.
fn object(verb: &str, key: &[u8], hex: bool, version: Option<u64>, bucket: &str) -> String {
    let version = version.map(|v| format!(" version {v}")).unwrap_or_default();
    format!(
        "{verb} {}{version} in bucket {bucket:?}",
        bytes::show(key, hex)
    )
}

// ---- printing object infos ----

/// `KEY<TAB>VERSION<TAB>SIZE<TAB>SHA256<TAB>CONTENT_TYPE`, escaped.
fn info_line(i: &ObjectInfo, hex: bool) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        bytes::show(&i.key, hex),
        i.version,
        i.size,
        i.sha256_hex(),
        bytes::escape(i.content_type.as_bytes())
    )
}

fn info_json(i: &ObjectInfo, hex: bool) -> Value {
    json!({
        "key": bytes::json(&i.key, hex),
        "version": i.version,
        "size": i.size,
        "stored_size": i.stored_size,
        "sha256": i.sha256_hex(),
        "content_type": i.content_type,
        "created_ms": i.created_ms,
        "metadata": i.metadata,
    })
}

fn print_info(ctx: &mut Ctx<'_>, i: &ObjectInfo, hex: bool, json: bool) -> CliResult<()> {
    if json {
        ctx.line(&info_json(i, hex).to_string())
    } else {
        ctx.line(&info_line(i, hex))
    }
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

// ---- the commands ----

fn ls(ctx: &mut Ctx<'_>, a: &JsonArgs) -> CliResult<()> {
    let names = ctx
        .db
        .buckets()
        .map_err(|e| CliError::db("listing buckets", e))?;
    if a.json {
        let v: Vec<_> = names.iter().map(|n| bytes::json(n, false)).collect();
        return ctx.line(&Value::Array(v).to_string());
    }
    for n in names {
        ctx.line(&bytes::escape(&n))?;
    }
    Ok(())
}

fn list(ctx: &mut Ctx<'_>, a: &BucketListArgs) -> CliResult<()> {
    let hex = a.opts.hex;
    let prefix = match &a.prefix {
        Some(p) => bytes::from_arg(p, hex, "--prefix")?,
        None => Vec::new(),
    };
    let mut after = a
        .after
        .as_deref()
        .map(|k| bytes::from_arg(k, hex, "--after"))
        .transpose()?;
    let b = open_required(ctx, &a.bucket, &a.opts.secret)?;
    let what = || format!("list bucket {:?}", a.bucket);
    let mut left = a.limit.unwrap_or(usize::MAX);
    while left > 0 {
        let page = left.min(LIST_PAGE);
        let infos = b
            .list(&prefix, after.as_deref(), page)
            .map_err(|e| CliError::db(what(), e))?;
        for i in &infos {
            print_info(ctx, i, hex, a.json)?;
        }
        left -= infos.len();
        match infos.last() {
            Some(last) if infos.len() == page => after = Some(last.key.clone()),
            _ => break,
        }
    }
    Ok(())
}

/// The content of a put: a file or standard input.
pub struct Input {
    reader: Box<dyn Read>,
    name: String,
    /// The length of a regular file (for the progress bar).
    len: Option<u64>,
}

impl Input {
    pub fn open(path: &Path) -> CliResult<Input> {
        if path.as_os_str() == "-" {
            return Ok(Input {
                reader: Box::new(io::stdin()),
                name: "<stdin>".into(),
                len: None,
            });
        }
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| CliError::io(&name, e))?;
        let meta = file.metadata().map_err(|e| CliError::io(&name, e))?;
        if meta.is_dir() {
            return Err(CliError::failure(name, "is a directory"));
        }
        Ok(Input {
            reader: Box::new(file),
            len: meta.is_file().then_some(meta.len()),
            name,
        })
    }
}

fn put(
    ctx: &mut Ctx<'_>,
    a: &BucketPutArgs,
    key: Option<&Key>,
    mut input: Input,
    quiet: bool,
) -> CliResult<()> {
    let hex = a.opts.hex;
    let object_key = bytes::from_arg(&a.key, hex, "KEY")?;
    let what = || object("put", &object_key, hex, None, &a.bucket);
    let mut settings = BucketOptions::default();
    if let Some(c) = a.compression {
        settings = settings.compression(c);
    }
    if let Some(n) = a.chunk_size {
        settings = settings.chunk_size(n);
    }
    if a.no_versioning || a.versioning {
        settings = settings.versioning(a.versioning);
    }
    let b = open(ctx, &a.bucket, key, settings)?;
    let opts = PutOptions {
        content_type: a.content_type.clone().unwrap_or_default(),
        metadata: a.meta.iter().cloned().collect(),
        expected_sha256: a.sha256,
    };
    // Dropping the writer before its commit (any error below) discards what it wrote.
    let mut w = b
        .writer(&object_key, &opts)
        .map_err(|e| CliError::db(what(), e))?;
    let bar = match input.len {
        Some(len) => progress::bytes_bar(quiet, len, "uploading"),
        None => progress::bytes_spinner(quiet, "uploading"),
    };
    let mut buf = vec![0u8; IO_BUF];
    let result = (|| loop {
        let n = match input.reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CliError::io(format!("reading {}", input.name), e)),
        };
        w.write(&buf[..n]).map_err(|e| CliError::db(what(), e))?;
        bar.inc(n as u64);
    })();
    bar.finish_and_clear();
    result?;
    let info = w.commit().map_err(|e| CliError::db(what(), e))?;
    print_info(ctx, &info, hex, a.json)
}

fn get(ctx: &mut Ctx<'_>, a: &BucketGetArgs, quiet: bool) -> CliResult<()> {
    let hex = a.opts.hex;
    let key = bytes::from_arg(&a.key, hex, "KEY")?;
    let what = || object("get", &key, hex, a.version, &a.bucket);
    let b = open_required(ctx, &a.bucket, &a.opts.secret)?;
    let mut r = b
        .reader(&key, a.version)
        .map_err(|e| CliError::db(what(), e))?
        .ok_or_else(|| CliError::not_found(what()))?;
    let bar = progress::bytes_bar(quiet, r.size(), "downloading");
    let result = match a.output.as_deref().filter(|p| p.as_os_str() != "-") {
        None => copy_out(&mut r, &mut *ctx.out, &CliError::output, &bar, &what),
        Some(path) => replace_file(path, |w, werr| copy_out(&mut r, w, werr, &bar, &what)),
    };
    bar.finish_and_clear();
    result
}

/// Streams the content `r` reads into `w`. The reader checks the content's SHA-256
/// before it hands out the last chunk, so damaged content ends in an error.
fn copy_out(
    r: &mut BlobReader,
    w: &mut dyn Write,
    werr: &dyn Fn(io::Error) -> CliError,
    bar: &ProgressBar,
    what: &dyn Fn() -> String,
) -> CliResult<()> {
    let mut buf = vec![0u8; IO_BUF];
    loop {
        let n = r.read(&mut buf).map_err(|e| CliError::db(what(), e))?;
        if n == 0 {
            return Ok(());
        }
        w.write_all(&buf[..n]).map_err(werr)?;
        bar.inc(n as u64);
    }
}

fn head(ctx: &mut Ctx<'_>, a: &BucketHeadArgs) -> CliResult<()> {
    let hex = a.opts.hex;
    let key = bytes::from_arg(&a.key, hex, "KEY")?;
    let what = || object("head", &key, hex, a.version, &a.bucket);
    let b = open_required(ctx, &a.bucket, &a.opts.secret)?;
    let found = match a.version {
        None => b.head(&key),
        Some(v) => b.head_version(&key, v),
    };
    let i = found
        .map_err(|e| CliError::db(what(), e))?
        .ok_or_else(|| CliError::not_found(what()))?;
    if a.json {
        return ctx.line(&info_json(&i, hex).to_string());
    }
    let size = |n: u64| format!("{} ({n} bytes)", HumanBytes(n));
    let mut rows = vec![
        ("key", bytes::show(&i.key, hex)),
        ("version", i.version.to_string()),
        ("size", size(i.size)),
        ("stored size", size(i.stored_size)),
        ("sha256", i.sha256_hex()),
        ("content type", bytes::escape(i.content_type.as_bytes())),
        ("created", rfc3339(i.created_ms)),
    ];
    if i.content_type.is_empty() {
        rows.retain(|(name, _)| *name != "content type");
    }
    for (k, v) in &i.metadata {
        rows.push((
            "metadata",
            format!(
                "{}={}",
                bytes::escape(k.as_bytes()),
                bytes::escape(v.as_bytes())
            ),
        ));
    }
    for (name, value) in rows {
        ctx.line(&format!("{name:<14}{value}"))?;
    }
    Ok(())
}

fn versions(ctx: &mut Ctx<'_>, a: &BucketVersionsArgs) -> CliResult<()> {
    let hex = a.opts.hex;
    let key = bytes::from_arg(&a.key, hex, "KEY")?;
    let what = || object("versions of", &key, hex, None, &a.bucket);
    let b = open_required(ctx, &a.bucket, &a.opts.secret)?;
    let all = b.versions(&key).map_err(|e| CliError::db(what(), e))?;
    if all.is_empty() {
        return Err(CliError::not_found(what()));
    }
    for i in &all {
        print_info(ctx, i, hex, a.json)?;
    }
    Ok(())
}

fn rm(ctx: &mut Ctx<'_>, a: &BucketRmArgs) -> CliResult<()> {
    let hex = a.opts.hex;
    let key = bytes::from_arg(&a.key, hex, "KEY")?;
    let what = || object("rm", &key, hex, a.version, &a.bucket);
    // Removing from a bucket that does not exist removes nothing, like removing a
    // missing object; it does not create the bucket.
    let Some(b) = open_existing(ctx, &a.bucket, &a.opts.secret)? else {
        return Ok(());
    };
    let removed = match a.version {
        None => b.delete(&key).map(|_| ()),
        Some(v) => b.delete_version(&key, v).map(|_| ()),
    };
    removed.map_err(|e| CliError::db(what(), e))
}
