//! Streamed uploads and reads of objects larger than memory.

use std::io;

use sha2::Digest;

use crate::codec::{Compressor, ContentHasher};
use crate::engine::format::{OpRef, RecordKind};
use crate::{Error, Result, Txn};

use super::layout::{chunk_key, corrupt, ObjectInfo};
use super::{check_expected, discard_upload, Bucket, PutOptions};
use crate::txn::retry;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// A write failed: the upload can only be aborted.
    Failed,
    Done,
}

/// A streamed upload of one object version. Write the content in pieces of any size,
/// then [`commit`](BlobWriter::commit) (the version appears atomically) or
/// [`abort`](BlobWriter::abort). Dropping an uncommitted writer aborts it. Not for use
/// by two threads at once.
pub struct BlobWriter {
    bucket: Bucket,
    key: Vec<u8>,
    opts: PutOptions,
    blob: u64,
    /// Content not yet written as a chunk (less than one chunk).
    pending: Vec<u8>,
    chunks: u64,
    size: u64,
    stored: u64,
    hasher: ContentHasher,
    compressor: Compressor,
    scratch: Vec<u8>,
    encoded: Vec<u8>,
    state: State,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("key", &String::from_utf8_lossy(&self.key))
            .field("size", &self.size)
            .finish()
    }
}

impl BlobWriter {
    pub(super) fn start(bucket: Bucket, key: &[u8], opts: PutOptions) -> Result<BlobWriter> {
        let blob = bucket.next_id()?;
        let compressor = bucket.compressor()?;
        // The upload record comes first, so whatever chunks a crash leaves behind, the
        // next open finds them through it.
        let blob_key = blob.to_be_bytes();
        bucket.db().with(|e| {
            e.write_unsynced(&[OpRef {
                keyspace: bucket.inner.uploads,
                kind: RecordKind::Put,
                key: &blob_key,
                value: key,
                expires_at: 0,
            }])
        })?;
        let cs = bucket.chunk_size() as usize;
        Ok(BlobWriter {
            bucket,
            key: key.to_vec(),
            opts,
            blob,
            pending: Vec::with_capacity(cs),
            chunks: 0,
            size: 0,
            stored: 0,
            hasher: ContentHasher::new(),
            compressor,
            scratch: Vec::new(),
            encoded: Vec::new(),
            state: State::Open,
        })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.size
    }

    fn check_open(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            State::Failed => Err(Error::InvalidArgument(
                "an earlier write of this upload failed: abort it".into(),
            )),
            State::Done => Err(Error::InvalidArgument("the upload has ended".into())),
        }
    }

    /// Appends `data` to the content.
    pub fn write(&mut self, mut data: &[u8]) -> Result<()> {
        self.check_open()?;
        let cs = self.bucket.chunk_size() as usize;
        self.hasher.update(data);
        self.size += data.len() as u64;
        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= cs {
                // Whole chunks straight from the caller's buffer, without a copy.
                let (chunk, rest) = data.split_at(cs);
                self.emit(Some(chunk))?;
                data = rest;
                continue;
            }
            let take = (cs - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == cs {
                self.emit(None)?;
            }
        }
        Ok(())
    }

    /// Writes one chunk: `raw`, or the pending bytes.
    fn emit(&mut self, raw: Option<&[u8]>) -> Result<()> {
        let raw = raw.unwrap_or(&self.pending);
        let result = self
            .bucket
            .codec()
            .encode(
                &mut self.compressor,
                self.blob,
                self.chunks,
                raw,
                &mut self.scratch,
                &mut self.encoded,
            )
            .and_then(|_| {
                let key = chunk_key(self.blob, self.chunks);
                self.bucket.db().with(|e| {
                    e.write_unsynced(&[OpRef {
                        keyspace: self.bucket.inner.chunks,
                        kind: RecordKind::Put,
                        key: &key,
                        value: &self.encoded,
                        expires_at: 0,
                    }])
                })
            });
        if let Err(e) = result {
            self.state = State::Failed;
            return Err(e);
        }
        self.stored += self.encoded.len() as u64;
        self.chunks += 1;
        self.pending.clear();
        Ok(())
    }

    /// Writes the last chunk and describes the version (without its number yet).
    fn finish(&mut self) -> Result<ObjectInfo> {
        self.check_open()?;
        if !self.pending.is_empty() {
            self.emit(None)?;
        }
        let sha256: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        check_expected(&self.opts, &sha256)?;
        Ok(ObjectInfo {
            key: self.key.clone(),
            version: 0,
            size: self.size,
            stored_size: self.stored,
            sha256,
            created_ms: 0,
            content_type: std::mem::take(&mut self.opts.content_type),
            metadata: std::mem::take(&mut self.opts.metadata),
            blob: self.blob,
            chunk_size: self.bucket.chunk_size(),
        })
    }

    /// Makes the content the newest version of the key, atomically, and returns its
    /// info. On any error nothing becomes visible and the chunks are discarded.
    pub fn commit(mut self) -> Result<ObjectInfo> {
        let result = self.finish().and_then(|info| {
            let uploads = self.bucket.inner.uploads;
            let blob_key = self.blob.to_be_bytes();
            retry(self.bucket.db(), |tx| {
                let info = self.bucket.add_version_tx(tx, info.clone())?;
                // Only this writer touches its upload record, which may still wait for
                // its sync (and so look like a concurrent write) under sync-always.
                tx.skip_conflicts_in(uploads);
                tx.delete_ks(uploads, &blob_key)?;
                Ok(info)
            })
        });
        if result.is_ok() {
            self.state = State::Done;
        }
        result
    }

    /// Stages the version in `tx`: it appears when `tx` commits. If `tx` aborts or its
    /// commit fails, the chunks are discarded.
    pub fn commit_in(mut self, tx: &mut Txn) -> Result<ObjectInfo> {
        self.bucket.check_txn(tx)?;
        let info = self.finish()?;
        let info = self.bucket.add_version_tx(tx, info)?;
        // The upload record was written after `tx` began; only this writer touches it.
        tx.skip_conflicts_in(self.bucket.inner.uploads);
        tx.delete_ks(self.bucket.inner.uploads, &self.blob.to_be_bytes())?;
        self.state = State::Done;
        let (bucket, blob, chunks) = (self.bucket.clone(), self.blob, self.chunks);
        tx.on_abort(Box::new(move || {
            let inner = &bucket.inner;
            let _ = discard_upload(&inner.db, inner.uploads, inner.chunks, blob, Some(chunks));
        }));
        Ok(info)
    }

    /// Discards the upload: nothing becomes visible and the chunks written are deleted.
    pub fn abort(mut self) -> Result<()> {
        self.discard()
    }

    fn discard(&mut self) -> Result<()> {
        if self.state == State::Done {
            return Ok(());
        }
        self.state = State::Done;
        let inner = &self.bucket.inner;
        discard_upload(
            &inner.db,
            inner.uploads,
            inner.chunks,
            self.blob,
            Some(self.chunks),
        )
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Best effort: whatever is left is removed at the next open.
        let _ = self.discard();
    }
}

impl io::Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        BlobWriter::write(self, buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A streaming reader of one object version, on the snapshot it was opened at. Reads
/// one chunk at a time. Reading the content from start to end checks it against its
/// SHA-256 before the last chunk is handed out; every chunk is also checked by its
/// record checksum (and, when encrypted, its authentication tag). Not for use by two
/// threads at once.
pub struct BlobReader {
    bucket: Bucket,
    /// A read-only transaction holding the snapshot.
    tx: Txn,
    info: ObjectInfo,
    pos: u64,
    /// The loaded chunk's content is `chunk[chunk_at..]`.
    chunk: Vec<u8>,
    chunk_at: usize,
    chunk_index: Option<u64>,
    /// Chunks fed to the checksum, in order from the first.
    hashed: u64,
    hasher: ContentHasher,
    /// Why the content failed its checks; every later read fails the same way.
    failed: Option<String>,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("key", &String::from_utf8_lossy(&self.info.key))
            .field("version", &self.info.version)
            .field("pos", &self.pos)
            .finish()
    }
}

impl BlobReader {
    pub(super) fn new(bucket: Bucket, tx: Txn, info: ObjectInfo) -> Result<BlobReader> {
        if info.size == 0 && <[u8; 32]>::from(ContentHasher::digest([])) != info.sha256 {
            return Err(corrupt("content does not match its SHA-256"));
        }
        Ok(BlobReader {
            bucket,
            tx,
            info,
            pos: 0,
            chunk: Vec::new(),
            chunk_at: 0,
            chunk_index: None,
            hashed: 0,
            hasher: ContentHasher::new(),
            failed: None,
        })
    }

    /// The version being read.
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    /// Content length.
    pub fn size(&self) -> u64 {
        self.info.size
    }

    /// The read position.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Moves the read position to `pos` (at most the size).
    pub fn seek_to(&mut self, pos: u64) -> Result<u64> {
        if pos > self.info.size {
            return Err(Error::InvalidArgument(format!(
                "position {pos} is past the end of a {}-byte object",
                self.info.size
            )));
        }
        self.pos = pos;
        Ok(pos)
    }

    /// Reads up to `buf.len()` bytes at the read position; 0 at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if let Some(why) = &self.failed {
            return Err(Error::Corruption(why.clone()));
        }
        if self.pos >= self.info.size || buf.is_empty() {
            return Ok(0);
        }
        let cs = u64::from(self.info.chunk_size);
        let index = self.pos / cs;
        if let Err(e) = self.load(index) {
            if let Error::Corruption(why) = &e {
                self.failed = Some(why.clone());
            }
            return Err(e);
        }
        let content = &self.chunk[self.chunk_at..];
        let at = (self.pos - index * cs) as usize;
        let n = buf.len().min(content.len() - at);
        buf[..n].copy_from_slice(&content[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }

    fn load(&mut self, index: u64) -> Result<()> {
        if self.chunk_index == Some(index) {
            return Ok(());
        }
        self.chunk_index = None;
        let info = &self.info;
        let Some(stored) = self
            .tx
            .get_ks(self.bucket.inner.chunks, &chunk_key(info.blob, index))?
        else {
            // A dropped bucket takes its chunks with it, snapshots or not: say so
            // rather than report damage.
            self.bucket.live()?;
            return Err(corrupt(&format!(
                "chunk {index} of blob {} is missing",
                info.blob
            )));
        };
        self.chunk_at = self.bucket.codec().decode(
            info.blob,
            index,
            stored,
            info.chunk_len(index),
            &mut self.chunk,
        )?;
        if index == self.hashed {
            self.hasher.update(&self.chunk[self.chunk_at..]);
            self.hashed += 1;
            if self.hashed == info.chunks() {
                let sum: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
                if sum != info.sha256 {
                    return Err(corrupt("content does not match its SHA-256"));
                }
            }
        }
        self.chunk_index = Some(index);
        Ok(())
    }
}

impl io::Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        BlobReader::read(self, buf).map_err(io::Error::other)
    }
}

impl io::Seek for BlobReader {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let target = match pos {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => self.info.size.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.seek_to(target)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }
}
