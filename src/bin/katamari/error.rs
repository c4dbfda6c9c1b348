//! One-line errors and the documented exit codes.

use std::fmt::Display;
use std::io;
use std::process::ExitCode;

use katamari::Status;

/// Exit codes (documented in `docs/CLI.md`; success is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Any failure not listed below: I/O, corruption, bad input data, a missing database.
    Failure = 1,
    /// Invalid command line: unknown option, missing argument, undecodable value.
    Usage = 2,
    /// `get` of a missing key, or a keyspace, bucket, object, column or position that
    /// does not exist for a command that reads or removes it.
    NotFound = 3,
    /// Another process has the database open for writing.
    Locked = 4,
    /// Standard output was closed early (what a shell reports for a tool that died of
    /// SIGPIPE); nothing is printed.
    BrokenPipe = 141,
}

/// An error that ends a command: `katamari: <what>: <why>` on stderr and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn new(exit: Exit, what: impl Display, why: impl Display) -> CliError {
        CliError {
            exit,
            message: format!("{what}: {why}"),
        }
    }

    pub fn failure(what: impl Display, why: impl Display) -> CliError {
        CliError::new(Exit::Failure, what, why)
    }

    pub fn usage(what: impl Display, why: impl Display) -> CliError {
        CliError::new(Exit::Usage, what, why)
    }

    pub fn not_found(what: impl Display) -> CliError {
        CliError::new(Exit::NotFound, what, "not found")
    }

    /// A library error while doing `what`; the exit code follows its status.
    pub fn db(what: impl Display, e: katamari::Error) -> CliError {
        let exit = match e.status() {
            Status::Locked => Exit::Locked,
            Status::NotFound => Exit::NotFound,
            _ => Exit::Failure,
        };
        CliError::new(exit, what, e)
    }

    /// An I/O error while doing `what`.
    pub fn io(what: impl Display, e: io::Error) -> CliError {
        CliError::new(Exit::Failure, what, e)
    }

    /// A failure writing to standard output.
    pub fn output(e: io::Error) -> CliError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError {
                exit: Exit::BrokenPipe,
                message: String::new(),
            }
        } else {
            CliError::io("writing to standard output", e)
        }
    }

    /// Prints the message (if any) on stderr.
    pub fn report(&self) {
        if !self.message.is_empty() {
            eprintln!("katamari: {}", self.message);
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit as u8)
    }
}

/// Reports a command-line parse error on one line (help and version go to stdout with
/// success) and returns the exit code.
pub fn clap_exit(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Bare `katamari` or a bare subcommand: the help, on stderr, as a usage error.
            eprint!("{}", e.render());
            ExitCode::from(Exit::Usage as u8)
        }
        _ => {
            eprintln!("katamari: {}", one_line(e));
            ExitCode::from(Exit::Usage as u8)
        }
    }
}

/// clap's multi-line error as one line: the message paragraph plus the usage line.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let message = text.split("\n\n").next().unwrap_or("");
    let message = message.strip_prefix("error: ").unwrap_or(message);
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let usage = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|u| format!(" (usage: {u})"))
        .unwrap_or_default();
    format!("invalid arguments: {message}{usage}")
}
