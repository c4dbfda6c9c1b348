//! Buckets: versions, streaming, codecs, integrity, encryption, transactions, crash
//! clean-up and space reclaimed by merge.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use katamari::{
    Bucket, BucketOptions, Compression, Db, Error, Options, PutOptions, SyncMode, MIN_CHUNK_SIZE,
};
use sha2::{Digest, Sha256};

const CS: u32 = MIN_CHUNK_SIZE;

fn open(path: &Path) -> Db {
    Db::open(path, Options::default().sync(SyncMode::Never)).unwrap()
}

fn small_chunks() -> BucketOptions {
    BucketOptions::default().chunk_size(CS)
}

/// Deterministic bytes; `compressible` ones repeat a short text.
fn data(len: usize, seed: u64, compressible: bool) -> Vec<u8> {
    if compressible {
        return b"the quick brown fox "
            .iter()
            .cycle()
            .skip(seed as usize % 7)
            .take(len)
            .copied()
            .collect();
    }
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn versions_are_monotonic_across_deletes_and_restarts_and_survive_merge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut seen = Vec::new();
    {
        let db = open(&path);
        let b = db.bucket(b"photos", &small_chunks()).unwrap();
        for i in 0..3 {
            let info = b
                .put(
                    b"cat.jpg",
                    &data(5000 + i, i as u64, false),
                    &PutOptions::default(),
                )
                .unwrap();
            seen.push(info.version);
        }
        assert_eq!(b.versions(b"cat.jpg").unwrap().len(), 3);
        assert_eq!(b.delete(b"cat.jpg").unwrap(), 3);
        assert!(b.head(b"cat.jpg").unwrap().is_none());
        assert_eq!(b.delete(b"cat.jpg").unwrap(), 0);
        seen.push(
            b.put(b"cat.jpg", b"again", &PutOptions::default())
                .unwrap()
                .version,
        );
        db.close().unwrap();
    }
    for round in 0..2 {
        let db = open(&path);
        let b = db.bucket(b"photos", &BucketOptions::default()).unwrap();
        let v = b
            .put(
                b"cat.jpg",
                &data(9000, round, false),
                &PutOptions::default(),
            )
            .unwrap();
        seen.push(v.version);
        if round == 0 {
            db.merge().unwrap();
        }
        db.close().unwrap();
    }
    // Per key: 1, 2, 3, and on after deleting everything and after restarts.
    assert_eq!(seen, (1..=6).collect::<Vec<u64>>());
    let db = open(&path);
    let b = db.bucket(b"photos", &BucketOptions::default()).unwrap();
    let versions = b.versions(b"cat.jpg").unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        seen[3..]
    );
    assert_eq!(
        b.get_version(b"cat.jpg", seen[3]).unwrap().unwrap().1,
        b"again"
    );
    let (info, bytes) = b.get(b"cat.jpg").unwrap().unwrap();
    assert_eq!(info.version, seen[5]);
    assert_eq!(bytes, data(9000, 1, false));
    assert!(b.get_version(b"cat.jpg", seen[0]).unwrap().is_none());
}

#[test]
fn info_carries_size_checksum_type_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let b = db
        .bucket(b"docs", &small_chunks().compression(Compression::Zstd(3)))
        .unwrap();
    let body = data(3 * CS as usize + 17, 1, true);
    let opts = PutOptions::default()
        .content_type("text/plain")
        .metadata("owner", "ada")
        .metadata("lang", "en");
    let before = katamari_now();
    let info = b.put(b"a/readme.txt", &body, &opts).unwrap();
    assert_eq!(info.key, b"a/readme.txt");
    assert_eq!(info.size, body.len() as u64);
    assert!(
        info.stored_size < info.size / 4,
        "compressed: {}",
        info.stored_size
    );
    assert_eq!(info.sha256_hex(), hex(&Sha256::digest(&body)));
    assert!(info.created_ms >= before);
    assert_eq!(info.content_type, "text/plain");
    assert_eq!(info.metadata.get("owner").map(String::as_str), Some("ada"));
    assert_eq!(b.head(b"a/readme.txt").unwrap().unwrap(), info);
    assert_eq!(
        b.head_version(b"a/readme.txt", info.version)
            .unwrap()
            .unwrap(),
        info
    );
    assert_eq!(b.get(b"a/readme.txt").unwrap().unwrap(), (info, body));
}

fn katamari_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_codec_round_trips_edge_sizes_in_one_piece_and_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = [3u8; 32];
    let cs = CS as usize;
    let sizes = [0, 1, cs - 1, cs, cs + 1, 3 * cs + 5];
    for (n, comp) in [
        Compression::None,
        Compression::Zlib(6),
        Compression::Zstd(1),
        Compression::Zstd(19),
    ]
    .into_iter()
    .enumerate()
    {
        for encrypted in [false, true] {
            let mut opts = small_chunks().compression(comp);
            if encrypted {
                opts = opts.encryption_key(&key);
            }
            let b = db
                .bucket(format!("b{n}{encrypted}").as_bytes(), &opts)
                .unwrap();
            assert_eq!(b.encrypted(), encrypted);
            for &size in &sizes {
                for compressible in [false, true] {
                    let body = data(size, size as u64, compressible);
                    let k = format!("k{size}{compressible}");
                    let one = b.put(k.as_bytes(), &body, &PutOptions::default()).unwrap();
                    assert_eq!(b.get(k.as_bytes()).unwrap().unwrap().1, body);
                    // Streamed in uneven pieces.
                    let mut w = b.writer(k.as_bytes(), &PutOptions::default()).unwrap();
                    for piece in body.chunks(777) {
                        w.write_all(piece).unwrap();
                    }
                    let two = w.commit().unwrap();
                    assert_eq!(two.sha256, one.sha256);
                    assert!(two.version > one.version);
                    let mut r = b.reader(k.as_bytes(), None).unwrap().unwrap();
                    let mut back = Vec::new();
                    r.read_to_end(&mut back).unwrap();
                    assert_eq!(back, body, "{comp:?} encrypted={encrypted} size={size}");
                    if encrypted && size > 0 {
                        assert!(two.stored_size > two.size.min(1), "sealed chunks grow");
                    }
                }
            }
        }
    }
}

#[test]
fn reader_seeks_and_reads_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let b = db.bucket(b"b", &small_chunks()).unwrap();
    let body = data(5 * CS as usize + 100, 9, false);
    b.put(b"big", &body, &PutOptions::default()).unwrap();
    let mut r = b.reader(b"big", None).unwrap().unwrap();
    assert_eq!(r.size(), body.len() as u64);
    for &(at, len) in &[
        (0usize, 10usize),
        (CS as usize - 3, 10),
        (4 * CS as usize + 7, 200),
        (body.len() - 1, 5),
    ] {
        r.seek(SeekFrom::Start(at as u64)).unwrap();
        let mut buf = vec![0; len];
        let mut got = 0;
        while got < len {
            let n = r.read(&mut buf[got..]).unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(&buf[..got], &body[at..(at + len).min(body.len())]);
    }
    assert_eq!(r.seek(SeekFrom::End(-4)).unwrap(), body.len() as u64 - 4);
    assert!(r.seek(SeekFrom::Current(-(body.len() as i64))).is_err());
    assert!(r.seek_to(body.len() as u64 + 1).is_err());
    // A reader keeps its snapshot: a delete does not disturb it.
    let mut r = b.reader(b"big", None).unwrap().unwrap();
    b.delete(b"big").unwrap();
    let mut back = Vec::new();
    r.read_to_end(&mut back).unwrap();
    assert_eq!(back, body);
    assert!(b.reader(b"big", None).unwrap().is_none());
}

#[test]
fn unversioned_buckets_keep_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = open(&path);
    let b = db
        .bucket(b"flat", &small_chunks().versioning(false))
        .unwrap();
    assert!(!b.versioning());
    for i in 0..5 {
        b.put(
            b"k",
            &data(2 * CS as usize, i, false),
            &PutOptions::default(),
        )
        .unwrap();
    }
    let mut w = b.writer(b"k", &PutOptions::default()).unwrap();
    w.write(b"streamed").unwrap();
    let last = w.commit().unwrap();
    let versions = b.versions(b"k").unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].version, last.version);
    assert_eq!(b.get(b"k").unwrap().unwrap().1, b"streamed");
    // The setting is stored: reopened without options it still replaces.
    drop(b);
    db.close().unwrap();
    let db = open(&path);
    let b = db.bucket(b"flat", &BucketOptions::default()).unwrap();
    assert!(!b.versioning());
    b.put(b"k", b"x", &PutOptions::default()).unwrap();
    assert_eq!(b.versions(b"k").unwrap().len(), 1);
    // Replaced versions leave no chunks behind once merged.
    db.merge().unwrap();
    let b2 = db
        .bucket(b"flat", &BucketOptions::default().versioning(true))
        .unwrap();
    b2.put(b"k", b"y", &PutOptions::default()).unwrap();
    assert_eq!(b2.versions(b"k").unwrap().len(), 2);
}

#[test]
fn delete_version_moves_the_head_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let b = db.bucket(b"b", &small_chunks()).unwrap();
    let v: Vec<u64> = (0..3)
        .map(|i| {
            b.put(b"k", format!("v{i}").as_bytes(), &PutOptions::default())
                .unwrap()
                .version
        })
        .collect();
    assert!(b.delete_version(b"k", v[2]).unwrap());
    assert!(!b.delete_version(b"k", v[2]).unwrap());
    assert_eq!(b.head(b"k").unwrap().unwrap().version, v[1]);
    assert_eq!(b.get(b"k").unwrap().unwrap().1, b"v1");
    assert!(b.delete_version(b"k", v[0]).unwrap());
    assert_eq!(b.head(b"k").unwrap().unwrap().version, v[1]);
    assert!(b.delete_version(b"k", v[1]).unwrap());
    assert!(b.head(b"k").unwrap().is_none());
    assert!(b.list(b"", None, 0).unwrap().is_empty());
}

#[test]
fn list_pages_through_keys_in_order_with_latest_info() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let b = db.bucket(b"b", &small_chunks()).unwrap();
    let keys: Vec<Vec<u8>> = vec![
        b"a/1".to_vec(),
        b"a/2".to_vec(),
        b"a/2\0".to_vec(),
        b"a/\xff".to_vec(),
        b"b".to_vec(),
        b"../../etc/passwd".to_vec(),
    ];
    for k in &keys {
        b.put(k, k, &PutOptions::default()).unwrap();
        b.put(k, &[k.as_slice(), b"!"].concat(), &PutOptions::default())
            .unwrap();
    }
    let all = b.list(b"", None, 0).unwrap();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        all.iter().map(|i| i.key.clone()).collect::<Vec<_>>(),
        sorted
    );
    assert!(all.iter().all(|i| i.size as usize == i.key.len() + 1));
    let a = b.list(b"a/", None, 0).unwrap();
    assert_eq!(a.len(), 4);
    let mut paged = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = b.list(b"a/", after.as_deref(), 2).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = Some(page.last().unwrap().key.clone());
        paged.extend(page.into_iter().map(|i| i.key));
    }
    assert_eq!(paged, a.iter().map(|i| i.key.clone()).collect::<Vec<_>>());
    // Keys are data: nothing but the database's own files exists in the directory.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name.ends_with(".kseg") || name == "LOCK" || name.ends_with(".khint"),
            "unexpected file {name}"
        );
    }
    // Bucket data and user keys never collide.
    assert!(db.get(b"a/1").unwrap().is_none());
    db.put(b"a/1", b"user").unwrap();
    assert_eq!(b.get(b"a/1").unwrap().unwrap().1, b"a/1!");
    assert!(db.keyspaces().unwrap().is_empty());
}

#[test]
fn bad_input_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    assert!(matches!(
        db.bucket(b"", &BucketOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.bucket(&[b'x'; 256], &BucketOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.bucket(b"b", &BucketOptions::default().chunk_size(100)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.bucket(
            b"b",
            &BucketOptions::default().compression(Compression::Zstd(99))
        ),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.bucket(b"b", &BucketOptions::default().encryption_key(&[1; 16])),
        Err(Error::InvalidArgument(_))
    ));
    assert!(
        db.buckets().unwrap().is_empty(),
        "failed opens create nothing"
    );
    let b = db.bucket(b"b", &small_chunks()).unwrap();
    assert!(matches!(
        b.put(b"", b"x", &PutOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    let huge_type = PutOptions::default().content_type(&"x".repeat(2000));
    assert!(matches!(
        b.put(b"k", b"x", &huge_type),
        Err(Error::InvalidArgument(_))
    ));
    let wrong = PutOptions::default().expected_sha256([0; 32]);
    let body = data(3 * CS as usize, 1, false);
    assert!(matches!(
        b.put(b"k", b"small", &wrong),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        b.put(b"k", &body, &wrong),
        Err(Error::InvalidArgument(_))
    ));
    let mut w = b.writer(b"k", &wrong).unwrap();
    w.write(&body).unwrap();
    assert!(matches!(w.commit(), Err(Error::InvalidArgument(_))));
    assert!(b.head(b"k").unwrap().is_none());
    let right: [u8; 32] = Sha256::digest(&body).into();
    let info = b
        .put(b"k", &body, &PutOptions::default().expected_sha256(right))
        .unwrap();
    assert_eq!(info.sha256, right);
    // Only the one good object's chunks remain: the refused ones were discarded.
    db.merge().unwrap();
    let live = db.stats().unwrap().live_bytes;
    assert!(live < body.len() as u64 + 8192, "live bytes {live}");
}

#[test]
fn encryption_needs_the_right_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let secret = b"plain text that must not appear on disk, repeated".repeat(200);
    {
        let db = open(&path);
        let b = db
            .bucket(
                b"vault",
                &small_chunks()
                    .encryption_key(&[7; 32])
                    .compression(Compression::Zstd(3)),
            )
            .unwrap();
        b.put(
            b"secret",
            &secret,
            &PutOptions::default().metadata("note", "hidden note text"),
        )
        .unwrap();
        db.bucket(b"open", &BucketOptions::default()).unwrap();
        db.close().unwrap();
    }
    for entry in std::fs::read_dir(&path).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let found = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(!found(b"must not appear"), "plaintext content on disk");
        assert!(!found(b"hidden note text"), "plaintext metadata on disk");
    }
    let db = open(&path);
    assert!(matches!(
        db.bucket(b"vault", &BucketOptions::default().encryption_key(&[8; 32])),
        Err(Error::AuthFailed)
    ));
    assert!(matches!(
        db.bucket(b"vault", &BucketOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.bucket(b"open", &BucketOptions::default().encryption_key(&[7; 32])),
        Err(Error::InvalidArgument(_))
    ));
    let b = db
        .bucket(b"vault", &BucketOptions::default().encryption_key(&[7; 32]))
        .unwrap();
    let (info, back) = b.get(b"secret").unwrap().unwrap();
    assert_eq!(back, secret);
    assert_eq!(info.metadata["note"], "hidden note text");
}

#[test]
fn transactions_span_kv_and_bucket_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let b = db.bucket(b"b", &small_chunks()).unwrap();
    let body = data(2 * CS as usize + 3, 4, false);

    let mut tx = db.begin().unwrap();
    tx.put(b"counter", b"1").unwrap();
    let info = b
        .put_in(&mut tx, b"obj", &body, &PutOptions::default())
        .unwrap();
    assert_eq!(
        b.get_in(&mut tx, b"obj", None).unwrap().unwrap().1,
        body,
        "own writes"
    );
    assert!(b.head(b"obj").unwrap().is_none(), "invisible before commit");
    tx.abort();
    assert!(b.head(b"obj").unwrap().is_none());
    assert!(db.get(b"counter").unwrap().is_none());

    let mut tx = db.begin().unwrap();
    tx.put(b"counter", b"1").unwrap();
    let info2 = b
        .put_in(&mut tx, b"obj", &body, &PutOptions::default())
        .unwrap();
    // The aborted transaction's version never existed: its number is free again.
    assert_eq!((info.version, info2.version), (1, 1));
    tx.commit().unwrap();
    assert_eq!(b.get(b"obj").unwrap().unwrap().1, body);
    assert_eq!(db.get(b"counter").unwrap().unwrap(), b"1");

    // Two transactions replacing the same object: first committer wins.
    let mut t1 = db.begin().unwrap();
    let mut t2 = db.begin().unwrap();
    b.put_in(&mut t1, b"obj", b"one", &PutOptions::default())
        .unwrap();
    b.put_in(&mut t2, b"obj", b"two", &PutOptions::default())
        .unwrap();
    t1.commit().unwrap();
    assert!(matches!(t2.commit(), Err(Error::Conflict)));
    assert_eq!(b.get(b"obj").unwrap().unwrap().1, b"one");

    // A delete in a transaction, and a streamed upload committed inside one.
    let mut tx = db.begin().unwrap();
    assert_eq!(b.delete_in(&mut tx, b"obj").unwrap(), 2);
    assert!(b.head_in(&mut tx, b"obj", None).unwrap().is_none());
    let mut w = b.writer(b"streamed", &PutOptions::default()).unwrap();
    w.write(&body).unwrap();
    w.commit_in(&mut tx).unwrap();
    assert_eq!(b.list_in(&mut tx, b"", None, 0).unwrap().len(), 1);
    tx.commit().unwrap();
    assert!(b.head(b"obj").unwrap().is_none());
    assert_eq!(b.get(b"streamed").unwrap().unwrap().1, body);

    // A streamed upload staged in a transaction that aborts leaves nothing behind.
    let mut tx = db.begin().unwrap();
    let mut w = b.writer(b"gone", &PutOptions::default()).unwrap();
    w.write(&data(50 * CS as usize, 5, false)).unwrap();
    w.commit_in(&mut tx).unwrap();
    drop(tx);
    assert!(b.head(b"gone").unwrap().is_none());
    db.merge().unwrap();
    let live = db.stats().unwrap().live_bytes;
    assert!(
        live < 4 * body.len() as u64,
        "aborted chunks were reclaimed: {live} live bytes"
    );

    let other = tempfile::tempdir().unwrap();
    let db2 = open(other.path());
    let mut foreign = db2.begin().unwrap();
    assert!(matches!(
        b.put_in(&mut foreign, b"x", b"y", &PutOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn an_interrupted_upload_leaves_nothing_after_reopen_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let body = data(200 * CS as usize, 6, false);
    {
        let db = open(&path);
        let b = db.bucket(b"b", &small_chunks()).unwrap();
        b.put(b"kept", b"small object", &PutOptions::default())
            .unwrap();
        let mut w = b.writer(b"partial", &PutOptions::default()).unwrap();
        w.write(&body).unwrap();
        // As if the process died here: no commit, no abort, no clean-up.
        std::mem::forget(w);
        db.close().unwrap();
    }
    let before = dir_bytes(&path);
    assert!(before > body.len() as u64, "the chunks reached the log");
    let db = open(&path);
    let b = db.bucket(b"b", &BucketOptions::default()).unwrap();
    assert!(b.head(b"partial").unwrap().is_none());
    assert_eq!(b.list(b"", None, 0).unwrap().len(), 1);
    db.merge().unwrap();
    let after = dir_bytes(&path);
    assert!(
        after < 64 * 1024,
        "{after} bytes remain after merge (was {before})"
    );
    assert_eq!(b.get(b"kept").unwrap().unwrap().1, b"small object");
}

#[test]
fn aborted_and_dropped_writers_discard_their_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let b = db.bucket(b"b", &small_chunks()).unwrap();
    let mut w = b.writer(b"a", &PutOptions::default()).unwrap();
    w.write(&data(20 * CS as usize, 1, false)).unwrap();
    w.abort().unwrap();
    {
        let mut w = b.writer(b"b", &PutOptions::default()).unwrap();
        w.write(&data(20 * CS as usize, 2, false)).unwrap();
    }
    assert!(b.list(b"", None, 0).unwrap().is_empty());
    db.merge().unwrap();
    assert!(db.stats().unwrap().live_bytes < 4096);
}

#[test]
fn dropped_buckets_vanish_and_handles_fail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = open(&path);
    let b = db.bucket(b"tmp", &small_chunks()).unwrap();
    b.put(
        b"k",
        &data(10 * CS as usize, 1, false),
        &PutOptions::default(),
    )
    .unwrap();
    db.bucket(b"other", &BucketOptions::default()).unwrap();
    assert_eq!(
        db.buckets().unwrap(),
        vec![b"other".to_vec(), b"tmp".to_vec()]
    );
    db.drop_bucket(b"tmp").unwrap();
    assert!(matches!(db.drop_bucket(b"tmp"), Err(Error::NotFound)));
    assert_eq!(db.buckets().unwrap(), vec![b"other".to_vec()]);
    assert!(matches!(b.get(b"k"), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        b.put(b"k", b"v", &PutOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    let again = db.bucket(b"tmp", &BucketOptions::default()).unwrap();
    assert!(again.head(b"k").unwrap().is_none());
    db.merge().unwrap();
    assert!(db.stats().unwrap().live_bytes < 4096);
    db.close().unwrap();
    let db = open(&path);
    assert_eq!(
        db.buckets().unwrap(),
        vec![b"other".to_vec(), b"tmp".to_vec()]
    );
}

#[test]
fn damaged_chunks_are_reported_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let body: Vec<u8> = b"UNIQUE-CHUNK-PAYLOAD-"
        .iter()
        .cycle()
        .take(3 * CS as usize)
        .copied()
        .collect();
    {
        let db = open(&path);
        let b = db.bucket(b"b", &small_chunks()).unwrap();
        b.put(b"k", &body, &PutOptions::default()).unwrap();
        // Merged segments open from their hint files, without reading every record.
        db.merge().unwrap();
        db.close().unwrap();
    }
    let mut damaged = false;
    for entry in std::fs::read_dir(&path).unwrap() {
        let p = entry.unwrap().path();
        let mut bytes = std::fs::read(&p).unwrap();
        if let Some(at) = bytes
            .windows(21)
            .position(|w| w == b"UNIQUE-CHUNK-PAYLOAD-")
        {
            bytes[at + CS as usize + 5] ^= 0x40;
            std::fs::write(&p, bytes).unwrap();
            damaged = true;
        }
    }
    assert!(damaged);
    let db = open(&path);
    let b = db.bucket(b"b", &BucketOptions::default()).unwrap();
    assert!(matches!(b.get(b"k"), Err(Error::Corruption(_))));
    let mut r = b.reader(b"k", None).unwrap().unwrap();
    let mut buf = vec![0; CS as usize];
    assert_eq!(
        r.read(&mut buf).unwrap(),
        CS as usize,
        "the intact first chunk reads"
    );
    assert!(matches!(r.read(&mut buf), Err(Error::Corruption(_))));
    assert!(r.read_to_end(&mut Vec::new()).is_err());
}

#[test]
fn concurrent_writers_of_one_key_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let b = db.bucket(b"b", &small_chunks()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let b = b.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        b.put(
                            b"shared",
                            format!("{t}-{i}").as_bytes(),
                            &PutOptions::default(),
                        )
                        .unwrap()
                        .version
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100, "every version number is distinct");
    let versions = b.versions(b"shared").unwrap();
    assert_eq!(versions.len(), 100);
    assert_eq!(
        b.head(b"shared").unwrap().unwrap().version,
        *all.last().unwrap()
    );
    let _: Bucket = b;
}

#[test]
fn calls_after_close_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let b = db.bucket(b"b", &small_chunks()).unwrap();
    b.put(
        b"k",
        &data(3 * CS as usize, 1, false),
        &PutOptions::default(),
    )
    .unwrap();
    let mut r = b.reader(b"k", None).unwrap().unwrap();
    let mut w = b.writer(b"w", &PutOptions::default()).unwrap();
    db.close().unwrap();
    assert!(matches!(b.get(b"k"), Err(Error::Closed)));
    assert!(matches!(r.read(&mut [0; 10]), Err(Error::Closed)));
    assert!(matches!(w.write(&[1; 10_000]), Err(Error::Closed)));
    assert!(w.commit().is_err());
    assert!(matches!(
        db.bucket(b"b", &BucketOptions::default()),
        Err(Error::Closed)
    ));
}
