//! The engine's I/O goes through `Vfs`; these tests inject failures through it.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use katamari::engine::vfs::{LockGuard, OpenMode, StdFs, VFile, Vfs};
use katamari::{Db, Options, Status, SyncMode};

/// Passes everything to the real file system, but fails syncs or writes on demand.
#[derive(Default)]
struct Faulty {
    fail_sync: AtomicBool,
    fail_write: AtomicBool,
    writes: AtomicU64,
}

struct FaultyFile {
    inner: Arc<dyn VFile>,
    vfs: Arc<Faulty>,
}

impl VFile for FaultyFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.vfs.writes.fetch_add(1, Ordering::SeqCst);
        if self.vfs.fail_write.load(Ordering::SeqCst) {
            // Half the bytes land, then the device is full.
            self.inner.write_all_at(&data[..data.len() / 2], offset)?;
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        self.inner.write_all_at(data, offset)
    }
    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }
    fn sync_data(&self) -> io::Result<()> {
        if self.vfs.fail_sync.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.inner.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

struct Handle(Arc<Faulty>);

impl Vfs for Handle {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VFile>> {
        Ok(Arc::new(FaultyFile {
            inner: StdFs.open(path, mode)?,
            vfs: self.0.clone(),
        }))
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        StdFs.create_dir(path)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        StdFs.list(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFs.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        StdFs.remove(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        StdFs.sync_dir(path)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn LockGuard>> {
        StdFs.lock(path)
    }
}

#[test]
fn failed_fsync_stops_the_writer_and_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let faults = Arc::new(Faulty::default());
    let db = Db::open(
        &dir,
        Options::default().vfs(Arc::new(Handle(faults.clone()))),
    )
    .unwrap();
    db.put(b"acked", b"1").unwrap();
    faults.fail_sync.store(true, Ordering::SeqCst);
    let e = db.put(b"unacked", b"2").unwrap_err();
    assert_eq!(e.status(), Status::Io);
    assert_eq!(
        db.get(b"unacked").unwrap(),
        None,
        "a failed commit is not visible"
    );
    faults.fail_sync.store(false, Ordering::SeqCst);
    // No retrying fsync on a dirty state: the writer refuses until reopened.
    assert_eq!(db.put(b"later", b"3").unwrap_err().status(), Status::Io);
    assert!(db.close().is_err());

    let db = Db::open(&dir, Options::default()).unwrap();
    assert_eq!(db.get(b"acked").unwrap().unwrap(), b"1");
    assert_eq!(db.get(b"later").unwrap(), None);
    db.put(b"after", b"4").unwrap();
}

#[test]
fn full_disk_during_append_is_no_space_and_writing_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let faults = Arc::new(Faulty::default());
    let opts = || {
        Options::default()
            .sync(SyncMode::Never)
            .vfs(Arc::new(Handle(faults.clone())))
    };
    let db = Db::open(&dir, opts()).unwrap();
    db.put(b"a", b"1").unwrap();
    faults.fail_write.store(true, Ordering::SeqCst);
    assert_eq!(db.put(b"b", b"2").unwrap_err().status(), Status::NoSpace);
    faults.fail_write.store(false, Ordering::SeqCst);
    // The half-written batch was cut off, so the log stays clean for the next append.
    db.put(b"c", b"3").unwrap();
    db.close().unwrap();
    let db = Db::open(&dir, Options::default()).unwrap();
    assert_eq!(db.get(b"a").unwrap().unwrap(), b"1");
    assert_eq!(db.get(b"b").unwrap(), None);
    assert_eq!(db.get(b"c").unwrap().unwrap(), b"3");
    assert!(faults.writes.load(Ordering::SeqCst) >= 3);
}
