//! Simulated power loss, in the style of ALICE ("All File Systems Are Not Created
//! Equal", OSDI '14): a workload runs on a recording file system, and for crash points
//! across its operation log we build the states a POSIX file system may legally leave
//! behind after a power cut, open each one and check it against the contract of
//! `docs/DURABILITY.md`.
//!
//! The recording file system ([`RecFs`]) implements the engine's `Vfs` in memory and logs
//! every operation: create, write, set_len, fdatasync, rename, remove, directory sync.
//! A crash state at log position `p` (the first `p` operations happened) keeps:
//!
//! - everything a sync made durable: a file's data up to its last `sync_data`, the
//!   directory entries up to the last `sync_dir`;
//! - of each file's unsynced writes and truncations, any persistence a page cache may
//!   produce: every 512-byte sector independently holds the contents it had after some
//!   prefix of those operations, and the file size is the size after some (other)
//!   prefix. This covers dropped writes, writes persisted in part (a block-granular
//!   subset, with never-written sectors reading as zeros), and reordering (a later write
//!   kept while an earlier one is lost). A byte-granular torn write (a prefix of the
//!   next write on top of the earlier ones) is generated too;
//! - of the directory operations since the last `sync_dir`, any subset that keeps the
//!   operations on each name in order (an unsynced create, rename or remove may be
//!   undone).
//!
//! Each state is opened (in memory, and every [`STDFS_EVERY`]th one also from a real
//! directory through the standard file system) and checked:
//!
//! - it opens: a legal crash state is never `KAT_CORRUPTION`;
//! - its contents equal the model after exactly the first `k` commits, where `k` is
//!   pinned by the recovered commit sequence: no torn batch, commits survive as a prefix
//!   of the commit order, deleted keys and dropped keyspaces do not come back;
//! - every commit made durable by a sync before the crash is there, and under
//!   `SyncMode::Always` every acknowledged commit is;
//! - it keeps working: one more commit, then a crash at every point of that recovery
//!   and commit (a crash during recovery), then a clean reopen.
//!
//! The workload (one per sync mode) mixes single puts and deletes, write batches, TTL
//! puts, keyspace creation and drop, transactions (one of them losing a conflict),
//! explicit syncs and reopens, with values large enough to rotate 4 KiB segments.
//!
//! Environment:
//!
//! - `KAT_POWERLOSS_STATES`: distinct crash states to open per sync mode (default
//!   1000, so at least 3,000 in a CI run besides the crashes during recovery; soak with
//!   e.g. `KAT_POWERLOSS_STATES=50000`);
//! - `KAT_SEED`: the random seed (decimal or 0x-hex). The seed in use is printed; a
//!   failure prints the seed, the sync mode, the crash point and how the state was built.
//!   The `Interval` workload depends on when its sync thread runs, so only `Always` and
//!   `Never` replay exactly from a seed.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use katamari::engine::vfs::{LockGuard, OpenMode, StdFs, VFile, Vfs};
use katamari::{Db, Error, IterOptions, Keyspace, Options, SyncMode, WriteBatch};

const SECTOR: usize = 512;
const SEGMENT_SIZE: u64 = 4096;
const CLOCK0: u64 = 1_700_000_000_000;
const DEFAULT_STATES_PER_MODE: usize = 1000;
const WORKLOAD_STEPS: usize = 150;
const DEFAULT_SEED: u64 = 0x4b41_5441_4d41_5249;
/// Every this many states is also written to a real directory and opened with `StdFs`.
const STDFS_EVERY: usize = 16;
/// Crash states generated per crash point of a recovery (crash during recovery).
const NESTED_PER_POINT: usize = 3;
/// Every this many states whose recovery repaired something are crashed again during
/// that recovery.
const NESTED_EVERY: usize = 4;
/// The key the checker commits after recovery.
const POST_KEY: &[u8] = b"~post-recovery";
const POST_VAL: &[u8] = b"written after recovery";

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
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
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

fn states_per_mode() -> usize {
    std::env::var("KAT_POWERLOSS_STATES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_STATES_PER_MODE)
}

// ---------------------------------------------------------------------------------------
// The recording file system.

type Ino = usize;

/// One logged file-system operation.
#[derive(Clone, Debug)]
enum FsOp {
    Create { name: String, ino: Ino },
    Write { ino: Ino, off: u64, data: Arc<[u8]> },
    SetLen { ino: Ino, len: u64 },
    Sync { ino: Ino },
    Rename { from: String, to: String },
    Remove { name: String },
    SyncDir,
}

impl FsOp {
    /// The file whose contents the operation changes.
    fn data_ino(&self) -> Option<Ino> {
        match self {
            FsOp::Write { ino, .. } | FsOp::SetLen { ino, .. } => Some(*ino),
            _ => None,
        }
    }
    /// The directory entries the operation changes.
    fn names(&self) -> Vec<&str> {
        match self {
            FsOp::Create { name, .. } | FsOp::Remove { name } => vec![name],
            FsOp::Rename { from, to } => vec![from, to],
            _ => Vec::new(),
        }
    }
    fn describe(&self) -> String {
        match self {
            FsOp::Write { ino, off, data } => {
                format!("write ino {ino} [{off}, {})", *off + data.len() as u64)
            }
            other => format!("{other:?}"),
        }
    }
}

/// A crash state (or any file-system image): file name → contents.
type Files = BTreeMap<String, Vec<u8>>;

struct FsInner {
    /// The image the file system started from, as inodes `0..base_data.len()`.
    base_dir: BTreeMap<String, Ino>,
    base_data: Vec<Vec<u8>>,
    /// The live view (what a process sees; the page cache).
    dir: BTreeMap<String, Ino>,
    data: Vec<Vec<u8>>,
    log: Vec<FsOp>,
}

/// An in-memory file system over one directory that logs every operation.
#[derive(Clone)]
struct RecFs(Arc<Mutex<FsInner>>);

struct RecFile {
    fs: RecFs,
    ino: Ino,
}

struct NoLock;
impl LockGuard for NoLock {}

fn file_name(path: &Path) -> io::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))
}

impl RecFs {
    fn new(image: &Files) -> RecFs {
        let base_dir: BTreeMap<String, Ino> = image
            .keys()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let base_data: Vec<Vec<u8>> = image.values().cloned().collect();
        RecFs(Arc::new(Mutex::new(FsInner {
            dir: base_dir.clone(),
            data: base_data.clone(),
            base_dir,
            base_data,
            log: Vec::new(),
        })))
    }
    fn lock(&self) -> MutexGuard<'_, FsInner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn log_len(&self) -> usize {
        self.lock().log.len()
    }
    fn log(&self) -> Vec<FsOp> {
        self.lock().log.clone()
    }
    fn base(&self) -> (BTreeMap<String, Ino>, Vec<Vec<u8>>) {
        let g = self.lock();
        (g.base_dir.clone(), g.base_data.clone())
    }
    /// What a process sees now (the state a process crash would leave).
    fn live(&self) -> Files {
        let g = self.lock();
        g.dir
            .iter()
            .map(|(n, &i)| (n.clone(), g.data[i].clone()))
            .collect()
    }
}

impl VFile for RecFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let g = self.fs.lock();
        let d = &g.data[self.ino];
        let start = offset as usize;
        match d.get(start..start + buf.len()) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        let mut g = self.fs.lock();
        let d = &mut g.data[self.ino];
        let end = offset as usize + data.len();
        if d.len() < end {
            d.resize(end, 0);
        }
        d[offset as usize..end].copy_from_slice(data);
        g.log.push(FsOp::Write {
            ino: self.ino,
            off: offset,
            data: data.into(),
        });
        Ok(())
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.fs.lock().data[self.ino].len() as u64)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.fs.lock().log.push(FsOp::Sync { ino: self.ino });
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut g = self.fs.lock();
        g.data[self.ino].resize(len as usize, 0);
        g.log.push(FsOp::SetLen { ino: self.ino, len });
        Ok(())
    }
}

impl Vfs for RecFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VFile>> {
        let name = file_name(path)?;
        let mut g = self.lock();
        let ino = match (mode, g.dir.get(&name).copied()) {
            (OpenMode::CreateNew, Some(_)) => return Err(io::ErrorKind::AlreadyExists.into()),
            (OpenMode::CreateNew, None) => {
                let ino = g.data.len();
                g.data.push(Vec::new());
                g.dir.insert(name.clone(), ino);
                g.log.push(FsOp::Create { name, ino });
                ino
            }
            (_, Some(ino)) => ino,
            (_, None) => return Err(io::ErrorKind::NotFound.into()),
        };
        Ok(Arc::new(RecFile {
            fs: self.clone(),
            ino,
        }))
    }
    fn create_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
    fn list(&self, _path: &Path) -> io::Result<Vec<String>> {
        Ok(self.lock().dir.keys().cloned().collect())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (file_name(from)?, file_name(to)?);
        let mut g = self.lock();
        let ino = g.dir.remove(&from).ok_or(io::ErrorKind::NotFound)?;
        g.dir.insert(to.clone(), ino);
        g.log.push(FsOp::Rename { from, to });
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        let name = file_name(path)?;
        let mut g = self.lock();
        g.dir.remove(&name).ok_or(io::ErrorKind::NotFound)?;
        g.log.push(FsOp::Remove { name });
        Ok(())
    }
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        self.lock().log.push(FsOp::SyncDir);
        Ok(())
    }
    fn lock(&self, _path: &Path) -> io::Result<Box<dyn LockGuard>> {
        Ok(Box::new(NoLock))
    }
}

// ---------------------------------------------------------------------------------------
// Crash states.

/// What survives of one file's unsynced operations.
#[derive(Clone, Debug)]
enum FilePlan {
    /// The file size after the first `size` unsynced operations; each sector holds its
    /// contents after the first `sectors[s]` (or `default`) of them.
    Sectors {
        size: usize,
        default: usize,
        sectors: BTreeMap<usize, usize>,
    },
    /// The first `done` unsynced operations, then the first `cut` bytes of the next one
    /// (a write); with `full_size` the file size covers the whole write (zeros after
    /// the cut).
    Torn {
        done: usize,
        cut: usize,
        full_size: bool,
    },
}

#[derive(Clone, Debug)]
struct Plan {
    label: &'static str,
    files: BTreeMap<Ino, FilePlan>,
    /// Log indices of the unsynced directory operations that persist.
    dir_keep: BTreeSet<usize>,
}

/// One file's history since its last sync at a crash point.
struct FileTail {
    /// Its contents after the first `k` unsynced operations, for `k` in `0..=n`.
    versions: Vec<Vec<u8>>,
    /// The unsynced operations, as log indices.
    ops: Vec<usize>,
    /// Sectors whose contents differ between versions.
    touched: Vec<usize>,
}

/// Everything about a crash point that its crash states share.
struct Point {
    /// Directory entries as of the last directory sync.
    durable_dir: BTreeMap<String, Ino>,
    /// Unsynced directory operations (log indices).
    dir_ops: Vec<usize>,
    /// Durable contents of files without unsynced operations.
    stable: BTreeMap<Ino, Vec<u8>>,
    tails: BTreeMap<Ino, FileTail>,
}

fn apply_op(d: &mut Vec<u8>, op: &FsOp) {
    match op {
        FsOp::Write { off, data, .. } => {
            let (off, end) = (*off as usize, *off as usize + data.len());
            if d.len() < end {
                d.resize(end, 0);
            }
            d[off..end].copy_from_slice(data);
        }
        FsOp::SetLen { len, .. } => d.resize(*len as usize, 0),
        _ => unreachable!("not a data operation"),
    }
}

fn apply_dir_op(dir: &mut BTreeMap<String, Ino>, op: &FsOp) {
    match op {
        FsOp::Create { name, ino } => {
            dir.insert(name.clone(), *ino);
        }
        FsOp::Rename { from, to } => {
            if let Some(ino) = dir.remove(from) {
                dir.insert(to.clone(), ino);
            }
        }
        FsOp::Remove { name } => {
            dir.remove(name);
        }
        _ => unreachable!("not a directory operation"),
    }
}

fn sectors_of(len: usize) -> usize {
    len.div_ceil(SECTOR)
}

impl Point {
    /// The crash point after the first `log.len()` operations of a file system that
    /// started from `base`.
    fn new(base: &(BTreeMap<String, Ino>, Vec<Vec<u8>>), log: &[FsOp]) -> Point {
        let (base_dir, base_data) = base;
        let mut last_sync: HashMap<Ino, usize> = HashMap::new();
        let mut last_dir_sync = None;
        for (i, op) in log.iter().enumerate() {
            match op {
                FsOp::Sync { ino } => {
                    last_sync.insert(*ino, i);
                }
                FsOp::SyncDir => last_dir_sync = Some(i),
                _ => {}
            }
        }
        let mut durable_dir = base_dir.clone();
        let mut dir_ops = Vec::new();
        let mut data: BTreeMap<Ino, Vec<u8>> = base_data.iter().cloned().enumerate().collect();
        let mut unsynced: BTreeMap<Ino, Vec<usize>> = BTreeMap::new();
        for (i, op) in log.iter().enumerate() {
            if let FsOp::Create { ino, .. } = op {
                data.insert(*ino, Vec::new());
            }
            if !op.names().is_empty() {
                if last_dir_sync.is_some_and(|s| i < s) {
                    apply_dir_op(&mut durable_dir, op);
                } else {
                    dir_ops.push(i);
                }
            }
            if let Some(ino) = op.data_ino() {
                if last_sync.get(&ino).is_some_and(|&s| i < s) {
                    apply_op(data.get_mut(&ino).expect("created"), op);
                } else {
                    unsynced.entry(ino).or_default().push(i);
                }
            }
        }
        let mut tails = BTreeMap::new();
        for (ino, ops) in unsynced {
            let mut versions = vec![data.remove(&ino).expect("created")];
            for &i in &ops {
                let mut next = versions.last().expect("one").clone();
                apply_op(&mut next, &log[i]);
                versions.push(next);
            }
            let most = versions.iter().map(Vec::len).max().unwrap_or(0);
            let touched = (0..sectors_of(most))
                .filter(|&s| {
                    let sector = |v: &Vec<u8>| -> Vec<u8> {
                        let mut b = v.get(s * SECTOR..).unwrap_or(&[]).to_vec();
                        b.resize(SECTOR, 0);
                        b
                    };
                    let first = sector(&versions[0]);
                    versions.iter().any(|v| sector(v) != first)
                })
                .collect();
            tails.insert(
                ino,
                FileTail {
                    versions,
                    ops,
                    touched,
                },
            );
        }
        Point {
            durable_dir,
            dir_ops,
            stable: data,
            tails,
        }
    }

    fn has_choices(&self) -> bool {
        !self.dir_ops.is_empty() || !self.tails.is_empty()
    }

    /// Plan number `n` for this point: 0 keeps only what was synced, 1 keeps everything
    /// (what a process crash leaves), later ones are random torn or sector-mixed states.
    fn plan(&self, n: usize, log: &[FsOp], rng: &mut Rng) -> Plan {
        let all_dir: BTreeSet<usize> = self.dir_ops.iter().copied().collect();
        if n == 0 || n == 1 {
            let files = self
                .tails
                .iter()
                .map(|(&ino, t)| {
                    let k = if n == 0 { 0 } else { t.ops.len() };
                    let plan = FilePlan::Sectors {
                        size: k,
                        default: k,
                        sectors: BTreeMap::new(),
                    };
                    (ino, plan)
                })
                .collect();
            return Plan {
                label: if n == 0 {
                    "synced data only"
                } else {
                    "everything (process crash)"
                },
                files,
                dir_keep: if n == 0 { BTreeSet::new() } else { all_dir },
            };
        }
        // Directory operations: a random subset that keeps each name's operations in
        // order (an operation persists only if every earlier one on its names did).
        let mut dir_keep = BTreeSet::new();
        let mut blocked: BTreeSet<&str> = BTreeSet::new();
        let keep_pct = [0, 50, 90, 100][rng.below(4)];
        for &i in &self.dir_ops {
            let names = log[i].names();
            if names.iter().any(|n| blocked.contains(n)) || !rng.chance(keep_pct) {
                blocked.extend(names);
            } else {
                dir_keep.insert(i);
            }
        }
        let torn = rng.chance(40);
        let mut files = BTreeMap::new();
        for (&ino, t) in &self.tails {
            let n_ops = t.ops.len();
            let writes: Vec<usize> = (0..n_ops)
                .filter(|&k| matches!(log[t.ops[k]], FsOp::Write { .. }))
                .collect();
            let plan = if torn && !writes.is_empty() {
                let k = writes[rng.below(writes.len())];
                let FsOp::Write { data, .. } = &log[t.ops[k]] else {
                    unreachable!()
                };
                FilePlan::Torn {
                    done: k,
                    cut: rng.below(data.len()),
                    full_size: rng.chance(30),
                }
            } else {
                let size = rng.range(0, n_ops);
                let default = if rng.chance(50) {
                    size
                } else {
                    rng.range(0, n_ops)
                };
                let mix = [0, 10, 30, 60][rng.below(4)];
                let mut sectors = BTreeMap::new();
                for &s in &t.touched {
                    if rng.chance(mix) {
                        sectors.insert(s, rng.range(0, n_ops));
                    }
                }
                FilePlan::Sectors {
                    size,
                    default,
                    sectors,
                }
            };
            files.insert(ino, plan);
        }
        Plan {
            label: if torn {
                "torn write (byte prefix)"
            } else {
                "sector subset / reordered"
            },
            files,
            dir_keep,
        }
    }

    fn materialize(&self, plan: &Plan, log: &[FsOp]) -> Files {
        let mut dir = self.durable_dir.clone();
        for &i in &self.dir_ops {
            if plan.dir_keep.contains(&i) {
                apply_dir_op(&mut dir, &log[i]);
            }
        }
        let contents = |ino: Ino| -> Vec<u8> {
            let Some(t) = self.tails.get(&ino) else {
                return self.stable.get(&ino).cloned().unwrap_or_default();
            };
            match plan.files.get(&ino).expect("every tail is planned") {
                FilePlan::Torn {
                    done,
                    cut,
                    full_size,
                } => {
                    let mut d = t.versions[*done].clone();
                    let FsOp::Write { off, data, .. } = &log[t.ops[*done]] else {
                        unreachable!("torn plans cut writes")
                    };
                    let off = *off as usize;
                    let end = if *full_size {
                        off + data.len()
                    } else {
                        off + cut
                    };
                    if d.len() < end {
                        d.resize(end, 0);
                    }
                    d[off..off + cut].copy_from_slice(&data[..*cut]);
                    d
                }
                FilePlan::Sectors {
                    size,
                    default,
                    sectors,
                } => {
                    let len = t.versions[*size].len();
                    let mut d = vec![0u8; len];
                    for s in 0..sectors_of(len) {
                        let v = &t.versions[*sectors.get(&s).unwrap_or(default)];
                        let (a, b) = (s * SECTOR, ((s + 1) * SECTOR).min(len));
                        let have = v.len().min(b);
                        if have > a {
                            d[a..have].copy_from_slice(&v[a..have]);
                        }
                    }
                    d
                }
            }
        };
        dir.iter()
            .map(|(n, &ino)| (n.clone(), contents(ino)))
            .collect()
    }
}

fn hash_files(files: &Files) -> u64 {
    let mut h = DefaultHasher::new();
    files.hash(&mut h);
    h.finish()
}

// ---------------------------------------------------------------------------------------
// The model and the workload.

/// A keyspace: `None` is the default one.
type Space = Option<Vec<u8>>;
/// Visible contents: keyspace → key → value.
type View = BTreeMap<Space, BTreeMap<Vec<u8>, Vec<u8>>>;

/// One keyspace's committed keys: value and expiry time (0 = never).
type Entries = BTreeMap<Vec<u8>, (Vec<u8>, u64)>;

/// Committed contents, by keyspace.
#[derive(Clone, Debug)]
struct Model(BTreeMap<Space, Entries>);

impl Model {
    fn new() -> Model {
        Model(BTreeMap::from([(None, BTreeMap::new())]))
    }
    fn view(&self, now: u64) -> View {
        self.0
            .iter()
            .map(|(s, kv)| {
                let live = kv
                    .iter()
                    .filter(|(_, (_, exp))| *exp == 0 || *exp > now)
                    .map(|(k, (v, _))| (k.clone(), v.clone()))
                    .collect();
                (s.clone(), live)
            })
            .collect()
    }
    fn apply(&mut self, item: &Item, value: &[u8], now: u64) {
        let space = self.0.get_mut(&item.space).expect("live keyspace");
        match item.write {
            W::Put(_) => {
                space.insert(item.key.clone(), (value.to_vec(), 0));
            }
            W::PutTtl(_, ttl) => {
                space.insert(item.key.clone(), (value.to_vec(), now + ttl));
            }
            W::Delete => {
                space.remove(&item.key);
            }
        }
    }
    fn spaces(&self) -> Vec<Vec<u8>> {
        self.0.keys().flatten().cloned().collect()
    }
}

#[derive(Clone, Debug)]
enum W {
    Put(usize),
    /// Value length, time to live in ms.
    PutTtl(usize, u64),
    Delete,
}

/// One write of a batch or transaction.
#[derive(Clone, Debug)]
struct Item {
    space: Space,
    key: Vec<u8>,
    write: W,
}

/// One step of the workload. Adding an operation (say `Merge`) takes a variant here, an
/// arm in [`Driver::run`] and a line in [`gen_step`].
#[derive(Clone, Debug)]
enum Step {
    /// A single put, delete or TTL put, in the default keyspace or a named one.
    Single(Item),
    Batch(Vec<Item>),
    Txn(Vec<Item>),
    /// A transaction that loses a write-write conflict to a single put of the same key.
    ConflictingTxn(Vec<u8>, usize),
    CreateKeyspace(Vec<u8>),
    DropKeyspace(Vec<u8>),
    Sync,
    Reopen,
    /// Compaction: rewrites every sealed segment, changes no contents.
    Merge,
    /// Lets the `Interval` sync thread run.
    Pause(u64),
}

const KEYSPACE_NAMES: [&[u8]; 3] = [b"alpha", b"beta", b"gamma"];

fn key(rng: &mut Rng) -> Vec<u8> {
    format!("k{:02}", rng.below(24)).into_bytes()
}

fn value_len(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=2 => rng.range(3000, 5000),
        3..=12 => rng.range(600, 1500),
        _ => rng.range(1, 200),
    }
}

/// The value committed for `key` by the step that makes commit `commit`.
fn value(commit: usize, key: &[u8], len: usize) -> Vec<u8> {
    let mut v = format!("{commit}:{}:", String::from_utf8_lossy(key)).into_bytes();
    let mut x = commit as u64 * 31 + key.len() as u64;
    while v.len() < len {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        v.push(b'a' + (x >> 59) as u8 % 26);
    }
    v.truncate(len);
    v
}

fn gen_item(rng: &mut Rng, model: &Model, in_spaces: bool) -> Item {
    let spaces = model.spaces();
    let space = if in_spaces && !spaces.is_empty() && rng.chance(40) {
        Some(spaces[rng.below(spaces.len())].clone())
    } else {
        None
    };
    let write = match rng.below(10) {
        0..=5 => W::Put(value_len(rng)),
        6..=7 => W::Delete,
        // Short TTLs expire before the check (the clock moves 1 ms per step); long
        // ones do not.
        _ => W::PutTtl(
            value_len(rng),
            if rng.chance(50) {
                rng.range(1, 60) as u64
            } else {
                3_600_000
            },
        ),
    };
    Item {
        space,
        key: key(rng),
        write,
    }
}

fn gen_step(rng: &mut Rng, model: &Model, mode: SyncMode) -> Step {
    let spaces = model.spaces();
    let items = |rng: &mut Rng, n: usize| (0..n).map(|_| gen_item(rng, model, true)).collect();
    match rng.below(100) {
        0..=39 => Step::Single(gen_item(rng, model, true)),
        40..=54 => {
            let n = rng.range(2, 6);
            Step::Batch(items(rng, n))
        }
        55..=66 => {
            let n = rng.range(1, 5);
            Step::Txn(items(rng, n))
        }
        67..=69 => Step::ConflictingTxn(key(rng), value_len(rng)),
        70..=75 => {
            let missing: Vec<&[u8]> = KEYSPACE_NAMES
                .iter()
                .copied()
                .filter(|n| !spaces.iter().any(|s| s == n))
                .collect();
            if missing.is_empty() {
                Step::Single(gen_item(rng, model, true))
            } else {
                Step::CreateKeyspace(missing[rng.below(missing.len())].to_vec())
            }
        }
        76..=79 if !spaces.is_empty() => {
            Step::DropKeyspace(spaces[rng.below(spaces.len())].clone())
        }
        80..=82 => Step::Sync,
        83..=84 => Step::Reopen,
        85..=87 if matches!(mode, SyncMode::Interval(_)) => Step::Pause(4),
        88..=90 => Step::Merge,
        _ => Step::Single(gen_item(rng, model, true)),
    }
}

/// One commit of the workload, as seen in the log.
#[derive(Clone, Copy, Debug)]
struct CommitRec {
    /// Log index of the write of its batch.
    write_op: usize,
    /// Log length when the call returned (acknowledged at crash points `>= ack_op`).
    ack_op: usize,
    /// Log index of the first sync of that file after the write, if any.
    synced_op: Option<usize>,
}

/// What a log may recover to: `views[k]` after the first `k` commits.
struct History {
    mode: SyncMode,
    views: Vec<View>,
    seqs: Vec<u64>,
    commits: Vec<CommitRec>,
    /// Keys to read one by one besides scanning.
    probes: BTreeSet<(Space, Vec<u8>)>,
    now: u64,
}

impl History {
    /// Commits that may and must be present after a crash at log position `p`.
    fn bounds(&self, p: usize) -> (usize, usize) {
        let max = self.commits.iter().take_while(|c| c.write_op < p).count();
        let mut min = 0;
        for (i, c) in self.commits.iter().enumerate() {
            let synced = c.synced_op.is_some_and(|s| s < p);
            let acked = self.mode == SyncMode::Always && c.ack_op <= p;
            if synced || acked {
                min = i + 1;
            }
        }
        (min, max)
    }
}

fn open_options(mode: SyncMode, vfs: Arc<dyn Vfs>, now: Arc<AtomicU64>) -> Options {
    Options::default()
        .sync(mode)
        .segment_size(SEGMENT_SIZE)
        .vfs(vfs)
        .clock(move || now.load(Ordering::SeqCst))
}

/// Runs the workload against the database and the model, recording commits.
struct Driver {
    fs: RecFs,
    dir: PathBuf,
    mode: SyncMode,
    clock: Arc<AtomicU64>,
    db: Db,
    spaces: BTreeMap<Vec<u8>, Keyspace>,
    model: Model,
    models: Vec<Model>,
    seqs: Vec<u64>,
    /// (log length before, log length after) of each commit.
    windows: Vec<(usize, usize)>,
    probes: BTreeSet<(Space, Vec<u8>)>,
}

impl Driver {
    fn new(mode: SyncMode) -> Driver {
        let fs = RecFs::new(&Files::new());
        let dir = PathBuf::from("/katamari-powerloss/db");
        let clock = Arc::new(AtomicU64::new(CLOCK0));
        let db = Db::open(
            &dir,
            open_options(mode, Arc::new(fs.clone()), clock.clone()),
        )
        .expect("open a fresh database");
        Driver {
            fs,
            dir,
            mode,
            clock,
            db,
            spaces: BTreeMap::new(),
            model: Model::new(),
            models: vec![Model::new()],
            seqs: vec![0],
            windows: Vec::new(),
            probes: BTreeSet::new(),
        }
    }

    fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    fn handle(&self, space: &Space) -> Option<&Keyspace> {
        space
            .as_ref()
            .map(|s| self.spaces.get(s).expect("open keyspace"))
    }

    /// Runs `f`, which must commit exactly once, and records the commit.
    fn commit(&mut self, what: &str, f: impl FnOnce(&Driver) -> katamari::Result<()>) {
        let before = self.fs.log_len();
        if let Err(e) = f(self) {
            panic!("{what} failed in the workload: {e}");
        }
        let after = self.fs.log_len();
        let seq = self.db.stats().expect("stats").last_seq;
        let prev = *self.seqs.last().expect("initial");
        assert_eq!(seq, prev + 1, "{what}: one commit is one sequence number");
        self.seqs.push(seq);
        self.models.push(self.model.clone());
        self.windows.push((before, after));
    }

    fn item_value(&mut self, item: &Item) -> Vec<u8> {
        self.probes.insert((item.space.clone(), item.key.clone()));
        let len = match item.write {
            W::Put(n) | W::PutTtl(n, _) => n,
            W::Delete => 0,
        };
        value(self.models.len(), &item.key, len)
    }

    fn run(&mut self, step: &Step) {
        let now = self.now();
        match step {
            Step::Single(item) => {
                let v = self.item_value(item);
                self.model.apply(item, &v, now);
                let ks = self.handle(&item.space).cloned();
                self.commit("single write", |d| match (&ks, &item.write) {
                    (None, W::Put(_)) => d.db.put(&item.key, &v),
                    (None, W::PutTtl(_, t)) => {
                        d.db.put_with_ttl(&item.key, &v, Duration::from_millis(*t))
                    }
                    (None, W::Delete) => d.db.delete(&item.key),
                    (Some(ks), W::Put(_)) => ks.put(&item.key, &v),
                    (Some(ks), W::PutTtl(_, t)) => {
                        ks.put_with_ttl(&item.key, &v, Duration::from_millis(*t))
                    }
                    (Some(ks), W::Delete) => ks.delete(&item.key),
                });
            }
            Step::Batch(items) => {
                let mut b = WriteBatch::new();
                for item in items {
                    let v = self.item_value(item);
                    self.model.apply(item, &v, now);
                    let ks = self.handle(&item.space);
                    match (ks, &item.write) {
                        (None, W::Put(_)) => b.put(&item.key, &v),
                        (None, W::PutTtl(_, t)) => {
                            b.put_with_ttl(&item.key, &v, Duration::from_millis(*t))
                        }
                        (None, W::Delete) => b.delete(&item.key),
                        (Some(ks), W::Put(_)) => b.put_in(ks, &item.key, &v),
                        (Some(ks), W::PutTtl(_, t)) => {
                            b.put_with_ttl_in(ks, &item.key, &v, Duration::from_millis(*t))
                        }
                        (Some(ks), W::Delete) => b.delete_in(ks, &item.key),
                    }
                    .expect("batch op");
                }
                self.commit("write batch", |d| d.db.write(&b));
            }
            Step::Txn(items) => {
                let mut t = self.db.begin().expect("begin");
                for item in items {
                    // The transaction reads the committed value first.
                    let expect = self.model.view(now)[&item.space].get(&item.key).cloned();
                    let got = match self.handle(&item.space) {
                        None => t.get(&item.key),
                        Some(ks) => t.get_in(ks, &item.key),
                    };
                    assert_eq!(got.expect("txn read"), expect, "txn read of {item:?}");
                    let v = self.item_value(item);
                    self.model.apply(item, &v, now);
                    let ks = self.handle(&item.space);
                    match (ks, &item.write) {
                        (None, W::Put(_)) => t.put(&item.key, &v),
                        (None, W::PutTtl(_, ttl)) => {
                            t.put_with_ttl(&item.key, &v, Duration::from_millis(*ttl))
                        }
                        (None, W::Delete) => t.delete(&item.key),
                        (Some(ks), W::Put(_)) => t.put_in(ks, &item.key, &v),
                        (Some(ks), W::PutTtl(_, ttl)) => {
                            t.put_with_ttl_in(ks, &item.key, &v, Duration::from_millis(*ttl))
                        }
                        (Some(ks), W::Delete) => t.delete_in(ks, &item.key),
                    }
                    .expect("txn write");
                }
                self.commit("transaction", |_| t.commit().map(|_| ()));
            }
            Step::ConflictingTxn(k, len) => {
                let mut t = self.db.begin().expect("begin");
                t.put(k, b"loser").expect("txn put");
                let item = Item {
                    space: None,
                    key: k.clone(),
                    write: W::Put(*len),
                };
                let v = self.item_value(&item);
                self.model.apply(&item, &v, now);
                self.commit("put racing a transaction", |d| d.db.put(k, &v));
                let before = self.fs.log_len();
                match t.commit() {
                    Err(Error::Conflict) => {}
                    other => panic!("expected a conflict, got {other:?}"),
                }
                assert_eq!(self.fs.log_len(), before, "a conflict writes nothing");
            }
            Step::CreateKeyspace(name) => {
                self.model.0.insert(Some(name.clone()), BTreeMap::new());
                let mut ks = None;
                self.commit("keyspace creation", |d| {
                    ks = Some(d.db.keyspace(name)?);
                    Ok(())
                });
                self.spaces.insert(name.clone(), ks.expect("created"));
            }
            Step::DropKeyspace(name) => {
                self.model.0.remove(&Some(name.clone()));
                self.commit("keyspace drop", |d| d.db.drop_keyspace(name));
                self.spaces.remove(name);
            }
            Step::Sync => self.db.sync().expect("sync"),
            Step::Merge => {
                self.db.merge().expect("merge");
            }
            Step::Reopen => {
                self.db.close().expect("close");
                self.spaces.clear();
                self.db = Db::open(
                    &self.dir,
                    open_options(self.mode, Arc::new(self.fs.clone()), self.clock.clone()),
                )
                .expect("reopen");
                for name in self.model.spaces() {
                    let before = self.fs.log_len();
                    let ks = self.db.keyspace(&name).expect("reopen keyspace");
                    assert_eq!(
                        self.fs.log_len(),
                        before,
                        "opening a keyspace writes nothing"
                    );
                    self.spaces.insert(name, ks);
                }
            }
            Step::Pause(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }

    /// Closes the database and turns the run into a [`History`].
    fn finish(self) -> (History, RecFs) {
        self.db.close().expect("close");
        let log = self.fs.log();
        let now = self.now();
        let commits = self
            .windows
            .iter()
            .map(|&(before, after)| {
                let (write_op, ino) = (before..after)
                    .rev()
                    .find_map(|i| match &log[i] {
                        FsOp::Write { ino, .. } => Some((i, *ino)),
                        _ => None,
                    })
                    .expect("a commit writes its batch");
                let synced_op = (write_op..log.len())
                    .find(|&i| matches!(log[i], FsOp::Sync { ino: s } if s == ino));
                CommitRec {
                    write_op,
                    ack_op: after,
                    synced_op,
                }
            })
            .collect();
        let history = History {
            mode: self.mode,
            views: self.models.iter().map(|m| m.view(now)).collect(),
            seqs: self.seqs,
            commits,
            probes: self.probes,
            now,
        };
        (history, self.fs)
    }
}

// ---------------------------------------------------------------------------------------
// Checking crash states.

fn read_view(db: &Db) -> katamari::Result<View> {
    let mut view = View::new();
    let all = IterOptions::default();
    view.insert(None, db.iter(&all)?.collect::<katamari::Result<_>>()?);
    for name in db.keyspaces()? {
        let ks = db.keyspace(&name)?;
        view.insert(Some(name), ks.iter(&all)?.collect::<katamari::Result<_>>()?);
    }
    Ok(view)
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(24)]).into_owned()
}

/// A short description of how two views differ.
fn diff(got: &View, want: &View) -> String {
    let mut out = Vec::new();
    for space in got.keys().chain(want.keys()).collect::<BTreeSet<_>>() {
        let sp = space.as_deref().map_or("default".into(), show);
        match (got.get(space), want.get(space)) {
            (None, _) => out.push(format!("keyspace {sp} missing")),
            (_, None) => out.push(format!("keyspace {sp} should not exist")),
            (Some(g), Some(w)) => {
                for k in g.keys().chain(w.keys()).collect::<BTreeSet<_>>() {
                    match (g.get(k), w.get(k)) {
                        (Some(a), Some(b)) if a != b => out.push(format!(
                            "{sp}/{}: got {:?}, want {:?}",
                            show(k),
                            show(a),
                            show(b)
                        )),
                        (Some(_), None) => out.push(format!("{sp}/{} should be absent", show(k))),
                        (None, Some(_)) => out.push(format!("{sp}/{} missing", show(k))),
                        _ => {}
                    }
                }
            }
        }
    }
    out.truncate(6);
    out.join("; ")
}

fn checker_options(vfs: Arc<dyn Vfs>, now: u64) -> Options {
    Options::default()
        .sync(SyncMode::Always)
        .segment_size(SEGMENT_SIZE)
        .vfs(vfs)
        .clock(move || now)
}

/// Opens a crash state and checks it recovered to a prefix of `min..=max` commits of
/// `h`. Returns the database and the number of commits it holds.
fn open_and_check(
    vfs: Arc<dyn Vfs>,
    dir: &Path,
    h: &History,
    (min, max): (usize, usize),
) -> Result<(Db, usize), String> {
    let db = Db::open(dir, checker_options(vfs, h.now)).map_err(|e| {
        format!(
            "the crash state does not open: {e} (status {:?})",
            e.status()
        )
    })?;
    let seq = db.stats().map_err(|e| format!("stats: {e}"))?.last_seq;
    let k = h
        .seqs
        .iter()
        .position(|&s| s == seq)
        .ok_or_else(|| format!("recovered commit sequence {seq} is none the workload made"))?;
    if k < min {
        return Err(format!(
            "lost commits: recovered the first {k} commits (sequence {seq}), but the \
             first {min} were synced or acknowledged"
        ));
    }
    if k > max {
        return Err(format!(
            "recovered {k} commits, but only {max} had been written"
        ));
    }
    let view = read_view(&db).map_err(|e| format!("reading the recovered state: {e}"))?;
    let want = &h.views[k];
    if &view != want {
        return Err(format!(
            "recovered state is not the state after commit {k} (sequence {seq}): {}",
            diff(&view, want)
        ));
    }
    for (space, key) in &h.probes {
        let got = match space {
            None => db.get(key),
            Some(name) if want.contains_key(space) => db.keyspace(name).and_then(|ks| ks.get(key)),
            Some(_) => continue,
        }
        .map_err(|e| format!("get {}: {e}", show(key)))?;
        let expect = want.get(space).and_then(|kv| kv.get(key));
        if got.as_ref() != expect {
            return Err(format!(
                "get {} after commit {k}: got {:?}, want {:?}",
                show(key),
                got.as_deref().map(show),
                expect.map(|v| show(v))
            ));
        }
    }
    Ok((db, k))
}

#[derive(Default)]
struct Tally {
    /// Distinct crash states opened and checked.
    states: usize,
    /// Of those, crash states during recovery (a crash state's own recovery, crashed).
    nested: usize,
    /// States also opened from a real directory with `StdFs`.
    stdfs: usize,
    /// States whose recovery repaired something (cut a torn tail, removed a blank
    /// segment, started a new segment).
    repaired: usize,
    /// Crash points with more than one possible state.
    points: usize,
    /// Failures by kind: count and the first example.
    kinds: BTreeMap<String, (usize, String)>,
    failed: usize,
    by_label: BTreeMap<String, usize>,
}

impl Tally {
    /// Records a failure under its kind (the message without numbers).
    fn fail(&mut self, kind: &str, msg: String) {
        self.failed += 1;
        let kind: String = kind.chars().filter(|c| !c.is_ascii_digit()).collect();
        let n = self.kinds.entry(kind).or_insert((0, msg));
        n.0 += 1;
    }
}

struct Checker<'a> {
    h: &'a History,
    tmp: tempfile::TempDir,
    /// States checked, with their bounds.
    seen: HashSet<(u64, usize, usize)>,
    rng: Rng,
    tally: Tally,
}

impl Checker<'_> {
    /// Checks one crash state; false if it was seen before.
    fn check(&mut self, files: &Files, bounds: (usize, usize), ctx: &dyn Fn() -> String) -> bool {
        if !self.seen.insert((hash_files(files), bounds.0, bounds.1)) {
            return false;
        }
        self.tally.states += 1;
        let dir = Path::new("/katamari-powerloss/crashed");
        let fs = RecFs::new(files);
        let result = open_and_check(Arc::new(fs.clone()), dir, self.h, bounds)
            .and_then(|(db, k)| self.after_recovery(db, k, &fs, dir));
        if let Err(e) = result {
            self.fail(files, ctx, &e);
        }
        if self.tally.states.is_multiple_of(STDFS_EVERY) {
            self.tally.stdfs += 1;
            if let Err(e) = self.check_on_disk(files, bounds) {
                self.fail(files, ctx, &format!("through StdFs: {e}"));
            }
        }
        true
    }

    fn fail(&mut self, files: &Files, ctx: &dyn Fn() -> String, e: &str) {
        let sizes: Vec<String> = files
            .iter()
            .map(|(n, d)| format!("{n}={}", d.len()))
            .collect();
        let at = ctx();
        let label = at.rsplit("state: ").next().unwrap_or_default();
        let kind = format!("{e} [{label}]");
        let msg = format!(
            "{:?}: {e}\n      at {at}\n      files: {}",
            self.h.mode,
            sizes.join(", ")
        );
        self.tally.fail(&kind, msg);
    }

    /// The recovered database takes a commit; a crash anywhere in its recovery and that
    /// commit recovers to the same state (with or without the commit); a clean reopen
    /// keeps everything.
    fn after_recovery(&mut self, db: Db, k: usize, fs: &RecFs, dir: &Path) -> Result<(), String> {
        let recovery_ops = fs.log_len();
        db.put(POST_KEY, POST_VAL)
            .map_err(|e| format!("first commit after recovery: {e}"))?;
        let ack_op = fs.log_len();
        db.close()
            .map_err(|e| format!("close after recovery: {e}"))?;
        let log = fs.log();
        let write_op = (recovery_ops..ack_op)
            .rev()
            .find(|&i| matches!(log[i], FsOp::Write { .. }))
            .ok_or("the commit after recovery wrote nothing")?;
        let mut with_post = self.h.views[k].clone();
        with_post
            .get_mut(&None)
            .expect("default keyspace")
            .insert(POST_KEY.to_vec(), POST_VAL.to_vec());
        let mut probes = self.h.probes.clone();
        probes.insert((None, POST_KEY.to_vec()));
        let nested = History {
            mode: SyncMode::Always,
            views: vec![self.h.views[k].clone(), with_post],
            seqs: vec![self.h.seqs[k], self.h.seqs[k] + 1],
            commits: vec![CommitRec {
                write_op,
                ack_op,
                synced_op: None,
            }],
            probes,
            now: self.h.now,
        };
        // A clean reopen sees everything.
        open_and_check(Arc::new(RecFs::new(&fs.live())), dir, &nested, (1, 1))
            .map_err(|e| format!("clean reopen after recovery: {e}"))?;
        // Crashes during the recovery (when it repaired something) and the commit after
        // it, for every NESTED_EVERY-th such state.
        if recovery_ops == 0 {
            return Ok(());
        }
        self.tally.repaired += 1;
        if !self.tally.repaired.is_multiple_of(NESTED_EVERY) {
            return Ok(());
        }
        let base = fs.base();
        let mut seen = BTreeSet::new();
        for p in 0..=log.len() {
            let point = Point::new(&base, &log[..p]);
            let per_point = if point.has_choices() {
                NESTED_PER_POINT
            } else {
                1
            };
            for n in 0..per_point {
                let plan = point.plan(n, &log[..p], &mut self.rng);
                let files = point.materialize(&plan, &log[..p]);
                let bounds = nested.bounds(p);
                if !seen.insert((hash_files(&files), bounds)) {
                    continue;
                }
                self.tally.nested += 1;
                let r = open_and_check(Arc::new(RecFs::new(&files)), dir, &nested, bounds);
                if let Err(e) = r {
                    return Err(format!(
                        "crash during recovery at its op {p} of {} ({}; last op {}): {e}",
                        log.len(),
                        plan.label,
                        p.checked_sub(1).map_or("-".into(), |i| log[i].describe()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes the state into a real directory and opens it with the standard file
    /// system (which maps segments, unlike the in-memory one).
    fn check_on_disk(&mut self, files: &Files, bounds: (usize, usize)) -> Result<(), String> {
        let dir = self.tmp.path().join(format!("s{}", self.tally.states));
        std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
        for (name, data) in files {
            std::fs::write(dir.join(name), data).map_err(|e| e.to_string())?;
        }
        let r = open_and_check(Arc::new(StdFs), &dir, self.h, bounds).map(drop);
        let _ = std::fs::remove_dir_all(&dir);
        r
    }
}

/// Runs the workload in `mode` and checks `target` distinct crash states of it.
fn sweep(mode: SyncMode, seed: u64, target: usize) -> Tally {
    let mut rng = Rng(seed ^ mode_salt(mode));
    let mut driver = Driver::new(mode);
    for _ in 0..WORKLOAD_STEPS {
        let step = gen_step(&mut rng, &driver.model, mode);
        driver.run(&step);
        driver.clock.fetch_add(1, Ordering::SeqCst);
    }
    let (h, fs) = driver.finish();
    let log = fs.log();
    let base = fs.base();
    let mut checker = Checker {
        h: &h,
        tmp: tempfile::tempdir().expect("tempdir"),
        seen: HashSet::new(),
        rng: Rng(rng.next()),
        tally: Tally::default(),
    };

    // Every crash point once with only synced data, then spread the rest of the budget
    // over the points where the unsynced operations leave choices.
    let mut choice_points = Vec::new();
    for p in 0..=log.len() {
        let point = Point::new(&base, &log[..p]);
        let bounds = h.bounds(p);
        let plan = point.plan(0, &log[..p], &mut checker.rng);
        let files = point.materialize(&plan, &log[..p]);
        checker.check(&files, bounds, &|| describe(&log, p, plan.label));
        if point.has_choices() {
            choice_points.push(p);
        }
    }
    checker.tally.points = choice_points.len();
    // Rounds over the points with choices until the target is met or a round finds
    // nothing new.
    loop {
        let before = checker.tally.states;
        let remaining = target.saturating_sub(before);
        if remaining == 0 {
            break;
        }
        let quota = remaining.div_ceil(choice_points.len().max(1));
        for &p in &choice_points {
            if checker.tally.states >= target {
                break;
            }
            let point = Point::new(&base, &log[..p]);
            let mut found = 0;
            for n in 1..quota * 4 + 2 {
                if found >= quota {
                    break;
                }
                // A process crash (everything kept) loses nothing that was written.
                let (min, max) = h.bounds(p);
                let bounds = if n == 1 { (max, max) } else { (min, max) };
                let plan = point.plan(n, &log[..p], &mut checker.rng);
                let files = point.materialize(&plan, &log[..p]);
                if checker.check(&files, bounds, &|| describe(&log, p, plan.label)) {
                    found += 1;
                    *checker.tally.by_label.entry(plan.label.into()).or_default() += 1;
                }
            }
        }
        if checker.tally.states == before {
            break;
        }
    }
    checker.tally
}

fn mode_salt(mode: SyncMode) -> u64 {
    match mode {
        SyncMode::Always => 1,
        SyncMode::Interval(_) => 2,
        SyncMode::Never => 3,
    }
}

fn describe(log: &[FsOp], p: usize, label: &str) -> String {
    let last = p
        .checked_sub(1)
        .map_or("(none)".into(), |i| log[i].describe());
    format!(
        "crash point {p} of {} (after {last}), state: {label}",
        log.len()
    )
}

fn run_mode(mode: SyncMode) {
    let seed = seed();
    let target = states_per_mode();
    let started = Instant::now();
    let t = sweep(mode, seed, target);
    println!(
        "powerloss {mode:?}: seed {seed:#x}: {} crash states checked ({} at {} crash points \
         with choices, {:?}), {} more crashed during recovery, {} also through StdFs, in {:.1?}",
        t.states,
        t.by_label.values().sum::<usize>(),
        t.points,
        t.by_label,
        t.nested,
        t.stdfs,
        started.elapsed()
    );
    let kinds: Vec<String> = t
        .kinds
        .iter()
        .map(|(kind, (n, example))| format!("{n} x {kind}\n    e.g. {example}"))
        .collect();
    assert!(
        t.failed == 0,
        "{} of {} crash states broke the contract (seed {seed:#x}, rerun with KAT_SEED):\n  {}",
        t.failed,
        t.states + t.nested,
        kinds.join("\n  ")
    );
    assert!(
        t.states >= target.min(500),
        "only {} distinct crash states for a target of {target}",
        t.states
    );
}

#[test]
fn power_loss_sync_always() {
    run_mode(SyncMode::Always);
}

#[test]
fn power_loss_sync_interval() {
    run_mode(SyncMode::Interval(Duration::from_millis(3)));
}

#[test]
fn power_loss_sync_never() {
    run_mode(SyncMode::Never);
}

// ---------------------------------------------------------------------------------------
// Minimal cases of crash states the sweep found that do not open.

fn minimal_options(mode: SyncMode, segment_size: u64, fs: &RecFs) -> Options {
    Options::default()
        .sync(mode)
        .segment_size(segment_size)
        .vfs(Arc::new(fs.clone()))
}

/// `segment::create` writes a 40-byte header, syncs it and syncs the directory before
/// anything is appended, so a newest segment whose header never fully reached the disk
/// cannot hold a commit. Power loss while the header write was in flight can leave the
/// file with its size (40) on disk but only a prefix of the header bytes: recovery must
/// treat it like the short or all-zero header of a torn creation (remove it), not as
/// corruption.
#[test]
fn torn_header_of_the_newest_segment_is_a_torn_creation() {
    let dir = Path::new("/katamari-powerloss/torn-header");
    let fs = RecFs::new(&Files::new());
    let db = Db::open(dir, minimal_options(SyncMode::Always, 1024, &fs)).unwrap();
    db.put(b"a", &[b'a'; 900]).unwrap();
    let synced = fs.live();
    db.put(b"b", &[b'b'; 900]).unwrap(); // rotates: segment 2
    drop(db);
    let header = fs
        .log()
        .iter()
        .find_map(|op| match op {
            FsOp::Write {
                ino: 1,
                off: 0,
                data,
            } => Some(data.clone()),
            _ => None,
        })
        .expect("segment 2's header write");
    assert_eq!(header.len(), 40);

    // The crash: segment 1 as synced, segment 2's entry and size persisted, but only the
    // first 20 bytes of its header.
    let mut state = synced;
    let mut torn = header[..20].to_vec();
    torn.resize(40, 0);
    state.insert("0000000002.kseg".into(), torn);
    let db = Db::open(
        dir,
        minimal_options(SyncMode::Always, 1024, &RecFs::new(&state)),
    )
    .unwrap_or_else(|e| panic!("a torn segment creation must open, got: {e}"));
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&[b'a'; 900][..]));
    assert_eq!(db.get(b"b").unwrap(), None);
}

/// Under `SyncMode::Never` (and `Interval`, and `Always` with concurrent committers that
/// share one fdatasync) several batches sit unsynced in the page cache, and writeback
/// may persist a later page before an earlier one. Here page 1 of the active segment is
/// lost while pages 0 and 2 reach the disk: the batch starting in page 0 is damaged and a
/// valid, newer batch follows in page 2. Nothing after the last sync was promised, so
/// recovery must cut the log at the damaged batch (keeping the synced prefix), not
/// refuse to open.
#[test]
fn unsynced_tail_with_a_lost_page_opens_at_the_synced_prefix() {
    let dir = Path::new("/katamari-powerloss/lost-page");
    let fs = RecFs::new(&Files::new());
    let db = Db::open(dir, minimal_options(SyncMode::Never, 1 << 20, &fs)).unwrap();
    db.put(b"a", &[b'a'; 100]).unwrap();
    db.sync().unwrap();
    db.put(b"b", &[b'b'; 6000]).unwrap(); // header in page 0, body into page 1
    db.put(b"c", &[b'c'; 5000]).unwrap(); // page 1 to page 2
    db.put(b"d", &[b'd'; 100]).unwrap(); // page 2
    let mut state = fs.live();
    drop(db);
    let seg = state.get_mut("0000000001.kseg").expect("segment 1");
    assert!(seg.len() > 3 * 4096 - 1000 && seg.len() < 3 * 4096);
    seg[4096..8192].fill(0);

    let db = Db::open(
        dir,
        minimal_options(SyncMode::Never, 1 << 20, &RecFs::new(&state)),
    )
    .unwrap_or_else(|e| panic!("an unsynced tail with a lost page must open, got: {e}"));
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&[b'a'; 100][..]));
    for k in [b"b", b"c", b"d"] {
        assert_eq!(db.get(k).unwrap(), None, "commits after the damage are cut");
    }
}
