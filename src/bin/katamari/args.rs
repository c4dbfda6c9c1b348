//! The command line, declared with clap. The argument structs of get/put/delete/scan/
//! stats/keyspaces and the `bucket` and `column` subcommands are shared with the
//! interactive shell, which takes the same commands without the directory.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use katamari::{ColumnType, Compression};

#[derive(Parser, Debug)]
#[command(
    name = "katamari",
    version,
    about = "Inspect and edit a Katamari database",
    long_about = "Inspect and edit a Katamari database.\n\n\
                  Every command takes the database directory first: katamari <COMMAND> <DIR> \
                  [ARGS]. Exit codes: 0 success, 1 failure, 2 invalid arguments, 3 not found, \
                  4 database locked by another process. See docs/CLI.md.",
    arg_required_else_help = true
)]
pub struct Cli {
    /// Never show progress bars or summaries (shown only when stderr is a terminal)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// A database directory that must exist.
#[derive(Args, Debug)]
pub struct DbDir {
    /// The database directory
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// A database directory that the command may create.
#[derive(Args, Debug)]
pub struct DbDirCreate {
    /// The database directory
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Create the database if DIR does not exist (its parent must)
    #[arg(long)]
    pub create: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the value of KEY (exit code 3 if it is missing)
    Get {
        #[command(flatten)]
        db: DbDir,
        #[command(flatten)]
        args: GetArgs,
    },
    /// Set KEY to VALUE
    Put {
        #[command(flatten)]
        db: DbDirCreate,
        #[command(flatten)]
        args: PutArgs,
    },
    /// Remove KEY (removing a missing key is not an error)
    Delete {
        #[command(flatten)]
        db: DbDir,
        #[command(flatten)]
        args: DeleteArgs,
    },
    /// Print keys and values in key order, one per line
    Scan {
        #[command(flatten)]
        db: DbDir,
        #[command(flatten)]
        args: ScanArgs,
    },
    /// Print the database's counters
    Stats {
        #[command(flatten)]
        db: DbDir,
        #[command(flatten)]
        args: JsonArgs,
    },
    /// List the named keyspaces
    Keyspaces {
        #[command(flatten)]
        db: DbDir,
        #[command(flatten)]
        args: JsonArgs,
    },
    /// Write keys and values as portable JSON lines (see docs/CLI.md)
    Dump {
        #[command(flatten)]
        db: DbDir,
        #[command(flatten)]
        args: DumpArgs,
    },
    /// Write the records of a dump into the database, in batches
    Load {
        #[command(flatten)]
        db: DbDirCreate,
        #[command(flatten)]
        args: LoadArgs,
    },
    /// Fill an empty database with keys, then read them back at random; print ops/s
    Bench {
        #[command(flatten)]
        db: DbDirCreate,
        #[command(flatten)]
        args: BenchArgs,
    },
    /// Compact the database: rewrite live data, drop overwritten, deleted and expired
    /// values, write hint files for a fast open
    Merge {
        #[command(flatten)]
        db: DbDir,
        #[command(flatten)]
        args: JsonArgs,
    },
    /// Copy the database into DEST (a new directory), consistent as of one commit
    Backup {
        #[command(flatten)]
        db: DbDir,
        /// The new directory to write the copy into (must not exist)
        #[arg(value_name = "DEST")]
        dest: PathBuf,
        #[command(flatten)]
        args: JsonArgs,
    },
    /// Read every record and check every checksum (exit code 1 if anything is damaged)
    Verify {
        #[command(flatten)]
        db: DbDir,
        #[command(flatten)]
        args: JsonArgs,
    },
    /// Buckets of versioned objects: ls, list, put, get, head, versions, rm, drop
    #[command(arg_required_else_help = true)]
    Bucket {
        #[command(flatten)]
        db: DbDir,
        #[command(subcommand)]
        command: BucketCommand,
    },
    /// Typed columns of values: ls, create, append, extend, get, range, len, set,
    /// truncate, pop, drop
    #[command(arg_required_else_help = true)]
    Column {
        #[command(flatten)]
        db: DbDir,
        #[command(subcommand)]
        command: ColumnCommand,
    },
    /// Interactive prompt taking get/put/delete/scan/stats/keyspaces/bucket/column/use/help/exit
    Shell {
        #[command(flatten)]
        db: DbDirCreate,
    },
}

/// Options every key command takes.
#[derive(Args, Debug, Clone)]
pub struct KeyOpts {
    /// Use keyspace NAME instead of the default keyspace
    #[arg(short = 'k', long, value_name = "NAME")]
    pub keyspace: Option<String>,
    /// Keys, values and bounds are given, and printed, as hexadecimal
    #[arg(short = 'x', long)]
    pub hex: bool,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The key
    pub key: String,
    /// Print the value's bytes exactly, without a trailing newline (even with --hex,
    /// which then applies to KEY only)
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub opts: KeyOpts,
}

#[derive(Args, Debug)]
pub struct PutArgs {
    /// The key
    pub key: String,
    /// The value (or give --file)
    #[arg(required_unless_present = "file")]
    pub value: Option<String>,
    /// Read the value's bytes from FILE ("-" for standard input)
    #[arg(short = 'f', long, value_name = "FILE", conflicts_with = "value")]
    pub file: Option<PathBuf>,
    /// Expire the key after this long (e.g. 30s, 15m, 2h 30m, 7days)
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub ttl: Option<Duration>,
    #[command(flatten)]
    pub opts: KeyOpts,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The key
    pub key: String,
    #[command(flatten)]
    pub opts: KeyOpts,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Only keys starting with P
    #[arg(short = 'p', long, value_name = "P")]
    pub prefix: Option<String>,
    /// Only keys at or after S
    #[arg(short = 's', long, value_name = "S")]
    pub start: Option<String>,
    /// Only keys before E (exclusive)
    #[arg(short = 'e', long, value_name = "E")]
    pub end: Option<String>,
    /// From the largest key down
    #[arg(short = 'r', long)]
    pub reverse: bool,
    /// At most N entries
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print keys only
    #[arg(long)]
    pub keys_only: bool,
    /// One JSON object per line: {"key": .., "value": ..}
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub opts: KeyOpts,
}

#[derive(Args, Debug)]
pub struct JsonArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DumpArgs {
    /// Dump keyspace NAME (default: the default keyspace)
    #[arg(short = 'k', long, value_name = "NAME", conflicts_with = "all")]
    pub keyspace: Option<String>,
    /// Dump the default keyspace and every named keyspace
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Write to FILE instead of standard output (replaced only once the dump is complete)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The dump to read ("-" or absent: standard input)
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Records per write batch
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Number of keys to write
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Bytes per value
    #[arg(long, value_name = "B", default_value_t = 100)]
    pub value_size: usize,
    /// Puts per write batch during the fill
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Number of random reads (default: as many as keys)
    #[arg(long, value_name = "N")]
    pub reads: Option<u64>,
    /// Sync every batch to stable storage (default: sync once at the end of the fill)
    #[arg(long)]
    pub sync: bool,
    /// Seed of the random read order
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the results as one JSON object
    #[arg(long)]
    pub json: bool,
}

/// A positive duration in humantime's syntax.
fn parse_ttl(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("the time to live must be more than zero".into());
    }
    Ok(d)
}

/// One line of the interactive shell.
#[derive(Parser, Debug)]
#[command(
    name = "katamari shell",
    no_binary_name = true,
    disable_version_flag = true,
    about = "Commands of the katamari shell",
    override_usage = "<COMMAND> [ARGS]",
    after_help = "Quote arguments that hold spaces: put k \"a b\". \
                  `help COMMAND` or `COMMAND --help` shows a command's options."
)]
pub struct ShellLine {
    #[command(subcommand)]
    pub command: ShellCommand,
}

#[derive(Subcommand, Debug)]
pub enum ShellCommand {
    /// Print the value of KEY
    Get(GetArgs),
    /// Set KEY to VALUE
    Put(PutArgs),
    /// Remove KEY
    Delete(DeleteArgs),
    /// Print keys and values in key order
    Scan(ScanArgs),
    /// Print the database's counters
    Stats(JsonArgs),
    /// List the named keyspaces
    Keyspaces(JsonArgs),
    /// Buckets of versioned objects
    #[command(arg_required_else_help = true)]
    Bucket {
        #[command(subcommand)]
        command: BucketCommand,
    },
    /// Typed columns of values
    #[command(arg_required_else_help = true)]
    Column {
        #[command(subcommand)]
        command: ColumnCommand,
    },
    /// Make NAME the keyspace of later commands (no NAME: the default keyspace)
    Use {
        /// The keyspace (created on first write)
        name: Option<String>,
    },
    /// Leave the shell
    #[command(alias = "quit")]
    Exit,
}

// ---- buckets ----

#[derive(Subcommand, Debug)]
pub enum BucketCommand {
    /// List the buckets
    Ls(JsonArgs),
    /// List the objects of BUCKET in key order: key, version, size, SHA-256, content type
    List(BucketListArgs),
    /// Store the content of FILE ("-": standard input) as a new version of KEY, streamed;
    /// creates the bucket if missing
    Put(BucketPutArgs),
    /// Write the content of KEY to standard output or a file, streamed (exit code 3 if
    /// it is missing)
    Get(BucketGetArgs),
    /// Print what is known about KEY without its content (exit code 3 if it is missing)
    Head(BucketHeadArgs),
    /// List the stored versions of KEY, oldest first
    Versions(BucketVersionsArgs),
    /// Remove KEY (every version, or one with --version); removing a missing object is
    /// not an error
    Rm(BucketRmArgs),
    /// Remove BUCKET and every object in it (exit code 3 if it does not exist)
    Drop {
        /// The bucket
        #[arg(value_parser = parse_bucket_name)]
        bucket: String,
    },
}

/// Where the encryption key of an encrypted bucket comes from. Never the command line,
/// where other users could read it.
#[derive(Args, Debug, Clone)]
pub struct BucketKeyOpts {
    /// Read the bucket's encryption key (32 raw bytes) from PATH; without it the key is
    /// taken from $KATAMARI_BUCKET_KEY (64 hexadecimal digits), if set
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

/// Options of every command on the objects of one bucket.
#[derive(Args, Debug, Clone)]
pub struct ObjectOpts {
    /// Object keys are given, and printed, as hexadecimal
    #[arg(short = 'x', long)]
    pub hex: bool,
    #[command(flatten)]
    pub secret: BucketKeyOpts,
}

#[derive(Args, Debug)]
pub struct BucketListArgs {
    /// The bucket
    #[arg(value_parser = parse_bucket_name)]
    pub bucket: String,
    /// Only keys starting with P
    #[arg(short = 'p', long, value_name = "P")]
    pub prefix: Option<String>,
    /// Only keys after K (exclusive: pass the last key of one page to get the next)
    #[arg(long, value_name = "K")]
    pub after: Option<String>,
    /// At most N objects
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub opts: ObjectOpts,
}

#[derive(Args, Debug)]
pub struct BucketPutArgs {
    /// The bucket (created with the settings below if missing)
    #[arg(value_parser = parse_bucket_name)]
    pub bucket: String,
    /// The object's key
    pub key: String,
    /// The file to store ("-" for standard input)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The content type to record (e.g. image/png)
    #[arg(long, value_name = "T")]
    pub content_type: Option<String>,
    /// A metadata entry to record (repeatable)
    #[arg(long = "meta", value_name = "K=V", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
    /// Store nothing (exit 1) unless the content's SHA-256 is HEX
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub sha256: Option<[u8; 32]>,
    /// Compression of this and later writes: none, zlib[:LEVEL 0-9] or zstd[:LEVEL 1-22]
    /// (default levels 6 and 3)
    #[arg(long, value_name = "C", value_parser = parse_compression)]
    pub compression: Option<Compression>,
    /// Chunk size of this and later writes, 4KiB to 64MiB (e.g. 262144, 256KiB, 1MiB)
    #[arg(long, value_name = "BYTES", value_parser = parse_chunk_size)]
    pub chunk_size: Option<u32>,
    /// From now on a put replaces the object instead of adding a version
    #[arg(long, conflicts_with = "versioning")]
    pub no_versioning: bool,
    /// From now on a put adds a version and keeps the older ones (the default)
    #[arg(long)]
    pub versioning: bool,
    /// Print the new version as JSON
    #[arg(long)]
    pub json: bool,
    /// Create the database if DIR does not exist (its parent must)
    #[arg(long)]
    pub create: bool,
    #[command(flatten)]
    pub opts: ObjectOpts,
}

#[derive(Args, Debug)]
pub struct BucketGetArgs {
    /// The bucket
    #[arg(value_parser = parse_bucket_name)]
    pub bucket: String,
    /// The object's key
    pub key: String,
    /// That version instead of the newest
    #[arg(long, value_name = "V")]
    pub version: Option<u64>,
    /// Write to FILE instead of standard output (replaced only once the content is
    /// complete and checked)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub opts: ObjectOpts,
}

#[derive(Args, Debug)]
pub struct BucketHeadArgs {
    /// The bucket
    #[arg(value_parser = parse_bucket_name)]
    pub bucket: String,
    /// The object's key
    pub key: String,
    /// That version instead of the newest
    #[arg(long, value_name = "V")]
    pub version: Option<u64>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub opts: ObjectOpts,
}

#[derive(Args, Debug)]
pub struct BucketVersionsArgs {
    /// The bucket
    #[arg(value_parser = parse_bucket_name)]
    pub bucket: String,
    /// The object's key
    pub key: String,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub opts: ObjectOpts,
}

#[derive(Args, Debug)]
pub struct BucketRmArgs {
    /// The bucket
    #[arg(value_parser = parse_bucket_name)]
    pub bucket: String,
    /// The object's key
    pub key: String,
    /// Remove only that version (the next older one becomes the newest)
    #[arg(long, value_name = "V")]
    pub version: Option<u64>,
    #[command(flatten)]
    pub opts: ObjectOpts,
}

/// A bucket name: 1 to 255 bytes of UTF-8.
fn parse_bucket_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > katamari::MAX_BUCKET_NAME_LEN {
        return Err(format!(
            "bucket names are 1 to {} bytes",
            katamari::MAX_BUCKET_NAME_LEN
        ));
    }
    Ok(s.to_owned())
}

/// `K=V`.
fn parse_meta(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("expected KEY=VALUE".into()),
    }
}

/// 64 hexadecimal digits.
fn parse_sha256(s: &str) -> Result<[u8; 32], String> {
    hex::decode(s)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| "expected 64 hexadecimal digits".into())
}

/// `none`, `zlib[:LEVEL]` or `zstd[:LEVEL]`.
fn parse_compression(s: &str) -> Result<Compression, String> {
    let (name, level) = match s.split_once(':') {
        Some((n, l)) => (n, Some(l)),
        None => (s, None),
    };
    let bad_level = |range: &str| format!("{name} levels run from {range}");
    let c = match (name, level) {
        ("none", None) => Compression::None,
        ("zlib", None) => Compression::Zlib(6),
        ("zstd", None) => Compression::Zstd(3),
        ("zlib", Some(l)) => match l.parse::<u32>() {
            Ok(l) if l <= 9 => Compression::Zlib(l),
            _ => return Err(bad_level("0 to 9")),
        },
        ("zstd", Some(l)) => match l.parse::<i32>() {
            Ok(l) if (1..=22).contains(&l) => Compression::Zstd(l),
            _ => return Err(bad_level("1 to 22")),
        },
        _ => return Err("expected none, zlib[:LEVEL] or zstd[:LEVEL]".into()),
    };
    Ok(c)
}

/// A byte count with an optional `K`/`KiB`/`M`/`MiB` suffix (powers of 1024), within
/// the chunk size limits.
fn parse_chunk_size(s: &str) -> Result<u32, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        _ => return Err("expected a number of bytes, optionally with KiB or MiB".into()),
    };
    let n = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| "expected a number of bytes, optionally with KiB or MiB".to_owned())?;
    let (lo, hi) = (katamari::MIN_CHUNK_SIZE, katamari::MAX_CHUNK_SIZE);
    match u32::try_from(n) {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!(
            "chunk sizes run from {lo} (4KiB) to {hi} (64MiB) bytes"
        )),
    }
}

// ---- columns ----

#[derive(Subcommand, Debug)]
pub enum ColumnCommand {
    /// List the columns: name, type, length
    Ls(JsonArgs),
    /// Create column NAME of TYPE: i64, f64, bytes:N (values of exactly N bytes) or bytes
    /// (values of any length)
    Create {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
        /// i64, f64, bytes:N or bytes
        #[arg(value_name = "TYPE", value_parser = parse_column_type)]
        ty: ColumnType,
        /// Create the database if DIR does not exist (its parent must)
        #[arg(long)]
        create: bool,
    },
    /// Append the VALUEs, all in one commit
    Append {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
        /// The values (negative numbers need no --)
        #[arg(value_name = "VALUE", required = true, allow_negative_numbers = true)]
        values: Vec<String>,
        #[command(flatten)]
        opts: ColumnOpts,
    },
    /// Append the values of FILE ("-" or absent: standard input), one per line; on an
    /// invalid line nothing is appended
    Extend {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
        /// The input
        #[arg(value_name = "FILE")]
        input: Option<PathBuf>,
        #[command(flatten)]
        opts: ColumnOpts,
    },
    /// Print the value at INDEX (negative: from the end; exit code 3 out of range)
    Get {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
        /// The position: 0 is the first value, -1 the last
        #[arg(allow_negative_numbers = true)]
        index: i64,
        #[command(flatten)]
        opts: ColumnOpts,
    },
    /// Print the values from START up to END (exclusive; absent: to the end), one per
    /// line (negative positions count from the end)
    Range {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
        /// The first position
        #[arg(allow_negative_numbers = true)]
        start: i64,
        /// The position after the last
        #[arg(allow_negative_numbers = true)]
        end: Option<i64>,
        #[command(flatten)]
        opts: ColumnOpts,
    },
    /// Print the number of values
    Len {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
    },
    /// Replace the value at INDEX (negative: from the end; exit code 3 out of range)
    Set {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
        /// The position: 0 is the first value, -1 the last
        #[arg(allow_negative_numbers = true)]
        index: i64,
        /// The new value
        #[arg(allow_negative_numbers = true)]
        value: String,
        #[command(flatten)]
        opts: ColumnOpts,
    },
    /// Shorten the column to LEN values
    Truncate {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
        /// The new length (at most the current one)
        len: u64,
    },
    /// Remove the last value and print it (exit code 3 if the column is empty)
    Pop {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
        #[command(flatten)]
        opts: ColumnOpts,
    },
    /// Remove column NAME and its values (exit code 3 if it does not exist)
    Drop {
        /// The column
        #[arg(value_parser = parse_column_name)]
        name: String,
    },
}

/// Options of the commands that take or print values.
#[derive(Args, Debug, Clone)]
pub struct ColumnOpts {
    /// Values of bytes columns are given, and printed, as hexadecimal
    #[arg(short = 'x', long)]
    pub hex: bool,
}

/// A column name: 1 to 255 bytes of UTF-8.
fn parse_column_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > katamari::MAX_COLUMN_NAME_LEN {
        return Err(format!(
            "column names are 1 to {} bytes",
            katamari::MAX_COLUMN_NAME_LEN
        ));
    }
    Ok(s.to_owned())
}

/// `i64`, `f64`, `bytes:N` or `bytes`.
fn parse_column_type(s: &str) -> Result<ColumnType, String> {
    match s {
        "i64" => Ok(ColumnType::I64),
        "f64" => Ok(ColumnType::F64),
        "bytes" => Ok(ColumnType::VarBytes),
        _ => {
            let max = katamari::MAX_FIXED_WIDTH;
            let n = s
                .strip_prefix("bytes:")
                .ok_or_else(|| "expected i64, f64, bytes:N or bytes".to_owned())?;
            match n.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(ColumnType::Bytes(n)),
                _ => Err(format!("bytes:N needs 1 <= N <= {max}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_levels_and_defaults() {
        assert_eq!(parse_compression("none"), Ok(Compression::None));
        assert_eq!(parse_compression("zlib"), Ok(Compression::Zlib(6)));
        assert_eq!(parse_compression("zlib:0"), Ok(Compression::Zlib(0)));
        assert_eq!(parse_compression("zstd"), Ok(Compression::Zstd(3)));
        assert_eq!(parse_compression("zstd:19"), Ok(Compression::Zstd(19)));
        for bad in ["zlib:10", "zstd:0", "zstd:x", "none:1", "lz4", ""] {
            assert!(parse_compression(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chunk_sizes_take_binary_suffixes_within_limits() {
        assert_eq!(parse_chunk_size("4096"), Ok(4096));
        assert_eq!(parse_chunk_size("256KiB"), Ok(256 << 10));
        assert_eq!(parse_chunk_size("1M"), Ok(1 << 20));
        assert_eq!(parse_chunk_size("64mib"), Ok(64 << 20));
        for bad in ["4095", "65MiB", "1G", "KiB", "-1", "99999999999999999999"] {
            assert!(parse_chunk_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn column_types() {
        assert_eq!(parse_column_type("i64"), Ok(ColumnType::I64));
        assert_eq!(parse_column_type("bytes:16"), Ok(ColumnType::Bytes(16)));
        assert_eq!(parse_column_type("bytes"), Ok(ColumnType::VarBytes));
        for bad in ["bytes:0", "bytes:", "u8", "bytes:1048577"] {
            assert!(parse_column_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_and_checksums() {
        assert_eq!(parse_meta("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_meta("a="), Ok(("a".into(), String::new())));
        assert!(parse_meta("=b").is_err() && parse_meta("ab").is_err());
        assert_eq!(parse_sha256(&"ab".repeat(32)), Ok([0xab; 32]));
        assert!(parse_sha256("ab").is_err());
    }
}
