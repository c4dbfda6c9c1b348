//! Segment files: their names, listing in numeric order, and creation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{SegmentHeader, SEGMENT_KIND_DATA};
use super::vfs::{OpenMode, VFile, Vfs};
use crate::error::{Error, Result};

const SUFFIX: &str = ".kseg";
const HINT_SUFFIX: &str = ".khint";
/// Suffix of files a merge writes before it commits; removed at open if it never did.
pub const MERGE_TMP_SUFFIX: &str = ".merge";

/// File name of segment `id`: zero-padded so listings read well, but always parsed as a
/// number, never sorted as text.
pub fn file_name(id: u32) -> String {
    format!("{id:010}{SUFFIX}")
}

pub fn path(dir: &Path, id: u32) -> PathBuf {
    dir.join(file_name(id))
}

/// Path of the hint file of segment `id`.
pub fn hint_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:010}{HINT_SUFFIX}"))
}

/// Where a merge writes `path` before its commit.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(MERGE_TMP_SUFFIX);
    PathBuf::from(s)
}

/// The segment number a hint file name stands for, if it names one.
pub fn parse_hint_name(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(HINT_SUFFIX)?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// The segment number a file name stands for, if it names a segment.
pub fn parse_name(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(SUFFIX)?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Segment numbers present in `dir`, ascending.
pub fn list(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<u32>> {
    let names = vfs
        .list(dir)
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let mut ids: Vec<u32> = names.iter().filter_map(|n| parse_name(n)).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Creates data segment `id` with its header, durable (file and directory entry) on
/// return.
pub fn create(vfs: &dyn Vfs, dir: &Path, id: u32, base_seq: u64) -> Result<Arc<dyn VFile>> {
    let p = path(dir, id);
    let ctx = || format!("creating segment {}", p.display());
    let file = vfs
        .open(&p, OpenMode::CreateNew)
        .map_err(|e| Error::io(ctx(), e))?;
    let header = SegmentHeader {
        id: u64::from(id),
        base_seq,
        kind: SEGMENT_KIND_DATA,
    };
    if let Err(e) = file
        .write_all_at(&header.encode(), 0)
        .and_then(|_| file.sync_data())
        .and_then(|_| vfs.sync_dir(dir))
    {
        // Best effort: a file left behind is removed by the next open anyway.
        let _ = vfs.remove(&p);
        return Err(Error::io(ctx(), e));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_numerically() {
        assert_eq!(parse_name(&file_name(7)), Some(7));
        assert_eq!(parse_name(&file_name(u32::MAX)), Some(u32::MAX));
        assert_eq!(parse_name("12.kseg"), Some(12));
        assert_eq!(parse_name(".kseg"), None);
        assert_eq!(parse_name("x1.kseg"), None);
        assert_eq!(parse_name("0000000001.kseg.tmp"), None);
        assert_eq!(parse_name("LOCK"), None);
    }
}
