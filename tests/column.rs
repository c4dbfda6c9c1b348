//! Columns against an in-memory `Vec` per type: random appends, extends, sets, pops,
//! truncations, gets and range reads, with reopens in between; 0 divergences allowed.
//! `KAT_COLUMN_STEPS` sets the steps per type (default 400).

use katamari::{ColumnType, Db, Error, Options, SyncMode, CHUNK_BYTES};

fn open(path: &std::path::Path) -> Db {
    Db::open(path, Options::default().sync(SyncMode::Never)).unwrap()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn width(ty: ColumnType) -> Option<usize> {
    match ty {
        ColumnType::I64 | ColumnType::F64 => Some(8),
        ColumnType::Bytes(n) => Some(n as usize),
        ColumnType::VarBytes => None,
    }
}

fn value(rng: &mut Rng, ty: ColumnType) -> Vec<u8> {
    let len = width(ty).unwrap_or_else(|| match rng.below(10) {
        0 => 0,
        1 => CHUNK_BYTES as usize + rng.below(100) as usize,
        _ => rng.below(300) as usize,
    });
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Many values: sometimes enough to cross several chunks.
fn values(rng: &mut Rng, ty: ColumnType) -> Vec<Vec<u8>> {
    let per_chunk = (CHUNK_BYTES as usize / width(ty).unwrap_or(12)).max(1) as u64;
    let n = match rng.below(4) {
        0 => 0,
        1 => 1 + rng.below(5),
        2 => per_chunk - 1 + rng.below(3),
        _ => rng.below(3 * per_chunk),
    };
    (0..n).map(|_| value(rng, ty)).collect()
}

fn packed(vals: &[Vec<u8>]) -> (Vec<u64>, Vec<u8>) {
    let mut offsets = vec![0u64];
    let mut data = Vec::new();
    for v in vals {
        data.extend_from_slice(v);
        offsets.push(data.len() as u64);
    }
    (offsets, data)
}

fn steps() -> usize {
    std::env::var("KAT_COLUMN_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400)
}

fn run_model(ty: ColumnType, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut rng = Rng(seed);
    let mut db = open(&path);
    let mut col = db.create_column(b"c", ty).unwrap();
    let mut model: Vec<Vec<u8>> = Vec::new();
    for step in 0..steps() {
        let ctx = format!("{ty} seed {seed} step {step}");
        match rng.below(12) {
            0 | 1 => {
                let v = value(&mut rng, ty);
                assert_eq!(col.append(&v).unwrap(), model.len() as u64 + 1, "{ctx}");
                model.push(v);
            }
            2 | 3 => {
                let vals = values(&mut rng, ty);
                let (offsets, data) = packed(&vals);
                let len = if ty == ColumnType::VarBytes {
                    col.extend_var(&offsets, &data).unwrap()
                } else {
                    col.extend(&data).unwrap()
                };
                model.extend(vals);
                assert_eq!(len, model.len() as u64, "{ctx}");
            }
            4 => {
                let mut a = col.appender().unwrap();
                let vals = values(&mut rng, ty);
                for v in &vals {
                    a.append(v).unwrap();
                }
                assert!(a.pending() as usize <= vals.len(), "{ctx}");
                model.extend(vals);
                assert_eq!(a.flush().unwrap(), model.len() as u64, "{ctx}");
            }
            5 if !model.is_empty() => {
                let i = rng.below(model.len() as u64) as usize;
                let v = value(&mut rng, ty);
                let index = if rng.below(2) == 0 {
                    i as i64
                } else {
                    i as i64 - model.len() as i64
                };
                col.set(index, &v).unwrap();
                model[i] = v;
            }
            6 => {
                let got = col.pop().unwrap();
                assert_eq!(got, model.pop(), "{ctx}");
            }
            7 if !model.is_empty() => {
                let to = rng.below(model.len() as u64 + 1);
                col.truncate(to).unwrap();
                model.truncate(to as usize);
            }
            8 => {
                let n = model.len() as i64;
                let index =
                    rng.below(n as u64 + 4) as i64 - 2 - if rng.below(2) == 0 { n } else { 0 };
                let want = if index < 0 { n + index } else { index };
                match col.get(index) {
                    Ok(v) => assert_eq!(Some(&v), model.get(want as usize), "{ctx}: get({index})"),
                    Err(Error::NotFound) => assert!(want < 0 || want >= n, "{ctx}: get({index})"),
                    Err(e) => panic!("{ctx}: get({index}): {e}"),
                }
            }
            9 => {
                let a = rng.below(model.len() as u64 + 1);
                let b = a + rng.below(model.len() as u64 + 1 - a);
                let (offsets, data) = col.range(a, b).unwrap();
                let want = packed(&model[a as usize..b as usize]);
                if ty == ColumnType::VarBytes {
                    assert_eq!((offsets, data), want, "{ctx}: range {a}..{b}");
                } else {
                    assert!(offsets.is_empty());
                    assert_eq!(data, want.1, "{ctx}: range {a}..{b}");
                }
            }
            10 => {
                drop(col);
                db.close().unwrap();
                db = open(&path);
                col = db.column(b"c").unwrap();
            }
            _ => {
                if step % 50 == 0 {
                    db.merge().unwrap();
                }
            }
        }
        assert_eq!(col.len().unwrap(), model.len() as u64, "{ctx}: len");
    }
    // The whole content, after a last reopen.
    drop(col);
    db.close().unwrap();
    let db = open(&path);
    let col = db.column(b"c").unwrap();
    let (offsets, data) = col.range(0, model.len() as u64).unwrap();
    let want = packed(&model);
    assert_eq!(data, want.1, "{ty}: final content");
    if ty == ColumnType::VarBytes {
        assert_eq!(offsets, want.0);
    }
    assert_eq!(db.columns().unwrap()[0].len, model.len() as u64);
}

#[test]
fn every_type_matches_a_vec() {
    for (i, ty) in [
        ColumnType::I64,
        ColumnType::F64,
        ColumnType::Bytes(1),
        ColumnType::Bytes(1000),
        ColumnType::Bytes(20_000),
        ColumnType::VarBytes,
    ]
    .into_iter()
    .enumerate()
    {
        run_model(ty, 0xC0_1000 + i as u64);
    }
}

#[test]
fn typed_access_and_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let ints = db.create_column(b"ints", ColumnType::I64).unwrap();
    let floats = db.create_column(b"floats", ColumnType::F64).unwrap();
    let fixed = db.create_column(b"fixed", ColumnType::Bytes(4)).unwrap();
    // Empty columns.
    assert_eq!(ints.len().unwrap(), 0);
    assert!(ints.is_empty().unwrap());
    assert!(matches!(ints.get(0), Err(Error::NotFound)));
    assert!(matches!(ints.get(-1), Err(Error::NotFound)));
    assert_eq!(ints.pop().unwrap(), None);
    assert_eq!(ints.range(0, 0).unwrap().1, b"");
    assert!(matches!(ints.range(0, 1), Err(Error::InvalidArgument(_))));
    assert!(matches!(ints.truncate(1), Err(Error::InvalidArgument(_))));
    assert!(matches!(ints.set(0, &[0; 8]), Err(Error::NotFound)));

    let many: Vec<i64> = (0..10_000).map(|i| i * i - 5000).collect();
    assert_eq!(ints.extend_i64(&many).unwrap(), 10_000);
    assert_eq!(ints.get_i64(-1).unwrap(), many[9999]);
    assert_eq!(ints.get_i64(2047).unwrap(), many[2047]);
    assert_eq!(ints.get_i64(2048).unwrap(), many[2048]);
    assert_eq!(ints.range_i64(2040, 2060).unwrap(), many[2040..2060]);
    assert!(matches!(ints.get_f64(0), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        floats.extend_i64(&[1]),
        Err(Error::InvalidArgument(_))
    ));
    floats
        .extend_f64(&[1.5, f64::NAN, -0.0, f64::INFINITY])
        .unwrap();
    assert!(floats.get_f64(1).unwrap().is_nan());
    assert_eq!(floats.get_f64(-1).unwrap(), f64::INFINITY);
    assert_eq!(floats.range_f64(0, 1).unwrap(), vec![1.5]);

    // bytes:N with the wrong size: a clear error, nothing written.
    fixed.extend(b"abcdefgh").unwrap();
    for bad in [&b"abc"[..], b"abcde", b""] {
        assert!(
            matches!(fixed.append(bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
        assert!(matches!(fixed.set(0, bad), Err(Error::InvalidArgument(_))));
    }
    assert!(matches!(
        fixed.extend(b"abcdefg"),
        Err(Error::InvalidArgument(_))
    ));
    let mut a = fixed.appender().unwrap();
    assert!(matches!(
        a.append(b"toolong"),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(a.pending(), 0);
    a.append(b"wxyz").unwrap();
    a.discard();
    drop(a);
    assert_eq!(fixed.len().unwrap(), 2);
    let mut a = ints.appender().unwrap();
    assert!(matches!(a.append_f64(1.0), Err(Error::InvalidArgument(_))));
    assert_eq!(a.pending(), 0);
    drop(a);
    assert_eq!(fixed.range(0, 2).unwrap().1, b"abcdefgh");

    // Names, types, listing, drop.
    assert!(matches!(
        db.create_column(b"ints", ColumnType::F64),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.create_column(b"", ColumnType::F64),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.create_column(b"z", ColumnType::Bytes(0)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(db.column(b"nope"), Err(Error::NotFound)));
    let listed: Vec<(Vec<u8>, ColumnType, u64)> = db
        .columns()
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.ty, c.len))
        .collect();
    assert_eq!(
        listed,
        vec![
            (b"fixed".to_vec(), ColumnType::Bytes(4), 2),
            (b"floats".to_vec(), ColumnType::F64, 4),
            (b"ints".to_vec(), ColumnType::I64, 10_000),
        ]
    );
    db.drop_column(b"ints").unwrap();
    assert!(matches!(ints.len(), Err(Error::InvalidArgument(_))));
    assert!(matches!(db.drop_column(b"ints"), Err(Error::NotFound)));
    let again = db.create_column(b"ints", ColumnType::I64).unwrap();
    assert_eq!(again.len().unwrap(), 0, "a new column, not the dropped one");
    // Column data never shows up among user keys or keyspaces.
    assert!(db.keyspaces().unwrap().is_empty());
    assert_eq!(db.iter(&Default::default()).unwrap().count(), 0);
}

#[test]
fn dropping_a_column_reclaims_its_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = db.create_column(b"big", ColumnType::F64).unwrap();
    let vals: Vec<f64> = (0..200_000).map(|i| i as f64).collect();
    c.extend_f64(&vals).unwrap();
    assert!(db.stats().unwrap().live_bytes > 1_600_000);
    db.drop_column(b"big").unwrap();
    db.merge().unwrap();
    assert!(
        db.stats().unwrap().live_bytes < 4096,
        "{:?}",
        db.stats().unwrap()
    );
}

#[test]
fn transactions_see_a_consistent_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = db.create_column(b"c", ColumnType::I64).unwrap();
    c.extend_i64(&[1, 2, 3]).unwrap();
    let mut reader = db.begin().unwrap();
    assert_eq!(c.len_in(&mut reader).unwrap(), 3);
    c.extend_i64(&[4, 5]).unwrap();
    c.set(0, &100i64.to_le_bytes()).unwrap();
    // The snapshot keeps length and content together.
    assert_eq!(c.len_in(&mut reader).unwrap(), 3);
    assert_eq!(c.get_in(&mut reader, 0).unwrap(), 1i64.to_le_bytes());
    assert!(matches!(c.get_in(&mut reader, 3), Err(Error::NotFound)));
    drop(reader);

    // KV and column writes commit together or not at all.
    let mut tx = db.begin().unwrap();
    tx.put(b"k", b"v").unwrap();
    c.append_in(&mut tx, &6i64.to_le_bytes()).unwrap();
    c.extend_in(&mut tx, &7i64.to_le_bytes()).unwrap();
    assert_eq!(c.len_in(&mut tx).unwrap(), 7);
    assert_eq!(c.len().unwrap(), 5, "invisible before commit");
    tx.abort();
    assert_eq!(c.len().unwrap(), 5);
    assert!(db.get(b"k").unwrap().is_none());

    // Two appenders racing: the second commit conflicts and writes nothing.
    let mut t1 = db.begin().unwrap();
    let mut t2 = db.begin().unwrap();
    c.append_in(&mut t1, &8i64.to_le_bytes()).unwrap();
    c.append_in(&mut t2, &9i64.to_le_bytes()).unwrap();
    t1.commit().unwrap();
    assert!(matches!(t2.commit(), Err(Error::Conflict)));
    assert_eq!(c.range_i64(0, 6).unwrap(), vec![100, 2, 3, 4, 5, 8]);

    // One-shot appends from many threads all land.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    c.append(&(1000 * t + i as i64).to_le_bytes()).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|h| h.join().unwrap());
    let mut all = c.range_i64(6, 206).unwrap();
    all.sort();
    let mut want: Vec<i64> = (0..4)
        .flat_map(|t| (0..50).map(move |i| 1000 * t + i))
        .collect();
    want.sort();
    assert_eq!(all, want);
}

#[test]
fn appenders_commit_when_full_when_flushed_and_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = open(&path);
        let c = db.create_column(b"c", ColumnType::I64).unwrap();
        let mut a = c.appender().unwrap();
        for i in 0..300_000i64 {
            a.append_i64(i).unwrap();
        }
        assert!(c.len().unwrap() > 0, "a full buffer commits by itself");
        assert!(a.pending() > 0);
        assert!(c.len().unwrap() < 300_000);
        drop(a);
        assert_eq!(c.len().unwrap(), 300_000);
        let mut a = c.appender().unwrap();
        a.append_i64(-1).unwrap();
        assert_eq!(a.flush().unwrap(), 300_001);
        let mut v = db
            .create_column(b"v", ColumnType::VarBytes)
            .unwrap()
            .appender()
            .unwrap();
        for i in 0..1000 {
            v.append(format!("value {i}").as_bytes()).unwrap();
        }
        v.flush().unwrap();
        db.close().unwrap();
    }
    let db = open(&path);
    let c = db.column(b"c").unwrap();
    assert_eq!(
        c.range_i64(299_998, 300_001).unwrap(),
        vec![299_998, 299_999, -1]
    );
    assert_eq!(db.column(b"v").unwrap().get(-1).unwrap(), b"value 999");
}

#[test]
fn calls_after_close_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let c = db.create_column(b"c", ColumnType::I64).unwrap();
    let mut a = c.appender().unwrap();
    a.append_i64(1).unwrap();
    db.close().unwrap();
    assert!(matches!(c.len(), Err(Error::Closed)));
    assert!(matches!(c.append(&[0; 8]), Err(Error::Closed)));
    assert!(matches!(a.flush(), Err(Error::Closed)));
    assert!(matches!(db.columns(), Err(Error::Closed)));
}
