//! Opening the database directory, and the keyspace a command works in.

use std::io;
use std::path::Path;
use std::time::Duration;

use katamari::{Db, Iter, IterOptions, Keyspace, Options, SyncMode};

use crate::error::{CliError, CliResult};

/// Whether a command may create the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The database must exist (reading commands, and `delete`).
    Existing,
    /// The database must exist; the command has a --create flag, which was not given.
    CreateNotAsked,
    /// Create the database if the directory does not exist (--create was given).
    Create,
}

impl Mode {
    /// The mode of a command with a --create flag.
    pub fn write(create: bool) -> Mode {
        if create {
            Mode::Create
        } else {
            Mode::CreateNotAsked
        }
    }
}

/// Opens the database in `dir` (commits synced before they return).
pub fn open(dir: &Path, mode: Mode) -> CliResult<Db> {
    open_with(dir, mode, SyncMode::Always)
}

/// Opens the database in `dir` with sync mode `sync`.
///
/// A missing directory, or one holding no Katamari files (`LOCK`, `*.kseg`), is an error
/// unless `mode` is [`Mode::Create`], so a typo never leaves a new database behind.
pub fn open_with(dir: &Path, mode: Mode, sync: SyncMode) -> CliResult<Db> {
    let shown = dir.display();
    let hint = if mode == Mode::CreateNotAsked {
        " (use --create to create it)"
    } else {
        ""
    };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if mode != Mode::Create {
                return Err(CliError::failure(shown, format!("no such database{hint}")));
            }
        }
        Err(e) => return Err(CliError::io(shown, e)),
        Ok(m) if !m.is_dir() => return Err(CliError::failure(shown, "not a directory")),
        Ok(_) => {
            if mode != Mode::Create && !holds_database(dir)? {
                return Err(CliError::failure(
                    shown,
                    format!("not a Katamari database (no LOCK or .kseg file){hint}"),
                ));
            }
        }
    }
    let options = Options::default()
        .create_if_missing(mode == Mode::Create)
        .sync(sync);
    Db::open(dir, options).map_err(|e| CliError::db(shown, e))
}

/// Whether `dir` holds the files of a Katamari database (see docs/FORMAT.md).
fn holds_database(dir: &Path) -> CliResult<bool> {
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::io(dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CliError::io(dir.display(), e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == katamari::engine::LOCK_FILE || name.ends_with(".kseg") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The keyspace a command works in: the default one or a named one.
pub enum Space {
    Default,
    Named(Keyspace),
}

impl Space {
    /// Keyspace `name` (none: the default keyspace). A named keyspace that does not
    /// exist is created when `create`, otherwise `Ok(None)`, so reading commands never
    /// create one.
    pub fn resolve(db: &Db, name: Option<&str>, create: bool) -> CliResult<Option<Space>> {
        let Some(name) = name else {
            return Ok(Some(Space::Default));
        };
        let what = || format!("keyspace {name:?}");
        let exists = db
            .keyspaces()
            .map_err(|e| CliError::db("listing keyspaces", e))?
            .iter()
            .any(|n| n == name.as_bytes());
        if !exists && !create {
            return Ok(None);
        }
        db.keyspace(name.as_bytes())
            .map(Space::Named)
            .map(Some)
            .map_err(|e| CliError::db(what(), e))
    }

    /// Like [`Space::resolve`] without creating; a missing keyspace is a not-found error.
    pub fn existing(db: &Db, name: Option<&str>) -> CliResult<Space> {
        Space::resolve(db, name, false)?
            .ok_or_else(|| CliError::not_found(format!("keyspace {:?}", name.unwrap_or(""))))
    }

    pub fn get(&self, db: &Db, key: &[u8]) -> katamari::Result<Option<Vec<u8>>> {
        match self {
            Space::Default => db.get(key),
            Space::Named(ks) => ks.get(key),
        }
    }

    pub fn put(
        &self,
        db: &Db,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
    ) -> katamari::Result<()> {
        match (self, ttl) {
            (Space::Default, None) => db.put(key, value),
            (Space::Default, Some(t)) => db.put_with_ttl(key, value, t),
            (Space::Named(ks), None) => ks.put(key, value),
            (Space::Named(ks), Some(t)) => ks.put_with_ttl(key, value, t),
        }
    }

    pub fn delete(&self, db: &Db, key: &[u8]) -> katamari::Result<()> {
        match self {
            Space::Default => db.delete(key),
            Space::Named(ks) => ks.delete(key),
        }
    }

    pub fn iter(&self, db: &Db, opts: &IterOptions) -> katamari::Result<Iter> {
        match self {
            Space::Default => db.iter(opts),
            Space::Named(ks) => ks.iter(opts),
        }
    }
}
