//! Hot backup and verification of an open database.
//!
//! A backup is a consistent copy taken while reads and writes continue: the sealed
//! segments (hard-linked where the file system allows, copied otherwise, since they
//! never change), and the active segment up to the end of the last commit appended when
//! the backup began, closed with an end marker. It opens as a database holding exactly
//! the commits up to the sequence the backup reports.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::format::encode_end_marker;
use super::recovery;
use super::segment;
use super::vfs::{OpenMode, VFile, Vfs};
use super::Engine;
use crate::error::{Error, Result};

/// What a backup copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackupInfo {
    /// The copy holds exactly the commits up to this sequence.
    pub seq: u64,
    /// Segment files in the copy.
    pub segments: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Files hard-linked rather than copied.
    pub linked: u64,
}

/// What verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segments checked.
    pub segments: u64,
    /// Batches whose every checksum matched.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// Bytes checked.
    pub bytes: u64,
    /// Hint files that matched their segment.
    pub hints_ok: u64,
    /// Hint files that did not (open ignores those and scans the segment).
    pub hints_bad: u64,
    /// Batches (or segment headers) that failed a check.
    pub damaged: u64,
    /// The first failure: segment, byte offset, reason.
    pub first_bad: Option<(u32, u64, String)>,
}

impl VerifyReport {
    /// Whether everything checked out.
    pub fn is_clean(&self) -> bool {
        self.damaged == 0 && self.hints_bad == 0
    }
}

const COPY_CHUNK: usize = 1 << 20;

/// Copies the first `len` bytes of `from` into the new file `to`, synced.
fn copy_prefix(vfs: &dyn Vfs, from: &dyn VFile, to: &Path, len: u64) -> io::Result<Arc<dyn VFile>> {
    let out = vfs.open(to, OpenMode::CreateNew)?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(COPY_CHUNK as u64) as usize;
        from.read_exact_at(&mut buf[..n], at)?;
        out.write_all_at(&buf[..n], at)?;
        at += n as u64;
    }
    out.sync_data()?;
    Ok(out)
}

/// Links `from` to `to`, or copies it whole where links are not possible.
fn link_or_copy(vfs: &dyn Vfs, from: &Path, to: &Path) -> io::Result<bool> {
    match vfs.hard_link(from, to) {
        Ok(()) => Ok(true),
        Err(_) => {
            let src = vfs.open(from, OpenMode::Read)?;
            let len = src.size()?;
            copy_prefix(vfs, src.as_ref(), to, len)?;
            Ok(false)
        }
    }
}

impl Engine {
    /// Writes a consistent copy of the database into `dest`, a directory that must not
    /// exist yet (its parent must). Reads and writes continue meanwhile; merges wait.
    pub fn backup(&self, dest: &Path) -> Result<BackupInfo> {
        let vfs = self.opts.vfs.as_ref();
        if vfs.list(dest).is_ok() || vfs.open(dest, OpenMode::Read).is_ok() {
            return Err(Error::InvalidArgument(format!(
                "backup destination {} already exists",
                dest.display()
            )));
        }
        let _no_merge = self.merge_lock.lock();
        self.check_writable()?;
        // The commit point: everything appended so far, synced so the copy can read it.
        // The sealed segments are listed under the writer lock too, so none sealed after
        // the commit point slips in.
        let (active, active_file, active_len, seq, sealed) = {
            let w = self.writer.lock();
            if let Err(e) = w.file.sync_data() {
                self.fail();
                return Err(Error::io("syncing the active segment", e));
            }
            let st = self.state.read();
            let sealed: Vec<(u32, u64)> = st
                .sealed_len
                .iter()
                .filter(|(id, _)| **id != w.seg && !st.uncommitted.contains(id))
                .map(|(id, len)| (*id, *len))
                .collect();
            (w.seg, w.file.clone(), w.end, w.next_seq - 1, sealed)
        };
        let ctx = |what: &str, e: io::Error| Error::io(format!("backup: {what}"), e);
        vfs.create_dir(dest)
            .map_err(|e| ctx("creating the destination", e))?;
        let mut info = BackupInfo {
            seq,
            ..BackupInfo::default()
        };
        for (id, len) in sealed {
            let from = segment::path(&self.dir, id);
            if link_or_copy(vfs, &from, &segment::path(dest, id))
                .map_err(|e| ctx(&format!("copying segment {id}"), e))?
            {
                info.linked += 1;
            }
            let hint = segment::hint_path(&self.dir, id);
            if vfs.open(&hint, OpenMode::Read).is_ok() {
                link_or_copy(vfs, &hint, &segment::hint_path(dest, id))
                    .map_err(|e| ctx(&format!("copying the hint file of segment {id}"), e))?;
            }
            info.segments += 1;
            info.bytes += len;
        }
        let out = copy_prefix(
            vfs,
            active_file.as_ref(),
            &segment::path(dest, active),
            active_len,
        )
        .map_err(|e| ctx("copying the active segment", e))?;
        let marker = encode_end_marker(seq);
        out.write_all_at(&marker, active_len)
            .and_then(|_| out.sync_data())
            .map_err(|e| ctx("closing the copied active segment", e))?;
        info.segments += 1;
        info.bytes += active_len + marker.len() as u64;
        vfs.sync_dir(dest)
            .map_err(|e| ctx("syncing the destination", e))?;
        Ok(info)
    }

    /// Reads every record of every segment and checks every checksum, and every hint
    /// file against its segment. Changes nothing; merges wait until it is done.
    pub fn verify(&self) -> Result<VerifyReport> {
        let _no_merge = self.merge_lock.lock();
        let (active, active_len) = {
            let w = self.writer.lock();
            (w.seg, w.end)
        };
        let segments: Vec<(u32, Arc<dyn VFile>, u64)> = {
            let st = self.state.read();
            st.files
                .iter()
                .filter(|(id, _)| !st.uncommitted.contains(id))
                .map(|(id, f)| {
                    let len = if *id == active {
                        active_len
                    } else {
                        st.sealed_len.get(id).copied().unwrap_or(0)
                    };
                    (*id, f.file.clone(), len)
                })
                .collect()
        };
        let mut report = VerifyReport::default();
        for (id, file, len) in segments {
            let check = recovery::check_segment(file.as_ref(), id, len)?;
            report.segments += 1;
            report.bytes += len;
            report.batches += check.batches;
            report.records += check.records;
            report.damaged += check.damaged;
            if report.first_bad.is_none() {
                report.first_bad = check.first_bad.map(|(at, why)| (id, at, why));
            }
            let hint = segment::hint_path(&self.dir, id);
            if self.opts.vfs.open(&hint, OpenMode::Read).is_ok() {
                if super::hint::load(self.opts.vfs.as_ref(), &hint, id, len, |_| {}) {
                    report.hints_ok += 1;
                } else {
                    report.hints_bad += 1;
                }
            }
        }
        Ok(report)
    }
}
