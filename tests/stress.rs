//! Concurrency stress: eight threads for a bounded time on one database.
//!
//! * transfer threads move money between 50 accounts in transactions (some serializable),
//!   retrying on `Conflict`;
//! * read-only transactions sum every balance through an iterator (forward and reverse)
//!   and through gets, and must always see the exact total, also when held open for a
//!   while;
//! * a serializable auditor reads every balance and records the sum;
//! * one-shot readers check each balance and sum snapshots from `Db::iter`;
//! * a noise writer makes one-shot puts, TTL puts and deletes elsewhere so segments
//!   rotate.
//!
//! At the end the total is checked, then again after a reopen. `KAT_STRESS_SECS` sets the
//! duration of the main run (default 3 s); a shorter run uses `SyncMode::Always` so
//! concurrent committers share syncs (group commit).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use katamari::{Db, Error, IterOptions, Options, SyncMode, Txn, TxnOptions, WriteBatch};

const ACCOUNTS: usize = 50;
const INITIAL: i64 = 1_000;
const TOTAL: i64 = ACCOUNTS as i64 * INITIAL;
const THREADS: usize = 8;

fn acct(i: usize) -> Vec<u8> {
    format!("acct:{i:02}").into_bytes()
}

fn parse(v: &[u8]) -> i64 {
    std::str::from_utf8(v)
        .expect("balance is text")
        .parse()
        .expect("balance is a number")
}

/// xorshift64*: a small deterministic generator per thread.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Counters {
    transfers: AtomicU64,
    conflicts: AtomicU64,
    insufficient: AtomicU64,
    txn_sums: AtomicU64,
    held_sums: AtomicU64,
    audits: AtomicU64,
    audit_conflicts: AtomicU64,
    one_shot_checks: AtomicU64,
    noise_writes: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn read_only(db: &Db) -> Txn {
    db.begin_with(TxnOptions {
        read_only: true,
        ..TxnOptions::default()
    })
    .unwrap()
}

/// Sums every balance of `t` through a prefix iterator (forward or reverse) and through
/// gets, checking both see the same 50 accounts and the exact total.
fn check_txn_total(t: &mut Txn, reverse: bool) {
    let mut opts = IterOptions::prefix(b"acct:");
    opts.reverse = reverse;
    let mut n = 0;
    let mut sum = 0;
    let mut seen = Vec::with_capacity(ACCOUNTS);
    for r in t.iter(&opts).unwrap() {
        let (k, v) = r.unwrap();
        let b = parse(&v);
        assert!(b >= 0, "negative balance {b} in {}", k.escape_ascii());
        sum += b;
        n += 1;
        seen.push((k, b));
    }
    assert_eq!(n, ACCOUNTS, "iterator saw {n} accounts");
    assert_eq!(sum, TOTAL, "iterator sum in one snapshot");
    if reverse {
        seen.reverse();
    }
    let mut by_get = 0;
    for (i, (k, b)) in seen.iter().enumerate() {
        assert_eq!(k, &acct(i), "accounts in key order");
        let g = parse(&t.get(k).unwrap().expect("account present"));
        assert_eq!(g, *b, "get and iterator disagree in one snapshot");
        by_get += g;
    }
    assert_eq!(by_get, TOTAL, "get sum in one snapshot");
}

/// One transfer attempt: `Ok(true)` moved money, `Ok(false)` balance too low.
fn transfer(db: &Db, rng: &mut Rng, serializable: bool) -> katamari::Result<bool> {
    let from = rng.below(ACCOUNTS as u64) as usize;
    let mut to = rng.below(ACCOUNTS as u64 - 1) as usize;
    if to >= from {
        to += 1;
    }
    let amount = 1 + rng.below(60) as i64;
    let mut t = db.begin_with(TxnOptions {
        serializable,
        ..TxnOptions::default()
    })?;
    let a = parse(&t.get(&acct(from))?.expect("account"));
    let b = parse(&t.get(&acct(to))?.expect("account"));
    if a < amount {
        t.abort();
        return Ok(false);
    }
    t.put(&acct(from), (a - amount).to_string().as_bytes())?;
    t.put(&acct(to), (b + amount).to_string().as_bytes())?;
    // Now and then a wider transaction: also touch a third account (a no-op write).
    if rng.below(8) == 0 {
        let c = (from + to + 1) % ACCOUNTS;
        if c != from && c != to {
            let v = t.get(&acct(c))?.expect("account");
            t.put(&acct(c), &v)?;
        }
    }
    t.commit()?;
    Ok(true)
}

/// Runs `body`, aborting the whole test process if it is still running `limit` after it
/// started: a hang (a deadlock) must fail the suite, not stall it.
fn with_watchdog<T>(name: &str, limit: Duration, body: impl FnOnce() -> T) -> T {
    struct Done(Arc<AtomicBool>);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let done = Done(Arc::new(AtomicBool::new(false)));
    let flag = done.0.clone();
    let name = name.to_string();
    std::thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(Ordering::SeqCst) {
            if start.elapsed() > limit {
                // Straight to the process's stderr: test output capture would swallow it.
                let _ = writeln!(
                    std::io::stderr(),
                    "{name}: still running {limit:?} after it started; deadlock suspected"
                );
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let out = body();
    drop(done);
    out
}

/// How long a run of `d` may take before the watchdog calls it hung.
fn hang_limit(d: Duration) -> Duration {
    d * 2 + Duration::from_secs(30)
}

fn check_committed_total(db: &Db, when: &str) {
    let mut sum = 0;
    for i in 0..ACCOUNTS {
        let b = parse(&db.get(&acct(i)).unwrap().expect("account present"));
        assert!(b >= 0, "{when}: negative balance {b}");
        sum += b;
    }
    assert_eq!(sum, TOTAL, "{when}: sum of gets");
    let mut t = read_only(db);
    check_txn_total(&mut t, false);
    check_txn_total(&mut t, true);
    let snap_sum: i64 = db
        .iter(&IterOptions::prefix(b"acct:"))
        .unwrap()
        .map(|r| parse(&r.unwrap().1))
        .sum();
    assert_eq!(snap_sum, TOTAL, "{when}: sum of a snapshot iterator");
}

fn run(sync: SyncMode, segment_size: u64, duration: Duration) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let options = || Options::default().sync(sync).segment_size(segment_size);
    let db = Db::open(&path, options()).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..ACCOUNTS {
        batch.put(&acct(i), INITIAL.to_string().as_bytes()).unwrap();
    }
    db.write(&batch).unwrap();

    let c = Counters::default();
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let segments_before = db.stats().unwrap().segments;

    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for id in 0..THREADS {
            let (db, c, stop) = (&db, &c, &stop);
            handles.push(s.spawn(move || {
                // A failing assertion in one thread stops the others.
                struct StopOnPanic<'a>(&'a AtomicBool);
                impl Drop for StopOnPanic<'_> {
                    fn drop(&mut self) {
                        if std::thread::panicking() {
                            self.0.store(true, Ordering::SeqCst);
                        }
                    }
                }
                let _guard = StopOnPanic(stop);
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((id as u64 + 1) * 0x1234_5679));
                let running = || Instant::now() < deadline && !stop.load(Ordering::SeqCst);
                match id {
                    // Transfers; thread 3 runs serializable transactions.
                    0..=3 => {
                        while running() {
                            loop {
                                match transfer(db, &mut rng, id == 3) {
                                    Ok(true) => bump(&c.transfers),
                                    Ok(false) => bump(&c.insufficient),
                                    Err(Error::Conflict) => {
                                        bump(&c.conflicts);
                                        continue;
                                    }
                                    Err(e) => panic!("transfer failed: {e}"),
                                }
                                break;
                            }
                        }
                    }
                    // Read-only transactions: fresh ones, and one held open across
                    // many checks while transfers commit.
                    4 => {
                        let mut held = read_only(db);
                        let mut uses = 0;
                        while running() {
                            let mut t = read_only(db);
                            check_txn_total(&mut t, rng.below(2) == 0);
                            t.commit().unwrap();
                            bump(&c.txn_sums);
                            check_txn_total(&mut held, rng.below(2) == 0);
                            bump(&c.held_sums);
                            uses += 1;
                            if uses == 20 {
                                held = read_only(db);
                                uses = 0;
                            }
                        }
                        held.abort();
                    }
                    // Serializable auditor: reads everything, records the sum.
                    5 => {
                        while running() {
                            let mut t = db
                                .begin_with(TxnOptions {
                                    serializable: true,
                                    ..TxnOptions::default()
                                })
                                .unwrap();
                            check_txn_total(&mut t, false);
                            t.put(b"audit:last", TOTAL.to_string().as_bytes()).unwrap();
                            match t.commit() {
                                Ok(_) => bump(&c.audits),
                                Err(Error::Conflict) => bump(&c.audit_conflicts),
                                Err(e) => panic!("audit failed: {e}"),
                            }
                        }
                    }
                    // One-shot readers.
                    6 => {
                        while running() {
                            for i in 0..ACCOUNTS {
                                let b = parse(&db.get(&acct(i)).unwrap().expect("account"));
                                assert!((0..=TOTAL).contains(&b), "balance {b} out of range");
                                assert!(db.contains(&acct(i)).unwrap());
                            }
                            let it = db.iter(&IterOptions::prefix(b"acct:")).unwrap();
                            let (n, sum) =
                                it.fold((0, 0), |(n, s), r| (n + 1, s + parse(&r.unwrap().1)));
                            assert_eq!((n, sum), (ACCOUNTS, TOTAL), "one-shot snapshot iterator");
                            bump(&c.one_shot_checks);
                        }
                    }
                    // Noise: writes elsewhere so segments rotate under everyone.
                    _ => {
                        let mut i = 0u64;
                        while running() {
                            let k = format!("noise:{:03}", i % 500).into_bytes();
                            let v = vec![b'n'; 64 + (i % 200) as usize];
                            match i % 4 {
                                0 => db.delete(&k).unwrap(),
                                1 => db
                                    .put_with_ttl(&k, &v, Duration::from_millis(1 + i % 50))
                                    .unwrap(),
                                _ => db.put(&k, &v).unwrap(),
                            }
                            bump(&c.noise_writes);
                            i += 1;
                        }
                    }
                }
            }));
        }
        for h in handles {
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
        }
    });

    let elapsed = started.elapsed();
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    eprintln!(
        "stress {sync:?} {:.1}s: {} transfers ({} conflicts retried, {} skipped), {} txn sums, \
         {} held-snapshot sums, {} audits ({} conflicted), {} one-shot checks, {} noise \
         writes, {} segments",
        elapsed.as_secs_f64(),
        get(&c.transfers),
        get(&c.conflicts),
        get(&c.insufficient),
        get(&c.txn_sums),
        get(&c.held_sums),
        get(&c.audits),
        get(&c.audit_conflicts),
        get(&c.one_shot_checks),
        get(&c.noise_writes),
        db.stats().unwrap().segments,
    );
    assert!(get(&c.transfers) > 0, "no transfer committed");
    assert!(get(&c.txn_sums) > 0 && get(&c.held_sums) > 0);
    assert!(get(&c.one_shot_checks) > 0);
    assert!(get(&c.audits) + get(&c.audit_conflicts) > 0);
    assert!(
        db.stats().unwrap().segments > segments_before,
        "segments should rotate during the run"
    );

    check_committed_total(&db, "after the run");
    db.close().unwrap();
    let db = Db::open(&path, options()).unwrap();
    check_committed_total(&db, "after reopen");
    db.close().unwrap();
}

fn stress_secs() -> f64 {
    std::env::var("KAT_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0)
}

fn short_secs() -> Duration {
    Duration::from_secs_f64((stress_secs() / 3.0).max(1.0))
}

#[test]
fn bank_transfers_conserve_the_total_sync_never() {
    let d = Duration::from_secs_f64(stress_secs());
    with_watchdog("bank transfers, SyncMode::Never", hang_limit(d), || {
        run(SyncMode::Never, 64 << 10, d)
    });
}

#[test]
fn bank_transfers_conserve_the_total_sync_always_group_commit() {
    let d = short_secs();
    with_watchdog("bank transfers, SyncMode::Always", hang_limit(d), || {
        run(SyncMode::Always, 16 << 10, d)
    });
}

/// Reads of one key inside one transaction agree while one thread overwrites the key and
/// another begins and ends transactions (so snapshots are registered and released, and
/// old versions pruned, concurrently with the reader's snapshot).
#[test]
fn repeated_reads_in_one_snapshot_agree_under_snapshot_churn() {
    with_watchdog("repeated reads", hang_limit(short_secs()), repeated_reads);
}

fn repeated_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(
        tmp.path().join("db"),
        Options::default().sync(SyncMode::Never),
    )
    .unwrap();
    db.put(b"k", b"0").unwrap();
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + short_secs();
    let mut txns = 0u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                db.put(b"k", i.to_string().as_bytes()).unwrap();
            }
        });
        s.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                db.begin().unwrap().abort();
            }
        });
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            while Instant::now() < deadline {
                let mut t = db.begin().unwrap();
                let first = t.get(b"k").unwrap();
                assert!(first.is_some(), "the key always exists");
                for _ in 0..50 {
                    let again = t.get(b"k").unwrap();
                    assert_eq!(
                        again.as_deref().map(String::from_utf8_lossy),
                        first.as_deref().map(String::from_utf8_lossy),
                        "a repeated read in one snapshot changed (after {txns} transactions)"
                    );
                }
                t.commit().unwrap();
                txns += 1;
            }
        }));
        stop.store(true, Ordering::SeqCst);
        if let Err(p) = outcome {
            std::panic::resume_unwind(p);
        }
    });
    assert!(txns > 0);
    db.close().unwrap();
}

/// Transactions committing concurrently under `SyncMode::Always` (each validating while
/// a sync leader applies its group), next to readers, all finish, and each thread's last
/// commit is durable and visible after a reopen.
#[test]
fn txn_committers_under_group_commit_make_progress() {
    let limit = hang_limit(short_secs());
    with_watchdog("txn committers, SyncMode::Always", limit, committers);
}

fn committers() {
    const WRITERS: u8 = 6;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let db = Db::open(&path, Options::default()).unwrap();
    db.put(b"shared", b"0").unwrap();
    let deadline = Instant::now() + short_secs();
    let last: Vec<u64> = std::thread::scope(|s| {
        for _ in 0..2 {
            let db = &db;
            s.spawn(move || {
                while Instant::now() < deadline {
                    assert!(db.get(b"shared").unwrap().is_some());
                    let n = db.iter(&IterOptions::prefix(b"w")).unwrap().count();
                    assert!(n <= WRITERS as usize);
                }
            });
        }
        let writers: Vec<_> = (0..WRITERS)
            .map(|id| {
                let db = &db;
                s.spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let mut t = db.begin().unwrap();
                        assert!(t.get(b"shared").unwrap().is_some());
                        t.put(&[b'w', id], &(n + 1).to_le_bytes()).unwrap();
                        t.commit().unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        writers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    db.close().unwrap();
    let db = Db::open(&path, Options::default()).unwrap();
    for (id, n) in last.iter().enumerate() {
        assert!(*n > 0, "writer {id} committed nothing");
        let v = db.get(&[b'w', id as u8]).unwrap().expect("committed");
        assert_eq!(u64::from_le_bytes(v.try_into().unwrap()), *n);
    }
    db.close().unwrap();
}
