//! `shell`: one open database, commands read line by line. On a terminal the prompt is
//! rustyline's, with history kept in `$KATAMARI_HISTORY` or `~/.katamari_history`; from a
//! pipe or file the lines are read plainly (no prompt), which makes scripts easy.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::Parser;
use katamari::Db;
use rustyline::error::ReadlineError;

use crate::args::{ShellCommand, ShellLine};
use crate::commands::{self, Ctx, Out};
use crate::error::{self, CliError, CliResult, Exit};
use crate::open::{self, Mode};
use crate::{bucket, column};

/// Environment variable naming the history file (empty: keep no history).
pub const HISTORY_ENV: &str = "KATAMARI_HISTORY";

enum Flow {
    Continue,
    Exit,
}

struct Session<'a> {
    db: &'a Db,
    dir: &'a Path,
    out: &'a mut Out,
    keyspace: Option<String>,
    /// Exit code of the last command that failed.
    failed: Option<Exit>,
    /// No progress bars (`--quiet`).
    quiet: bool,
}

pub fn run(dir: &Path, create: bool, quiet: bool, mut out: Out) -> CliResult<()> {
    let db = open::open(dir, Mode::write(create))?;
    let mut s = Session {
        db: &db,
        dir,
        out: &mut out,
        keyspace: None,
        failed: None,
        quiet,
    };
    let interactive = io::stdin().is_terminal();
    if interactive {
        s.interactive()?;
    } else {
        s.scripted()?;
    }
    let failed = s.failed;
    out.flush().map_err(CliError::output)?;
    db.close()
        .map_err(|e| CliError::db("closing the database", e))?;
    match failed {
        // A script's exit status is that of its last failed command; each failure was
        // reported when it happened.
        Some(exit) if !interactive => Err(CliError {
            exit,
            message: String::new(),
        }),
        _ => Ok(()),
    }
}

/// The history file: `$KATAMARI_HISTORY`, else `.katamari_history` in the home directory.
fn history_path() -> Option<PathBuf> {
    match std::env::var_os(HISTORY_ENV) {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => std::env::home_dir().map(|h| h.join(".katamari_history")),
    }
}

impl Session<'_> {
    fn prompt(&self) -> String {
        match &self.keyspace {
            Some(ks) => format!("katamari:{ks}> "),
            None => "katamari> ".to_owned(),
        }
    }

    fn interactive(&mut self) -> CliResult<()> {
        let config = rustyline::Config::builder()
            .max_history_size(1000)
            .map_err(|e| CliError::failure("starting the shell", e))?
            .auto_add_history(true)
            .build();
        let mut rl = rustyline::DefaultEditor::with_config(config)
            .map_err(|e| CliError::failure("starting the shell", e))?;
        let history = history_path();
        if let Some(path) = &history {
            // A missing history file is the normal first run.
            let _ = rl.load_history(path);
        }
        writeln!(
            self.out,
            "Katamari shell on {}. Type help for the commands, exit or Ctrl-D to leave.",
            self.dir.display()
        )
        .and_then(|_| self.out.flush())
        .map_err(CliError::output)?;
        loop {
            match rl.readline(&self.prompt()) {
                Ok(line) => {
                    if let Flow::Exit = self.execute(&line)? {
                        break;
                    }
                }
                // Ctrl-C drops the line being typed, as in other shells.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(CliError::failure("reading a command", e)),
            }
        }
        if let Some(path) = &history {
            if let Err(e) = rl.save_history(path) {
                eprintln!("katamari: saving history to {}: {e}", path.display());
            }
        }
        Ok(())
    }

    fn scripted(&mut self) -> CliResult<()> {
        let stdin = io::stdin();
        for line in stdin.lock().lines() {
            let line = line.map_err(|e| CliError::io("reading standard input", e))?;
            if let Flow::Exit = self.execute(&line)? {
                break;
            }
        }
        Ok(())
    }

    /// Runs one line. Command failures are reported and remembered; only a failure to
    /// write output (the reader went away) ends the session.
    fn execute(&mut self, line: &str) -> CliResult<Flow> {
        let result = self.command(line);
        self.out.flush().map_err(CliError::output)?;
        match result {
            Ok(flow) => Ok(flow),
            Err(e) if e.exit == Exit::BrokenPipe => Err(e),
            Err(e) => {
                e.report();
                self.failed = Some(e.exit);
                Ok(Flow::Continue)
            }
        }
    }

    fn command(&mut self, line: &str) -> CliResult<Flow> {
        let Some(words) = shlex::split(line) else {
            return Err(CliError::usage("invalid arguments", "unbalanced quotes"));
        };
        if words.is_empty() {
            return Ok(Flow::Continue);
        }
        let parsed = match ShellLine::try_parse_from(&words) {
            Ok(p) => p,
            Err(e) => {
                return match e.kind() {
                    ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                        write!(self.out, "{}", e.render()).map_err(CliError::output)?;
                        Ok(Flow::Continue)
                    }
                    _ => Err(CliError {
                        exit: Exit::Usage,
                        message: error::one_line(&e),
                    }),
                };
            }
        };
        let mut ctx = Ctx {
            db: self.db,
            out: self.out,
            keyspace: self.keyspace.clone(),
        };
        match parsed.command {
            ShellCommand::Get(a) => commands::get(&mut ctx, &a)?,
            ShellCommand::Put(a) => commands::put(&mut ctx, &a)?,
            ShellCommand::Delete(a) => commands::delete(&mut ctx, &a)?,
            ShellCommand::Scan(a) => commands::scan(&mut ctx, &a)?,
            ShellCommand::Stats(a) => commands::stats(&mut ctx, self.dir, &a)?,
            ShellCommand::Keyspaces(a) => commands::keyspaces(&mut ctx, &a)?,
            ShellCommand::Bucket { command } => bucket::run(&mut ctx, &command, self.quiet)?,
            ShellCommand::Column { command } => column::run(&mut ctx, &command, self.quiet)?,
            ShellCommand::Use { name } => self.keyspace = name,
            ShellCommand::Exit => return Ok(Flow::Exit),
        }
        Ok(Flow::Continue)
    }
}
