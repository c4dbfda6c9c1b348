//! The command line, declared with clap. The argument structs of get/put/delete/scan/
//! stats/keyspaces are shared with the interactive shell, which takes the same commands
//! without the directory.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

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
    /// Interactive prompt taking get/put/delete/scan/stats/keyspaces/use/help/exit
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
    /// Make NAME the keyspace of later commands (no NAME: the default keyspace)
    Use {
        /// The keyspace (created on first write)
        name: Option<String>,
    },
    /// Leave the shell
    #[command(alias = "quit")]
    Exit,
}
