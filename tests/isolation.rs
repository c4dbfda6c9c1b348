//! Isolation anomalies, Hermitage style (<https://github.com/ept/hermitage>): each test
//! runs two (or three) concurrently open transactions through one interleaving and checks
//! what snapshot isolation promises, and what serializable mode adds. The table of the
//! original is two rows, `test:1 = 10` and `test:2 = 20`.
//!
//! Also: read-only transactions, a transaction's view of its own writes, iterator
//! stability under later writes, bounded memory while a snapshot lives long, TTL, and
//! iterator ordering (byte order, 0xFF bytes after a prefix, reverse, seek, next/prev).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use katamari::{Db, Error, Iter, IterOptions, Options, SyncMode, Txn, TxnOptions};

// ---------------------------------------------------------------------------------------
// Heap accounting: bytes allocated minus bytes freed by the current thread, to check
// memory bounds independently of the engine's own estimate (`Stats::keydir_bytes`).

struct CountingAlloc;

thread_local! {
    static NET_HEAP: Cell<i64> = const { Cell::new(0) };
}

fn account(delta: i64) {
    let _ = NET_HEAP.try_with(|c| c.set(c.get() + delta));
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as i64));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Net heap bytes allocated by this thread so far.
fn heap() -> i64 {
    NET_HEAP.with(|c| c.get())
}

// ---------------------------------------------------------------------------------------
// Fixtures.

const T1: &[u8] = b"test:1";
const T2: &[u8] = b"test:2";
const T3: &[u8] = b"test:3";
const T4: &[u8] = b"test:4";
const CLOCK_START: u64 = 1_800_000_000_000;

struct Fx {
    _tmp: tempfile::TempDir,
    path: std::path::PathBuf,
    clock: Arc<AtomicU64>,
    db: Db,
}

impl Fx {
    fn options(clock: &Arc<AtomicU64>) -> Options {
        let c = clock.clone();
        Options::default()
            .sync(SyncMode::Never)
            .clock(move || c.load(Ordering::SeqCst))
    }

    fn empty() -> Fx {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        let clock = Arc::new(AtomicU64::new(CLOCK_START));
        let db = Db::open(&path, Fx::options(&clock)).unwrap();
        Fx {
            _tmp: tmp,
            path,
            clock,
            db,
        }
    }

    /// Hermitage's table: `test:1 = 10`, `test:2 = 20`.
    fn hermitage() -> Fx {
        let fx = Fx::empty();
        fx.db.put(T1, b"10").unwrap();
        fx.db.put(T2, b"20").unwrap();
        fx
    }

    fn begin(&self) -> Txn {
        self.db.begin().unwrap()
    }

    fn serializable(&self) -> Txn {
        self.db
            .begin_with(TxnOptions {
                serializable: true,
                ..TxnOptions::default()
            })
            .unwrap()
    }

    fn advance(&self, ms: u64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    fn reopen(&mut self) {
        self.db.close().unwrap();
        self.db = Db::open(&self.path, Fx::options(&self.clock)).unwrap();
    }

    /// The committed value of `key` as a number.
    fn num(&self, key: &[u8]) -> Option<i64> {
        self.db.get(key).unwrap().map(|v| parse(&v))
    }

    /// Every committed row under "test:" in key order.
    fn rows(&self) -> Vec<(Vec<u8>, i64)> {
        rows(self.db.iter(&IterOptions::prefix(b"test:")).unwrap())
    }
}

fn parse(v: &[u8]) -> i64 {
    std::str::from_utf8(v).unwrap().parse().unwrap()
}

fn num(t: &mut Txn, key: &[u8]) -> Option<i64> {
    t.get(key).unwrap().map(|v| parse(&v))
}

fn set(t: &mut Txn, key: &[u8], n: i64) {
    t.put(key, n.to_string().as_bytes()).unwrap();
}

fn rows(it: Iter) -> Vec<(Vec<u8>, i64)> {
    it.map(|r| {
        let (k, v) = r.unwrap();
        (k, parse(&v))
    })
    .collect()
}

/// What a transaction sees under "test:".
fn txn_rows(t: &mut Txn) -> Vec<(Vec<u8>, i64)> {
    rows(t.iter(&IterOptions::prefix(b"test:")).unwrap())
}

fn row(k: &[u8], n: i64) -> (Vec<u8>, i64) {
    (k.to_vec(), n)
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(r: katamari::Result<T>) {
    assert!(
        matches!(r, Err(Error::Conflict)),
        "expected Conflict, got {r:?}"
    );
}

fn entries(it: Iter) -> Vec<(Vec<u8>, Vec<u8>)> {
    it.map(|r| r.unwrap()).collect()
}

fn keys(it: Iter) -> Vec<Vec<u8>> {
    it.map(|r| r.unwrap().0).collect()
}

// ---------------------------------------------------------------------------------------
// Hermitage anomalies.

/// G0 (write cycles / dirty write): two transactions writing the same rows can never
/// interleave their writes; the second committer fails and writes nothing.
#[test]
fn g0_no_dirty_write() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    set(&mut t1, T1, 11);
    set(&mut t2, T1, 12);
    set(&mut t1, T2, 21);
    t1.commit().unwrap();
    set(&mut t2, T2, 22);
    assert_conflict(t2.commit());
    assert_eq!(fx.rows(), vec![row(T1, 11), row(T2, 21)]);

    // The same with the other transaction committing first.
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    set(&mut t1, T1, 31);
    set(&mut t2, T1, 32);
    set(&mut t1, T2, 41);
    set(&mut t2, T2, 42);
    t2.commit().unwrap();
    assert_conflict(t1.commit());
    assert_eq!(fx.rows(), vec![row(T1, 32), row(T2, 42)]);
}

/// G1a (aborted reads): nothing an aborted (or dropped) transaction wrote is ever seen.
#[test]
fn g1a_no_aborted_read() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    set(&mut t1, T1, 101);
    assert_eq!(num(&mut t2, T1), Some(10));
    t1.abort();
    assert_eq!(num(&mut t2, T1), Some(10));
    assert_eq!(txn_rows(&mut t2), vec![row(T1, 10), row(T2, 20)]);
    t2.commit().unwrap();
    assert_eq!(fx.rows(), vec![row(T1, 10), row(T2, 20)]);

    // Dropping a transaction aborts it too.
    {
        let mut t = fx.begin();
        set(&mut t, T2, 202);
        t.delete(T1).unwrap();
    }
    let mut t3 = fx.begin();
    assert_eq!(txn_rows(&mut t3), vec![row(T1, 10), row(T2, 20)]);
    assert_eq!(fx.rows(), vec![row(T1, 10), row(T2, 20)]);
}

/// G1b (intermediate reads): a reader never sees a value that was later overwritten by
/// the same transaction, before or after that transaction commits.
#[test]
fn g1b_no_intermediate_read() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    set(&mut t1, T1, 101);
    assert_eq!(num(&mut t2, T1), Some(10));
    set(&mut t1, T1, 11);
    t1.commit().unwrap();
    assert_eq!(num(&mut t2, T1), Some(10), "t2 keeps its snapshot");
    assert_eq!(txn_rows(&mut t2), vec![row(T1, 10), row(T2, 20)]);
    t2.commit().unwrap();
    let mut t3 = fx.begin();
    assert_eq!(
        num(&mut t3, T1),
        Some(11),
        "only the final value is visible"
    );
}

/// G1c (circular information flow): two transactions each writing a row the other reads
/// do not see each other's writes.
#[test]
fn g1c_no_circular_information_flow() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    set(&mut t1, T1, 11);
    set(&mut t2, T2, 22);
    assert_eq!(num(&mut t1, T2), Some(20));
    assert_eq!(num(&mut t2, T1), Some(10));
    t1.commit().unwrap();
    t2.commit().unwrap();
    assert_eq!(fx.rows(), vec![row(T1, 11), row(T2, 22)]);
}

/// OTV (observed transaction vanishes): a third transaction that saw t1's commit keeps
/// seeing exactly it, never a mix with t2's writes (t2 then fails: first committer wins).
#[test]
fn otv_observed_transaction_does_not_vanish() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    set(&mut t1, T1, 11);
    set(&mut t1, T2, 19);
    set(&mut t2, T1, 12);
    t1.commit().unwrap();
    let mut t3 = fx.begin();
    assert_eq!(num(&mut t3, T1), Some(11));
    set(&mut t2, T2, 18);
    assert_eq!(num(&mut t3, T2), Some(19));
    assert_conflict(t2.commit());
    assert_eq!(num(&mut t3, T1), Some(11));
    assert_eq!(num(&mut t3, T2), Some(19));
    assert_eq!(txn_rows(&mut t3), vec![row(T1, 11), row(T2, 19)]);
    t3.commit().unwrap();
    assert_eq!(fx.rows(), vec![row(T1, 11), row(T2, 19)]);
}

/// PMP (predicate many preceders): a predicate read (a prefix or range scan) repeated in
/// one transaction sees no phantom row inserted and committed by another meanwhile.
#[test]
fn pmp_no_phantom_in_repeated_predicate_read() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    let thirty = |t: &mut Txn| -> Vec<(Vec<u8>, i64)> {
        txn_rows(t).into_iter().filter(|(_, v)| *v == 30).collect()
    };
    assert!(thirty(&mut t1).is_empty());
    // An iterator opened before the insert, read after it.
    let early = t1.iter(&IterOptions::range(b"test:", b"test;")).unwrap();
    set(&mut t2, T3, 30);
    t2.commit().unwrap();
    assert!(thirty(&mut t1).is_empty(), "prefix scan sees a phantom");
    assert_eq!(
        rows(t1.iter(&IterOptions::range(b"test:", b"test;")).unwrap()),
        vec![row(T1, 10), row(T2, 20)],
        "range scan sees a phantom"
    );
    assert_eq!(
        rows(t1.iter(&IterOptions::prefix(b"test:").reversed()).unwrap()),
        vec![row(T2, 20), row(T1, 10)],
        "reverse scan sees a phantom"
    );
    assert_eq!(rows(early), vec![row(T1, 10), row(T2, 20)]);
    t1.commit().unwrap();
    assert_eq!(fx.rows(), vec![row(T1, 10), row(T2, 20), row(T3, 30)]);
}

/// PMP write: a transaction that deletes the rows its predicate read matched, after
/// another committed an update to those rows, fails instead of losing that update.
#[test]
fn pmp_write_predicate_then_conflicting_delete() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    for (k, v) in txn_rows(&mut t1) {
        set(&mut t1, &k, v + 10);
    }
    let matching: Vec<Vec<u8>> = txn_rows(&mut t2)
        .into_iter()
        .filter(|(_, v)| *v == 20)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(matching, vec![T2.to_vec()], "t2 sees the old values");
    t1.commit().unwrap();
    for k in &matching {
        t2.delete(k).unwrap();
    }
    assert_conflict(t2.commit());
    assert_eq!(fx.rows(), vec![row(T1, 20), row(T2, 30)]);
}

/// P4 (lost update): two read-modify-write increments of one row; the second committer
/// gets `Conflict`, and retrying it applies both increments.
#[test]
fn p4_no_lost_update() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    let a = num(&mut t1, T1).unwrap();
    let b = num(&mut t2, T1).unwrap();
    set(&mut t1, T1, a + 1);
    set(&mut t2, T1, b + 1);
    t1.commit().unwrap();
    assert_conflict(t2.commit());
    assert_eq!(fx.num(T1), Some(11));
    let mut retry = fx.begin();
    let c = num(&mut retry, T1).unwrap();
    set(&mut retry, T1, c + 1);
    retry.commit().unwrap();
    assert_eq!(fx.num(T1), Some(12));

    // A one-shot write counts as a committer too.
    let mut t = fx.begin();
    let v = num(&mut t, T2).unwrap();
    fx.db.put(T2, b"25").unwrap();
    set(&mut t, T2, v + 1);
    assert_conflict(t.commit());
    assert_eq!(fx.num(T2), Some(25));
}

/// G-single (read skew): a transaction that read one row before another transaction
/// changed both rows reads the other row from the same snapshot (the sum stays 30).
#[test]
fn g_single_no_read_skew() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    assert_eq!(num(&mut t1, T1), Some(10));
    assert_eq!(num(&mut t2, T1), Some(10));
    assert_eq!(num(&mut t2, T2), Some(20));
    set(&mut t2, T1, 12);
    set(&mut t2, T2, 18);
    t2.commit().unwrap();
    assert_eq!(num(&mut t1, T2), Some(20));
    assert_eq!(txn_rows(&mut t1), vec![row(T1, 10), row(T2, 20)]);
    t1.commit().unwrap();
    assert_eq!(fx.rows(), vec![row(T1, 12), row(T2, 18)]);
}

/// G-single with a predicate read: a repeated scan shows neither of t2's updates.
#[test]
fn g_single_predicate_read_is_stable() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    let fives = |t: &mut Txn| -> Vec<(Vec<u8>, i64)> {
        txn_rows(t)
            .into_iter()
            .filter(|(_, v)| v % 5 == 0)
            .collect()
    };
    assert_eq!(fives(&mut t1), vec![row(T1, 10), row(T2, 20)]);
    set(&mut t2, T1, 12);
    set(&mut t2, T2, 18);
    t2.commit().unwrap();
    assert_eq!(fives(&mut t1), vec![row(T1, 10), row(T2, 20)]);
    t1.commit().unwrap();
}

/// G-single write variants: a transaction that read before t2's commit and then writes
/// a row t2 wrote fails, in either commit order.
#[test]
fn g_single_write_conflicts() {
    // t2 commits before t1 writes.
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    assert_eq!(num(&mut t1, T1), Some(10));
    set(&mut t2, T1, 12);
    set(&mut t2, T2, 18);
    t2.commit().unwrap();
    t1.delete(T2).unwrap();
    assert_conflict(t1.commit());
    assert_eq!(fx.rows(), vec![row(T1, 12), row(T2, 18)]);

    // t1 writes first but t2 commits first.
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    assert_eq!(num(&mut t1, T1), Some(10));
    set(&mut t2, T1, 12);
    t1.delete(T2).unwrap();
    set(&mut t2, T2, 18);
    t1.commit().unwrap();
    assert_conflict(t2.commit());
    assert_eq!(fx.rows(), vec![row(T1, 10)]);
}

/// G2-item (write skew): both read both rows and each updates a different one. Snapshot
/// isolation allows it (both commit); serializable mode fails the second committer.
#[test]
fn g2_item_write_skew_allowed_in_snapshot_prevented_in_serializable() {
    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    for t in [&mut t1, &mut t2] {
        assert_eq!(num(t, T1), Some(10));
        assert_eq!(num(t, T2), Some(20));
    }
    set(&mut t1, T1, 11);
    set(&mut t2, T2, 21);
    t1.commit().unwrap();
    t2.commit().unwrap();
    assert_eq!(
        fx.rows(),
        vec![row(T1, 11), row(T2, 21)],
        "snapshot isolation admits write skew"
    );

    let fx = Fx::hermitage();
    let mut t1 = fx.serializable();
    let mut t2 = fx.serializable();
    for t in [&mut t1, &mut t2] {
        assert_eq!(num(t, T1), Some(10));
        assert_eq!(num(t, T2), Some(20));
    }
    set(&mut t1, T1, 11);
    set(&mut t2, T2, 21);
    t1.commit().unwrap();
    assert_conflict(t2.commit());
    assert_eq!(fx.rows(), vec![row(T1, 11), row(T2, 20)]);
}

/// G2 (anti-dependency cycles) with predicate reads: both scan for rows divisible by 3,
/// find none, and each inserts one. Snapshot isolation lets both commit; serializable
/// mode fails the second, whose scanned range changed.
#[test]
fn g2_predicate_anti_dependency_prevented_in_serializable() {
    let threes = |t: &mut Txn| -> usize { txn_rows(t).iter().filter(|(_, v)| v % 3 == 0).count() };

    let fx = Fx::hermitage();
    let mut t1 = fx.begin();
    let mut t2 = fx.begin();
    assert_eq!(threes(&mut t1), 0);
    assert_eq!(threes(&mut t2), 0);
    set(&mut t1, T3, 30);
    set(&mut t2, T4, 42);
    t1.commit().unwrap();
    t2.commit().unwrap();
    assert_eq!(fx.rows().len(), 4, "snapshot isolation admits the cycle");

    let fx = Fx::hermitage();
    let mut t1 = fx.serializable();
    let mut t2 = fx.serializable();
    assert_eq!(threes(&mut t1), 0);
    assert_eq!(threes(&mut t2), 0);
    set(&mut t1, T3, 30);
    set(&mut t2, T4, 42);
    t1.commit().unwrap();
    assert_conflict(t2.commit());
    assert_eq!(fx.rows(), vec![row(T1, 10), row(T2, 20), row(T3, 30)]);
}

/// G2 two-edge: t2 commits an update t3 then builds on; t1, which read before both,
/// writes t2's row and fails (in both modes).
#[test]
fn g2_two_edge() {
    for serializable in [false, true] {
        let fx = Fx::hermitage();
        let opts = TxnOptions {
            serializable,
            ..TxnOptions::default()
        };
        let mut t1 = fx.db.begin_with(opts).unwrap();
        let mut t2 = fx.db.begin_with(opts).unwrap();
        assert_eq!(num(&mut t1, T1), Some(10));
        let v = num(&mut t2, T2).unwrap();
        set(&mut t2, T2, v + 5);
        t2.commit().unwrap();
        let mut t3 = fx.db.begin_with(opts).unwrap();
        assert_eq!(num(&mut t3, T2), Some(25));
        let v = num(&mut t3, T1).unwrap();
        set(&mut t3, T1, v + 5);
        t3.commit().unwrap();
        set(&mut t1, T2, 0);
        assert_conflict(t1.commit());
        assert_eq!(fx.rows(), vec![row(T1, 15), row(T2, 25)]);
    }
}

/// Serializable validation is precise: a write outside a scanned range or to a key never
/// read does not fail the commit; one inside (insert, update or delete) does; and a
/// serializable transaction that only reads always commits.
#[test]
fn serializable_validation_covers_exactly_what_was_read() {
    let fx = Fx::hermitage();
    fx.db.put(b"other:1", b"1").unwrap();

    // Outside every read: no conflict.
    let mut t = fx.serializable();
    assert_eq!(txn_rows(&mut t).len(), 2);
    assert_eq!(t.get(b"other:1").unwrap().as_deref(), Some(&b"1"[..]));
    fx.db.put(b"other:2", b"2").unwrap();
    fx.db.put(b"zzz", b"x").unwrap();
    set(&mut t, T3, 30);
    t.commit().unwrap();

    // Insert, update and delete inside the scanned range each fail the commit.
    type Change = Box<dyn Fn(&Db)>;
    let changes: Vec<Change> = vec![
        Box::new(|db: &Db| db.put(b"test:0", b"0").unwrap()),
        Box::new(|db: &Db| db.put(T2, b"21").unwrap()),
        Box::new(|db: &Db| db.delete(T3).unwrap()),
        // Deleting a key that does not exist is still a write in the range.
        Box::new(|db: &Db| db.delete(b"test:9").unwrap()),
    ];
    for (i, change) in changes.iter().enumerate() {
        let mut t = fx.serializable();
        let seen = txn_rows(&mut t);
        change(&fx.db);
        t.put(b"other:3", i.to_string().as_bytes()).unwrap();
        assert_conflict(t.commit());
        assert_eq!(fx.db.get(b"other:3").unwrap(), None, "change {i}");
        assert!(!seen.is_empty());
    }

    // A point read changed by a later commit fails the commit.
    let mut t = fx.serializable();
    assert!(t.get(b"other:1").unwrap().is_some());
    fx.db.put(b"other:1", b"changed").unwrap();
    t.put(b"other:4", b"x").unwrap();
    assert_conflict(t.commit());

    // A read of an absent key that someone then creates fails the commit.
    let mut t = fx.serializable();
    assert!(t.get(b"ghost").unwrap().is_none());
    fx.db.put(b"ghost", b"boo").unwrap();
    t.put(b"other:5", b"x").unwrap();
    assert_conflict(t.commit());

    // Read-only serializable transactions never conflict.
    let mut t = fx.serializable();
    let before = txn_rows(&mut t);
    fx.db.put(T1, b"99").unwrap();
    assert_eq!(txn_rows(&mut t), before);
    t.commit().unwrap();

    // In snapshot mode the same read-then-write-elsewhere pattern commits.
    let mut t = fx.begin();
    assert!(t.get(b"other:1").unwrap().is_some());
    let _ = txn_rows(&mut t);
    fx.db.put(b"other:1", b"again").unwrap();
    fx.db.put(b"test:7", b"7").unwrap();
    t.put(b"other:6", b"x").unwrap();
    t.commit().unwrap();
    assert_eq!(fx.db.get(b"other:6").unwrap().as_deref(), Some(&b"x"[..]));
}

/// A serializable transaction that scanned an empty range (start above end) commits like
/// any other: the range validates trivially.
#[test]
fn serializable_commit_after_scanning_an_empty_inverted_range() {
    let fx = Fx::hermitage();
    let mut t = fx.serializable();
    assert!(keys(t.iter(&IterOptions::range(b"test:2", b"test:1")).unwrap()).is_empty());
    let inverted_by_prefix = IterOptions {
        prefix: Some(b"test:".to_vec()),
        start: Some(b"zzz".to_vec()),
        ..IterOptions::default()
    };
    assert!(keys(t.iter(&inverted_by_prefix).unwrap()).is_empty());
    set(&mut t, T3, 30);
    t.commit().unwrap();
    assert_eq!(fx.num(T3), Some(30));
}

/// A conflict writes nothing, even for keys nobody else touched.
#[test]
fn conflict_writes_nothing() {
    let fx = Fx::hermitage();
    let mut t = fx.begin();
    for i in 0..50 {
        t.put(format!("new:{i:02}").as_bytes(), b"x").unwrap();
    }
    t.delete(T2).unwrap();
    set(&mut t, T1, 1);
    fx.db.put(T1, b"77").unwrap();
    let before = fx.db.stats().unwrap().last_seq;
    assert_conflict(t.commit());
    assert_eq!(fx.db.stats().unwrap().last_seq, before);
    assert_eq!(fx.rows(), vec![row(T1, 77), row(T2, 20)]);
    assert!(keys(fx.db.iter(&IterOptions::prefix(b"new:")).unwrap()).is_empty());
}

// ---------------------------------------------------------------------------------------
// Read-only transactions and a transaction's own writes.

#[test]
fn read_only_txn_rejects_writes_and_never_conflicts() {
    let fx = Fx::hermitage();
    let mut t = fx
        .db
        .begin_with(TxnOptions {
            read_only: true,
            ..TxnOptions::default()
        })
        .unwrap();
    assert!(matches!(t.put(T1, b"1"), Err(Error::ReadOnly)));
    assert!(matches!(t.delete(T1), Err(Error::ReadOnly)));
    assert!(matches!(
        t.put_with_ttl(T3, b"1", Duration::from_secs(1)),
        Err(Error::ReadOnly)
    ));
    assert_eq!(num(&mut t, T1), Some(10));
    assert!(t.contains(T2).unwrap());
    fx.db.put(T1, b"11").unwrap();
    assert_eq!(num(&mut t, T1), Some(10));
    assert_eq!(txn_rows(&mut t), vec![row(T1, 10), row(T2, 20)]);
    let snap = t.snapshot_seq();
    assert_eq!(t.commit().unwrap(), snap);
    assert_eq!(fx.rows(), vec![row(T1, 11), row(T2, 20)]);
    assert!(!fx.db.contains(T3).unwrap());
}

#[test]
fn txn_sees_own_writes_and_nobody_else_does_until_commit() {
    let fx = Fx::hermitage();
    let mut t = fx.begin();
    let mut other = fx.begin();
    set(&mut t, T1, 11);
    t.delete(T2).unwrap();
    set(&mut t, T3, 30);
    t.put(b"test:\xff\xff", b"99").unwrap();
    t.put(b"test:", b"0").unwrap();

    assert_eq!(num(&mut t, T1), Some(11));
    assert_eq!(num(&mut t, T2), None);
    assert!(!t.contains(T2).unwrap());
    assert!(t.contains(T3).unwrap());
    let mine = vec![
        row(b"test:", 0),
        row(T1, 11),
        row(T3, 30),
        row(b"test:\xff\xff", 99),
    ];
    assert_eq!(txn_rows(&mut t), mine);
    let mut rev = mine.clone();
    rev.reverse();
    assert_eq!(
        rows(t.iter(&IterOptions::prefix(b"test:").reversed()).unwrap()),
        rev
    );

    // An iterator sees the writes made before it was created, not those after.
    let it = t.iter(&IterOptions::prefix(b"test:")).unwrap();
    set(&mut t, T4, 40);
    t.delete(T3).unwrap();
    assert_eq!(rows(it), mine);
    assert_eq!(num(&mut t, T4), Some(40));
    assert_eq!(num(&mut t, T3), None);

    // Deleting then writing again, overwriting twice: the last write wins.
    t.delete(T1).unwrap();
    set(&mut t, T1, 12);
    set(&mut t, T1, 13);
    assert_eq!(num(&mut t, T1), Some(13));

    // Nobody else sees any of it.
    assert_eq!(num(&mut other, T1), Some(10));
    assert_eq!(txn_rows(&mut other), vec![row(T1, 10), row(T2, 20)]);
    assert_eq!(fx.rows(), vec![row(T1, 10), row(T2, 20)]);
    assert!(!fx.db.contains(T4).unwrap());

    let seq = t.commit().unwrap();
    assert_eq!(fx.db.stats().unwrap().last_seq, seq);
    let want = vec![
        row(b"test:", 0),
        row(T1, 13),
        row(T4, 40),
        row(b"test:\xff\xff", 99),
    ];
    assert_eq!(fx.rows(), want);
    // `other` still reads its snapshot; a new transaction sees the commit.
    assert_eq!(txn_rows(&mut other), vec![row(T1, 10), row(T2, 20)]);
    other.commit().unwrap();
    let mut t3 = fx.begin();
    assert_eq!(txn_rows(&mut t3), want);
}

/// A transaction begun after a commit reads at that commit's sequence.
#[test]
fn txn_begun_after_commit_reads_at_its_sequence() {
    let fx = Fx::hermitage();
    let mut t = fx.begin();
    set(&mut t, T1, 1);
    let seq = t.commit().unwrap();
    let t2 = fx.begin();
    assert_eq!(t2.snapshot_seq(), seq);
}

// ---------------------------------------------------------------------------------------
// Iterator stability.

/// An iterator created before many overwrites and deletes (crossing segment rotations)
/// still yields exactly the data of its snapshot, whether it was partly consumed before
/// the writes or not, forward, reverse, and from a transaction.
#[test]
fn iterators_keep_their_snapshot_under_overwrites_and_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(
        tmp.path().join("db"),
        Options::default().sync(SyncMode::Never).segment_size(4096),
    )
    .unwrap();
    let key = |i: u32| format!("k{i:04}").into_bytes();
    let n = 300u32;
    for i in 0..n {
        db.put(&key(i), format!("orig{i}").as_bytes()).unwrap();
    }
    let original: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| (key(i), format!("orig{i}").into_bytes()))
        .collect();
    let mut reversed = original.clone();
    reversed.reverse();

    let fresh = db.iter(&IterOptions::default()).unwrap();
    let fresh_rev = db.iter(&IterOptions::default().reversed()).unwrap();
    let mut partial = db.iter(&IterOptions::prefix(b"k")).unwrap();
    let mut head = Vec::new();
    for _ in 0..20 {
        let (k, v) = partial.next_entry().unwrap().unwrap();
        head.push((k.to_vec(), v.to_vec()));
    }
    let mut txn = db.begin().unwrap();
    txn.put(&key(n), b"mine").unwrap();
    let txn_it = txn.iter(&IterOptions::default()).unwrap();
    let segments_before = db.stats().unwrap().segments;

    for round in 0..5 {
        for i in 0..n {
            db.put(
                &key(i),
                format!("r{round}-{i}-{}", "x".repeat(20)).as_bytes(),
            )
            .unwrap();
        }
    }
    for i in (0..n).step_by(2) {
        db.delete(&key(i)).unwrap();
    }
    for i in n..n + 50 {
        db.put(&key(i), b"new").unwrap();
    }
    db.put(b"a-before-everything", b"new").unwrap();
    assert!(db.stats().unwrap().segments > segments_before + 10);

    assert_eq!(entries(fresh), original);
    assert_eq!(entries(fresh_rev), reversed);
    let rest: Vec<_> = partial.by_ref().map(|r| r.unwrap()).collect();
    head.extend(rest);
    assert_eq!(head, original);
    // Walking back over the whole snapshot after the writes.
    let mut back = Vec::new();
    while let Some((k, v)) = partial.prev_entry().unwrap() {
        back.push((k.to_vec(), v.to_vec()));
    }
    assert_eq!(back, reversed);
    let mut with_own = original.clone();
    with_own.push((key(n), b"mine".to_vec()));
    assert_eq!(entries(txn_it), with_own);
    // The transaction itself also still reads its snapshot.
    assert_eq!(txn.get(&key(0)).unwrap(), Some(b"orig0".to_vec()));
    txn.abort();

    // A new iterator sees the new state.
    let now = keys(db.iter(&IterOptions::prefix(b"k")).unwrap());
    assert_eq!(now.len(), (n / 2 + 50) as usize);
    db.close().unwrap();
}

/// An iterator outlives the transaction it came from and keeps that snapshot.
#[test]
fn txn_iterator_outlives_its_transaction() {
    let fx = Fx::hermitage();
    let mut t = fx.begin();
    set(&mut t, T3, 30);
    let it = t.iter(&IterOptions::prefix(b"test:")).unwrap();
    t.commit().unwrap();
    fx.db.put(T1, b"1000").unwrap();
    fx.db.delete(T2).unwrap();
    assert_eq!(rows(it), vec![row(T1, 10), row(T2, 20), row(T3, 30)]);
}

// ---------------------------------------------------------------------------------------
// Memory stays bounded while a snapshot lives long.

const OVERWRITES: u32 = 100_000;
const KEYDIR_LIMIT: u64 = 1 << 20;
const HEAP_LIMIT: i64 = 1 << 20;

fn big_segments() -> Options {
    Options::default().sync(SyncMode::Never)
}

/// Hold a transaction open while one key is overwritten 100,000 times by one-shot puts:
/// only the version the snapshot needs is kept, the index stays small, heap use does not
/// grow with the number of writes, and releasing the snapshot frees it.
#[test]
fn long_lived_snapshot_keeps_memory_bounded_under_one_shot_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), big_segments()).unwrap();
    db.put(b"hot", b"v-initial").unwrap();
    db.put(b"cold", b"c").unwrap();
    let mut held = db.begin().unwrap();
    let base_keydir = db.stats().unwrap().keydir_bytes;
    let base_heap = heap();
    let mut max_keydir = 0;
    for i in 0..OVERWRITES {
        db.put(b"hot", format!("v{i}").as_bytes()).unwrap();
        if i % 1000 == 0 {
            max_keydir = max_keydir.max(db.stats().unwrap().keydir_bytes);
        }
    }
    let grown = heap() - base_heap;
    let stats = db.stats().unwrap();
    max_keydir = max_keydir.max(stats.keydir_bytes);
    assert!(
        max_keydir < KEYDIR_LIMIT,
        "keydir grew to {max_keydir} bytes (from {base_keydir}) under a held snapshot"
    );
    assert!(
        grown < HEAP_LIMIT,
        "heap grew by {grown} bytes over {OVERWRITES} overwrites under a held snapshot"
    );
    assert_eq!(held.get(b"hot").unwrap(), Some(b"v-initial".to_vec()));
    assert_eq!(
        db.get(b"hot").unwrap(),
        Some(format!("v{}", OVERWRITES - 1).into_bytes())
    );
    held.commit().unwrap();

    // Released: more writes do not grow it either.
    let after_release = db.stats().unwrap().keydir_bytes;
    let heap_after_release = heap();
    for i in 0..10_000u32 {
        db.put(b"hot", format!("w{i}").as_bytes()).unwrap();
    }
    let later = db.stats().unwrap().keydir_bytes;
    assert!(
        later <= after_release,
        "keydir grew from {after_release} to {later} with no snapshot open"
    );
    assert!(heap() - heap_after_release < HEAP_LIMIT);
    assert!(later <= base_keydir + 1024, "{later} vs {base_keydir}");
    db.close().unwrap();
}

/// The same with the overwrites made by 100,000 transactions.
#[test]
fn long_lived_snapshot_keeps_memory_bounded_under_txn_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), big_segments()).unwrap();
    db.put(b"hot", b"v-initial").unwrap();
    let mut held = db.begin().unwrap();
    let base_keydir = db.stats().unwrap().keydir_bytes;
    let base_heap = heap();
    let mut max_keydir = 0;
    for i in 0..OVERWRITES {
        let mut t = db.begin().unwrap();
        t.put(b"hot", format!("v{i}").as_bytes()).unwrap();
        t.commit().unwrap();
        if i % 1000 == 0 {
            max_keydir = max_keydir.max(db.stats().unwrap().keydir_bytes);
        }
    }
    let grown = heap() - base_heap;
    max_keydir = max_keydir.max(db.stats().unwrap().keydir_bytes);
    assert!(
        max_keydir < KEYDIR_LIMIT,
        "keydir grew to {max_keydir} bytes (from {base_keydir}) under a held snapshot"
    );
    assert!(
        grown < HEAP_LIMIT,
        "heap grew by {grown} bytes over {OVERWRITES} txn overwrites under a held snapshot"
    );
    assert_eq!(held.get(b"hot").unwrap(), Some(b"v-initial".to_vec()));
    held.abort();

    let after_release = db.stats().unwrap().keydir_bytes;
    let heap_after_release = heap();
    for i in 0..10_000u32 {
        let mut t = db.begin().unwrap();
        t.put(b"hot", format!("w{i}").as_bytes()).unwrap();
        t.commit().unwrap();
    }
    let later = db.stats().unwrap().keydir_bytes;
    assert!(later <= after_release, "{later} > {after_release}");
    assert!(heap() - heap_after_release < HEAP_LIMIT);
    db.close().unwrap();
}

/// Overwrites that alternate puts and deletes of one key under a held snapshot: the
/// snapshot needs one old version and the newest tombstone at most, so memory must not
/// grow with the number of deletions either.
#[test]
fn long_lived_snapshot_keeps_memory_bounded_under_put_delete_churn() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), big_segments()).unwrap();
    db.put(b"hot", b"v-initial").unwrap();
    let mut held = db.begin().unwrap();
    let base_heap = heap();
    let mut max_keydir = 0;
    for i in 0..OVERWRITES / 2 {
        db.put(b"hot", format!("v{i}").as_bytes()).unwrap();
        db.delete(b"hot").unwrap();
        if i % 1000 == 0 {
            max_keydir = max_keydir.max(db.stats().unwrap().keydir_bytes);
        }
    }
    let grown = heap() - base_heap;
    assert!(
        max_keydir < KEYDIR_LIMIT,
        "keydir grew to {max_keydir} bytes"
    );
    assert!(
        grown < HEAP_LIMIT,
        "heap grew by {grown} bytes over {OVERWRITES} puts and deletes of one key under a \
         held snapshot"
    );
    assert_eq!(held.get(b"hot").unwrap(), Some(b"v-initial".to_vec()));
    assert_eq!(db.get(b"hot").unwrap(), None);
    held.abort();
    db.close().unwrap();
}

// ---------------------------------------------------------------------------------------
// TTL.

#[test]
fn expired_key_is_invisible_at_once_everywhere() {
    let fx = Fx::empty();
    fx.db
        .put_with_ttl(b"ttl:a", b"short", Duration::from_millis(100))
        .unwrap();
    fx.db
        .put_with_ttl(b"ttl:b", b"long", Duration::from_millis(1000))
        .unwrap();
    fx.db.put(b"ttl:c", b"forever").unwrap();
    let all = |fx: &Fx| keys(fx.db.iter(&IterOptions::prefix(b"ttl:")).unwrap());

    fx.advance(99);
    assert_eq!(fx.db.get(b"ttl:a").unwrap(), Some(b"short".to_vec()));
    assert!(fx.db.contains(b"ttl:a").unwrap());
    assert_eq!(all(&fx).len(), 3);

    fx.advance(1);
    let mut t = fx.begin();
    assert_eq!(fx.db.get(b"ttl:a").unwrap(), None);
    assert!(!fx.db.contains(b"ttl:a").unwrap());
    assert_eq!(all(&fx), vec![b"ttl:b".to_vec(), b"ttl:c".to_vec()]);
    assert_eq!(
        keys(fx.db.iter(&IterOptions::default().reversed()).unwrap()),
        vec![b"ttl:c".to_vec(), b"ttl:b".to_vec()]
    );
    assert_eq!(
        keys(fx.db.iter(&IterOptions::range(b"ttl:a", b"ttl:b")).unwrap()),
        Vec::<Vec<u8>>::new()
    );
    assert_eq!(t.get(b"ttl:a").unwrap(), None);
    assert!(!t.contains(b"ttl:a").unwrap());
    assert_eq!(t.get(b"ttl:b").unwrap(), Some(b"long".to_vec()));
    assert_eq!(
        keys(t.iter(&IterOptions::prefix(b"ttl:")).unwrap()).len(),
        2
    );

    // A transaction begun before the expiry sees it expire too.
    fx.advance(900);
    assert_eq!(t.get(b"ttl:b").unwrap(), None);
    assert_eq!(
        keys(t.iter(&IterOptions::prefix(b"ttl:")).unwrap()),
        vec![b"ttl:c".to_vec()]
    );
    t.commit().unwrap();
    assert_eq!(all(&fx), vec![b"ttl:c".to_vec()]);

    // A plain put over an expired key makes it live again, with no expiry.
    fx.db.put(b"ttl:a", b"again").unwrap();
    fx.advance(1_000_000);
    assert_eq!(fx.db.get(b"ttl:a").unwrap(), Some(b"again".to_vec()));
    // A TTL put over a plain key gives it an expiry.
    fx.db
        .put_with_ttl(b"ttl:c", b"soon", Duration::from_millis(5))
        .unwrap();
    assert_eq!(fx.db.get(b"ttl:c").unwrap(), Some(b"soon".to_vec()));
    fx.advance(5);
    assert_eq!(fx.db.get(b"ttl:c").unwrap(), None);
}

#[test]
fn expiry_survives_reopen() {
    let mut fx = Fx::empty();
    fx.db
        .put_with_ttl(b"k1", b"v", Duration::from_millis(50))
        .unwrap();
    fx.db
        .put_with_ttl(b"k2", b"v", Duration::from_millis(500))
        .unwrap();
    fx.advance(60);
    fx.reopen();
    assert_eq!(fx.db.get(b"k1").unwrap(), None);
    assert_eq!(fx.db.get(b"k2").unwrap(), Some(b"v".to_vec()));
    assert_eq!(
        keys(fx.db.iter(&IterOptions::default()).unwrap()),
        vec![b"k2".to_vec()]
    );
    fx.advance(440);
    fx.reopen();
    assert_eq!(fx.db.get(b"k2").unwrap(), None);
    assert!(keys(fx.db.iter(&IterOptions::default()).unwrap()).is_empty());
}

#[test]
fn ttl_through_a_transaction() {
    let fx = Fx::empty();
    fx.db.put(b"plain", b"p").unwrap();
    let mut t = fx.begin();
    t.put_with_ttl(b"t:a", b"a", Duration::from_millis(50))
        .unwrap();
    t.put_with_ttl(b"t:b", b"b", Duration::from_millis(500))
        .unwrap();
    assert_eq!(t.get(b"t:a").unwrap(), Some(b"a".to_vec()));
    assert_eq!(keys(t.iter(&IterOptions::prefix(b"t:")).unwrap()).len(), 2);

    // The expiry runs from the put, not the commit; the writer's own view obeys it.
    fx.advance(50);
    assert_eq!(t.get(b"t:a").unwrap(), None);
    assert!(!t.contains(b"t:a").unwrap());
    assert_eq!(
        keys(t.iter(&IterOptions::prefix(b"t:")).unwrap()),
        vec![b"t:b".to_vec()]
    );
    assert_eq!(
        keys(t.iter(&IterOptions::prefix(b"t:").reversed()).unwrap()),
        vec![b"t:b".to_vec()]
    );
    t.commit().unwrap();
    assert_eq!(fx.db.get(b"t:a").unwrap(), None);
    assert_eq!(fx.db.get(b"t:b").unwrap(), Some(b"b".to_vec()));
    fx.advance(449);
    assert!(fx.db.contains(b"t:b").unwrap());
    fx.advance(1);
    assert!(!fx.db.contains(b"t:b").unwrap());
    assert_eq!(
        keys(fx.db.iter(&IterOptions::default()).unwrap()),
        vec![b"plain".to_vec()]
    );

    // A TTL write replaces a plain value inside a transaction, and a plain write
    // replaces a TTL one.
    let mut t = fx.begin();
    t.put_with_ttl(b"plain", b"temp", Duration::from_millis(10))
        .unwrap();
    t.put_with_ttl(b"x", b"temp", Duration::from_millis(10))
        .unwrap();
    t.put(b"x", b"kept").unwrap();
    t.commit().unwrap();
    fx.advance(10);
    assert_eq!(fx.db.get(b"plain").unwrap(), None);
    assert_eq!(fx.db.get(b"x").unwrap(), Some(b"kept".to_vec()));
}

// ---------------------------------------------------------------------------------------
// Iterator ordering.

fn ordering_fixture() -> (Fx, Vec<Vec<u8>>) {
    let fx = Fx::empty();
    let mut ks: Vec<Vec<u8>> = [
        &b"a"[..],
        b"a\x00",
        b"a\x01",
        b"a\x7f",
        b"a\x80",
        b"a\xfe",
        b"a\xff",
        b"a\xff\x00",
        b"a\xff\xff",
        b"a\xff\xff\x01",
        b"a\xff\xff\xff",
        b"ab",
        b"b",
        b"\x00",
        b"\x7f",
        b"\x80",
        b"\xff",
        b"\xff\x00",
        b"\xff\xff",
        b"\xff\xff\xff",
    ]
    .iter()
    .map(|k| k.to_vec())
    .collect();
    // Insert in a scrambled order.
    for (i, k) in ks.iter().enumerate().rev().filter(|(i, _)| i % 2 == 0) {
        fx.db.put(k, format!("{i}").as_bytes()).unwrap();
    }
    for (i, k) in ks.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        fx.db.put(k, format!("{i}").as_bytes()).unwrap();
    }
    ks.sort();
    (fx, ks)
}

#[test]
fn iteration_is_bytewise_lexicographic_and_reverse_is_exact_reverse() {
    let (fx, ks) = ordering_fixture();
    assert_eq!(keys(fx.db.iter(&IterOptions::default()).unwrap()), ks);
    let mut rev = ks.clone();
    rev.reverse();
    assert_eq!(
        keys(fx.db.iter(&IterOptions::default().reversed()).unwrap()),
        rev
    );
    // The same through a transaction, with its own writes mixed in.
    let mut t = fx.begin();
    t.put(b"a\xff\xff\x00", b"mine").unwrap();
    t.delete(b"a\x80").unwrap();
    let mut want = ks.clone();
    want.push(b"a\xff\xff\x00".to_vec());
    want.retain(|k| k != b"a\x80");
    want.sort();
    assert_eq!(keys(t.iter(&IterOptions::default()).unwrap()), want);
    want.reverse();
    assert_eq!(
        keys(t.iter(&IterOptions::default().reversed()).unwrap()),
        want
    );
}

#[test]
fn prefix_includes_keys_with_ff_bytes_after_it() {
    let (fx, ks) = ordering_fixture();
    for prefix in [
        &b"a"[..],
        b"a\xff",
        b"a\xff\xff",
        b"\xff",
        b"\xff\xff",
        b"",
        b"a\x00",
        b"c",
    ] {
        let want: Vec<Vec<u8>> = ks
            .iter()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        assert_eq!(
            keys(fx.db.iter(&IterOptions::prefix(prefix)).unwrap()),
            want,
            "prefix {}",
            prefix.escape_ascii()
        );
        let mut rev = want.clone();
        rev.reverse();
        assert_eq!(
            keys(fx.db.iter(&IterOptions::prefix(prefix).reversed()).unwrap()),
            rev,
            "reverse prefix {}",
            prefix.escape_ascii()
        );
        let mut t = fx.begin();
        assert_eq!(keys(t.iter(&IterOptions::prefix(prefix)).unwrap()), want);
    }
    // Spelled out: prefix "a\xff" includes "a\xff\xff\x01".
    let got = keys(fx.db.iter(&IterOptions::prefix(b"a\xff")).unwrap());
    assert!(got.contains(&b"a\xff\xff\x01".to_vec()));
    assert!(got.contains(&b"a\xff\xff\xff".to_vec()));
    assert!(!got.contains(&b"b".to_vec()));
    assert!(!got.contains(&b"a\xfe".to_vec()));
}

#[test]
fn range_start_is_inclusive_end_exclusive_and_combines_with_prefix() {
    let (fx, ks) = ordering_fixture();
    let within = |lo: &[u8], hi: &[u8]| -> Vec<Vec<u8>> {
        ks.iter()
            .filter(|k| k.as_slice() >= lo && k.as_slice() < hi)
            .cloned()
            .collect()
    };
    for (lo, hi) in [
        (&b"a"[..], &b"b"[..]),
        (b"a\xff", b"a\xff\xff\x01"),
        (b"a\x00", b"a\x00"),
        (b"\xff", b"\xff\xff\xff"),
        (b"", b"\xff\xff\xff\xff"),
        (b"b", b"a"),
    ] {
        assert_eq!(
            keys(fx.db.iter(&IterOptions::range(lo, hi)).unwrap()),
            within(lo, hi)
        );
        let mut rev = within(lo, hi);
        rev.reverse();
        assert_eq!(
            keys(fx.db.iter(&IterOptions::range(lo, hi).reversed()).unwrap()),
            rev
        );
    }
    let opts = IterOptions {
        prefix: Some(b"a\xff".to_vec()),
        start: Some(b"a\xff\x00".to_vec()),
        end: Some(b"a\xff\xff\xff".to_vec()),
        reverse: false,
    };
    assert_eq!(
        keys(fx.db.iter(&opts).unwrap()),
        vec![
            b"a\xff\x00".to_vec(),
            b"a\xff\xff".to_vec(),
            b"a\xff\xff\x01".to_vec()
        ]
    );
}

#[test]
fn seek_next_prev_and_the_ends() {
    let (fx, ks) = ordering_fixture();
    let mut it = fx.db.iter(&IterOptions::default()).unwrap();
    // prev before anything: None, and it stays at the start.
    assert!(it.prev_entry().unwrap().is_none());
    assert!(it.current().is_none());
    assert_eq!(it.next_entry().unwrap().unwrap().0, &ks[0][..]);
    assert!(it.prev_entry().unwrap().is_none(), "prev at start");
    assert!(it.prev_entry().unwrap().is_none());
    assert_eq!(it.next_entry().unwrap().unwrap().0, &ks[0][..]);

    // prev after next steps back one.
    assert_eq!(it.next_entry().unwrap().unwrap().0, &ks[1][..]);
    assert_eq!(it.next_entry().unwrap().unwrap().0, &ks[2][..]);
    assert_eq!(it.prev_entry().unwrap().unwrap().0, &ks[1][..]);
    assert_eq!(it.current().unwrap().0, &ks[1][..]);
    assert_eq!(it.next_entry().unwrap().unwrap().0, &ks[2][..]);

    // seek to an exact key, between keys, before all and past all.
    it.seek(b"a\xff\xff");
    assert!(it.current().is_none());
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"a\xff\xff");
    it.seek(b"a\xff\xff\x00");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"a\xff\xff\x01");
    assert_eq!(it.prev_entry().unwrap().unwrap().0, b"a\xff\xff");
    it.seek(b"");
    assert_eq!(it.next_entry().unwrap().unwrap().0, &ks[0][..]);
    it.seek(b"\xff\xff\xff\x00");
    assert!(it.next_entry().unwrap().is_none());

    // next at the end: None, repeatedly; prev from there is the last entry.
    it.seek(b"\xff\xff");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"\xff\xff");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"\xff\xff\xff");
    assert!(it.next_entry().unwrap().is_none(), "next at end");
    assert!(it.next_entry().unwrap().is_none());
    assert!(it.current().is_none());
    assert_eq!(it.prev_entry().unwrap().unwrap().0, b"\xff\xff\xff");
    assert_eq!(it.prev_entry().unwrap().unwrap().0, b"\xff\xff");

    // Walking all the way back visits every key in reverse.
    let mut back = vec![b"\xff\xff".to_vec()];
    while let Some((k, _)) = it.prev_entry().unwrap() {
        back.push(k.to_vec());
    }
    let mut rev = ks.clone();
    rev.reverse();
    assert_eq!(back, rev[1..].to_vec());
}

#[test]
fn reverse_iterator_seek_next_prev() {
    let (fx, ks) = ordering_fixture();
    let mut rev = ks.clone();
    rev.reverse();
    let mut it = fx.db.iter(&IterOptions::default().reversed()).unwrap();
    assert!(it.prev_entry().unwrap().is_none());
    assert_eq!(it.next_entry().unwrap().unwrap().0, &rev[0][..]);
    assert_eq!(it.next_entry().unwrap().unwrap().0, &rev[1][..]);
    assert_eq!(it.prev_entry().unwrap().unwrap().0, &rev[0][..]);
    assert!(
        it.prev_entry().unwrap().is_none(),
        "prev at start of a reverse iterator"
    );
    // seek on a reverse iterator: the first key at or below.
    it.seek(b"a\xff\xff\x00");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"a\xff\xff");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"a\xff\x00");
    assert_eq!(it.prev_entry().unwrap().unwrap().0, b"a\xff\xff");
    it.seek(b"a\xff");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"a\xff");
    it.seek(b"\x00");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"\x00");
    assert!(
        it.next_entry().unwrap().is_none(),
        "next at end of a reverse iterator"
    );
    assert_eq!(it.prev_entry().unwrap().unwrap().0, b"\x00");
    it.seek(b"");
    assert!(it.next_entry().unwrap().is_none());
}

/// A transaction's iterator steps over long runs of keys the transaction deleted (longer
/// than one fetch batch), forward, in reverse and with prev.
#[test]
fn txn_iterator_skips_runs_of_own_deletes() {
    let fx = Fx::empty();
    let key = |i: u32| format!("k{i:03}").into_bytes();
    for i in 0..100 {
        fx.db.put(&key(i), b"v").unwrap();
    }
    let mut t = fx.begin();
    for i in (10..60).chain(70..95) {
        t.delete(&key(i)).unwrap();
    }
    let want: Vec<Vec<u8>> = (0..10).chain(60..70).chain(95..100).map(key).collect();
    assert_eq!(keys(t.iter(&IterOptions::prefix(b"k")).unwrap()), want);
    let mut rev = want.clone();
    rev.reverse();
    assert_eq!(
        keys(t.iter(&IterOptions::prefix(b"k").reversed()).unwrap()),
        rev
    );
    let mut it = t.iter(&IterOptions::prefix(b"k")).unwrap();
    it.seek(&key(60));
    assert_eq!(it.next_entry().unwrap().unwrap().0, &key(60)[..]);
    assert_eq!(it.prev_entry().unwrap().unwrap().0, &key(9)[..]);
    assert_eq!(it.next_entry().unwrap().unwrap().0, &key(60)[..]);
    it.seek(&key(69));
    assert_eq!(it.next_entry().unwrap().unwrap().0, &key(69)[..]);
    assert_eq!(it.next_entry().unwrap().unwrap().0, &key(95)[..]);
    assert_eq!(it.prev_entry().unwrap().unwrap().0, &key(69)[..]);
}
