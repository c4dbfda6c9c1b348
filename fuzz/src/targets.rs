//! The file-format fuzz targets: segment files, hint files and the `MERGE` file. Each
//! `fn` takes the raw fuzz input; any panic (or sanitizer report) is a finding.

use std::sync::{Arc, OnceLock};

use katamari::engine::format::{
    verify_record, BatchHeader, RecordHeader, BATCH_HEADER_LEN, RECORD_HEADER_LEN,
};
use katamari::engine::hint;
use katamari::engine::merge;
use katamari::engine::recovery::{self, Recovered};
use katamari::engine::vfs::{OpenMode, Vfs};
use katamari::engine::Engine;
use katamari::{Error, Status};

use crate::{
    check_recovered, dir, engine_options, fix_hint, fix_merge_file, fix_segment, hint_name,
    index_dump, open_read_reopen, recovered_summary, seg_name, Files, MemFs,
};

fn is_corruption(e: &Error) -> bool {
    e.status() == Status::Corruption
}

fn expect_corruption<T>(what: &str, r: &katamari::Result<T>) {
    if let Err(e) = r {
        assert!(
            is_corruption(e),
            "{what} failed with something other than corruption: {e}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// segment: record and batch decoders, segment scanning, torn tails, salvage
// ---------------------------------------------------------------------------------------

/// Input: one flag byte, then the bytes of segment file 1 (flag bit 1: a little-endian
/// u16 split point, then the bytes of segment files 1 and 2). Flag bit 0: rewrite every
/// checksum to match (segment header, records, batches) before the run.
///
/// Runs `recovery::check_segment` on every file, `recovery::recover` with and without
/// salvage, and, where recovery succeeded, a full open, read, write, close and reopen
/// through the engine. Never panics; what recovery returns is self-consistent
/// ([`check_recovered`]); strict success implies salvage returns the same and that
/// `check_segment` finds no damage in the valid prefixes; the only error is corruption.
pub fn segment(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    // The decoders on their own: any bytes, never a panic; a record verify_record
    // accepts is exactly as long as its header says.
    if rest.len() >= RECORD_HEADER_LEN {
        let _ = RecordHeader::decode(rest);
    }
    if rest.len() >= BATCH_HEADER_LEN {
        let _ = BatchHeader::decode(rest);
    }
    let key_len = usize::from(flags >> 4).min(rest.len());
    let key = rest
        .get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + key_len)
        .unwrap_or(&[]);
    if let Ok(h) = verify_record(rest, 0, key) {
        assert_eq!(
            h.record_len(),
            rest.len() as u64,
            "verify_record accepted a wrong length"
        );
        assert_eq!(
            h.key_len as usize,
            key.len(),
            "verify_record accepted another key"
        );
    }
    let mut files: Vec<(u32, Vec<u8>)> = if flags & 2 != 0 && rest.len() >= 2 {
        let at = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let body = &rest[2..];
        let at = at.min(body.len());
        vec![(1, body[..at].to_vec()), (2, body[at..].to_vec())]
    } else {
        vec![(1, rest.to_vec())]
    };
    if flags & 1 != 0 {
        for (id, b) in &mut files {
            fix_segment(b, *id);
        }
    }
    let names: Vec<(String, &[u8])> = files
        .iter()
        .map(|(id, b)| (seg_name(*id), &b[..]))
        .collect();
    let fs = MemFs::with_files(names.iter().map(|(n, b)| (n.as_str(), *b)));

    for (id, b) in &files {
        let f = fs.open(&dir().join(seg_name(*id)), OpenMode::Read).unwrap();
        let c = recovery::check_segment(f.as_ref(), *id, b.len() as u64)
            .expect("check_segment reads an in-memory file");
        assert_eq!(
            c.damaged == 0,
            c.first_bad.is_none(),
            "damage count and first damage disagree"
        );
        if let Some((at, _)) = &c.first_bad {
            assert!(
                *at < b.len().max(1) as u64,
                "first damage past the end of the file"
            );
        }
    }

    let strict = recovery::recover(fs.as_ref(), dir(), false);
    let salvaged = recovery::recover(fs.as_ref(), dir(), true);
    if crate::capi::trace() {
        for (what, r) in [("strict", &strict), ("salvage", &salvaged)] {
            match r {
                Ok(r) => eprintln!(
                    "{what}: segments {:?} active {:?} repairs {:?} salvaged {:?} last_seq {}",
                    r.segments
                        .iter()
                        .map(|s| (s.id, s.len, s.merged))
                        .collect::<Vec<_>>(),
                    r.active,
                    r.repairs,
                    r.salvaged,
                    r.last_seq
                ),
                Err(e) => eprintln!("{what}: {e}"),
            }
        }
    }
    expect_corruption("strict recovery", &strict);
    expect_corruption("salvage recovery", &salvaged);
    if let Ok(r) = &strict {
        check_recovered(r, false, true);
        for s in &r.segments {
            let c = recovery::check_segment(s.file.as_ref(), s.id, s.len).unwrap();
            assert_eq!(
                c.damaged, 0,
                "strict recovery accepted segment {} up to {} but check_segment finds {:?}",
                s.id, s.len, c.first_bad
            );
        }
        let s = salvaged
            .as_ref()
            .expect("salvage failed where strict recovery succeeded");
        assert!(
            s.salvaged.is_empty(),
            "salvage skipped bytes strict recovery accepted"
        );
        assert!(
            recovered_summary(r) == recovered_summary(s),
            "salvage recovered something else than strict recovery"
        );
    }
    if let Ok(r) = &salvaged {
        check_recovered(r, true, true);
    }
    for (salvage, rec) in [(false, &strict), (true, &salvaged)] {
        if let Ok(r) = rec {
            let dump = index_dump(&r.keydir);
            let fs2 = MemFs::from_snapshot(&fs.snapshot());
            // The engine also loads the keyspace catalog, which can be damaged while
            // every checksum holds: corruption is then a correct answer.
            expect_corruption(
                "open after recovery",
                &open_read_reopen(fs2, salvage, Some(&dump)),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// hint: hint files of merged segments
// ---------------------------------------------------------------------------------------

struct HintBase {
    files: Files,
    /// (segment, its length) of every merged segment with a hint file.
    hints: Vec<(u32, u64)>,
}

fn hint_base() -> &'static HintBase {
    static BASE: OnceLock<HintBase> = OnceLock::new();
    BASE.get_or_init(|| {
        let fs = MemFs::with_files([]);
        crate::build_db(&fs, 1024, true);
        let files = fs.snapshot();
        let mut hints = Vec::new();
        for name in fs.names() {
            if let Some(id) = name
                .strip_suffix(".khint")
                .and_then(|s| s.parse::<u32>().ok())
            {
                let len = fs.file(&seg_name(id)).expect("hinted segment").len() as u64;
                hints.push((id, len));
            }
        }
        assert!(!hints.is_empty(), "the base database has hint files");
        HintBase { files, hints }
    })
}

/// The hint files of the base database (seeds).
pub fn hint_seeds() -> Vec<Vec<u8>> {
    let b = hint_base();
    b.hints
        .iter()
        .map(|(id, _)| b.files[&dir().join(hint_name(*id))].clone())
        .collect()
}

/// Input: one flag byte, then the bytes of a hint file that replaces one of a small
/// merged database's (flag bits 2..: which). Flag bits 0 and 1: rewrite the header
/// checksum, the block checksums.
///
/// Runs `hint::load`, recovery, an open, a read of every indexed key, `verify`, a merge,
/// a close and a reopen. A hint file is trusted once its checksums pass, but values are
/// still checked on every read: a read returns a value only if a record that passes
/// `verify_record` for that key holds it, and otherwise fails with corruption.
pub fn hint(data: &[u8]) {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let base = hint_base();
    let (seg, seg_len) = base.hints[usize::from(flags >> 2) % base.hints.len()];
    let mut bytes = bytes.to_vec();
    fix_hint(&mut bytes, flags & 3);
    let fs = MemFs::from_snapshot(&base.files);
    fs.put_file(&hint_name(seg), &bytes);
    let path = dir().join(hint_name(seg));

    let mut entries = 0u64;
    let ok = hint::load(fs.as_ref(), &path, seg, seg_len, |e| {
        entries += 1;
        let _ = (
            e.kind,
            e.keyspace,
            e.key.len(),
            e.val_len,
            e.offset,
            e.seq,
            e.expires_at,
        );
    });
    if ok {
        assert!(
            bytes.len() >= 40,
            "a hint file shorter than its header passed"
        );
        let want = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
        assert_eq!(
            entries, want,
            "hint file passed with another entry count than its header's"
        );
    }

    let rec = recovery::recover(fs.as_ref(), dir(), false).unwrap_or_else(|e| {
        panic!("recovery of intact segments failed because of a hint file: {e}")
    });
    // A hint file that fails any check is ignored (FORMAT.md): whatever it fed is
    // taken back and the segment scanned, so the index is then checked record by record.
    check_recovered(&rec, false, !ok);
    let dump = index_dump(&rec.keydir);
    if ok {
        assert!(
            rec.hinted >= 1,
            "hint file passed load but recovery did not use it"
        );
    }

    let eng = match Engine::open(dir(), engine_options(fs.clone(), false, 1024, 0)) {
        Ok(e) => e,
        Err(e) => {
            // A trusted hint file can only damage the keyspace catalog this way.
            assert!(
                is_corruption(&e),
                "open failed with something other than corruption: {e}"
            );
            return;
        }
    };
    check_reads(&eng, &rec, &dump);
    let report = eng.verify().expect("verify reads in-memory files");
    assert_eq!(report.damaged, 0, "verify found damage in intact segments");
    if ok {
        assert!(
            report.hints_ok >= 1,
            "verify rejects the hint file load accepted"
        );
    }
    // A trusted hint file can place an entry anywhere: merge copies only records that
    // check out, and anything else is corruption (a record past the end of its segment
    // included).
    expect_corruption("merge over a hinted index", &eng.merge());
    eng.close().expect("close");
    drop(eng);
    let eng = Engine::open(dir(), engine_options(fs, false, 1024, 0))
        .unwrap_or_else(|e| panic!("reopen after merge failed: {e}"));
    eng.close().expect("close");
}

/// Every read of an indexed key returns either exactly the value of a record at the
/// indexed location that passes `verify_record` for that key, or corruption.
fn check_reads(eng: &Engine, rec: &Recovered, dump: &[katamari::engine::keydir::MergeCandidate]) {
    for c in dump {
        let e = c.versions.last().expect("a version").entry;
        match eng.get(c.keyspace, &c.key) {
            Ok(Some(val)) => {
                let s = rec
                    .segments
                    .iter()
                    .find(|s| s.id == e.seg)
                    .expect("value read from an unknown segment");
                let len = RECORD_HEADER_LEN + c.key.len() + val.len();
                let mut r = vec![0u8; len];
                s.file
                    .read_exact_at(&mut r, e.offset())
                    .expect("value read from outside its segment");
                verify_record(&r, c.keyspace, &c.key)
                    .unwrap_or_else(|why| panic!("a read returned a value of a bad record: {why}"));
                assert_eq!(
                    &r[RECORD_HEADER_LEN + c.key.len()..],
                    &val[..],
                    "wrong value returned"
                );
            }
            Ok(None) => {}
            Err(err) => assert!(is_corruption(&err), "read failed with {err}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// merge_file: the MERGE file that commits a merge
// ---------------------------------------------------------------------------------------

struct MergeBase {
    /// The files right after the merge committed (the `MERGE` file renamed into place).
    committed: Files,
    /// The genuine `MERGE` file.
    plan: Vec<u8>,
    inputs: Vec<u32>,
    outputs: Vec<u32>,
    /// What the database holds once the merge is finished: (keyspace, key, value).
    contents: Vec<(u32, Vec<u8>, Option<Vec<u8>>)>,
}

fn u32s(b: &[u8], n: usize, at: usize) -> Vec<u32> {
    (0..n)
        .map(|i| u32::from_le_bytes(b[at + 4 * i..at + 4 * i + 4].try_into().unwrap()))
        .collect()
}

fn contents(
    eng: &Engine,
    dump: &[katamari::engine::keydir::MergeCandidate],
) -> Vec<(u32, Vec<u8>, Option<Vec<u8>>)> {
    dump.iter()
        .map(|c| {
            (
                c.keyspace,
                c.key.clone(),
                eng.get(c.keyspace, &c.key).expect("read"),
            )
        })
        .collect()
}

fn merge_base() -> &'static MergeBase {
    static BASE: OnceLock<MergeBase> = OnceLock::new();
    BASE.get_or_init(|| {
        let fs = MemFs::with_files([]);
        fs.capture_merge_commit();
        crate::build_db(&fs, 1024, true);
        let committed = fs.captured().expect("the merge committed");
        let plan = committed[&dir().join(merge::MERGE_FILE)].clone();
        let (ni, no) = (
            u32::from_le_bytes(plan[8..12].try_into().unwrap()) as usize,
            u32::from_le_bytes(plan[12..16].try_into().unwrap()) as usize,
        );
        let inputs = u32s(&plan, ni, 16);
        let outputs = u32s(&plan, no, 16 + 4 * ni);
        // The contents once the switch-over completes, as the next open finishes it.
        let fs2 = MemFs::from_snapshot(&committed);
        let eng = Engine::open(dir(), engine_options(fs2.clone(), false, 1024, 0)).expect("open");
        let rec = recovery::recover(fs2.as_ref(), dir(), false).expect("recover");
        let contents = contents(&eng, &index_dump(&rec.keydir));
        eng.close().expect("close");
        MergeBase {
            committed,
            plan,
            inputs,
            outputs,
            contents,
        }
    })
}

/// The genuine `MERGE` file of the base database (a seed).
pub fn merge_seed() -> Vec<u8> {
    merge_base().plan.clone()
}

/// Input: one flag byte, then the bytes of the `MERGE` file, placed in a small database
/// caught right after its merge committed. Flag bit 0: rewrite the trailing checksum.
/// Flag bits 1-2: how far the switch-over had got before the crash (0: not at all; 1:
/// new segments renamed into place; 2: and the old segments removed too).
///
/// `merge::finish_pending` either fails with corruption or leaves no `MERGE`, no
/// `*.merge` and no orphaned hint file, and running it again changes nothing; the
/// engine then opens (or reports corruption). With the genuine `MERGE` file, the open
/// succeeds and holds exactly what the merged database held.
pub fn merge_file(data: &[u8]) {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let base = merge_base();
    let mut bytes = bytes.to_vec();
    if flags & 1 != 0 {
        fix_merge_file(&mut bytes);
    }
    let fs = MemFs::from_snapshot(&base.committed);
    let progress = (flags >> 1) & 3;
    if progress >= 1 {
        for &id in &base.outputs {
            for name in [seg_name(id), hint_name(id)] {
                let tmp = dir().join(format!("{name}.merge"));
                let _ = fs.rename(&tmp, &dir().join(&name));
            }
        }
    }
    if progress >= 2 {
        for &id in &base.inputs {
            let _ = fs.remove(&dir().join(seg_name(id)));
            let _ = fs.remove(&dir().join(hint_name(id)));
        }
    }
    fs.put_file(merge::MERGE_FILE, &bytes);
    let genuine = bytes == base.plan;

    let r = merge::finish_pending(fs.as_ref(), dir());
    expect_corruption("finish_pending", &r);
    if genuine {
        r.as_ref().expect("finishing a genuine merge failed");
    }
    if r.is_ok() {
        let names = fs.names();
        let segs: Vec<u32> = names
            .iter()
            .filter_map(|n| n.strip_suffix(".kseg")?.parse().ok())
            .collect();
        for n in &names {
            assert!(n != merge::MERGE_FILE, "MERGE left behind");
            assert!(!n.ends_with(".merge"), "{n} left behind");
            if let Some(id) = n.strip_suffix(".khint").and_then(|s| s.parse::<u32>().ok()) {
                assert!(segs.contains(&id), "hint file {n} without its segment");
            }
        }
        let before = fs.snapshot();
        merge::finish_pending(fs.as_ref(), dir()).expect("finish_pending again");
        assert!(
            before == fs.snapshot(),
            "a second finish_pending changed the files"
        );
    }

    let opened = Engine::open(dir(), engine_options(fs.clone(), false, 1024, 0));
    expect_corruption("open after a merge switch-over", &opened);
    if genuine {
        let eng = opened.as_ref().expect("open after a genuine merge");
        let rec = recovery::recover(fs.as_ref(), dir(), false).expect("recover");
        let now = contents(eng, &index_dump(&rec.keydir));
        assert!(now == base.contents, "a genuine merge changed the contents");
    }
    if let Ok(eng) = opened {
        eng.close().expect("close");
    }
}

/// A fresh in-memory copy of a small database, for seeds.
pub fn small_db(segment_size: u64, merged: bool) -> Arc<MemFs> {
    let fs = MemFs::with_files([]);
    crate::build_db(&fs, segment_size, merged);
    fs
}
