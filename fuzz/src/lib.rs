//! Shared pieces of the fuzz targets: an in-memory [`Vfs`], checksum fix-ups that let the
//! fuzzer reach the checks behind the CRCs, the self-consistency checks of a recovered
//! index, and the small databases the targets start from.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use katamari::engine::format::{
    verify_record, RecordKind, BATCH_HEADER_LEN, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use katamari::engine::keydir::MergeCandidate;
use katamari::engine::recovery::{Recovered, Repair};
use katamari::engine::vfs::{LockGuard, OpenMode, VFile, Vfs};
use katamari::engine::{Engine, EngineOptions, SyncMode};

pub mod capi;
pub mod targets;

/// The directory every in-memory database lives in.
pub const DIR: &str = "/db";

pub fn dir() -> &'static Path {
    Path::new(DIR)
}

// ---------------------------------------------------------------------------------------
// In-memory file system
// ---------------------------------------------------------------------------------------

/// A file of [`MemFs`].
#[derive(Default)]
pub struct MemFile {
    data: RwLock<Vec<u8>>,
}

impl MemFile {
    pub fn bytes(&self) -> Vec<u8> {
        self.data.read().unwrap().clone()
    }
}

impl VFile for MemFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let d = self.data.read().unwrap();
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= d.len() as u64)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(&d[offset as usize..end as usize]);
        Ok(())
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        let mut d = self.data.write().unwrap();
        let end = offset as usize + data.len();
        if d.len() < end {
            d.resize(end, 0);
        }
        d[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.data.read().unwrap().len() as u64)
    }
    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.data.write().unwrap().resize(len as usize, 0);
        Ok(())
    }
}

/// File contents by path.
pub type Files = BTreeMap<PathBuf, Vec<u8>>;

#[derive(Default)]
struct Inner {
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, Arc<MemFile>>,
    /// Set by [`MemFs::capture_merge_commit`]: the files as they were right after the
    /// `MERGE` file was renamed into place.
    capture: Option<Option<Files>>,
}

/// A file system in memory: one flat set of files per directory, no locking across
/// handles (each target uses one engine at a time), syncs are no-ops.
#[derive(Default)]
pub struct MemFs {
    inner: Mutex<Inner>,
}

struct NoLock;
impl LockGuard for NoLock {}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl MemFs {
    /// A file system holding directory [`DIR`] with `files` (paths relative to it).
    pub fn with_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Arc<MemFs> {
        let fs = MemFs::default();
        {
            let mut g = fs.inner.lock().unwrap();
            g.dirs.insert(dir().to_path_buf());
            for (name, bytes) in files {
                let f = MemFile::default();
                *f.data.write().unwrap() = bytes.to_vec();
                g.files.insert(dir().join(name), Arc::new(f));
            }
        }
        Arc::new(fs)
    }

    /// A file system holding a copy of `files` (absolute paths) and their directories.
    pub fn from_snapshot(files: &Files) -> Arc<MemFs> {
        let fs = MemFs::default();
        {
            let mut g = fs.inner.lock().unwrap();
            for (p, b) in files {
                if let Some(parent) = p.parent() {
                    g.dirs.insert(parent.to_path_buf());
                }
                let f = MemFile::default();
                *f.data.write().unwrap() = b.clone();
                g.files.insert(p.clone(), Arc::new(f));
            }
            g.dirs.insert(dir().to_path_buf());
        }
        Arc::new(fs)
    }

    /// Copies of every file.
    pub fn snapshot(&self) -> Files {
        let g = self.inner.lock().unwrap();
        g.files
            .iter()
            .map(|(p, f)| (p.clone(), f.bytes()))
            .collect()
    }

    /// Replaces (or creates) `name` in [`DIR`].
    pub fn put_file(&self, name: &str, bytes: &[u8]) {
        let f = MemFile::default();
        *f.data.write().unwrap() = bytes.to_vec();
        self.inner
            .lock()
            .unwrap()
            .files
            .insert(dir().join(name), Arc::new(f));
    }

    /// The contents of `name` in [`DIR`].
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        let g = self.inner.lock().unwrap();
        g.files.get(&dir().join(name)).map(|f| f.bytes())
    }

    /// Names of the files in [`DIR`].
    pub fn names(&self) -> Vec<String> {
        self.list(dir()).unwrap_or_default()
    }

    /// From now on, remember the files as they are right after a `MERGE` file is renamed
    /// into place (the moment a merge commits).
    pub fn capture_merge_commit(&self) {
        self.inner.lock().unwrap().capture = Some(None);
    }

    /// What [`MemFs::capture_merge_commit`] recorded.
    pub fn captured(&self) -> Option<Files> {
        self.inner.lock().unwrap().capture.clone().flatten()
    }
}

impl Vfs for MemFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VFile>> {
        let mut g = self.inner.lock().unwrap();
        match mode {
            OpenMode::Read | OpenMode::ReadWrite => g
                .files
                .get(path)
                .map(|f| f.clone() as Arc<dyn VFile>)
                .ok_or_else(not_found),
            OpenMode::CreateNew => {
                if g.files.contains_key(path) {
                    return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                }
                if !path.parent().is_some_and(|p| g.dirs.contains(p)) {
                    return Err(not_found());
                }
                let f = Arc::new(MemFile::default());
                g.files.insert(path.to_path_buf(), f.clone());
                Ok(f)
            }
        }
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.lock().unwrap().dirs.insert(path.to_path_buf());
        Ok(())
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let g = self.inner.lock().unwrap();
        if !g.dirs.contains(path) {
            return Err(not_found());
        }
        Ok(g.files
            .keys()
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
            .collect())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut g = self.inner.lock().unwrap();
        let f = g.files.remove(from).ok_or_else(not_found)?;
        g.files.insert(to.to_path_buf(), f);
        if to.file_name().is_some_and(|n| n == "MERGE") && matches!(g.capture, Some(None)) {
            let snap = g
                .files
                .iter()
                .map(|(p, f)| (p.clone(), f.bytes()))
                .collect();
            g.capture = Some(Some(snap));
        }
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner
            .lock()
            .unwrap()
            .files
            .remove(path)
            .map(|_| ())
            .ok_or_else(not_found)
    }
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn LockGuard>> {
        let mut g = self.inner.lock().unwrap();
        if !path.parent().is_some_and(|p| g.dirs.contains(p)) {
            return Err(not_found());
        }
        g.files.entry(path.to_path_buf()).or_default();
        Ok(Box::new(NoLock))
    }
}

/// Engine options for in-memory runs: no syncing, no background merge, a clock stopped
/// at `now_ms` (0: nothing ever expires).
pub fn engine_options(
    fs: Arc<MemFs>,
    salvage: bool,
    segment_size: u64,
    now_ms: u64,
) -> EngineOptions {
    EngineOptions {
        sync: SyncMode::Never,
        segment_size,
        salvage,
        create_if_missing: true,
        vfs: fs,
        clock: Arc::new(move || now_ms),
        auto_merge: None,
    }
}

// ---------------------------------------------------------------------------------------
// Checksum fix-ups
// ---------------------------------------------------------------------------------------

fn crc(b: &[u8]) -> u32 {
    crc32fast::hash(b)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

const BATCH_MAGIC: &[u8; 4] = b"KBAT";

/// Rewrites the checksums of a segment file so they match its bytes: the header's (after
/// setting its segment number to `id`) and, wherever the bytes parse as batches, every
/// record's and batch's. Lengths, kinds and sequences stay as the fuzzer made them, so
/// the checks behind the checksums get exercised.
pub fn fix_segment(b: &mut [u8], id: u32) {
    if b.len() < SEGMENT_HEADER_LEN {
        return;
    }
    b[16..24].copy_from_slice(&u64::from(id).to_le_bytes());
    let c = crc(&b[0..32]);
    b[32..36].copy_from_slice(&c.to_le_bytes());
    let mut pos = SEGMENT_HEADER_LEN;
    while pos + BATCH_HEADER_LEN <= b.len() {
        if &b[pos..pos + 4] != BATCH_MAGIC {
            // Resynchronise on the next batch magic, as salvage does.
            match b[pos + 1..].windows(4).position(|w| w == BATCH_MAGIC) {
                Some(i) => {
                    pos += 1 + i;
                    continue;
                }
                None => return,
            }
        }
        let count = u32_at(b, pos + 16) as usize;
        let body_len = u64_at(b, pos + 24);
        let body_start = pos + BATCH_HEADER_LEN;
        let body_end = (body_start as u64)
            .saturating_add(body_len)
            .min(b.len() as u64) as usize;
        let mut h = crc32fast::Hasher::new();
        h.update(&b[pos + 8..pos + BATCH_HEADER_LEN]);
        let mut at = body_start;
        for _ in 0..count.min(4096) {
            if at + RECORD_HEADER_LEN > body_end {
                break;
            }
            let key_len = u32_at(b, at + 12) as u64;
            let val_len = u32_at(b, at + 16) as u64;
            let end = at as u64 + RECORD_HEADER_LEN as u64 + key_len + val_len;
            if end > body_end as u64 {
                break;
            }
            let end = end as usize;
            let rc = crc(&b[at + 4..end]);
            b[at..at + 4].copy_from_slice(&rc.to_le_bytes());
            h.update(&rc.to_le_bytes());
            at = end;
        }
        let bc = h.finalize();
        b[pos + 4..pos + 8].copy_from_slice(&bc.to_le_bytes());
        pos = if body_end > body_start {
            body_end
        } else {
            body_start
        };
    }
}

/// Rewrites the header checksum of a hint file (bit 0 of `what`) and the checksum of
/// every block that fits (bit 1).
pub fn fix_hint(b: &mut [u8], what: u8) {
    if b.len() < 40 {
        return;
    }
    if what & 1 != 0 {
        let c = crc(&b[0..32]);
        b[32..36].copy_from_slice(&c.to_le_bytes());
    }
    if what & 2 != 0 {
        let mut at = 40usize;
        while at + 8 <= b.len() {
            let len = u32_at(b, at) as usize;
            let Some(end) = (at + 8).checked_add(len).filter(|&e| e <= b.len()) else {
                return;
            };
            let c = crc(&b[at + 8..end]);
            b[at + 4..at + 8].copy_from_slice(&c.to_le_bytes());
            at = end;
        }
    }
}

/// Rewrites the trailing checksum of a `MERGE` file.
pub fn fix_merge_file(b: &mut [u8]) {
    if let Some(n) = b.len().checked_sub(4) {
        let c = crc(&b[..n]);
        b[n..].copy_from_slice(&c.to_le_bytes());
    }
}

// ---------------------------------------------------------------------------------------
// Checks of a recovered index
// ---------------------------------------------------------------------------------------

/// Every version the index holds: (keyspace, key, versions oldest first).
pub fn index_dump(kd: &katamari::engine::keydir::Keydir) -> Vec<MergeCandidate> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let next = kd.merge_candidates(after.as_ref(), 1 << 20, |_| true, 0, &mut out);
        match next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

/// A comparable summary of an index dump.
pub type Summary = Vec<(u32, Vec<u8>, Vec<(u32, u64, u32, u64, bool, u64)>)>;

pub fn summarize(dump: &[MergeCandidate]) -> Summary {
    dump.iter()
        .map(|c| {
            let v = c
                .versions
                .iter()
                .map(|v| {
                    let e = &v.entry;
                    (
                        e.seg,
                        e.offset(),
                        e.val_len,
                        e.seq,
                        e.is_tombstone(),
                        v.expires_at,
                    )
                })
                .collect();
            (c.keyspace, c.key.clone(), v)
        })
        .collect()
}

/// A summary of what recovery found, for comparing two recoveries.
/// Segments (id, valid length, merged), repairs, last sequence and index of a recovery.
pub type RecoveredSummary = (Vec<(u32, u64, bool)>, Vec<String>, u64, Summary);

pub fn recovered_summary(r: &Recovered) -> RecoveredSummary {
    (
        r.segments.iter().map(|s| (s.id, s.len, s.merged)).collect(),
        r.repairs.iter().map(|x| format!("{x:?}")).collect(),
        r.last_seq,
        summarize(&index_dump(&r.keydir)),
    )
}

/// Checks that what recovery returned is consistent with itself and with the files:
/// segments in order, lengths within the files, repairs that name the right segments,
/// and (with `records_verified`, i.e. the index came from scanning, not from a hint
/// file) every indexed version pointing at a record that passes `verify_record` and
/// holds exactly what the index says.
pub fn check_recovered(r: &Recovered, salvage: bool, records_verified: bool) {
    assert!(
        r.segments.windows(2).all(|w| w[0].id < w[1].id),
        "segments out of order"
    );
    for s in &r.segments {
        let size = s.file.size().unwrap();
        // Salvage keeps a segment whose header is damaged, however short the file.
        let bad_header = r.salvaged.iter().any(|(id, at, _)| *id == s.id && *at == 0);
        let min = if bad_header {
            0
        } else {
            SEGMENT_HEADER_LEN as u64
        };
        assert!(
            s.len >= min && s.len <= size,
            "segment {} valid length {} outside [{min}, {size}]",
            s.id,
            s.len
        );
        if s.len < size {
            let torn = r.repairs.iter().any(|x| {
                *x == Repair::Truncate {
                    seg: s.id,
                    len: s.len,
                }
            });
            let salvaged = r.salvaged.iter().any(|(id, _, _)| *id == s.id);
            assert!(
                torn || salvaged,
                "segment {} shortened to {} of {size} bytes without a repair or salvage",
                s.id,
                s.len
            );
        }
    }
    assert_eq!(
        r.active,
        r.segments.iter().rposition(|s| !s.merged),
        "active segment is not the newest data segment"
    );
    for rep in &r.repairs {
        match *rep {
            Repair::Truncate { seg, len } => {
                let a = r.active.expect("a truncation needs an active segment");
                assert_eq!(
                    r.segments[a].id, seg,
                    "truncation of a segment other than the active one"
                );
                assert_eq!(
                    r.segments[a].len, len,
                    "truncation length differs from the valid length"
                );
            }
            Repair::RemoveSegment { seg } => {
                assert!(
                    r.segments.iter().all(|s| s.id != seg),
                    "segment {seg} both removed and kept"
                );
            }
        }
    }
    if !salvage {
        assert!(r.salvaged.is_empty(), "salvaged without salvage mode");
    }
    for (seg, at, _) in &r.salvaged {
        let s = r
            .segments
            .iter()
            .find(|s| s.id == *seg)
            .expect("salvaged segment is listed");
        // A damaged header is reported at 0 even in an empty file.
        assert!(
            *at == 0 || *at < s.file.size().unwrap(),
            "salvage offset past the file"
        );
    }
    let dump = index_dump(&r.keydir);
    for c in &dump {
        assert_eq!(
            c.versions.len(),
            1,
            "recovery kept old versions of a key (no snapshot is open)"
        );
        for v in &c.versions {
            let e = &v.entry;
            if !records_verified {
                // A hint file is trusted once its checksums pass (values are still
                // checked on every read): nothing here is promised about it.
                continue;
            }
            assert!(
                e.seq <= r.last_seq,
                "indexed sequence {} above last_seq {}",
                e.seq,
                r.last_seq
            );
            let s = r
                .segments
                .iter()
                .find(|s| s.id == e.seg)
                .unwrap_or_else(|| panic!("index points at unknown segment {}", e.seg));
            let len = e.record_len(c.key.len());
            assert!(
                e.offset() >= SEGMENT_HEADER_LEN as u64 && e.offset() + len <= s.len,
                "record at {}+{len} outside segment {} of valid length {}",
                e.offset(),
                s.id,
                s.len
            );
            let mut rec = vec![0u8; len as usize];
            s.file.read_exact_at(&mut rec, e.offset()).unwrap();
            let h = verify_record(&rec, c.keyspace, &c.key)
                .unwrap_or_else(|why| panic!("indexed record fails verification: {why}"));
            assert_eq!(h.seq, e.seq, "index sequence differs from the record's");
            assert_eq!(
                h.kind == RecordKind::Delete,
                e.is_tombstone(),
                "index kind differs"
            );
            assert_eq!(h.val_len, e.val_len, "index value length differs");
            let want_exp = if h.kind == RecordKind::Delete {
                0
            } else {
                h.expires_at
            };
            assert_eq!(
                v.expires_at, want_exp,
                "index expiry differs from the record's"
            );
        }
    }
}

/// Opens the database in `fs` with the engine (which finishes a pending merge, recovers,
/// applies repairs and loads the keyspace catalog), reads every key of `expect` (as
/// [`index_dump`] of an earlier recovery found them), appends one record, closes, and
/// opens again: the second open must succeed and see the same plus the new record.
/// Returns the open error if the first open failed.
pub fn open_read_reopen(
    fs: Arc<MemFs>,
    salvage: bool,
    expect: Option<&[MergeCandidate]>,
) -> katamari::Result<()> {
    let eng = Engine::open(dir(), engine_options(fs.clone(), salvage, 1 << 20, 0))?;
    let check = |eng: &Engine, expect: &[MergeCandidate]| {
        for c in expect {
            let v = c.versions.last().expect("a version");
            let got = eng.get(c.keyspace, &c.key);
            match got {
                Ok(Some(val)) => {
                    assert!(
                        !v.entry.is_tombstone(),
                        "deleted key read back with a value"
                    );
                    assert_eq!(val.len() as u64, u64::from(v.entry.val_len), "value length");
                }
                Ok(None) => assert!(
                    v.entry.is_tombstone() || c.keyspace != 0,
                    "default-keyspace key lost between recovery and open"
                ),
                Err(e) => panic!("reading a recovered key failed: {e}"),
            }
        }
    };
    if let Some(expect) = expect {
        check(&eng, expect);
    }
    let probe = katamari::engine::format::OpRef {
        keyspace: 0,
        kind: RecordKind::Put,
        key: b"\xff-fuzz-probe",
        value: b"written after recovery",
        expires_at: 0,
    };
    let wrote = eng.write(&[probe]);
    eng.close().expect("close after recovery");
    drop(eng);
    if let Err(e) = &wrote {
        // Writing into a database that recovered cleanly must work.
        panic!("write after recovery failed: {e}");
    }
    let eng = Engine::open(dir(), engine_options(fs, salvage, 1 << 20, 0))
        .unwrap_or_else(|e| panic!("reopening a database this build just closed failed: {e}"));
    if let Some(expect) = expect {
        let others: Vec<_> = expect
            .iter()
            .filter(|c| !(c.keyspace == 0 && c.key == probe.key))
            .map(|c| MergeCandidate {
                keyspace: c.keyspace,
                key: c.key.clone(),
                versions: c.versions.clone(),
                expired: c.expired,
            })
            .collect();
        check(&eng, &others);
    }
    assert_eq!(
        eng.get(0, probe.key).expect("read probe").as_deref(),
        Some(probe.value),
        "record written after recovery lost by the next open"
    );
    eng.close().expect("second close");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Small databases
// ---------------------------------------------------------------------------------------

/// Writes a small database through the engine into `fs`: a few keys in the default and a
/// named keyspace, overwrites, deletes, a TTL, a multi-record batch, segments of
/// `segment_size` bytes; with `merge`, a merge and more writes after it. Closes cleanly.
pub fn build_db(fs: &Arc<MemFs>, segment_size: u64, merge: bool) {
    use katamari::engine::format::OpRef;
    let eng = Engine::open(
        dir(),
        engine_options(fs.clone(), false, segment_size, 1_000),
    )
    .expect("create the database");
    let put = |eng: &Engine, ks: u32, k: &[u8], v: &[u8], exp: u64| {
        eng.write(&[OpRef {
            keyspace: ks,
            kind: RecordKind::Put,
            key: k,
            value: v,
            expires_at: exp,
        }])
        .expect("put");
    };
    let del = |eng: &Engine, ks: u32, k: &[u8]| {
        eng.write(&[OpRef {
            keyspace: ks,
            kind: RecordKind::Delete,
            key: k,
            value: b"",
            expires_at: 0,
        }])
        .expect("delete");
    };
    let ks = eng.keyspace(b"users", true).unwrap().unwrap();
    for i in 0..12u32 {
        put(
            &eng,
            0,
            format!("key{i:02}").as_bytes(),
            format!("value-{i}").as_bytes(),
            0,
        );
    }
    put(&eng, ks, b"alice", b"{\"age\":30}", 0);
    put(&eng, ks, b"bob", b"", 0);
    put(&eng, 0, b"key03", b"overwritten", 0);
    del(&eng, 0, b"key04");
    put(&eng, 0, b"ttl", b"expires", 5_000);
    let k1 = b"batch-a".to_vec();
    let k2 = b"batch-b".to_vec();
    eng.write(&[
        OpRef {
            keyspace: 0,
            kind: RecordKind::Put,
            key: &k1,
            value: b"1",
            expires_at: 0,
        },
        OpRef {
            keyspace: ks,
            kind: RecordKind::Put,
            key: &k2,
            value: b"2",
            expires_at: 0,
        },
        OpRef {
            keyspace: 0,
            kind: RecordKind::Delete,
            key: b"key05",
            value: b"",
            expires_at: 0,
        },
    ])
    .expect("batch");
    if merge {
        eng.merge().expect("merge");
        put(&eng, 0, b"after-merge", b"x", 0);
        del(&eng, 0, b"key06");
        put(&eng, 0, b"key07", b"newer", 0);
    }
    eng.close().expect("close");
}

/// Segment file name of `id`.
pub fn seg_name(id: u32) -> String {
    format!("{id:010}.kseg")
}

/// Hint file name of `id`.
pub fn hint_name(id: u32) -> String {
    format!("{id:010}.khint")
}
