//! Merge, hot backup and verification of an open database.

use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::db::kat_db;
use super::{boundary, handle, kat_error, kat_status, out_param};
use crate::Error;

/// What `kat_db_merge` did.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct kat_merge_stats {
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
    /// Reserved for future counters; zero.
    pub reserved: [u64; 5],
}

/// What `kat_db_backup` copied.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct kat_backup_info {
    /// The copy holds exactly the commits up to this sequence number.
    pub seq: u64,
    /// Segment files in the copy.
    pub segments: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Files hard-linked rather than copied.
    pub linked: u64,
    /// Reserved for future counters; zero.
    pub reserved: [u64; 4],
}

/// Longest reason `kat_verify_report` holds, terminating NUL included.
pub const KAT_VERIFY_REASON_LEN: usize = 128;

/// What `kat_db_verify` found.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct kat_verify_report {
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
    /// Hint files that did not (open ignores them and scans the segment instead).
    pub hints_bad: u64,
    /// Batches or segment headers that failed a check; 0 when the database is intact.
    pub damaged: u64,
    /// When `damaged` is not 0: the segment number and byte offset of the first damage.
    pub first_bad_segment: u64,
    pub first_bad_offset: u64,
    /// When `damaged` is not 0: why, UTF-8, NUL-terminated (cut to fit at a character
    /// boundary); otherwise "".
    pub first_bad_reason: [c_char; KAT_VERIFY_REASON_LEN],
}

/// Compacts the database now: seals the active segment, rewrites the live data of every
/// other segment into merged segments (with hint files, so the next open reads no
/// values), and removes the old ones. Overwritten versions, deleted keys and expired
/// values are dropped; versions a live transaction or iterator can see are kept. Reads
/// and writes on other threads continue meanwhile; one merge runs at a time. A crash at
/// any point leaves the same contents. `out` may be NULL; otherwise it receives what was
/// done. A close from another thread stops the merge with `KAT_CLOSED`.
///
/// # Safety
/// `db` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_merge(
    db: *mut kat_db,
    out: *mut kat_merge_stats,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            let m = db.merge()?;
            if !out.is_null() {
                out.write(kat_merge_stats {
                    input_segments: m.input_segments,
                    input_bytes: m.input_bytes,
                    output_segments: m.output_segments,
                    output_bytes: m.output_bytes,
                    records: m.records,
                    expired: m.expired,
                    millis: m.millis,
                    reserved: [0; 5],
                });
            }
            Ok(())
        })
    }
}

/// Writes a consistent copy of the database into the directory `dest_dir`, which must
/// not exist yet (its parent must): every commit up to the moment of the call, nothing
/// after, while reads and writes continue (merges wait). An existing `dest_dir` (file
/// or directory) is `KAT_INVALID_ARGUMENT`; a missing parent or any failure to write is
/// `KAT_IO`. Sealed segments are hard-linked
/// where the file system allows. The copy opens with `kat_db_open` like any database.
/// `out` may be NULL; otherwise it receives the copy's commit point (`seq`) and sizes.
///
/// # Safety
/// `db` NULL or live; `dest_dir` NULL or NUL-terminated; `out` NULL or writable; `err`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_backup(
    db: *mut kat_db,
    dest_dir: *const c_char,
    out: *mut kat_backup_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            if dest_dir.is_null() {
                return Err(Error::InvalidArgument("dest_dir is NULL".into()));
            }
            // SAFETY: non-NULL and NUL-terminated per the contract.
            let dest = Path::new(OsStr::from_bytes(CStr::from_ptr(dest_dir).to_bytes()));
            if dest.as_os_str().is_empty() {
                return Err(Error::InvalidArgument("dest_dir is empty".into()));
            }
            let b = db.backup(dest)?;
            if !out.is_null() {
                out.write(kat_backup_info {
                    seq: b.seq,
                    segments: b.segments,
                    bytes: b.bytes,
                    linked: b.linked,
                    reserved: [0; 4],
                });
            }
            Ok(())
        })
    }
}

/// Reads every record of every segment and checks every checksum, and every hint file
/// against its segment, changing nothing. Damage is reported in `*out` (`damaged`,
/// `first_bad_*`), not as an error status: `KAT_OK` means the check ran.
///
/// # Safety
/// `db` NULL or live; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_verify(
    db: *mut kat_db,
    out: *mut kat_verify_report,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            out_param(out, "out")?;
            let r = db.verify()?;
            let mut reason = [0 as c_char; KAT_VERIFY_REASON_LEN];
            let (seg, at) = match &r.first_bad {
                Some((seg, at, why)) => {
                    // Cut on a character boundary so the text stays valid UTF-8.
                    let mut n = why.len().min(KAT_VERIFY_REASON_LEN - 1);
                    while !why.is_char_boundary(n) {
                        n -= 1;
                    }
                    for (d, s) in reason.iter_mut().zip(&why.as_bytes()[..n]) {
                        *d = *s as c_char;
                    }
                    (u64::from(*seg), *at)
                }
                None => (0, 0),
            };
            out.write(kat_verify_report {
                segments: r.segments,
                batches: r.batches,
                records: r.records,
                bytes: r.bytes,
                hints_ok: r.hints_ok,
                hints_bad: r.hints_bad,
                damaged: r.damaged,
                first_bad_segment: seg,
                first_bad_offset: at,
                first_bad_reason: reason,
            });
            Ok(())
        })
    }
}
