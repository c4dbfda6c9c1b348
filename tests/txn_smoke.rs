//! Quick checks of transactions and iterators; the full suites are model.rs,
//! isolation.rs and stress.rs.

use katamari::{Db, Error, IterOptions, Options, SyncMode};

fn keys(it: katamari::Iter) -> Vec<Vec<u8>> {
    it.map(|r| r.unwrap().0).collect()
}

#[test]
fn txn_conflict_iter_and_prev() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(
        tmp.path().join("db"),
        Options::default().sync(SyncMode::Never),
    )
    .unwrap();
    for k in [&b"a"[..], b"b", b"c", b"d"] {
        db.put(k, k).unwrap();
    }
    let mut t1 = db.begin().unwrap();
    let mut t2 = db.begin().unwrap();
    t1.put(b"a", b"t1").unwrap();
    t2.put(b"a", b"t2").unwrap();
    assert_eq!(t2.get(b"a").unwrap().unwrap(), b"t2");
    t1.commit().unwrap();
    assert!(matches!(t2.commit(), Err(Error::Conflict)));
    assert_eq!(db.get(b"a").unwrap().unwrap(), b"t1");

    let mut t = db.begin().unwrap();
    t.delete(b"b").unwrap();
    t.put(b"bb", b"x").unwrap();
    let it = t.iter(&IterOptions::default()).unwrap();
    assert_eq!(
        keys(it),
        vec![b"a".to_vec(), b"bb".to_vec(), b"c".to_vec(), b"d".to_vec()]
    );
    let it = db.iter(&IterOptions::default().reversed()).unwrap();
    db.put(b"e", b"e").unwrap();
    assert_eq!(
        keys(it),
        vec![b"d".to_vec(), b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]
    );

    let mut it = db.iter(&IterOptions::default()).unwrap();
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"a");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"b");
    assert_eq!(it.prev_entry().unwrap().unwrap().0, b"a");
    assert!(it.prev_entry().unwrap().is_none());
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"a");
    it.seek(b"c");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"c");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"d");
    assert_eq!(it.next_entry().unwrap().unwrap().0, b"e");
    assert!(it.next_entry().unwrap().is_none());
    assert_eq!(it.prev_entry().unwrap().unwrap().0, b"e");
}
