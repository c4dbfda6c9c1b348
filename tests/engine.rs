//! Engine behaviour through the safe Rust API: persistence, rotation, recovery from torn
//! tails, corruption detection, locking, limits.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use katamari::{Db, Error, Options, Status, SyncMode, WriteBatch};

fn fast() -> Options {
    Options::default().sync(SyncMode::Never)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kseg"))
        .collect();
    v.sort();
    v
}

#[test]
fn values_survive_reopen_and_empty_differs_from_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, Options::default()).unwrap();
    db.put(b"a", b"1").unwrap();
    db.put(b"empty", b"").unwrap();
    db.put(b"gone", b"x").unwrap();
    db.delete(b"gone").unwrap();
    db.delete(b"never-there").unwrap();
    db.close().unwrap();

    let db = Db::open(&dir, Options::default()).unwrap();
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"empty").unwrap(), Some(Vec::new()));
    assert_eq!(db.get(b"missing").unwrap(), None);
    assert_eq!(
        db.get(b"gone").unwrap(),
        None,
        "a deleted key must not come back"
    );
    assert!(db.contains(b"empty").unwrap());
    assert!(!db.contains(b"gone").unwrap());
    let s = db.stats().unwrap();
    assert_eq!(s.live_keys, 2);
    assert!(s.dead_bytes > 0 && s.live_bytes > 0);
}

#[test]
fn thirteen_plus_segments_reopen_in_numeric_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let opts = || fast().segment_size(1024);
    let db = Db::open(&dir, opts()).unwrap();
    // Each key is overwritten across many segments; the newest must win after reopen,
    // which breaks if segment 10 sorts before segment 9.
    for round in 0..40u32 {
        for k in 0..5u32 {
            let v = format!("round-{round:03}-{}", "x".repeat(40));
            db.put(format!("key{k}").as_bytes(), v.as_bytes()).unwrap();
        }
    }
    let before = db.stats().unwrap();
    assert!(before.segments >= 13, "only {} segments", before.segments);
    db.close().unwrap();

    assert!(segments(&dir).len() >= 13);
    let db = Db::open(&dir, opts()).unwrap();
    for k in 0..5u32 {
        let v = db.get(format!("key{k}").as_bytes()).unwrap().unwrap();
        assert!(
            v.starts_with(b"round-039-"),
            "{}",
            String::from_utf8_lossy(&v)
        );
    }
    let after = db.stats().unwrap();
    assert_eq!(after.last_seq, before.last_seq);
    assert_eq!(after.live_keys, 5);
    // The files on disk, now with the end marker of the clean close (and a fresh active
    // segment if the marker filled the last one).
    let on_disk: u64 = segments(&dir)
        .iter()
        .map(|s| fs::metadata(s).unwrap().len())
        .sum();
    assert_eq!(after.total_bytes, on_disk);
    assert!(after.total_bytes >= before.total_bytes + 32);
}

#[test]
fn same_millisecond_overwrites_replay_in_commit_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, fast()).unwrap();
    for i in 0..10_000u32 {
        db.put(b"hot", &i.to_le_bytes()).unwrap();
    }
    db.close().unwrap();
    let db = Db::open(&dir, fast()).unwrap();
    assert_eq!(db.get(b"hot").unwrap().unwrap(), 9_999u32.to_le_bytes());
    assert_eq!(db.stats().unwrap().last_seq, 10_000);
}

#[test]
fn batches_apply_in_order_and_limits_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), fast()).unwrap();
    let mut b = WriteBatch::new();
    b.put(b"k", b"1")
        .unwrap()
        .delete(b"k")
        .unwrap()
        .put(b"k", b"3")
        .unwrap();
    b.put(b"j", b"x").unwrap();
    db.write(&b).unwrap();
    assert_eq!(db.get(b"k").unwrap().unwrap(), b"3");
    let seq = db.stats().unwrap().last_seq;

    let big_key = vec![0u8; katamari::MAX_KEY_LEN + 1];
    assert!(matches!(db.put(&big_key, b"v"), Err(Error::TooLarge(_))));
    assert!(matches!(b.put(&big_key, b"v"), Err(Error::TooLarge(_))));
    assert_eq!(b.len(), 4, "a rejected op is not added");
    let ok_key = vec![7u8; katamari::MAX_KEY_LEN];
    db.put(&ok_key, b"edge").unwrap();
    assert_eq!(db.get(&ok_key).unwrap().unwrap(), b"edge");
    assert_eq!(db.stats().unwrap().last_seq, seq + 1);
}

#[test]
fn second_open_is_locked_until_close() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, fast()).unwrap();
    let e = Db::open(&dir, fast()).err().expect("second open must fail");
    assert_eq!(e.status(), Status::Locked);
    db.close().unwrap();
    Db::open(&dir, fast()).unwrap();
}

#[test]
fn calls_after_close_are_closed_and_close_twice_is_ok() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), fast()).unwrap();
    let clone = db.clone();
    db.close().unwrap();
    db.close().unwrap();
    assert!(matches!(clone.get(b"a"), Err(Error::Closed)));
    assert!(matches!(clone.put(b"a", b"b"), Err(Error::Closed)));
    assert!(matches!(clone.stats(), Err(Error::Closed)));
}

#[test]
fn missing_parent_and_no_create_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let e = Db::open(tmp.path().join("no/such/parent"), fast())
        .err()
        .unwrap();
    assert_eq!(e.status(), Status::Io);
    let e = Db::open(tmp.path().join("absent"), fast().create_if_missing(false))
        .err()
        .unwrap();
    assert_eq!(e.status(), Status::Io);
    assert!(!tmp.path().join("absent").exists());
    let e = Db::open(tmp.path(), fast().segment_size(10)).err().unwrap();
    assert_eq!(e.status(), Status::InvalidArgument);
}

/// Writes `n` committed single-put batches and returns the directory and the length of
/// the only segment after each commit.
fn committed_log(dir: &Path, n: u32) -> Vec<u64> {
    committed_log_with(dir, n, fast())
}

/// Like [`committed_log`], with `opts`.
fn committed_log_with(dir: &Path, n: u32, opts: Options) -> Vec<u64> {
    let db = Db::open(dir, opts).unwrap();
    let seg = &segments(dir)[0];
    let mut ends = vec![fs::metadata(seg).unwrap().len()];
    for i in 0..n {
        db.put(format!("k{i}").as_bytes(), format!("value-{i}").as_bytes())
            .unwrap();
        ends.push(fs::metadata(seg).unwrap().len());
    }
    db.close().unwrap();
    strip_end_marker(seg);
    ends
}

/// Removes the end marker a clean close appended, leaving the segment as a crash right
/// after the last commit would have.
fn strip_end_marker(seg: &Path) {
    let len = fs::metadata(seg).unwrap().len();
    let f = OpenOptions::new().write(true).open(seg).unwrap();
    f.set_len(len - katamari::engine::format::BATCH_HEADER_LEN as u64)
        .unwrap();
}

#[test]
fn torn_tail_at_every_byte_keeps_exactly_the_committed_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // Last batch is a multi-record batch, so a cut can fall inside any of its records.
    let ends = committed_log(&src, 3);
    {
        let db = Db::open(&src, fast()).unwrap();
        let mut b = WriteBatch::new();
        b.put(b"b1", b"first")
            .unwrap()
            .delete(b"k0")
            .unwrap()
            .put(b"b2", b"second")
            .unwrap();
        db.write(&b).unwrap();
        db.close().unwrap();
    }
    let seg_name = segments(&src)[0].file_name().unwrap().to_owned();
    strip_end_marker(&src.join(&seg_name));
    let full = fs::read(src.join(&seg_name)).unwrap();
    let last_start = *ends.last().unwrap() as usize;
    assert!(full.len() > last_start);

    for cut in last_start..full.len() {
        let dir = tmp.path().join(format!("cut{cut}"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(&seg_name), &full[..cut]).unwrap();

        let db = Db::open(&dir, fast()).unwrap();
        for i in 0..3 {
            let v = db.get(format!("k{i}").as_bytes()).unwrap();
            assert_eq!(v.unwrap(), format!("value-{i}").as_bytes(), "cut {cut}");
        }
        assert_eq!(
            db.get(b"b1").unwrap(),
            None,
            "cut {cut}: half a batch applied"
        );
        assert_eq!(db.get(b"b2").unwrap(), None, "cut {cut}");
        // Appending after the truncated tail works and survives another reopen.
        db.put(b"after", b"reopen").unwrap();
        db.close().unwrap();
        let db = Db::open(&dir, fast()).unwrap();
        assert_eq!(db.get(b"after").unwrap().unwrap(), b"reopen", "cut {cut}");
        assert_eq!(db.get(b"k0").unwrap().unwrap(), b"value-0", "cut {cut}");
        db.close().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn zero_filled_tail_is_torn_not_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    committed_log(&dir, 2);
    let seg = &segments(&dir)[0];
    let mut f = OpenOptions::new().append(true).open(seg).unwrap();
    f.write_all(&[0u8; 4096]).unwrap();
    drop(f);
    let db = Db::open(&dir, fast()).unwrap();
    assert_eq!(db.get(b"k1").unwrap().unwrap(), b"value-1");
}

#[test]
fn unwritten_hole_before_later_pages_is_torn_not_corrupt() {
    // Power loss with unsynced appends may persist later pages but not an earlier one:
    // the hole reads as zeros. Everything from the hole on was never synced.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let ends = committed_log(&dir, 4);
    let seg = segments(&dir)[0].clone();
    let mut bytes = fs::read(&seg).unwrap();
    let (a, b) = (ends[2] as usize, ends[3] as usize);
    bytes[a..b].fill(0);
    fs::write(&seg, &bytes).unwrap();
    let db = Db::open(&dir, fast()).unwrap();
    assert_eq!(db.get(b"k1").unwrap().unwrap(), b"value-1");
    assert_eq!(db.get(b"k2").unwrap(), None);
    assert_eq!(
        db.get(b"k3").unwrap(),
        None,
        "nothing after the hole is applied"
    );
    db.put(b"k9", b"after").unwrap();
    db.close().unwrap();
    let db = Db::open(&dir, fast()).unwrap();
    assert_eq!(db.get(b"k9").unwrap().unwrap(), b"after");
}

#[test]
fn damage_before_the_tail_refuses_to_open_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    // Synced commits: each later batch records that everything before it was durable,
    // so damage before it cannot be a torn write.
    let ends = committed_log_with(&dir, 3, Options::default());
    let seg = segments(&dir)[0].clone();
    let mut bytes = fs::read(&seg).unwrap();
    // Flip one bit inside the value of the first batch.
    let at = ends[1] as usize - 2;
    bytes[at] ^= 0x10;
    fs::write(&seg, &bytes).unwrap();

    let e = Db::open(&dir, fast()).err().expect("must refuse");
    assert_eq!(e.status(), Status::Corruption, "{e}");
    assert_eq!(
        fs::read(&seg).unwrap(),
        bytes,
        "refusing must not modify the file"
    );

    // Salvage keeps every intact batch after the damage.
    let db = Db::open(&dir, fast().salvage(true)).unwrap();
    assert_eq!(db.get(b"k0").unwrap(), None);
    assert_eq!(db.get(b"k1").unwrap().unwrap(), b"value-1");
    assert_eq!(db.get(b"k2").unwrap().unwrap(), b"value-2");
    db.put(b"new", b"v").unwrap();
    db.close().unwrap();
}

#[test]
fn damage_in_unsynced_batches_is_a_torn_tail() {
    // Without syncs, a crash may persist later pages and lose or tear an earlier one:
    // damage followed only by batches written before the next sync is cut as a torn
    // tail, keeping the prefix before it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let ends = committed_log(&dir, 4);
    let seg = segments(&dir)[0].clone();
    let mut bytes = fs::read(&seg).unwrap();
    let at = ends[2] as usize - 2; // inside the second batch (the first one after open)
    bytes[at] ^= 0x10;
    fs::write(&seg, &bytes).unwrap();
    let db = Db::open(&dir, fast()).unwrap();
    assert_eq!(db.get(b"k0").unwrap().unwrap(), b"value-0");
    for k in [&b"k1"[..], b"k2", b"k3"] {
        assert_eq!(db.get(k).unwrap(), None, "nothing after the damage");
    }
}

#[test]
fn corruption_under_a_live_index_is_reported_never_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, fast()).unwrap();
    db.put(b"key", b"precious-value").unwrap();
    db.sync().unwrap();
    let seg = segments(&dir)[0].clone();
    let mut bytes = fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xFF;
    fs::write(&seg, &bytes).unwrap();
    let e = db
        .get(b"key")
        .expect_err("corrupt value must not be returned");
    assert_eq!(e.status(), Status::Corruption);
}

#[test]
fn group_commit_serves_concurrent_durable_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Arc::new(Db::open(&dir, Options::default()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                for i in 0..200u32 {
                    db.put(format!("t{t}-{i}").as_bytes(), &i.to_le_bytes())
                        .unwrap();
                    // A committer sees its own write at once.
                    assert!(db.contains(format!("t{t}-{i}").as_bytes()).unwrap());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(db.stats().unwrap().last_seq, 800);
    db.close().unwrap();
    let db = Db::open(&dir, Options::default()).unwrap();
    for t in 0..4 {
        for i in 0..200u32 {
            let v = db.get(format!("t{t}-{i}").as_bytes()).unwrap().unwrap();
            assert_eq!(v, i.to_le_bytes());
        }
    }
}

#[test]
fn interval_sync_mode_writes_and_reopens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let opts = || Options::default().sync_interval(std::time::Duration::from_millis(5));
    let db = Db::open(&dir, opts()).unwrap();
    for i in 0..100u32 {
        db.put(&i.to_be_bytes(), b"v").unwrap();
    }
    thread::sleep(std::time::Duration::from_millis(20));
    db.close().unwrap();
    let db = Db::open(&dir, opts()).unwrap();
    assert_eq!(db.stats().unwrap().live_keys, 100);
}

#[test]
fn engine_snapshots_keep_old_versions_until_released() {
    use katamari::engine::format::{OpRef, RecordKind};
    use katamari::engine::{Engine, EngineOptions};
    let tmp = tempfile::tempdir().unwrap();
    let e = Engine::open(
        &tmp.path().join("db"),
        EngineOptions {
            sync: SyncMode::Never,
            segment_size: 1 << 20,
            salvage: false,
            create_if_missing: true,
            vfs: Arc::new(katamari::engine::vfs::StdFs),
            clock: Arc::new(katamari::engine::now_ms),
            auto_merge: None,
        },
    )
    .unwrap();
    let put = |k: &'static [u8], v: &'static [u8]| OpRef {
        keyspace: 0,
        kind: RecordKind::Put,
        key: k,
        value: v,
        expires_at: 0,
    };
    e.write(&[put(b"k", b"v1")]).unwrap();
    let snap = e.snapshot();
    e.write(&[put(b"k", b"v2")]).unwrap();
    e.write(&[OpRef {
        kind: RecordKind::Delete,
        value: b"",
        ..put(b"k", b"")
    }])
    .unwrap();
    e.write(&[put(b"new", b"x")]).unwrap();
    assert_eq!(e.get_at(0, b"k", snap).unwrap().unwrap(), b"v1");
    assert_eq!(
        e.get_at(0, b"new", snap).unwrap(),
        None,
        "later key invisible"
    );
    assert_eq!(e.get(0, b"k").unwrap(), None);
    e.release_snapshot(snap);
    assert_eq!(
        e.get_at(0, b"k", snap).unwrap(),
        None,
        "released versions are gone"
    );
    assert_eq!(e.stats().live_keys, 1);
    e.close().unwrap();
}

#[test]
fn readers_run_while_writers_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), fast()).unwrap();
    for i in 0..1000u32 {
        db.put(&i.to_be_bytes(), &i.to_le_bytes()).unwrap();
    }
    thread::scope(|s| {
        s.spawn(|| {
            for round in 1..50u32 {
                let mut b = WriteBatch::new();
                for i in 0..1000u32 {
                    b.put(&i.to_be_bytes(), &(i + round * 1000).to_le_bytes())
                        .unwrap();
                }
                db.write(&b).unwrap();
            }
        });
        for _ in 0..2 {
            s.spawn(|| {
                for n in 0..20_000u32 {
                    let i = n % 1000;
                    let v = db.get(&i.to_be_bytes()).unwrap().unwrap();
                    let v = u32::from_le_bytes(v.try_into().unwrap());
                    assert_eq!(v % 1000, i, "value belongs to another key");
                }
            });
        }
    });
}
