//! The on-disk record format (version 1), byte for byte as `docs/FORMAT.md` describes.
//!
//! A segment is a 40-byte header followed by batches. A batch is a 32-byte header and
//! `count` records; each record is a 36-byte header, the key and the value. Integers are
//! little-endian. Every record carries a CRC32 over its header and payload; the batch
//! header carries a CRC32 over itself and its records' CRCs, so a batch is accepted whole
//! or not at all.

use crate::codec::checksum;

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"KATAMARI";
/// The record format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Segment header `kind` of a data segment: commits in sequence order.
pub const SEGMENT_KIND_DATA: u32 = 1;
/// Segment header `kind` of a merged segment: live versions rewritten by merge, each
/// keeping its original commit sequence.
pub const SEGMENT_KIND_MERGED: u32 = 2;
/// Bytes in a segment header.
pub const SEGMENT_HEADER_LEN: usize = 40;
/// First four bytes of every batch: "KBAT".
pub const BATCH_MAGIC: u32 = u32::from_le_bytes(*b"KBAT");
/// Bytes in a batch header.
pub const BATCH_HEADER_LEN: usize = 32;
/// Batch header flag of the end marker a clean close appends: no records follow.
pub const BATCH_FLAG_END: u32 = 1;
/// Batch header flag: everything appended before this batch had been synced when it
/// was written. Damage before such a batch cannot be a torn write.
pub const BATCH_FLAG_PRIOR_SYNCED: u32 = 2;
/// Bytes in a record header.
pub const RECORD_HEADER_LEN: usize = 36;
/// Longest key accepted (64 KiB).
pub const MAX_KEY_LEN: usize = 64 * 1024;
/// Longest value accepted (4 GiB - 1).
pub const MAX_VALUE_LEN: usize = u32::MAX as usize;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The fixed header at the start of each segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The segment's number (also in its file name).
    pub id: u64,
    /// Data segment: the last commit sequence at the time the segment was created, so
    /// the sequence counter survives even when every batch has been merged away.
    /// Merged segment: the highest sequence of any record in it.
    pub base_seq: u64,
    /// [`SEGMENT_KIND_DATA`] or [`SEGMENT_KIND_MERGED`].
    pub kind: u32,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[0..8].copy_from_slice(&SEGMENT_MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.kind.to_le_bytes());
        b[16..24].copy_from_slice(&self.id.to_le_bytes());
        b[24..32].copy_from_slice(&self.base_seq.to_le_bytes());
        let crc = checksum(&b[0..32]);
        b[32..36].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; SEGMENT_HEADER_LEN]) -> Result<SegmentHeader, String> {
        if b[0..8] != SEGMENT_MAGIC {
            return Err("bad segment magic".into());
        }
        if checksum(&b[0..32]) != u32_at(b, 32) {
            return Err("segment header checksum mismatch".into());
        }
        if u32_at(b, 36) != 0 {
            return Err("reserved segment header bytes are not zero".into());
        }
        let version = u32_at(b, 8);
        if version != FORMAT_VERSION {
            return Err(format!(
                "segment format version {version} is not supported (this build reads {FORMAT_VERSION})"
            ));
        }
        let kind = u32_at(b, 12);
        if kind != SEGMENT_KIND_DATA && kind != SEGMENT_KIND_MERGED {
            return Err(format!("unknown segment kind {kind}"));
        }
        Ok(SegmentHeader {
            id: u64_at(b, 16),
            base_seq: u64_at(b, 24),
            kind,
        })
    }
}

/// What a record does to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// Sets the key to the value.
    Put = 1,
    /// Removes the key (a tombstone; the value is empty).
    Delete = 2,
}

/// One operation to encode, borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct OpRef<'a> {
    pub keyspace: u32,
    pub kind: RecordKind,
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// Expiry in milliseconds since the Unix epoch; 0 means never.
    pub expires_at: u64,
}

/// A decoded record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub crc: u32,
    pub kind: RecordKind,
    pub keyspace: u32,
    pub key_len: u32,
    pub val_len: u32,
    pub seq: u64,
    pub expires_at: u64,
}

impl RecordHeader {
    /// Header, key and value together.
    pub fn record_len(&self) -> u64 {
        RECORD_HEADER_LEN as u64 + u64::from(self.key_len) + u64::from(self.val_len)
    }

    pub fn decode(b: &[u8]) -> Result<RecordHeader, String> {
        let b = &b[..RECORD_HEADER_LEN];
        let kind = match b[4] {
            1 => RecordKind::Put,
            2 => RecordKind::Delete,
            k => return Err(format!("unknown record kind {k}")),
        };
        if b[5] != 0 || b[6] != 0 || b[7] != 0 {
            return Err("reserved record header bytes are not zero".into());
        }
        let h = RecordHeader {
            crc: u32_at(b, 0),
            kind,
            keyspace: u32_at(b, 8),
            key_len: u32_at(b, 12),
            val_len: u32_at(b, 16),
            seq: u64_at(b, 20),
            expires_at: u64_at(b, 28),
        };
        if h.key_len as usize > MAX_KEY_LEN {
            return Err(format!("record key length {} exceeds the limit", h.key_len));
        }
        if kind == RecordKind::Delete && h.val_len != 0 {
            return Err("tombstone with a value".into());
        }
        Ok(h)
    }
}

/// A decoded batch header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub crc: u32,
    pub seq: u64,
    pub count: u32,
    /// 0, [`BATCH_FLAG_PRIOR_SYNCED`], or [`BATCH_FLAG_END`].
    pub flags: u32,
    pub body_len: u64,
}

impl BatchHeader {
    /// Decodes the 32 header bytes; `None` when the magic or flags are wrong.
    pub fn decode(b: &[u8]) -> Option<BatchHeader> {
        let b = &b[..BATCH_HEADER_LEN];
        let flags = u32_at(b, 20);
        if u32_at(b, 0) != BATCH_MAGIC
            || !matches!(flags, 0 | BATCH_FLAG_END | BATCH_FLAG_PRIOR_SYNCED)
        {
            return None;
        }
        Some(BatchHeader {
            crc: u32_at(b, 4),
            seq: u64_at(b, 8),
            count: u32_at(b, 16),
            flags,
            body_len: u64_at(b, 24),
        })
    }

    /// Whether this is a clean close's end marker.
    pub fn is_end(&self) -> bool {
        self.flags == BATCH_FLAG_END
    }

    /// Whether everything before this batch was synced when it was written.
    pub fn prior_synced(&self) -> bool {
        self.flags == BATCH_FLAG_PRIOR_SYNCED
    }

    /// A running checksum over the header fields; feed it every record CRC in order
    /// with [`BatchCrc::record`] and compare with `crc`.
    pub fn crc_start(header: &[u8]) -> BatchCrc {
        let mut h = crc32fast::Hasher::new();
        h.update(&header[8..BATCH_HEADER_LEN]);
        BatchCrc(h)
    }
}

/// Accumulates a batch checksum.
pub struct BatchCrc(crc32fast::Hasher);

impl BatchCrc {
    pub fn record(&mut self, record_crc: u32) {
        self.0.update(&record_crc.to_le_bytes());
    }
    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

/// CRC of a record from its header bytes (the CRC field excluded), key and value.
pub fn record_crc(header: &[u8], key: &[u8], value: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[4..RECORD_HEADER_LEN]);
    h.update(key);
    h.update(value);
    h.finalize()
}

/// Appends one encoded batch of `ops` with sequence `seq` and header `flags` (0 or
/// [`BATCH_FLAG_PRIOR_SYNCED`]) to `buf`; pushes the offset of each record, relative to
/// the start of the batch, to `record_offsets`.
pub fn encode_batch<'a>(
    buf: &mut Vec<u8>,
    seq: u64,
    flags: u32,
    ops: impl ExactSizeIterator<Item = OpRef<'a>>,
    record_offsets: &mut Vec<u64>,
) {
    let start = buf.len();
    let count = u32::try_from(ops.len()).expect("batch op count fits u32");
    buf.extend_from_slice(&[0u8; BATCH_HEADER_LEN]);
    let mut crcs = Vec::with_capacity(ops.len());
    for op in ops {
        let at = buf.len();
        record_offsets.push((at - start) as u64);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[4] = op.kind as u8;
        h[8..12].copy_from_slice(&op.keyspace.to_le_bytes());
        h[12..16].copy_from_slice(&(op.key.len() as u32).to_le_bytes());
        h[16..20].copy_from_slice(&(op.value.len() as u32).to_le_bytes());
        h[20..28].copy_from_slice(&seq.to_le_bytes());
        h[28..36].copy_from_slice(&op.expires_at.to_le_bytes());
        let crc = record_crc(&h, op.key, op.value);
        h[0..4].copy_from_slice(&crc.to_le_bytes());
        buf.extend_from_slice(&h);
        buf.extend_from_slice(op.key);
        buf.extend_from_slice(op.value);
        crcs.push(crc);
    }
    let body_len = (buf.len() - start - BATCH_HEADER_LEN) as u64;
    let hdr = &mut buf[start..start + BATCH_HEADER_LEN];
    hdr[0..4].copy_from_slice(&BATCH_MAGIC.to_le_bytes());
    hdr[8..16].copy_from_slice(&seq.to_le_bytes());
    hdr[16..20].copy_from_slice(&count.to_le_bytes());
    hdr[20..24].copy_from_slice(&flags.to_le_bytes());
    hdr[24..32].copy_from_slice(&body_len.to_le_bytes());
    let mut bc = BatchHeader::crc_start(hdr);
    for c in crcs {
        bc.record(c);
    }
    let crc = bc.finish();
    hdr[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// The end marker a clean close appends to the active segment: a batch header with no
/// records, flag [`BATCH_FLAG_END`], and the last commit sequence. A segment ending in
/// one was not cut short by a crash, so any damage in it is corruption, not a torn tail.
pub fn encode_end_marker(seq: u64) -> [u8; BATCH_HEADER_LEN] {
    let mut hdr = [0u8; BATCH_HEADER_LEN];
    hdr[0..4].copy_from_slice(&BATCH_MAGIC.to_le_bytes());
    hdr[8..16].copy_from_slice(&seq.to_le_bytes());
    hdr[20..24].copy_from_slice(&BATCH_FLAG_END.to_le_bytes());
    let crc = BatchHeader::crc_start(&hdr).finish();
    hdr[4..8].copy_from_slice(&crc.to_le_bytes());
    hdr
}

/// Appends a merged-segment batch to `buf` holding `records` (whole encoded records,
/// copied unchanged with their own sequences and checksums); its sequence is the
/// highest of theirs.
pub fn encode_merged_batch<'a>(buf: &mut Vec<u8>, records: impl Iterator<Item = &'a [u8]>) {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; BATCH_HEADER_LEN]);
    let (mut count, mut seq) = (0u32, 0u64);
    let mut crcs = Vec::new();
    for rec in records {
        let h = RecordHeader::decode(rec).expect("merge copies verified records");
        seq = seq.max(h.seq);
        count += 1;
        crcs.push(h.crc);
        buf.extend_from_slice(rec);
    }
    let body_len = (buf.len() - start - BATCH_HEADER_LEN) as u64;
    let hdr = &mut buf[start..start + BATCH_HEADER_LEN];
    hdr[0..4].copy_from_slice(&BATCH_MAGIC.to_le_bytes());
    hdr[8..16].copy_from_slice(&seq.to_le_bytes());
    hdr[16..20].copy_from_slice(&count.to_le_bytes());
    hdr[24..32].copy_from_slice(&body_len.to_le_bytes());
    let mut bc = BatchHeader::crc_start(hdr);
    for c in crcs {
        bc.record(c);
    }
    let crc = bc.finish();
    hdr[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Checks a whole record read back from disk (header, key, value) and that it holds
/// `key`; returns its header. Anything else is corruption.
pub fn verify_record(rec: &[u8], keyspace: u32, key: &[u8]) -> Result<RecordHeader, String> {
    if rec.len() < RECORD_HEADER_LEN {
        return Err("record shorter than its header".into());
    }
    let h = RecordHeader::decode(rec)?;
    let k_end = RECORD_HEADER_LEN
        .saturating_add(h.key_len as usize)
        .min(rec.len());
    verify_record_parts(&rec[..k_end], &rec[k_end..], keyspace, key)
}

/// [`verify_record`] of a record read in two pieces: header and key, then the value.
pub fn verify_record_parts(
    head: &[u8],
    value: &[u8],
    keyspace: u32,
    key: &[u8],
) -> Result<RecordHeader, String> {
    if head.len() < RECORD_HEADER_LEN {
        return Err("record shorter than its header".into());
    }
    let h = RecordHeader::decode(head)?;
    if h.record_len() != (head.len() + value.len()) as u64
        || head.len() != RECORD_HEADER_LEN + h.key_len as usize
    {
        return Err("record length does not match the index".into());
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head[4..]);
    crc.update(value);
    if crc.finalize() != h.crc {
        return Err("record checksum mismatch".into());
    }
    if h.keyspace != keyspace || &head[RECORD_HEADER_LEN..] != key {
        return Err("record holds a different key than the index says".into());
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op<'a>(key: &'a [u8], value: &'a [u8]) -> OpRef<'a> {
        OpRef {
            keyspace: 7,
            kind: RecordKind::Put,
            key,
            value,
            expires_at: 99,
        }
    }

    #[test]
    fn batch_round_trips_and_detects_every_flipped_bit() {
        let mut buf = Vec::new();
        let mut offs = Vec::new();
        let ops = [op(b"alpha", b"one"), op(b"beta", b"")];
        encode_batch(&mut buf, 42, 0, ops.iter().copied(), &mut offs);
        let bh = BatchHeader::decode(&buf).unwrap();
        assert_eq!((bh.seq, bh.count), (42, 2));
        assert_eq!(bh.body_len as usize, buf.len() - BATCH_HEADER_LEN);
        let mut bc = BatchHeader::crc_start(&buf);
        for (i, o) in offs.iter().enumerate() {
            let o = *o as usize;
            let h = RecordHeader::decode(&buf[o..]).unwrap();
            let rec = &buf[o..o + h.record_len() as usize];
            let vh = verify_record(rec, 7, ops[i].key).unwrap();
            assert_eq!(vh.seq, 42);
            assert_eq!(vh.expires_at, 99);
            bc.record(h.crc);
        }
        assert_eq!(bc.finish(), bh.crc);

        // Every single-bit flip of the first record is caught by its own checks.
        let o = offs[0] as usize;
        let len = RecordHeader::decode(&buf[o..]).unwrap().record_len() as usize;
        for bit in 0..len * 8 {
            let mut rec = buf[o..o + len].to_vec();
            rec[bit / 8] ^= 1 << (bit % 8);
            assert!(
                verify_record(&rec, 7, b"alpha").is_err(),
                "bit {bit} undetected"
            );
        }
    }

    #[test]
    fn segment_header_round_trips_and_rejects_damage() {
        let h = SegmentHeader {
            id: 13,
            base_seq: 1 << 40,
            kind: SEGMENT_KIND_MERGED,
        };
        let b = h.encode();
        assert_eq!(SegmentHeader::decode(&b).unwrap(), h);
        for bit in 0..40 * 8 {
            let mut d = b;
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentHeader::decode(&d).is_err(), "bit {bit} undetected");
        }
    }
}
