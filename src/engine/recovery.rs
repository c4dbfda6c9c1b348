//! Opening a data directory: read every segment in number order, rebuild the keydir, and
//! tell a torn tail (an unacknowledged batch cut short by a crash) from real damage.
//!
//! Recovery only reads. It returns what it found and the one repair it would make (cut
//! the torn tail); the caller applies that repair only when nothing else was wrong.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::format::{
    BatchHeader, RecordHeader, RecordKind, SegmentHeader, BATCH_HEADER_LEN, RECORD_HEADER_LEN,
    SEGMENT_HEADER_LEN,
};
use super::keydir::{Entry, Keydir, OpenSnapshots};
use super::segment;
use super::vfs::{OpenMode, VFile, Vfs};
use crate::error::{Error, Result};

/// What recovery found.
pub struct Recovered {
    pub keydir: Keydir,
    /// Every segment with its file handle and its valid length, in number order.
    pub segments: Vec<(u32, Arc<dyn VFile>, u64)>,
    /// Highest commit sequence seen in a batch or segment header.
    pub last_seq: u64,
    /// The repair to make before appending.
    pub repair: Repair,
    /// Damaged byte ranges skipped in salvage mode: (segment, offset, reason).
    pub salvaged: Vec<(u32, u64, String)>,
}

/// A torn tail to remove.
#[derive(Debug, PartialEq, Eq)]
pub enum Repair {
    None,
    /// Cut the last segment to this length.
    Truncate {
        seg: u32,
        len: u64,
    },
    /// The last segment never got a complete header: delete it.
    RemoveSegment {
        seg: u32,
    },
}

enum BatchError {
    /// The batch runs past the end of the file.
    Short,
    /// The batch is present but fails a check.
    Bad(String),
}

/// One committed batch as found in the log.
struct FoundBatch {
    seq: u64,
    end: u64,
    records: Vec<(RecordHeader, Vec<u8>, u64)>,
}

/// Buffered positional reader over one segment.
struct Scanner<'a> {
    file: &'a dyn VFile,
    len: u64,
    buf: Vec<u8>,
    buf_at: u64,
    buf_len: usize,
}

const SCAN_BUF: usize = 1 << 20;

impl<'a> Scanner<'a> {
    fn new(file: &'a dyn VFile, len: u64) -> Self {
        Scanner {
            file,
            len,
            buf: vec![0; SCAN_BUF],
            buf_at: 0,
            buf_len: 0,
        }
    }

    /// `n` (≤ SCAN_BUF) bytes at `pos`, or `None` past the end of the file.
    fn bytes(&mut self, pos: u64, n: usize) -> io::Result<Option<&[u8]>> {
        if pos + n as u64 > self.len {
            return Ok(None);
        }
        let in_buf = pos >= self.buf_at && pos + n as u64 <= self.buf_at + self.buf_len as u64;
        if !in_buf {
            let want = (self.len - pos).min(SCAN_BUF as u64) as usize;
            self.file.read_exact_at(&mut self.buf[..want], pos)?;
            self.buf_at = pos;
            self.buf_len = want;
        }
        let start = (pos - self.buf_at) as usize;
        Ok(Some(&self.buf[start..start + n]))
    }

    /// Feeds `n` bytes at `pos` to `h`; false when they run past the end.
    fn hash(&mut self, mut pos: u64, mut n: u64, h: &mut crc32fast::Hasher) -> io::Result<bool> {
        while n > 0 {
            let step = n.min(SCAN_BUF as u64) as usize;
            match self.bytes(pos, step)? {
                Some(b) => h.update(b),
                None => return Ok(false),
            }
            pos += step as u64;
            n -= step as u64;
        }
        Ok(true)
    }

    /// Whether every byte from `pos` to the end is zero (space the file system allocated
    /// but the crash never filled).
    fn zeros_from(&mut self, mut pos: u64) -> io::Result<bool> {
        while pos < self.len {
            let step = (self.len - pos).min(SCAN_BUF as u64) as usize;
            let b = self.bytes(pos, step)?.expect("within file");
            if b.iter().any(|&x| x != 0) {
                return Ok(false);
            }
            pos += step as u64;
        }
        Ok(true)
    }

    fn read_batch(&mut self, pos: u64) -> io::Result<std::result::Result<FoundBatch, BatchError>> {
        let Some(hb) = self.bytes(pos, BATCH_HEADER_LEN)? else {
            return Ok(Err(BatchError::Short));
        };
        let Some(bh) = BatchHeader::decode(hb) else {
            return Ok(Err(BatchError::Bad("bad batch header".into())));
        };
        let mut bcrc = BatchHeader::crc_start(hb);
        let body_start = pos + BATCH_HEADER_LEN as u64;
        let end = match body_start.checked_add(bh.body_len) {
            Some(e) if e <= self.len => e,
            _ => return Ok(Err(BatchError::Short)),
        };
        if bh.count == 0 || u64::from(bh.count) * RECORD_HEADER_LEN as u64 > bh.body_len {
            return Ok(Err(BatchError::Bad("impossible batch record count".into())));
        }
        let mut records = Vec::with_capacity(bh.count as usize);
        let mut at = body_start;
        for _ in 0..bh.count {
            if at + RECORD_HEADER_LEN as u64 > end {
                return Ok(Err(BatchError::Bad("record header past batch end".into())));
            }
            let rb = self.bytes(at, RECORD_HEADER_LEN)?.expect("within batch");
            let rh = match RecordHeader::decode(rb) {
                Ok(h) => h,
                Err(e) => return Ok(Err(BatchError::Bad(e))),
            };
            let mut h = crc32fast::Hasher::new();
            h.update(&rb[4..]);
            let rec_end = at + rh.record_len();
            if rec_end > end {
                return Ok(Err(BatchError::Bad("record past batch end".into())));
            }
            let key_at = at + RECORD_HEADER_LEN as u64;
            let key = self
                .bytes(key_at, rh.key_len as usize)?
                .expect("within batch")
                .to_vec();
            h.update(&key);
            let val_at = key_at + u64::from(rh.key_len);
            self.hash(val_at, u64::from(rh.val_len), &mut h)?;
            if h.finalize() != rh.crc {
                return Ok(Err(BatchError::Bad("record checksum mismatch".into())));
            }
            if rh.seq != bh.seq {
                return Ok(Err(BatchError::Bad(
                    "record sequence differs from its batch".into(),
                )));
            }
            bcrc.record(rh.crc);
            records.push((rh, key, at));
            at = rec_end;
        }
        if at != end {
            return Ok(Err(BatchError::Bad(
                "batch length does not match its records".into(),
            )));
        }
        if bcrc.finish() != bh.crc {
            return Ok(Err(BatchError::Bad("batch checksum mismatch".into())));
        }
        Ok(Ok(FoundBatch {
            seq: bh.seq,
            end,
            records,
        }))
    }
}

fn corrupt(seg: u32, at: u64, why: &str) -> Error {
    Error::Corruption(format!("segment {seg} at byte {at}: {why}"))
}

fn io_err(seg: u32, e: io::Error) -> Error {
    Error::io(format!("reading segment {seg}"), e)
}

/// Reads the data directory `dir`. With `salvage`, damaged batches are skipped (and
/// listed) instead of refusing to open.
pub fn recover(vfs: &dyn Vfs, dir: &Path, salvage: bool) -> Result<Recovered> {
    let ids = segment::list(vfs, dir)?;
    let mut out = Recovered {
        keydir: Keydir::default(),
        segments: Vec::with_capacity(ids.len()),
        last_seq: 0,
        repair: Repair::None,
        salvaged: Vec::new(),
    };
    for (i, &id) in ids.iter().enumerate() {
        let last = i + 1 == ids.len();
        let mode = if last {
            OpenMode::ReadWrite
        } else {
            OpenMode::Read
        };
        let path = segment::path(dir, id);
        let file = vfs.open(&path, mode).map_err(|e| io_err(id, e))?;
        let len = file.size().map_err(|e| io_err(id, e))?;
        let mut sc = Scanner::new(file.as_ref(), len);

        let header_ok = match sc.bytes(0, SEGMENT_HEADER_LEN).map_err(|e| io_err(id, e))? {
            None => Err("segment shorter than its header".to_string()),
            Some(b) => SegmentHeader::decode(b.try_into().expect("header length")).and_then(|h| {
                if h.id == u64::from(id) {
                    Ok(h)
                } else {
                    Err(format!("header names segment {}", h.id))
                }
            }),
        };
        let header = match header_ok {
            Ok(h) => h,
            Err(why) => {
                // A crash between creating the file and syncing its header leaves a short
                // or zero-filled newest segment that never held an acknowledged batch.
                if last && (len < SEGMENT_HEADER_LEN as u64 || sc.zeros_from(0).unwrap_or(false)) {
                    out.repair = Repair::RemoveSegment { seg: id };
                    break;
                }
                return Err(corrupt(id, 0, &why));
            }
        };
        out.last_seq = out.last_seq.max(header.base_seq);

        let mut pos = SEGMENT_HEADER_LEN as u64;
        let mut valid_len = len;
        while pos < len {
            match sc.read_batch(pos).map_err(|e| io_err(id, e))? {
                Ok(b) => {
                    if b.seq <= out.last_seq {
                        let why = format!("sequence {} after {}", b.seq, out.last_seq);
                        if !salvage {
                            return Err(corrupt(id, pos, &why));
                        }
                        out.salvaged.push((id, pos, why));
                    } else {
                        out.last_seq = b.seq;
                        apply_batch(&mut out.keydir, id, &b);
                    }
                    pos = b.end;
                }
                Err(err) => {
                    let tail_is_torn = last
                        && match &err {
                            BatchError::Short => true,
                            BatchError::Bad(_) => {
                                sc.zeros_from(pos).unwrap_or(false)
                                    || batch_ends_at_eof(&mut sc, pos)
                                    || never_written(&mut sc, pos)
                            }
                        };
                    if tail_is_torn {
                        out.repair = Repair::Truncate { seg: id, len: pos };
                        valid_len = pos;
                        break;
                    }
                    let why = match err {
                        BatchError::Short => "batch runs past the end of a sealed segment".into(),
                        BatchError::Bad(w) => w,
                    };
                    if !salvage {
                        return Err(corrupt(id, pos, &why));
                    }
                    out.salvaged.push((id, pos, why));
                    match next_batch(&mut sc, pos + 1).map_err(|e| io_err(id, e))? {
                        Some(next) => pos = next,
                        None => {
                            valid_len = pos;
                            break;
                        }
                    }
                }
            }
        }
        out.segments.push((id, file, valid_len));
    }
    Ok(out)
}

/// Whether the damaged batch at `pos` declares an end exactly at the end of the file:
/// the last write, partly persisted.
fn batch_ends_at_eof(sc: &mut Scanner, pos: u64) -> bool {
    let Ok(Some(hb)) = sc.bytes(pos, BATCH_HEADER_LEN) else {
        return true;
    };
    BatchHeader::decode(hb)
        .is_some_and(|bh| (pos + BATCH_HEADER_LEN as u64).checked_add(bh.body_len) == Some(sc.len))
}

/// Whether the batch header at `pos` is all zero bytes: space a crash left unwritten
/// while later pages of unsynced appends reached the disk. Everything from here on was
/// never acknowledged as durable.
fn never_written(sc: &mut Scanner, pos: u64) -> bool {
    matches!(sc.bytes(pos, BATCH_HEADER_LEN), Ok(Some(h)) if h.iter().all(|&b| b == 0))
}

/// The next offset at or after `from` where a whole valid batch starts.
fn next_batch(sc: &mut Scanner, mut from: u64) -> io::Result<Option<u64>> {
    let magic = super::format::BATCH_MAGIC.to_le_bytes();
    while from + BATCH_HEADER_LEN as u64 <= sc.len {
        if sc.bytes(from, 4)? == Some(&magic[..]) && sc.read_batch(from)?.is_ok() {
            return Ok(Some(from));
        }
        from += 1;
    }
    Ok(None)
}

fn apply_batch(kd: &mut Keydir, seg: u32, b: &FoundBatch) {
    for (rh, key, at) in &b.records {
        let entry = match rh.kind {
            RecordKind::Put => Entry::value(seg, *at, rh.val_len, rh.seq),
            RecordKind::Delete => Entry::tombstone(seg, *at, rh.seq),
        };
        kd.apply(
            rh.keyspace,
            key,
            entry,
            rh.expires_at,
            OpenSnapshots::default(),
        );
    }
}

/// Segment number → valid length, for stats.
pub fn sizes(segments: &[(u32, Arc<dyn VFile>, u64)]) -> BTreeMap<u32, u64> {
    segments.iter().map(|(id, _, len)| (*id, *len)).collect()
}
