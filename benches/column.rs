//! Column throughput: `extend` of f64 in batches of 10,000, single appends through an
//! appender, random `get`, full sequential read, and variable-bytes appends.
//!
//! `cargo bench --bench column` (release, sync-never: the page cache). `KAT_BENCH_QUICK=1`
//! shrinks the volumes; `KAT_BENCH_DIR` places the databases.

use std::time::Instant;

use katamari::{ColumnType, Db, Options, SyncMode};

fn quick() -> bool {
    std::env::var_os("KAT_BENCH_QUICK").is_some()
}

fn tempdir() -> tempfile::TempDir {
    match std::env::var_os("KAT_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn open(dir: &tempfile::TempDir) -> Db {
    Db::open(dir.path(), Options::default().sync(SyncMode::Never)).unwrap()
}

fn per_sec(n: u64, secs: f64) -> String {
    let r = n as f64 / secs;
    if r >= 1e6 {
        format!("{:.1}M", r / 1e6)
    } else {
        format!("{:.0}k", r / 1e3)
    }
}

fn main() {
    let n: u64 = if quick() { 1_000_000 } else { 10_000_000 };
    let dir = tempdir();
    let db = open(&dir);

    // extend: 10,000 f64 per call.
    let col = db.create_column(b"f", ColumnType::F64).unwrap();
    let batch: Vec<f64> = (0..10_000).map(|i| i as f64 * 0.5).collect();
    let started = Instant::now();
    for _ in 0..n / 10_000 {
        col.extend_f64(&batch).unwrap();
    }
    let t = started.elapsed().as_secs_f64();
    println!(
        "extend f64, batches of 10,000: {} values/s ({:.0} MB/s) [target >= 100M values/s]",
        per_sec(n, t),
        n as f64 * 8.0 / t / 1e6
    );

    // Single appends through an appender.
    let ints = db.create_column(b"i", ColumnType::I64).unwrap();
    let started = Instant::now();
    {
        let mut a = ints.appender().unwrap();
        for i in 0..n as i64 {
            a.append_i64(i).unwrap();
        }
        a.flush().unwrap();
    }
    let t = started.elapsed().as_secs_f64();
    println!(
        "append i64 one at a time (appender): {} values/s [target >= 5M/s]",
        per_sec(n, t)
    );

    // One-shot appends, each its own commit.
    let m = n / 100;
    let single = db.create_column(b"s", ColumnType::I64).unwrap();
    let started = Instant::now();
    for i in 0..m as i64 {
        single.append(&i.to_le_bytes()).unwrap();
    }
    let t = started.elapsed().as_secs_f64();
    println!(
        "append i64, one commit each (sync-never): {} values/s",
        per_sec(m, t)
    );

    // Random gets.
    let gets = n / 10;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let started = Instant::now();
    let mut sum = 0.0;
    for _ in 0..gets {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum += col.get_f64((x % n) as i64).unwrap();
    }
    let t = started.elapsed().as_secs_f64();
    println!(
        "random get f64: {} values/s (checksum {sum})",
        per_sec(gets, t)
    );

    // Full sequential read in ranges of 1M values.
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut at = 0;
    while at < n {
        let end = (at + 1_000_000).min(n);
        bytes += col.range(at, end).unwrap().1.len() as u64;
        at = end;
    }
    let t = started.elapsed().as_secs_f64();
    println!(
        "sequential read f64: {:.2} GB/s ({} values/s)",
        bytes as f64 / t / 1e9,
        per_sec(n, t)
    );

    // Variable bytes: 100-byte values, 10,000 per extend.
    let var = db.create_column(b"v", ColumnType::VarBytes).unwrap();
    let value = [b'x'; 100];
    let mut data = Vec::new();
    let mut offsets = vec![0u64];
    for _ in 0..10_000 {
        data.extend_from_slice(&value);
        offsets.push(data.len() as u64);
    }
    let rounds = n / 100_000;
    let started = Instant::now();
    for _ in 0..rounds {
        var.extend_var(&offsets, &data).unwrap();
    }
    let t = started.elapsed().as_secs_f64();
    println!(
        "variable bytes append (100-byte values, 10,000 per extend): {:.0} MB/s",
        (rounds * data.len() as u64) as f64 / t / 1e6
    );
    db.close().unwrap();
}
