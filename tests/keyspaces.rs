//! Named keyspaces: separation, listing, dropping, persistence, transactions across them.

use katamari::{Db, Error, IterOptions, Options, SyncMode, WriteBatch};

fn open(dir: &std::path::Path) -> Db {
    Db::open(
        dir,
        Options::default().sync(SyncMode::Never).segment_size(1024),
    )
    .unwrap()
}

#[test]
fn keyspaces_separate_keys_and_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = open(&dir);
    let users = db.keyspace(b"users").unwrap();
    let orders = db.keyspace(b"orders").unwrap();
    db.put(b"k", b"default").unwrap();
    users.put(b"k", b"user").unwrap();
    orders.put(b"k", b"order").unwrap();
    assert_eq!(db.get(b"k").unwrap().unwrap(), b"default");
    assert_eq!(users.get(b"k").unwrap().unwrap(), b"user");
    assert_eq!(orders.get(b"k").unwrap().unwrap(), b"order");
    let all: Vec<_> = users
        .iter(&IterOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(all, vec![(b"k".to_vec(), b"user".to_vec())]);
    assert_eq!(
        db.keyspaces().unwrap(),
        vec![b"orders".to_vec(), b"users".to_vec()]
    );
    assert_eq!(
        db.stats().unwrap().live_keys,
        3,
        "catalog entries are not user keys"
    );
    db.close().unwrap();

    let db = open(&dir);
    let users = db.keyspace(b"users").unwrap();
    assert_eq!(users.get(b"k").unwrap().unwrap(), b"user");
    assert_eq!(db.keyspaces().unwrap().len(), 2);
}

#[test]
fn dropping_removes_everything_and_the_name_can_be_reused_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = open(&dir);
    let tmpks = db.keyspace(b"tmp").unwrap();
    for i in 0..100u32 {
        tmpks.put(&i.to_be_bytes(), b"v").unwrap();
    }
    db.drop_keyspace(b"tmp").unwrap();
    assert!(matches!(
        tmpks.put(b"x", b"y"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(tmpks.get(b"x"), Err(Error::InvalidArgument(_))));
    assert!(matches!(db.drop_keyspace(b"tmp"), Err(Error::NotFound)));
    let again = db.keyspace(b"tmp").unwrap();
    assert_eq!(again.get(&0u32.to_be_bytes()).unwrap(), None);
    again.put(b"fresh", b"1").unwrap();
    db.close().unwrap();

    let db = open(&dir);
    let again = db.keyspace(b"tmp").unwrap();
    assert_eq!(
        again.get(&5u32.to_be_bytes()).unwrap(),
        None,
        "dropped keys stay dropped"
    );
    assert_eq!(again.get(b"fresh").unwrap().unwrap(), b"1");
    assert_eq!(db.stats().unwrap().live_keys, 1);
}

#[test]
fn one_transaction_and_one_batch_span_keyspaces() {
    let tmp = tempfile::tempdir().unwrap();
    let db = open(&tmp.path().join("db"));
    let a = db.keyspace(b"a").unwrap();
    let b = db.keyspace(b"b").unwrap();
    let mut t = db.begin().unwrap();
    t.put_in(&a, b"x", b"1").unwrap();
    t.put_in(&b, b"x", b"2").unwrap();
    t.put(b"x", b"0").unwrap();
    assert_eq!(t.get_in(&b, b"x").unwrap().unwrap(), b"2");
    t.commit().unwrap();
    assert_eq!(a.get(b"x").unwrap().unwrap(), b"1");
    assert_eq!(b.get(b"x").unwrap().unwrap(), b"2");

    // A conflict in one keyspace only involves that keyspace's key.
    let mut t1 = db.begin().unwrap();
    let mut t2 = db.begin().unwrap();
    t1.put_in(&a, b"x", b"t1").unwrap();
    t2.put_in(&b, b"x", b"t2").unwrap();
    t1.commit().unwrap();
    t2.commit().unwrap();

    let mut batch = WriteBatch::new();
    batch
        .put_in(&a, b"y", b"ay")
        .unwrap()
        .delete_in(&b, b"x")
        .unwrap();
    db.write(&batch).unwrap();
    assert_eq!(a.get(b"y").unwrap().unwrap(), b"ay");
    assert_eq!(b.get(b"x").unwrap(), None);
    assert!(db.keyspace(b"").is_err());
    assert!(db.keyspace(b"\0internal").is_err());
}

#[test]
fn a_keyspace_of_another_database_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = open(&tmp.path().join("a"));
    let b = open(&tmp.path().join("b"));
    let _mine = a.keyspace(b"mine").unwrap();
    let theirs = b.keyspace(b"theirs").unwrap();
    let mut batch = WriteBatch::new();
    batch.put_in(&theirs, b"k", b"v").unwrap();
    assert!(matches!(a.write(&batch), Err(Error::InvalidArgument(_))));
    b.write(&batch).unwrap();
    assert_eq!(theirs.get(b"k").unwrap().unwrap(), b"v");
    let mut t = a.begin().unwrap();
    assert!(matches!(
        t.put_in(&theirs, b"k", b"x"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        t.get_in(&theirs, b"k"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        t.delete_in(&theirs, b"k"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(t.iter_in(&theirs, &IterOptions::default()).is_err());
    t.commit().unwrap();
    let mine = a.keyspace(b"mine").unwrap();
    assert_eq!(
        mine.get(b"k").unwrap(),
        None,
        "nothing leaked into a's keyspace"
    );
}
