//! The `c_api` fuzz target: the fuzz input is decoded into a sequence of C API calls
//! (`katamari::ffi::*`, the `extern "C"` functions exactly as C calls them), including
//! NULL handles, NULL out-parameters, NULL buffers with and without a length, zero TTLs,
//! oversized keys, calls on closed databases, ended transactions and dropped keyspaces.
//! Every result is checked against a simple model of the database (committed contents
//! per keyspace, each transaction's snapshot and writes, each iterator's snapshot and
//! cursor), and no call may return `KAT_PANIC` (the fuzzer aborts on any panic anyway,
//! even one the boundary would catch). Sanitizers check the memory side: handles, views
//! and buffers handed across the boundary, and leaks (every handle is freed at the end
//! of each input).
//!
//! Input format: a sequence of operations, each an opcode byte followed by the bytes
//! that operation reads (argument selectors, key and value bytes); reading past the end
//! yields zeros, so every input decodes. See [`Enc`] for writing inputs by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;
use std::ptr::{null, null_mut};

use katamari::ffi::*;

// ---------------------------------------------------------------------------------------
// Input decoding
// ---------------------------------------------------------------------------------------

struct Input<'a> {
    d: &'a [u8],
}

impl Input<'_> {
    fn done(&self) -> bool {
        self.d.is_empty()
    }
    fn u8(&mut self) -> u8 {
        match self.d.split_first() {
            Some((&b, rest)) => {
                self.d = rest;
                b
            }
            None => 0,
        }
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.d.len());
        let (a, b) = self.d.split_at(n);
        self.d = b;
        a.to_vec()
    }
}

/// Keys drawn from a small pool so operations collide; some share prefixes.
const KEYS: [&[u8]; 8] = [b"a", b"b", b"ab", b"abc", b"b\0", b"\xff", b"c", b"ba"];
const KS_NAMES: [&[u8]; 3] = [b"users", b"logs", b"u"];

/// A pointer-and-length argument.
#[derive(Clone, Debug)]
enum Arg {
    Bytes(Vec<u8>),
    /// NULL with length 0: an empty input, allowed.
    NullEmpty,
    /// NULL with a length: refused with `KAT_INVALID_ARGUMENT`.
    NullLen(usize),
}

impl Arg {
    fn ptr(&self) -> (*const u8, usize) {
        match self {
            Arg::Bytes(v) => (v.as_ptr(), v.len()),
            Arg::NullEmpty => (null(), 0),
            Arg::NullLen(n) => (null(), *n),
        }
    }
    fn invalid(&self) -> bool {
        matches!(self, Arg::NullLen(_))
    }
    fn value(&self) -> Vec<u8> {
        match self {
            Arg::Bytes(v) => v.clone(),
            _ => Vec::new(),
        }
    }
}

fn key_arg(inp: &mut Input) -> Arg {
    let sel = inp.u8();
    match sel % 16 {
        0..=9 => Arg::Bytes(KEYS[usize::from(sel % 8)].to_vec()),
        10..=12 => {
            let n = usize::from(inp.u8() % 6);
            Arg::Bytes(inp.bytes(n))
        }
        13 => Arg::NullEmpty,
        14 => Arg::NullLen(3),
        _ if sel == 0xFF => Arg::Bytes(vec![b'k'; katamari::MAX_KEY_LEN + 1]),
        _ => Arg::Bytes(Vec::new()),
    }
}

fn val_arg(inp: &mut Input) -> Arg {
    let sel = inp.u8();
    match sel {
        0xFF => Arg::Bytes((0..5000u32).map(|i| (i % 251) as u8).collect()),
        0xFE => Arg::NullEmpty,
        0xFD => Arg::NullLen(4),
        _ => {
            let n = usize::from(sel % 24);
            let mut v = inp.bytes(n);
            v.resize(n, sel);
            Arg::Bytes(v)
        }
    }
}

/// A TTL: 0 (refused), short (the value may have expired by any later read) or long.
fn ttl_arg(inp: &mut Input) -> (u64, bool) {
    match inp.u8() {
        0 => (0, false),
        t @ 1..=127 => (u64::from(t % 20) + 1, true),
        _ => (3_600_000_000, false),
    }
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Known(Vec<u8>),
    /// Written with a long TTL: present, with an expiry time.
    Ttl(Vec<u8>),
    /// Written with a short TTL: present with this value, or expired.
    Maybe(Vec<u8>),
}

impl Val {
    fn bytes(&self) -> &[u8] {
        match self {
            Val::Known(v) | Val::Ttl(v) | Val::Maybe(v) => v,
        }
    }
}

/// Keyspace identity in the model: 0 is the default keyspace; each named keyspace gets
/// a new number each time it is created (a dropped and re-created name is another one).
type SpaceId = u64;
type Space = BTreeMap<Vec<u8>, Val>;

#[derive(Default)]
struct Model {
    spaces: BTreeMap<SpaceId, Space>,
    names: BTreeMap<Vec<u8>, SpaceId>,
    dropped: BTreeSet<SpaceId>,
    next_space: SpaceId,
    /// Commit counter; the sequence of each key's last committed write.
    seq: u64,
    last_write: BTreeMap<(SpaceId, Vec<u8>), u64>,
}

impl Model {
    fn new() -> Model {
        let mut m = Model {
            next_space: 1,
            ..Model::default()
        };
        m.spaces.insert(0, Space::new());
        m
    }
    fn alive(&self, s: SpaceId) -> bool {
        self.spaces.contains_key(&s)
    }
    /// Applies committed writes (all to live keyspaces) as one commit.
    fn commit(&mut self, writes: &[(SpaceId, Vec<u8>, Option<Val>)]) {
        self.seq += 1;
        for (s, k, v) in writes {
            let space = self.spaces.get_mut(s).expect("write to a live keyspace");
            match v {
                Some(v) => {
                    space.insert(k.clone(), v.clone());
                }
                None => {
                    space.remove(k);
                }
            }
            self.last_write.insert((*s, k.clone()), self.seq);
        }
    }
}

fn check_value(what: &str, got: Option<&[u8]>, want: Option<&Val>) {
    match (got, want) {
        (None, None) | (None, Some(Val::Maybe(_))) => {}
        (Some(g), Some(v)) if g == v.bytes() => {}
        _ => panic!("{what}: got {got:?}, model says {want:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------------------

struct DbH {
    ptr: *mut kat_db,
    gen: u32,
    closed: bool,
}

struct KsH {
    ptr: *mut kat_keyspace,
    space: SpaceId,
    gen: u32,
}

struct TxnH {
    ptr: *mut kat_txn,
    gen: u32,
    read_only: bool,
    serializable: bool,
    active: bool,
    snap: BTreeMap<SpaceId, Space>,
    snap_seq: u64,
    writes: BTreeMap<(SpaceId, Vec<u8>), Option<Val>>,
    /// A write went to a keyspace that was dropped (or of another database).
    bad_space: bool,
}

impl TxnH {
    fn view(&self, s: SpaceId, k: &[u8]) -> Option<Val> {
        match self.writes.get(&(s, k.to_vec())) {
            Some(w) => w.clone(),
            None => self.snap.get(&s).and_then(|sp| sp.get(k).cloned()),
        }
    }
    fn view_space(&self, s: SpaceId) -> Space {
        let mut sp = self.snap.get(&s).cloned().unwrap_or_default();
        for ((ws, k), v) in &self.writes {
            if *ws != s {
                continue;
            }
            match v {
                Some(v) => {
                    sp.insert(k.clone(), v.clone());
                }
                None => {
                    sp.remove(k);
                }
            }
        }
        sp
    }
}

#[derive(Clone, Debug)]
enum Cur {
    Start,
    On(usize),
    PastEnd,
    Seek(Vec<u8>),
}

struct ItH {
    ptr: *mut kat_iter,
    gen: u32,
    space: SpaceId,
    /// Entries in iteration order; `None` when the model cannot know them exactly.
    list: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    reverse: bool,
    cur: Cur,
}

impl ItH {
    fn next(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        let list = self.list.as_ref()?;
        let n = list.len();
        let to = match &self.cur {
            Cur::Start => 0,
            Cur::On(i) => i + 1,
            Cur::PastEnd => n,
            Cur::Seek(k) => list
                .iter()
                .position(|(x, _)| if self.reverse { x <= k } else { x >= k })
                .unwrap_or(n),
        };
        if to < n {
            self.cur = Cur::On(to);
            Some(list[to].clone())
        } else {
            self.cur = Cur::PastEnd;
            None
        }
    }
    fn prev(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        let list = self.list.as_ref()?;
        let n = list.len();
        match self.cur.clone() {
            Cur::On(i) if i > 0 => {
                self.cur = Cur::On(i - 1);
                Some(list[i - 1].clone())
            }
            Cur::PastEnd if n > 0 => {
                self.cur = Cur::On(n - 1);
                Some(list[n - 1].clone())
            }
            Cur::On(_) | Cur::PastEnd => {
                self.cur = Cur::Start;
                None
            }
            Cur::Start | Cur::Seek(_) => None,
        }
    }
}

struct BatchH {
    ptr: *mut kat_batch,
    /// (keyspace, its database generation, key, value or deletion).
    ops: Vec<(SpaceId, u32, Vec<u8>, Option<Val>)>,
}

// ---------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------

/// Calls `f` with an error out-parameter (or NULL), checks the error-object contract,
/// and returns the status.
fn call(
    use_err: bool,
    what: &str,
    f: impl FnOnce(*mut *mut kat_error) -> kat_status,
) -> kat_status {
    let mut err: *mut kat_error = null_mut();
    let st = f(if use_err { &mut err } else { null_mut() });
    check_status(st, what);
    if use_err {
        if st == KAT_OK || st == KAT_NOT_FOUND {
            assert!(err.is_null(), "{what}: error object on status {st}");
        } else {
            assert!(!err.is_null(), "{what}: no error object on status {st}");
            // SAFETY: `err` was just produced by the library.
            unsafe {
                assert_eq!(
                    kat_error_code(err),
                    st,
                    "{what}: error code differs from the status"
                );
                let m = kat_error_message(err);
                assert!(!m.is_null());
                let _ = CStr::from_ptr(m).to_bytes().len();
                kat_error_free(err);
            }
        }
    }
    st
}

fn check_status(st: kat_status, what: &str) {
    assert_ne!(st, KAT_PANIC, "{what}: the library panicked");
    assert!(
        (KAT_OK..=KAT_BUFFER_TOO_SMALL).contains(&st),
        "{what}: unknown status {st}"
    );
    // SAFETY: any code is allowed.
    let s = unsafe { CStr::from_ptr(kat_status_str(st)) };
    assert!(!s.to_bytes().is_empty());
}

/// `KAT_FUZZ_TRACE=1` prints every checked call (for debugging the model).
pub fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("KAT_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

fn expect(st: kat_status, allowed: &[kat_status], what: &str) {
    if trace() {
        eprintln!("{what}: {st}");
    }
    assert!(
        allowed.contains(&st),
        "{what}: status {st} ({}), expected one of {allowed:?}",
        // SAFETY: any code is allowed.
        unsafe { CStr::from_ptr(kat_status_str(st)) }.to_string_lossy()
    );
}

/// Copies a `kat_buf` out and frees it.
fn take_buf(b: &mut kat_buf) -> Vec<u8> {
    let v = if b.len == 0 {
        Vec::new()
    } else {
        assert!(!b.data.is_null(), "kat_buf with a length and no data");
        // SAFETY: the library filled `b` with `len` readable bytes.
        unsafe { std::slice::from_raw_parts(b.data, b.len) }.to_vec()
    };
    // SAFETY: `b` was filled by the library.
    unsafe { kat_buf_free(b) };
    assert!(
        b.data.is_null() && b.len == 0,
        "kat_buf_free did not zero the buffer"
    );
    v
}

/// Copies a view the library returned (valid until the next call on its iterator).
fn view(p: *const u8, len: usize) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    assert!(!p.is_null(), "view with a length and no data");
    // SAFETY: the library returned `len` readable bytes at `p`.
    unsafe { std::slice::from_raw_parts(p, len) }.to_vec()
}

fn empty_buf() -> kat_buf {
    kat_buf {
        data: null_mut(),
        len: 0,
    }
}

/// Where databases live: a fresh directory per process, on tmpfs when there is one.
fn base_dir() -> &'static PathBuf {
    static BASE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let root = std::env::var_os("KAT_FUZZ_TMP")
            .map(PathBuf::from)
            .or_else(|| {
                let shm = PathBuf::from("/dev/shm");
                shm.is_dir().then_some(shm)
            })
            .unwrap_or_else(std::env::temp_dir);
        root.join(format!("katamari-fuzz-{}", std::process::id()))
    })
}

/// What a keyspace call with an unacceptable name returns: the length rules are
/// checked by the engine, so on a closed database `KAT_CLOSED` comes first.
fn name_refusal(name: &Arg, live: bool) -> &'static [kat_status] {
    let reserved = matches!(name, Arg::Bytes(n) if n.first() == Some(&0));
    if live || reserved || name.invalid() {
        &[KAT_INVALID_ARGUMENT]
    } else {
        &[KAT_INVALID_ARGUMENT, KAT_CLOSED]
    }
}

fn cpath(p: &std::path::Path) -> CString {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

/// Operation codes (the first byte of each operation, modulo [`OPS`]).
pub mod op {
    pub const PUT: u8 = 0;
    pub const PUT_TTL: u8 = 1;
    pub const GET: u8 = 2;
    pub const GET_INTO: u8 = 3;
    pub const DELETE: u8 = 4;
    pub const CONTAINS: u8 = 5;
    pub const BATCH_NEW: u8 = 6;
    pub const BATCH_ADD: u8 = 7;
    pub const BATCH_COUNT: u8 = 8;
    pub const BATCH_WRITE: u8 = 9;
    pub const BATCH_FREE: u8 = 10;
    pub const TXN_BEGIN: u8 = 11;
    pub const TXN_WRITE: u8 = 12;
    pub const TXN_READ: u8 = 13;
    pub const TXN_COMMIT: u8 = 14;
    pub const TXN_ABORT: u8 = 15;
    pub const TXN_FREE: u8 = 16;
    pub const ITER_NEW: u8 = 17;
    pub const ITER_NEXT: u8 = 18;
    pub const ITER_PREV: u8 = 19;
    pub const ITER_SEEK: u8 = 20;
    pub const ITER_BATCH: u8 = 21;
    pub const ITER_FREE: u8 = 22;
    pub const KS_OPEN: u8 = 23;
    pub const KS_WRITE: u8 = 24;
    pub const KS_READ: u8 = 25;
    pub const KS_DROP: u8 = 26;
    pub const KS_LIST: u8 = 27;
    pub const KS_FREE: u8 = 28;
    pub const CLOSE: u8 = 29;
    pub const FREE: u8 = 30;
    pub const OPEN: u8 = 31;
    pub const SYNC_STATS: u8 = 32;
    pub const MERGE: u8 = 33;
    pub const VERIFY: u8 = 34;
    pub const BACKUP: u8 = 35;
    pub const MISC: u8 = 36;
    pub const EXPIRES_AT: u8 = 37;
    pub const OPS: u8 = 38;
}

struct Run {
    dir: PathBuf,
    model: Model,
    db: Option<DbH>,
    gen: u32,
    /// Closed database handles not yet freed.
    zombies: Vec<DbH>,
    kss: Vec<KsH>,
    txns: Vec<TxnH>,
    iters: Vec<ItH>,
    batches: Vec<BatchH>,
    backups: u32,
}

const MAX_HANDLES: usize = 4;

/// Flags byte of an operation: bit 0 pass an error out-parameter, bit 1 NULL handle,
/// bit 2 NULL out-parameter; bits 3..: a handle selector.
struct Flags {
    err: bool,
    null_handle: bool,
    null_out: bool,
    sel: usize,
}

fn flags(inp: &mut Input) -> Flags {
    let f = inp.u8();
    // NULLs are rare enough that most operations reach the engine.
    Flags {
        err: f & 1 != 0,
        null_handle: f & 0x0E == 0x0E,
        null_out: f & 0x0E == 0x0C,
        sel: usize::from(f >> 4),
    }
}

impl Run {
    fn db_live(&self) -> bool {
        self.db.as_ref().is_some_and(|d| !d.closed)
    }
    /// Whether a child handle made under database generation `gen` works.
    fn live_gen(&self, gen: u32) -> bool {
        self.db_live() && self.db.as_ref().is_some_and(|d| d.gen == gen)
    }
    fn db_ptr(&self, f: &Flags) -> *mut kat_db {
        if f.null_handle {
            return null_mut();
        }
        self.db.as_ref().map_or(null_mut(), |d| d.ptr)
    }

    fn open(&mut self, inp: &mut Input) {
        let sel = inp.u8();
        let f = flags(inp);
        let mut opts: *mut kat_options = null_mut();
        if sel & 1 == 0 {
            // SAFETY: valid out-pointer.
            unsafe {
                expect(kat_options_new(&mut opts), &[KAT_OK], "options_new");
                let (mode, ms) = match (sel >> 1) & 3 {
                    0 | 1 => (KAT_SYNC_NEVER, 0),
                    2 => (KAT_SYNC_INTERVAL, 1),
                    _ => (KAT_SYNC_ALWAYS, 0),
                };
                expect(kat_options_set_sync(opts, mode, ms), &[KAT_OK], "set_sync");
                expect(
                    kat_options_set_sync(opts, 9, 0),
                    &[KAT_INVALID_ARGUMENT],
                    "set_sync bad",
                );
                expect(
                    kat_options_set_sync(opts, KAT_SYNC_INTERVAL, 0),
                    &[KAT_INVALID_ARGUMENT],
                    "set_sync 0 ms",
                );
                let seg = 1024u64 << ((sel >> 3) & 7);
                expect(
                    kat_options_set_segment_size(opts, seg),
                    &[KAT_OK],
                    "segment size",
                );
                expect(
                    kat_options_set_segment_size(opts, 1023),
                    &[KAT_INVALID_ARGUMENT],
                    "small segment",
                );
                let ratio = if sel & 0x40 != 0 { 0.3 } else { 0.0 };
                expect(
                    kat_options_set_auto_merge(opts, ratio, 0),
                    &[KAT_OK],
                    "auto merge",
                );
                expect(
                    kat_options_set_auto_merge(opts, f64::NAN, 0),
                    &[KAT_INVALID_ARGUMENT],
                    "auto merge NaN",
                );
                expect(
                    kat_options_set_auto_merge(opts, 1.5, 0),
                    &[KAT_INVALID_ARGUMENT],
                    "auto merge 1.5",
                );
                expect(
                    kat_options_set_salvage(opts, sel & 0x80 != 0),
                    &[KAT_OK],
                    "salvage",
                );
                expect(
                    kat_options_set_create_if_missing(opts, true),
                    &[KAT_OK],
                    "create",
                );
            }
        }
        let path = cpath(&self.dir);
        let mut out: *mut kat_db = null_mut();
        let outp: *mut *mut kat_db = if f.null_out { null_mut() } else { &mut out };
        let pathp: *const c_char = if f.null_handle { null() } else { path.as_ptr() };
        // SAFETY: valid or NULL arguments.
        let st = call(f.err, "db_open", |e| unsafe {
            kat_db_open(pathp, opts, outp, e)
        });
        // SAFETY: NULL or from options_new.
        unsafe { kat_options_free(opts) };
        if f.null_out || f.null_handle {
            expect(st, &[KAT_INVALID_ARGUMENT], "db_open NULL");
            return;
        }
        if self.db_live() {
            expect(st, &[KAT_LOCKED], "second open");
            return;
        }
        expect(st, &[KAT_OK], "db_open");
        assert!(!out.is_null());
        if let Some(old) = self.db.take() {
            self.zombies.push(old);
        }
        self.gen += 1;
        self.db = Some(DbH {
            ptr: out,
            gen: self.gen,
            closed: false,
        });
        // Short TTLs may have run out while closed; the model already allows that.
        self.check_all_keys("after open");
    }

    /// Reads every key the model knows in the default keyspace and compares.
    fn check_all_keys(&mut self, what: &str) {
        let Some(db) = self.db.as_ref().filter(|d| !d.closed).map(|d| d.ptr) else {
            return;
        };
        let space = self.model.spaces[&0].clone();
        for (k, v) in &space {
            let mut b = empty_buf();
            // SAFETY: live handle, valid key and out.
            let st = call(true, what, |e| unsafe {
                kat_db_get(db, k.as_ptr(), k.len(), &mut b, e)
            });
            let got = (st == KAT_OK).then(|| take_buf(&mut b));
            expect(st, &[KAT_OK, KAT_NOT_FOUND], what);
            check_value(what, got.as_deref(), Some(v));
        }
    }

    fn kv_op(&mut self, code: u8, inp: &mut Input) {
        let f = flags(inp);
        let key = key_arg(inp);
        let db = self.db_ptr(&f);
        let (kp, kl) = key.ptr();
        let live = self.db_live();
        let huge = kl > katamari::MAX_KEY_LEN;
        match code {
            op::PUT | op::PUT_TTL => {
                let val = val_arg(inp);
                let (ttl, short) = if code == op::PUT_TTL {
                    ttl_arg(inp)
                } else {
                    (1, false)
                };
                let (vp, vl) = val.ptr();
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "put", |e| unsafe {
                    if code == op::PUT {
                        kat_db_put(db, kp, kl, vp, vl, e)
                    } else {
                        kat_db_put_ttl(db, kp, kl, vp, vl, ttl, e)
                    }
                });
                if db.is_null() || key.invalid() || val.invalid() || ttl == 0 {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "put invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "put closed");
                }
                if huge {
                    return expect(st, &[KAT_TOO_LARGE], "put huge");
                }
                expect(st, &[KAT_OK], "put");
                let v = match (code == op::PUT_TTL, short) {
                    (true, true) => Val::Maybe(val.value()),
                    (true, false) => Val::Ttl(val.value()),
                    _ => Val::Known(val.value()),
                };
                self.model.commit(&[(0, key.value(), Some(v))]);
            }
            op::DELETE => {
                // SAFETY: as above.
                let st = call(f.err, "delete", |e| unsafe { kat_db_delete(db, kp, kl, e) });
                if db.is_null() || key.invalid() {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "delete invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "delete closed");
                }
                if huge {
                    return expect(st, &[KAT_TOO_LARGE], "delete huge");
                }
                expect(st, &[KAT_OK], "delete");
                self.model.commit(&[(0, key.value(), None)]);
            }
            op::GET => {
                let mut b = empty_buf();
                let outp: *mut kat_buf = if f.null_out { null_mut() } else { &mut b };
                // SAFETY: as above.
                let st = call(f.err, "get", |e| unsafe { kat_db_get(db, kp, kl, outp, e) });
                if db.is_null() || key.invalid() || f.null_out {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "get invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "get closed");
                }
                expect(st, &[KAT_OK, KAT_NOT_FOUND], "get");
                let got = (st == KAT_OK).then(|| take_buf(&mut b));
                check_value(
                    "get",
                    got.as_deref(),
                    self.model.spaces[&0].get(&key.value()),
                );
            }
            op::GET_INTO => {
                let cap = usize::from(inp.u8() % 32);
                let mut buf = vec![0xA5u8; cap];
                let null_buf = inp.u8() & 7 == 0;
                let bufp: *mut u8 = if null_buf {
                    null_mut()
                } else {
                    buf.as_mut_ptr()
                };
                let mut vlen = usize::MAX;
                let vlenp: *mut usize = if f.null_out { null_mut() } else { &mut vlen };
                // SAFETY: as above; `buf` holds `cap` bytes.
                let st = call(f.err, "get_into", |e| unsafe {
                    kat_db_get_into(db, kp, kl, bufp, cap, vlenp, e)
                });
                if db.is_null() || key.invalid() || f.null_out || (null_buf && cap > 0) {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "get_into invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "get_into closed");
                }
                let want = self.model.spaces[&0].get(&key.value()).cloned();
                match st {
                    KAT_OK => {
                        assert!(
                            vlen <= cap,
                            "get_into: OK with a value longer than the buffer"
                        );
                        check_value("get_into", Some(&buf[..vlen]), want.as_ref());
                        assert!(
                            buf[vlen..].iter().all(|&b| b == 0xA5),
                            "get_into wrote past the value"
                        );
                    }
                    KAT_BUFFER_TOO_SMALL => {
                        assert!(vlen > cap, "BUFFER_TOO_SMALL with a value that fits");
                        let w = want.expect("BUFFER_TOO_SMALL for a missing key");
                        assert_eq!(vlen, w.bytes().len(), "get_into reported length");
                        assert!(
                            buf.iter().all(|&b| b == 0xA5),
                            "get_into touched a small buffer"
                        );
                    }
                    KAT_NOT_FOUND => check_value("get_into", None, want.as_ref()),
                    _ => expect(st, &[], "get_into"),
                }
            }
            op::CONTAINS => {
                let mut found = false;
                let fp: *mut bool = if f.null_out { null_mut() } else { &mut found };
                // SAFETY: as above.
                let st = call(f.err, "contains", |e| unsafe {
                    kat_db_contains(db, kp, kl, fp, e)
                });
                if db.is_null() || key.invalid() || f.null_out {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "contains invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "contains closed");
                }
                expect(st, &[KAT_OK], "contains");
                match self.model.spaces[&0].get(&key.value()) {
                    Some(Val::Known(_) | Val::Ttl(_)) => assert!(found, "contains: key missing"),
                    None => assert!(!found, "contains: absent key found"),
                    Some(Val::Maybe(_)) => {}
                }
            }
            _ => unreachable!(),
        }
    }

    fn batch_op(&mut self, code: u8, inp: &mut Input) {
        let f = flags(inp);
        match code {
            op::BATCH_NEW => {
                if self.batches.len() >= MAX_HANDLES {
                    return;
                }
                let mut out: *mut kat_batch = null_mut();
                let outp: *mut *mut kat_batch = if f.null_out { null_mut() } else { &mut out };
                // SAFETY: valid or NULL out.
                let st = unsafe { kat_batch_new(outp) };
                check_status(st, "batch_new");
                if f.null_out {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "batch_new NULL");
                }
                expect(st, &[KAT_OK], "batch_new");
                self.batches.push(BatchH {
                    ptr: out,
                    ops: Vec::new(),
                });
            }
            op::BATCH_ADD => {
                let kind = inp.u8();
                let key = key_arg(inp);
                let val = val_arg(inp);
                let (ttl, short) = ttl_arg(inp);
                let ks_sel = inp.u8();
                let n = self.batches.len();
                let b = if f.null_handle || n == 0 {
                    null_mut()
                } else {
                    self.batches[f.sel % n].ptr
                };
                let ks = if kind & 4 != 0 && !self.kss.is_empty() {
                    let k = &self.kss[usize::from(ks_sel) % self.kss.len()];
                    Some((k.ptr, k.space, k.gen))
                } else {
                    None
                };
                let (kp, kl) = key.ptr();
                let (vp, vl) = val.ptr();
                let is_ttl = kind & 3 == 1;
                let is_del = kind & 3 == 2;
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "batch_add", |e| unsafe {
                    match (ks, kind & 3) {
                        (None, 0) | (None, 3) => kat_batch_put(b, kp, kl, vp, vl, e),
                        (None, 1) => kat_batch_put_ttl(b, kp, kl, vp, vl, ttl, e),
                        (None, _) => kat_batch_delete(b, kp, kl, e),
                        (Some((k, ..)), 0) | (Some((k, ..)), 3) => {
                            kat_batch_put_in(b, k, kp, kl, vp, vl, e)
                        }
                        (Some((k, ..)), 1) => kat_batch_put_ttl_in(b, k, kp, kl, vp, vl, ttl, e),
                        (Some((k, ..)), _) => kat_batch_delete_in(b, k, kp, kl, e),
                    }
                });
                let bad_val = !is_del && val.invalid();
                if b.is_null() || key.invalid() || bad_val || (is_ttl && ttl == 0) {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "batch_add invalid");
                }
                if kl > katamari::MAX_KEY_LEN {
                    return expect(st, &[KAT_TOO_LARGE], "batch_add huge");
                }
                expect(st, &[KAT_OK], "batch_add");
                let v = if is_del {
                    None
                } else if is_ttl && short {
                    Some(Val::Maybe(val.value()))
                } else if is_ttl {
                    Some(Val::Ttl(val.value()))
                } else {
                    Some(Val::Known(val.value()))
                };
                let (space, gen) = ks.map_or((0, 0), |(_, s, g)| (s, g));
                self.batches[f.sel % n]
                    .ops
                    .push((space, gen, key.value(), v));
            }
            op::BATCH_COUNT => {
                let n = self.batches.len();
                let b = if f.null_handle || n == 0 {
                    null_mut()
                } else {
                    self.batches[f.sel % n].ptr
                };
                let clear = inp.u8() & 1 != 0;
                let mut count = usize::MAX;
                let cp: *mut usize = if f.null_out { null_mut() } else { &mut count };
                // SAFETY: valid or NULL arguments.
                let st = unsafe { kat_batch_count(b, cp) };
                check_status(st, "batch_count");
                if b.is_null() || f.null_out {
                    expect(st, &[KAT_INVALID_ARGUMENT], "batch_count invalid");
                } else {
                    expect(st, &[KAT_OK], "batch_count");
                    assert_eq!(count, self.batches[f.sel % n].ops.len(), "batch_count");
                }
                if clear {
                    // SAFETY: valid or NULL.
                    let st = unsafe { kat_batch_clear(b) };
                    check_status(st, "batch_clear");
                    if b.is_null() {
                        expect(st, &[KAT_INVALID_ARGUMENT], "batch_clear NULL");
                    } else {
                        expect(st, &[KAT_OK], "batch_clear");
                        self.batches[f.sel % n].ops.clear();
                    }
                }
            }
            op::BATCH_WRITE => {
                let n = self.batches.len();
                let b = if n == 0 || inp.u8() == 0xFF {
                    null()
                } else {
                    self.batches[f.sel % n].ptr as *const _
                };
                let db = self.db_ptr(&f);
                // SAFETY: valid or NULL handles.
                let st = call(f.err, "db_write", |e| unsafe { kat_db_write(db, b, e) });
                if db.is_null() || b.is_null() {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "db_write invalid");
                }
                let ops = &self.batches[f.sel % n].ops;
                let cur = self.db.as_ref().map(|d| d.gen);
                let foreign = ops.iter().any(|(s, g, ..)| *s != 0 && Some(*g) != cur);
                if !self.db_live() {
                    return expect(st, &[KAT_CLOSED, KAT_INVALID_ARGUMENT], "db_write closed");
                }
                if foreign || ops.iter().any(|(s, ..)| !self.model.alive(*s)) {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "db_write dropped keyspace");
                }
                expect(st, &[KAT_OK], "db_write");
                if !ops.is_empty() {
                    let w: Vec<_> = ops
                        .iter()
                        .map(|(s, _, k, v)| (*s, k.clone(), v.clone()))
                        .collect();
                    self.model.commit(&w);
                }
            }
            op::BATCH_FREE => {
                if self.batches.is_empty() {
                    // SAFETY: NULL is allowed.
                    unsafe { kat_batch_free(null_mut()) };
                    return;
                }
                let n = self.batches.len();
                let b = self.batches.remove(f.sel % n);
                // SAFETY: from kat_batch_new, not yet freed.
                unsafe { kat_batch_free(b.ptr) };
            }
            _ => unreachable!(),
        }
    }

    fn txn_op(&mut self, code: u8, inp: &mut Input) {
        let f = flags(inp);
        if code == op::TXN_BEGIN {
            if self.txns.len() >= MAX_HANDLES {
                return;
            }
            let fl = match inp.u8() % 8 {
                0..=3 => 0,
                4 => KAT_TXN_READ_ONLY,
                5 => KAT_TXN_SERIALIZABLE,
                6 => KAT_TXN_READ_ONLY | KAT_TXN_SERIALIZABLE,
                _ => 0x80,
            };
            let db = self.db_ptr(&f);
            let mut out: *mut kat_txn = null_mut();
            let outp: *mut *mut kat_txn = if f.null_out { null_mut() } else { &mut out };
            // SAFETY: valid or NULL arguments.
            let st = call(f.err, "txn_begin", |e| unsafe {
                kat_txn_begin(db, fl, outp, e)
            });
            if db.is_null() || f.null_out || fl == 0x80 {
                return expect(st, &[KAT_INVALID_ARGUMENT], "txn_begin invalid");
            }
            if !self.db_live() {
                return expect(st, &[KAT_CLOSED], "txn_begin closed");
            }
            expect(st, &[KAT_OK], "txn_begin");
            self.txns.push(TxnH {
                ptr: out,
                gen: self.gen,
                read_only: fl & KAT_TXN_READ_ONLY != 0,
                serializable: fl & KAT_TXN_SERIALIZABLE != 0,
                active: true,
                snap: self.model.spaces.clone(),
                snap_seq: self.model.seq,
                writes: BTreeMap::new(),
                bad_space: false,
            });
            return;
        }
        if code == op::TXN_FREE {
            if self.txns.is_empty() {
                // SAFETY: NULL is allowed.
                unsafe { kat_txn_free(null_mut()) };
                return;
            }
            let n = self.txns.len();
            let t = self.txns.remove(f.sel % n);
            // SAFETY: from kat_txn_begin, not yet freed.
            unsafe { kat_txn_free(t.ptr) };
            return;
        }
        let n = self.txns.len();
        let idx = f.sel % n.max(1);
        let tp = if f.null_handle || n == 0 {
            null_mut()
        } else {
            self.txns[idx].ptr
        };
        let (live, active, ro, gen) = match self.txns.get(idx) {
            Some(t) => (self.live_gen(t.gen), t.active, t.read_only, t.gen),
            None => (false, false, false, 0),
        };
        match code {
            op::TXN_WRITE => {
                let kind = inp.u8();
                let key = key_arg(inp);
                let val = val_arg(inp);
                let (ttl, short) = ttl_arg(inp);
                let ks_sel = inp.u8();
                let ks = if kind & 4 != 0 && !self.kss.is_empty() {
                    let k = &self.kss[usize::from(ks_sel) % self.kss.len()];
                    Some((k.ptr as *const kat_keyspace, k.space, k.gen))
                } else {
                    None
                };
                let (kp, kl) = key.ptr();
                let (vp, vl) = val.ptr();
                let is_ttl = kind & 3 == 1;
                let is_del = kind & 3 == 2;
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "txn_write", |e| unsafe {
                    match (ks, kind & 3) {
                        (None, 0) | (None, 3) => kat_txn_put(tp, kp, kl, vp, vl, e),
                        (None, 1) => kat_txn_put_ttl(tp, kp, kl, vp, vl, ttl, e),
                        (None, _) => kat_txn_delete(tp, kp, kl, e),
                        (Some((k, ..)), 0) | (Some((k, ..)), 3) => {
                            kat_txn_put_in(tp, k, kp, kl, vp, vl, e)
                        }
                        (Some((k, ..)), 1) => kat_txn_put_ttl_in(tp, k, kp, kl, vp, vl, ttl, e),
                        (Some((k, ..)), _) => kat_txn_delete_in(tp, k, kp, kl, e),
                    }
                });
                let bad_val = !is_del && val.invalid();
                if tp.is_null() || key.invalid() || bad_val || (is_ttl && ttl == 0) {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "txn_write invalid");
                }
                if let Some((_, _, kg)) = ks {
                    if kg != gen {
                        return expect(st, &[KAT_INVALID_ARGUMENT], "txn_write foreign keyspace");
                    }
                }
                if !active {
                    // A TTL is turned into an expiry (reading the engine clock) before
                    // the transaction's state is looked at.
                    let allowed: &[kat_status] = if is_ttl && !live {
                        &[KAT_INVALID_ARGUMENT, KAT_CLOSED]
                    } else {
                        &[KAT_INVALID_ARGUMENT]
                    };
                    return expect(st, allowed, "txn_write ended");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "txn_write closed");
                }
                if ro {
                    return expect(st, &[KAT_READ_ONLY], "txn_write read-only");
                }
                if kl > katamari::MAX_KEY_LEN {
                    return expect(st, &[KAT_TOO_LARGE], "txn_write huge");
                }
                expect(st, &[KAT_OK], "txn_write");
                let v = if is_del {
                    None
                } else if is_ttl && short {
                    Some(Val::Maybe(val.value()))
                } else if is_ttl {
                    Some(Val::Ttl(val.value()))
                } else {
                    Some(Val::Known(val.value()))
                };
                let space = ks.map_or(0, |(_, s, _)| s);
                let alive = self.model.alive(space);
                let t = &mut self.txns[idx];
                if !alive {
                    t.bad_space = true;
                }
                t.writes.insert((space, key.value()), v);
            }
            op::TXN_READ => {
                let kind = inp.u8();
                let key = key_arg(inp);
                let ks_sel = inp.u8();
                let ks = if kind & 4 != 0 && !self.kss.is_empty() {
                    let k = &self.kss[usize::from(ks_sel) % self.kss.len()];
                    Some((k.ptr as *const kat_keyspace, k.space, k.gen))
                } else {
                    None
                };
                let (kp, kl) = key.ptr();
                let contains = kind & 1 != 0;
                let mut b = empty_buf();
                let mut found = false;
                let bp: *mut kat_buf = if f.null_out { null_mut() } else { &mut b };
                let fp: *mut bool = if f.null_out { null_mut() } else { &mut found };
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "txn_read", |e| unsafe {
                    match (ks, contains) {
                        (None, false) => kat_txn_get(tp, kp, kl, bp, e),
                        (None, true) => kat_txn_contains(tp, kp, kl, fp, e),
                        (Some((k, ..)), false) => kat_txn_get_in(tp, k, kp, kl, bp, e),
                        (Some((k, ..)), true) => kat_txn_contains_in(tp, k, kp, kl, fp, e),
                    }
                });
                if tp.is_null() || key.invalid() || f.null_out {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "txn_read invalid");
                }
                if let Some((_, _, kg)) = ks {
                    if kg != gen {
                        return expect(st, &[KAT_INVALID_ARGUMENT], "txn_read foreign keyspace");
                    }
                }
                if !active {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "txn_read ended");
                }
                let got = (st == KAT_OK && !contains).then(|| take_buf(&mut b));
                let space = ks.map_or(0, |(_, s, _)| s);
                if !live || self.model.dropped.contains(&space) {
                    // Own writes answer without the engine; everything else is CLOSED,
                    // and a dropped keyspace's versions are gone for every snapshot.
                    return expect(st, &[KAT_OK, KAT_NOT_FOUND, KAT_CLOSED], "txn_read closed");
                }
                let want = self.txns[idx].view(space, &key.value());
                if contains {
                    expect(st, &[KAT_OK], "txn_contains");
                    match want {
                        Some(Val::Known(_) | Val::Ttl(_)) => {
                            assert!(found, "txn_contains: key missing")
                        }
                        None => assert!(!found, "txn_contains: absent key found"),
                        Some(Val::Maybe(_)) => {}
                    }
                } else {
                    expect(st, &[KAT_OK, KAT_NOT_FOUND], "txn_get");
                    check_value("txn_get", got.as_deref(), want.as_ref());
                }
            }
            op::TXN_COMMIT | op::TXN_ABORT => {
                let abort = code == op::TXN_ABORT;
                // SAFETY: valid or NULL handle.
                let st = call(f.err, "txn_end", |e| unsafe {
                    if abort {
                        kat_txn_abort(tp, e)
                    } else {
                        kat_txn_commit(tp, e)
                    }
                });
                if tp.is_null() {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "txn_end NULL");
                }
                let t = &mut self.txns[idx];
                let was_active = t.active;
                t.active = false;
                if abort {
                    return expect(st, &[KAT_OK], "txn_abort");
                }
                if !was_active {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "commit of an ended txn");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "commit closed");
                }
                if t.writes.is_empty() {
                    return expect(st, &[KAT_OK], "empty commit");
                }
                let dead = t.bad_space || t.writes.keys().any(|(s, _)| !self.model.alive(*s));
                if dead {
                    return expect(
                        st,
                        &[KAT_INVALID_ARGUMENT],
                        "commit into a dropped keyspace",
                    );
                }
                let conflict = t.writes.keys().any(|k| {
                    self.model
                        .last_write
                        .get(k)
                        .is_some_and(|&s| s > t.snap_seq)
                });
                let maybe = t.serializable && self.model.seq > t.snap_seq;
                if conflict {
                    expect(st, &[KAT_CONFLICT], "commit with a write-write conflict");
                } else if maybe {
                    expect(st, &[KAT_OK, KAT_CONFLICT], "serializable commit");
                } else {
                    expect(st, &[KAT_OK], "commit");
                }
                if st == KAT_OK {
                    let w: Vec<_> = t
                        .writes
                        .iter()
                        .map(|((s, k), v)| (*s, k.clone(), v.clone()))
                        .collect();
                    self.model.commit(&w);
                }
            }
            _ => unreachable!(),
        }
    }

    fn iter_opts(inp: &mut Input) -> (kat_iter_opts, Vec<Vec<u8>>, bool, u32) {
        let sel = inp.u8();
        let mut keep = Vec::new();
        let mut invalid = false;
        let mut bound = |on: bool, inp: &mut Input| -> (*const u8, usize) {
            if !on {
                return (null(), 0);
            }
            let b = inp.u8();
            if b == 0xFF {
                invalid = true;
                return (null(), 2);
            }
            let v = if b & 0x80 != 0 {
                KEYS[usize::from(b % 8)].to_vec()
            } else {
                inp.bytes(usize::from(b % 3))
            };
            keep.push(v);
            let v = keep.last().unwrap();
            (v.as_ptr(), v.len())
        };
        let (prefix, prefix_len) = bound(sel & 1 != 0, inp);
        let (start, start_len) = bound(sel & 2 != 0, inp);
        let (end, end_len) = bound(sel & 4 != 0, inp);
        let flags = match (sel >> 3) & 7 {
            0..=2 => 0,
            3..=5 => KAT_ITER_REVERSE,
            _ => 2,
        };
        let o = kat_iter_opts {
            prefix,
            prefix_len,
            start,
            start_len,
            end,
            end_len,
            flags,
        };
        (o, keep, invalid || flags == 2, u32::from(sel))
    }

    fn filtered(space: &Space, o: &kat_iter_opts) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let get = |p: *const u8, n: usize| -> Option<Vec<u8>> {
            // SAFETY: the bounds point into vectors this run keeps alive.
            (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, n) }.to_vec())
        };
        let (prefix, start, end) = (
            get(o.prefix, o.prefix_len),
            get(o.start, o.start_len),
            get(o.end, o.end_len),
        );
        let mut out = Vec::new();
        for (k, v) in space {
            if prefix.as_ref().is_some_and(|p| !k.starts_with(p))
                || start.as_ref().is_some_and(|s| k < s)
                || end.as_ref().is_some_and(|e| k >= e)
            {
                continue;
            }
            match v {
                Val::Known(v) | Val::Ttl(v) => out.push((k.clone(), v.clone())),
                Val::Maybe(_) => return None,
            }
        }
        if o.flags & KAT_ITER_REVERSE != 0 {
            out.reverse();
        }
        Some(out)
    }

    fn iter_op(&mut self, code: u8, inp: &mut Input) {
        let f = flags(inp);
        if code == op::ITER_NEW {
            if self.iters.len() >= MAX_HANDLES {
                return;
            }
            let src = inp.u8() % 4;
            let (o, _keep, invalid, osel) = Run::iter_opts(inp);
            let null_opts = osel & 0xC0 == 0xC0;
            let op_: *const kat_iter_opts = if null_opts { null() } else { &o };
            let mut out: *mut kat_iter = null_mut();
            let outp: *mut *mut kat_iter = if f.null_out { null_mut() } else { &mut out };
            let ks = (!self.kss.is_empty()).then(|| {
                let k = &self.kss[f.sel % self.kss.len()];
                (k.ptr, k.space, k.gen)
            });
            let tx = (!self.txns.is_empty()).then(|| f.sel % self.txns.len());
            let (st, space, gen, handle_null, list_src): (
                kat_status,
                SpaceId,
                u32,
                bool,
                Option<Space>,
            );
            match (src, ks, tx) {
                (1, Some((kp, s, g)), _) => {
                    let kp = if f.null_handle { null_mut() } else { kp };
                    // SAFETY: valid or NULL arguments.
                    st = call(f.err, "ks_iter_new", |e| unsafe {
                        kat_keyspace_iter_new(kp, op_, outp, e)
                    });
                    (space, gen, handle_null) = (s, g, kp.is_null());
                    list_src = self.model.spaces.get(&s).cloned();
                }
                (2, _, Some(t)) | (3, None, Some(t)) => {
                    let tp = if f.null_handle {
                        null_mut()
                    } else {
                        self.txns[t].ptr
                    };
                    // SAFETY: valid or NULL arguments.
                    st = call(f.err, "txn_iter_new", |e| unsafe {
                        kat_txn_iter_new(tp, op_, outp, e)
                    });
                    let th = &self.txns[t];
                    (space, gen, handle_null) = (0, th.gen, tp.is_null());
                    list_src = th.active.then(|| th.view_space(0));
                }
                (3, Some((kp, s, g)), Some(t)) => {
                    let tp = if f.null_handle {
                        null_mut()
                    } else {
                        self.txns[t].ptr
                    };
                    // SAFETY: valid or NULL arguments.
                    st = call(f.err, "txn_iter_new_in", |e| unsafe {
                        kat_txn_iter_new_in(tp, kp, op_, outp, e)
                    });
                    let th = &self.txns[t];
                    (space, gen, handle_null) = (s, th.gen, tp.is_null());
                    if g != th.gen && !tp.is_null() && !f.null_out && !invalid {
                        return expect(
                            st,
                            &[KAT_INVALID_ARGUMENT],
                            "txn_iter_new_in foreign keyspace",
                        );
                    }
                    list_src = th.active.then(|| th.view_space(s));
                }
                _ => {
                    let db = self.db_ptr(&f);
                    // SAFETY: valid or NULL arguments.
                    st = call(f.err, "iter_new", |e| unsafe {
                        kat_iter_new(db, op_, outp, e)
                    });
                    (space, gen, handle_null) = (0, self.gen, db.is_null());
                    list_src = self.model.spaces.get(&0).cloned();
                }
            }
            if handle_null || f.null_out || (invalid && !null_opts) {
                return expect(st, &[KAT_INVALID_ARGUMENT], "iter_new invalid");
            }
            let txn_ended = matches!(src, 2 | 3) && tx.is_some_and(|t| !self.txns[t].active);
            if txn_ended {
                return expect(st, &[KAT_INVALID_ARGUMENT], "iter_new on an ended txn");
            }
            if !self.live_gen(gen) {
                return expect(st, &[KAT_CLOSED], "iter_new closed");
            }
            if !self.model.alive(space) {
                // A dropped keyspace: refused, or (through a transaction) empty.
                expect(
                    st,
                    &[KAT_OK, KAT_INVALID_ARGUMENT],
                    "iter_new dropped keyspace",
                );
                if st != KAT_OK {
                    return;
                }
            } else {
                expect(st, &[KAT_OK], "iter_new");
            }
            let zero = kat_iter_opts {
                prefix: null(),
                prefix_len: 0,
                start: null(),
                start_len: 0,
                end: null(),
                end_len: 0,
                flags: 0,
            };
            let eff = if null_opts { &zero } else { &o };
            let list = list_src
                .filter(|_| self.model.alive(space))
                .and_then(|s| Run::filtered(&s, eff));
            self.iters.push(ItH {
                ptr: out,
                gen,
                space,
                list,
                reverse: eff.flags & KAT_ITER_REVERSE != 0,
                cur: Cur::Start,
            });
            return;
        }
        if code == op::ITER_FREE {
            if self.iters.is_empty() {
                // SAFETY: NULL is allowed.
                unsafe { kat_iter_free(null_mut()) };
                return;
            }
            let n = self.iters.len();
            let it = self.iters.remove(f.sel % n);
            // SAFETY: from an iter_new, not yet freed.
            unsafe { kat_iter_free(it.ptr) };
            return;
        }
        let n = self.iters.len();
        let idx = f.sel % n.max(1);
        let ip = if f.null_handle || n == 0 {
            null_mut()
        } else {
            self.iters[idx].ptr
        };
        let live = self.iters.get(idx).is_some_and(|i| self.live_gen(i.gen));
        if let Some(it) = self.iters.get_mut(idx) {
            if self.model.dropped.contains(&it.space) {
                it.list = None;
            }
        }
        match code {
            op::ITER_NEXT | op::ITER_PREV => {
                let (mut k, mut kl, mut v, mut vl) = (null::<u8>(), 0usize, null::<u8>(), 0usize);
                let skip_val = inp.u8() & 3 == 0;
                let bad_views = inp.u8() == 0xFF;
                let kp: *mut *const u8 = if f.null_out { null_mut() } else { &mut k };
                let vp: *mut *const u8 = if skip_val { null_mut() } else { &mut v };
                let vlp: *mut usize = if skip_val != bad_views {
                    null_mut()
                } else {
                    &mut vl
                };
                let prev = code == op::ITER_PREV;
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "iter_step", |e| unsafe {
                    if prev {
                        kat_iter_prev(ip, kp, &mut kl, vp, vlp, e)
                    } else {
                        kat_iter_next(ip, kp, &mut kl, vp, vlp, e)
                    }
                });
                if ip.is_null() || f.null_out || bad_views {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "iter_step invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "iter_step closed");
                }
                expect(st, &[KAT_OK, KAT_NOT_FOUND], "iter_step");
                let it = &mut self.iters[idx];
                let got = (st == KAT_OK)
                    .then(|| (view(k, kl), if skip_val { None } else { Some(view(v, vl)) }));
                if it.list.is_none() {
                    return;
                }
                let want = if prev { it.prev() } else { it.next() };
                match (got, want) {
                    (None, None) => {}
                    (Some((gk, gv)), Some((wk, wv))) => {
                        assert_eq!(gk, wk, "iterator key ({:?})", it.cur);
                        if let Some(gv) = gv {
                            assert_eq!(gv, wv, "iterator value");
                        }
                    }
                    (g, w) => panic!(
                        "iterator {}: got {g:?}, model says {w:?}",
                        if prev { "prev" } else { "next" }
                    ),
                }
            }
            op::ITER_SEEK => {
                let key = key_arg(inp);
                let (kp, kl) = key.ptr();
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "iter_seek", |e| unsafe {
                    kat_iter_seek(ip, kp, kl, e)
                });
                if ip.is_null() {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "iter_seek NULL");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED, KAT_INVALID_ARGUMENT], "iter_seek closed");
                }
                if key.invalid() {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "iter_seek invalid");
                }
                expect(st, &[KAT_OK], "iter_seek");
                self.iters[idx].cur = Cur::Seek(key.value());
            }
            op::ITER_BATCH => {
                let max_items = usize::from(inp.u8() % 6);
                let max_bytes = usize::from(inp.u8() % 64);
                let mut b = empty_buf();
                let mut count = usize::MAX;
                let bp: *mut kat_buf = if f.null_out { null_mut() } else { &mut b };
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "iter_next_batch", |e| unsafe {
                    kat_iter_next_batch(ip, max_items, max_bytes, bp, &mut count, e)
                });
                if ip.is_null() || f.null_out || max_items == 0 {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "iter_next_batch invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "iter_next_batch closed");
                }
                expect(st, &[KAT_OK, KAT_NOT_FOUND], "iter_next_batch");
                let mut got = Vec::new();
                if st == KAT_OK {
                    let buf = take_buf(&mut b);
                    let mut p = 0;
                    while p < buf.len() {
                        let kl = u32::from_le_bytes(buf[p..p + 4].try_into().unwrap()) as usize;
                        let vl = u32::from_le_bytes(buf[p + 4..p + 8].try_into().unwrap()) as usize;
                        let k = buf[p + 8..p + 8 + kl].to_vec();
                        let v = buf[p + 8 + kl..p + 8 + kl + vl].to_vec();
                        got.push((k, v));
                        p += 8 + kl + vl;
                    }
                    assert_eq!(got.len(), count, "next_batch count");
                    assert!(
                        count >= 1 && count <= max_items,
                        "next_batch returned {count} entries"
                    );
                }
                let it = &mut self.iters[idx];
                if it.list.is_none() {
                    return;
                }
                let mut want = Vec::new();
                let mut bytes = 0usize;
                while want.len() < max_items && (want.is_empty() || bytes < max_bytes) {
                    match it.next() {
                        Some((k, v)) => {
                            bytes += 8 + k.len() + v.len();
                            want.push((k, v));
                        }
                        None => break,
                    }
                }
                assert_eq!(got, want, "next_batch entries");
            }
            _ => unreachable!(),
        }
    }

    fn ks_op(&mut self, code: u8, inp: &mut Input) {
        let f = flags(inp);
        match code {
            op::KS_OPEN | op::KS_DROP => {
                let sel = inp.u8();
                let name: Arg = match sel % 8 {
                    0..=4 => Arg::Bytes(KS_NAMES[usize::from(sel % 8) % 3].to_vec()),
                    5 => Arg::Bytes(Vec::new()),
                    6 => Arg::Bytes(if sel & 0x80 != 0 {
                        b"\0x".to_vec()
                    } else {
                        vec![b'n'; 256]
                    }),
                    _ => Arg::NullLen(2),
                };
                let (np, nl) = name.ptr();
                let db = self.db_ptr(&f);
                let name_ok =
                    matches!(&name, Arg::Bytes(n) if !n.is_empty() && n.len() <= 255 && n[0] != 0);
                if code == op::KS_DROP {
                    // SAFETY: valid or deliberately NULL arguments.
                    let st = call(f.err, "ks_drop", |e| unsafe {
                        kat_keyspace_drop(db, np, nl, e)
                    });
                    if db.is_null() {
                        return expect(st, &[KAT_INVALID_ARGUMENT], "ks_drop NULL");
                    }
                    if !name_ok {
                        return expect(st, name_refusal(&name, self.db_live()), "ks_drop bad name");
                    }
                    if !self.db_live() {
                        return expect(st, &[KAT_CLOSED], "ks_drop closed");
                    }
                    let n = name.value();
                    match self.model.names.remove(&n) {
                        Some(s) => {
                            expect(st, &[KAT_OK], "ks_drop");
                            self.model.spaces.remove(&s);
                            self.model.dropped.insert(s);
                        }
                        None => expect(st, &[KAT_NOT_FOUND], "ks_drop missing"),
                    }
                    return;
                }
                if self.kss.len() >= MAX_HANDLES {
                    return;
                }
                let mut out: *mut kat_keyspace = null_mut();
                let outp: *mut *mut kat_keyspace = if f.null_out { null_mut() } else { &mut out };
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "ks_open", |e| unsafe {
                    kat_keyspace_open(db, np, nl, outp, e)
                });
                if db.is_null() || f.null_out {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "ks_open invalid");
                }
                if !name_ok {
                    return expect(st, name_refusal(&name, self.db_live()), "ks_open bad name");
                }
                if !self.db_live() {
                    return expect(st, &[KAT_CLOSED], "ks_open closed");
                }
                expect(st, &[KAT_OK], "ks_open");
                let n = name.value();
                let space = match self.model.names.get(&n) {
                    Some(&s) => s,
                    None => {
                        let s = self.model.next_space;
                        self.model.next_space += 1;
                        self.model.names.insert(n, s);
                        self.model.spaces.insert(s, Space::new());
                        s
                    }
                };
                self.kss.push(KsH {
                    ptr: out,
                    space,
                    gen: self.gen,
                });
            }
            op::KS_WRITE | op::KS_READ => {
                let kind = inp.u8();
                let key = key_arg(inp);
                let n = self.kss.len();
                let idx = f.sel % n.max(1);
                let kp_ = if f.null_handle || n == 0 {
                    null_mut()
                } else {
                    self.kss[idx].ptr
                };
                let (space, live) = match self.kss.get(idx) {
                    Some(k) => (k.space, self.live_gen(k.gen)),
                    None => (0, false),
                };
                let (kp, kl) = key.ptr();
                let alive = self.model.alive(space);
                if code == op::KS_WRITE {
                    let val = val_arg(inp);
                    let (ttl, short) = ttl_arg(inp);
                    let (vp, vl) = val.ptr();
                    let is_ttl = kind & 3 == 1;
                    let is_del = kind & 3 == 2;
                    // SAFETY: valid or deliberately NULL arguments.
                    let st = call(f.err, "ks_write", |e| unsafe {
                        match kind & 3 {
                            0 | 3 => kat_keyspace_put(kp_, kp, kl, vp, vl, e),
                            1 => kat_keyspace_put_ttl(kp_, kp, kl, vp, vl, ttl, e),
                            _ => kat_keyspace_delete(kp_, kp, kl, e),
                        }
                    });
                    let bad_val = !is_del && val.invalid();
                    if kp_.is_null() || key.invalid() || bad_val || (is_ttl && ttl == 0) {
                        return expect(st, &[KAT_INVALID_ARGUMENT], "ks_write invalid");
                    }
                    if !live {
                        return expect(st, &[KAT_CLOSED], "ks_write closed");
                    }
                    if kl > katamari::MAX_KEY_LEN {
                        return expect(st, &[KAT_TOO_LARGE], "ks_write huge");
                    }
                    if !alive {
                        return expect(st, &[KAT_INVALID_ARGUMENT], "ks_write dropped");
                    }
                    expect(st, &[KAT_OK], "ks_write");
                    let v = if is_del {
                        None
                    } else if is_ttl && short {
                        Some(Val::Maybe(val.value()))
                    } else if is_ttl {
                        Some(Val::Ttl(val.value()))
                    } else {
                        Some(Val::Known(val.value()))
                    };
                    self.model.commit(&[(space, key.value(), v)]);
                } else {
                    let contains = kind & 1 != 0;
                    let mut b = empty_buf();
                    let mut found = false;
                    let bp: *mut kat_buf = if f.null_out { null_mut() } else { &mut b };
                    let fp: *mut bool = if f.null_out { null_mut() } else { &mut found };
                    // SAFETY: valid or deliberately NULL arguments.
                    let st = call(f.err, "ks_read", |e| unsafe {
                        if contains {
                            kat_keyspace_contains(kp_, kp, kl, fp, e)
                        } else {
                            kat_keyspace_get(kp_, kp, kl, bp, e)
                        }
                    });
                    if kp_.is_null() || key.invalid() || f.null_out {
                        return expect(st, &[KAT_INVALID_ARGUMENT], "ks_read invalid");
                    }
                    if !live {
                        return expect(st, &[KAT_CLOSED], "ks_read closed");
                    }
                    if !alive {
                        return expect(st, &[KAT_INVALID_ARGUMENT], "ks_read dropped");
                    }
                    let want = self.model.spaces[&space].get(&key.value());
                    if contains {
                        expect(st, &[KAT_OK], "ks_contains");
                        match want {
                            Some(Val::Known(_) | Val::Ttl(_)) => {
                                assert!(found, "ks_contains: key missing")
                            }
                            None => assert!(!found, "ks_contains: absent key found"),
                            Some(Val::Maybe(_)) => {}
                        }
                    } else {
                        expect(st, &[KAT_OK, KAT_NOT_FOUND], "ks_get");
                        let got = (st == KAT_OK).then(|| take_buf(&mut b));
                        check_value("ks_get", got.as_deref(), want);
                    }
                }
            }
            op::KS_LIST => {
                let db = self.db_ptr(&f);
                let mut b = empty_buf();
                let mut count = usize::MAX;
                let bp: *mut kat_buf = if f.null_out { null_mut() } else { &mut b };
                // SAFETY: valid or deliberately NULL arguments.
                let st = call(f.err, "ks_list", |e| unsafe {
                    kat_keyspace_list(db, bp, &mut count, e)
                });
                if db.is_null() || f.null_out {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "ks_list invalid");
                }
                if !self.db_live() {
                    return expect(st, &[KAT_CLOSED], "ks_list closed");
                }
                expect(st, &[KAT_OK], "ks_list");
                let buf = take_buf(&mut b);
                let mut names = Vec::new();
                let mut p = 0;
                while p < buf.len() {
                    let n = u32::from_le_bytes(buf[p..p + 4].try_into().unwrap()) as usize;
                    names.push(buf[p + 4..p + 4 + n].to_vec());
                    p += 4 + n;
                }
                assert_eq!(names.len(), count, "ks_list count");
                let want: Vec<Vec<u8>> = self.model.names.keys().cloned().collect();
                assert_eq!(names, want, "ks_list names");
            }
            op::KS_FREE => {
                if self.kss.is_empty() {
                    // SAFETY: NULL is allowed.
                    unsafe { kat_keyspace_free(null_mut()) };
                    return;
                }
                let n = self.kss.len();
                let k = self.kss.remove(f.sel % n);
                // SAFETY: from kat_keyspace_open, not yet freed.
                unsafe { kat_keyspace_free(k.ptr) };
            }
            _ => unreachable!(),
        }
    }

    fn db_op(&mut self, code: u8, inp: &mut Input) {
        let f = flags(inp);
        let db = self.db_ptr(&f);
        let live = self.db_live();
        match code {
            op::CLOSE => {
                // SAFETY: valid or NULL handle.
                let st = call(f.err, "close", |e| unsafe { kat_db_close(db, e) });
                if db.is_null() {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "close NULL");
                }
                expect(st, &[KAT_OK], "close");
                if let Some(d) = self.db.as_mut() {
                    d.closed = true;
                }
            }
            op::FREE => {
                if let Some(d) = self.db.take() {
                    // SAFETY: from kat_db_open, not yet freed; nothing in flight.
                    unsafe { kat_db_free(d.ptr) };
                } else if let Some(z) = self.zombies.pop() {
                    // SAFETY: as above.
                    unsafe { kat_db_free(z.ptr) };
                } else {
                    // SAFETY: NULL is allowed.
                    unsafe { kat_db_free(null_mut()) };
                }
            }
            op::SYNC_STATS => {
                let which = inp.u8() & 1;
                let mut s = kat_stats::default();
                let sp: *mut kat_stats = if f.null_out { null_mut() } else { &mut s };
                // SAFETY: valid or NULL arguments.
                let st = call(f.err, "sync/stats", |e| unsafe {
                    if which == 0 {
                        kat_db_sync(db, e)
                    } else {
                        kat_db_stats(db, sp, e)
                    }
                });
                if db.is_null() || (which == 1 && f.null_out) {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "sync/stats invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "sync/stats closed");
                }
                expect(st, &[KAT_OK], "sync/stats");
                if which == 1 {
                    assert!(s.segments >= 1, "stats: no segments");
                    assert!(
                        s.reserved.iter().all(|&r| r == 0),
                        "stats: reserved fields set"
                    );
                    assert!(
                        s.live_bytes <= s.total_bytes,
                        "stats: live bytes above total"
                    );
                }
            }
            op::MERGE => {
                let mut m = kat_merge_stats::default();
                let mp: *mut kat_merge_stats = if f.null_out { null_mut() } else { &mut m };
                // SAFETY: valid or NULL arguments (NULL out is allowed).
                let st = call(f.err, "merge", |e| unsafe { kat_db_merge(db, mp, e) });
                if db.is_null() {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "merge NULL");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "merge closed");
                }
                expect(st, &[KAT_OK], "merge");
                assert!(
                    m.reserved.iter().all(|&r| r == 0),
                    "merge stats: reserved fields set"
                );
            }
            op::VERIFY => {
                // SAFETY: an all-zero report is a valid value of the C struct.
                let mut r: kat_verify_report = unsafe { std::mem::zeroed() };
                let rp: *mut kat_verify_report = if f.null_out { null_mut() } else { &mut r };
                // SAFETY: valid or NULL arguments.
                let st = call(f.err, "verify", |e| unsafe { kat_db_verify(db, rp, e) });
                if db.is_null() || f.null_out {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "verify invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "verify closed");
                }
                expect(st, &[KAT_OK], "verify");
                let reason = r.first_bad_reason.map(|c| c as u8);
                assert!(
                    r.damaged == 0 && r.hints_bad == 0,
                    "verify found damage: {:?}",
                    String::from_utf8_lossy(&reason)
                );
                assert!(reason.contains(&0), "verify reason not NUL-terminated");
            }
            op::BACKUP => {
                self.backups += 1;
                let dest = self.dir.with_file_name(format!("backup-{}", self.backups));
                let c = cpath(&dest);
                let dp: *const c_char = if f.null_out { null() } else { c.as_ptr() };
                let mut info = kat_backup_info::default();
                // SAFETY: valid or NULL arguments.
                let st = call(f.err, "backup", |e| unsafe {
                    kat_db_backup(db, dp, &mut info, e)
                });
                if db.is_null() || f.null_out {
                    return expect(st, &[KAT_INVALID_ARGUMENT], "backup invalid");
                }
                if !live {
                    return expect(st, &[KAT_CLOSED], "backup closed");
                }
                expect(st, &[KAT_OK], "backup");
                self.check_backup(&c);
                let _ = std::fs::remove_dir_all(&dest);
            }
            _ => unreachable!(),
        }
    }

    /// Opens a backup and compares its default keyspace with the model.
    fn check_backup(&mut self, path: &CString) {
        let mut b: *mut kat_db = null_mut();
        // SAFETY: valid arguments.
        let st = call(true, "open backup", |e| unsafe {
            kat_db_open(path.as_ptr(), null(), &mut b, e)
        });
        expect(st, &[KAT_OK], "open backup");
        let mut it: *mut kat_iter = null_mut();
        // SAFETY: valid arguments.
        let st = call(true, "backup iter", |e| unsafe {
            kat_iter_new(b, null(), &mut it, e)
        });
        expect(st, &[KAT_OK], "backup iter");
        let mut seen = Vec::new();
        loop {
            let (mut k, mut kl, mut v, mut vl) = (null::<u8>(), 0usize, null::<u8>(), 0usize);
            // SAFETY: valid arguments.
            let st = call(true, "backup next", |e| unsafe {
                kat_iter_next(it, &mut k, &mut kl, &mut v, &mut vl, e)
            });
            if st == KAT_NOT_FOUND {
                break;
            }
            expect(st, &[KAT_OK], "backup next");
            seen.push((view(k, kl), view(v, vl)));
        }
        // SAFETY: handles from this function.
        unsafe {
            kat_iter_free(it);
            expect(kat_db_close(b, null_mut()), &[KAT_OK], "close backup");
            kat_db_free(b);
        }
        let space = &self.model.spaces[&0];
        for (k, v) in &seen {
            check_value("backup", Some(v), space.get(k));
        }
        for (k, v) in space {
            if let Val::Known(_) | Val::Ttl(_) = v {
                assert!(seen.iter().any(|(sk, _)| sk == k), "backup lacks key {k:?}");
            }
        }
    }

    /// `kat_db_expires_at` / `kat_keyspace_expires_at`: 0 for a value without expiry, a
    /// time in the future for one with a long TTL, `KAT_NOT_FOUND` without a value.
    fn expires_at(&mut self, inp: &mut Input) {
        let f = flags(inp);
        let in_ks = inp.u8() & 1 != 0 && !self.kss.is_empty();
        let key = key_arg(inp);
        let (kp, kl) = key.ptr();
        let mut at = u64::MAX;
        let ap: *mut u64 = if f.null_out { null_mut() } else { &mut at };
        let (st, null_handle, live, space) = if in_ks {
            let k = &self.kss[f.sel % self.kss.len()];
            let h = if f.null_handle { null_mut() } else { k.ptr };
            // SAFETY: valid or deliberately NULL arguments.
            let st = call(f.err, "ks_expires_at", |e| unsafe {
                kat_keyspace_expires_at(h, kp, kl, ap, e)
            });
            (st, h.is_null(), self.live_gen(k.gen), k.space)
        } else {
            let db = self.db_ptr(&f);
            // SAFETY: valid or deliberately NULL arguments.
            let st = call(f.err, "expires_at", |e| unsafe {
                kat_db_expires_at(db, kp, kl, ap, e)
            });
            (st, db.is_null(), self.db_live(), 0)
        };
        if null_handle || f.null_out || key.invalid() {
            return expect(st, &[KAT_INVALID_ARGUMENT], "expires_at invalid");
        }
        if !live {
            return expect(st, &[KAT_CLOSED], "expires_at closed");
        }
        if !self.model.alive(space) {
            return expect(st, &[KAT_INVALID_ARGUMENT], "expires_at dropped keyspace");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        match self.model.spaces[&space].get(&key.value()) {
            None => expect(st, &[KAT_NOT_FOUND], "expires_at absent"),
            Some(Val::Known(_)) => {
                expect(st, &[KAT_OK], "expires_at");
                assert_eq!(at, 0, "expires_at of a value written without a TTL");
            }
            Some(Val::Ttl(_)) => {
                expect(st, &[KAT_OK], "expires_at");
                assert!(
                    at > now,
                    "expires_at of a long TTL is not in the future: {at} <= {now}"
                );
            }
            Some(Val::Maybe(_)) => {
                expect(st, &[KAT_OK, KAT_NOT_FOUND], "expires_at short TTL");
                if st == KAT_OK {
                    assert!(at != 0 && at != u64::MAX, "expires_at of a short TTL: {at}");
                }
            }
        }
        if st != KAT_OK {
            assert_eq!(at, u64::MAX, "expires_at written on failure");
        }
    }

    fn misc(&mut self, inp: &mut Input) {
        let sel = inp.u8();
        // SAFETY: every call below is allowed with these arguments.
        unsafe {
            let code = i32::from(sel as i8);
            assert!(!kat_status_str(code).is_null());
            assert!(!kat_version().is_null());
            assert_eq!(kat_version_number(), KAT_VERSION_NUMBER);
            assert_eq!(kat_error_code(null()), KAT_INVALID_ARGUMENT);
            assert_eq!(CStr::from_ptr(kat_error_message(null())).to_bytes(), b"");
            kat_error_free(null_mut());
            kat_buf_free(null_mut());
            let mut zero = empty_buf();
            kat_buf_free(&mut zero);
            kat_options_free(null_mut());
            expect(
                kat_options_new(null_mut()),
                &[KAT_INVALID_ARGUMENT],
                "options_new NULL",
            );
            expect(
                kat_options_set_sync(null_mut(), 0, 0),
                &[KAT_INVALID_ARGUMENT],
                "set_sync NULL",
            );
            expect(
                kat_options_set_segment_size(null_mut(), 4096),
                &[KAT_INVALID_ARGUMENT],
                "segment NULL",
            );
            expect(
                kat_options_set_salvage(null_mut(), true),
                &[KAT_INVALID_ARGUMENT],
                "salvage NULL",
            );
            expect(
                kat_options_set_auto_merge(null_mut(), 0.5, 0),
                &[KAT_INVALID_ARGUMENT],
                "auto NULL",
            );
            expect(
                kat_options_set_create_if_missing(null_mut(), true),
                &[KAT_INVALID_ARGUMENT],
                "create NULL",
            );
            // Opening a missing directory without create_if_missing.
            if sel & 1 != 0 {
                let mut o: *mut kat_options = null_mut();
                expect(kat_options_new(&mut o), &[KAT_OK], "options_new");
                expect(
                    kat_options_set_create_if_missing(o, false),
                    &[KAT_OK],
                    "create off",
                );
                let missing = cpath(&self.dir.with_file_name("missing"));
                let mut d: *mut kat_db = null_mut();
                let st = call(true, "open missing", |e| {
                    kat_db_open(missing.as_ptr(), o, &mut d, e)
                });
                expect(
                    st,
                    &[KAT_IO, KAT_NOT_FOUND, KAT_INVALID_ARGUMENT],
                    "open missing",
                );
                assert!(d.is_null(), "out written on failure");
                kat_options_free(o);
            }
        }
    }

    fn step(&mut self, inp: &mut Input) {
        let code = inp.u8() % op::OPS;
        match code {
            op::PUT | op::PUT_TTL | op::GET | op::GET_INTO | op::DELETE | op::CONTAINS => {
                self.kv_op(code, inp)
            }
            op::BATCH_NEW..=op::BATCH_FREE => self.batch_op(code, inp),
            op::TXN_BEGIN..=op::TXN_FREE => self.txn_op(code, inp),
            op::ITER_NEW..=op::ITER_FREE => self.iter_op(code, inp),
            op::KS_OPEN..=op::KS_FREE => self.ks_op(code, inp),
            op::OPEN => self.open(inp),
            op::EXPIRES_AT => self.expires_at(inp),
            op::CLOSE | op::FREE | op::SYNC_STATS | op::MERGE | op::VERIFY | op::BACKUP => {
                self.db_op(code, inp)
            }
            _ => self.misc(inp),
        }
    }

    /// Frees every handle, children first half of the time (the contract allows any
    /// order: children keep the engine alive).
    fn finish(&mut self, children_first: bool) {
        // SAFETY: every pointer came from the library and is freed exactly once.
        unsafe {
            let free_children = |r: &mut Run| {
                for it in r.iters.drain(..) {
                    kat_iter_free(it.ptr);
                }
                for t in r.txns.drain(..) {
                    kat_txn_free(t.ptr);
                }
                for k in r.kss.drain(..) {
                    kat_keyspace_free(k.ptr);
                }
                for b in r.batches.drain(..) {
                    kat_batch_free(b.ptr);
                }
            };
            if children_first {
                free_children(self);
            }
            if let Some(d) = self.db.take() {
                kat_db_free(d.ptr);
            }
            for z in self.zombies.drain(..) {
                kat_db_free(z.ptr);
            }
            free_children(self);
        }
    }
}

/// Runs one fuzz input. The first operation is always an open (with options from the
/// first byte), so most inputs reach the engine.
pub fn run(data: &[u8]) {
    let base = base_dir();
    let dir = base.join("db");
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(base).expect("create the fuzz directory");
    let mut inp = Input { d: data };
    let mut r = Run {
        dir,
        model: Model::new(),
        db: None,
        gen: 0,
        zombies: Vec::new(),
        kss: Vec::new(),
        txns: Vec::new(),
        iters: Vec::new(),
        batches: Vec::new(),
        backups: 0,
    };
    let first = inp.u8();
    let mut first_inp = Input { d: &[first, 0] };
    r.open(&mut first_inp);
    let mut steps = 0;
    while !inp.done() && steps < 400 {
        r.step(&mut inp);
        steps += 1;
    }
    // Everything the model knows is still there after a clean close and reopen.
    let reopen = r.gen > 0;
    r.finish(first & 0x80 != 0);
    if reopen {
        let mut z = Input { d: &[1, 0] };
        r.open(&mut z);
        r.finish(true);
    }
    let _ = std::fs::remove_dir_all(base);
}

/// Writes inputs for [`run`] by hand (seed corpus).
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn new(open_sel: u8) -> Enc {
        Enc(vec![open_sel])
    }
    /// An operation: its code, a flags byte (bit 0: error object; bits 4..: handle
    /// selector), then its argument bytes.
    pub fn op(&mut self, code: u8, flags: u8, args: &[u8]) -> &mut Self {
        self.0.push(code);
        self.0.push(flags);
        self.0.extend_from_slice(args);
        self
    }
}
