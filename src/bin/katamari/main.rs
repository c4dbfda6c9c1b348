//! `katamari`: the command-line tool over a Katamari data directory.
//!
//! Every subcommand is `katamari <COMMAND> <DIR> [ARGS]` (`bucket` and `column` take a
//! further subcommand after DIR); `docs/CLI.md` documents them, the dump format and the
//! exit codes. Each subcommand is one arm of [`run`] calling one function, so a new one
//! is a variant in `args.rs` plus an arm.

mod args;
mod bench;
mod bucket;
mod bytes;
mod column;
mod commands;
mod dump;
mod error;
mod maintenance;
mod open;
mod progress;
mod shell;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use commands::{Ctx, Out};
use error::{CliError, CliResult};
use open::Mode;

fn run(cli: Cli) -> CliResult<()> {
    let out: Out = Box::new(io::BufWriter::new(io::stdout().lock()));
    match cli.command {
        Command::Get { db, args } => {
            with_db(&db.dir, Mode::Existing, out, |c| commands::get(c, &args))
        }
        Command::Put { db, args } => with_db(&db.dir, Mode::write(db.create), out, |c| {
            commands::put(c, &args)
        }),
        Command::Delete { db, args } => {
            with_db(&db.dir, Mode::Existing, out, |c| commands::delete(c, &args))
        }
        Command::Scan { db, args } => {
            with_db(&db.dir, Mode::Existing, out, |c| commands::scan(c, &args))
        }
        Command::Stats { db, args } => with_db(&db.dir, Mode::Existing, out, |c| {
            commands::stats(c, &db.dir, &args)
        }),
        Command::Keyspaces { db, args } => with_db(&db.dir, Mode::Existing, out, |c| {
            commands::keyspaces(c, &args)
        }),
        Command::Dump { db, args } => dump::dump(&db.dir, &args, cli.quiet, out),
        Command::Load { db, args } => dump::load(&db.dir, db.create, &args, cli.quiet),
        Command::Bench { db, args } => bench::run(&db.dir, db.create, &args, cli.quiet, out),
        Command::Bucket { db, command } => bucket::main(&db.dir, &command, cli.quiet, out),
        Command::Column { db, command } => column::main(&db.dir, &command, cli.quiet, out),
        Command::Shell { db } => shell::run(&db.dir, db.create, cli.quiet, out),
        Command::Merge { db, args } => with_db(&db.dir, Mode::Existing, out, |c| {
            maintenance::merge(c, &args, cli.quiet)
        }),
        Command::Backup { db, dest, args } => with_db(&db.dir, Mode::Existing, out, |c| {
            maintenance::backup(c, &dest, &args, cli.quiet)
        }),
        Command::Verify { db, args } => with_db(&db.dir, Mode::Existing, out, |c| {
            maintenance::verify(c, &args, cli.quiet)
        }),
    }
}

/// Opens the database in `dir`, runs `f` on it, then flushes the output and closes the
/// database, reporting the first failure.
fn with_db(
    dir: &Path,
    mode: Mode,
    mut out: Out,
    f: impl FnOnce(&mut Ctx<'_>) -> CliResult<()>,
) -> CliResult<()> {
    let db = open::open(dir, mode)?;
    f(&mut Ctx::new(&db, &mut out))?;
    out.flush().map_err(CliError::output)?;
    db.close()
        .map_err(|e| CliError::db("closing the database", e))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return error::clap_exit(&e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}
