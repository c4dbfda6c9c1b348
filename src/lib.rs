//! Katamari: an embedded, log-structured key-value engine.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let db = katamari::Db::open(dir.path().join("db"), katamari::Options::default()).unwrap();
//! db.put(b"hello", b"world").unwrap();
//! assert_eq!(db.get(b"hello").unwrap().as_deref(), Some(&b"world"[..]));
//! db.close().unwrap();
//! ```
//!
//! A [`Db`] is cheap to clone and safe to share between threads. Every write is an atomic
//! batch; by default a write returns only after its data is on stable storage.

mod bucket;
pub mod codec;
mod column;
pub mod engine;
mod error;
pub mod ffi;
mod iter;
mod keyspace;
mod txn;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;

use engine::format::{OpRef, RecordKind};
use engine::vfs::{StdFs, Vfs};
use engine::{Engine, EngineOptions};

pub use bucket::{
    BlobReader, BlobWriter, Bucket, BucketOptions, Compression, ObjectInfo, PutOptions,
    DEFAULT_CHUNK_SIZE, MAX_BUCKET_NAME_LEN, MAX_CHUNK_SIZE, MAX_CONTENT_TYPE_LEN,
    MAX_METADATA_LEN, MAX_OBJECT_KEY_LEN, MIN_CHUNK_SIZE,
};
pub use column::{
    Appender, Column, ColumnInfo, ColumnType, CHUNK_BYTES, MAX_COLUMN_NAME_LEN, MAX_FIXED_WIDTH,
};
pub use engine::backup::{BackupInfo, VerifyReport};
pub use engine::format::{MAX_KEY_LEN, MAX_VALUE_LEN};
pub use engine::merge::MergeStats;
pub use engine::{AutoMerge, Stats, SyncMode};
pub use error::{Error, Result, Status};
pub use iter::{Iter, IterOptions};
pub use keyspace::Keyspace;
pub use txn::{Txn, TxnOptions};

/// The default keyspace, where `put`/`get`/`delete` operate.
pub const DEFAULT_KEYSPACE: u32 = 0;

/// How to open a database.
#[derive(Clone)]
pub struct Options {
    inner: EngineOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            inner: EngineOptions {
                sync: SyncMode::Always,
                segment_size: engine::DEFAULT_SEGMENT_SIZE,
                salvage: false,
                create_if_missing: true,
                vfs: Arc::new(StdFs),
                clock: Arc::new(engine::now_ms),
                auto_merge: Some(AutoMerge::default()),
            },
        }
    }
}

impl Options {
    /// When commits reach stable storage (default [`SyncMode::Always`]).
    pub fn sync(mut self, mode: SyncMode) -> Self {
        self.inner.sync = mode;
        self
    }
    /// Shorthand for [`SyncMode::Interval`].
    pub fn sync_interval(self, every: Duration) -> Self {
        self.sync(SyncMode::Interval(every))
    }
    /// Size at which the active segment is sealed and a new one started (default 128 MiB,
    /// at least 1 KiB).
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.inner.segment_size = bytes;
        self
    }
    /// Open a damaged database anyway, skipping damaged batches (default false: damage
    /// other than a torn tail refuses to open with [`Error::Corruption`]).
    pub fn salvage(mut self, on: bool) -> Self {
        self.inner.salvage = on;
        self
    }
    /// Create the directory if it does not exist (default true; its parent must exist).
    pub fn create_if_missing(mut self, on: bool) -> Self {
        self.inner.create_if_missing = on;
        self
    }
    /// Route all file I/O through `vfs` (fault injection and crash simulation in tests).
    pub fn vfs(mut self, vfs: Arc<dyn Vfs>) -> Self {
        self.inner.vfs = vfs;
        self
    }
    /// Replace the clock used for expiry (milliseconds since the Unix epoch); for tests.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.inner.clock = Arc::new(clock);
        self
    }
    /// When to merge without being asked (default [`AutoMerge::default`]: at least half
    /// of all segment bytes and 256 MiB dead); `None` merges only on [`Db::merge`].
    pub fn auto_merge(mut self, policy: Option<AutoMerge>) -> Self {
        self.inner.auto_merge = policy;
        self
    }
    /// The configured sync mode.
    pub fn sync_mode(&self) -> SyncMode {
        self.inner.sync
    }
}

/// The expiry time `ttl` after `now` (at least 1 ms later).
fn expiry(now: u64, ttl: Duration) -> u64 {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    now.saturating_add(ms)
}

/// An ordered list of puts and deletes committed atomically by [`Db::write`]. All key
/// and value bytes live in one buffer, so adding an operation rarely allocates.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    data: Vec<u8>,
    ops: Vec<BatchOp>,
}

#[derive(Clone, Debug)]
struct BatchOp {
    keyspace: u32,
    kind: RecordKind,
    /// The key starts at this offset of `data`; the value follows it.
    at: usize,
    key_len: usize,
    val_len: usize,
    /// Time to live, counted from the moment the batch is written.
    ttl: Option<Duration>,
    /// The database of the operation's keyspace (none for the default keyspace, which
    /// every database has).
    owner: Option<Weak<Shared>>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }
    fn push(
        &mut self,
        ks: Option<&Keyspace>,
        kind: RecordKind,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        engine::check_limits(key, value)?;
        self.ops.push(BatchOp {
            keyspace: ks.map_or(DEFAULT_KEYSPACE, |k| k.id),
            kind,
            at: self.data.len(),
            key_len: key.len(),
            val_len: value.len(),
            ttl: None,
            owner: ks.map(|k| Arc::downgrade(&k.db.shared)),
        });
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
        Ok(())
    }
    /// Adds a put; fails with [`Error::TooLarge`] (and adds nothing) over the limits.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<&mut Self> {
        self.push(None, RecordKind::Put, key, value)?;
        Ok(self)
    }
    /// Adds a put whose key expires `ttl` after the batch is written.
    pub fn put_with_ttl(&mut self, key: &[u8], value: &[u8], ttl: Duration) -> Result<&mut Self> {
        self.push(None, RecordKind::Put, key, value)?;
        if let Some(op) = self.ops.last_mut() {
            op.ttl = Some(ttl);
        }
        Ok(self)
    }
    /// Adds a delete; fails with [`Error::TooLarge`] (and adds nothing) over the limit.
    pub fn delete(&mut self, key: &[u8]) -> Result<&mut Self> {
        self.push(None, RecordKind::Delete, key, &[])?;
        Ok(self)
    }
    /// Adds a put to keyspace `ks`.
    pub fn put_in(&mut self, ks: &Keyspace, key: &[u8], value: &[u8]) -> Result<&mut Self> {
        self.push(Some(ks), RecordKind::Put, key, value)?;
        Ok(self)
    }
    /// Adds a put to keyspace `ks` whose key expires `ttl` after the batch is written.
    pub fn put_with_ttl_in(
        &mut self,
        ks: &Keyspace,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<&mut Self> {
        self.push(Some(ks), RecordKind::Put, key, value)?;
        if let Some(op) = self.ops.last_mut() {
            op.ttl = Some(ttl);
        }
        Ok(self)
    }
    /// Adds a delete to keyspace `ks`.
    pub fn delete_in(&mut self, ks: &Keyspace, key: &[u8]) -> Result<&mut Self> {
        self.push(Some(ks), RecordKind::Delete, key, &[])?;
        Ok(self)
    }
    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Removes every operation (keeping the memory for reuse).
    pub fn clear(&mut self) {
        self.ops.clear();
        self.data.clear();
    }
    /// The operations as the engine takes them, with expiries counted from `now`.
    fn op_refs(&self, now: u64) -> Vec<OpRef<'_>> {
        self.ops
            .iter()
            .map(|o| {
                let key = &self.data[o.at..o.at + o.key_len];
                let value = &self.data[o.at + o.key_len..o.at + o.key_len + o.val_len];
                OpRef {
                    keyspace: o.keyspace,
                    kind: o.kind,
                    key,
                    value,
                    expires_at: o.ttl.map_or(0, |t| expiry(now, t)),
                }
            })
            .collect()
    }
}

/// An open database. Clones share it; it closes when [`Db::close`] is called or the last
/// clone is dropped.
#[derive(Clone)]
pub struct Db {
    shared: Arc<Shared>,
}

struct Shared {
    /// Set when close begins, so calls that start afterwards fail at once instead of
    /// keeping close waiting behind them.
    closing: AtomicBool,
    engine: RwLock<Option<Arc<Engine>>>,
    buckets: bucket::Registry,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(e) = self.engine.get_mut().take() {
            let _ = e.close();
        }
    }
}

impl Db {
    /// Opens the database in directory `path`, creating it if allowed and missing.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let engine = Engine::open(path.as_ref(), options.inner)?;
        let db = Db {
            shared: Arc::new(Shared {
                closing: AtomicBool::new(false),
                engine: RwLock::new(Some(engine)),
                buckets: bucket::Registry::default(),
            }),
        };
        bucket::recover(&db)?;
        column::recover(&db)?;
        Ok(db)
    }

    /// Runs `f` on the engine unless the database is closed. Close waits for calls in
    /// flight.
    /// Fails unless `ks` is a keyspace of this database.
    pub(crate) fn check_owns(&self, ks: &Keyspace) -> Result<()> {
        if Arc::ptr_eq(&self.shared, &ks.db.shared) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the keyspace belongs to another database".into(),
            ))
        }
    }

    /// Whether `other` is a handle on this same open database.
    pub(crate) fn same(&self, other: &Db) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&Engine) -> Result<T>) -> Result<T> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let guard = self.shared.engine.read_recursive();
        match guard.as_ref() {
            Some(e) => f(e),
            None => Err(Error::Closed),
        }
    }

    /// The value of `key`, or `None` if absent. An empty value is `Some(vec![])`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with(|e| e.get(DEFAULT_KEYSPACE, key))
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write_ops(&[OpRef {
            keyspace: DEFAULT_KEYSPACE,
            kind: RecordKind::Put,
            key,
            value,
            expires_at: 0,
        }])
    }

    /// Sets `key` to `value`, expiring `ttl` from now: afterwards the key is invisible to
    /// every read and its space is reclaimable.
    pub fn put_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        let expires_at = self.expiry_after(ttl)?;
        self.write_ops(&[OpRef {
            keyspace: DEFAULT_KEYSPACE,
            kind: RecordKind::Put,
            key,
            value,
            expires_at,
        }])
    }

    /// The expiry time `ttl` from now on the engine clock.
    pub(crate) fn expiry_after(&self, ttl: Duration) -> Result<u64> {
        self.with(|e| Ok(expiry(e.now(), ttl)))
    }

    /// Starts a read-write snapshot transaction.
    pub fn begin(&self) -> Result<Txn> {
        Txn::begin(self, TxnOptions::default())
    }

    /// Starts a transaction with `opts`.
    pub fn begin_with(&self, opts: TxnOptions) -> Result<Txn> {
        Txn::begin(self, opts)
    }

    /// An iterator over a snapshot of the database taken now.
    pub fn iter(&self, opts: &IterOptions) -> Result<Iter> {
        let snap = self.with(|e| Ok(e.snapshot()))?;
        Ok(Iter::new(
            self.clone(),
            DEFAULT_KEYSPACE,
            snap,
            opts,
            Default::default(),
        ))
    }

    /// Removes `key`; removing an absent key is not an error.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.write_ops(&[OpRef {
            keyspace: DEFAULT_KEYSPACE,
            kind: RecordKind::Delete,
            key,
            value: &[],
            expires_at: 0,
        }])
    }

    /// When `key` expires, in milliseconds since the Unix epoch (on the database's
    /// clock); `None` when it has no expiry or no live value.
    pub fn expires_at(&self, key: &[u8]) -> Result<Option<u64>> {
        self.with(|e| Ok(e.expires_at(DEFAULT_KEYSPACE, key)))
    }

    /// The expiry of `key`'s live value: `Some(0)` when it never expires, `None` when
    /// the key has no live value.
    pub(crate) fn expiry_in(&self, keyspace: u32, key: &[u8]) -> Result<Option<u64>> {
        self.with(|e| Ok(e.expiry(keyspace, key)))
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        self.with(|e| e.contains(DEFAULT_KEYSPACE, key))
    }

    /// Commits every operation of `batch` atomically, in order.
    pub fn write(&self, batch: &WriteBatch) -> Result<()> {
        let foreign = batch.ops.iter().filter_map(|o| o.owner.as_ref());
        if foreign
            .into_iter()
            .any(|w| !std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.shared)))
        {
            return Err(Error::InvalidArgument(
                "the batch uses a keyspace of another database".into(),
            ));
        }
        self.with(|e| e.write(&batch.op_refs(e.now())).map(|_| ()))
    }

    fn write_ops(&self, ops: &[OpRef<'_>]) -> Result<()> {
        self.with(|e| e.write(ops).map(|_| ()))
    }

    /// Forces everything written so far onto stable storage.
    pub fn sync(&self) -> Result<()> {
        self.with(|e| e.sync())
    }

    /// Compacts the database now: seals the active segment, rewrites the live data of
    /// every other segment into merged segments (with hint files for fast open), and
    /// removes the old ones. Reads and writes continue meanwhile; versions a live
    /// snapshot can see are kept. A crash at any point leaves the same contents.
    pub fn merge(&self) -> Result<MergeStats> {
        self.with(|e| e.merge())
    }

    /// Writes a consistent copy of the database, as of the last commit when the call
    /// begins, into the new directory `dest` while reads and writes continue. The copy
    /// opens as a database; [`BackupInfo::seq`] names its commit point.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<BackupInfo> {
        self.with(|e| e.backup(dest.as_ref()))
    }

    /// Reads every record and checks every checksum (and every hint file), changing
    /// nothing: damage is reported in the result, not as an error.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.with(|e| e.verify())
    }

    /// Current counters.
    pub fn stats(&self) -> Result<Stats> {
        self.with(|e| Ok(e.stats()))
    }

    /// Waits for calls in flight, syncs and releases the directory. Later calls on this
    /// `Db` or its clones return [`Error::Closed`]; closing again is `Ok`.
    pub fn close(&self) -> Result<()> {
        self.shared.closing.store(true, Ordering::Release);
        if let Some(e) = self.shared.engine.read_recursive().as_ref() {
            // A merge in flight stops at its next step instead of holding close up.
            e.interrupt();
        }
        let engine = self.shared.engine.write().take();
        match engine {
            Some(e) => e.close(),
            None => Ok(()),
        }
    }

    /// Whether [`Db::close`] has been called.
    pub fn is_closed(&self) -> bool {
        self.shared.engine.read_recursive().is_none()
    }
}
