//! Opening a data directory: read every segment in number order, rebuild the keydir, and
//! tell a torn tail (an unacknowledged batch cut short by a crash) from real damage.
//!
//! Recovery only reads. It returns what it found and the repairs it would make (cut the
//! torn tail, remove a segment whose creation never completed); the caller applies them
//! only when nothing else was wrong.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::format::{
    BatchHeader, RecordHeader, RecordKind, SegmentHeader, BATCH_HEADER_LEN, RECORD_HEADER_LEN,
    SEGMENT_HEADER_LEN, SEGMENT_KIND_DATA, SEGMENT_KIND_MERGED,
};
use super::hint;
use super::keydir::{Entry, Keydir, OpenSnapshots, SortedLoader};
use super::segment;
use super::vfs::{OpenMode, VFile, Vfs};
use crate::error::{Error, Result};

/// A segment as recovery found it.
pub struct FoundSegment {
    pub id: u32,
    pub file: Arc<dyn VFile>,
    /// Valid length in bytes.
    pub len: u64,
    /// Written by merge (older versions, any order) rather than by commits.
    pub merged: bool,
}

/// What recovery found.
pub struct Recovered {
    pub keydir: Keydir,
    /// Every segment, in number order.
    pub segments: Vec<FoundSegment>,
    /// Index in `segments` of the newest data segment, where appends continue.
    pub active: Option<usize>,
    /// Highest commit sequence seen in a batch or segment header.
    pub last_seq: u64,
    /// The repairs to make before appending.
    pub repairs: Vec<Repair>,
    /// Damaged byte ranges skipped in salvage mode: (segment, offset, reason).
    pub salvaged: Vec<(u32, u64, String)>,
    /// Merged segments whose index came from their hint file.
    pub hinted: usize,
}

/// A torn tail to remove.
#[derive(Debug, PartialEq, Eq)]
pub enum Repair {
    /// Cut the newest data segment to this length.
    Truncate { seg: u32, len: u64 },
    /// The newest segment never got a complete header: delete it.
    RemoveSegment { seg: u32 },
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
    /// A clean close's end marker (no records).
    end_marker: bool,
    /// Everything before it was synced when it was written.
    prior_synced: bool,
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
            buf: vec![0; len.min(SCAN_BUF as u64) as usize],
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

    /// The batch at `pos`, checked whole. In a `merged` segment a record's sequence may
    /// be below its batch's; in a data segment it must equal it.
    fn read_batch(
        &mut self,
        pos: u64,
        merged: bool,
    ) -> io::Result<std::result::Result<FoundBatch, BatchError>> {
        let Some(hb) = self.bytes(pos, BATCH_HEADER_LEN)? else {
            return Ok(Err(BatchError::Short));
        };
        let Some(bh) = BatchHeader::decode(hb) else {
            return Ok(Err(BatchError::Bad("bad batch header".into())));
        };
        let bcrc = BatchHeader::crc_start(hb);
        if bh.is_end() {
            if merged || bh.count != 0 || bh.body_len != 0 {
                return Ok(Err(BatchError::Bad("malformed end marker".into())));
            }
            if bcrc.finish() != bh.crc {
                return Ok(Err(BatchError::Bad("end marker checksum mismatch".into())));
            }
            return Ok(Ok(FoundBatch {
                seq: bh.seq,
                end: pos + BATCH_HEADER_LEN as u64,
                end_marker: true,
                prior_synced: false,
                records: Vec::new(),
            }));
        }
        let mut bcrc = bcrc;
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
            if (!merged && rh.seq != bh.seq) || rh.seq > bh.seq {
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
            end_marker: false,
            prior_synced: bh.prior_synced(),
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

/// A segment file opened, with its header checked.
struct Opened {
    id: u32,
    file: Arc<dyn VFile>,
    len: u64,
    header: std::result::Result<SegmentHeader, String>,
    /// Nothing but (at most) a header that fails its checks, or zeros: created, and
    /// its header never completely written.
    blank: bool,
}

fn open_segment(vfs: &dyn Vfs, dir: &Path, id: u32) -> Result<Opened> {
    let path = segment::path(dir, id);
    let file = vfs
        .open(&path, OpenMode::ReadWrite)
        .map_err(|e| io_err(id, e))?;
    let len = file.size().map_err(|e| io_err(id, e))?;
    let mut sc = Scanner::new(file.as_ref(), len);
    let header = match sc.bytes(0, SEGMENT_HEADER_LEN).map_err(|e| io_err(id, e))? {
        None => Err("segment shorter than its header".to_string()),
        Some(b) => SegmentHeader::decode(b.try_into().expect("header length")).and_then(|h| {
            if h.id == u64::from(id) {
                Ok(h)
            } else {
                Err(format!("header names segment {}", h.id))
            }
        }),
    };
    // A crash may persist part of the header alone (or leave the file zero-filled);
    // nothing after it was ever appended, because appends follow the header's sync.
    let blank = header.is_err()
        && (len <= SEGMENT_HEADER_LEN as u64 || sc.zeros_from(0).map_err(|e| io_err(id, e))?);
    Ok(Opened {
        id,
        file,
        len,
        header,
        blank,
    })
}

/// The kind of a segment whose header is damaged: merged if its first batch only
/// checks out under the merged rules.
fn guess_kind(o: &Opened) -> u32 {
    let mut sc = Scanner::new(o.file.as_ref(), o.len);
    let at = SEGMENT_HEADER_LEN as u64;
    match (sc.read_batch(at, false), sc.read_batch(at, true)) {
        (Ok(Err(_)), Ok(Ok(_))) => SEGMENT_KIND_MERGED,
        _ => SEGMENT_KIND_DATA,
    }
}

/// Reads the data directory `dir`. With `salvage`, damaged batches are skipped (and
/// listed) instead of refusing to open.
///
/// Merged segments are read first: they hold only versions older than every commit in
/// a data segment, so replaying them before the data segments (in number order)
/// leaves each key at its newest version.
pub fn recover(vfs: &dyn Vfs, dir: &Path, salvage: bool) -> Result<Recovered> {
    let ids = segment::list(vfs, dir)?;
    let mut out = Recovered {
        keydir: Keydir::default(),
        segments: Vec::with_capacity(ids.len()),
        active: None,
        last_seq: 0,
        repairs: Vec::new(),
        salvaged: Vec::new(),
        hinted: 0,
    };
    let mut opened = Vec::with_capacity(ids.len());
    for &id in &ids {
        opened.push(open_segment(vfs, dir, id)?);
    }
    let is_data = |o: &Opened| matches!(&o.header, Ok(h) if h.kind == SEGMENT_KIND_DATA);
    let newest_data = opened.iter().rev().find(|o| is_data(o)).map(|o| o.id);
    // A crash between creating a data segment and syncing its header leaves a blank
    // file newer than every data segment; it never held a commit.
    let mut torn_new = None;
    for o in &mut opened {
        if let Err(why) = &o.header {
            if o.blank && newest_data.is_none_or(|d| o.id > d) && torn_new.is_none() {
                torn_new = Some(o.id);
                continue;
            }
            if !salvage {
                return Err(corrupt(o.id, 0, why));
            }
            // Salvage: the file name gives the number; the batches tell the kind.
            out.salvaged.push((o.id, 0, why.clone()));
            o.header = Ok(SegmentHeader {
                id: u64::from(o.id),
                base_seq: 0,
                kind: guess_kind(o),
            });
        }
    }
    if let Some(seg) = torn_new {
        out.repairs.push(Repair::RemoveSegment { seg });
        opened.retain(|o| o.id != seg);
    }
    // Salvage may have taken a segment with a damaged header as a data segment.
    let newest_data = opened.iter().rev().find(|o| is_data(o)).map(|o| o.id);

    let (merged, data): (Vec<Opened>, Vec<Opened>) = opened.into_iter().partition(|o| !is_data(o));
    // One merge wrote all merged segments, walking keys in order: together they come in
    // key order, which the loader builds the index from in bulk.
    let mut loader = SortedLoader::default();
    for o in merged {
        let header = o.header.as_ref().expect("checked");
        out.last_seq = out.last_seq.max(header.base_seq);
        let hint = segment::hint_path(dir, o.id);
        // A hint file counts only whole: what it fed is taken back if a check fails.
        loader.mark();
        let hinted = hint::load(vfs, &hint, o.id, o.len, |e| {
            let entry = match e.kind {
                RecordKind::Put => Entry::value(o.id, e.offset, e.val_len, e.seq),
                RecordKind::Delete => Entry::tombstone(o.id, e.offset, e.seq),
            };
            loader.push(e.keyspace, e.key, entry, e.expires_at);
        });
        let len = if hinted {
            out.hinted += 1;
            o.len
        } else {
            loader.rollback();
            let mut sink = Sink::Loader(&mut loader);
            scan_segment(&mut out, &mut sink, &o, true, false, salvage, &mut 0)?
        };
        out.segments.push(FoundSegment {
            id: o.id,
            file: o.file,
            len,
            merged: true,
        });
    }
    loader.finish(&mut out.keydir);
    let mut stream_seq = 0u64;
    for o in data {
        let header = o.header.as_ref().expect("checked");
        stream_seq = stream_seq.max(header.base_seq);
        let last = Some(o.id) == newest_data;
        let mut sink = Sink::Keydir;
        let len = scan_segment(
            &mut out,
            &mut sink,
            &o,
            false,
            last,
            salvage,
            &mut stream_seq,
        )?;
        out.segments.push(FoundSegment {
            id: o.id,
            file: o.file,
            len,
            merged: false,
        });
    }
    out.last_seq = out.last_seq.max(stream_seq);
    out.segments.sort_by_key(|s| s.id);
    out.active = out.segments.iter().rposition(|s| !s.merged);
    Ok(out)
}

/// Replays the batches of one segment into `out.keydir` and returns its valid length.
/// `stream_seq` is the newest commit sequence of the data segments so far: their
/// batches must follow it in order. Only the newest data segment (`last`) may end in a
/// torn tail, and only if it does not end with a clean close's end marker.
/// Where replayed records go.
enum Sink<'a> {
    /// Straight into the index (data segments, in commit order).
    Keydir,
    /// Into the bulk loader (merged segments).
    Loader(&'a mut SortedLoader),
}

fn scan_segment(
    out: &mut Recovered,
    sink: &mut Sink<'_>,
    o: &Opened,
    merged: bool,
    last: bool,
    salvage: bool,
    stream_seq: &mut u64,
) -> Result<u64> {
    let id = o.id;
    let len = o.len;
    let mut sc = Scanner::new(o.file.as_ref(), len);
    let closed_clean = last && ends_with_marker(&mut sc);
    let mut pos = SEGMENT_HEADER_LEN as u64;
    while pos < len {
        match sc.read_batch(pos, merged).map_err(|e| io_err(id, e))? {
            Ok(b) => {
                if merged {
                    out.last_seq = out.last_seq.max(b.seq);
                    apply_batch(&mut out.keydir, sink, id, &b);
                } else if b.end_marker {
                    if b.seq != *stream_seq {
                        let why = format!("end marker at sequence {} after {}", b.seq, stream_seq);
                        if !salvage {
                            return Err(corrupt(id, pos, &why));
                        }
                        out.salvaged.push((id, pos, why));
                    }
                } else if b.seq <= *stream_seq {
                    let why = format!("sequence {} after {}", b.seq, stream_seq);
                    if !salvage {
                        return Err(corrupt(id, pos, &why));
                    }
                    out.salvaged.push((id, pos, why));
                } else {
                    *stream_seq = b.seq;
                    apply_batch(&mut out.keydir, sink, id, &b);
                }
                pos = b.end;
            }
            Err(err) => {
                let tail_is_torn = last
                    && !closed_clean
                    && (sc.zeros_from(pos).unwrap_or(false)
                        || never_written(&mut sc, pos)
                        || !synced_past(&mut sc, pos, *stream_seq));
                if tail_is_torn {
                    out.repairs.push(Repair::Truncate { seg: id, len: pos });
                    return Ok(pos);
                }
                let why = match err {
                    BatchError::Short if last => "batch runs past the end of the segment".into(),
                    BatchError::Short => "batch runs past the end of a sealed segment".into(),
                    BatchError::Bad(w) => w,
                };
                if !salvage {
                    return Err(corrupt(id, pos, &why));
                }
                out.salvaged.push((id, pos, why));
                match next_batch(&mut sc, pos + 1, merged).map_err(|e| io_err(id, e))? {
                    Some(next) => pos = next,
                    None => return Ok(pos),
                }
            }
        }
    }
    Ok(len)
}

/// Whether the segment ends with a valid end marker: it was closed cleanly, and
/// nothing in it can be a torn write.
fn ends_with_marker(sc: &mut Scanner) -> bool {
    let Some(at) = sc.len.checked_sub(BATCH_HEADER_LEN as u64) else {
        return false;
    };
    at >= SEGMENT_HEADER_LEN as u64 && matches!(sc.read_batch(at, false), Ok(Ok(b)) if b.end_marker)
}

/// Whether a valid batch written after the damaged batch at `pos` was synced had been
/// (a later commit, newer than `stream_seq`, flagged as written when everything before it
/// was on stable storage). Then the damage is corruption. Otherwise it may be unsynced
/// writes that reached the disk out of order or in part: a torn tail. (Old batches of a
/// removed file that a file system might expose in unwritten space carry older
/// sequences and do not count.)
fn synced_past(sc: &mut Scanner, pos: u64, stream_seq: u64) -> bool {
    let mut from = pos + 1;
    while let Ok(Some(at)) = next_batch(sc, from, false) {
        if let Ok(Ok(b)) = sc.read_batch(at, false) {
            if b.seq > stream_seq && b.prior_synced {
                return true;
            }
        }
        from = at + 1;
    }
    false
}

/// Whether the batch header at `pos` is all zero bytes: space a crash left unwritten
/// while later pages of unsynced appends reached the disk. Everything from here on was
/// never acknowledged as durable.
fn never_written(sc: &mut Scanner, pos: u64) -> bool {
    matches!(sc.bytes(pos, BATCH_HEADER_LEN), Ok(Some(h)) if h.iter().all(|&b| b == 0))
}

/// The next offset at or after `from` where a whole valid batch starts.
fn next_batch(sc: &mut Scanner, mut from: u64, merged: bool) -> io::Result<Option<u64>> {
    let magic = super::format::BATCH_MAGIC.to_le_bytes();
    while from + BATCH_HEADER_LEN as u64 <= sc.len {
        if sc.bytes(from, 4)? == Some(&magic[..]) && sc.read_batch(from, merged)?.is_ok() {
            return Ok(Some(from));
        }
        from += 1;
    }
    Ok(None)
}

fn apply_batch(kd: &mut Keydir, sink: &mut Sink<'_>, seg: u32, b: &FoundBatch) {
    for (rh, key, at) in &b.records {
        let entry = match rh.kind {
            RecordKind::Put => Entry::value(seg, *at, rh.val_len, rh.seq),
            RecordKind::Delete => Entry::tombstone(seg, *at, rh.seq),
        };
        match sink {
            Sink::Keydir => kd.apply(
                rh.keyspace,
                key,
                entry,
                rh.expires_at,
                OpenSnapshots::default(),
            ),
            Sink::Loader(l) => l.push(rh.keyspace, key, entry, rh.expires_at),
        }
    }
}

/// What checking one segment found.
#[derive(Debug, Default)]
pub struct SegmentCheck {
    pub batches: u64,
    pub records: u64,
    /// Batches that failed a check.
    pub damaged: u64,
    /// The first failure: byte offset and reason.
    pub first_bad: Option<(u64, String)>,
}

/// Reads every batch of a segment's first `len` bytes and checks every checksum,
/// changing nothing. Past a damaged batch it continues at the next valid one.
pub fn check_segment(file: &dyn VFile, id: u32, len: u64) -> Result<SegmentCheck> {
    let mut sc = Scanner::new(file, len);
    let mut out = SegmentCheck::default();
    let header = match sc.bytes(0, SEGMENT_HEADER_LEN).map_err(|e| io_err(id, e))? {
        None => Err("segment shorter than its header".to_string()),
        Some(b) => SegmentHeader::decode(b.try_into().expect("header length")),
    };
    let merged = match header {
        Ok(h) if h.id == u64::from(id) => h.kind != SEGMENT_KIND_DATA,
        Ok(h) => {
            out.damaged += 1;
            out.first_bad = Some((0, format!("header names segment {}", h.id)));
            return Ok(out);
        }
        Err(why) => {
            out.damaged += 1;
            out.first_bad = Some((0, why));
            return Ok(out);
        }
    };
    let mut pos = SEGMENT_HEADER_LEN as u64;
    while pos < len {
        match sc.read_batch(pos, merged).map_err(|e| io_err(id, e))? {
            Ok(b) => {
                out.batches += 1;
                out.records += b.records.len() as u64;
                pos = b.end;
            }
            Err(err) => {
                out.damaged += 1;
                if out.first_bad.is_none() {
                    let why = match err {
                        BatchError::Short => "batch runs past the end of the segment".into(),
                        BatchError::Bad(w) => w,
                    };
                    out.first_bad = Some((pos, why));
                }
                match next_batch(&mut sc, pos + 1, merged).map_err(|e| io_err(id, e))? {
                    Some(next) => pos = next,
                    None => break,
                }
            }
        }
    }
    Ok(out)
}
