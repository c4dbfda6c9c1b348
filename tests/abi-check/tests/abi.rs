//! The committed header and the built library agree: version, status codes, the set of
//! functions, struct layouts (also as the library writes them) and the SONAME.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::mem::{align_of, offset_of, size_of};
use std::path::Path;
use std::process::Command;
use std::ptr;

use common::*;
use katamari_abi_check::functions::header_functions;
use katamari_abi_check::sys::*;
use katamari_abi_check::LIB_PATH;

/// Every status code of the header with the number it must keep forever.
const STATUSES: [(kat_status, kat_status, &str); 15] = [
    (KAT_OK, 0, "KAT_OK"),
    (KAT_NOT_FOUND, 1, "KAT_NOT_FOUND"),
    (KAT_INVALID_ARGUMENT, 2, "KAT_INVALID_ARGUMENT"),
    (KAT_IO, 3, "KAT_IO"),
    (KAT_CORRUPTION, 4, "KAT_CORRUPTION"),
    (KAT_CONFLICT, 5, "KAT_CONFLICT"),
    (KAT_CLOSED, 6, "KAT_CLOSED"),
    (KAT_LOCKED, 7, "KAT_LOCKED"),
    (KAT_NO_SPACE, 8, "KAT_NO_SPACE"),
    (KAT_TOO_LARGE, 9, "KAT_TOO_LARGE"),
    (KAT_AUTH_FAILED, 10, "KAT_AUTH_FAILED"),
    (KAT_READ_ONLY, 11, "KAT_READ_ONLY"),
    (KAT_PANIC, 12, "KAT_PANIC"),
    (KAT_INTERNAL, 13, "KAT_INTERNAL"),
    (KAT_BUFFER_TOO_SMALL, 14, "KAT_BUFFER_TOO_SMALL"),
];

#[test]
fn library_version_equals_the_header_version() {
    assert_eq!(
        KAT_VERSION_NUMBER,
        KAT_VERSION_MAJOR * 1_000_000 + KAT_VERSION_MINOR * 1000 + KAT_VERSION_PATCH,
        "KAT_VERSION_NUMBER does not follow MAJOR*1000000 + MINOR*1000 + PATCH"
    );
    // SAFETY: no arguments.
    let number = unsafe { kat_version_number() };
    assert_eq!(
        number, KAT_VERSION_NUMBER,
        "{LIB_PATH} reports version number {number}, the header {KAT_VERSION_NUMBER}"
    );
    // SAFETY: no arguments.
    let (p1, p2) = unsafe { (kat_version(), kat_version()) };
    assert_eq!(
        text(p1),
        format!("{KAT_VERSION_MAJOR}.{KAT_VERSION_MINOR}.{KAT_VERSION_PATCH}")
    );
    assert_eq!(p1, p2, "kat_version returns one static string");
}

#[test]
fn status_codes_keep_their_numbers_and_have_distinct_static_text() {
    let mut seen = BTreeSet::new();
    for (code, number, name) in STATUSES {
        assert_eq!(code, number, "{name} was renumbered");
        let s = status_str(code);
        assert!(!s.is_empty(), "{name} has empty text");
        assert_ne!(s, "unknown status", "the library does not know {name}");
        assert!(seen.insert(s.clone()), "{name} shares its text {s:?}");
        // SAFETY: any code is allowed; static text stays put.
        let (a, b) = unsafe { (kat_status_str(code), kat_status_str(code)) };
        assert_eq!(a, b, "kat_status_str({name}) is not static");
    }
    assert_eq!(status_str(KAT_OK), "ok");
    assert_eq!(status_str(KAT_NOT_FOUND), "not found");
    let next = STATUSES.iter().map(|s| s.0).max().unwrap() + 1;
    for unknown in [next, -1, 1000, i32::MAX, i32::MIN] {
        assert_eq!(status_str(unknown), "unknown status", "code {unknown}");
    }
}

#[test]
fn sync_modes_have_their_fixed_values() {
    assert_eq!(
        (KAT_SYNC_ALWAYS, KAT_SYNC_INTERVAL, KAT_SYNC_NEVER),
        (0, 1, 2)
    );
    assert_eq!(size_of::<kat_sync>(), 4);
    assert_eq!(size_of::<kat_status>(), 4);
    assert_eq!(kat_status::MIN, i32::MIN, "kat_status is int32_t");
    assert_eq!(kat_sync::MIN, 0, "kat_sync is uint32_t");
}

#[test]
fn kat_buf_layout_is_pointer_then_size_t() {
    assert_eq!(size_of::<kat_buf>(), 2 * size_of::<usize>());
    assert_eq!(align_of::<kat_buf>(), align_of::<usize>());
    assert_eq!(offset_of!(kat_buf, data), 0);
    assert_eq!(offset_of!(kat_buf, len), size_of::<*mut u8>());
}

#[test]
fn kat_stats_layout_is_sixteen_u64() {
    assert_eq!(size_of::<kat_stats>(), 16 * 8);
    assert_eq!(align_of::<kat_stats>(), 8);
    let offsets = [
        offset_of!(kat_stats, live_keys),
        offset_of!(kat_stats, live_bytes),
        offset_of!(kat_stats, dead_bytes),
        offset_of!(kat_stats, total_bytes),
        offset_of!(kat_stats, segments),
        offset_of!(kat_stats, keydir_bytes),
        offset_of!(kat_stats, last_seq),
        offset_of!(kat_stats, merges),
        offset_of!(kat_stats, merge_failures),
        offset_of!(kat_stats, reserved),
    ];
    assert_eq!(offsets, [0, 8, 16, 24, 32, 40, 48, 56, 64, 72]);
    // SAFETY: plain integers.
    let s: kat_stats = unsafe { std::mem::zeroed() };
    assert_eq!(s.reserved.len(), 7);
}

/// Fills memory around an out-parameter, to see which bytes a call writes.
const FILL: u64 = 0xA5A5_A5A5_A5A5_A5A5;

#[test]
fn the_library_writes_exactly_a_kat_stats() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("db"));
    put(db, b"k", b"value");
    const WORDS: usize = size_of::<kat_stats>() / 8;
    let mut words = [FILL; WORDS + 8];
    let mut err: *mut kat_error = ptr::null_mut();
    // SAFETY: `words` is 8-aligned and larger than a kat_stats.
    let st = unsafe { kat_db_stats(db, words.as_mut_ptr().cast::<kat_stats>(), &mut err) };
    check(st, err, "kat_db_stats");
    assert!(
        words[WORDS..].iter().all(|w| *w == FILL),
        "kat_db_stats wrote past sizeof(kat_stats)"
    );
    // live_keys .. last_seq, merges, merge_failures, then the reserved words.
    assert_eq!(words[0], 1, "live_keys");
    assert!(words[1] > 0 && words[3] >= words[1], "live/total bytes");
    assert!(words[4] >= 1, "segments");
    assert_eq!(words[6], 1, "last_seq after one commit");
    assert_eq!(words[7], 0, "merges");
    assert_eq!(words[8], 0, "merge_failures");
    assert!(
        words[9..WORDS].iter().all(|w| *w == 0),
        "reserved counters must be zero: {:?}",
        &words[9..WORDS]
    );
    shut(db);
}

#[test]
fn the_library_writes_exactly_a_kat_buf() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("db"));
    put(db, b"k", b"seven b");
    const WORDS: usize = size_of::<kat_buf>() / size_of::<usize>();
    let mut words = [usize::MAX; WORDS + 4];
    let mut err: *mut kat_error = ptr::null_mut();
    let key = b"k";
    // SAFETY: `words` is usize-aligned and larger than a kat_buf.
    let st = unsafe { kat_db_get(db, key.as_ptr(), 1, words.as_mut_ptr().cast(), &mut err) };
    check(st, err, "kat_db_get");
    assert!(words[WORDS..].iter().all(|w| *w == usize::MAX));
    assert_eq!(words[1], 7, "len is the second word");
    // SAFETY: `data` is the first word, as the header lays it out.
    let bytes = unsafe { std::slice::from_raw_parts(words[0] as *const u8, words[1]) };
    assert_eq!(bytes, b"seven b");
    // SAFETY: filled by the library.
    unsafe { kat_buf_free(words.as_mut_ptr().cast()) };
    assert_eq!(&words[..WORDS], &[0, 0], "kat_buf_free zeroes data and len");
    shut(db);
}

/// The `kat_*` functions the library exports, per `nm -D`.
fn exported_functions() -> BTreeSet<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only", LIB_PATH])
        .output()
        .expect("nm runs (install binutils: scripts/setup.sh)");
    assert!(out.status.success(), "nm failed on {LIB_PATH}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().rev();
            let name = f.next()?;
            let kind = f.next()?;
            (kind == "T" && name.starts_with("kat_")).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn header_functions_and_library_exports_are_the_same_set() {
    let declared: BTreeSet<String> = header_functions()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert!(declared.len() >= 30, "bindgen found only {declared:?}");
    let exported = exported_functions();
    let missing: Vec<_> = declared.difference(&exported).collect();
    let undeclared: Vec<_> = exported.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "declared in include/katamari.h, not exported by {LIB_PATH}: {missing:?}"
    );
    assert!(
        undeclared.is_empty(),
        "exported by {LIB_PATH}, not declared in include/katamari.h (stale header?): {undeclared:?}"
    );
}

/// Address ranges of `path` in this process.
fn mappings_of(path: &str) -> Vec<(usize, usize)> {
    let want = fs::canonicalize(path).unwrap();
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let range = f.next()?;
            let file = f.nth(4)?;
            if want != Path::new(file) {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect()
}

#[test]
fn every_header_function_resolves_into_the_library_under_test() {
    // SAFETY: no arguments; makes sure the library is loaded.
    unsafe { kat_version_number() };
    let ranges = mappings_of(LIB_PATH);
    assert!(
        !ranges.is_empty(),
        "{LIB_PATH} is not mapped: the tests loaded another libkatamari"
    );
    for (name, addr) in header_functions() {
        let a = addr as usize;
        assert!(
            ranges.iter().any(|(lo, hi)| (*lo..*hi).contains(&a)),
            "{name} at {a:#x} is not in {LIB_PATH}"
        );
    }
}

/// The value of the `(tag)` dynamic entries of an ELF file, per `readelf -d`.
fn dynamic_entries(file: &str, tag: &str) -> Vec<String> {
    let out = Command::new("readelf")
        .args(["-d", file])
        .output()
        .expect("readelf runs (install binutils: scripts/setup.sh)");
    assert!(out.status.success(), "readelf -d {file} failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("({tag})")))
        .filter_map(|l| Some(l[l.find('[')? + 1..l.rfind(']')?].to_string()))
        .collect()
}

#[test]
fn soname_is_libkatamari_so_major() {
    let want = format!("libkatamari.so.{KAT_VERSION_MAJOR}");
    assert_eq!(
        dynamic_entries(LIB_PATH, "SONAME"),
        vec![want.clone()],
        "SONAME of {LIB_PATH}"
    );
    // A program linked against the library records that SONAME, not a path.
    let exe = std::env::current_exe().unwrap();
    let needed = dynamic_entries(exe.to_str().unwrap(), "NEEDED");
    assert!(needed.contains(&want), "{exe:?} needs {needed:?}");
}

#[test]
fn maintenance_structs_have_their_documented_layout() {
    assert_eq!(size_of::<kat_merge_stats>(), 12 * 8);
    assert_eq!(offset_of!(kat_merge_stats, millis), 6 * 8);
    assert_eq!(size_of::<kat_backup_info>(), 8 * 8);
    assert_eq!(offset_of!(kat_backup_info, linked), 3 * 8);
    assert_eq!(offset_of!(kat_verify_report, first_bad_reason), 9 * 8);
    assert_eq!(
        size_of::<kat_verify_report>(),
        9 * 8 + KAT_VERIFY_REASON_LEN as usize
    );
    assert_eq!(align_of::<kat_verify_report>(), 8);
}
