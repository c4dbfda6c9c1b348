//! Bucket throughput: put and get MB/s of 4 KiB, 1 MiB and 100 MiB objects for each
//! codec (and encrypted), and a 1 GiB streamed write and read with the peak resident
//! memory it took.
//!
//! `cargo bench --bench bucket` (release). `KAT_BENCH_QUICK=1` shrinks every volume;
//! `KAT_BENCH_DIR` puts the databases somewhere else than the system temp directory;
//! `KAT_BENCH_STREAM_MB` sets the streamed object's size (default 1024).

use std::time::{Duration, Instant};

use katamari::{BucketOptions, Compression, Db, Options, PutOptions, SyncMode};

fn quick() -> bool {
    std::env::var_os("KAT_BENCH_QUICK").is_some()
}

fn tempdir() -> tempfile::TempDir {
    match std::env::var_os("KAT_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

/// Text-like content (words from a small vocabulary) that compresses about 3 to 4 times,
/// so the codecs have real work to do.
fn content(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "katamari ",
        "rolls ",
        "up ",
        "everything ",
        "log ",
        "segment ",
        "chunk ",
        "blob ",
        "version ",
        "merge ",
        "0x3f9a ",
        "17 ",
        "2026-11-22 ",
        "user:4711 ",
        "ok ",
        "\n",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x & 15) as usize].as_bytes());
        if x & 0x300 == 0 {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.truncate(len);
    out
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the kernel's peak-resident figure, so the next reading covers what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn codecs() -> Vec<(&'static str, BucketOptions)> {
    vec![
        ("none", BucketOptions::default()),
        (
            "zlib-6",
            BucketOptions::default().compression(Compression::Zlib(6)),
        ),
        (
            "zstd-3",
            BucketOptions::default().compression(Compression::Zstd(3)),
        ),
        (
            "none+enc",
            BucketOptions::default().encryption_key(&[9; 32]),
        ),
        (
            "zstd-3+enc",
            BucketOptions::default()
                .compression(Compression::Zstd(3))
                .encryption_key(&[9; 32]),
        ),
    ]
}

fn objects_table() {
    let scale = if quick() { 8 } else { 1 };
    let shapes: [(&str, usize, usize); 3] = [
        ("4 KiB", 4 << 10, 20_000 / scale),
        ("1 MiB", 1 << 20, 200 / scale),
        ("100 MiB", 100 << 20, (3 / scale).max(1)),
    ];
    println!(
        "{:<8} {:<11} {:>8} {:>10} {:>10} {:>8}",
        "object", "codec", "count", "put MB/s", "get MB/s", "stored"
    );
    for (label, size, count) in shapes {
        let bodies: Vec<Vec<u8>> = (0..count.min(8)).map(|i| content(size, i as u64)).collect();
        for (codec, opts) in codecs() {
            let dir = tempdir();
            let db = Db::open(dir.path(), Options::default().sync(SyncMode::Never)).unwrap();
            let b = db.bucket(b"bench", &opts).unwrap();
            let keys: Vec<Vec<u8>> = (0..count)
                .map(|i| format!("obj/{i:08}").into_bytes())
                .collect();
            let started = Instant::now();
            let mut stored = 0u64;
            for (i, k) in keys.iter().enumerate() {
                stored += b
                    .put(k, &bodies[i % bodies.len()], &PutOptions::default())
                    .unwrap()
                    .stored_size;
            }
            db.sync().unwrap();
            let put = started.elapsed();
            let started = Instant::now();
            let mut read = 0u64;
            for k in &keys {
                read += b.get(k).unwrap().unwrap().1.len() as u64;
            }
            let get = started.elapsed();
            let total = (size * count) as u64;
            assert_eq!(read, total);
            println!(
                "{label:<8} {codec:<11} {count:>8} {:>10.0} {:>10.0} {:>7.0}%",
                mbps(total, put),
                mbps(total, get),
                100.0 * stored as f64 / total as f64
            );
            db.close().unwrap();
        }
    }
}

fn streaming() {
    let mb: u64 = std::env::var("KAT_BENCH_STREAM_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick() { 128 } else { 1024 });
    const PIECE: usize = 1 << 20;
    println!("\nstreamed object of {mb} MiB, written and read in {PIECE}-byte pieces:");
    println!(
        "{:<16} {:>10} {:>10} {:>14} {:>14}",
        "codec", "write MB/s", "read MB/s", "write peak RSS", "read peak RSS"
    );
    let piece = content(PIECE, 42);
    let runs = [
        ("none", SyncMode::Never),
        ("none", SyncMode::Always),
        ("zstd-3+enc", SyncMode::Never),
    ];
    for (codec, sync) in runs {
        let opts = codecs().into_iter().find(|(c, _)| *c == codec).unwrap().1;
        let dir = tempdir();
        let db = Db::open(dir.path(), Options::default().sync(sync)).unwrap();
        let codec = format!(
            "{codec}{}",
            if sync == SyncMode::Always {
                ", synced"
            } else {
                ""
            }
        );
        let b = db.bucket(b"stream", &opts).unwrap();
        reset_peak_rss();
        let base = status_kib("VmRSS:");
        let started = Instant::now();
        let mut w = b.writer(b"big", &PutOptions::default()).unwrap();
        for _ in 0..mb {
            w.write(&piece).unwrap();
        }
        w.commit().unwrap();
        let wrote = started.elapsed();
        let write_peak = status_kib("VmHWM:").saturating_sub(base);

        reset_peak_rss();
        let base = status_kib("VmRSS:");
        let started = Instant::now();
        let mut r = b.reader(b"big", None).unwrap().unwrap();
        let mut buf = vec![0u8; PIECE];
        let mut total = 0u64;
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        let read = started.elapsed();
        let read_peak = status_kib("VmHWM:").saturating_sub(base);
        assert_eq!(total, mb << 20);
        println!(
            "{codec:<16} {:>10.0} {:>10.0} {:>11.1} MiB {:>11.1} MiB",
            mbps(total, wrote),
            mbps(total, read),
            write_peak as f64 / 1024.0,
            read_peak as f64 / 1024.0
        );
        drop(r);
        db.close().unwrap();
    }
    println!(
        "(peak RSS: growth of the resident set over the process's size before the stream; \
         targets: <= 64 MiB, uncompressed write >= 500 MB/s, read >= 1000 MB/s in the page \
         cache; synced: sync-always, the write includes the final fdatasync)"
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    streaming();
    println!();
    objects_table();
}
