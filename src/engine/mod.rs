//! The log-structured engine: segments on disk, the keydir in memory, atomic batch
//! commits with group commit, and recovery. Pure Rust; knows nothing of C.

pub mod backup;
pub mod catalog;
pub mod format;
pub mod hint;
pub mod keydir;
pub mod merge;
pub mod recovery;
pub mod segment;
pub mod vfs;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::error::{Error, Result};
use catalog::{Catalog, CATALOG_KEYSPACE};
use format::{encode_batch, verify_record, OpRef, RecordKind, MAX_KEY_LEN, MAX_VALUE_LEN};
use keydir::{Entry, Keydir, OpenSnapshots};
use recovery::Repair;
use vfs::{LockGuard, Mapping, VFile, Vfs};

/// When commits reach stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// A commit returns after its data is on stable storage (fdatasync); concurrent
    /// committers share one sync.
    Always,
    /// A background thread syncs at this interval; a power loss may lose the writes of
    /// the last interval.
    Interval(Duration),
    /// Only segment rotation and close sync; a power loss may lose recent writes.
    Never,
}

/// Settings of an open database.
#[derive(Clone)]
pub struct EngineOptions {
    pub sync: SyncMode,
    pub segment_size: u64,
    pub salvage: bool,
    pub create_if_missing: bool,
    pub vfs: Arc<dyn Vfs>,
    /// Milliseconds since the Unix epoch, for expiry; replaceable in tests.
    pub clock: Clock,
    /// When to merge on its own; `None` merges only on request.
    pub auto_merge: Option<AutoMerge>,
}

/// The automatic merge policy: after the active segment is sealed, a background merge
/// starts when the bytes no reader can reach any more make up at least `dead_ratio` of
/// all segment bytes and amount to at least `min_dead_bytes`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoMerge {
    pub dead_ratio: f64,
    pub min_dead_bytes: u64,
}

impl Default for AutoMerge {
    fn default() -> Self {
        AutoMerge {
            dead_ratio: 0.5,
            min_dead_bytes: 256 << 20,
        }
    }
}

/// A source of the current time in milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Smallest accepted segment size.
pub const MIN_SEGMENT_SIZE: u64 = 1024;
/// Default segment size (128 MiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;
/// Name of the advisory lock file inside a data directory.
pub const LOCK_FILE: &str = "LOCK";

/// Counters describing a database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Keys whose newest version is a value.
    pub live_keys: u64,
    /// Bytes of records holding newest values.
    pub live_bytes: u64,
    /// Bytes in segments not holding newest values (overwritten, deleted, headers).
    pub dead_bytes: u64,
    /// Bytes in all segments.
    pub total_bytes: u64,
    /// Number of segment files.
    pub segments: u64,
    /// Estimated heap bytes of the in-memory index.
    pub keydir_bytes: u64,
    /// Sequence of the newest visible commit.
    pub last_seq: u64,
    /// Merges completed since open (on request or automatic).
    pub merges: u64,
    /// Automatic merges that failed since open (their error has no caller to go to).
    pub merge_failures: u64,
}

struct Writer {
    file: Arc<dyn VFile>,
    seg: u32,
    end: u64,
    next_seq: u64,
    /// Bytes appended since open, across segments: the position group commit syncs to.
    appended: u64,
    buf: Vec<u8>,
    offsets: Vec<u64>,
}

/// A segment as readers see it: the file, and a memory view where the platform gives
/// one (reads inside the view are copies from memory instead of system calls).
pub(crate) struct SegFile {
    file: Arc<dyn VFile>,
    map: Option<Arc<dyn Mapping>>,
}

impl SegFile {
    fn new(file: Arc<dyn VFile>, map_len: u64) -> Arc<SegFile> {
        let map = file.map(map_len);
        Arc::new(SegFile { file, map })
    }
}

struct State {
    keydir: Keydir,
    files: BTreeMap<u32, Arc<SegFile>>,
    /// Lengths of sealed segments.
    sealed_len: BTreeMap<u32, u64>,
    /// Merged segments written by a merge that has not committed (still temporary
    /// files; an interrupted merge leaves them to the next merge or open).
    uncommitted: BTreeSet<u32>,
}

#[derive(Default)]
struct CommitState {
    /// Appended bytes known to be on stable storage.
    synced: u64,
    /// A leader is syncing right now.
    syncing: bool,
    /// Commits appended but not yet durable and applied, in sequence order.
    queue: VecDeque<Queued>,
    /// Every commit up to this sequence is applied (visible).
    applied_seq: u64,
    /// Commits in the last synced group.
    last_group: usize,
}

/// A commit waiting for the group sync; the leader applies it.
struct Queued {
    seq: u64,
    /// Append position its bytes end at.
    end: u64,
    ops: Vec<(u32, Box<[u8]>, Entry, u64)>,
}

/// An open data directory.
pub struct Engine {
    dir: PathBuf,
    opts: EngineOptions,
    writer: Mutex<Writer>,
    state: RwLock<State>,
    commit: Mutex<CommitState>,
    commit_cv: Condvar,
    visible_seq: AtomicU64,
    snapshots: Mutex<BTreeMap<u64, usize>>,
    /// Writers between entering `commit` and queueing their append: a sync leader gives
    /// them a moment to join its group.
    appending: AtomicUsize,
    failed: AtomicBool,
    catalog: RwLock<Catalog>,
    /// Serializes keyspace creation and removal.
    catalog_change: Mutex<()>,
    lock: Mutex<Option<Box<dyn LockGuard>>>,
    syncer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    /// Next segment number to hand out (to the writer or a merge).
    next_seg: AtomicU32,
    /// Held by the merge in progress.
    merge_lock: Mutex<()>,
    /// Set by `close`: a running merge stops at its next step.
    closing: AtomicBool,
    /// The background merge the policy started, if any.
    auto_merge: Mutex<Option<JoinHandle<()>>>,
    /// Background merges that failed (their error is not reported anywhere else).
    auto_merge_failures: AtomicU64,
    /// Merges completed.
    merges_done: AtomicU64,
    /// Appended bytes (the writer's `appended` count) known to be on stable storage.
    synced_to: AtomicU64,
    me: Weak<Engine>,
}

/// What a transaction depends on, checked at commit: it conflicts when a commit after
/// `snapshot` wrote one of its written keys, one of `reads`, or a key in one of `ranges`.
pub struct Validation<'a> {
    pub snapshot: u64,
    pub reads: &'a [(u32, Vec<u8>)],
    pub ranges: &'a [KeyRange],
    /// Keyspaces whose writes are exempt from the write-write check: records only one
    /// writer ever touches, such as the upload record of a streamed object.
    pub unchecked: &'a [u32],
}

/// A keyspace and a key range in it.
pub type KeyRange = (u32, Bound<Vec<u8>>, Bound<Vec<u8>>);

/// A range over owned bounds, borrowed as byte slices (what the ordered maps take).
pub fn borrow_range<'a>(
    lo: &'a Bound<Vec<u8>>,
    hi: &'a Bound<Vec<u8>>,
) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (
        lo.as_ref().map(Vec::as_slice),
        hi.as_ref().map(Vec::as_slice),
    )
}

fn record_corrupt(e: &Entry, why: String) -> Error {
    Error::Corruption(format!("segment {} at byte {}: {why}", e.seg, e.offset()))
}

/// The value of the record `e` points at, checked, if the segment's memory view covers
/// it; `None` when it must be read from the file instead.
fn read_mapped(keyspace: u32, key: &[u8], e: &Entry, seg: &SegFile) -> Option<Result<Vec<u8>>> {
    let map = seg.map.as_ref()?;
    let start = usize::try_from(e.offset()).ok()?;
    let len = usize::try_from(e.record_len(key.len()))
        .ok()
        .filter(|&l| l <= MAPPED_READ_MAX)?;
    let rec = map.bytes().get(start..start.checked_add(len)?)?;
    Some(
        verify_record(rec, keyspace, key)
            .map(|_| rec[format::RECORD_HEADER_LEN + key.len()..].to_vec())
            .map_err(|why| record_corrupt(e, why)),
    )
}

/// Records longer than this are read with a positioned read rather than copied from the
/// segment's memory view: streaming a large object then leaves no mapped pages behind in
/// the process's resident set.
const MAPPED_READ_MAX: usize = 256 << 10;
/// Values at least this long are read apart from their record header.
const SPLIT_READ_MIN: usize = 64 << 10;

/// Appends the whole record `e` points at (header, key, value) to `buf`, from the
/// segment's memory view where it covers the record and by a positioned read otherwise,
/// and checks it holds `key` intact.
pub(crate) fn read_record_into(
    keyspace: u32,
    key: &[u8],
    e: &Entry,
    seg: &SegFile,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let len = e.record_len(key.len()) as usize;
    let start = buf.len();
    let mapped = seg
        .map
        .as_ref()
        .filter(|_| len <= MAPPED_READ_MAX)
        .and_then(|m| {
            let at = usize::try_from(e.offset()).ok()?;
            m.bytes().get(at..at.checked_add(len)?)
        });
    match mapped {
        Some(rec) => buf.extend_from_slice(rec),
        None => {
            buf.resize(start + len, 0);
            seg.file
                .read_exact_at(&mut buf[start..], e.offset())
                .map_err(|err| {
                    if err.kind() == io::ErrorKind::UnexpectedEof {
                        Error::Corruption(format!("segment {} ends inside a record", e.seg))
                    } else {
                        Error::io(format!("reading segment {}", e.seg), err)
                    }
                })?;
        }
    }
    verify_record(&buf[start..], keyspace, key).map_err(|why| record_corrupt(e, why))?;
    Ok(())
}

/// How long a group-commit leader waits for writers about to append.
const GATHER_MICROS: u64 = 100;

/// Counts a writer in `appending` for as long as it lives.
struct Joining<'a>(&'a AtomicUsize);

impl<'a> Joining<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Joining(counter)
    }
}

impl Drop for Joining<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Checks the documented size limits of one operation.
pub fn check_limits(key: &[u8], value: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::TooLarge(format!(
            "key of {} bytes exceeds the {MAX_KEY_LEN}-byte limit",
            key.len()
        )));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::TooLarge(format!(
            "value of {} bytes exceeds the {MAX_VALUE_LEN}-byte limit",
            value.len()
        )));
    }
    Ok(())
}

impl Engine {
    /// Opens (and recovers) the data directory at `dir`.
    pub fn open(dir: &Path, opts: EngineOptions) -> Result<Arc<Engine>> {
        if opts.segment_size < MIN_SEGMENT_SIZE {
            return Err(Error::InvalidArgument(format!(
                "segment size must be at least {MIN_SEGMENT_SIZE} bytes"
            )));
        }
        if let SyncMode::Interval(d) = opts.sync {
            if d.is_zero() {
                return Err(Error::InvalidArgument(
                    "sync interval must be at least 1 ms".into(),
                ));
            }
        }
        let vfs = opts.vfs.clone();
        if opts.create_if_missing {
            vfs.create_dir(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let lock = match vfs.lock(&dir.join(LOCK_FILE)) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(Error::Locked(format!(
                    "{} is open for writing elsewhere",
                    dir.display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::io(
                    format!("opening {}", dir.display()),
                    io::Error::new(io::ErrorKind::NotFound, "no such database directory"),
                ))
            }
            Err(e) => return Err(Error::io(format!("locking {}", dir.display()), e)),
        };

        merge::finish_pending(vfs.as_ref(), dir)?;
        let rec = recovery::recover(vfs.as_ref(), dir, opts.salvage)?;
        if rec.last_seq >= u64::MAX - 1 {
            return Err(Error::Corruption(format!(
                "commit sequence {} leaves no room for another commit",
                rec.last_seq
            )));
        }
        for repair in &rec.repairs {
            match *repair {
                Repair::Truncate { seg, len } => {
                    let f = &rec
                        .segments
                        .iter()
                        .find(|s| s.id == seg)
                        .expect("torn segment is listed")
                        .file;
                    f.set_len(len).and_then(|_| f.sync_data()).map_err(|e| {
                        Error::io(format!("truncating torn tail of segment {seg}"), e)
                    })?;
                }
                Repair::RemoveSegment { seg } => {
                    vfs.remove(&segment::path(dir, seg))
                        .and_then(|_| vfs.sync_dir(dir))
                        .map_err(|e| Error::io(format!("removing torn segment {seg}"), e))?;
                }
            }
        }

        let mut segments = rec.segments;
        let reusable = rec.active.filter(|&i| {
            let s = &segments[i];
            s.len < opts.segment_size && !rec.salvaged.iter().any(|(id, _, _)| *id == s.id)
        });
        let mut next_id = segments.iter().map(|s| s.id).max().map_or(Ok(1), |id| {
            id.checked_add(1)
                .ok_or_else(|| Error::Internal("segment numbers exhausted".into()))
        })?;
        let (seg, file, end) = match reusable {
            Some(i) => {
                // What a crashed process left in the page cache is made durable before
                // new batches claim everything before them was synced.
                segments[i]
                    .file
                    .sync_data()
                    .map_err(|e| Error::io(format!("syncing segment {}", segments[i].id), e))?;
                (segments[i].id, segments[i].file.clone(), segments[i].len)
            }
            None => {
                let f = segment::create(vfs.as_ref(), dir, next_id, rec.last_seq)?;
                let header = format::SEGMENT_HEADER_LEN as u64;
                segments.push(recovery::FoundSegment {
                    id: next_id,
                    file: f.clone(),
                    len: header,
                    merged: false,
                });
                next_id += 1;
                (next_id - 1, f, header)
            }
        };
        let sealed_len = segments
            .iter()
            .filter(|s| s.id != seg)
            .map(|s| (s.id, s.len))
            .collect();
        let segment_size = opts.segment_size;
        let files = segments
            .into_iter()
            .map(|s| {
                let map_len = if s.id == seg {
                    s.len.max(segment_size)
                } else {
                    s.len
                };
                (s.id, SegFile::new(s.file, map_len))
            })
            .collect();

        let engine = Arc::new_cyclic(|me| Engine {
            dir: dir.to_path_buf(),
            writer: Mutex::new(Writer {
                file,
                seg,
                end,
                next_seq: rec.last_seq + 1,
                appended: 0,
                buf: Vec::new(),
                offsets: Vec::new(),
            }),
            state: RwLock::new(State {
                keydir: rec.keydir,
                files,
                sealed_len,
                uncommitted: BTreeSet::new(),
            }),
            commit: Mutex::new(CommitState {
                applied_seq: rec.last_seq,
                ..CommitState::default()
            }),
            commit_cv: Condvar::new(),
            visible_seq: AtomicU64::new(rec.last_seq),
            snapshots: Mutex::new(BTreeMap::new()),
            appending: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            catalog: RwLock::new(Catalog::default()),
            catalog_change: Mutex::new(()),
            lock: Mutex::new(Some(lock)),
            syncer: Mutex::new(None),
            next_seg: AtomicU32::new(next_id),
            merge_lock: Mutex::new(()),
            closing: AtomicBool::new(false),
            auto_merge: Mutex::new(None),
            auto_merge_failures: AtomicU64::new(0),
            merges_done: AtomicU64::new(0),
            synced_to: AtomicU64::new(0),
            me: me.clone(),
            opts,
        });
        engine.load_catalog()?;
        if let SyncMode::Interval(every) = engine.opts.sync {
            let (tx, rx) = mpsc::channel::<()>();
            let weak = Arc::downgrade(&engine);
            let handle = std::thread::Builder::new()
                .name("katamari-sync".into())
                .spawn(move || interval_syncer(weak, rx, every))
                .map_err(|e| Error::io("starting the sync thread", e))?;
            *engine.syncer.lock() = Some((tx, handle));
        }
        Ok(engine)
    }

    /// The directory this engine serves.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest value of `key` in `keyspace`, if any.
    pub fn get(&self, keyspace: u32, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_at(keyspace, key, u64::MAX)
    }

    /// The value of `key` as of snapshot sequence `snap`.
    pub fn get_at(&self, keyspace: u32, key: &[u8], snap: u64) -> Result<Option<Vec<u8>>> {
        let (entry, file) = {
            let st = self.state.read();
            let Some(v) = st.keydir.get_at(keyspace, key, snap) else {
                return Ok(None);
            };
            if v.expires_at != 0 && v.expires_at <= (self.opts.clock)() {
                return Ok(None);
            }
            let seg = st.files.get(&v.entry.seg).ok_or_else(|| {
                Error::Internal(format!("index points at missing segment {}", v.entry.seg))
            })?;
            // A mapped record is copied out under the read lock (no system call, nothing
            // to wait for); a positioned read happens after the lock is released.
            if let Some(found) = read_mapped(keyspace, key, &v.entry, seg) {
                return found.map(Some);
            }
            (v.entry, seg.clone())
        };
        self.read_value(keyspace, key, &entry, file.as_ref())
            .map(Some)
    }

    fn read_value(&self, keyspace: u32, key: &[u8], e: &Entry, seg: &SegFile) -> Result<Vec<u8>> {
        if let Some(found) = read_mapped(keyspace, key, e, seg) {
            return found;
        }
        let head_len = format::RECORD_HEADER_LEN + key.len();
        let total = e.record_len(key.len()) as usize;
        if total.saturating_sub(head_len) < SPLIT_READ_MIN {
            let mut rec = Vec::new();
            read_record_into(keyspace, key, e, seg, &mut rec)?;
            rec.drain(..head_len);
            return Ok(rec);
        }
        // A large value is read straight into its own buffer (the header and key
        // separately), rather than moved down over them afterwards.
        let mut head = vec![0; head_len];
        let mut value = vec![0; total - head_len];
        let read = |buf: &mut [u8], at: u64| {
            seg.file.read_exact_at(buf, at).map_err(|err| {
                if err.kind() == io::ErrorKind::UnexpectedEof {
                    Error::Corruption(format!("segment {} ends inside a record", e.seg))
                } else {
                    Error::io(format!("reading segment {}", e.seg), err)
                }
            })
        };
        read(&mut head, e.offset())?;
        read(&mut value, e.offset() + head_len as u64)?;
        format::verify_record_parts(&head, &value, keyspace, key)
            .map_err(|why| record_corrupt(e, why))?;
        Ok(value)
    }

    /// Up to `limit` live entries of `range` in `keyspace` as of snapshot `snap`, in key
    /// order (descending with `reverse`), values included.
    pub fn scan(
        &self,
        keyspace: u32,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        snap: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut found = Vec::new();
        let files = {
            let st = self.state.read();
            let now = (self.opts.clock)();
            st.keydir
                .scan(keyspace, range, snap, reverse, limit, now, &mut found);
            let mut files: Vec<(u32, Arc<SegFile>)> = Vec::new();
            for (_, v) in &found {
                if !files.iter().any(|(id, _)| *id == v.entry.seg) {
                    let f = st.files.get(&v.entry.seg).cloned().ok_or_else(|| {
                        Error::Internal(format!("index points at missing segment {}", v.entry.seg))
                    })?;
                    files.push((v.entry.seg, f));
                }
            }
            files
        };
        let mut out = Vec::with_capacity(found.len());
        for (key, v) in found {
            let file = &files
                .iter()
                .find(|(id, _)| *id == v.entry.seg)
                .expect("collected")
                .1;
            let value = self.read_value(keyspace, &key, &v.entry, file)?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// When the newest value of `key` expires (ms since the Unix epoch); `None` when it
    /// never does, or when the key has no live value.
    pub fn expires_at(&self, keyspace: u32, key: &[u8]) -> Option<u64> {
        self.expiry(keyspace, key).filter(|&at| at != 0)
    }

    /// The expiry of the newest live value of `key`: `Some(0)` when it never expires,
    /// `None` when the key has no live value.
    pub fn expiry(&self, keyspace: u32, key: &[u8]) -> Option<u64> {
        let st = self.state.read();
        let v = st.keydir.get_at(keyspace, key, u64::MAX)?;
        (v.expires_at == 0 || v.expires_at > (self.opts.clock)()).then_some(v.expires_at)
    }

    /// Whether `key` has a live (unexpired) value.
    pub fn contains(&self, keyspace: u32, key: &[u8]) -> Result<bool> {
        self.contains_at(keyspace, key, u64::MAX)
    }

    /// Whether `key` has a live value as of snapshot `snap` (no value is read).
    pub fn contains_at(&self, keyspace: u32, key: &[u8], snap: u64) -> Result<bool> {
        let st = self.state.read();
        Ok(st
            .keydir
            .get_at(keyspace, key, snap)
            .is_some_and(|v| v.expires_at == 0 || v.expires_at > (self.opts.clock)()))
    }

    /// Commits `ops` as one atomic batch and returns its sequence. Durable on return
    /// under [`SyncMode::Always`]; visible to readers on return in every mode.
    pub fn write(&self, ops: &[OpRef<'_>]) -> Result<u64> {
        self.commit(ops, None)
    }

    /// Commits `ops` like [`Engine::write`], after checking that nothing `check` names
    /// was written by a commit after its snapshot ([`Error::Conflict`] otherwise, and
    /// nothing is written). Releases `check`'s snapshot either way.
    pub fn commit(&self, ops: &[OpRef<'_>], check: Option<&Validation<'_>>) -> Result<u64> {
        self.commit_with(ops, check, true)
    }

    /// Commits `ops` like [`Engine::write`] but returns without waiting for the sync
    /// [`SyncMode::Always`] would wait for: the batch becomes durable (and visible) with
    /// the next synced commit, [`Engine::sync`] or close. For bulk data that only a later
    /// synced commit makes reachable, such as the chunks of a streamed object; the log
    /// is written in order, so that commit's durability implies this batch's.
    pub fn write_unsynced(&self, ops: &[OpRef<'_>]) -> Result<u64> {
        self.commit_with(ops, None, false)
    }

    fn commit_with(
        &self,
        ops: &[OpRef<'_>],
        check: Option<&Validation<'_>>,
        wait: bool,
    ) -> Result<u64> {
        let release = |this: &Self| {
            if let Some(v) = check {
                this.release_snapshot(v.snapshot);
            }
        };
        if let Err(e) = ops.iter().try_for_each(|op| check_limits(op.key, op.value)) {
            release(self);
            return Err(e);
        }
        if ops.is_empty() {
            release(self);
            return Ok(self.visible_seq.load(Ordering::Acquire));
        }
        if let Err(e) = self.check_writable() {
            release(self);
            return Err(e);
        }
        let joining = Joining::new(&self.appending);
        let mut w = self.writer.lock();
        let checked = self
            .check_writable()
            .and_then(|_| self.check_keyspaces(ops))
            .and_then(|_| match check {
                Some(v) if self.conflicts(ops, v) => Err(Error::Conflict),
                _ => Ok(()),
            });
        // The committing transaction reads no more: its snapshot must not make the
        // versions it replaces look needed.
        release(self);
        checked?;
        let seq = w.next_seq;
        let Writer {
            buf,
            offsets,
            appended,
            ..
        } = &mut *w;
        buf.clear();
        offsets.clear();
        // A batch written after everything before it was synced says so: recovery then
        // knows damage before it is not a torn write.
        let flags = if self.synced_to.load(Ordering::Acquire) >= *appended {
            format::BATCH_FLAG_PRIOR_SYNCED
        } else {
            0
        };
        encode_batch(buf, seq, flags, ops.iter().copied(), offsets);
        let len = w.buf.len() as u64;
        if w.end + len > self.opts.segment_size && w.end > format::SEGMENT_HEADER_LEN as u64 {
            self.rotate(&mut w)?;
        }
        let at = w.end;
        if let Err(e) = w.file.write_all_at(&w.buf, at) {
            // Undo a partial append so later batches follow a clean end; if even that
            // fails, stop writing until the database is reopened and recovered.
            if w.file.set_len(at).is_err() {
                self.fail();
            }
            return Err(Error::io(format!("appending to segment {}", w.seg), e));
        }
        w.end += len;
        w.appended += len;
        w.next_seq += 1;
        let seg = w.seg;
        let entries: Vec<(u32, &[u8], Entry, u64)> = ops
            .iter()
            .zip(&w.offsets)
            .map(|(op, off)| {
                let entry = match op.kind {
                    RecordKind::Put => Entry::value(seg, at + off, op.value.len() as u32, seq),
                    RecordKind::Delete => Entry::tombstone(seg, at + off, seq),
                };
                (op.keyspace, op.key, entry, op.expires_at)
            })
            .collect();

        if self.opts.sync != SyncMode::Always {
            // Appends are ordered by the writer lock, so applying here keeps seq order.
            self.apply(seq, &entries);
            self.commit.lock().applied_seq = seq;
            return Ok(seq);
        }
        let end = w.appended;
        let queued = Queued {
            seq,
            end,
            ops: entries
                .iter()
                .map(|(ks, k, e, x)| (*ks, Box::<[u8]>::from(*k), *e, *x))
                .collect(),
        };
        self.commit.lock().queue.push_back(queued);
        drop(w);
        drop(joining);
        if !wait {
            return Ok(seq);
        }
        self.await_group(seq)
    }

    /// Waits until commit `seq` (queued) is durable and applied. Whoever finds no sync
    /// running becomes the leader: it syncs once for every commit appended so far, then
    /// applies them all in sequence order and wakes their writers (group commit).
    fn await_group(&self, seq: u64) -> Result<u64> {
        let mut cs = self.commit.lock();
        loop {
            if cs.applied_seq >= seq {
                return Ok(seq);
            }
            if self.failed.load(Ordering::Acquire) {
                return Err(self.failed_error());
            }
            if cs.syncing {
                self.commit_cv.wait(&mut cs);
                continue;
            }
            cs.syncing = true;
            let expect = cs.last_group;
            let result = parking_lot::MutexGuard::unlocked(&mut cs, || {
                self.gather(expect);
                let (file, target) = {
                    let w = self.writer.lock();
                    (w.file.clone(), w.appended)
                };
                file.sync_data().map(|_| target)
            });
            cs.syncing = false;
            let target = match result {
                Ok(target) => target,
                Err(e) => {
                    self.fail();
                    self.commit_cv.notify_all();
                    return Err(Error::io("syncing the active segment", e));
                }
            };
            cs.synced = cs.synced.max(target);
            self.synced_to.fetch_max(target, Ordering::AcqRel);
            let ready = cs.queue.iter().take_while(|q| q.end <= target).count();
            if ready > 0 {
                let group: Vec<Queued> = cs.queue.drain(..ready).collect();
                cs.last_group = ready;
                let last = group.last().map_or(cs.applied_seq, |q| q.seq);
                self.apply_group(&group);
                cs.applied_seq = last;
            }
            self.commit_cv.notify_all();
        }
    }

    /// Lets writers join the coming sync, briefly: while some are about to append, or
    /// while fewer are queued than joined the previous group (writers it just released
    /// are likely on their way back). A lone writer never waits.
    fn gather(&self, expect: usize) {
        let deadline = std::time::Instant::now() + Duration::from_micros(GATHER_MICROS);
        loop {
            let joining = self.appending.load(Ordering::Acquire) > 0;
            if !joining && self.commit.lock().queue.len() >= expect {
                return;
            }
            if std::time::Instant::now() >= deadline {
                return;
            }
            std::thread::yield_now();
        }
    }

    fn check_keyspaces(&self, ops: &[OpRef<'_>]) -> Result<()> {
        let mut last = 0;
        for op in ops {
            if op.keyspace != last && op.keyspace != 0 {
                if !self.catalog.read().is_live(op.keyspace) {
                    return Err(Error::InvalidArgument("the keyspace was dropped".into()));
                }
                last = op.keyspace;
            }
        }
        Ok(())
    }

    /// Rebuilds the keyspace catalog after recovery and forgets dropped keyspaces.
    fn load_catalog(&self) -> Result<()> {
        let all = (Bound::Unbounded, Bound::Unbounded);
        let entries = self.scan(CATALOG_KEYSPACE, all, u64::MAX, false, usize::MAX)?;
        let catalog = Catalog::load(entries)?;
        {
            let mut st = self.state.write();
            for id in catalog.dropped() {
                st.keydir.drop_space(id);
            }
        }
        *self.catalog.write() = catalog;
        Ok(())
    }

    /// The id of keyspace `name`, creating it if `create` and missing.
    pub fn keyspace(&self, name: &[u8], create: bool) -> Result<Option<u32>> {
        catalog::check_name(name)?;
        if let Some(id) = self.catalog.read().id(name) {
            return Ok(Some(id));
        }
        if !create {
            return Ok(None);
        }
        let _change = self.catalog_change.lock();
        if let Some(id) = self.catalog.read().id(name) {
            return Ok(Some(id));
        }
        let (id, bufs) = self.catalog.read().plan_create(name)?;
        self.write(&catalog::create_ops(&bufs))?;
        self.catalog.write().created(name, id);
        Ok(Some(id))
    }

    /// Drops keyspace `name` and everything in it; `Error::NotFound` if it does not exist.
    pub fn drop_keyspace(&self, name: &[u8]) -> Result<()> {
        catalog::check_name(name)?;
        let _change = self.catalog_change.lock();
        let id = self.catalog.read().id(name).ok_or(Error::NotFound)?;
        // Refuse new writes to it first; commits already past the check are earlier in
        // the log and are purged below with the rest.
        self.catalog.write().dropped_now(name, id);
        let keys = Catalog::plan_drop(name, id);
        if let Err(e) = self.write(&catalog::drop_ops(&keys)) {
            self.catalog.write().undrop(name, id);
            return Err(e);
        }
        self.state.write().keydir.drop_space(id);
        Ok(())
    }

    /// Names of the existing keyspaces, sorted.
    pub fn keyspace_names(&self) -> Vec<Vec<u8>> {
        self.catalog.read().names().map(<[u8]>::to_vec).collect()
    }

    /// Fails unless keyspace `id` exists.
    pub fn check_keyspace(&self, id: u32) -> Result<()> {
        if self.catalog.read().is_live(id) {
            Ok(())
        } else {
            Err(Error::InvalidArgument("the keyspace was dropped".into()))
        }
    }

    /// Whether a commit after `v.snapshot` wrote a key that `ops` writes or `v` read.
    /// Called with the writer lock held, so no commit can slip in between.
    fn conflicts(&self, ops: &[OpRef<'_>], v: &Validation<'_>) -> bool {
        let checked: Vec<&OpRef<'_>> = ops
            .iter()
            .filter(|o| !v.unchecked.contains(&o.keyspace))
            .collect();
        let ops = &checked[..];
        // Commits waiting for their group sync first, then the index: a commit only
        // moves from the queue to the index, so checking in this order cannot miss it.
        // (Never hold the state lock while taking the commit lock: the sync leader takes
        // them in the other order.)
        {
            let cs = self.commit.lock();
            let mut pending = cs
                .queue
                .iter()
                .flat_map(|q| q.ops.iter().map(|(ks, k, _, _)| (*ks, &k[..])));
            if pending.any(|(pks, pk)| {
                ops.iter().any(|o| o.keyspace == pks && o.key == pk)
                    || v.reads.iter().any(|(ks, k)| *ks == pks && &k[..] == pk)
                    || v.ranges
                        .iter()
                        .any(|(ks, lo, hi)| *ks == pks && borrow_range(lo, hi).contains(pk))
            }) {
                return true;
            }
        }
        let st = self.state.read();
        let newer = |ks: u32, key: &[u8]| {
            st.keydir
                .newest_seq(ks, key)
                .is_some_and(|s| s > v.snapshot)
        };
        ops.iter().any(|o| newer(o.keyspace, o.key))
            || v.reads.iter().any(|(ks, k)| newer(*ks, k))
            || v.ranges.iter().any(|(ks, lo, hi)| {
                st.keydir
                    .changed_in_range(*ks, borrow_range(lo, hi), v.snapshot)
            })
    }

    /// Applies a synced group of commits in sequence order, under one lock acquisition.
    fn apply_group(&self, group: &[Queued]) {
        let mut st = self.state.write();
        let snaps = self.open_snapshots();
        for q in group {
            for (ks, key, entry, exp) in &q.ops {
                st.keydir.apply(*ks, key, *entry, *exp, snaps);
            }
        }
        if let Some(q) = group.last() {
            self.visible_seq.store(q.seq, Ordering::Release);
        }
    }

    fn open_snapshots(&self) -> OpenSnapshots {
        let s = self.snapshots.lock();
        OpenSnapshots {
            oldest: s.keys().next().copied(),
            newest: s.keys().next_back().copied(),
        }
    }

    fn apply(&self, seq: u64, entries: &[(u32, &[u8], Entry, u64)]) {
        let mut st = self.state.write();
        let snaps = self.open_snapshots();
        for (ks, key, entry, exp) in entries {
            st.keydir.apply(*ks, key, *entry, *exp, snaps);
        }
        self.visible_seq.store(seq, Ordering::Release);
    }

    /// Seals the active segment (synced) and starts the next one.
    fn rotate(&self, w: &mut Writer) -> Result<()> {
        if let Err(e) = w.file.sync_data() {
            self.fail();
            return Err(Error::io(format!("syncing segment {}", w.seg), e));
        }
        self.synced_to.fetch_max(w.appended, Ordering::AcqRel);
        let next = self.allocate_segment_id()?;
        let file = match segment::create(self.opts.vfs.as_ref(), &self.dir, next, w.next_seq - 1) {
            Ok(f) => f,
            Err(e) => {
                // The half-made segment may sit on disk after the sealed one; appending
                // to the old segment now would put commits behind it. Stop until reopen
                // (which removes it).
                self.fail();
                return Err(e);
            }
        };
        let start_merge = {
            let mut st = self.state.write();
            st.sealed_len.insert(w.seg, w.end);
            st.files
                .insert(next, SegFile::new(file.clone(), self.opts.segment_size));
            self.policy_wants_merge(&st)
        };
        w.file = file;
        w.seg = next;
        w.end = format::SEGMENT_HEADER_LEN as u64;
        if start_merge {
            self.start_auto_merge();
        }
        Ok(())
    }

    /// Whether the automatic merge policy calls for a merge now.
    fn policy_wants_merge(&self, st: &State) -> bool {
        self.opts.auto_merge.is_some_and(|p| {
            let total: u64 = st.sealed_len.values().sum();
            let dead = total.saturating_sub(st.keydir.live_bytes());
            dead >= p.min_dead_bytes && dead as f64 >= p.dead_ratio * total as f64
        })
    }

    /// A fresh segment number.
    fn allocate_segment_id(&self) -> Result<u32> {
        self.next_seg
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_add(1))
            .map_err(|_| Error::Internal("segment numbers exhausted".into()))
    }

    /// Starts a background merge unless one is running (or the database is closing).
    fn start_auto_merge(&self) {
        let mut slot = self.auto_merge.lock();
        if slot.as_ref().is_some_and(|h| !h.is_finished()) || self.closing.load(Ordering::Acquire) {
            return;
        }
        if let Some(done) = slot.take() {
            let _ = done.join();
        }
        let me = self.me.clone();
        *slot = std::thread::Builder::new()
            .name("katamari-merge".into())
            .spawn(move || {
                let Some(engine) = me.upgrade() else { return };
                // A merge that was running when this one was asked for may have done
                // the work already.
                drop(engine.merge_lock.lock());
                let wanted = engine.policy_wants_merge(&engine.state.read());
                if wanted && engine.merge().is_err() && !engine.closing.load(Ordering::Acquire) {
                    engine.auto_merge_failures.fetch_add(1, Ordering::Relaxed);
                }
            })
            .ok();
    }

    /// Syncs the active segment now (and, under [`SyncMode::Always`], applies the
    /// commits that were waiting for a sync, such as [`Engine::write_unsynced`] ones).
    pub fn sync(&self) -> Result<()> {
        if self.opts.sync == SyncMode::Always {
            let last = self.commit.lock().queue.back().map(|q| q.seq);
            if let Some(seq) = last {
                return self.await_group(seq).map(|_| ());
            }
        }
        let (file, target) = {
            let w = self.writer.lock();
            (w.file.clone(), w.appended)
        };
        file.sync_data().map_err(|e| {
            self.fail();
            Error::io("syncing the active segment", e)
        })?;
        self.synced_to.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// Tells a running merge to stop: the database is about to close.
    pub fn interrupt(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// Appends and syncs the end marker that tells the next open this segment was closed
    /// cleanly (so damage in it is corruption, never a torn tail).
    fn write_end_marker(&self) -> Result<()> {
        let mut w = self.writer.lock();
        let marker = format::encode_end_marker(w.next_seq - 1);
        let at = w.end;
        // Opened and closed without a write: the marker of the last close still stands.
        let mut tail = [0u8; format::BATCH_HEADER_LEN];
        if at >= (format::SEGMENT_HEADER_LEN + format::BATCH_HEADER_LEN) as u64
            && w.file
                .read_exact_at(&mut tail, at - format::BATCH_HEADER_LEN as u64)
                .is_ok()
            && tail == marker
        {
            return Ok(());
        }
        w.file
            .write_all_at(&marker, at)
            .and_then(|_| w.file.sync_data())
            .map_err(|e| {
                self.fail();
                Error::io(format!("closing segment {}", w.seg), e)
            })?;
        w.end += marker.len() as u64;
        Ok(())
    }

    fn fail(&self) {
        self.failed.store(true, Ordering::Release);
    }

    fn failed_error(&self) -> Error {
        Error::io(
            "an earlier write or sync failed; reopen the database to recover",
            io::Error::other("writer stopped"),
        )
    }

    fn check_writable(&self) -> Result<()> {
        if self.failed.load(Ordering::Acquire) {
            Err(self.failed_error())
        } else {
            Ok(())
        }
    }

    /// Registers a snapshot at the newest visible commit; release it with
    /// [`Engine::release_snapshot`].
    pub fn snapshot(&self) -> u64 {
        let _st = self.state.read();
        let seq = self.visible_seq.load(Ordering::Acquire);
        *self.snapshots.lock().entry(seq).or_default() += 1;
        seq
    }

    /// Registers one more holder of snapshot `seq`, which must be registered already
    /// (an iterator sharing its transaction's snapshot).
    pub fn retain_snapshot(&self, seq: u64) {
        *self.snapshots.lock().entry(seq).or_default() += 1;
    }

    /// The engine clock, in milliseconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        (self.opts.clock)()
    }

    /// Releases a snapshot taken with [`Engine::snapshot`] and drops the versions only it
    /// needed.
    pub fn release_snapshot(&self, seq: u64) {
        let oldest_went = {
            let mut snaps = self.snapshots.lock();
            let was_oldest = snaps.keys().next() == Some(&seq);
            if let Some(n) = snaps.get_mut(&seq) {
                *n -= 1;
                if *n == 0 {
                    snaps.remove(&seq);
                }
            }
            was_oldest || snaps.is_empty()
        };
        // Pruning walks every retained version, so do it when it can free the most: the
        // oldest snapshot went, or retained versions piled up since last time.
        if !oldest_went && !self.state.read().keydir.retained_grew() {
            return;
        }
        // Read the open snapshots under the state lock: snapshots register under it, so
        // none can appear between this list and the prune.
        let mut st = self.state.write();
        let live: Vec<u64> = self.snapshots.lock().keys().copied().collect();
        st.keydir.prune_history(&live);
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        let (active, active_len) = {
            let w = self.writer.lock();
            (w.seg, w.end)
        };
        let st = self.state.read();
        let total: u64 = st
            .sealed_len
            .iter()
            .filter(|(id, _)| **id != active)
            .map(|(_, l)| l)
            .sum::<u64>()
            + active_len;
        let live = st.keydir.live_bytes();
        Stats {
            live_keys: st.keydir.live_keys(),
            live_bytes: live,
            dead_bytes: total.saturating_sub(live),
            total_bytes: total,
            segments: st.files.len() as u64,
            keydir_bytes: st.keydir.memory_bytes(),
            last_seq: self.visible_seq.load(Ordering::Acquire),
            merges: self.merges_done.load(Ordering::Relaxed),
            merge_failures: self.auto_merge_failures.load(Ordering::Relaxed),
        }
    }

    /// Syncs, marks the active segment as cleanly closed, and releases the directory
    /// lock. A running merge stops (the next open removes its unfinished files). The
    /// engine accepts no writes afterwards.
    pub fn close(&self) -> Result<()> {
        self.closing.store(true, Ordering::Release);
        if let Some((tx, handle)) = self.syncer.lock().take() {
            drop(tx);
            let _ = handle.join();
        }
        let background = self.auto_merge.lock().take();
        if let Some(h) = background {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
        let _no_merge = self.merge_lock.lock();
        let result = if self.failed.load(Ordering::Acquire) {
            Err(self.failed_error())
        } else {
            self.sync().and_then(|_| self.write_end_marker())
        };
        self.fail();
        self.lock.lock().take();
        result
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some((tx, _)) = self.syncer.get_mut().take() {
            drop(tx);
        }
        if self.lock.get_mut().is_some() && !self.failed.load(Ordering::Acquire) {
            let _ = self.writer.get_mut().file.sync_data();
        }
    }
}

fn interval_syncer(engine: Weak<Engine>, stop: mpsc::Receiver<()>, every: Duration) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        let Some(e) = engine.upgrade() else { return };
        if !e.failed.load(Ordering::Acquire) {
            let _ = e.sync();
        }
    }
}
