//! The workloads, run in a child process for one store and one repetition. Each figure
//! goes to standard output as a line `R <metric> <value>`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};

use crate::stores::{self, Key, Store};

/// Sizes and budgets of one run.
#[derive(Clone, Debug)]
pub struct Params {
    /// Keys in the small-value database.
    pub keys: usize,
    /// Bytes of each small value.
    pub value_len: usize,
    /// Keys per batch in fill and overwrite.
    pub batch: usize,
    /// Longest time each durable run takes.
    pub durable_secs: f64,
    /// Most commits a durable run makes (all threads together).
    pub durable_max: u64,
    /// Total value bytes of each large-value workload.
    pub big_bytes: u64,
}

impl Params {
    pub fn full() -> Params {
        Params {
            keys: 1_000_000,
            value_len: 100,
            batch: 1000,
            durable_secs: 2.0,
            durable_max: 20_000,
            big_bytes: 200 << 20,
        }
    }
    pub fn quick() -> Params {
        Params {
            keys: 100_000,
            value_len: 100,
            batch: 1000,
            durable_secs: 0.3,
            durable_max: 2_000,
            big_bytes: 20 << 20,
        }
    }
    /// Bytes of keys and values of the small-value database.
    pub fn raw_bytes(&self) -> u64 {
        (self.keys * (16 + self.value_len)) as u64
    }
}

/// Workload names accepted by `--workloads`.
pub const WORKLOADS: &[&str] = &[
    "fill",
    "read",
    "scan",
    "overwrite",
    "open",
    "durable",
    "value4k",
    "value1m",
];

fn emit(metric: &str, value: f64) {
    println!("R {metric} {value}");
}

fn note(store: &str, msg: &str) {
    eprintln!("  [{store}] {msg}");
}

/// Deterministic random bytes: values are slices of this pool at random offsets, so they
/// do not compress and cost nothing to generate while timed.
struct Pool {
    bytes: Vec<u8>,
}

impl Pool {
    fn new(len: usize, seed: u64) -> Pool {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes);
        Pool { bytes }
    }
    fn value(&self, rng: &mut fastrand::Rng, len: usize) -> &[u8] {
        let at = rng.usize(0..=self.bytes.len() - len);
        &self.bytes[at..at + len]
    }
}

fn random_keys(n: usize, seed: u64) -> Vec<Key> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut keys = vec![[0u8; 16]; n];
    for k in &mut keys {
        rng.fill(k);
    }
    keys
}

fn shuffled(keys: &[Key], seed: u64) -> Vec<Key> {
    let mut v = keys.to_vec();
    fastrand::Rng::with_seed(seed).shuffle(&mut v);
    v
}

/// Allocated bytes of every file under `dir` (what `du` reports).
pub fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += disk_bytes(&e.path()),
                Ok(m) => total += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
}

/// A field of /proc/self/status in bytes (e.g. "VmHWM", "RssAnon").
pub fn proc_status_bytes(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

/// Samples anonymous resident memory every 20 ms and keeps the peak (VmHWM also counts
/// the file pages an mmap-based store maps).
struct AnonPeak {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl AnonPeak {
    fn start() -> AnonPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(proc_status_bytes("RssAnon"), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(20));
            }
        });
        AnonPeak {
            stop,
            peak,
            handle: Some(handle),
        }
    }
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak
            .load(Ordering::Relaxed)
            .max(proc_status_bytes("RssAnon"))
    }
}

/// Runs the selected workloads against `store` in a fresh directory under `root`.
pub fn run_child(
    store: &str,
    rep: u32,
    params: &Params,
    selected: &HashSet<String>,
    root: &Path,
) -> Result<()> {
    let dir = root.join(format!("{store}-{rep}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let seed = 0x6b61_7461_6d61_7269 ^ u64::from(rep);
    let keys = random_keys(params.keys, seed);
    let pool = Pool::new(8 << 20, seed ^ 1);
    emit("rss_base", proc_status_bytes("VmHWM") as f64);
    let anon = AnonPeak::start();
    let want = |w: &str| selected.contains(w);

    if ["fill", "read", "scan", "overwrite", "open"]
        .iter()
        .any(|w| want(w))
    {
        small_values(store, params, &keys, &pool, &dir.join("small"), &want)?;
    }
    drop(keys);
    if want("durable") {
        for threads in [1usize, 4] {
            let rate = durable(
                store,
                params,
                threads,
                &pool,
                &dir.join(format!("d{threads}")),
            )?;
            emit(&format!("durable{threads}"), rate.0);
            note(
                store,
                &format!(
                    "durable {threads}t: {:.0} commits/s ({} commits)",
                    rate.0, rate.1
                ),
            );
        }
    }
    if want("value4k") {
        large_values(store, params, 4 << 10, "v4k", &pool, &dir.join("v4k"))?;
    }
    if want("value1m") {
        large_values(store, params, 1 << 20, "v1m", &pool, &dir.join("v1m"))?;
    }
    emit("rss_peak", proc_status_bytes("VmHWM") as f64);
    emit("anon_peak", anon.finish() as f64);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn write_all(
    db: &dyn Store,
    keys: &[Key],
    pool: &Pool,
    rng: &mut fastrand::Rng,
    value_len: usize,
    batch: usize,
) -> Result<()> {
    let mut kvs: Vec<(&[u8], &[u8])> = Vec::with_capacity(batch);
    for chunk in keys.chunks(batch) {
        kvs.clear();
        for k in chunk {
            kvs.push((&k[..], pool.value(rng, value_len)));
        }
        db.write_batch(&kvs)?;
    }
    Ok(())
}

/// Reads `keys` with `threads` threads, each its share in chunks; returns (reads/s,
/// value bytes/s).
fn read_parallel(db: &dyn Store, keys: &[Key], threads: usize, chunk: usize) -> Result<(f64, f64)> {
    let parts: Vec<&[Key]> = keys.chunks(keys.len().div_ceil(threads).max(1)).collect();
    let barrier = Barrier::new(parts.len() + 1);
    let (elapsed, bytes) = thread::scope(|s| -> Result<(Duration, u64)> {
        let handles: Vec<_> = parts
            .iter()
            .map(|&part| {
                let barrier = &barrier;
                s.spawn(move || -> Result<u64> {
                    let reader = db.reader();
                    barrier.wait();
                    let mut reader = reader?;
                    let mut bytes = 0;
                    for c in part.chunks(chunk) {
                        bytes += reader.get_many(c)?;
                    }
                    Ok(bytes)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut bytes = 0;
        for h in handles {
            bytes += h.join().expect("reader thread panicked")?;
        }
        Ok((start.elapsed(), bytes))
    })?;
    let secs = elapsed.as_secs_f64();
    Ok((keys.len() as f64 / secs, bytes as f64 / secs))
}

fn small_values(
    store: &str,
    p: &Params,
    keys: &[Key],
    pool: &Pool,
    dir: &Path,
    want: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let n = keys.len();
    let mut rng = fastrand::Rng::with_seed(7);
    let db = stores::open(store, dir, false)?;
    let t = Instant::now();
    write_all(&*db, keys, pool, &mut rng, p.value_len, p.batch)?;
    db.sync()?;
    let fill = n as f64 / t.elapsed().as_secs_f64();
    emit("fill", fill);
    note(store, &format!("fill: {fill:.0} ops/s"));
    if let Some(b) = db.index_bytes() {
        emit("index_per_key", b as f64 / n as f64);
    }
    db.close()?;
    emit("size_fill", disk_bytes(dir) as f64);

    // Open right after the fill (for Katamari: no hint files yet, so the log is read).
    let t = Instant::now();
    let db = stores::open(store, dir, false)?;
    emit("open_fill_ms", t.elapsed().as_secs_f64() * 1e3);
    if want("read") {
        let order = shuffled(keys, 11);
        for threads in [1usize, 2] {
            let (rate, _) = read_parallel(&*db, &order, threads, 1000)?;
            emit(&format!("read{threads}"), rate);
            note(store, &format!("read {threads}t: {rate:.0} ops/s"));
        }
    }
    if want("scan") {
        let t = Instant::now();
        let (count, _) = db.scan()?;
        let rate = count as f64 / t.elapsed().as_secs_f64();
        ensure!(count == n as u64, "scan saw {count} keys, expected {n}");
        emit("scan", rate);
        note(store, &format!("scan: {rate:.0} keys/s"));
    }
    if want("overwrite") || want("open") {
        let order = shuffled(keys, 13);
        let mut rng = fastrand::Rng::with_seed(17);
        let t = Instant::now();
        write_all(&*db, &order, pool, &mut rng, p.value_len, p.batch)?;
        db.sync()?;
        let rate = n as f64 / t.elapsed().as_secs_f64();
        emit("overwrite", rate);
        note(store, &format!("overwrite: {rate:.0} ops/s"));
        db.close()?;
        emit("size_overwrite", disk_bytes(dir) as f64);

        let mut db = stores::open(store, dir, false)?;
        let t = Instant::now();
        if db.compact()? {
            emit("compact_secs", t.elapsed().as_secs_f64());
        }
        db.close()?;
        emit("size_compact", disk_bytes(dir) as f64);
    } else {
        db.close()?;
    }

    // Open of the 1M-key database (for Katamari after its merge, so hint files exist),
    // with one read to show it is usable.
    let t = Instant::now();
    let db = stores::open(store, dir, false)?;
    let secs = t.elapsed().as_secs_f64();
    let got = db.reader()?.get_many(&keys[n / 2..n / 2 + 1])?;
    ensure!(got == p.value_len as u64, "bad value length after reopen");
    emit("open_ms", secs * 1e3);
    note(store, &format!("open: {:.1} ms", secs * 1e3));
    db.close()?;
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// Single-put durable commits from `threads` threads for a bounded time and count;
/// returns commits/s and the number of commits.
fn durable(store: &str, p: &Params, threads: usize, pool: &Pool, dir: &Path) -> Result<(f64, u64)> {
    let db = stores::open(store, dir, true)?;
    let per_thread = (p.durable_max / threads as u64).max(1);
    let budget = Duration::from_secs_f64(p.durable_secs);
    let barrier = Barrier::new(threads);
    let (commits, elapsed) = thread::scope(|s| -> Result<(u64, Duration)> {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (db, barrier) = (&*db, &barrier);
                s.spawn(move || -> Result<(u64, Instant, Instant)> {
                    let mut rng = fastrand::Rng::with_seed(100 + i as u64);
                    let mut key = [0u8; 16];
                    barrier.wait();
                    let begin = Instant::now();
                    let mut done = 0;
                    while done < per_thread && begin.elapsed() < budget {
                        rng.fill(&mut key);
                        db.put_durable(&key, pool.value(&mut rng, p.value_len))?;
                        done += 1;
                    }
                    Ok((done, begin, Instant::now()))
                })
            })
            .collect();
        let mut commits = 0;
        let (mut first, mut last) = (None::<Instant>, None::<Instant>);
        for h in handles {
            let (c, b, e) = h.join().expect("writer thread panicked")?;
            commits += c;
            first = Some(first.map_or(b, |f| f.min(b)));
            last = Some(last.map_or(e, |l| l.max(e)));
        }
        let elapsed = match (first, last) {
            (Some(f), Some(l)) => l - f,
            _ => Duration::ZERO,
        };
        Ok((commits, elapsed))
    })?;
    db.close()?;
    std::fs::remove_dir_all(dir)?;
    if commits == 0 {
        bail!("no durable commit finished");
    }
    Ok((commits as f64 / elapsed.as_secs_f64(), commits))
}

/// Writes `p.big_bytes` of `len`-byte values (then one sync), reopens, and reads them
/// all back in random order; emits GB/s for both.
fn large_values(
    store: &str,
    p: &Params,
    len: usize,
    tag: &str,
    pool: &Pool,
    dir: &Path,
) -> Result<()> {
    let n = (p.big_bytes / len as u64).max(1) as usize;
    let keys = random_keys(n, 0xb16 ^ len as u64);
    let batch = ((1 << 20) / len).max(1);
    let mut rng = fastrand::Rng::with_seed(19);
    let db = stores::open(store, dir, false)?;
    let t = Instant::now();
    write_all(&*db, &keys, pool, &mut rng, len, batch)?;
    db.sync()?;
    let secs = t.elapsed().as_secs_f64();
    let total = (n * len) as f64;
    emit(&format!("{tag}_write"), total / secs);
    db.close()?;
    emit(&format!("{tag}_size"), disk_bytes(dir) as f64);

    let db = stores::open(store, dir, false)?;
    let order = shuffled(&keys, 23);
    let (_, bps) = read_parallel(&*db, &order, 1, batch.max(16))?;
    emit(&format!("{tag}_read"), bps);
    note(
        store,
        &format!(
            "{tag}: write {:.2} GB/s, read {:.2} GB/s",
            total / secs / 1e9,
            bps / 1e9
        ),
    );
    db.close()?;
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// Physical limits of this machine in the same run: an in-memory HashMap, pread of
/// 100 B at random offsets, and a 128-byte append + fdatasync loop.
pub fn run_limits(p: &Params, root: &Path) -> Result<()> {
    use std::collections::HashMap;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    let keys = random_keys(p.keys, 5);
    let mut map: HashMap<Key, Vec<u8>> = HashMap::new();
    let value = vec![7u8; p.value_len];
    let t = Instant::now();
    for k in &keys {
        map.insert(*k, value.clone());
    }
    emit(
        "limit_hash_insert",
        keys.len() as f64 / t.elapsed().as_secs_f64(),
    );
    let order = shuffled(&keys, 3);
    let t = Instant::now();
    let mut bytes = 0;
    for k in &order {
        bytes += map.get(k).map_or(0, |v| v.len());
    }
    ensure!(bytes == keys.len() * p.value_len, "hash map lost keys");
    emit(
        "limit_hash_get",
        keys.len() as f64 / t.elapsed().as_secs_f64(),
    );
    drop(map);

    let dir: PathBuf = root.join("limits");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("file");
    let len = p.raw_bytes();
    {
        let mut f = std::fs::File::create(&path)?;
        let chunk = vec![1u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
    }
    let f = std::fs::File::open(&path)?;
    let mut rng = fastrand::Rng::with_seed(9);
    let mut buf = [0u8; 100];
    let reads = p.keys;
    let t = Instant::now();
    for _ in 0..reads {
        f.read_exact_at(&mut buf, rng.u64(0..len - 100))?;
    }
    emit("limit_pread", reads as f64 / t.elapsed().as_secs_f64());

    // Into a preallocated file, as a log with preallocated segments does: growing the
    // file on every append would also make each fdatasync commit the new size.
    let log = dir.join("log");
    let rec = [3u8; 128];
    let budget = Duration::from_secs_f64(p.durable_secs);
    let slots = p.durable_max.max(1);
    {
        let mut f = std::fs::File::create(&log)?;
        f.write_all(&vec![0u8; (slots as usize) * rec.len()])?;
        f.sync_all()?;
    }
    let f = std::fs::OpenOptions::new().write(true).open(&log)?;
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < budget && n < slots {
        f.write_all_at(&rec, n * rec.len() as u64)?;
        f.sync_data()?;
        n += 1;
    }
    emit("limit_fdatasync", n as f64 / t.elapsed().as_secs_f64());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A field of /proc/meminfo in bytes.
pub fn proc_meminfo(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    s.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}
