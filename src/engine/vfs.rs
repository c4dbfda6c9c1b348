//! The narrow file-system interface every engine I/O goes through.
//!
//! The engine never touches `std::fs` directly: it asks a [`Vfs`] for files and directory
//! operations. [`StdFs`] is the real file system; tests substitute implementations that
//! inject faults or record writes and syncs to simulate power loss.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// An open file. Offsets are absolute; there is no shared cursor, so one handle can serve
/// concurrent readers.
pub trait VFile: Send + Sync {
    /// Fills `buf` from `offset`; a short file is `UnexpectedEof`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `data` at `offset` (the engine only ever writes at the end).
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()>;
    /// Current length in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Makes written data durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
    /// Cuts (or extends with zeros) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// A read-only shared memory view of the first `len` bytes, which may extend past
    /// the current end of the file (those bytes must not be read until written).
    /// `None` when the implementation does not map files; reads then use
    /// [`VFile::read_exact_at`].
    fn map(&self, _len: u64) -> Option<Arc<dyn Mapping>> {
        None
    }
}

/// Mapped bytes of a file.
pub trait Mapping: Send + Sync {
    fn bytes(&self) -> &[u8];
}

impl Mapping for memmap2::Mmap {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// Holds an exclusive advisory lock until dropped.
pub trait LockGuard: Send + Sync {}

/// How to open a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Existing file, read only.
    Read,
    /// Existing file, read and write.
    ReadWrite,
    /// New file, read and write; fails if it exists.
    CreateNew,
}

/// Directory and file operations of the engine.
pub trait Vfs: Send + Sync {
    /// Opens `path` in `mode`.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VFile>>;
    /// Creates `path` as a directory; an existing directory is fine.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of directory `path`.
    fn list(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Takes an exclusive advisory lock on `path` (created if missing) without waiting:
    /// `WouldBlock` when someone else holds it.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn LockGuard>>;
    /// Makes `to` a second name of the file `from` (a hard link); `Unsupported` where
    /// the implementation cannot, and callers then copy.
    fn hard_link(&self, _from: &Path, _to: &Path) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFs;

struct StdFile(File);

impl VFile for StdFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(data, offset)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn map(&self, len: u64) -> Option<Arc<dyn Mapping>> {
        let len = usize::try_from(len).ok().filter(|l| *l > 0)?;
        // SAFETY: the engine maps only its own segment files, which it never truncates
        // below bytes it has handed out for reading, and it reads a mapped range only
        // after writing it; the directory lock keeps other writers out.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(&self.0) }.ok()?;
        Some(Arc::new(map))
    }
}

struct StdLock(#[allow(dead_code)] File);
impl LockGuard for StdLock {}

impl Vfs for StdFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VFile>> {
        let mut o = OpenOptions::new();
        match mode {
            OpenMode::Read => o.read(true),
            OpenMode::ReadWrite => o.read(true).write(true),
            OpenMode::CreateNew => o.read(true).write(true).create_new(true),
        };
        Ok(Arc::new(StdFile(o.open(path)?)))
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        match fs::create_dir(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
            r => r,
        }
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(path)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::hard_link(from, to)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn LockGuard>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match f.try_lock() {
            Ok(()) => Ok(Box::new(StdLock(f))),
            Err(TryLockError::WouldBlock) => Err(io::Error::from(io::ErrorKind::WouldBlock)),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}
