//! Named keyspaces: the catalog mapping names to keyspace ids, stored in its own
//! keyspace so it commits and recovers like any other data.
//!
//! Catalog keys: `name:<name>` → id (u32 LE); `next` → the next id to hand out (u32 LE);
//! `dropped:<id u32 BE>` → empty, for every dropped keyspace. Ids are never reused, so
//! records of a dropped keyspace can never be mistaken for a later one's.

use std::collections::{BTreeMap, BTreeSet};

use super::format::{OpRef, RecordKind};
use crate::error::{Error, Result};

/// Keyspace holding the catalog itself.
pub const CATALOG_KEYSPACE: u32 = u32::MAX;
/// Ids at or above this are reserved for the engine's own keyspaces.
pub const FIRST_RESERVED_ID: u32 = 0xFFFF_0000;
/// Longest keyspace name.
pub const MAX_NAME_LEN: usize = 255;

const NEXT_KEY: &[u8] = b"next";
const NAME_PREFIX: &[u8] = b"name:";
const DROPPED_PREFIX: &[u8] = b"dropped:";

/// The in-memory view of the catalog.
#[derive(Debug, Default)]
pub struct Catalog {
    names: BTreeMap<Vec<u8>, u32>,
    dropped: BTreeSet<u32>,
    next: u32,
}

/// Checks a keyspace name.
pub fn check_name(name: &[u8]) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(Error::InvalidArgument(format!(
            "keyspace names are 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    Ok(())
}

impl Catalog {
    /// Rebuilds the catalog from its committed entries.
    pub fn load(entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Result<Catalog> {
        let mut c = Catalog {
            next: 1,
            ..Catalog::default()
        };
        let bad = |what: &str| Error::Corruption(format!("keyspace catalog: {what}"));
        // A user keyspace id lies between the default keyspace and the reserved ones.
        let user_id = |id: u32, what: &str| {
            if id == 0 || id >= FIRST_RESERVED_ID {
                Err(bad(what))
            } else {
                Ok(id)
            }
        };
        for (k, v) in entries {
            if k == NEXT_KEY {
                c.next = c.next.max(u32_le(&v).ok_or_else(|| bad("bad next id"))?);
            } else if let Some(name) = k.strip_prefix(NAME_PREFIX) {
                let id = user_id(u32_le(&v).ok_or_else(|| bad("bad id"))?, "bad id")?;
                c.names.insert(name.to_vec(), id);
                c.next = c.next.max(id + 1);
            } else if let Some(id) = k.strip_prefix(DROPPED_PREFIX) {
                let id: [u8; 4] = id.try_into().map_err(|_| bad("bad dropped id"))?;
                let id = user_id(u32::from_be_bytes(id), "bad dropped id")?;
                c.dropped.insert(id);
                c.next = c.next.max(id + 1);
            } else {
                return Err(bad("unknown entry"));
            }
        }
        Ok(c)
    }

    /// The id of keyspace `name`, if it exists.
    pub fn id(&self, name: &[u8]) -> Option<u32> {
        self.names.get(name).copied()
    }

    /// Whether `id` names a live keyspace (0, the default, always is).
    pub fn is_live(&self, id: u32) -> bool {
        id == 0 || id >= FIRST_RESERVED_ID || self.names.values().any(|&v| v == id)
    }

    /// Ids of dropped keyspaces.
    pub fn dropped(&self) -> impl Iterator<Item = u32> + '_ {
        self.dropped.iter().copied()
    }

    /// Names of the live keyspaces, sorted.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.names.keys().map(|k| &k[..])
    }

    /// The records that create keyspace `name` with the next id, and that id. Apply
    /// them with [`Catalog::created`] once committed.
    pub fn plan_create(&self, name: &[u8]) -> Result<(u32, [Vec<u8>; 4])> {
        let id = self.next;
        if id >= FIRST_RESERVED_ID {
            return Err(Error::Internal("keyspace ids exhausted".into()));
        }
        let bufs = [
            [NAME_PREFIX, name].concat(),
            id.to_le_bytes().to_vec(),
            NEXT_KEY.to_vec(),
            (id + 1).to_le_bytes().to_vec(),
        ];
        Ok((id, bufs))
    }

    pub fn created(&mut self, name: &[u8], id: u32) {
        self.names.insert(name.to_vec(), id);
        self.next = self.next.max(id + 1);
    }

    /// The keys of the records that drop keyspace `name` (id `id`).
    pub fn plan_drop(name: &[u8], id: u32) -> [Vec<u8>; 2] {
        [
            [NAME_PREFIX, name].concat(),
            [DROPPED_PREFIX, &id.to_be_bytes()[..]].concat(),
        ]
    }

    pub fn dropped_now(&mut self, name: &[u8], id: u32) {
        self.names.remove(name);
        self.dropped.insert(id);
    }

    /// Undoes [`Catalog::dropped_now`] when the drop could not be committed.
    pub fn undrop(&mut self, name: &[u8], id: u32) {
        self.dropped.remove(&id);
        self.names.insert(name.to_vec(), id);
    }
}

/// Catalog writes for creating a keyspace (`bufs` from [`Catalog::plan_create`]).
pub fn create_ops(bufs: &[Vec<u8>; 4]) -> [OpRef<'_>; 2] {
    [put(&bufs[0], &bufs[1]), put(&bufs[2], &bufs[3])]
}

/// Catalog writes for dropping a keyspace (`keys` from [`Catalog::plan_drop`]).
pub fn drop_ops(keys: &[Vec<u8>; 2]) -> [OpRef<'_>; 2] {
    [
        OpRef {
            keyspace: CATALOG_KEYSPACE,
            kind: RecordKind::Delete,
            key: &keys[0],
            value: &[],
            expires_at: 0,
        },
        put(&keys[1], &[]),
    ]
}

fn put<'a>(key: &'a [u8], value: &'a [u8]) -> OpRef<'a> {
    OpRef {
        keyspace: CATALOG_KEYSPACE,
        kind: RecordKind::Put,
        key,
        value,
        expires_at: 0,
    }
}

fn u32_le(v: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(v.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_after_drop() {
        let mut c = Catalog::load([]).unwrap();
        let (a, bufs) = c.plan_create(b"a").unwrap();
        c.created(b"a", a);
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (bufs[0].clone(), bufs[1].clone()),
            (bufs[2].clone(), bufs[3].clone()),
        ];
        c.dropped_now(b"a", a);
        let keys = Catalog::plan_drop(b"a", a);
        entries.retain(|(k, _)| *k != keys[0]);
        entries.push((keys[1].clone(), Vec::new()));
        let (b, _) = c.plan_create(b"a").unwrap();
        assert!(b > a);
        // Reloading from the committed entries gives the same answer.
        let r = Catalog::load(entries).unwrap();
        assert_eq!(r.id(b"a"), None);
        assert_eq!(r.dropped().collect::<Vec<_>>(), vec![a]);
        assert_eq!(r.plan_create(b"x").unwrap().0, b);
        assert!(check_name(b"").is_err());
        assert!(check_name(&[b'x'; 256]).is_err());
    }
}
