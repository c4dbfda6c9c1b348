//! Snapshot-isolated transactions (optionally serializable).

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::time::Duration;

use crate::engine::format::{OpRef, RecordKind};
use crate::engine::{self, borrow_range, KeyRange, Validation};
use crate::iter::{Iter, IterOptions};
use crate::{Db, Error, Keyspace, Result, DEFAULT_KEYSPACE};

/// How a transaction behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxnOptions {
    /// Reads only; writes fail with [`Error::ReadOnly`]. Never conflicts.
    pub read_only: bool,
    /// Also fail the commit when a key (or range) this transaction read was written by
    /// another commit after its snapshot, which rules out write skew.
    pub serializable: bool,
}

#[derive(Clone, Debug)]
enum Pending {
    Put { value: Vec<u8>, expires_at: u64 },
    Delete,
}

/// A transaction: reads see the snapshot taken at begin plus the transaction's own
/// writes; [`Txn::commit`] applies all writes atomically or, if another transaction
/// committed a write to the same key after the snapshot, fails with
/// [`Error::Conflict`] and writes nothing (first committer wins). Dropping it aborts.
pub struct Txn {
    db: Db,
    snapshot: u64,
    opts: TxnOptions,
    writes: BTreeMap<(u32, Vec<u8>), Pending>,
    reads: Vec<(u32, Vec<u8>)>,
    ranges: Vec<KeyRange>,
    /// The snapshot is still registered (not yet committed or aborted).
    active: bool,
    /// Undo steps for work done outside the transaction on its behalf (the chunks of a
    /// streamed upload it commits), run if it aborts or its commit fails.
    on_abort: Vec<Box<dyn FnOnce() + Send>>,
    /// Keyspaces whose writes skip the write-write conflict check.
    unchecked: Vec<u32>,
}

impl Txn {
    pub(crate) fn begin(db: &Db, opts: TxnOptions) -> Result<Txn> {
        let snapshot = db.with(|e| Ok(e.snapshot()))?;
        Ok(Txn {
            db: db.clone(),
            snapshot,
            opts,
            writes: BTreeMap::new(),
            reads: Vec::new(),
            ranges: Vec::new(),
            active: true,
            on_abort: Vec::new(),
            unchecked: Vec::new(),
        })
    }

    fn check_active(&self) -> Result<()> {
        if self.active {
            Ok(())
        } else {
            Err(Error::InvalidArgument("transaction already ended".into()))
        }
    }

    fn check_writable(&self) -> Result<()> {
        self.check_active()?;
        if self.db.is_closed() {
            return Err(Error::Closed);
        }
        if self.opts.read_only {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Registers `undo` to run if this transaction aborts or fails to commit.
    pub(crate) fn on_abort(&mut self, undo: Box<dyn FnOnce() + Send>) {
        self.on_abort.push(undo);
    }

    /// Exempts writes to `keyspace` from the conflict check at commit: for records that
    /// only one writer ever touches, written before this transaction's snapshot was
    /// known to them.
    pub(crate) fn skip_conflicts_in(&mut self, keyspace: u32) {
        if !self.unchecked.contains(&keyspace) {
            self.unchecked.push(keyspace);
        }
    }

    /// The commit sequence this transaction reads at.
    pub fn snapshot_seq(&self) -> u64 {
        self.snapshot
    }

    /// The value of `key` in this transaction's view.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_ks(DEFAULT_KEYSPACE, key)
    }

    pub(crate) fn get_ks(&mut self, keyspace: u32, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(own) = self.own_write(keyspace, key)? {
            return Ok(own.cloned());
        }
        let snap = self.snapshot;
        self.db.with(|e| e.get_at(keyspace, key, snap))
    }

    /// This transaction's own write of `key` as its reader sees it (`Some(None)`: it
    /// deleted the key, or its put has expired); `None` when it has not written the key,
    /// in which case the read goes to the snapshot and is recorded for serializable
    /// validation.
    fn own_write(&mut self, keyspace: u32, key: &[u8]) -> Result<Option<Option<&Vec<u8>>>> {
        self.check_active()?;
        let own = match self.writes.get(&(keyspace, key.to_vec())) {
            Some(Pending::Put { value, expires_at }) => {
                let now = self.db.with(|e| Ok(e.now()))?;
                Some((*expires_at == 0 || *expires_at > now).then_some(value))
            }
            Some(Pending::Delete) => Some(None),
            None => None,
        };
        if own.is_none() && self.opts.serializable {
            self.reads.push((keyspace, key.to_vec()));
        }
        Ok(own)
    }

    /// Whether `key` is present in this transaction's view.
    pub fn contains(&mut self, key: &[u8]) -> Result<bool> {
        self.contains_ks(DEFAULT_KEYSPACE, key)
    }

    pub(crate) fn contains_ks(&mut self, keyspace: u32, key: &[u8]) -> Result<bool> {
        if let Some(own) = self.own_write(keyspace, key)? {
            return Ok(own.is_some());
        }
        let snap = self.snapshot;
        self.db.with(|e| e.contains_at(keyspace, key, snap))
    }

    /// Sets `key` to `value` when the transaction commits.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_ks(DEFAULT_KEYSPACE, key, value, 0)
    }

    /// Sets `key` to `value`, expiring `ttl` after this call.
    pub fn put_with_ttl(&mut self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        let at = self.db.expiry_after(ttl)?;
        self.put_ks(DEFAULT_KEYSPACE, key, value, at)
    }

    pub(crate) fn put_ks(
        &mut self,
        keyspace: u32,
        key: &[u8],
        value: &[u8],
        expires_at: u64,
    ) -> Result<()> {
        self.check_writable()?;
        engine::check_limits(key, value)?;
        self.writes.insert(
            (keyspace, key.to_vec()),
            Pending::Put {
                value: value.to_vec(),
                expires_at,
            },
        );
        Ok(())
    }

    /// Removes `key` when the transaction commits.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.delete_ks(DEFAULT_KEYSPACE, key)
    }

    pub(crate) fn delete_ks(&mut self, keyspace: u32, key: &[u8]) -> Result<()> {
        self.check_writable()?;
        engine::check_limits(key, &[])?;
        self.writes
            .insert((keyspace, key.to_vec()), Pending::Delete);
        Ok(())
    }

    /// An iterator over this transaction's view (its snapshot plus its writes so far).
    pub fn iter(&mut self, opts: &IterOptions) -> Result<Iter> {
        self.iter_ks(DEFAULT_KEYSPACE, opts)
    }

    pub(crate) fn iter_ks(&mut self, keyspace: u32, opts: &IterOptions) -> Result<Iter> {
        self.check_active()?;
        let (lo, hi) = opts.bounds();
        if self.opts.serializable {
            self.ranges.push((keyspace, lo.clone(), hi.clone()));
        }
        let overlay = self
            .writes
            .range((keyspace, Vec::new())..)
            .take_while(|((ks, _), _)| *ks == keyspace)
            .filter(|((_, k), _)| borrow_range(&lo, &hi).contains(&k[..]))
            .map(|((_, k), p)| {
                let v = match p {
                    Pending::Put { value, expires_at } => Some((value.clone(), *expires_at)),
                    Pending::Delete => None,
                };
                (k.clone(), v)
            })
            .collect();
        let snap = self.snapshot;
        self.db.with(|e| {
            e.retain_snapshot(snap);
            Ok(())
        })?;
        Ok(Iter::new(self.db.clone(), keyspace, snap, opts, overlay))
    }

    /// [`Txn::get`] in keyspace `ks`.
    pub fn get_in(&mut self, ks: &Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.check_owns(ks)?;
        self.get_ks(ks.id, key)
    }
    /// [`Txn::contains`] in keyspace `ks`.
    pub fn contains_in(&mut self, ks: &Keyspace, key: &[u8]) -> Result<bool> {
        self.db.check_owns(ks)?;
        self.contains_ks(ks.id, key)
    }
    /// [`Txn::put`] in keyspace `ks`.
    pub fn put_in(&mut self, ks: &Keyspace, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.check_owns(ks)?;
        self.put_ks(ks.id, key, value, 0)
    }
    /// [`Txn::put_with_ttl`] in keyspace `ks`.
    pub fn put_with_ttl_in(
        &mut self,
        ks: &Keyspace,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<()> {
        self.db.check_owns(ks)?;
        let at = self.db.expiry_after(ttl)?;
        self.put_ks(ks.id, key, value, at)
    }
    /// [`Txn::delete`] in keyspace `ks`.
    pub fn delete_in(&mut self, ks: &Keyspace, key: &[u8]) -> Result<()> {
        self.db.check_owns(ks)?;
        self.delete_ks(ks.id, key)
    }
    /// [`Txn::iter`] over keyspace `ks`.
    pub fn iter_in(&mut self, ks: &Keyspace, opts: &IterOptions) -> Result<Iter> {
        self.db.check_owns(ks)?;
        self.iter_ks(ks.id, opts)
    }

    /// Number of distinct keys written so far.
    pub fn write_count(&self) -> usize {
        self.writes.len()
    }

    /// Applies every write atomically and returns the commit sequence (the snapshot for
    /// a transaction that wrote nothing). [`Error::Conflict`] means nothing was written.
    pub fn commit(mut self) -> Result<u64> {
        self.commit_inner()
    }

    pub(crate) fn commit_inner(&mut self) -> Result<u64> {
        self.check_active()?;
        self.active = false;
        if self.writes.is_empty() {
            let snap = self.snapshot;
            return self.db.with(|e| {
                e.release_snapshot(snap);
                Ok(snap)
            });
        }
        let ops: Vec<OpRef<'_>> = self
            .writes
            .iter()
            .map(|((ks, key), p)| match p {
                Pending::Put { value, expires_at } => OpRef {
                    keyspace: *ks,
                    kind: RecordKind::Put,
                    key,
                    value,
                    expires_at: *expires_at,
                },
                Pending::Delete => OpRef {
                    keyspace: *ks,
                    kind: RecordKind::Delete,
                    key,
                    value: &[],
                    expires_at: 0,
                },
            })
            .collect();
        let check = Validation {
            snapshot: self.snapshot,
            reads: &self.reads,
            ranges: &self.ranges,
            unchecked: &self.unchecked,
        };
        let result = self.db.with(|e| e.commit(&ops, Some(&check)));
        drop(ops);
        let undo = std::mem::take(&mut self.on_abort);
        if result.is_err() {
            undo.into_iter().for_each(|f| f());
        }
        result
    }

    /// Discards every write and ends the transaction.
    pub fn abort(mut self) {
        self.abort_inner();
    }

    pub(crate) fn abort_inner(&mut self) {
        if self.active {
            self.active = false;
            let snap = self.snapshot;
            let _ = self.db.with(|e| {
                e.release_snapshot(snap);
                Ok(())
            });
        }
        self.writes.clear();
        std::mem::take(&mut self.on_abort)
            .into_iter()
            .for_each(|f| f());
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        self.abort_inner();
    }
}

/// Attempts of a one-shot operation that keeps meeting concurrent writers.
const RETRIES: usize = 64;

/// Runs `f` in a fresh transaction and commits it, again while commits conflict: how
/// one-shot bucket and column operations stay correct beside concurrent writers.
pub(crate) fn retry<T>(db: &Db, mut f: impl FnMut(&mut Txn) -> Result<T>) -> Result<T> {
    for _ in 0..RETRIES {
        let mut tx = db.begin()?;
        let value = f(&mut tx)?;
        match tx.commit() {
            Ok(_) => return Ok(value),
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict)
}
