//! Merge and open benchmarks: open time with hint files against a full scan of the same
//! data, merge throughput, and write throughput while a merge runs.
//!
//! `cargo bench --bench merge` runs 1M and 10M keys (16-byte keys, 100-byte values;
//! about 2 GB of disk for 10M). `KAT_BENCH_KEYS=200000` picks one smaller size;
//! `KAT_BENCH_QUICK=1` runs 20,000 keys as a smoke test. Every figure is the median of
//! three runs where a run is cheap enough to repeat (open), once otherwise.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use katamari::{Db, Options, SyncMode};

const VALUE_LEN: usize = 100;

fn opts() -> Options {
    Options::default().sync(SyncMode::Never).auto_merge(None)
}

/// A 16-byte key spread over the key space (a multiplicative hash of `i`).
fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

fn fill(db: &Db, n: u64, round: u8) {
    let value = [round; VALUE_LEN];
    let mut batch = katamari::WriteBatch::new();
    for i in 0..n {
        batch.put(&key(i), &value).unwrap();
        if batch.len() == 1000 {
            db.write(&batch).unwrap();
            batch.clear();
        }
    }
    if !batch.is_empty() {
        db.write(&batch).unwrap();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median seconds to open the database at `dir` (and close it again).
fn open_secs(dir: &Path, want_keys: u64) -> f64 {
    median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let db = Db::open(dir, opts()).unwrap();
                let secs = t.elapsed().as_secs_f64();
                assert_eq!(db.stats().unwrap().live_keys, want_keys);
                db.close().unwrap();
                secs
            })
            .collect(),
    )
}

fn remove_hints(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "khint") {
            std::fs::remove_file(p).unwrap();
            n += 1;
        }
    }
    n
}

fn run(n: u64) {
    let tmp =
        tempfile::tempdir_in(std::env::var_os("KAT_BENCH_DIR").unwrap_or(".".into())).unwrap();
    let dir = tmp.path().join("db");
    println!("--- {n} keys, {VALUE_LEN}-byte values");

    // Fill, then overwrite every key once: half the log is dead.
    let db = Db::open(&dir, opts()).unwrap();
    fill(&db, n, 1);
    fill(&db, n, 2);
    db.close().unwrap();
    let log_open = open_secs(&dir, n);
    println!(
        "open, log of {} writes (full scan):  {log_open:.3} s",
        2 * n
    );

    // Merge alone.
    let db = Db::open(&dir, opts()).unwrap();
    let scan_log = scan_rate(&db, n);
    let m = db.merge().unwrap();
    let scan_merged = scan_rate(&db, n);
    println!(
        "ordered scan: {:.2} M keys/s over the log, {:.2} M keys/s after merge",
        scan_log / 1e6,
        scan_merged / 1e6
    );
    let secs = m.millis as f64 / 1000.0;
    println!(
        "merge: {:.1} MB in -> {:.1} MB out in {secs:.2} s = {:.0} MB/s read, {:.2} M records/s",
        m.input_bytes as f64 / 1e6,
        m.output_bytes as f64 / 1e6,
        m.input_bytes as f64 / 1e6 / secs,
        m.records as f64 / 1e6 / secs
    );
    db.close().unwrap();

    // Open with hint files, then the same merged data without them.
    let hinted = open_secs(&dir, n);
    println!("open, merged, with hint files:       {hinted:.3} s");
    let removed = remove_hints(&dir);
    assert!(removed > 0);
    let scanned = open_secs(&dir, n);
    println!(
        "open, merged, no hint files (scan):  {scanned:.3} s  -> hints {:.1}x faster than a scan, {:.1}x faster than the unmerged log",
        scanned / hinted,
        log_open / hinted
    );

    // Writes while a merge runs, against writes alone (same data, same batch size).
    let db = Db::open(&dir, opts()).unwrap();
    let alone = write_rate(&db, n, None);
    let merging = Arc::new(AtomicBool::new(true));
    let merger = {
        let db = db.clone();
        let flag = merging.clone();
        std::thread::spawn(move || {
            let mut merges = 0u64;
            while flag.load(Ordering::Acquire) {
                db.merge().unwrap();
                merges += 1;
            }
            merges
        })
    };
    let during = write_rate(&db, n, Some(&merging));
    merging.store(false, Ordering::Release);
    let merges = merger.join().unwrap();
    println!(
        "batched writes: {:.2} M/s alone, {:.2} M/s while merging ({merges} merges) = {:.2}x",
        alone / 1e6,
        during / 1e6,
        during / alone
    );
    db.close().unwrap();
}

/// Keys per second of a full ordered scan (median of three).
fn scan_rate(db: &Db, n: u64) -> f64 {
    median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let mut seen = 0u64;
                for e in db.iter(&katamari::IterOptions::default()).unwrap() {
                    std::hint::black_box(e.unwrap());
                    seen += 1;
                }
                assert_eq!(seen, n);
                n as f64 / t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Puts per second over `n / 4` keys in batches of 1,000 (stops early once a running
/// merge finishes, if `merging` is given, so every write overlaps a merge).
fn write_rate(db: &Db, n: u64, merging: Option<&AtomicBool>) -> f64 {
    let count = (n / 4).max(1000);
    let value = [9u8; VALUE_LEN];
    let done = AtomicU64::new(0);
    let t = Instant::now();
    let mut batch = katamari::WriteBatch::new();
    for i in 0..count {
        batch.put(&key(i), &value).unwrap();
        if batch.len() == 1000 {
            db.write(&batch).unwrap();
            batch.clear();
            done.fetch_add(1000, Ordering::Relaxed);
            if merging.is_some_and(|m| !m.load(Ordering::Acquire)) {
                break;
            }
        }
    }
    let secs = t.elapsed().as_secs_f64().max(1e-9);
    let _ = Duration::from_secs_f64(secs);
    done.load(Ordering::Relaxed) as f64 / secs
}

fn main() {
    // `cargo bench` passes --bench; `cargo test` runs benches in test mode with no flag.
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = !benching || std::env::var("KAT_BENCH_QUICK").is_ok_and(|v| v != "0");
    let sizes: Vec<u64> = if quick {
        vec![20_000]
    } else if let Ok(n) = std::env::var("KAT_BENCH_KEYS") {
        vec![n.parse().expect("KAT_BENCH_KEYS is a number")]
    } else {
        vec![1_000_000, 10_000_000]
    };
    for n in sizes {
        run(n);
    }
}
