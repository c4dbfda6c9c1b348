//! Streams a large object (1 GiB unless `KAT_BUCKET_STREAM_MB` says otherwise) through a
//! bucket and back, and measures that heap use stays bounded by the chunk size however
//! large the object is. Its own test binary: the allocator counts this process only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use katamari::{BucketOptions, Compression, Db, Options, PutOptions, SyncMode, DEFAULT_CHUNK_SIZE};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn size_mb() -> u64 {
    std::env::var("KAT_BUCKET_STREAM_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024)
}

/// Piece `i` of the content: a fixed random block with the piece number stamped in.
fn piece(block: &[u8], i: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(block);
    out[..8].copy_from_slice(&i.to_le_bytes());
}

fn stream(label: &str, opts: BucketOptions, mb: u64) {
    const PIECE: usize = 256 << 10;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().sync(SyncMode::Never)).unwrap();
    let b = db.bucket(b"big", &opts).unwrap();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let block: Vec<u8> = (0..PIECE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let pieces = mb * (1 << 20) / PIECE as u64;
    let mut buf = Vec::with_capacity(PIECE);

    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut w = b.writer(b"object", &PutOptions::default()).unwrap();
    for i in 0..pieces {
        piece(&block, i, &mut buf);
        w.write(&buf).unwrap();
    }
    let info = w.commit().unwrap();
    let wrote = started.elapsed();
    let write_peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(info.size, pieces * PIECE as u64);

    PEAK.store(CURRENT.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = CURRENT.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut r = b.reader(b"object", None).unwrap().unwrap();
    let mut got = vec![0; PIECE];
    for i in 0..pieces {
        let mut filled = 0;
        while filled < PIECE {
            let n = r.read(&mut got[filled..]).unwrap();
            assert!(n > 0, "object ends early");
            filled += n;
        }
        piece(&block, i, &mut buf);
        assert!(got == buf, "piece {i} differs");
    }
    assert_eq!(r.read(&mut got).unwrap(), 0);
    let read = started.elapsed();
    let read_peak = PEAK.load(Ordering::Relaxed) - base;
    let mib = |n: usize| n as f64 / (1 << 20) as f64;
    println!(
        "{label}: {mb} MiB written in {wrote:.2?} (heap peak {:.1} MiB), read and checked in {read:.2?} (heap peak {:.1} MiB), stored {} bytes",
        mib(write_peak),
        mib(read_peak),
        info.stored_size
    );
    // A few chunks' worth of buffers (pending chunk, encoded chunk, a read chunk and its
    // decoding) whatever the object size.
    let bound = 8 * DEFAULT_CHUNK_SIZE as usize;
    assert!(
        write_peak < bound,
        "{label}: writing peaked at {write_peak} heap bytes"
    );
    assert!(
        read_peak < bound,
        "{label}: reading peaked at {read_peak} heap bytes"
    );
}

#[test]
fn large_objects_stream_in_bounded_memory() {
    let mb = size_mb();
    stream("uncompressed", BucketOptions::default(), mb);
    stream(
        "zstd+encrypted",
        BucketOptions::default()
            .compression(Compression::Zstd(1))
            .encryption_key(&[5; 32]),
        (mb / 16).max(1),
    );
}
