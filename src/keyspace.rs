//! Named keyspaces: separate key namespaces in one database, like LMDB's named
//! databases. Keys in different keyspaces never collide; one transaction or batch can
//! write to several.

use std::time::Duration;

use crate::engine::format::{OpRef, RecordKind};
use crate::iter::{Iter, IterOptions};
use crate::{Db, Error, Result};

/// A handle on one keyspace. Cheap to clone; valid until the keyspace is dropped (then
/// its calls fail with [`Error::InvalidArgument`]) or the database closed.
#[derive(Clone)]
pub struct Keyspace {
    pub(crate) db: Db,
    pub(crate) id: u32,
    name: Vec<u8>,
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("id", &self.id)
            .finish()
    }
}

/// Names beginning with a NUL byte are reserved for the library's own keyspaces.
fn check_user_name(name: &[u8]) -> Result<()> {
    if name.first() == Some(&0) {
        return Err(Error::InvalidArgument(
            "keyspace names starting with a NUL byte are reserved".into(),
        ));
    }
    Ok(())
}

impl Db {
    /// Opens keyspace `name` (1 to 255 bytes), creating it if missing.
    pub fn keyspace(&self, name: &[u8]) -> Result<Keyspace> {
        check_user_name(name)?;
        let id = self.with(|e| e.keyspace(name, true))?.expect("created");
        Ok(Keyspace {
            db: self.clone(),
            id,
            name: name.to_vec(),
        })
    }

    /// Drops keyspace `name` and all its keys; [`Error::NotFound`] if it does not exist.
    /// Open handles on it fail from then on.
    pub fn drop_keyspace(&self, name: &[u8]) -> Result<()> {
        check_user_name(name)?;
        self.with(|e| e.drop_keyspace(name))
    }

    /// Names of the keyspaces, sorted (the default keyspace has no name and is not
    /// listed).
    pub fn keyspaces(&self) -> Result<Vec<Vec<u8>>> {
        self.with(|e| {
            Ok(e.keyspace_names()
                .into_iter()
                .filter(|n| n.first() != Some(&0))
                .collect())
        })
    }
}

impl Keyspace {
    /// The keyspace's name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    fn live(&self) -> Result<()> {
        self.db.with(|e| e.check_keyspace(self.id))
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.live()?;
        self.db.with(|e| e.get(self.id, key))
    }

    /// When `key` expires (ms since the Unix epoch); `None` without expiry or value.
    pub fn expires_at(&self, key: &[u8]) -> Result<Option<u64>> {
        self.live()?;
        self.db.with(|e| Ok(e.expires_at(self.id, key)))
    }

    /// [`Db::expiry_in`] for this keyspace.
    pub(crate) fn expiry(&self, key: &[u8]) -> Result<Option<u64>> {
        self.live()?;
        self.db.expiry_in(self.id, key)
    }

    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        self.live()?;
        self.db.with(|e| e.contains(self.id, key))
    }

    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(RecordKind::Put, key, value, 0)
    }

    pub fn put_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        let at = self.db.expiry_after(ttl)?;
        self.write(RecordKind::Put, key, value, at)
    }

    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.write(RecordKind::Delete, key, &[], 0)
    }

    fn write(&self, kind: RecordKind, key: &[u8], value: &[u8], expires_at: u64) -> Result<()> {
        let op = OpRef {
            keyspace: self.id,
            kind,
            key,
            value,
            expires_at,
        };
        self.db.with(|e| e.write(&[op]).map(|_| ()))
    }

    /// An iterator over a snapshot of this keyspace taken now.
    pub fn iter(&self, opts: &IterOptions) -> Result<Iter> {
        self.live()?;
        let snap = self.db.with(|e| Ok(e.snapshot()))?;
        Ok(Iter::new(
            self.db.clone(),
            self.id,
            snap,
            opts,
            Default::default(),
        ))
    }
}
