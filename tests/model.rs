//! Model-based property test of the KV engine and its MVCC layer.
//!
//! Random sequences of one-shot writes and reads, TTL puts with an injected clock, scans
//! (prefix / range / reverse), long-lived iterators (next / prev / seek), several
//! interleaved transactions (snapshot, serializable and read-only) and reopens run
//! against the real engine and against an in-memory model (a `BTreeMap` per snapshot).
//! Every result is compared, including which commits fail with `Conflict`: the model
//! predicts first-committer-wins on write sets (plus read sets and scanned ranges for
//! serializable transactions) exactly.
//!
//! Tiny segments (1 KiB) make the log rotate often; eight keys, some sharing prefixes and
//! some holding 0xFF bytes, make overwrites and conflicts frequent.
//!
//! `KAT_PROPTEST_CASES` raises the number of cases (default 500) for soak runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use katamari::{Db, Error, Iter, IterOptions, Options, SyncMode, Txn, TxnOptions, WriteBatch};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The keys written. Some share prefixes ("a", "ab", "abc"), some hold 0xFF bytes right
/// after a prefix ("a\xff\xff\x01" is inside prefix "a\xff").
const KEYS: [&[u8]; 8] = [
    b"a",
    b"ab",
    b"abc",
    b"a\xff",
    b"a\xff\xff\x01",
    b"b",
    b"\xff",
    b"\xff\xff\x00",
];

/// Byte strings used as prefixes, range bounds and seek targets: the keys themselves
/// plus strings between, before and after them.
const PROBES: [&[u8]; 16] = [
    b"",
    b"a",
    b"a\x00",
    b"ab",
    b"abc",
    b"abd",
    b"a\xff",
    b"a\xff\xff",
    b"a\xff\xff\x01",
    b"a\xff\xff\x02",
    b"b",
    b"c",
    b"\xff",
    b"\xff\xff",
    b"\xff\xff\x00",
    b"\xff\xff\x01",
];

const TXN_SLOTS: usize = 3;
const ITER_SLOTS: usize = 2;
const MAX_OPS: usize = 150;
const CLOCK_START: u64 = 1_700_000_000_000;
const SEGMENT_SIZE: u64 = 1024;

fn show(b: &[u8]) -> String {
    format!("b\"{}\"", b.escape_ascii())
}

/// One of [`KEYS`].
#[derive(Clone, Copy)]
struct K(u8);
impl K {
    fn bytes(self) -> &'static [u8] {
        KEYS[self.0 as usize]
    }
}
impl fmt::Debug for K {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show(self.bytes()))
    }
}

/// One of [`PROBES`].
#[derive(Clone, Copy)]
struct P(u8);
impl P {
    fn bytes(self) -> &'static [u8] {
        PROBES[self.0 as usize]
    }
}
impl fmt::Debug for P {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show(self.bytes()))
    }
}

/// What a scan covers; mirrors [`IterOptions`].
#[derive(Clone, Debug)]
struct Scan {
    prefix: Option<P>,
    start: Option<P>,
    end: Option<P>,
    reverse: bool,
}

impl Scan {
    fn options(&self) -> IterOptions {
        IterOptions {
            prefix: self.prefix.map(|p| p.bytes().to_vec()),
            start: self.start.map(|p| p.bytes().to_vec()),
            end: self.end.map(|p| p.bytes().to_vec()),
            reverse: self.reverse,
        }
    }
    /// Whether `key` is covered: all of prefix, start (inclusive) and end (exclusive).
    fn covers(&self, key: &[u8]) -> bool {
        self.prefix.is_none_or(|p| key.starts_with(p.bytes()))
            && self.start.is_none_or(|s| key >= s.bytes())
            && self.end.is_none_or(|e| key < e.bytes())
    }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Next,
    Prev,
    Seek(P),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Snapshot,
    Serializable,
    ReadOnly,
}

/// Value lengths are drawn; the content is made unique per write so a stale read shows.
#[derive(Clone, Debug)]
enum Op {
    Put(K, u8),
    PutTtl(K, u8, u8),
    Delete(K),
    /// `None` is a delete.
    Batch(Vec<(K, Option<u8>)>),
    Get(K),
    Scan(Scan),
    Begin(usize, Mode),
    TxnPut(usize, K, u8),
    TxnPutTtl(usize, K, u8, u8),
    TxnDelete(usize, K),
    TxnGet(usize, K),
    TxnScan(usize, Scan),
    Commit(usize),
    Abort(usize),
    /// Iterator slot, source (`None`: the database, `Some(t)`: transaction slot `t`).
    IterOpen(usize, Option<usize>, Scan),
    /// Cursor moves on iterator slot `i`.
    IterWalk(usize, Vec<Step>),
    /// Milliseconds.
    Advance(u8),
    Reopen,
}

fn key() -> impl Strategy<Value = K> {
    (0..KEYS.len() as u8).prop_map(K)
}
fn probe() -> impl Strategy<Value = P> {
    (0..PROBES.len() as u8).prop_map(P)
}
fn len() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), 1u8..=120]
}
fn ttl() -> impl Strategy<Value = u8> {
    1u8..=60
}
/// Each bound is left out two times in three, so scans are not mostly empty.
fn bound() -> impl Strategy<Value = Option<P>> {
    prop::option::weighted(1.0 / 3.0, probe())
}
fn scan() -> impl Strategy<Value = Scan> {
    (bound(), bound(), bound(), any::<bool>()).prop_map(|(prefix, start, end, reverse)| Scan {
        prefix,
        start,
        end,
        reverse,
    })
}
fn tslot() -> impl Strategy<Value = usize> {
    0..TXN_SLOTS
}
fn islot() -> impl Strategy<Value = usize> {
    0..ITER_SLOTS
}
fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        5 => Just(Mode::Snapshot),
        3 => Just(Mode::Serializable),
        1 => Just(Mode::ReadOnly),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => Just(Step::Next),
        3 => Just(Step::Prev),
        1 => probe().prop_map(Step::Seek),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (key(), len()).prop_map(|(k, l)| Op::Put(k, l)),
        3 => (key(), len(), ttl()).prop_map(|(k, l, t)| Op::PutTtl(k, l, t)),
        5 => key().prop_map(Op::Delete),
        2 => prop::collection::vec((key(), prop::option::of(len())), 1..4).prop_map(Op::Batch),
        4 => key().prop_map(Op::Get),
        4 => scan().prop_map(Op::Scan),
        6 => (tslot(), mode()).prop_map(|(s, m)| Op::Begin(s, m)),
        10 => (tslot(), key(), len()).prop_map(|(s, k, l)| Op::TxnPut(s, k, l)),
        2 => (tslot(), key(), len(), ttl()).prop_map(|(s, k, l, t)| Op::TxnPutTtl(s, k, l, t)),
        6 => (tslot(), key()).prop_map(|(s, k)| Op::TxnDelete(s, k)),
        6 => (tslot(), key()).prop_map(|(s, k)| Op::TxnGet(s, k)),
        4 => (tslot(), scan()).prop_map(|(s, sc)| Op::TxnScan(s, sc)),
        6 => tslot().prop_map(Op::Commit),
        2 => tslot().prop_map(Op::Abort),
        6 => (islot(), prop::option::weighted(0.7, tslot()), scan())
            .prop_map(|(i, t, sc)| Op::IterOpen(i, t, sc)),
        10 => (islot(), prop::collection::vec(step(), 1..12)).prop_map(|(i, s)| Op::IterWalk(i, s)),
        3 => (1u8..=80).prop_map(Op::Advance),
        1 => Just(Op::Reopen),
    ]
}

// ---------------------------------------------------------------------------------------
// The model.

#[derive(Clone, Debug, PartialEq, Eq)]
struct Val {
    value: Vec<u8>,
    /// Milliseconds since the epoch; 0 = never.
    expires_at: u64,
}

impl Val {
    fn live(&self, now: u64) -> bool {
        self.expires_at == 0 || self.expires_at > now
    }
}

type Map = BTreeMap<Vec<u8>, Val>;
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// The committed state plus, per key, the model sequence of the last commit that wrote
/// it (a put or a delete, even of an absent key).
#[derive(Default)]
struct Model {
    data: Map,
    seq: u64,
    last_write: BTreeMap<Vec<u8>, u64>,
}

impl Model {
    /// Applies one atomic commit; `None` deletes.
    fn commit<'a>(&mut self, writes: impl IntoIterator<Item = (&'a [u8], Option<Val>)>) {
        self.seq += 1;
        for (k, v) in writes {
            match v {
                Some(v) => {
                    self.data.insert(k.to_vec(), v);
                }
                None => {
                    self.data.remove(k);
                }
            }
            self.last_write.insert(k.to_vec(), self.seq);
        }
    }
    fn written_after(&self, key: &[u8], snap: u64) -> bool {
        self.last_write.get(key).is_some_and(|&s| s > snap)
    }
}

/// A transaction's model: its snapshot, its pending writes, what it read.
struct MTxn {
    mode: Mode,
    snap_seq: u64,
    snap: Map,
    writes: BTreeMap<Vec<u8>, Option<Val>>,
    reads: Vec<Vec<u8>>,
    ranges: Vec<Scan>,
    real_snapshot: u64,
}

impl MTxn {
    /// The transaction's view at `now`: snapshot overlaid with its writes, expiry applied.
    fn view(&self, now: u64) -> Map {
        let mut m = visible(&self.snap, now);
        for (k, w) in &self.writes {
            match w {
                Some(v) if v.live(now) => {
                    m.insert(k.clone(), v.clone());
                }
                _ => {
                    m.remove(k);
                }
            }
        }
        m
    }
}

/// The entries of `map` live at `now`.
fn visible(map: &Map, now: u64) -> Map {
    map.iter()
        .filter(|(_, v)| v.live(now))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What a scan `s` of `view` returns, in iteration order.
fn scan_of(view: &Map, s: &Scan) -> Entries {
    let mut out: Entries = view
        .iter()
        .filter(|(k, _)| s.covers(k))
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    if s.reverse {
        out.reverse();
    }
    out
}

#[derive(Clone, Debug)]
enum Pos {
    Start,
    Seeked(Vec<u8>),
    At(usize),
    End,
}

/// An iterator's model: the entries of its snapshot in iteration order and a cursor.
struct MIter {
    entries: Entries,
    /// Some entry in range will expire: the iterator has no single expected answer
    /// once the clock moves (expiry is checked when entries are fetched).
    expires: bool,
    reverse: bool,
    pos: Pos,
}

impl MIter {
    fn next(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        let n = self.entries.len();
        let i = match &self.pos {
            Pos::Start => 0,
            Pos::Seeked(k) => self
                .entries
                .iter()
                .position(|(e, _)| if self.reverse { e <= k } else { e >= k })
                .unwrap_or(n),
            Pos::At(i) => i + 1,
            Pos::End => n,
        };
        if i < n {
            self.pos = Pos::At(i);
            Some(self.entries[i].clone())
        } else {
            self.pos = Pos::End;
            None
        }
    }
    fn prev(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        let n = self.entries.len();
        let i = match &self.pos {
            Pos::At(i) => *i,
            Pos::End => n,
            Pos::Start | Pos::Seeked(_) => return None,
        };
        if i > 0 {
            self.pos = Pos::At(i - 1);
            Some(self.entries[i - 1].clone())
        } else {
            self.pos = Pos::Start;
            None
        }
    }
    fn current(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        match self.pos {
            Pos::At(i) => Some(self.entries[i].clone()),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The harness: the real engine next to the model.

struct Harness {
    _tmp: tempfile::TempDir,
    path: PathBuf,
    clock: Arc<AtomicU64>,
    db: Db,
    txns: Vec<Option<(Txn, MTxn)>>,
    iters: Vec<Option<(Iter, MIter)>>,
    model: Model,
    next_value: u64,
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

fn ok<T>(r: katamari::Result<T>, what: &str) -> Result<T, TestCaseError> {
    r.map_err(|e| fail(format!("{what}: unexpected error {e:?}")))
}

fn owned(e: Option<(&[u8], &[u8])>) -> Option<(Vec<u8>, Vec<u8>)> {
    e.map(|(k, v)| (k.to_vec(), v.to_vec()))
}

fn collect(it: Iter, what: &str) -> Result<Entries, TestCaseError> {
    it.collect::<katamari::Result<Entries>>()
        .map_err(|e| fail(format!("{what}: unexpected error {e:?}")))
}

fn open(path: &PathBuf, clock: &Arc<AtomicU64>) -> Db {
    let c = clock.clone();
    Db::open(
        path,
        Options::default()
            .sync(SyncMode::Never)
            .segment_size(SEGMENT_SIZE)
            .clock(move || c.load(Ordering::SeqCst)),
    )
    .expect("open")
}

impl Harness {
    fn new() -> Harness {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("db");
        let clock = Arc::new(AtomicU64::new(CLOCK_START));
        let db = open(&path, &clock);
        Harness {
            _tmp: tmp,
            path,
            clock,
            db,
            txns: (0..TXN_SLOTS).map(|_| None).collect(),
            iters: (0..ITER_SLOTS).map(|_| None).collect(),
            model: Model::default(),
            next_value: 0,
        }
    }

    fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    /// A fresh value of `len` bytes (empty when 0), unique among non-empty values.
    fn value(&mut self, len: u8) -> Vec<u8> {
        if len == 0 {
            return Vec::new();
        }
        self.next_value += 1;
        let mut v = format!("v{}:", self.next_value).into_bytes();
        v.resize(v.len().max(len as usize), b'.');
        v
    }

    fn expiry(&self, ttl: u8) -> u64 {
        self.now() + u64::from(ttl.max(1))
    }

    /// Checks every key with one-shot `get` and `contains` (which take no snapshot, so
    /// the check does not change when versions are pruned).
    fn check_all(&self, when: &str) -> Result<(), TestCaseError> {
        let now = self.now();
        for k in KEYS {
            let want = self
                .model
                .data
                .get(k)
                .filter(|v| v.live(now))
                .map(|v| v.value.clone());
            let got = ok(self.db.get(k), "get")?;
            prop_assert_eq!(&got, &want, "{}: get({})", when, show(k));
            let has = ok(self.db.contains(k), "contains")?;
            prop_assert_eq!(has, want.is_some(), "{}: contains({})", when, show(k));
        }
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = self.now();
        match op {
            Op::Put(k, l) => {
                let v = self.value(*l);
                ok(self.db.put(k.bytes(), &v), "put")?;
                self.model.commit([(
                    k.bytes(),
                    Some(Val {
                        value: v,
                        expires_at: 0,
                    }),
                )]);
            }
            Op::PutTtl(k, l, t) => {
                let v = self.value(*l);
                let expires_at = self.expiry(*t);
                ok(
                    self.db
                        .put_with_ttl(k.bytes(), &v, Duration::from_millis(u64::from(*t))),
                    "put_with_ttl",
                )?;
                self.model.commit([(
                    k.bytes(),
                    Some(Val {
                        value: v,
                        expires_at,
                    }),
                )]);
            }
            Op::Delete(k) => {
                ok(self.db.delete(k.bytes()), "delete")?;
                self.model.commit([(k.bytes(), None)]);
            }
            Op::Batch(ops) => {
                let mut batch = WriteBatch::new();
                let mut writes = Vec::new();
                for (k, l) in ops {
                    match l {
                        Some(l) => {
                            let v = self.value(*l);
                            ok(batch.put(k.bytes(), &v).map(|_| ()), "batch put")?;
                            writes.push((
                                k.bytes(),
                                Some(Val {
                                    value: v,
                                    expires_at: 0,
                                }),
                            ));
                        }
                        None => {
                            ok(batch.delete(k.bytes()).map(|_| ()), "batch delete")?;
                            writes.push((k.bytes(), None));
                        }
                    }
                }
                ok(self.db.write(&batch), "write")?;
                self.model.commit(writes);
            }
            Op::Get(k) => {
                let want = self
                    .model
                    .data
                    .get(k.bytes())
                    .filter(|v| v.live(now))
                    .map(|v| v.value.clone());
                prop_assert_eq!(ok(self.db.get(k.bytes()), "get")?, want.clone());
                prop_assert_eq!(ok(self.db.contains(k.bytes()), "contains")?, want.is_some());
            }
            Op::Scan(s) => {
                let want = scan_of(&visible(&self.model.data, now), s);
                let got = collect(ok(self.db.iter(&s.options()), "iter")?, "scan")?;
                prop_assert_eq!(got, want, "scan {:?}", s);
            }
            Op::Begin(slot, mode) => {
                if self.txns[*slot].is_some() {
                    return Ok(());
                }
                let txn = ok(
                    self.db.begin_with(TxnOptions {
                        read_only: *mode == Mode::ReadOnly,
                        serializable: *mode == Mode::Serializable,
                    }),
                    "begin",
                )?;
                let m = MTxn {
                    mode: *mode,
                    snap_seq: self.model.seq,
                    snap: self.model.data.clone(),
                    writes: BTreeMap::new(),
                    reads: Vec::new(),
                    ranges: Vec::new(),
                    real_snapshot: txn.snapshot_seq(),
                };
                let last = ok(self.db.stats(), "stats")?.last_seq;
                prop_assert_eq!(m.real_snapshot, last, "a new txn reads the newest commit");
                self.txns[*slot] = Some((txn, m));
            }
            Op::TxnPut(slot, k, l) => self.txn_write(*slot, k.bytes(), Some((*l, None)))?,
            Op::TxnPutTtl(slot, k, l, t) => {
                self.txn_write(*slot, k.bytes(), Some((*l, Some(*t))))?
            }
            Op::TxnDelete(slot, k) => self.txn_write(*slot, k.bytes(), None)?,
            Op::TxnGet(slot, k) => {
                let Some((txn, m)) = self.txns[*slot].as_mut() else {
                    return Ok(());
                };
                let want = m.view(now).get(k.bytes()).map(|v| v.value.clone());
                if m.mode == Mode::Serializable && !m.writes.contains_key(k.bytes()) {
                    m.reads.push(k.bytes().to_vec());
                }
                prop_assert_eq!(ok(txn.get(k.bytes()), "txn get")?, want.clone());
                prop_assert_eq!(ok(txn.contains(k.bytes()), "txn contains")?, want.is_some());
            }
            Op::TxnScan(slot, s) => {
                let Some((txn, m)) = self.txns[*slot].as_mut() else {
                    return Ok(());
                };
                let want = scan_of(&m.view(now), s);
                if m.mode == Mode::Serializable {
                    m.ranges.push(s.clone());
                }
                let got = collect(ok(txn.iter(&s.options()), "txn iter")?, "txn scan")?;
                prop_assert_eq!(got, want, "txn scan {:?}", s);
            }
            Op::Commit(slot) => {
                let Some((txn, m)) = self.txns[*slot].take() else {
                    return Ok(());
                };
                let model = &self.model;
                let conflict = !m.writes.is_empty()
                    && (m.writes.keys().any(|k| model.written_after(k, m.snap_seq))
                        || (m.mode == Mode::Serializable
                            && (m.reads.iter().any(|k| model.written_after(k, m.snap_seq))
                                || m.ranges.iter().any(|r| {
                                    model
                                        .last_write
                                        .iter()
                                        .any(|(k, &s)| s > m.snap_seq && r.covers(k))
                                }))));
                let got = txn.commit();
                match got {
                    Err(Error::Conflict) if conflict => {}
                    Ok(seq) if !conflict => {
                        if m.writes.is_empty() {
                            prop_assert_eq!(
                                seq,
                                m.real_snapshot,
                                "a commit without writes returns its snapshot"
                            );
                        } else {
                            let last = ok(self.db.stats(), "stats")?.last_seq;
                            prop_assert_eq!(seq, last, "commit returns the newest sequence");
                            prop_assert!(seq > m.real_snapshot);
                            self.model
                                .commit(m.writes.iter().map(|(k, v)| (&k[..], v.clone())));
                        }
                    }
                    other => {
                        return Err(fail(format!(
                            "commit of {:?} txn: expected {}, got {other:?}",
                            m.mode,
                            if conflict { "Conflict" } else { "Ok" }
                        )))
                    }
                }
            }
            Op::Abort(slot) => {
                if let Some((txn, _)) = self.txns[*slot].take() {
                    txn.abort();
                }
            }
            Op::IterOpen(islot, src, s) => {
                // A transaction source falls back on the next open transaction, then on
                // the database, so the op is never wasted.
                let t = src.and_then(|t| {
                    (0..TXN_SLOTS)
                        .map(|d| (t + d) % TXN_SLOTS)
                        .find(|&t| self.txns[t].is_some())
                });
                let (it, view) = match t {
                    None => (
                        ok(self.db.iter(&s.options()), "iter")?,
                        visible(&self.model.data, now),
                    ),
                    Some(t) => {
                        let (txn, m) = self.txns[t].as_mut().expect("found open");
                        if m.mode == Mode::Serializable {
                            m.ranges.push(s.clone());
                        }
                        (ok(txn.iter(&s.options()), "txn iter")?, m.view(now))
                    }
                };
                let mi = MIter {
                    entries: scan_of(&view, s),
                    expires: view.iter().any(|(k, v)| v.expires_at != 0 && s.covers(k)),
                    reverse: s.reverse,
                    pos: Pos::Start,
                };
                self.iters[*islot] = Some((it, mi));
            }
            Op::IterWalk(i, steps) => {
                let Some((it, m)) = self.iters[*i].as_mut() else {
                    return Ok(());
                };
                for (n, step) in steps.iter().enumerate() {
                    match step {
                        Step::Next => {
                            let want = m.next();
                            let got = owned(ok(it.next_entry(), "next_entry")?);
                            prop_assert_eq!(got, want, "step {} next_entry", n);
                        }
                        Step::Prev => {
                            let want = m.prev();
                            let got = owned(ok(it.prev_entry(), "prev_entry")?);
                            prop_assert_eq!(got, want, "step {} prev_entry", n);
                        }
                        Step::Seek(p) => {
                            it.seek(p.bytes());
                            m.pos = Pos::Seeked(p.bytes().to_vec());
                        }
                    }
                    prop_assert_eq!(owned(it.current()), m.current(), "step {} current", n);
                }
            }
            Op::Advance(ms) => {
                // An iterator filters expired entries when it fetches them, so one over
                // entries that can expire has no single expected answer once the clock
                // moves: close those.
                for slot in &mut self.iters {
                    if slot.as_ref().is_some_and(|(_, m)| m.expires) {
                        *slot = None;
                    }
                }
                self.clock.fetch_add(u64::from(*ms), Ordering::SeqCst);
            }
            Op::Reopen => {
                self.iters.iter_mut().for_each(|i| *i = None);
                self.txns.iter_mut().for_each(|t| *t = None);
                ok(self.db.close(), "close")?;
                self.db = open(&self.path, &self.clock);
                self.check_all("after reopen")?;
                let want = scan_of(
                    &visible(&self.model.data, now),
                    &Scan {
                        prefix: None,
                        start: None,
                        end: None,
                        reverse: false,
                    },
                );
                let got = collect(
                    ok(self.db.iter(&IterOptions::default()), "iter")?,
                    "full scan",
                )?;
                prop_assert_eq!(got, want, "full scan after reopen");
            }
        }
        Ok(())
    }

    /// A put (`Some((len, ttl))`) or delete (`None`) inside transaction `slot`.
    fn txn_write(
        &mut self,
        slot: usize,
        key: &[u8],
        put: Option<(u8, Option<u8>)>,
    ) -> Result<(), TestCaseError> {
        if self.txns[slot].is_none() {
            return Ok(());
        }
        let val = put.map(|(l, t)| Val {
            value: self.value(l),
            expires_at: t.map_or(0, |t| self.expiry(t)),
        });
        let (txn, m) = self.txns[slot].as_mut().expect("checked");
        let got = match (&val, put) {
            (Some(v), Some((_, Some(t)))) => {
                txn.put_with_ttl(key, &v.value, Duration::from_millis(u64::from(t)))
            }
            (Some(v), _) => txn.put(key, &v.value),
            (None, _) => txn.delete(key),
        };
        if m.mode == Mode::ReadOnly {
            prop_assert!(
                matches!(got, Err(Error::ReadOnly)),
                "write in a read-only txn: {:?}",
                got
            );
        } else {
            ok(got, "txn write")?;
            m.writes.insert(key.to_vec(), val);
        }
        Ok(())
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut h = Harness::new();
    for (i, op) in ops.iter().enumerate() {
        h.apply(op)
            .map_err(|e| fail(format!("step {i} {op:?}: {e}")))?;
        h.check_all(&format!("after step {i} {op:?}"))?;
    }
    // Everything still open ends; the state survives a reopen.
    h.apply(&Op::Reopen)
        .map_err(|e| fail(format!("final reopen: {e}")))?;
    ok(h.db.close(), "close")?;
    Ok(())
}

fn cases() -> u32 {
    std::env::var("KAT_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        run(&ops)?;
    }
}

// ---------------------------------------------------------------------------------------
// Minimal failing sequences the property test found, kept as fixed regressions.

fn k(bytes: &[u8]) -> K {
    K(KEYS.iter().position(|k| *k == bytes).expect("a model key") as u8)
}
fn p(bytes: &[u8]) -> P {
    P(PROBES.iter().position(|p| *p == bytes).expect("a probe") as u8)
}
fn everything() -> Scan {
    Scan {
        prefix: None,
        start: None,
        end: None,
        reverse: false,
    }
}

fn replay(ops: &[Op]) {
    if let Err(e) = run(ops) {
        panic!("{e}");
    }
}

/// A serializable transaction that scanned an empty range whose start lies above its end
/// (prefix "\xff" with end "") must still commit; the range check at commit must not
/// panic.
#[test]
fn serializable_commit_after_scanning_an_inverted_range() {
    replay(&[
        Op::Begin(0, Mode::Serializable),
        Op::TxnPut(0, k(b"a"), 1),
        Op::TxnScan(
            0,
            Scan {
                prefix: Some(p(b"\xff")),
                end: Some(p(b"")),
                ..everything()
            },
        ),
        Op::Put(k(b"ab"), 0),
        Op::Commit(0),
    ]);
}

/// A transaction's own put whose TTL ran out is invisible to its `get` and must be
/// invisible to its iterators too.
#[test]
fn txn_iterator_hides_own_expired_put() {
    replay(&[
        Op::Begin(0, Mode::Snapshot),
        Op::TxnPutTtl(0, k(b"a\xff\xff\x01"), 0, 1),
        Op::Advance(1),
        Op::TxnGet(0, k(b"a\xff\xff\x01")),
        Op::TxnScan(0, everything()),
    ]);
}

/// `prev_entry` on a transaction's iterator must step over keys the transaction deleted
/// instead of reporting the start.
#[test]
fn txn_iterator_prev_skips_own_deletes() {
    replay(&[
        Op::Put(k(b"ab"), 0),
        Op::Put(k(b"abc"), 0),
        Op::Begin(0, Mode::Snapshot),
        Op::TxnDelete(0, k(b"ab")),
        Op::IterOpen(
            0,
            Some(0),
            Scan {
                reverse: true,
                ..everything()
            },
        ),
        Op::IterWalk(0, vec![Step::Next, Step::Next, Step::Prev]),
    ]);
    replay(&[
        Op::Put(k(b"a"), 1),
        Op::Put(k(b"ab"), 1),
        Op::Put(k(b"abc"), 1),
        Op::Begin(0, Mode::Snapshot),
        Op::TxnDelete(0, k(b"ab")),
        Op::IterOpen(0, Some(0), everything()),
        Op::IterWalk(0, vec![Step::Next, Step::Next, Step::Prev]),
    ]);
}

/// The same sequences with nothing to trip over pass: the harness itself is sound.
#[test]
fn harness_accepts_correct_behaviour() {
    replay(&[
        Op::Put(k(b"a"), 1),
        Op::Put(k(b"ab"), 1),
        Op::Put(k(b"abc"), 1),
        Op::Begin(0, Mode::Snapshot),
        Op::Begin(1, Mode::Serializable),
        Op::TxnPut(0, k(b"ab"), 5),
        Op::TxnPut(1, k(b"ab"), 5),
        Op::IterOpen(0, Some(0), everything()),
        Op::IterWalk(
            0,
            vec![Step::Next, Step::Next, Step::Prev, Step::Next, Step::Next],
        ),
        Op::Commit(0),
        Op::Commit(1),
        Op::Get(k(b"ab")),
        Op::PutTtl(k(b"b"), 3, 5),
        Op::Advance(4),
        Op::Get(k(b"b")),
        Op::Advance(1),
        Op::Get(k(b"b")),
        Op::Reopen,
    ]);
}
