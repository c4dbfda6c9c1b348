//! Merge (compaction) and hint files: contents survive unchanged, space is reclaimed,
//! deleted and expired keys stay gone, snapshots keep what they see, and a crash at any
//! step of a merge reopens with the same contents.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use katamari::engine::vfs::{LockGuard, OpenMode, StdFs, VFile, Vfs};
use katamari::{Db, IterOptions, Options, Status, SyncMode};

fn opts() -> Options {
    Options::default()
        .sync(SyncMode::Never)
        .segment_size(64 << 10)
        .auto_merge(None)
}

/// Every key and value of the default keyspace, in order.
fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.iter(&IterOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn dir_bytes(dir: &Path, suffix: &str) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

fn value(i: usize, round: usize) -> Vec<u8> {
    format!("value-{i}-{round}-{}", "x".repeat(80)).into_bytes()
}

/// Fills `db` with 2,000 keys overwritten five times, a quarter of them deleted.
fn churn(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut model = BTreeMap::new();
    for round in 0..5 {
        for i in 0..2000 {
            db.put(&key(i), &value(i, round)).unwrap();
            model.insert(key(i), value(i, round));
        }
    }
    for i in (0..2000).step_by(4) {
        db.delete(&key(i)).unwrap();
        model.remove(&key(i));
    }
    model
}

#[test]
fn merge_keeps_contents_and_reclaims_space() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, opts()).unwrap();
    let model = churn(&db);
    let before = db.stats().unwrap();
    let m = db.merge().unwrap();
    assert!(m.input_segments > 10, "{m:?}");
    assert!(m.output_bytes < m.input_bytes / 3, "{m:?}");
    assert_eq!(
        m.records,
        model.len() as u64,
        "only the newest versions are copied"
    );
    assert_eq!(contents(&db), model);
    let after = db.stats().unwrap();
    assert_eq!(after.live_keys, before.live_keys);
    assert_eq!(after.live_bytes, before.live_bytes);
    assert!(
        after.total_bytes as f64 <= 1.2 * after.live_bytes as f64,
        "disk {} vs live {}",
        after.total_bytes,
        after.live_bytes
    );
    // Writes continue after a merge, and everything survives a reopen.
    db.put(b"after", b"merge").unwrap();
    db.close().unwrap();
    assert!(
        !files_with(&dir, ".khint").is_empty(),
        "merge writes hint files"
    );
    assert!(
        files_with(&dir, ".merge").is_empty(),
        "no temporary files left"
    );
    assert!(!dir.join("MERGE").exists());
    let on_disk = dir_bytes(&dir, ".kseg");
    assert!(on_disk as f64 <= 1.2 * after.live_bytes as f64 + 4096.0);

    let db = Db::open(&dir, opts()).unwrap();
    let mut want = model.clone();
    want.insert(b"after".to_vec(), b"merge".to_vec());
    assert_eq!(contents(&db), want);
    for i in (0..2000).step_by(4) {
        assert_eq!(db.get(&key(i)).unwrap(), None, "deleted key {i} came back");
    }
}

#[test]
fn deleted_keys_stay_deleted_without_hints_and_across_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, opts()).unwrap();
    let mut model = churn(&db);
    db.merge().unwrap();
    // Delete more after the first merge, then merge again: the old values now live in
    // merged segments and the tombstones in data segments.
    for i in (1..2000).step_by(4) {
        db.delete(&key(i)).unwrap();
        model.remove(&key(i));
    }
    db.merge().unwrap();
    assert_eq!(contents(&db), model);
    db.close().unwrap();
    for h in files_with(&dir, ".khint") {
        std::fs::remove_file(h).unwrap();
    }
    let db = Db::open(&dir, opts()).unwrap();
    assert_eq!(
        contents(&db),
        model,
        "scanning merged segments gives the same"
    );
    db.close().unwrap();

    // A damaged hint file is ignored and its segment scanned instead.
    let db = Db::open(&dir, opts()).unwrap();
    db.put(b"x", b"y").unwrap();
    db.merge().unwrap();
    db.close().unwrap();
    model.insert(b"x".to_vec(), b"y".to_vec());
    let hints = files_with(&dir, ".khint");
    assert!(!hints.is_empty());
    for h in &hints {
        let mut b = std::fs::read(h).unwrap();
        let at = b.len() / 2;
        b[at] ^= 0x55;
        std::fs::write(h, b).unwrap();
    }
    let db = Db::open(&dir, opts()).unwrap();
    assert_eq!(contents(&db), model);
}

#[test]
fn expired_keys_are_dropped_and_stay_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let now = Arc::new(AtomicU64::new(1_000_000));
    let clock = now.clone();
    let o = opts().clock(move || clock.load(Ordering::SeqCst));
    let db = Db::open(&dir, o.clone()).unwrap();
    for i in 0..500 {
        db.put_with_ttl(&key(i), &value(i, 0), Duration::from_secs(10))
            .unwrap();
    }
    for i in 500..600 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    now.fetch_add(11_000, Ordering::SeqCst);
    let m = db.merge().unwrap();
    assert_eq!(m.expired, 500, "{m:?}");
    assert_eq!(m.records, 100);
    assert_eq!(db.stats().unwrap().live_keys, 100);
    assert_eq!(db.get(&key(3)).unwrap(), None);
    db.close().unwrap();
    let db = Db::open(&dir, o).unwrap();
    assert_eq!(db.get(&key(3)).unwrap(), None);
    assert_eq!(db.get(&key(550)).unwrap(), Some(value(550, 0)));
    assert_eq!(db.stats().unwrap().live_keys, 100);
}

#[test]
fn snapshots_keep_their_versions_through_a_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, opts()).unwrap();
    for i in 0..1000 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    let mut old = db.begin().unwrap();
    let old_iter = db.iter(&IterOptions::default()).unwrap();
    for i in 0..1000 {
        if i % 2 == 0 {
            db.delete(&key(i)).unwrap();
        } else {
            db.put(&key(i), &value(i, 1)).unwrap();
        }
    }
    db.merge().unwrap();
    for i in 0..1000 {
        assert_eq!(
            old.get(&key(i)).unwrap(),
            Some(value(i, 0)),
            "snapshot key {i}"
        );
        let now = if i % 2 == 0 { None } else { Some(value(i, 1)) };
        assert_eq!(db.get(&key(i)).unwrap(), now);
    }
    let seen: Vec<_> = old_iter.map(|r| r.unwrap()).collect();
    assert_eq!(seen.len(), 1000);
    assert!(seen
        .iter()
        .enumerate()
        .all(|(i, (k, v))| *k == key(i) && *v == value(i, 0)));
    drop(old);
    // Once the snapshot is gone, the next merge drops what only it needed.
    let m = db.merge().unwrap();
    assert_eq!(m.records, 500, "{m:?}");
    db.close().unwrap();
    let db = Db::open(&dir, opts()).unwrap();
    for i in 0..1000 {
        let now = if i % 2 == 0 { None } else { Some(value(i, 1)) };
        assert_eq!(db.get(&key(i)).unwrap(), now, "key {i} after reopen");
    }
}

#[test]
fn merge_runs_alongside_writers_and_readers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, opts().sync(SyncMode::Always)).unwrap();
    for i in 0..3000 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    let mut snap = db.begin().unwrap();
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for round in 1..4 {
                    for i in (t..3000).step_by(2) {
                        if (i + round) % 7 == 0 {
                            db.delete(&key(i)).unwrap();
                        } else {
                            db.put(&key(i), &value(i, round)).unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    let reader = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut reads = 0;
            for pass in 0..20 {
                for i in (pass..3000).step_by(37) {
                    if let Some(v) = db.get(&key(i)).unwrap() {
                        assert!(v.starts_with(format!("value-{i}-").as_bytes()));
                        reads += 1;
                    }
                }
            }
            reads
        })
    };
    let mut merges = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        db.merge().unwrap();
        merges += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    assert!(reader.join().unwrap() > 0);
    db.merge().unwrap();
    assert!(merges >= 1);
    for i in 0..3000 {
        assert_eq!(snap.get(&key(i)).unwrap(), Some(value(i, 0)));
    }
    let want: BTreeMap<Vec<u8>, Vec<u8>> = (0..3000)
        .filter(|i| (i + 3) % 7 != 0)
        .map(|i| (key(i), value(i, 3)))
        .collect();
    assert_eq!(contents(&db), want);
    drop(snap);
    db.close().unwrap();
    let db = Db::open(&dir, opts()).unwrap();
    assert_eq!(contents(&db), want);
}

/// Passes operations to the real file system until `budget` runs out; from then on
/// every operation fails, as if the process had died at that point (what reached the
/// file system stays, nothing after it does).
struct Dying {
    budget: AtomicUsize,
    ops: AtomicUsize,
}

impl Dying {
    fn step(&self) -> io::Result<()> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Err(io::Error::other("crashed"));
        }
        self.budget.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}

struct DyingFile(Arc<dyn VFile>, Arc<Dying>);

impl VFile for DyingFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.1.step()?;
        self.0.write_all_at(data, offset)
    }
    fn size(&self) -> io::Result<u64> {
        self.0.size()
    }
    fn sync_data(&self) -> io::Result<()> {
        self.1.step()?;
        self.0.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.1.step()?;
        self.0.set_len(len)
    }
}

struct DyingFs(Arc<Dying>);

impl Vfs for DyingFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VFile>> {
        if mode == OpenMode::CreateNew {
            self.0.step()?;
        }
        Ok(Arc::new(DyingFile(StdFs.open(path, mode)?, self.0.clone())))
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        StdFs.create_dir(path)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        StdFs.list(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.step()?;
        StdFs.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.step()?;
        StdFs.remove(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.0.step()?;
        StdFs.sync_dir(path)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn LockGuard>> {
        StdFs.lock(path)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A merge that dies after its Nth file operation, for every N up to the end of a
/// merge: the database reopens with exactly the contents it had, and a merge after the
/// reopen finishes the job.
#[test]
fn a_crash_at_any_step_of_a_merge_keeps_the_contents() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let o = opts().segment_size(16 << 10);
    let model = {
        let db = Db::open(&base, o.clone()).unwrap();
        let mut model = BTreeMap::new();
        for round in 0..3 {
            for i in 0..300 {
                if (i + round) % 5 == 0 {
                    db.delete(&key(i)).unwrap();
                    model.remove(&key(i));
                } else {
                    db.put(&key(i), &value(i, round)).unwrap();
                    model.insert(key(i), value(i, round));
                }
            }
            if round == 1 {
                // Part of the data already sits in merged segments with hint files.
                db.merge().unwrap();
            }
        }
        db.close().unwrap();
        model
    };
    let mut n = 0;
    loop {
        let dir = tmp.path().join(format!("crash-{n}"));
        copy_dir(&base, &dir);
        let dying = Arc::new(Dying {
            budget: AtomicUsize::new(usize::MAX),
            ops: AtomicUsize::new(0),
        });
        let db = Db::open(&dir, o.clone().vfs(Arc::new(DyingFs(dying.clone())))).unwrap();
        dying.budget.store(n, Ordering::SeqCst);
        let finished = db.merge().is_ok();
        drop(db);
        let db = Db::open(&dir, o.clone()).unwrap_or_else(|e| panic!("crash after {n} ops: {e}"));
        assert_eq!(contents(&db), model, "crash after {n} file operations");
        db.merge().unwrap();
        assert_eq!(contents(&db), model, "merge after the crash at {n}");
        db.close().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        if finished {
            assert!(n > 10, "a merge takes more than {n} file operations");
            break;
        }
        n += 1;
    }
}

#[test]
fn cleanly_closed_tail_damage_is_corruption_not_a_torn_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, opts()).unwrap();
    db.put(b"a", b"1").unwrap();
    db.put(b"b", b"2").unwrap();
    db.close().unwrap();
    let seg = files_with(&dir, ".kseg").pop().unwrap();
    let clean = std::fs::read(&seg).unwrap();
    // Flip a bit in the value of the last record (before the end marker).
    let mut d = clean.clone();
    let at = d.len() - 32 - 1;
    d[at] ^= 1;
    std::fs::write(&seg, &d).unwrap();
    let e = Db::open(&dir, opts()).err().expect("damage is reported");
    assert_eq!(e.status(), Status::Corruption, "{e}");
    // The same bytes without the end marker are a crash's torn write: cut, and the
    // earlier commit kept.
    std::fs::write(&seg, &d[..d.len() - 32]).unwrap();
    let db = Db::open(&dir, opts()).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.get(b"b").unwrap(), None);
}

#[test]
fn backup_while_writing_opens_at_the_commit_point_it_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, opts().segment_size(8 << 10)).unwrap();
    for i in 0..500 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.merge().unwrap();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            for i in 500..4000 {
                db.put(&key(i), &value(i, 0)).unwrap();
            }
        })
    };
    let mut backups = Vec::new();
    for n in 0..4 {
        std::thread::sleep(Duration::from_millis(5));
        let dest = tmp.path().join(format!("backup-{n}"));
        let info = db.backup(&dest).unwrap();
        assert!(info.segments >= 2, "{info:?}");
        assert!(
            info.linked >= 1,
            "sealed segments are hard-linked: {info:?}"
        );
        backups.push((dest, info));
    }
    writer.join().unwrap();
    assert_eq!(
        db.backup(&backups[0].0).unwrap_err().status(),
        Status::InvalidArgument,
        "an existing destination is refused"
    );
    // Merging and writing more afterwards does not touch the copies.
    db.merge().unwrap();
    db.put(b"later", b"x").unwrap();
    for (dest, info) in &backups {
        let copy = Db::open(dest, opts()).unwrap();
        let st = copy.stats().unwrap();
        assert_eq!(st.last_seq, info.seq, "{info:?}");
        // Keys were written one commit each, in order: the copy holds a prefix.
        let n = st.live_keys as usize;
        assert!(n >= 500);
        for i in 0..4000 {
            let want = (i < n).then(|| value(i, 0));
            assert_eq!(copy.get(&key(i)).unwrap(), want, "key {i} in {info:?}");
        }
        assert_eq!(copy.get(b"later").unwrap(), None);
        assert!(copy.verify().unwrap().is_clean());
    }
}

#[test]
fn verify_counts_everything_and_reports_damage_without_changing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, opts().segment_size(8 << 10)).unwrap();
    for i in 0..300 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.merge().unwrap();
    for i in 0..100 {
        db.put(&key(i), &value(i, 1)).unwrap();
    }
    let r = db.verify().unwrap();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!(r.records, 400, "{r:?}");
    assert!(r.hints_ok >= 1);
    assert_eq!(r.first_bad, None);
    db.close().unwrap();

    // Damage a value in the middle of a merged segment: open (through the hint file)
    // still works, verify finds it, and the file is unchanged afterwards.
    let seg = files_with(&dir, ".kseg")
        .into_iter()
        .find(|p| std::fs::read(p).unwrap()[12] == 2)
        .expect("a merged segment (header kind 2)");
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&seg, &bytes).unwrap();
    let db = Db::open(&dir, opts()).unwrap();
    let r = db.verify().unwrap();
    assert!(!r.is_clean());
    assert_eq!(r.damaged, 1, "{r:?}");
    let (bad_seg, bad_at, why) = r.first_bad.clone().unwrap();
    assert!(
        seg.to_string_lossy().contains(&format!("{bad_seg:010}")),
        "{r:?}"
    );
    assert!(bad_at as usize <= at && !why.is_empty());
    assert!(
        r.records < 400,
        "the damaged batch's records are not counted: {r:?}"
    );
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        bytes,
        "verify changed nothing"
    );
}

#[test]
fn the_auto_merge_policy_merges_in_the_background() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let policy = katamari::AutoMerge {
        dead_ratio: 0.5,
        min_dead_bytes: 64 << 10,
    };
    let db = Db::open(&dir, opts().segment_size(16 << 10).auto_merge(Some(policy))).unwrap();
    for round in 0..30 {
        for i in 0..200 {
            db.put(&key(i), &value(i, round)).unwrap();
        }
    }
    // Thirty copies of every key crossed the policy's threshold several times: the
    // background merges run (and finish) on their own.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let st = loop {
        let st = db.stats().unwrap();
        if st.merges > 0 || std::time::Instant::now() > deadline {
            break st;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(st.merges > 0, "no automatic merge: {st:?}");
    assert_eq!(st.merge_failures, 0);
    assert!(
        st.total_bytes < 29 * st.live_bytes,
        "the merges reclaimed space: {st:?}"
    );
    for i in 0..200 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 29)));
    }
    db.close().unwrap();
    let db = Db::open(&dir, opts()).unwrap();
    for i in 0..200 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 29)));
    }
}

#[test]
fn opening_and_closing_without_writes_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, opts()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let size = dir_bytes(&dir, ".kseg");
    for _ in 0..3 {
        let db = Db::open(&dir, opts()).unwrap();
        assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
        db.close().unwrap();
    }
    assert_eq!(dir_bytes(&dir, ".kseg"), size);
    let db = Db::open(&dir, opts()).unwrap();
    db.put(b"k2", b"v").unwrap();
    db.close().unwrap();
    let db = Db::open(&dir, opts()).unwrap();
    assert_eq!(db.get(b"k2").unwrap(), Some(b"v".to_vec()));
}
