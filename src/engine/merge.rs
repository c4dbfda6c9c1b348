//! Merge (compaction): rewrites the live versions of every sealed segment into merged
//! segments, with a hint file each, then removes the old segments.
//!
//! The walk follows the keydir, not the old files: what it copies is exactly what a
//! reader can still reach (newest versions, and older ones a live snapshot needs), in key
//! order. Overwritten versions, deleted keys and expired values are simply not copied.
//! Reads and writes continue throughout: the index moves to the copies chunk by chunk.
//!
//! The switch-over is one atomic step on disk: the `MERGE` file, naming the old
//! segments and the new ones, is written and renamed into place only after every new
//! file is synced. A crash before that leaves the old segments in charge (open removes
//! the unfinished copies); a crash after it is finished by the next open (rename the
//! copies, remove the old segments, then the `MERGE` file). A deleted key can never come
//! back, because its old versions disappear together with its tombstone.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::format::{
    self, encode_merged_batch, RecordKind, SegmentHeader, BATCH_HEADER_LEN, SEGMENT_HEADER_LEN,
    SEGMENT_KIND_MERGED,
};
use super::hint::{HintEntry, HintWriter};
use super::keydir::{MergeCandidate, Version};
use super::segment;
use super::vfs::{OpenMode, VFile, Vfs};
use super::{Engine, SegFile, SyncMode};
use crate::codec::checksum;
use crate::error::{Error, Result};

/// Name of the file that commits a merge.
pub const MERGE_FILE: &str = "MERGE";
const MERGE_MAGIC: u32 = u32::from_le_bytes(*b"KMRG");
/// Keys taken from the index per step (the index is locked only while taking them and
/// while pointing them at their copies).
const CHUNK_KEYS: usize = 4096;
/// Records are copied in batches of about this many bytes.
const BATCH_BYTES: usize = 1 << 20;

/// What a merge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Segments merged away.
    pub input_segments: u64,
    /// Their total size in bytes.
    pub input_bytes: u64,
    /// Merged segments written.
    pub output_segments: u64,
    /// Their total size in bytes.
    pub output_bytes: u64,
    /// Records copied.
    pub records: u64,
    /// Expired values dropped.
    pub expired: u64,
    /// Wall time in milliseconds.
    pub millis: u64,
}

/// The old and new segment numbers of a merge, as the `MERGE` file records them.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    inputs: Vec<u32>,
    outputs: Vec<u32>,
}

impl Plan {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&MERGE_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(self.inputs.len() as u32).to_le_bytes());
        b.extend_from_slice(&(self.outputs.len() as u32).to_le_bytes());
        for id in self.inputs.iter().chain(&self.outputs) {
            b.extend_from_slice(&id.to_le_bytes());
        }
        let crc = checksum(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Plan> {
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        let (body, crc) = b.split_at(b.len().checked_sub(4)?);
        if checksum(body) != u32::from_le_bytes(crc.try_into().ok()?)
            || u32_at(0)? != MERGE_MAGIC
            || u32_at(4)? != 1
        {
            return None;
        }
        let (ni, no) = (u32_at(8)? as usize, u32_at(12)? as usize);
        if body.len() != 16 + 4 * (ni + no) {
            return None;
        }
        let ids: Vec<u32> = (0..ni + no)
            .map(|i| u32_at(16 + 4 * i))
            .collect::<Option<_>>()?;
        Some(Plan {
            inputs: ids[..ni].to_vec(),
            outputs: ids[ni..].to_vec(),
        })
    }
}

fn io_ctx(what: &str, e: io::Error) -> Error {
    Error::io(what.to_string(), e)
}

fn remove_if_present(vfs: &dyn Vfs, path: &Path) -> io::Result<()> {
    match vfs.remove(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Completes the switch-over of a committed merge: the copies take their final names,
/// then the old segments and the `MERGE` file go. Safe to repeat after a crash.
fn apply_plan(vfs: &dyn Vfs, dir: &Path, plan: &Plan) -> Result<()> {
    for &id in &plan.outputs {
        let seg = segment::path(dir, id);
        let tmp = segment::tmp_path(&seg);
        match vfs.rename(&tmp, &seg) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if vfs.open(&seg, OpenMode::Read).is_err() {
                    return Err(Error::Corruption(format!(
                        "merged segment {id} named in {MERGE_FILE} is missing"
                    )));
                }
            }
            Err(e) => return Err(io_ctx("renaming a merged segment", e)),
        }
        let hint = segment::hint_path(dir, id);
        match vfs.rename(&segment::tmp_path(&hint), &hint) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_ctx("renaming a hint file", e))
            }
            _ => {}
        }
    }
    vfs.sync_dir(dir)
        .map_err(|e| io_ctx("syncing the directory", e))?;
    for &id in &plan.inputs {
        let seg = segment::path(dir, id);
        let hint = segment::hint_path(dir, id);
        for p in [segment::tmp_path(&seg), segment::tmp_path(&hint), hint, seg] {
            remove_if_present(vfs, &p).map_err(|e| io_ctx("removing a merged-away segment", e))?;
        }
    }
    vfs.sync_dir(dir)
        .map_err(|e| io_ctx("syncing the directory", e))?;
    remove_if_present(vfs, &dir.join(MERGE_FILE))
        .and_then(|_| vfs.sync_dir(dir))
        .map_err(|e| io_ctx("removing the merge record", e))
}

/// At open, before recovery reads the segments: finishes a merge that committed, and
/// removes what an unfinished one left (its copies, hint files without a segment).
pub fn finish_pending(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    let marker = dir.join(MERGE_FILE);
    let found = match vfs.open(&marker, OpenMode::Read) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_ctx("opening the merge record", e)),
    };
    if let Some(f) = found {
        let len = f
            .size()
            .map_err(|e| io_ctx("reading the merge record", e))?;
        let mut b = vec![0u8; len as usize];
        f.read_exact_at(&mut b, 0)
            .map_err(|e| io_ctx("reading the merge record", e))?;
        let plan = Plan::decode(&b).ok_or_else(|| {
            Error::Corruption(format!("{MERGE_FILE} (the record of a merge) is damaged"))
        })?;
        apply_plan(vfs, dir, &plan)?;
    }
    let names = vfs
        .list(dir)
        .map_err(|e| io_ctx("listing the data directory", e))?;
    let segments: BTreeSet<u32> = names
        .iter()
        .filter_map(|n| segment::parse_name(n))
        .collect();
    let mut removed = false;
    for name in &names {
        let stale = name.ends_with(segment::MERGE_TMP_SUFFIX)
            || segment::parse_hint_name(name).is_some_and(|id| !segments.contains(&id));
        if stale {
            remove_if_present(vfs, &dir.join(name))
                .map_err(|e| io_ctx("removing an unfinished merge's file", e))?;
            removed = true;
        }
    }
    if removed {
        vfs.sync_dir(dir)
            .map_err(|e| io_ctx("syncing the directory", e))?;
    }
    Ok(())
}

/// A merged segment being written, with its hint file.
struct Output {
    id: u32,
    file: Arc<dyn VFile>,
    end: u64,
    max_seq: u64,
    hint: HintWriter,
}

/// Records read for copying: the batch being filled, and what each record is.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// (candidate index, version index, start in `buf`, length).
    records: Vec<(usize, usize, usize, usize)>,
}

impl Engine {
    /// Merges every sealed segment (after sealing the active one, so everything
    /// committed before the call is included). Runs alongside reads and writes; one
    /// merge runs at a time.
    pub fn merge(&self) -> Result<MergeStats> {
        let _one = self.merge_lock.lock();
        let started = Instant::now();
        let inputs = self.seal_for_merge()?;
        if inputs.is_empty() {
            return Ok(MergeStats::default());
        }
        let (input_files, input_bytes) = {
            let st = self.state.read();
            let files: BTreeMap<u32, Arc<SegFile>> = inputs
                .iter()
                .filter_map(|id| Some((*id, st.files.get(id)?.clone())))
                .collect();
            let bytes = inputs.iter().filter_map(|id| st.sealed_len.get(id)).sum();
            (files, bytes)
        };
        let mut stats = MergeStats {
            input_segments: inputs.len() as u64,
            input_bytes,
            ..MergeStats::default()
        };
        let mut outputs: Vec<u32> = Vec::new();
        let mut out: Option<Output> = None;
        let mut cursor = None;
        let mut chunk = Vec::new();
        loop {
            if self.closing.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            chunk.clear();
            let now = (self.opts.clock)();
            let next = self.state.read().keydir.merge_candidates(
                cursor.as_ref(),
                CHUNK_KEYS,
                |seg| inputs.contains(&seg),
                now,
                &mut chunk,
            );
            self.copy_chunk(&chunk, &input_files, &mut out, &mut outputs, &mut stats)?;
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if let Some(o) = out.take() {
            stats.output_bytes += self.finish_output(o)?;
        }
        if self.closing.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        stats.output_segments = outputs.len() as u64;
        self.commit_merge(Plan {
            inputs: inputs.iter().copied().collect(),
            outputs,
        })?;
        stats.millis = started.elapsed().as_millis() as u64;
        self.merges_done.fetch_add(1, Ordering::Relaxed);
        Ok(stats)
    }

    /// Seals the active segment and waits until every commit in it is applied; returns
    /// the segments to merge (all but the new active one).
    fn seal_for_merge(&self) -> Result<BTreeSet<u32>> {
        let (inputs, last) = {
            let mut w = self.writer.lock();
            self.check_writable()?;
            if w.end > SEGMENT_HEADER_LEN as u64 {
                self.rotate(&mut w)?;
            }
            let st = self.state.read();
            let inputs = st.files.keys().copied().filter(|id| *id != w.seg).collect();
            (inputs, w.next_seq - 1)
        };
        if self.opts.sync == SyncMode::Always {
            // Commits of the sealed segment still waiting for their group sync must be
            // in the index before the walk, or they would be left behind.
            self.await_group(last)?;
        }
        Ok(inputs)
    }

    fn new_output(&self) -> Result<Output> {
        let id = self.allocate_segment_id()?;
        let vfs = self.opts.vfs.as_ref();
        let path = segment::tmp_path(&segment::path(&self.dir, id));
        let file = vfs
            .open(&path, OpenMode::CreateNew)
            .map_err(|e| io_ctx("creating a merged segment", e))?;
        // The header is rewritten with the highest sequence when the segment is done.
        let header = SegmentHeader {
            id: u64::from(id),
            base_seq: 0,
            kind: SEGMENT_KIND_MERGED,
        };
        file.write_all_at(&header.encode(), 0)
            .map_err(|e| io_ctx("writing a merged segment", e))?;
        let hint = HintWriter::create(
            vfs,
            &segment::tmp_path(&segment::hint_path(&self.dir, id)),
            id,
        )
        .map_err(|e| io_ctx("creating a hint file", e))?;
        {
            let mut st = self.state.write();
            st.files
                .insert(id, SegFile::new(file.clone(), self.opts.segment_size));
            st.uncommitted.insert(id);
        }
        Ok(Output {
            id,
            file,
            end: SEGMENT_HEADER_LEN as u64,
            max_seq: 0,
            hint,
        })
    }

    /// Syncs a finished merged segment and its hint file; returns its size.
    fn finish_output(&self, o: Output) -> Result<u64> {
        let header = SegmentHeader {
            id: u64::from(o.id),
            base_seq: o.max_seq,
            kind: SEGMENT_KIND_MERGED,
        };
        o.file
            .write_all_at(&header.encode(), 0)
            .map_err(|e| io_ctx("writing a merged segment", e))?;
        self.durable(o.file.sync_data(), "syncing a merged segment")?;
        let hint = o
            .hint
            .finish(o.end)
            .map_err(|e| io_ctx("writing a hint file", e))?;
        self.durable(hint.sync_data(), "syncing a hint file")?;
        self.state.write().sealed_len.insert(o.id, o.end);
        Ok(o.end)
    }

    /// Copies the stored versions of one chunk of keys into merged segments and points
    /// the index at the copies.
    fn copy_chunk(
        &self,
        chunk: &[MergeCandidate],
        input_files: &BTreeMap<u32, Arc<SegFile>>,
        out: &mut Option<Output>,
        outputs: &mut Vec<u32>,
        stats: &mut MergeStats,
    ) -> Result<()> {
        let mut pending = Pending::default();
        // Expired values are dropped from the index first. One that a writer replaced
        // meanwhile may now be an older version a snapshot keeps: that one is copied
        // like any other version.
        let mut dropped = vec![false; chunk.len()];
        if chunk.iter().any(|c| c.expired) {
            let mut st = self.state.write();
            for (ci, c) in chunk.iter().enumerate().filter(|(_, c)| c.expired) {
                if st
                    .keydir
                    .remove_expired(c.keyspace, &c.key, &c.versions[0].entry)
                {
                    dropped[ci] = true;
                    stats.expired += 1;
                }
            }
        }
        for (ci, c) in chunk.iter().enumerate() {
            if dropped[ci] {
                continue;
            }
            let key_bytes: usize = c
                .versions
                .iter()
                .map(|v| v.entry.record_len(c.key.len()) as usize)
                .sum();
            // A key's versions stay together in one batch of one segment.
            let full = out.as_ref().is_some_and(|o| {
                o.end > SEGMENT_HEADER_LEN as u64
                    && o.end + (BATCH_HEADER_LEN + pending.buf.len() + key_bytes) as u64
                        > self.opts.segment_size
            });
            if full || pending.buf.len() >= BATCH_BYTES {
                self.write_pending(chunk, &mut pending, out, outputs)?;
                if full {
                    let o = out.take().expect("checked");
                    stats.output_bytes += self.finish_output(o)?;
                }
            }
            for (vi, v) in c.versions.iter().enumerate() {
                let start = pending.buf.len();
                self.read_record(c, v, input_files, &mut pending.buf)?;
                pending
                    .records
                    .push((ci, vi, start, pending.buf.len() - start));
                stats.records += 1;
            }
        }
        self.write_pending(chunk, &mut pending, out, outputs)?;
        Ok(())
    }

    /// Appends the whole stored record of version `v` to `buf`, checked.
    fn read_record(
        &self,
        c: &MergeCandidate,
        v: &Version,
        input_files: &BTreeMap<u32, Arc<SegFile>>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let e = &v.entry;
        let seg = input_files
            .get(&e.seg)
            .ok_or_else(|| Error::Internal(format!("merge lost segment {}", e.seg)))?;
        super::read_record_into(c.keyspace, &c.key, e, seg, buf)
    }

    /// Writes the pending records as one batch, lists them in the hint file, and points
    /// the index at them.
    fn write_pending(
        &self,
        chunk: &[MergeCandidate],
        pending: &mut Pending,
        out: &mut Option<Output>,
        outputs: &mut Vec<u32>,
    ) -> Result<()> {
        if pending.records.is_empty() {
            return Ok(());
        }
        if out.is_none() {
            let o = self.new_output()?;
            outputs.push(o.id);
            *out = Some(o);
        }
        let o = out.as_mut().expect("created");
        let mut batch = Vec::with_capacity(BATCH_HEADER_LEN + pending.buf.len());
        encode_merged_batch(
            &mut batch,
            pending
                .records
                .iter()
                .map(|&(_, _, start, len)| &pending.buf[start..start + len]),
        );
        let at = o.end;
        o.file
            .write_all_at(&batch, at)
            .map_err(|e| io_ctx("writing a merged segment", e))?;
        o.end += batch.len() as u64;
        let mut offset = at + BATCH_HEADER_LEN as u64;
        let mut moves = Vec::with_capacity(pending.records.len());
        for &(ci, vi, start, len) in &pending.records {
            let c = &chunk[ci];
            let v = &c.versions[vi];
            let rec = format::RecordHeader::decode(&pending.buf[start..start + len])
                .expect("verified when read");
            o.max_seq = o.max_seq.max(rec.seq);
            o.hint
                .add(&HintEntry {
                    kind: if v.entry.is_tombstone() {
                        RecordKind::Delete
                    } else {
                        RecordKind::Put
                    },
                    keyspace: c.keyspace,
                    key: &c.key,
                    val_len: v.entry.val_len,
                    offset,
                    seq: rec.seq,
                    expires_at: rec.expires_at,
                })
                .map_err(|e| io_ctx("writing a hint file", e))?;
            moves.push((ci, vi, offset));
            offset += len as u64;
        }
        {
            let mut st = self.state.write();
            for (ci, vi, offset) in moves {
                let c = &chunk[ci];
                st.keydir
                    .relocate(c.keyspace, &c.key, &c.versions[vi].entry, o.id, offset);
            }
        }
        pending.buf.clear();
        pending.records.clear();
        Ok(())
    }

    /// Commits the merge on disk, then forgets and removes the old segments.
    fn commit_merge(&self, plan: Plan) -> Result<()> {
        let vfs = self.opts.vfs.as_ref();
        let dir = &self.dir;
        let tmp = dir.join(format!("{MERGE_FILE}{}", segment::MERGE_TMP_SUFFIX));
        let marker = dir.join(MERGE_FILE);
        // The new files' directory entries must be durable before the record naming
        // them can be.
        self.durable(vfs.sync_dir(dir), "syncing the directory")?;
        remove_if_present(vfs, &tmp).map_err(|e| io_ctx("writing the merge record", e))?;
        let f = vfs
            .open(&tmp, OpenMode::CreateNew)
            .map_err(|e| io_ctx("writing the merge record", e))?;
        f.write_all_at(&plan.encode(), 0)
            .map_err(|e| io_ctx("writing the merge record", e))?;
        self.durable(f.sync_data(), "syncing the merge record")?;
        vfs.rename(&tmp, &marker)
            .map_err(|e| io_ctx("committing the merge", e))?;
        self.durable(vfs.sync_dir(dir), "committing the merge")?;
        // Committed: from here on a crash is finished by the next open.
        {
            let mut st = self.state.write();
            debug_assert!(
                !st.keydir.points_into(|s| plan.inputs.contains(&s)),
                "the index still points into a merged-away segment"
            );
            for id in &plan.inputs {
                st.files.remove(id);
                st.sealed_len.remove(id);
                st.uncommitted.remove(id);
                st.keydir.forget_segment(*id);
            }
            for id in &plan.outputs {
                st.uncommitted.remove(id);
            }
        }
        // A switch-over that fails half way is finished by the next open; until then
        // nothing more is written.
        apply_plan(vfs, dir, &plan).inspect_err(|_| self.fail())
    }

    /// Passes on the result of a sync; a failed one stops the writer until reopen (the
    /// file system's state is unknown, and a retried sync proves nothing).
    fn durable(&self, r: io::Result<()>, what: &str) -> Result<()> {
        r.map_err(|e| {
            self.fail();
            io_ctx(what, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_round_trips_and_rejects_damage() {
        let p = Plan {
            inputs: vec![1, 2, 3, 10],
            outputs: vec![12, 13],
        };
        let b = p.encode();
        assert_eq!(Plan::decode(&b), Some(p));
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 4;
            assert_eq!(Plan::decode(&d), None, "flip at byte {i}");
        }
        assert_eq!(Plan::decode(&b[..b.len() - 1]), None);
        assert_eq!(Plan::decode(&[]), None);
    }
}
