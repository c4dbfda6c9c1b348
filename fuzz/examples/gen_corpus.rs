//! Writes the seed corpora of the fuzz targets into `<dir>/<target>/` (default
//! `fuzz/corpus`), then runs every seed through its target once (without libFuzzer) as a
//! smoke test. Regenerate with
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --no-default-features --example gen_corpus
//! ```
//!
//! Seeds are real files of small databases written by this build (segments, a merged
//! segment, hint files, the `MERGE` file of a committed merge) and hand-written C API
//! call sequences.

use std::fs;
use std::path::{Path, PathBuf};

use katamari_fuzz::capi::{op, Enc};
use katamari_fuzz::{capi, seg_name, targets};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join(name), bytes).unwrap();
}

fn with_flag(flag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![flag];
    v.extend_from_slice(bytes);
    v
}

fn segment_seeds(dir: &Path) {
    // One segment, closed cleanly (ends with an end marker).
    let fs = targets::small_db(1 << 20, false);
    let s1 = fs.file(&seg_name(1)).unwrap();
    write(dir, "segment", "clean-closed", &with_flag(0, &s1));
    write(dir, "segment", "clean-closed-fixed", &with_flag(1, &s1));
    // Cut short: a torn tail.
    write(
        dir,
        "segment",
        "torn-tail",
        &with_flag(0, &s1[..s1.len() - 45]),
    );
    // A flipped byte in the middle: damage.
    let mut d = s1.clone();
    let mid = d.len() / 2;
    d[mid] ^= 0x40;
    write(dir, "segment", "flipped-byte", &with_flag(0, &d));
    // Only the header: a segment created and never written.
    write(dir, "segment", "header-only", &with_flag(0, &s1[..40]));

    // Small segments: two consecutive data segments as two files.
    let fs = targets::small_db(1024, false);
    let (a, b) = (
        fs.file(&seg_name(1)).unwrap(),
        fs.file(&seg_name(2)).unwrap(),
    );
    let mut two = (a.len() as u16).to_le_bytes().to_vec();
    two.extend_from_slice(&a);
    two.extend_from_slice(&b);
    write(dir, "segment", "two-segments", &with_flag(2, &two));
    write(dir, "segment", "two-segments-fixed", &with_flag(3, &two));

    // A merged segment (kind 2) and the data segment after it.
    let fs = targets::small_db(1024, true);
    let mut names = fs.names();
    names.sort();
    let merged = names
        .iter()
        .find(|n| n.ends_with(".kseg") && fs.file(n).unwrap()[12] == 2)
        .expect("a merged segment");
    let m = fs.file(merged).unwrap();
    write(dir, "segment", "merged-fixed", &with_flag(1, &m));
    let last = names
        .iter()
        .rfind(|n| n.ends_with(".kseg") && fs.file(n).unwrap()[12] == 1)
        .expect("a data segment");
    let l = fs.file(last).unwrap();
    let mut two = (m.len() as u16).to_le_bytes().to_vec();
    two.extend_from_slice(&m);
    two.extend_from_slice(&l);
    write(
        dir,
        "segment",
        "merged-then-data-fixed",
        &with_flag(3, &two),
    );
}

fn hint_seeds(dir: &Path) {
    for (i, h) in targets::hint_seeds().iter().enumerate() {
        let sel = (i as u8) << 2;
        write(dir, "hint", &format!("hint-{i}"), &with_flag(sel, h));
        write(
            dir,
            "hint",
            &format!("hint-{i}-fixed"),
            &with_flag(sel | 3, h),
        );
    }
}

fn merge_seeds(dir: &Path) {
    let plan = targets::merge_seed();
    write(dir, "merge_file", "committed", &with_flag(0, &plan));
    write(dir, "merge_file", "renamed", &with_flag(1 << 1, &plan));
    write(dir, "merge_file", "removed", &with_flag(2 << 1, &plan));
    let mut other = plan.clone();
    other[16] ^= 1; // another first input segment
    write(
        dir,
        "merge_file",
        "other-input-fixed",
        &with_flag(1, &other),
    );
    write(
        dir,
        "merge_file",
        "truncated",
        &with_flag(0, &plan[..plan.len() - 5]),
    );
}

/// Flags byte: error object, handle `sel`.
fn fl(sel: u8) -> u8 {
    1 | (sel << 4)
}

fn capi_seeds(dir: &Path) {
    // Keys: 0 "a", 1 "b", 2 "ab", 3 "abc", 6 "c", 7 "ba". Values: byte n < 0xFD is a
    // value of n % 24 bytes read from the input.
    let mut e = Enc::new(0x02);
    e.op(op::PUT, fl(0), &[0, 3, b'o', b'n', b'e'])
        .op(op::PUT, fl(0), &[1, 0])
        .op(op::GET, fl(0), &[0])
        .op(op::GET_INTO, fl(0), &[0, 2, 1])
        .op(op::GET_INTO, fl(0), &[0, 8, 1])
        .op(op::CONTAINS, fl(0), &[1])
        .op(op::DELETE, fl(0), &[0])
        .op(op::GET, fl(0), &[0])
        .op(op::PUT_TTL, fl(0), &[2, 2, b'x', b'y', 200])
        .op(op::PUT_TTL, fl(0), &[3, 1, b'z', 5])
        .op(op::EXPIRES_AT, fl(0), &[0, 2])
        .op(op::EXPIRES_AT, fl(0), &[0, 1])
        .op(op::EXPIRES_AT, fl(0), &[0, 3])
        .op(op::EXPIRES_AT, fl(0), &[0, 6])
        .op(op::SYNC_STATS, fl(0), &[1])
        .op(op::CLOSE, fl(0), &[])
        .op(op::GET, fl(0), &[1])
        .op(op::OPEN, 0x00, &[fl(0)])
        .op(op::GET, fl(0), &[1]);
    write(dir, "c_api", "kv", &e.0);

    let mut e = Enc::new(0x00);
    e.op(op::BATCH_NEW, fl(0), &[])
        .op(op::BATCH_ADD, fl(0), &[0, 0, 1, b'1', 200, 0])
        .op(op::BATCH_ADD, fl(0), &[0, 3, 1, b'3', 200, 0])
        .op(op::BATCH_ADD, fl(0), &[2, 1, 0, 200, 0])
        .op(op::BATCH_ADD, fl(0), &[1, 6, 1, b'c', 7, 0])
        .op(op::BATCH_COUNT, fl(0), &[0])
        .op(op::BATCH_WRITE, fl(0), &[0])
        .op(op::GET, fl(0), &[3])
        .op(op::BATCH_COUNT, fl(0), &[1])
        .op(op::BATCH_WRITE, fl(0), &[0])
        .op(op::BATCH_FREE, fl(0), &[]);
    write(dir, "c_api", "batch", &e.0);

    let mut e = Enc::new(0x00);
    e.op(op::PUT, fl(0), &[0, 1, b'0'])
        .op(op::TXN_BEGIN, fl(0), &[0])
        .op(op::TXN_BEGIN, fl(0), &[0])
        .op(op::TXN_WRITE, fl(0), &[0, 0, 1, b'1', 200, 0])
        .op(op::TXN_READ, fl(0), &[0, 0, 0])
        .op(op::TXN_WRITE, fl(1), &[0, 0, 1, b'2', 200, 0])
        .op(op::TXN_COMMIT, fl(0), &[])
        .op(op::TXN_COMMIT, fl(1), &[])
        .op(op::GET, fl(0), &[0])
        .op(op::TXN_BEGIN, fl(0), &[4])
        .op(op::TXN_WRITE, fl(2), &[0, 1, 1, b'x', 200, 0])
        .op(op::TXN_BEGIN, fl(0), &[5])
        .op(op::TXN_READ, fl(3), &[0, 1, 0])
        .op(op::PUT, fl(0), &[1, 1, b'y'])
        .op(op::TXN_WRITE, fl(3), &[0, 6, 1, b'z', 200, 0])
        .op(op::TXN_COMMIT, fl(3), &[])
        .op(op::TXN_ABORT, fl(2), &[])
        .op(op::TXN_FREE, fl(0), &[])
        .op(op::TXN_FREE, fl(0), &[]);
    write(dir, "c_api", "txn", &e.0);

    let mut e = Enc::new(0x00);
    for k in [0u8, 1, 2, 3, 6, 7] {
        e.op(op::PUT, fl(0), &[k, 1, b'v']);
    }
    e.op(op::ITER_NEW, fl(0), &[0, 0])
        .op(op::ITER_NEXT, fl(0), &[1, 0])
        .op(op::ITER_NEXT, fl(0), &[1, 0])
        .op(op::ITER_PREV, fl(0), &[1, 0])
        .op(op::ITER_SEEK, fl(0), &[7])
        .op(op::ITER_NEXT, fl(0), &[0, 0])
        .op(op::ITER_BATCH, fl(0), &[5, 63])
        .op(op::ITER_PREV, fl(0), &[1, 0])
        // Prefix "a" (bound byte 0x80: pool key 0), reversed.
        .op(op::ITER_NEW, fl(0), &[0, 0x01 | (3 << 3), 0x80])
        .op(op::ITER_NEXT, fl(1), &[1, 0])
        .op(op::ITER_BATCH, fl(1), &[3, 0])
        .op(op::ITER_NEXT, fl(1), &[1, 0])
        .op(op::ITER_PREV, fl(1), &[1, 0])
        // A transaction's view: its own writes over the snapshot.
        .op(op::TXN_BEGIN, fl(0), &[0])
        .op(op::TXN_WRITE, fl(0), &[2, 0, 0, 200, 0])
        .op(
            op::TXN_WRITE,
            fl(0),
            &[0, 10, 2, b'a', b'a', 1, b'v', 200, 0],
        )
        .op(op::ITER_NEW, fl(0), &[2, 0])
        .op(op::ITER_BATCH, fl(2), &[5, 63])
        .op(op::ITER_FREE, fl(0), &[])
        .op(op::ITER_FREE, fl(0), &[])
        .op(op::ITER_FREE, fl(0), &[]);
    write(dir, "c_api", "iter", &e.0);

    let mut e = Enc::new(0x00);
    e.op(op::KS_OPEN, fl(0), &[0])
        .op(op::KS_OPEN, fl(0), &[1])
        .op(op::KS_WRITE, fl(0), &[0, 0, 1, b'u', 200])
        .op(op::KS_WRITE, fl(1), &[0, 0, 1, b'l', 200])
        .op(op::KS_READ, fl(0), &[0, 0])
        .op(op::KS_LIST, fl(0), &[])
        .op(op::TXN_BEGIN, fl(0), &[0])
        .op(op::TXN_WRITE, fl(0), &[4, 1, 1, b'k', 200, 0])
        .op(op::BATCH_NEW, fl(0), &[])
        .op(op::BATCH_ADD, fl(0), &[4, 3, 1, b'b', 200, 1])
        .op(op::KS_DROP, fl(0), &[1])
        .op(op::KS_WRITE, fl(1), &[0, 0, 1, b'x', 200])
        .op(op::TXN_COMMIT, fl(0), &[])
        .op(op::BATCH_WRITE, fl(0), &[0])
        .op(op::KS_DROP, fl(0), &[1])
        .op(op::KS_OPEN, fl(0), &[5])
        .op(op::ITER_NEW, fl(0), &[1, 0])
        .op(op::ITER_NEXT, fl(0), &[1, 0])
        .op(op::KS_FREE, fl(0), &[]);
    write(dir, "c_api", "keyspace", &e.0);

    // Small segments, background merges off; merge, verify, backup, reopen.
    let mut e = Enc::new(0x00);
    for i in 0..12u8 {
        e.op(op::PUT, fl(0), &[i % 8, 0xFF]);
    }
    e.op(op::DELETE, fl(0), &[1])
        .op(op::ITER_NEW, fl(0), &[0, 0])
        .op(op::MERGE, fl(0), &[])
        .op(op::ITER_BATCH, fl(0), &[5, 0])
        .op(op::VERIFY, fl(0), &[])
        .op(op::BACKUP, fl(0), &[])
        .op(op::FREE, fl(0), &[])
        .op(op::OPEN, 0x02, &[fl(0)])
        .op(op::VERIFY, fl(0), &[])
        .op(op::MISC, 0x01, &[]);
    write(dir, "c_api", "maintenance", &e.0);

    // NULLs: handle (flags bits 1-3 all set) and out-parameters (bits 2-3).
    let mut e = Enc::new(0x00);
    for code in 0..op::OPS {
        if code == op::OPEN || code == op::FREE {
            continue;
        }
        e.op(code, 0x0F, &[0, 14, 0xFD, 0])
            .op(code, 0x0D, &[0, 13, 0xFE, 0]);
    }
    write(dir, "c_api", "nulls", &e.0);
}

fn replay(dir: &Path) {
    for target in ["segment", "hint", "merge_file", "c_api"] {
        let f = target_fn(target);
        let mut n = 0;
        for e in fs::read_dir(dir.join(target)).unwrap() {
            let p = e.unwrap().path();
            f(&fs::read(&p).unwrap());
            n += 1;
        }
        println!("{target}: {n} seeds replayed");
    }
}

fn target_fn(name: &str) -> fn(&[u8]) {
    match name {
        "segment" => targets::segment,
        "hint" => targets::hint,
        "merge_file" => targets::merge_file,
        "c_api" => capi::run,
        _ => panic!("unknown target {name}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `gen_corpus run <target> <file>...`: run inputs through a target without libFuzzer
    // (a plain debug build: overflow checks and debug assertions on, no sanitizer).
    if args.get(1).map(String::as_str) == Some("run") {
        let f = target_fn(&args[2]);
        for p in &args[3..] {
            eprintln!("== {p}");
            f(&fs::read(p).unwrap());
        }
        return;
    }
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    segment_seeds(&dir);
    hint_seeds(&dir);
    merge_seeds(&dir);
    capi_seeds(&dir);
    replay(&dir);
}
