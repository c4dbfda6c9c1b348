//! Hint files: the index of a merged segment (key, location, sequence, expiry per
//! record, no values), so open rebuilds the keydir without reading the segment. A hint
//! file that fails any check is ignored and its segment scanned instead.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::format::{RecordKind, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::vfs::{OpenMode, VFile, Vfs};
use crate::codec::checksum;

/// First bytes of a hint file: "KHNT".
pub const HINT_MAGIC: u32 = u32::from_le_bytes(*b"KHNT");
/// The hint format this build writes and reads.
pub const HINT_VERSION: u32 = 1;
/// Bytes in the hint file header.
pub const HINT_HEADER_LEN: usize = 40;
/// Bytes in a block header (body length, body CRC).
const BLOCK_HEADER_LEN: usize = 8;
/// Bytes in an entry before its key.
const ENTRY_LEN: usize = 40;
/// A block is flushed once its body reaches this size.
const BLOCK_TARGET: usize = 64 << 10;

/// One record of a segment, as its hint file lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HintEntry<'a> {
    pub kind: RecordKind,
    pub keyspace: u32,
    pub key: &'a [u8],
    pub val_len: u32,
    /// Offset of the record in its segment.
    pub offset: u64,
    pub seq: u64,
    pub expires_at: u64,
}

/// Writes a hint file block by block; the header goes in last, so a file cut short
/// never passes as complete.
pub struct HintWriter {
    file: Arc<dyn VFile>,
    seg: u32,
    end: u64,
    block: Vec<u8>,
    entries: u64,
}

impl HintWriter {
    /// Creates the hint file at `path` (which must not exist) for segment `seg`.
    pub fn create(vfs: &dyn Vfs, path: &Path, seg: u32) -> io::Result<HintWriter> {
        let file = vfs.open(path, OpenMode::CreateNew)?;
        Ok(HintWriter {
            file,
            seg,
            end: HINT_HEADER_LEN as u64,
            block: Vec::with_capacity(BLOCK_TARGET + ENTRY_LEN),
            entries: 0,
        })
    }

    /// Lists one record.
    pub fn add(&mut self, e: &HintEntry<'_>) -> io::Result<()> {
        let mut h = [0u8; ENTRY_LEN];
        h[0] = e.kind as u8;
        h[4..8].copy_from_slice(&e.keyspace.to_le_bytes());
        h[8..12].copy_from_slice(&(e.key.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&e.val_len.to_le_bytes());
        h[16..24].copy_from_slice(&e.offset.to_le_bytes());
        h[24..32].copy_from_slice(&e.seq.to_le_bytes());
        h[32..40].copy_from_slice(&e.expires_at.to_le_bytes());
        self.block.extend_from_slice(&h);
        self.block.extend_from_slice(e.key);
        self.entries += 1;
        if self.block.len() >= BLOCK_TARGET {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let mut head = [0u8; BLOCK_HEADER_LEN];
        head[0..4].copy_from_slice(&(self.block.len() as u32).to_le_bytes());
        head[4..8].copy_from_slice(&checksum(&self.block).to_le_bytes());
        self.file.write_all_at(&head, self.end)?;
        self.file
            .write_all_at(&self.block, self.end + BLOCK_HEADER_LEN as u64)?;
        self.end += (BLOCK_HEADER_LEN + self.block.len()) as u64;
        self.block.clear();
        Ok(())
    }

    /// Writes the last block and the header: the file then describes a segment of
    /// `seg_len` bytes. Returns the file, for the caller to sync.
    pub fn finish(mut self, seg_len: u64) -> io::Result<Arc<dyn VFile>> {
        self.flush()?;
        let mut h = [0u8; HINT_HEADER_LEN];
        h[0..4].copy_from_slice(&HINT_MAGIC.to_le_bytes());
        h[4..8].copy_from_slice(&HINT_VERSION.to_le_bytes());
        h[8..12].copy_from_slice(&self.seg.to_le_bytes());
        h[16..24].copy_from_slice(&seg_len.to_le_bytes());
        h[24..32].copy_from_slice(&self.entries.to_le_bytes());
        let crc = checksum(&h[0..32]);
        h[32..36].copy_from_slice(&crc.to_le_bytes());
        self.file.write_all_at(&h, 0)?;
        Ok(self.file)
    }
}

/// Feeds every entry of the hint file at `path` to `apply`, block by block, each block
/// only after its checksum passed. Returns `false` when the file is missing, damaged,
/// or describes a different segment or length: entries already fed are then correct
/// but incomplete, and the caller scans the segment instead.
pub fn load(
    vfs: &dyn Vfs,
    path: &Path,
    seg: u32,
    seg_len: u64,
    mut apply: impl FnMut(&HintEntry<'_>),
) -> bool {
    let Ok(file) = vfs.open(path, OpenMode::Read) else {
        return false;
    };
    let Ok(size) = file.size() else { return false };
    let mut h = [0u8; HINT_HEADER_LEN];
    if file.read_exact_at(&mut h, 0).is_err() {
        return false;
    }
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4"));
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8"));
    if u32_at(&h, 0) != HINT_MAGIC
        || checksum(&h[0..32]) != u32_at(&h, 32)
        || u32_at(&h, 4) != HINT_VERSION
        || u32_at(&h, 8) != seg
        || u64_at(&h, 16) != seg_len
    {
        return false;
    }
    let want_entries = u64_at(&h, 24);
    let mut entries = 0u64;
    let mut at = HINT_HEADER_LEN as u64;
    let mut body = Vec::new();
    while at < size {
        let mut bh = [0u8; BLOCK_HEADER_LEN];
        if file.read_exact_at(&mut bh, at).is_err() {
            return false;
        }
        let len = u32_at(&bh, 0) as usize;
        if at + (BLOCK_HEADER_LEN + len) as u64 > size {
            return false;
        }
        body.resize(len, 0);
        if file
            .read_exact_at(&mut body, at + BLOCK_HEADER_LEN as u64)
            .is_err()
            || checksum(&body) != u32_at(&bh, 4)
        {
            return false;
        }
        let mut p = 0usize;
        while p < body.len() {
            let Some(e) = body.get(p..p + ENTRY_LEN) else {
                return false;
            };
            let kind = match e[0] {
                1 => RecordKind::Put,
                2 => RecordKind::Delete,
                _ => return false,
            };
            let key_len = u32_at(e, 8) as usize;
            let Some(key) = body.get(p + ENTRY_LEN..p + ENTRY_LEN + key_len) else {
                return false;
            };
            // The record it names must lie inside the segment, after its header.
            let (offset, val_len) = (u64_at(e, 16), u32_at(e, 12));
            let record_end =
                offset.checked_add(RECORD_HEADER_LEN as u64 + key_len as u64 + u64::from(val_len));
            if offset < SEGMENT_HEADER_LEN as u64 || record_end.is_none_or(|end| end > seg_len) {
                return false;
            }
            apply(&HintEntry {
                kind,
                keyspace: u32_at(e, 4),
                key,
                val_len: u32_at(e, 12),
                offset: u64_at(e, 16),
                seq: u64_at(e, 24),
                expires_at: u64_at(e, 32),
            });
            entries += 1;
            p += ENTRY_LEN + key_len;
        }
        at += (BLOCK_HEADER_LEN + len) as u64;
    }
    entries == want_entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::vfs::StdFs;

    const SEG_LEN: u64 = 1 << 40;

    fn entry(i: u32, key: &[u8]) -> HintEntry<'_> {
        HintEntry {
            kind: if i.is_multiple_of(5) {
                RecordKind::Delete
            } else {
                RecordKind::Put
            },
            keyspace: i % 3,
            key,
            val_len: i * 7,
            offset: 40 + u64::from(i) * 100,
            seq: u64::from(i) + 1,
            expires_at: u64::from(i % 2) * 12345,
        }
    }

    #[test]
    fn round_trips_and_rejects_damage_or_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.khint");
        let keys: Vec<Vec<u8>> = (0..5000u32)
            .map(|i| format!("key-{i:06}").into_bytes())
            .collect();
        let mut w = HintWriter::create(&StdFs, &path, 9).unwrap();
        for (i, k) in keys.iter().enumerate() {
            w.add(&entry(i as u32, k)).unwrap();
        }
        w.finish(SEG_LEN).unwrap().sync_data().unwrap();

        let mut got = Vec::new();
        assert!(load(&StdFs, &path, 9, SEG_LEN, |e| got.push((
            e.key.to_vec(),
            e.seq,
            e.kind
        ))));
        assert_eq!(got.len(), keys.len());
        for (i, (k, seq, kind)) in got.iter().enumerate() {
            let want = entry(i as u32, &keys[i]);
            assert_eq!((&k[..], *seq, *kind), (want.key, want.seq, want.kind));
        }
        assert!(!load(&StdFs, &path, 8, SEG_LEN, |_| {}), "other segment");
        assert!(!load(&StdFs, &path, 9, SEG_LEN + 1, |_| {}), "other length");
        assert!(!load(&StdFs, &dir.path().join("none"), 9, SEG_LEN, |_| {}));

        let bytes = std::fs::read(&path).unwrap();
        // Damage anywhere (a byte in a header, a block, or a cut) is refused.
        for at in [0, 20, 33, 45, 60, bytes.len() / 2, bytes.len() - 1] {
            let mut d = bytes.clone();
            d[at] ^= 0x10;
            std::fs::write(&path, &d).unwrap();
            assert!(!load(&StdFs, &path, 9, SEG_LEN, |_| {}), "flip at {at}");
        }
        std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
        assert!(!load(&StdFs, &path, 9, SEG_LEN, |_| {}), "cut short");
    }
}
