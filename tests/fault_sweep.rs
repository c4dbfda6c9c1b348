//! Fault injection at every file operation of a workload.
//!
//! The engine's I/O runs on an in-memory file system ([`FaultFs`]) that fails exactly
//! one operation, the Nth of a kind, or (sticky) every operation of that kind from the
//! Nth on. The kinds:
//!
//! - `Io`: any operation (open, list, read, write, size, set_len, sync, rename, remove,
//!   lock) fails with an I/O error; a failing write lands half its bytes first;
//! - `NoSpace`: operations that allocate (write, growing set_len, file or directory
//!   creation, rename, lock) fail with `ErrorKind::StorageFull`, writes after landing
//!   half their bytes;
//! - `Fsync`: `sync_data` or `sync_dir` fails.
//!
//! For every N up to the number of such operations in a clean run, both once and
//! sticky, a workload of puts, deletes, TTL puts, batches, transactions, keyspace
//! creation and drop, bucket creation and puts (one-commit and streamed), column
//! creation and extends, reads, scans, syncs and reopens runs against the faulty file
//! system, in `SyncMode::Always` and `SyncMode::Never`. A second sweep opens databases
//! that need recovery (a torn tail to cut, a blank newest segment to remove and a new
//! segment to start, an unfinished upload to discard, a clean close) with the fault
//! injected during open. Checked:
//!
//! - nothing panics; a failing call returns `Status::Io` (or `Status::NoSpace` for a
//!   full disk), and nothing fails before the first injected fault;
//! - reads return what some possible state holds (never wrong data): keys, bucket
//!   objects (read whole, so checked against their SHA-256) and column values;
//! - after a failed fsync the writer refuses every further write until reopened;
//! - after a one-off failed append, writing continues (DURABILITY.md);
//! - reopening with a healthy file system never reports corruption and finds every
//!   acknowledged commit; a failed commit is wholly present or wholly absent, and only
//!   one whose batch fully reached the file may be present.
//!
//! Environment: `KAT_FAULT_STEPS` sets the workload length (default 40; soak with e.g.
//! 150), `KAT_SEED` the seed (decimal or 0x-hex; printed).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use katamari::engine::vfs::{LockGuard, OpenMode, VFile, Vfs};
use katamari::{
    Bucket, BucketOptions, Column, ColumnType, Db, Error, IterOptions, Keyspace, Options,
    PutOptions, Status, SyncMode, WriteBatch,
};

const SEGMENT_SIZE: u64 = 1024;
const CLOCK: u64 = 1_700_000_000_000;
const DEFAULT_STEPS: usize = 40;
const DEFAULT_SEED: u64 = 0x4641_554c_5453_5750;
const DIR: &str = "/katamari-faults/db";
const BUCKET: &[u8] = b"objects";
const COLUMN: &[u8] = b"series";
const CHUNK: usize = katamari::MIN_CHUNK_SIZE as usize;
/// The view's pseudo-keyspaces (user keyspace names cannot start with a NUL byte) for
/// the bucket (object key → content) and the column ([`COLUMN_VALUES`] → its values,
/// packed i64 LE).
const BUCKET_VIEW: &[u8] = b"\0bucket";
const COLUMN_VIEW: &[u8] = b"\0column";
const COLUMN_VALUES: &[u8] = b"values";

// ---------------------------------------------------------------------------------------
// A small deterministic random generator (SplitMix64).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
}

fn seed() -> u64 {
    match std::env::var("KAT_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("KAT_SEED={s} is not a number"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

fn steps() -> usize {
    std::env::var("KAT_FAULT_STEPS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_STEPS)
}

// ---------------------------------------------------------------------------------------
// The faulty in-memory file system.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Io,
    NoSpace,
    Fsync,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Open,
    Create,
    CreateDir,
    List,
    Rename,
    Remove,
    SyncDir,
    Lock,
    Read,
    Write,
    Size,
    SyncData,
    SetLen,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Io, Kind::NoSpace, Kind::Fsync];

    /// Whether a fault of this kind can hit `op` (`grows`: a set_len that extends).
    fn applies(self, op: Op, grows: bool) -> bool {
        match self {
            Kind::Io => true,
            Kind::NoSpace => {
                matches!(
                    op,
                    Op::Write | Op::Create | Op::CreateDir | Op::Rename | Op::Lock
                ) || (op == Op::SetLen && grows)
            }
            Kind::Fsync => matches!(op, Op::SyncData | Op::SyncDir),
        }
    }

    fn error(self) -> io::Error {
        match self {
            Kind::Io => io::Error::other("injected I/O error"),
            Kind::NoSpace => io::Error::new(io::ErrorKind::StorageFull, "injected ENOSPC"),
            Kind::Fsync => io::Error::other("injected fsync failure"),
        }
    }
}

/// Decides which operation fails and counts what happened.
struct Injector {
    kind: Kind,
    /// 1-based index, among the operations this kind applies to, of the first failure.
    at: u64,
    sticky: bool,
    seen: AtomicU64,
    injected: AtomicU64,
    /// Injected failures of `sync_data` or `sync_dir`.
    sync_failures: AtomicU64,
    /// Writes that landed whole.
    full_writes: AtomicU64,
    /// The first injected fault: operation and (for writes) offset.
    first: Mutex<Option<(Op, u64)>>,
    /// Every operation this kind applies to, with its offset (for writes).
    trace: Mutex<Vec<(Op, u64)>>,
}

impl Injector {
    fn new(kind: Kind, at: u64, sticky: bool) -> Injector {
        Injector {
            kind,
            at,
            sticky,
            seen: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            sync_failures: AtomicU64::new(0),
            full_writes: AtomicU64::new(0),
            first: Mutex::new(None),
            trace: Mutex::new(Vec::new()),
        }
    }
    /// Never fails; counts the operations each kind applies to.
    fn counting(kind: Kind) -> Injector {
        Injector::new(kind, u64::MAX, false)
    }
    fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }
    fn first(&self) -> Option<(Op, u64)> {
        *self.first.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fault(&self, op: Op, grows: bool, offset: u64) -> Option<io::Error> {
        if !self.kind.applies(op, grows) {
            return None;
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        self.trace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((op, offset));
        let hit = if self.sticky {
            n >= self.at
        } else {
            n == self.at
        };
        if !hit {
            return None;
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        if matches!(op, Op::SyncData | Op::SyncDir) {
            self.sync_failures.fetch_add(1, Ordering::SeqCst);
        }
        self.first
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert((op, offset));
        Some(self.kind.error())
    }
}

type Data = Arc<Mutex<Vec<u8>>>;
/// File name → contents, shared by every handle of the "disk".
type Files = BTreeMap<String, Vec<u8>>;

#[derive(Clone, Default)]
struct Disk(Arc<Mutex<BTreeMap<String, Data>>>);

impl Disk {
    fn from(files: &Files) -> Disk {
        let d = Disk::default();
        for (n, c) in files {
            d.lock().insert(n.clone(), Arc::new(Mutex::new(c.clone())));
        }
        d
    }
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Data>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn snapshot(&self) -> Files {
        self.lock()
            .iter()
            .map(|(n, d)| (n.clone(), lock(d).clone()))
            .collect()
    }
}

fn lock(d: &Data) -> MutexGuard<'_, Vec<u8>> {
    d.lock().unwrap_or_else(|p| p.into_inner())
}

struct FaultFs {
    disk: Disk,
    inj: Arc<Injector>,
}

struct FaultFile {
    data: Data,
    inj: Arc<Injector>,
}

struct NoLock;
impl LockGuard for NoLock {}

fn name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("file name")
        .to_owned()
}

fn check(inj: &Injector, op: Op) -> io::Result<()> {
    inj.fault(op, false, 0).map_or(Ok(()), Err)
}

impl VFile for FaultFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        check(&self.inj, Op::Read)?;
        let d = lock(&self.data);
        let start = offset as usize;
        let src = d
            .get(start..start + buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        let fault = self.inj.fault(Op::Write, false, offset);
        let landed = if fault.is_some() {
            &data[..data.len() / 2]
        } else {
            data
        };
        {
            let mut d = lock(&self.data);
            let (off, end) = (offset as usize, offset as usize + landed.len());
            if d.len() < end {
                d.resize(end, 0);
            }
            d[off..end].copy_from_slice(landed);
        }
        match fault {
            Some(e) => Err(e),
            None => {
                self.inj.full_writes.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    }
    fn size(&self) -> io::Result<u64> {
        check(&self.inj, Op::Size)?;
        Ok(lock(&self.data).len() as u64)
    }
    fn sync_data(&self) -> io::Result<()> {
        check(&self.inj, Op::SyncData)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut d = lock(&self.data);
        if let Some(e) = self.inj.fault(Op::SetLen, len > d.len() as u64, len) {
            return Err(e);
        }
        d.resize(len as usize, 0);
        Ok(())
    }
}

impl Vfs for FaultFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VFile>> {
        let op = if mode == OpenMode::CreateNew {
            Op::Create
        } else {
            Op::Open
        };
        check(&self.inj, op)?;
        let mut files = self.disk.lock();
        let n = name(path);
        let data = match (mode, files.get(&n)) {
            (OpenMode::CreateNew, Some(_)) => return Err(io::ErrorKind::AlreadyExists.into()),
            (OpenMode::CreateNew, None) => {
                let d: Data = Arc::default();
                files.insert(n, d.clone());
                d
            }
            (_, Some(d)) => d.clone(),
            (_, None) => return Err(io::ErrorKind::NotFound.into()),
        };
        Ok(Arc::new(FaultFile {
            data,
            inj: self.inj.clone(),
        }))
    }
    fn create_dir(&self, _path: &Path) -> io::Result<()> {
        check(&self.inj, Op::CreateDir)
    }
    fn list(&self, _path: &Path) -> io::Result<Vec<String>> {
        check(&self.inj, Op::List)?;
        Ok(self.disk.lock().keys().cloned().collect())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        check(&self.inj, Op::Rename)?;
        let mut files = self.disk.lock();
        let d = files.remove(&name(from)).ok_or(io::ErrorKind::NotFound)?;
        files.insert(name(to), d);
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        check(&self.inj, Op::Remove)?;
        self.disk
            .lock()
            .remove(&name(path))
            .map(drop)
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        check(&self.inj, Op::SyncDir)
    }
    fn lock(&self, _path: &Path) -> io::Result<Box<dyn LockGuard>> {
        check(&self.inj, Op::Lock)?;
        Ok(Box::new(NoLock))
    }
}

fn options(mode: SyncMode, disk: &Disk, inj: &Arc<Injector>) -> Options {
    Options::default()
        .sync(mode)
        .segment_size(SEGMENT_SIZE)
        .clock(|| CLOCK)
        .vfs(Arc::new(FaultFs {
            disk: disk.clone(),
            inj: inj.clone(),
        }))
}

fn healthy(mode: SyncMode, disk: &Disk) -> Options {
    options(mode, disk, &Arc::new(Injector::counting(Kind::Io)))
}

// ---------------------------------------------------------------------------------------
// The model: the states the database may be in.

/// Keyspace (`None`: the default one) → key → value; the bucket and the column appear
/// as the pseudo-keyspaces [`BUCKET_VIEW`] and [`COLUMN_VIEW`] once they exist.
type View = BTreeMap<Option<Vec<u8>>, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Every state the database may hold: acknowledged commits are in all of them; a failed
/// commit whose batch may have reached the file doubles them.
#[derive(Clone)]
struct Possible(Vec<View>);

impl Possible {
    fn new(v: View) -> Possible {
        Possible(vec![v])
    }
    fn acked(&mut self, f: &dyn Fn(&mut View)) {
        self.0.iter_mut().for_each(f);
        self.dedup();
    }
    fn maybe(&mut self, f: &dyn Fn(&mut View)) {
        let mut with: Vec<View> = self.0.clone();
        with.iter_mut().for_each(f);
        self.0.extend(with);
        self.dedup();
    }
    fn dedup(&mut self) {
        let set: BTreeSet<View> = self.0.drain(..).collect();
        self.0 = set.into_iter().collect();
    }
    fn contains(&self, v: &View) -> bool {
        self.0.contains(v)
    }
}

fn empty_view() -> View {
    View::from([(None, BTreeMap::new())])
}

fn bucket_options() -> BucketOptions {
    BucketOptions::default()
        .versioning(false)
        .chunk_size(katamari::MIN_CHUNK_SIZE)
}

fn read_view(db: &Db) -> katamari::Result<View> {
    let mut view = View::new();
    let all = IterOptions::default();
    view.insert(None, db.iter(&all)?.collect::<katamari::Result<_>>()?);
    for name in db.keyspaces()? {
        let ks = db.keyspace(&name)?;
        view.insert(Some(name), ks.iter(&all)?.collect::<katamari::Result<_>>()?);
    }
    if db.buckets()?.iter().any(|b| b == BUCKET) {
        // Opening a bucket whose creation was cut short finishes it (a write).
        let b = db.bucket(BUCKET, &bucket_options())?;
        let mut objects = BTreeMap::new();
        for info in b.list(b"", None, 0)? {
            // A whole read checks the content against its SHA-256.
            let Some((_, data)) = b.get(&info.key)? else {
                return Err(Error::Corruption(format!(
                    "object {} is listed but has no content",
                    String::from_utf8_lossy(&info.key)
                )));
            };
            objects.insert(info.key, data);
        }
        view.insert(Some(BUCKET_VIEW.to_vec()), objects);
    }
    if let Some(c) = db.columns()?.into_iter().find(|c| c.name == COLUMN) {
        let values = if c.len == 0 {
            Vec::new()
        } else {
            db.column(COLUMN)?.range_i64(0, c.len)?
        };
        view.insert(
            Some(COLUMN_VIEW.to_vec()),
            BTreeMap::from([(COLUMN_VALUES.to_vec(), packed(&values))]),
        );
    }
    Ok(view)
}

fn packed(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 * values.len());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

// ---------------------------------------------------------------------------------------
// The workload.

/// A write: the value length, or `None` for a delete.
type Wr = (Vec<u8>, Option<usize>);

/// One step. Adding an operation (say `Merge`) takes a variant here, an arm in
/// [`Run::step`] and a line in [`workload`].
#[derive(Clone, Debug)]
enum Step {
    Put(Vec<u8>, usize),
    Delete(Vec<u8>),
    PutTtl(Vec<u8>, usize),
    Batch(Vec<Wr>),
    Txn(Vec<Wr>),
    CreateKeyspace(&'static [u8]),
    KsPut(&'static [u8], Vec<u8>, usize),
    DropKeyspace(&'static [u8]),
    /// Creates the bucket (a commit for its catalog, then one per keyspace).
    CreateBucket,
    /// `Bucket::put` of this many bytes: one commit up to a chunk, a streamed upload
    /// above (upload record, a commit per chunk, then the commit that shows it).
    BucketPut(Vec<u8>, usize),
    CreateColumn,
    /// Appends this many values to the column in one commit.
    ColumnExtend(usize),
    Get(Vec<u8>),
    Scan,
    Sync,
    Reopen,
    /// Compaction (changes no contents).
    Merge,
}

const SPACES: [&[u8]; 2] = [b"ks-a", b"ks-b"];

fn workload(seed: u64, n: usize) -> Vec<Step> {
    let mut rng = Rng(seed);
    let key = |rng: &mut Rng| format!("k{}", rng.below(10)).into_bytes();
    let len = |rng: &mut Rng| {
        if rng.below(12) == 0 {
            rng.range(900, 1500)
        } else {
            rng.range(1, 300)
        }
    };
    let wr = |rng: &mut Rng| {
        let k = key(rng);
        (k, (rng.below(4) != 0).then(|| len(rng)))
    };
    let mut steps = vec![Step::CreateKeyspace(SPACES[0])];
    for i in 1..n {
        let step = if i == n / 3 || i == 2 * n / 3 {
            Step::Reopen
        } else if i == n / 2 {
            Step::CreateKeyspace(SPACES[1])
        } else if i == n - 3 {
            Step::DropKeyspace(SPACES[0])
        } else if i == 2 {
            Step::CreateBucket
        } else if i == 4 {
            Step::CreateColumn
        } else if i == 6 || i == n / 2 + 2 {
            // Streamed (two chunks), then one commit replacing it.
            let len = if i == 6 {
                CHUNK + 300
            } else {
                rng.range(1, 600)
            };
            Step::BucketPut(format!("obj{}", i % 2).into_bytes(), len)
        } else if i == 8 || i == n - 5 {
            // Past a 4 KiB chunk of 512 values, then a few more.
            Step::ColumnExtend(if i == 8 { 520 } else { rng.range(1, 40) })
        } else {
            match rng.below(20) {
                0..=5 => Step::Put(key(&mut rng), len(&mut rng)),
                6 => Step::Delete(key(&mut rng)),
                7 => Step::PutTtl(key(&mut rng), len(&mut rng)),
                8..=9 => Step::Batch((0..rng.range(2, 5)).map(|_| wr(&mut rng)).collect()),
                10..=11 => Step::Txn((0..rng.range(1, 4)).map(|_| wr(&mut rng)).collect()),
                12..=13 => Step::KsPut(SPACES[rng.below(2)], key(&mut rng), len(&mut rng)),
                14..=15 => Step::Get(key(&mut rng)),
                16 => Step::Scan,
                17 => Step::Sync,
                18 => Step::Merge,
                _ => Step::Put(key(&mut rng), len(&mut rng)),
            }
        };
        steps.push(step);
    }
    steps
}

fn value(step: usize, key: &[u8], len: usize) -> Vec<u8> {
    let mut v = format!("{step}:{}:", String::from_utf8_lossy(key)).into_bytes();
    v.resize(len.max(v.len()), b'a' + (step % 26) as u8);
    v.truncate(len);
    v
}

fn apply_wr(view: &mut View, space: Option<&[u8]>, key: &[u8], val: Option<&[u8]>) {
    let Some(kv) = view.get_mut(&space.map(<[u8]>::to_vec)) else {
        return;
    };
    match val {
        Some(v) => kv.insert(key.to_vec(), v.to_vec()),
        None => kv.remove(key),
    };
}

/// What one faulty run found.
#[derive(Default)]
struct Outcome {
    /// The first broken rule, for grouping.
    class: String,
    violations: Vec<String>,
    /// After a one-off fault in this run: the operation it hit, whether a later write on
    /// the same open database succeeded, and whether any was tried.
    once: Option<(Op, bool, bool)>,
    open_failed: bool,
}

struct Run {
    mode: SyncMode,
    kind: Kind,
    sticky: bool,
    disk: Disk,
    inj: Arc<Injector>,
    db: Option<Db>,
    handles: BTreeMap<Vec<u8>, Keyspace>,
    bucket: Option<Bucket>,
    column: Option<Column>,
    possible: Possible,
    /// Injected sync failures when the current database opened.
    sync_baseline: u64,
    /// The last commit failed from a one-off failed append: the next must succeed.
    expect_resume: bool,
    /// Counts opens; `once_epoch` is the open during which the one-off fault hit.
    epoch: u64,
    once_epoch: u64,
    out: Outcome,
}

impl Run {
    /// Records a broken rule: `class` names it (for grouping), `msg` tells the details.
    fn violation(&mut self, class: &str, msg: String) {
        if self.out.class.is_empty() {
            self.out.class = class.to_owned();
        }
        if self.out.violations.len() < 4 {
            self.out.violations.push(msg);
        }
    }

    /// A failure must come from an injected fault and carry a sensible status.
    fn check_error(&mut self, what: &str, e: &Error) {
        if self.inj.injected() == 0 {
            self.violation(
                "failed with no fault injected",
                format!("{what} failed with no fault injected: {e}"),
            );
            return;
        }
        let ok = match e.status() {
            Status::Io => true,
            Status::NoSpace => self.kind == Kind::NoSpace,
            _ => false,
        };
        if !ok {
            let class = format!("{what} failed with status {:?}", e.status());
            self.violation(
                &class,
                format!(
                    "{what} failed with status {:?} for a {:?} fault: {e}",
                    e.status(),
                    self.kind
                ),
            );
        }
    }

    fn open(&mut self) {
        for attempt in 0..2 {
            match Db::open(DIR, options(self.mode, &self.disk, &self.inj)) {
                Ok(db) => {
                    self.epoch += 1;
                    self.sync_baseline = self.inj.sync_failures.load(Ordering::SeqCst);
                    self.expect_resume = false;
                    self.handles.clear();
                    match db.keyspaces() {
                        Ok(names) => {
                            for n in names {
                                match db.keyspace(&n) {
                                    Ok(ks) => {
                                        self.handles.insert(n, ks);
                                    }
                                    Err(e) => self.check_error("opening a keyspace", &e),
                                }
                            }
                        }
                        Err(e) => self.check_error("listing keyspaces", &e),
                    }
                    self.open_bucket_and_column(&db);
                    // What the reopened database holds narrows the possible states.
                    match read_view(&db) {
                        Ok(v) if self.possible.contains(&v) => self.possible = Possible::new(v),
                        Ok(v) => self.violation(
                            "reopened into an impossible state",
                            format!(
                                "reopened (attempt {attempt}) into a state no sequence of \
                                 commits explains: {v:?}"
                            ),
                        ),
                        Err(e) => self.check_error("reading after open", &e),
                    }
                    self.db = Some(db);
                    return;
                }
                Err(e) => self.check_error("open", &e),
            }
        }
        self.out.open_failed = true;
    }

    /// Opens the bucket and the column if they exist (the bucket's creation may have been
    /// cut short: opening it finishes it).
    fn open_bucket_and_column(&mut self, db: &Db) {
        self.bucket = None;
        self.column = None;
        match db.buckets() {
            Ok(names) if names.iter().any(|n| n == BUCKET) => {
                match db.bucket(BUCKET, &bucket_options()) {
                    Ok(b) => self.bucket = Some(b),
                    Err(e) => self.check_error("opening the bucket", &e),
                }
            }
            Ok(_) => {}
            Err(e) => self.check_error("listing buckets", &e),
        }
        match db.columns() {
            Ok(cols) if cols.iter().any(|c| c.name == COLUMN) => match db.column(COLUMN) {
                Ok(c) => self.column = Some(c),
                Err(e) => self.check_error("opening the column", &e),
            },
            Ok(_) => {}
            Err(e) => self.check_error("listing columns", &e),
        }
    }

    fn close(&mut self) {
        if let Some(db) = self.db.take() {
            self.handles.clear();
            self.bucket = None;
            self.column = None;
            if let Err(e) = db.close() {
                self.check_error("close", &e);
            }
        }
    }

    /// Runs a commit `f` whose effect on the model is `effect`.
    fn commit(
        &mut self,
        what: &str,
        f: impl FnOnce(&Db, &BTreeMap<Vec<u8>, Keyspace>) -> katamari::Result<()>,
        effect: &dyn Fn(&mut View),
    ) -> bool {
        let Some(db) = self.db.clone() else {
            return false;
        };
        let writes = self.inj.full_writes.load(Ordering::SeqCst);
        let injected = self.inj.injected();
        let stopped = self.inj.sync_failures.load(Ordering::SeqCst) > self.sync_baseline;
        let r = f(&db, &self.handles);
        if let Some((_, resumed, tried)) = &mut self.out.once {
            if self.once_epoch == self.epoch {
                *tried = true;
                *resumed |= r.is_ok();
            }
        }
        if injected == 0 && self.inj.injected() > 0 && !self.sticky {
            // The one-off fault hit during this commit: remember what it hit.
            let (op, offset) = self.inj.first().expect("recorded");
            self.out.once = Some((op, false, false));
            self.once_epoch = self.epoch;
            // A batch append (not a segment header at offset 0) that failed and was cut
            // off: the writer must carry on.
            self.expect_resume = op == Op::Write && offset > 0 && r.is_err();
        } else if let Err(e) = &r {
            if std::mem::take(&mut self.expect_resume) {
                self.violation(
                    "writing did not resume after a cut-off append",
                    format!(
                        "{what} failed after a one-off failed append was cut off \
                         (DURABILITY.md: later writes continue): {e}"
                    ),
                );
            }
        } else {
            self.expect_resume = false;
        }
        match r {
            Ok(()) => {
                if stopped {
                    self.violation(
                        "a write was acknowledged after a failed fsync",
                        format!("{what} was acknowledged after a failed fsync, before reopening"),
                    );
                }
                self.possible.acked(effect);
                true
            }
            Err(e) => {
                self.check_error(what, &e);
                if self.inj.full_writes.load(Ordering::SeqCst) > writes {
                    self.possible.maybe(effect);
                }
                false
            }
        }
    }

    fn step(&mut self, i: usize, step: &Step) {
        match step {
            Step::Put(k, n) => {
                let v = value(i, k, *n);
                self.commit("put", |db, _| db.put(k, &v), &|m| {
                    apply_wr(m, None, k, Some(&v))
                });
            }
            Step::PutTtl(k, n) => {
                let v = value(i, k, *n);
                let ttl = Duration::from_secs(3600);
                self.commit("put with ttl", |db, _| db.put_with_ttl(k, &v, ttl), &|m| {
                    apply_wr(m, None, k, Some(&v))
                });
            }
            Step::Delete(k) => {
                self.commit("delete", |db, _| db.delete(k), &|m| {
                    apply_wr(m, None, k, None)
                });
            }
            Step::Batch(ws) | Step::Txn(ws) => {
                let vals: Vec<(Vec<u8>, Option<Vec<u8>>)> = ws
                    .iter()
                    .map(|(k, n)| (k.clone(), n.map(|n| value(i, k, n))))
                    .collect();
                let effect = |m: &mut View| {
                    for (k, v) in &vals {
                        apply_wr(m, None, k, v.as_deref());
                    }
                };
                if matches!(step, Step::Batch(_)) {
                    let mut b = WriteBatch::new();
                    for (k, v) in &vals {
                        match v {
                            Some(v) => b.put(k, v),
                            None => b.delete(k),
                        }
                        .expect("batch op");
                    }
                    self.commit("write batch", |db, _| db.write(&b), &effect);
                } else {
                    self.commit(
                        "transaction",
                        |db, _| {
                            let mut t = db.begin()?;
                            for (k, v) in &vals {
                                t.get(k)?;
                                match v {
                                    Some(v) => t.put(k, v)?,
                                    None => t.delete(k)?,
                                }
                            }
                            t.commit().map(drop)
                        },
                        &effect,
                    );
                }
            }
            Step::CreateKeyspace(name) => {
                if self.handles.contains_key(*name) {
                    return;
                }
                let mut made = None;
                let ok = self.commit(
                    "keyspace creation",
                    |db, _| {
                        made = Some(db.keyspace(name)?);
                        Ok(())
                    },
                    &|m| {
                        m.entry(Some(name.to_vec())).or_default();
                    },
                );
                if let (true, Some(ks)) = (ok, made) {
                    self.handles.insert(name.to_vec(), ks);
                }
            }
            Step::KsPut(name, k, n) => {
                if !self.handles.contains_key(*name) {
                    return;
                }
                let v = value(i, k, *n);
                self.commit("keyspace put", |_, h| h[*name].put(k, &v), &|m| {
                    apply_wr(m, Some(name), k, Some(&v))
                });
            }
            Step::DropKeyspace(name) => {
                if !self.handles.contains_key(*name) {
                    return;
                }
                let ok = self.commit("keyspace drop", |db, _| db.drop_keyspace(name), &|m| {
                    m.remove(&Some(name.to_vec()));
                });
                if ok {
                    self.handles.remove(*name);
                }
            }
            Step::CreateBucket => {
                if self.bucket.is_some() {
                    return;
                }
                let mut made = None;
                let ok = self.commit(
                    "bucket creation",
                    |db, _| {
                        made = Some(db.bucket(BUCKET, &bucket_options())?);
                        Ok(())
                    },
                    &|m| {
                        m.entry(Some(BUCKET_VIEW.to_vec())).or_default();
                    },
                );
                if ok {
                    self.bucket = made;
                }
            }
            Step::BucketPut(k, n) => {
                let Some(b) = self.bucket.clone() else { return };
                let v = value(i, k, *n);
                self.commit(
                    "bucket put",
                    |_, _| b.put(k, &v, &PutOptions::default()).map(drop),
                    &|m| apply_wr(m, Some(BUCKET_VIEW), k, Some(&v)),
                );
            }
            Step::CreateColumn => {
                if self.column.is_some() {
                    return;
                }
                let mut made = None;
                let ok = self.commit(
                    "column creation",
                    |db, _| {
                        made = Some(db.create_column(COLUMN, ColumnType::I64)?);
                        Ok(())
                    },
                    &|m| {
                        m.entry(Some(COLUMN_VIEW.to_vec()))
                            .or_default()
                            .entry(COLUMN_VALUES.to_vec())
                            .or_default();
                    },
                );
                if ok {
                    self.column = made;
                }
            }
            Step::ColumnExtend(n) => {
                let Some(c) = self.column.clone() else { return };
                let values: Vec<i64> = (0..*n as i64).map(|j| (i as i64) << 20 | j).collect();
                self.commit(
                    "column extend",
                    |_, _| c.extend_i64(&values).map(drop),
                    // Appended at whatever length the column has in each possible state.
                    &|m| {
                        if let Some(col) = m.get_mut(&Some(COLUMN_VIEW.to_vec())) {
                            col.entry(COLUMN_VALUES.to_vec())
                                .or_default()
                                .extend(packed(&values));
                        }
                    },
                );
            }
            Step::Get(k) => {
                let Some(db) = self.db.clone() else { return };
                match db.get(k) {
                    Ok(got) => {
                        let fits = self
                            .possible
                            .0
                            .iter()
                            .any(|v| v[&None].get(k) == got.as_ref());
                        if !fits {
                            self.violation(
                                "get returned data no possible state holds",
                                format!(
                                    "get {} returned {:?}, which no possible state holds",
                                    String::from_utf8_lossy(k),
                                    got.map(|g| String::from_utf8_lossy(&g).into_owned())
                                ),
                            );
                        }
                    }
                    Err(e) => self.check_error("get", &e),
                }
            }
            Step::Scan => {
                let Some(db) = self.db.clone() else { return };
                match read_view(&db) {
                    Ok(v) if self.possible.contains(&v) => {}
                    Ok(v) => self.violation(
                        "scan saw an impossible state",
                        format!("scan saw an impossible state: {v:?}"),
                    ),
                    Err(e) => self.check_error("scan", &e),
                }
            }
            Step::Sync => {
                let Some(db) = self.db.clone() else { return };
                if let Err(e) = db.sync() {
                    self.check_error("sync", &e);
                }
            }
            Step::Reopen => {
                self.close();
                self.open();
            }
            Step::Merge => {
                let Some(db) = self.db.clone() else { return };
                if let Err(e) = db.merge() {
                    self.check_error("merge", &e);
                }
            }
        }
    }

    /// Reopens with a healthy file system: opens, holds a possible state, takes writes.
    fn verify_on_healthy_disk(&mut self) {
        self.close();
        let db = match Db::open(DIR, healthy(self.mode, &self.disk)) {
            Ok(db) => db,
            Err(e) => {
                let class = format!("reopening on a healthy disk failed ({:?})", e.status());
                self.violation(&class, format!("{class}: {e}"));
                return;
            }
        };
        match read_view(&db) {
            Ok(v) if self.possible.contains(&v) => {}
            Ok(v) => self.violation(
                "reopened state loses an acknowledged commit or half-applies a failed one",
                format!(
                    "after reopening, the database holds a state that loses an acknowledged \
                     commit or half-applies a failed one: {v:?}\n    possible: {:?}",
                    self.possible.0
                ),
            ),
            Err(e) => self.violation(
                "reading after a healthy reopen failed",
                format!("reading after reopening: {e}"),
            ),
        }
        if let Err(e) = db.put(b"after-reopen", b"ok").and_then(|_| db.close()) {
            self.violation(
                "writing after a healthy reopen failed",
                format!("writing after reopening on a healthy disk: {e}"),
            );
        }
    }
}

/// Runs `steps` from an empty directory with a fault; returns what it found.
fn run_workload(mode: SyncMode, steps: &[Step], inj: Arc<Injector>, sticky: bool) -> Outcome {
    let mut run = Run {
        mode,
        kind: inj.kind,
        sticky,
        disk: Disk::default(),
        inj,
        db: None,
        handles: BTreeMap::new(),
        bucket: None,
        column: None,
        possible: Possible::new(empty_view()),
        sync_baseline: 0,
        expect_resume: false,
        epoch: 0,
        once_epoch: 0,
        out: Outcome::default(),
    };
    run.open();
    for (i, step) in steps.iter().enumerate() {
        run.step(i, step);
    }
    run.verify_on_healthy_disk();
    run.out
}

#[derive(Default)]
struct Totals {
    runs: usize,
    /// Runs in which at least one fault was injected.
    faulted: usize,
    /// Failing operations in all runs.
    injected: u64,
    /// Violations by kind: runs, and the first example.
    violations: BTreeMap<String, (usize, String)>,
    violating_runs: usize,
    /// One-off faults by operation hit: (runs, runs in which a later write succeeded,
    /// runs in which later writes were tried and all failed).
    once: BTreeMap<Op, (usize, usize, usize)>,
    open_failed: usize,
}

impl Totals {
    fn add(&mut self, what: String, inj: &Injector, out: Outcome) {
        self.runs += 1;
        let n = inj.injected();
        self.injected += n;
        if n > 0 {
            self.faulted += 1;
        }
        self.open_failed += usize::from(out.open_failed);
        if let Some((op, resumed, tried)) = out.once {
            let e = self.once.entry(op).or_default();
            e.0 += 1;
            e.1 += usize::from(resumed);
            e.2 += usize::from(tried && !resumed);
        }
        if !out.violations.is_empty() {
            let hit = match inj.first() {
                Some((Op::Write, 0)) => "a write at offset 0 (segment header)".into(),
                Some((op, _)) => format!("{op:?}"),
                None => "nothing".into(),
            };
            self.violating_runs += 1;
            // Group by what the fault hit and the first broken rule.
            let kind = format!(
                "{:?} {} fault hitting {hit}: {}",
                inj.kind,
                if inj.sticky { "sticky" } else { "one-off" },
                out.class
            );
            let e = self.violations.entry(kind).or_insert((0, String::new()));
            e.0 += 1;
            if e.1.is_empty() {
                e.1 = format!("{what}:\n        {}", out.violations.join("\n        "));
            }
        }
    }

    fn report(&self, name: &str, seed: u64, started: Instant) {
        println!(
            "{name}: seed {seed:#x}: {} runs, {} with faults injected, {} failing operations \
             injected, {} runs where the database could not be opened, in {:.1?}",
            self.runs,
            self.faulted,
            self.injected,
            self.open_failed,
            started.elapsed()
        );
        for (op, (runs, resumed, stuck)) in &self.once {
            println!(
                "  one-off fault during a commit, on {op:?}: {runs} runs; later writes on the \
                 same open database: resumed in {resumed}, all failed in {stuck}"
            );
        }
        let kinds: Vec<String> = self
            .violations
            .iter()
            .map(|(kind, (n, example))| format!("{n} x {kind}\n      e.g. {example}"))
            .collect();
        assert!(
            self.violating_runs == 0,
            "{name}: {} of {} runs broke the contract (seed {seed:#x}):\n  {}",
            self.violating_runs,
            self.runs,
            kinds.join("\n  ")
        );
        assert!(self.faulted > 0, "no fault was ever injected");
    }
}

fn sweep_workload(mode: SyncMode) {
    let seed = seed();
    let started = Instant::now();
    let steps = workload(seed, steps());
    let mut totals = Totals::default();
    for kind in Kind::ALL {
        // A clean run counts the operations this kind can hit.
        let counter = Arc::new(Injector::counting(kind));
        let clean = run_workload(mode, &steps, counter.clone(), false);
        assert!(
            clean.violations.is_empty(),
            "the workload fails without faults: {:?}",
            clean.violations
        );
        let total = counter.seen.load(Ordering::SeqCst);
        assert!(total > 0, "{kind:?}: no operation to fail");
        for at in 1..=total {
            for sticky in [false, true] {
                let inj = Arc::new(Injector::new(kind, at, sticky));
                let what = format!(
                    "{mode:?}, {kind:?} fault at operation {at} of {total}{}",
                    if sticky { " and after" } else { " only" }
                );
                let out = catch_unwind(AssertUnwindSafe(|| {
                    run_workload(mode, &steps, inj.clone(), sticky)
                }))
                .unwrap_or_else(|p| Outcome {
                    class: "panic".into(),
                    violations: vec![format!("panicked: {}", panic_text(&p))],
                    ..Outcome::default()
                });
                totals.add(what, &inj, out);
            }
        }
    }
    totals.report(&format!("fault sweep {mode:?}"), seed, started);
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

#[test]
fn fault_sweep_sync_always() {
    sweep_workload(SyncMode::Always);
}

#[test]
fn fault_sweep_sync_never() {
    sweep_workload(SyncMode::Never);
}

// ---------------------------------------------------------------------------------------
// Faults during open and recovery.

/// A directory that needs recovery, and what it holds once recovered.
struct Damaged {
    name: &'static str,
    files: Files,
    view: View,
}

/// Commits `n` puts (values of `len` bytes) on a healthy disk; returns the disk and view.
fn filled(mode: SyncMode, n: usize, len: usize, close: bool) -> (Disk, Db, View) {
    let disk = Disk::default();
    let db = Db::open(DIR, healthy(mode, &disk)).expect("open");
    let ks = db.keyspace(b"ks").expect("keyspace");
    let mut view = empty_view();
    view.insert(Some(b"ks".to_vec()), BTreeMap::new());
    for i in 0..n {
        let k = format!("k{}", i % 7).into_bytes();
        let v = value(i, &k, len);
        if i % 3 == 0 {
            ks.put(&k, &v).expect("put");
            apply_wr(&mut view, Some(b"ks"), &k, Some(&v));
        } else {
            db.put(&k, &v).expect("put");
            apply_wr(&mut view, None, &k, Some(&v));
        }
    }
    if close {
        db.close().expect("close");
    }
    (disk, db, view)
}

fn segments(files: &Files) -> Vec<String> {
    files
        .keys()
        .filter(|n| n.ends_with(".kseg"))
        .cloned()
        .collect()
}

fn next_segment_name(files: &Files) -> String {
    let last = segments(files).pop().expect("a segment");
    let n: u32 = last.trim_end_matches(".kseg").parse().expect("numbered");
    format!("{:010}.kseg", n + 1)
}

fn damaged_states() -> Vec<Damaged> {
    let mut out = Vec::new();

    // A process crash in the middle of appending the last batch: a torn tail to cut.
    let (disk, db, view) = filled(SyncMode::Never, 20, 120, false);
    let before = disk.snapshot();
    db.put(b"torn", &[b't'; 200]).expect("put");
    let mut files = disk.snapshot();
    drop(db);
    let last = segments(&files).pop().expect("a segment");
    // The batch went to the end of the last segment, or to a new one after its header.
    let start = before.get(&last).map_or(40, Vec::len);
    files.get_mut(&last).expect("segment").truncate(start + 100);
    out.push(Damaged {
        name: "torn tail",
        files,
        view,
    });

    // A crash right after creating the next segment (an empty file): recovery removes
    // it and appends to the last segment again.
    let (disk, db, view) = filled(SyncMode::Always, 12, 100, false);
    let mut files = disk.snapshot();
    drop(db);
    files.insert(next_segment_name(&files), Vec::new());
    out.push(Damaged {
        name: "blank newest segment",
        files,
        view,
    });

    // The same after a segment filled past the size limit (a value larger than a
    // segment gets one of its own): recovery also starts a new segment.
    let (disk, db, view) = filled(SyncMode::Always, 6, 1200, false);
    let mut files = disk.snapshot();
    drop(db);
    assert!(files[&segments(&files).pop().expect("segment")].len() as u64 >= SEGMENT_SIZE);
    files.insert(next_segment_name(&files), Vec::new());
    out.push(Damaged {
        name: "blank newest segment after a full one",
        files,
        view,
    });

    // A process crash during a streamed upload: its upload record and two chunks are in
    // the log, and the open discards them (one commit) before anything else.
    let (disk, db, mut view) = filled(SyncMode::Never, 8, 100, false);
    let b = db.bucket(BUCKET, &bucket_options()).expect("bucket");
    let kept = value(99, b"kept", 300);
    b.put(b"kept", &kept, &PutOptions::default())
        .expect("bucket put");
    let mut w = b.writer(b"lost", &PutOptions::default()).expect("writer");
    w.write(&[b'u'; 2 * CHUNK + 100]).expect("upload write");
    let files = disk.snapshot();
    // Forgotten, not dropped (which would abort the upload), as the crash left it.
    std::mem::forget(w);
    view.insert(
        Some(BUCKET_VIEW.to_vec()),
        BTreeMap::from([(b"kept".to_vec(), kept)]),
    );
    out.push(Damaged {
        name: "unfinished upload",
        files,
        view,
    });

    // A clean close: nothing to repair, everything to read.
    let (disk, _, view) = filled(SyncMode::Always, 30, 80, true);
    out.push(Damaged {
        name: "clean close",
        files: disk.snapshot(),
        view,
    });
    out
}

/// Opens `d` with the fault, writes once if it opened, then checks a healthy reopen.
fn run_recovery(d: &Damaged, inj: Arc<Injector>, sticky: bool) -> Outcome {
    let mut run = Run {
        mode: SyncMode::Always,
        kind: inj.kind,
        sticky,
        disk: Disk::from(&d.files),
        inj,
        db: None,
        handles: BTreeMap::new(),
        bucket: None,
        column: None,
        possible: Possible::new(d.view.clone()),
        sync_baseline: 0,
        expect_resume: false,
        epoch: 0,
        once_epoch: 0,
        out: Outcome::default(),
    };
    run.open();
    run.step(0, &Step::Put(b"after-recovery".to_vec(), 50));
    run.step(1, &Step::Get(b"k1".to_vec()));
    run.verify_on_healthy_disk();
    run.out
}

#[test]
fn faults_during_open_and_recovery() {
    let seed = seed();
    let started = Instant::now();
    let mut totals = Totals::default();
    for d in damaged_states() {
        // Each damaged state opens on a healthy disk into its expected contents.
        let clean = run_recovery(&d, Arc::new(Injector::counting(Kind::Io)), false);
        assert!(
            clean.violations.is_empty(),
            "{}: {:?}",
            d.name,
            clean.violations
        );
        for kind in Kind::ALL {
            let counter = Arc::new(Injector::counting(kind));
            run_recovery(&d, counter.clone(), false);
            let total = counter.seen.load(Ordering::SeqCst);
            for at in 1..=total {
                for sticky in [false, true] {
                    let inj = Arc::new(Injector::new(kind, at, sticky));
                    let what = format!(
                        "{}: {kind:?} fault at operation {at} of {total}{}",
                        d.name,
                        if sticky { " and after" } else { " only" }
                    );
                    let out =
                        catch_unwind(AssertUnwindSafe(|| run_recovery(&d, inj.clone(), sticky)))
                            .unwrap_or_else(|p| Outcome {
                                class: "panic".into(),
                                violations: vec![format!("panicked: {}", panic_text(&p))],
                                ..Outcome::default()
                            });
                    totals.add(what, &inj, out);
                }
            }
        }
    }
    totals.report("faults during open and recovery", seed, started);
}

// ---------------------------------------------------------------------------------------
// Minimal cases of what the sweep found.

/// A small script for the minimal cases: open, three puts of 900 bytes into 1 KiB
/// segments (so the second and third each start a new segment), close. Returns the
/// outcome of each put.
fn three_puts(mode: SyncMode, disk: &Disk, inj: &Arc<Injector>) -> Vec<katamari::Result<()>> {
    let db = Db::open(DIR, options(mode, disk, inj)).expect("open");
    let r: Vec<_> = [b"a", b"b", b"c"]
        .iter()
        .map(|k| db.put(*k, &[k[0]; 900]))
        .collect();
    let _ = db.close();
    r
}

/// The 1-based index, among the operations `kind` applies to, of the `nth` (0-based)
/// operation `op` at `offset` in a clean run of [`three_puts`].
fn index_of(kind: Kind, op: Op, offset: u64, nth: usize) -> u64 {
    let counter = Arc::new(Injector::counting(kind));
    three_puts(SyncMode::Always, &Disk::default(), &counter);
    let trace = counter.trace.lock().unwrap_or_else(|p| p.into_inner());
    let i = trace
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == (op, offset))
        .nth(nth)
        .expect("operation in the trace")
        .0;
    i as u64 + 1
}

/// A one-off ENOSPC while writing the header of a new segment (rotation) must not leave
/// the directory unopenable. The engine keeps the half-written file (20 bytes) and, as
/// the next rotation takes the next segment number, appends after it; the next open
/// then finds a short segment that is not the newest and reports corruption, on a
/// healthy disk, for good.
#[test]
fn failed_segment_header_write_leaves_a_database_that_opens() {
    // Header writes: segment 1 at open, segment 2 at the second put.
    let at = index_of(Kind::NoSpace, Op::Write, 0, 1);
    let disk = Disk::default();
    let r = three_puts(
        SyncMode::Always,
        &disk,
        &Arc::new(Injector::new(Kind::NoSpace, at, false)),
    );
    assert!(r[0].is_ok());
    assert_eq!(r[1].as_ref().unwrap_err().status(), Status::NoSpace);
    let db = Db::open(DIR, healthy(SyncMode::Always, &disk))
        .unwrap_or_else(|e| panic!("the database must open on a healthy disk, got: {e}"));
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&[b'a'; 900][..]));
    assert_eq!(db.get(b"b").unwrap(), None);
    let c = db.get(b"c").unwrap();
    assert_eq!(
        c.is_some(),
        r[2].is_ok(),
        "c is there exactly if it was acknowledged"
    );
}

/// DURABILITY.md: "A failed fdatasync ... stops the writer: every later write fails
/// until the database is reopened." A failed fdatasync of a new segment's header
/// (rotation) fails that commit, but the next commit starts yet another segment and is
/// acknowledged.
#[test]
fn failed_fsync_while_starting_a_segment_stops_the_writer() {
    // Data syncs: segment 1's header at open, the first put, then segment 1 when the
    // second put seals it, then segment 2's header.
    let at = index_of(Kind::Fsync, Op::SyncData, 0, 3);
    let disk = Disk::default();
    let r = three_puts(
        SyncMode::Always,
        &disk,
        &Arc::new(Injector::new(Kind::Fsync, at, false)),
    );
    assert!(r[0].is_ok());
    assert_eq!(r[1].as_ref().unwrap_err().status(), Status::Io);
    match &r[2] {
        Err(e) => assert_eq!(e.status(), Status::Io),
        Ok(()) => panic!("a write was acknowledged after a failed fsync, before reopening"),
    }
}
