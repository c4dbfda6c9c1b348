//! Criterion benchmarks of the engine through the safe Rust API.
//!
//! `cargo bench --bench engine` runs everything (about 75 s on a 2-core machine).
//! `KAT_BENCH_QUICK=1 cargo bench --bench engine`, criterion's test mode
//! (`cargo bench --bench engine -- --test`) and `cargo test --benches` use tiny sizes
//! and finish in seconds: a smoke run for CI.
//!
//! Keys are 16 random bytes from a fixed-seed SplitMix64, values 100 bytes. Workloads:
//!
//! - `durable_put/threads/{1,4}`: single puts under `SyncMode::Always`; with 4 threads
//!   concurrent committers share fsyncs (group commit). One iteration is one put per
//!   thread; the reported throughput is total puts per second. Run first, before the
//!   other groups have written gigabytes that would slow the fsyncs.
//! - `put/batched_1000_nosync`: random puts, 1,000 per `WriteBatch`, `SyncMode::Never`
//!   (building the batch is timed: it is part of what a caller pays).
//! - `put/single_nosync`: one random `put` per call, `SyncMode::Never`.
//! - `get/random_hit/1000000`: random `get` of present keys in a database filled once,
//!   before timing, with 1M keys; one thread.
//!
//! Before the timed groups, the keydir memory report fills that 1M-key database and
//! measures live heap bytes with a counting global allocator, next to the engine's own
//! estimate (`Stats::keydir_bytes`). After the durable group, interleaved 1-thread and
//! 4-thread rounds measure the group-commit ratio under identical disk conditions. At the
//! end a summary prints ops/s for every workload (means over all timed runs, warm-up
//! included), the durable 4:1 ratio and the project's targets.
//!
//! Put databases grow across samples and are replaced (outside the timed region) once
//! they hold 4M keys, to bound disk and memory use.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use katamari::{Db, IterOptions, Options, SyncMode, TxnOptions, WriteBatch};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------
// Counting allocator: live heap bytes, counted only while `COUNTING` is on so the timed
// benchmarks pay a relaxed load and nothing more.

struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

#[inline]
fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE_BYTES.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counter has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn live_bytes() -> isize {
    LIVE_BYTES.load(Ordering::SeqCst)
}

/// Resident set size of this process in bytes (0 where /proc is missing).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

// ---------------------------------------------------------------------------------------
// Keys and values.

const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;
const BATCH: usize = 1_000;
const SEED_FILL: u64 = 0x6b61_7461_6d61_7269; // "katamari"
const SEED_PUT: u64 = 0x0123_4567_89ab_cdef;
const SEED_GET: u64 = 0xfeed_f00d_dead_beef;
const SEED_DURABLE: u64 = 0x5eed_0000_0000_0001;
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64: a tiny, fast, fixed-seed generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }
    fn key(&mut self) -> [u8; KEY_LEN] {
        let mut k = [0u8; KEY_LEN];
        k[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        k[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        k
    }
    /// Uniform-enough index below `n` (n is far below 2^32; the modulo bias is nil).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Key number `i` of the stream seeded with `seed`: the same bytes the `i`-th
/// `SplitMix64::new(seed).key()` call returns, computed without storing the keys.
fn key_at(seed: u64, i: u64) -> [u8; KEY_LEN] {
    let mut r = SplitMix64::new(seed.wrapping_add((2 * i).wrapping_mul(GOLDEN)));
    r.key()
}

fn value() -> [u8; VALUE_LEN] {
    let mut r = SplitMix64::new(42);
    let mut v = [0u8; VALUE_LEN];
    for chunk in v.chunks_mut(8) {
        let x = r.next_u64().to_le_bytes();
        chunk.copy_from_slice(&x[..chunk.len()]);
    }
    v
}

// ---------------------------------------------------------------------------------------
// Sizes and criterion settings.

struct Plan {
    quick: bool,
    /// Keys in the database of the get benchmark and the memory report.
    fill_keys: u64,
    /// Put databases are replaced once they hold this many keys.
    reset_keys: u64,
    warm_up: Duration,
    measure: Duration,
    durable_measure: Duration,
    samples: usize,
}

impl Plan {
    fn from_env() -> Plan {
        let args: Vec<String> = std::env::args().collect();
        let has = |flag: &str| args.iter().any(|a| a == flag);
        // Criterion's own rule: without `--bench` (cargo test --benches) or with `--test`
        // each benchmark runs once as a test; use tiny sizes then too.
        let test_mode = !has("--bench") || has("--test");
        let env_quick = std::env::var("KAT_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        if env_quick || test_mode || has("--list") {
            Plan {
                quick: true,
                fill_keys: 20_000,
                reset_keys: 200_000,
                warm_up: Duration::from_millis(50),
                measure: Duration::from_millis(200),
                durable_measure: Duration::from_millis(200),
                samples: 10,
            }
        } else {
            Plan {
                quick: false,
                fill_keys: 1_000_000,
                reset_keys: 4_000_000,
                warm_up: Duration::from_secs(2),
                measure: Duration::from_secs(8),
                durable_measure: Duration::from_secs(8),
                samples: 30,
            }
        }
    }

    fn configure(&self, g: &mut BenchmarkGroup<'_, WallTime>) {
        g.sample_size(self.samples)
            .warm_up_time(self.warm_up)
            .measurement_time(self.measure);
    }
}

/// Total operations and time of one workload over every timed run.
struct Tally {
    ops: AtomicU64,
    nanos: AtomicU64,
}

impl Tally {
    const fn new() -> Tally {
        Tally {
            ops: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
        }
    }
    fn add(&self, ops: u64, took: Duration) {
        self.ops.fetch_add(ops, Ordering::Relaxed);
        self.nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }
    fn ops_per_sec(&self) -> Option<f64> {
        let (ops, nanos) = (
            self.ops.load(Ordering::Relaxed),
            self.nanos.load(Ordering::Relaxed),
        );
        (nanos > 0).then(|| ops as f64 * 1e9 / nanos as f64)
    }
}

static T_PUT_BATCHED: Tally = Tally::new();
static T_PUT_SINGLE: Tally = Tally::new();
static T_GET: Tally = Tally::new();
static T_DURABLE_1: Tally = Tally::new();
static T_DURABLE_4: Tally = Tally::new();
static T_READ_TXN: Tally = Tally::new();
static T_SCAN: Tally = Tally::new();

// ---------------------------------------------------------------------------------------
// Databases.

fn open(path: &Path, sync: SyncMode) -> Db {
    Db::open(path, Options::default().sync(sync)).expect("open database")
}

/// A database that bench iterations keep writing into, replaced by an empty one (outside
/// the timed region) once it holds `cap` keys.
struct GrowingDb {
    root: PathBuf,
    name: &'static str,
    sync: SyncMode,
    cap: u64,
    generation: u32,
    keys: u64,
    db: Option<(PathBuf, Db)>,
}

impl GrowingDb {
    fn new(root: &Path, name: &'static str, sync: SyncMode, cap: u64) -> GrowingDb {
        GrowingDb {
            root: root.to_path_buf(),
            name,
            sync,
            cap,
            generation: 0,
            keys: 0,
            db: None,
        }
    }

    /// The database to write `upcoming` more keys into; call outside the timed region.
    fn prepare(&mut self, upcoming: u64) -> Db {
        if self.db.is_some() && self.keys + upcoming > self.cap && self.keys > 0 {
            self.drop_db();
        }
        if self.db.is_none() {
            self.generation += 1;
            let path = self.root.join(format!("{}-{}", self.name, self.generation));
            let db = open(&path, self.sync);
            self.db = Some((path, db));
            self.keys = 0;
        }
        self.keys += upcoming;
        self.db.as_ref().expect("opened above").1.clone()
    }

    fn drop_db(&mut self) {
        if let Some((path, db)) = self.db.take() {
            db.close().expect("close database");
            drop(db);
            std::fs::remove_dir_all(&path).expect("remove database");
        }
    }
}

impl Drop for GrowingDb {
    fn drop(&mut self) {
        self.drop_db();
    }
}

/// Puts `n` keys (`key_at(SEED_FILL, 0..n)`) in batches of `BATCH`.
fn fill(db: &Db, n: u64) {
    let v = value();
    let mut batch = WriteBatch::new();
    let mut r = SplitMix64::new(SEED_FILL);
    let mut i = 0;
    while i < n {
        batch.clear();
        let end = (i + BATCH as u64).min(n);
        while i < end {
            batch.put(&r.key(), &v).expect("batch put");
            i += 1;
        }
        db.write(&batch).expect("write batch");
    }
}

// ---------------------------------------------------------------------------------------
// Keydir memory report.

fn per_key(bytes: f64, keys: u64) -> f64 {
    bytes / keys as f64
}

fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Fills the get database while measuring its heap growth and prints it next to the
/// engine's estimate. Returns the filled database and the bytes per key beyond the key.
fn keydir_memory_report(plan: &Plan, dir: &Path) -> (Db, f64) {
    let n = plan.fill_keys;
    let path = dir.join("get-1m");

    COUNTING.store(true, Ordering::SeqCst);
    let db = open(&path, SyncMode::Never);
    let heap0 = live_bytes();
    let rss0 = rss_bytes();
    let t = Instant::now();
    fill(&db, n);
    let fill_time = t.elapsed();
    let heap1 = live_bytes();
    let rss1 = rss_bytes();
    COUNTING.store(false, Ordering::SeqCst);
    let stats = db.stats().expect("stats");
    assert_eq!(stats.live_keys, n, "random keys collided");

    let db_heap = (heap1 - heap0) as f64;
    let db_rss = rss1.saturating_sub(rss0) as f64;
    let est = stats.keydir_bytes as f64;
    let key = KEY_LEN as f64;
    println!();
    println!(
        "=== keydir memory: {} random {KEY_LEN}-byte keys, {VALUE_LEN}-byte values ===",
        grouped(n)
    );
    println!(
        "Db filled with {}-op WriteBatches (SyncMode::Never) in {:.2} s ({:.0} ops/s):",
        BATCH,
        fill_time.as_secs_f64(),
        n as f64 / fill_time.as_secs_f64()
    );
    println!(
        "  live heap growth (counting allocator): {:>12} B = {:6.1} B/key total, {:6.1} B/key beyond the key",
        grouped(db_heap as u64),
        per_key(db_heap, n),
        per_key(db_heap, n) - key
    );
    println!(
        "  RSS growth (heap + malloc overhead):   {:>12} B = {:6.1} B/key total, {:6.1} B/key beyond the key",
        grouped(db_rss as u64),
        per_key(db_rss, n),
        per_key(db_rss, n) - key
    );
    println!(
        "  stats().keydir_bytes (estimate):       {:>12} B = {:6.1} B/key total, {:6.1} B/key beyond the key  (estimate/measured = {:.3})",
        grouped(stats.keydir_bytes),
        per_key(est, n),
        per_key(est, n) - key,
        est / db_heap
    );
    println!(
        "  (the heap growth also holds the writer's reusable batch buffer, ~{} B, {:.2} B/key)",
        grouped(BATCH as u64 * (36 + KEY_LEN + VALUE_LEN) as u64),
        (BATCH * (36 + KEY_LEN + VALUE_LEN)) as f64 / n as f64
    );
    let beyond = per_key(db_heap, n) - key;
    if plan.quick {
        println!("target: not judged in quick mode (the writer's batch buffer dominates)");
    } else {
        println!(
            "target: <= 64 B/key beyond the key -> {} ({beyond:.1})",
            verdict(beyond <= 64.0)
        );
    }
    println!();
    (db, beyond)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "MET"
    } else {
        "MISSED"
    }
}

// ---------------------------------------------------------------------------------------
// Benchmarks.

fn bench_put(c: &mut Criterion, plan: &Plan, dir: &Path) {
    let v = value();
    let mut g = c.benchmark_group("put");
    plan.configure(&mut g);

    let mut target = GrowingDb::new(dir, "put-batched", SyncMode::Never, plan.reset_keys);
    let mut rng = SplitMix64::new(SEED_PUT);
    let mut batch = WriteBatch::new();
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("batched_1000_nosync", |b| {
        b.iter_custom(|iters| {
            let db = target.prepare(iters * BATCH as u64);
            let start = Instant::now();
            for _ in 0..iters {
                batch.clear();
                for _ in 0..BATCH {
                    batch.put(&rng.key(), &v).expect("batch put");
                }
                db.write(&batch).expect("write batch");
            }
            let took = start.elapsed();
            T_PUT_BATCHED.add(iters * BATCH as u64, took);
            took
        })
    });
    drop(target);

    let mut target = GrowingDb::new(dir, "put-single", SyncMode::Never, plan.reset_keys);
    g.throughput(Throughput::Elements(1));
    g.bench_function("single_nosync", |b| {
        b.iter_custom(|iters| {
            let db = target.prepare(iters);
            let start = Instant::now();
            for _ in 0..iters {
                db.put(&rng.key(), &v).expect("put");
            }
            let took = start.elapsed();
            T_PUT_SINGLE.add(iters, took);
            took
        })
    });
    drop(target);
    g.finish();
}

fn bench_get(c: &mut Criterion, plan: &Plan, db: &Db) {
    let n = plan.fill_keys;
    let v = value();
    // Correctness once, outside timing: first, last and a random key are present.
    for i in [0, n - 1, n / 2] {
        let got = db.get(&key_at(SEED_FILL, i)).expect("get");
        assert_eq!(got.as_deref(), Some(&v[..]), "key {i} of the fill");
    }

    let mut g = c.benchmark_group("get");
    plan.configure(&mut g);
    g.throughput(Throughput::Elements(1));
    let mut rng = SplitMix64::new(SEED_GET);
    g.bench_function(BenchmarkId::new("random_hit", n), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let k = key_at(SEED_FILL, rng.below(n));
                black_box(db.get(black_box(&k)).expect("get"));
            }
            let took = start.elapsed();
            T_GET.add(iters, took);
            took
        })
    });
    g.finish();
}

static DURABLE_SEED: AtomicU64 = AtomicU64::new(SEED_DURABLE);

/// `threads` threads each put `per_thread` random keys into `db`; returns the time from
/// the moment all are ready until the last finishes.
fn durable_round(db: &Db, threads: usize, per_thread: u64) -> Duration {
    let v = value();
    let start_line = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (start_line, v) = (&start_line, &v);
                let seed = DURABLE_SEED.fetch_add(GOLDEN, Ordering::Relaxed);
                s.spawn(move || {
                    let mut rng = SplitMix64::new(seed);
                    start_line.wait();
                    for _ in 0..per_thread {
                        db.put(&rng.key(), v).expect("durable put");
                    }
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        for w in workers {
            w.join().expect("worker");
        }
        start.elapsed()
    })
}

fn bench_durable(c: &mut Criterion, plan: &Plan, dir: &Path) {
    let mut g = c.benchmark_group("durable_put");
    plan.configure(&mut g);
    // Each iteration is one fsync or so (~0.1-1 ms here): flat sampling keeps the
    // iteration count the same in every sample.
    g.sampling_mode(SamplingMode::Flat)
        .measurement_time(plan.durable_measure);

    for (threads, tally) in [(1usize, &T_DURABLE_1), (4, &T_DURABLE_4)] {
        let mut target = GrowingDb::new(dir, "durable", SyncMode::Always, plan.reset_keys);
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter_custom(|iters| {
                let db = target.prepare(iters * threads as u64);
                let took = durable_round(&db, threads, iters);
                tally.add(iters * threads as u64, took);
                took
            })
        });
    }
    g.finish();
}

/// Result of [`durable_interleaved`].
#[derive(Default)]
struct Interleaved {
    /// Total puts per second over all 1-thread rounds.
    one: f64,
    /// Total puts per second over all 4-thread rounds.
    four: f64,
    /// 4-thread over 1-thread throughput of each adjacent pair of rounds, sorted.
    ratios: Vec<f64>,
}

impl Interleaved {
    fn median(&self) -> Option<f64> {
        self.ratios.get(self.ratios.len() / 2).copied()
    }
}

/// fsync latency on a shared virtual disk drifts by several times within minutes, so two
/// criterion groups run one after the other can see different disks. This check
/// alternates short 1-thread and 4-thread rounds on one database so each pair sees the
/// same conditions; the median pair ratio is what the 3x target is judged on.
fn durable_interleaved(plan: &Plan, dir: &Path) -> Interleaved {
    let (rounds, per_thread) = if plan.quick { (3, 20) } else { (15, 150) };
    let path = dir.join("durable-interleaved");
    let db = open(&path, SyncMode::Always);
    let (mut one, mut four) = (Duration::ZERO, Duration::ZERO);
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let t1 = durable_round(&db, 1, per_thread);
        let t4 = durable_round(&db, 4, per_thread);
        ratios.push(4.0 * t1.as_secs_f64() / t4.as_secs_f64());
        one += t1;
        four += t4;
    }
    db.close().expect("close");
    drop(db);
    std::fs::remove_dir_all(&path).expect("remove database");
    ratios.sort_by(f64::total_cmp);
    let ops = (rounds * per_thread) as f64;
    Interleaved {
        one: ops / one.as_secs_f64(),
        four: 4.0 * ops / four.as_secs_f64(),
        ratios,
    }
}

/// MVCC costs: a read-only transaction around one get, a full ordered scan.
fn bench_mvcc(c: &mut Criterion, plan: &Plan, db: &Db) {
    let n = plan.fill_keys;
    let mut g = c.benchmark_group("mvcc");
    plan.configure(&mut g);
    g.throughput(Throughput::Elements(1));
    let mut rng = SplitMix64::new(SEED_GET ^ 1);
    let read_only = TxnOptions {
        read_only: true,
        ..TxnOptions::default()
    };
    g.bench_function(BenchmarkId::new("read_txn_get", n), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let k = key_at(SEED_FILL, rng.below(n));
                let mut tx = db.begin_with(read_only).expect("begin");
                black_box(tx.get(black_box(&k)).expect("get"));
                tx.commit().expect("commit");
            }
            let took = start.elapsed();
            T_READ_TXN.add(iters, took);
            took
        })
    });
    g.throughput(Throughput::Elements(n));
    g.sample_size(10.max(plan.samples / 3));
    g.bench_function(BenchmarkId::new("full_scan", n), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let mut seen = 0u64;
                for entry in db.iter(&IterOptions::default()).expect("iter") {
                    black_box(entry.expect("entry"));
                    seen += 1;
                }
                assert_eq!(seen, n, "a full scan sees every key");
            }
            let took = start.elapsed();
            T_SCAN.add(iters * n, took);
            took
        })
    });
    g.finish();
}

/// Share of read-modify-write transactions that hit a conflict: 4 threads increment
/// counters spread over `hot` keys; each conflict is retried until it commits.
fn conflict_rate(dir: &Path, hot: u64, per_thread: u64) -> (f64, f64) {
    let db = open(dir, SyncMode::Never);
    let attempts = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (db, attempts) = (&db, &attempts);
            s.spawn(move || {
                let mut rng = SplitMix64::new(t + 7);
                for _ in 0..per_thread {
                    let key = rng.below(hot).to_be_bytes();
                    loop {
                        attempts.fetch_add(1, Ordering::Relaxed);
                        let mut tx = db.begin().expect("begin");
                        let n = tx
                            .get(&key)
                            .expect("get")
                            .map_or(0, |v| u64::from_le_bytes(v.try_into().expect("u64")));
                        tx.put(&key, &(n + 1).to_le_bytes()).expect("put");
                        match tx.commit() {
                            Ok(_) => break,
                            Err(katamari::Error::Conflict) => continue,
                            Err(e) => panic!("commit: {e}"),
                        }
                    }
                }
            });
        }
    });
    let took = start.elapsed();
    let total: u64 = (0..hot)
        .map(|k| {
            db.get(&k.to_be_bytes())
                .expect("get")
                .map_or(0, |v| u64::from_le_bytes(v.try_into().expect("u64")))
        })
        .sum();
    assert_eq!(total, 4 * per_thread, "every increment landed exactly once");
    let tries = attempts.load(Ordering::Relaxed) as f64;
    let commits = (4 * per_thread) as f64;
    db.close().expect("close");
    ((tries - commits) / tries, commits / took.as_secs_f64())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

// ---------------------------------------------------------------------------------------

fn rate(t: &Tally) -> String {
    t.ops_per_sec()
        .map_or_else(|| "not run".to_string(), |r| format!("{r:>14.0} ops/s"))
}

fn summary(plan: &Plan, keydir_beyond: Option<f64>, interleaved: &Interleaved, load: &str) {
    println!();
    println!("=== summary (mean over all timed runs, warm-up included) ===");
    if plan.quick {
        println!("(quick mode: tiny sizes and runs; figures are not meaningful)");
    }
    println!("put, 1,000-op batches, no fsync : {}", rate(&T_PUT_BATCHED));
    println!("put, single, no fsync           : {}", rate(&T_PUT_SINGLE));
    println!("get, random hit, 1 thread       : {}", rate(&T_GET));
    println!("durable put, 1 thread           : {}", rate(&T_DURABLE_1));
    println!("durable put, 4 threads          : {}", rate(&T_DURABLE_4));
    println!("read-only txn begin+get+commit  : {}", rate(&T_READ_TXN));
    if let Some((get, txn)) = T_GET.ops_per_sec().zip(T_READ_TXN.ops_per_sec()) {
        println!(
            "  overhead over a bare get      : {:.0}%",
            (get / txn - 1.0) * 100.0
        );
    }
    println!(
        "full ordered scan               : {}",
        rate(&T_SCAN).replace("ops/s", "keys/s")
    );
    if let Some((four, one)) = T_DURABLE_4.ops_per_sec().zip(T_DURABLE_1.ops_per_sec()) {
        println!("durable 4 threads / 1 thread    : {:.2}x", four / one);
    }
    if let (Some(median), Some(lo), Some(hi)) = (
        interleaved.median(),
        interleaved.ratios.first(),
        interleaved.ratios.last(),
    ) {
        println!(
            "durable, interleaved rounds     : {:>14.0} ops/s (1 thread, {:.0} us/put), {:.0} ops/s (4 threads)",
            interleaved.one,
            1e6 / interleaved.one,
            interleaved.four
        );
        println!(
            "  4:1 ratio per round pair      : median {median:.2}x (min {lo:.2}x, max {hi:.2}x, {} pairs)",
            interleaved.ratios.len()
        );
    }
    println!(
        "load average at start / end     : {load} / {}",
        load_average()
    );
    if plan.quick {
        return;
    }
    println!("targets:");
    if let Some(r) = T_PUT_BATCHED.ops_per_sec() {
        println!(
            "  batched put >= 1,000,000 ops/s       : {}",
            verdict(r >= 1e6)
        );
    }
    if let Some(r) = T_GET.ops_per_sec() {
        println!(
            "  random get >= 1,000,000 ops/s        : {}",
            verdict(r >= 1e6)
        );
    }
    if let Some(r) = interleaved.median() {
        println!(
            "  durable 4 threads >= 3x 1 thread     : {} (median of interleaved round pairs)",
            verdict(r >= 3.0)
        );
    }
    if let Some(b) = keydir_beyond {
        println!(
            "  keydir <= 64 B/key beyond the key    : {}",
            verdict(b <= 64.0)
        );
    }
}

fn main() {
    let plan = Plan::from_env();
    // Listing needs no figures; `--profile-time` (for profilers) wants only the workload.
    let listing = std::env::args().any(|a| a == "--list");
    let skip_report = listing || std::env::args().any(|a| a.starts_with("--profile-time"));
    let tmp = TempDir::new().expect("temp dir");
    if plan.quick {
        println!("katamari benches: quick mode (tiny sizes; not for figures)");
    }

    let load = load_average();
    let (get_db, beyond) = if skip_report {
        let db = open(&tmp.path().join("get"), SyncMode::Never);
        fill(&db, plan.fill_keys);
        (db, None)
    } else {
        let (db, beyond) = keydir_memory_report(&plan, tmp.path());
        (db, Some(beyond))
    };
    // Nothing of the fill may still be in flight to disk when fsync latency is timed.
    get_db.sync().expect("sync get database");

    let mut c = Criterion::default().configure_from_args();

    // Durable puts first: the gigabytes the other groups write would slow the fsyncs.
    bench_durable(&mut c, &plan, tmp.path());
    let interleaved = if skip_report {
        Interleaved::default()
    } else {
        durable_interleaved(&plan, tmp.path())
    };
    bench_put(&mut c, &plan, tmp.path());
    bench_get(&mut c, &plan, &get_db);
    bench_mvcc(&mut c, &plan, &get_db);
    get_db.close().expect("close get database");
    if !skip_report {
        let per_thread = if plan.quick { 200 } else { 20_000 };
        for hot in [10u64, 1_000] {
            let dir = tmp.path().join(format!("contention-{hot}"));
            let (rate, tps) = conflict_rate(&dir, hot, per_thread);
            println!(
                "conflicts, 4 threads over {hot:>5} hot keys: {:.1}% of attempts ({tps:.0} commits/s)",
                rate * 100.0
            );
        }
    }
    drop(get_db);

    c.final_summary();
    if !skip_report {
        summary(&plan, beyond, &interleaved, &load);
    }
}
