//! One [`Store`] implementation per engine, all behind the same small interface.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};

/// A 16-byte benchmark key.
pub type Key = [u8; 16];

/// The engines under test, in the order the tables show them.
pub const ALL: &[&str] = &[
    "katamari", "lmdb", "sqlite", "rocksdb", "redb", "fjall", "sled",
];

/// Whether a store's durable mode really reaches stable storage with fsync/fdatasync
/// (sled 0.34 only issues sync_file_range, so it is left out of durable comparisons).
pub fn syncs(name: &str) -> bool {
    name != "sled"
}

/// What every engine offers the workloads.
pub trait Store: Send + Sync {
    /// Commits `kvs` atomically as one write, without waiting for stable storage.
    fn write_batch(&self, kvs: &[(&[u8], &[u8])]) -> Result<()>;
    /// Commits one put and returns once it is on stable storage (the store must have
    /// been opened with `durable`).
    fn put_durable(&self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Forces everything written so far onto stable storage.
    fn sync(&self) -> Result<()>;
    /// A point reader for one thread.
    fn reader(&self) -> Result<Box<dyn Reader + '_>>;
    /// Visits every pair in key order; returns (pairs, key + value bytes) and fails if
    /// keys come out of order.
    fn scan(&self) -> Result<(u64, u64)>;
    /// The engine's own space reclamation (Katamari's merge, an LSM's full compaction,
    /// SQLite's VACUUM); `false` when the engine has none.
    fn compact(&mut self) -> Result<bool>;
    /// Bytes of the in-memory index per key if the engine reports it.
    fn index_bytes(&self) -> Option<u64> {
        None
    }
    /// Closes the store, waiting for its background work.
    fn close(self: Box<Self>) -> Result<()>;
}

/// Point reads from one thread.
pub trait Reader {
    /// Reads every key of `keys` (each must be present, in one read transaction where the
    /// engine has them) and returns the total value bytes seen.
    fn get_many(&mut self, keys: &[Key]) -> Result<u64>;
}

/// Opens store `name` in directory `dir` (created if missing).
pub fn open(name: &str, dir: &Path, durable: bool) -> Result<Box<dyn Store>> {
    std::fs::create_dir_all(dir)?;
    Ok(match name {
        "katamari" => Box::new(Katamari::open(dir, durable)?),
        "lmdb" => Box::new(Lmdb::open(dir, durable)?),
        "sqlite" => Box::new(Sqlite::open(dir, durable)?),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Box::new(Rocks::open(dir, durable)?),
        #[cfg(not(feature = "rocksdb"))]
        "rocksdb" => bail!("built without the `rocksdb` feature"),
        "redb" => Box::new(Redb::open(dir, durable)?),
        "fjall" => Box::new(Fjall::open(dir, durable)?),
        "sled" => Box::new(Sled::open(dir)?),
        _ => bail!("unknown store {name:?} (known: {})", ALL.join(", ")),
    })
}

fn missing(key: &[u8]) -> anyhow::Error {
    anyhow!("key {key:02x?} is missing")
}

thread_local! {
    static SINK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What the benchmark does with every value it reads: copies it into a reused buffer, as
/// an application that keeps it would, so zero-copy stores also pay for touching the
/// bytes. Returns the length.
fn consume(v: &[u8]) -> u64 {
    SINK.with(|s| {
        let mut s = s.borrow_mut();
        s.clear();
        s.extend_from_slice(v);
        std::hint::black_box(&*s);
    });
    v.len() as u64
}

fn check_order(prev: &mut Vec<u8>, key: &[u8], n: u64) -> Result<()> {
    if n > 0 && key <= &prev[..] {
        bail!("scan out of order at entry {n}");
    }
    prev.clear();
    prev.extend_from_slice(key);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Katamari

pub struct Katamari {
    db: katamari::Db,
}

impl Katamari {
    fn open(dir: &Path, durable: bool) -> Result<Self> {
        let mode = if durable {
            katamari::SyncMode::Always
        } else {
            katamari::SyncMode::Never
        };
        let db = katamari::Db::open(dir.join("db"), katamari::Options::default().sync(mode))?;
        Ok(Katamari { db })
    }
}

impl Store for Katamari {
    fn write_batch(&self, kvs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut batch = katamari::WriteBatch::new();
        for (k, v) in kvs {
            batch.put(k, v)?;
        }
        Ok(self.db.write(&batch)?)
    }
    fn put_durable(&self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put(key, value)?)
    }
    fn sync(&self) -> Result<()> {
        Ok(self.db.sync()?)
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        struct R<'a>(&'a katamari::Db);
        impl Reader for R<'_> {
            fn get_many(&mut self, keys: &[Key]) -> Result<u64> {
                let mut bytes = 0;
                for k in keys {
                    bytes += consume(&self.0.get(k)?.ok_or_else(|| missing(k))?);
                }
                Ok(bytes)
            }
        }
        Ok(Box::new(R(&self.db)))
    }
    fn scan(&self) -> Result<(u64, u64)> {
        let mut it = self.db.iter(&katamari::IterOptions::default())?;
        let (mut n, mut bytes, mut prev) = (0u64, 0u64, Vec::new());
        while let Some((k, v)) = it.next_entry()? {
            check_order(&mut prev, k, n)?;
            n += 1;
            bytes += k.len() as u64 + consume(v);
        }
        Ok((n, bytes))
    }
    fn compact(&mut self) -> Result<bool> {
        self.db.merge()?;
        Ok(true)
    }
    fn index_bytes(&self) -> Option<u64> {
        self.db.stats().ok().map(|s| s.keydir_bytes)
    }
    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.db.close()?)
    }
}

// ---------------------------------------------------------------------------------
// LMDB through heed

pub struct Lmdb {
    env: heed::Env<heed::WithoutTls>,
    db: heed::Database<heed::types::Bytes, heed::types::Bytes>,
}

impl Lmdb {
    fn open(dir: &Path, durable: bool) -> Result<Self> {
        let mut opts = heed::EnvOpenOptions::new().read_txn_without_tls();
        // A sparse 64 GiB map: LMDB cannot grow past it.
        opts.map_size(64 << 30).max_readers(126);
        if !durable {
            // SAFETY: NO_SYNC only drops the fsync at commit; `sync` forces one.
            unsafe { opts.flags(heed::EnvFlags::NO_SYNC) };
        }
        // SAFETY: each directory is opened by one environment of this process at a time.
        let env = unsafe { opts.open(dir) }?;
        let mut wtxn = env.write_txn()?;
        let db = env.create_database(&mut wtxn, None)?;
        wtxn.commit()?;
        Ok(Lmdb { env, db })
    }
}

impl Store for Lmdb {
    fn write_batch(&self, kvs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut txn = self.env.write_txn()?;
        for (k, v) in kvs {
            self.db.put(&mut txn, k, v)?;
        }
        Ok(txn.commit()?)
    }
    fn put_durable(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write_batch(&[(key, value)])
    }
    fn sync(&self) -> Result<()> {
        Ok(self.env.force_sync()?)
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        struct R<'a>(&'a Lmdb);
        impl Reader for R<'_> {
            fn get_many(&mut self, keys: &[Key]) -> Result<u64> {
                let txn = self.0.env.read_txn()?;
                let mut bytes = 0;
                for k in keys {
                    let v = self.0.db.get(&txn, k)?.ok_or_else(|| missing(k))?;
                    bytes += consume(v);
                }
                Ok(bytes)
            }
        }
        Ok(Box::new(R(self)))
    }
    fn scan(&self) -> Result<(u64, u64)> {
        let txn = self.env.read_txn()?;
        let (mut n, mut bytes, mut prev) = (0u64, 0u64, Vec::new());
        for item in self.db.iter(&txn)? {
            let (k, v) = item?;
            check_order(&mut prev, k, n)?;
            n += 1;
            bytes += k.len() as u64 + consume(v);
        }
        Ok((n, bytes))
    }
    fn compact(&mut self) -> Result<bool> {
        Ok(false)
    }
    fn close(self: Box<Self>) -> Result<()> {
        self.env.prepare_for_closing().wait();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// SQLite through rusqlite (bundled), WAL mode

pub struct Sqlite {
    path: PathBuf,
    conn: Mutex<rusqlite::Connection>,
}

const SQLITE_PUT: &str = "INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)";

impl Sqlite {
    fn open(dir: &Path, durable: bool) -> Result<Self> {
        let path = dir.join("kv.sqlite");
        let conn = rusqlite::Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", if durable { "FULL" } else { "OFF" })?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID",
        )?;
        Ok(Sqlite {
            path,
            conn: Mutex::new(conn),
        })
    }
    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for Sqlite {
    fn write_batch(&self, kvs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(SQLITE_PUT)?;
            for (k, v) in kvs {
                stmt.execute((k, v))?;
            }
        }
        Ok(tx.commit()?)
    }
    fn put_durable(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let conn = self.conn();
        conn.prepare_cached(SQLITE_PUT)?.execute((key, value))?;
        Ok(())
    }
    fn sync(&self) -> Result<()> {
        // synchronous=OFF never syncs: sync the files the way a caller would.
        let _guard = self.conn();
        for suffix in ["", "-wal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            if let Ok(f) = std::fs::File::open(&p) {
                f.sync_all()?;
            }
        }
        Ok(())
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        struct R(rusqlite::Connection);
        impl Reader for R {
            fn get_many(&mut self, keys: &[Key]) -> Result<u64> {
                let tx = self.0.transaction()?;
                let mut bytes = 0u64;
                {
                    let mut stmt = tx.prepare_cached("SELECT value FROM kv WHERE key = ?1")?;
                    for k in keys {
                        let mut rows = stmt.query([&k[..]])?;
                        let row = rows.next()?.ok_or_else(|| missing(k))?;
                        bytes += consume(row.get_ref(0)?.as_blob()?);
                    }
                }
                tx.commit()?;
                Ok(bytes)
            }
        }
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Ok(Box::new(R(conn)))
    }
    fn scan(&self) -> Result<(u64, u64)> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT key, value FROM kv ORDER BY key")?;
        let mut rows = stmt.query([])?;
        let (mut n, mut bytes, mut prev) = (0u64, 0u64, Vec::new());
        while let Some(row) = rows.next()? {
            let k = row.get_ref(0)?.as_blob()?;
            let v = row.get_ref(1)?.as_blob()?;
            check_order(&mut prev, k, n)?;
            n += 1;
            bytes += k.len() as u64 + consume(v);
        }
        Ok((n, bytes))
    }
    fn compact(&mut self) -> Result<bool> {
        let conn = self.conn();
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(true)
    }
    fn close(self: Box<Self>) -> Result<()> {
        let conn = self.conn.into_inner().unwrap_or_else(|e| e.into_inner());
        conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// RocksDB

#[cfg(feature = "rocksdb")]
pub struct Rocks {
    db: rocksdb::DB,
    wo: rocksdb::WriteOptions,
}

#[cfg(feature = "rocksdb")]
impl Rocks {
    fn open(dir: &Path, durable: bool) -> Result<Self> {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        // Katamari does not compress either (and the crate is built without codecs).
        opts.set_compression_type(rocksdb::DBCompressionType::None);
        opts.increase_parallelism(
            std::thread::available_parallelism().map_or(2, |n| n.get()) as i32
        );
        let db = rocksdb::DB::open(&opts, dir)?;
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(durable);
        Ok(Rocks { db, wo })
    }
}

#[cfg(feature = "rocksdb")]
impl Store for Rocks {
    fn write_batch(&self, kvs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut batch = rocksdb::WriteBatch::default();
        for (k, v) in kvs {
            batch.put(k, v);
        }
        Ok(self.db.write_opt(batch, &self.wo)?)
    }
    fn put_durable(&self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put_opt(key, value, &self.wo)?)
    }
    fn sync(&self) -> Result<()> {
        Ok(self.db.flush_wal(true)?)
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        struct R<'a>(&'a rocksdb::DB);
        impl Reader for R<'_> {
            fn get_many(&mut self, keys: &[Key]) -> Result<u64> {
                let mut bytes = 0;
                for k in keys {
                    bytes += consume(&self.0.get_pinned(k)?.ok_or_else(|| missing(k))?);
                }
                Ok(bytes)
            }
        }
        Ok(Box::new(R(&self.db)))
    }
    fn scan(&self) -> Result<(u64, u64)> {
        let mut it = self.db.raw_iterator();
        it.seek_to_first();
        let (mut n, mut bytes, mut prev) = (0u64, 0u64, Vec::new());
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            check_order(&mut prev, k, n)?;
            n += 1;
            bytes += k.len() as u64 + consume(v);
            it.next();
        }
        it.status()?;
        Ok((n, bytes))
    }
    fn compact(&mut self) -> Result<bool> {
        self.db.flush()?;
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
        Ok(true)
    }
    fn close(self: Box<Self>) -> Result<()> {
        self.db.cancel_all_background_work(true);
        drop(self);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// redb

pub struct Redb {
    db: redb::Database,
    durability: redb::Durability,
}

const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("kv");

impl Redb {
    fn open(dir: &Path, durable: bool) -> Result<Self> {
        let db = redb::Database::create(dir.join("kv.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(REDB_TABLE)?;
        txn.commit()?;
        let durability = if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        Ok(Redb { db, durability })
    }
    fn commit(&self, kvs: &[(&[u8], &[u8])], durability: redb::Durability) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(durability)?;
        {
            let mut table = txn.open_table(REDB_TABLE)?;
            for (k, v) in kvs {
                table.insert(*k, *v)?;
            }
        }
        Ok(txn.commit()?)
    }
}

impl Store for Redb {
    fn write_batch(&self, kvs: &[(&[u8], &[u8])]) -> Result<()> {
        self.commit(kvs, self.durability)
    }
    fn put_durable(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.commit(&[(key, value)], self.durability)
    }
    fn sync(&self) -> Result<()> {
        // An immediate commit makes every earlier non-durable commit durable too.
        self.commit(&[], redb::Durability::Immediate)
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        use redb::ReadableDatabase;
        struct R<'a>(&'a redb::Database);
        impl Reader for R<'_> {
            fn get_many(&mut self, keys: &[Key]) -> Result<u64> {
                let txn = self.0.begin_read()?;
                let table = txn.open_table(REDB_TABLE)?;
                let mut bytes = 0;
                for k in keys {
                    let v = table.get(&k[..])?.ok_or_else(|| missing(k))?;
                    bytes += consume(v.value());
                }
                Ok(bytes)
            }
        }
        Ok(Box::new(R(&self.db)))
    }
    fn scan(&self) -> Result<(u64, u64)> {
        use redb::{ReadableDatabase, ReadableTable};
        let txn = self.db.begin_read()?;
        let table = txn.open_table(REDB_TABLE)?;
        let (mut n, mut bytes, mut prev) = (0u64, 0u64, Vec::new());
        for item in table.iter()? {
            let (k, v) = item?;
            let (k, v) = (k.value(), v.value());
            check_order(&mut prev, k, n)?;
            n += 1;
            bytes += k.len() as u64 + consume(v);
        }
        Ok((n, bytes))
    }
    fn compact(&mut self) -> Result<bool> {
        self.sync()?;
        while self.db.compact().context("redb compact")? {}
        Ok(true)
    }
    fn close(self: Box<Self>) -> Result<()> {
        drop(self);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// fjall

pub struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
    durable: bool,
}

impl Fjall {
    fn open(dir: &Path, durable: bool) -> Result<Self> {
        let db = fjall::Database::builder(dir).open()?;
        let ks = db.keyspace("kv", fjall::KeyspaceCreateOptions::default)?;
        Ok(Fjall { db, ks, durable })
    }
}

impl Store for Fjall {
    fn write_batch(&self, kvs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut batch = self.db.batch();
        for (k, v) in kvs {
            batch.insert(&self.ks, *k, *v);
        }
        Ok(batch.commit()?)
    }
    fn put_durable(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mode = self.durable.then_some(fjall::PersistMode::SyncData);
        let mut batch = self.db.batch().durability(mode);
        batch.insert(&self.ks, key, value);
        Ok(batch.commit()?)
    }
    fn sync(&self) -> Result<()> {
        Ok(self.db.persist(fjall::PersistMode::SyncAll)?)
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        struct R<'a>(&'a fjall::Keyspace);
        impl Reader for R<'_> {
            fn get_many(&mut self, keys: &[Key]) -> Result<u64> {
                let mut bytes = 0;
                for k in keys {
                    bytes += consume(&self.0.get(k)?.ok_or_else(|| missing(k))?);
                }
                Ok(bytes)
            }
        }
        Ok(Box::new(R(&self.ks)))
    }
    fn scan(&self) -> Result<(u64, u64)> {
        let (mut n, mut bytes, mut prev) = (0u64, 0u64, Vec::new());
        for guard in self.ks.iter() {
            let (k, v) = guard.into_inner()?;
            check_order(&mut prev, &k, n)?;
            n += 1;
            bytes += k.len() as u64 + consume(&v);
        }
        Ok((n, bytes))
    }
    fn compact(&mut self) -> Result<bool> {
        self.ks.rotate_memtable_and_wait()?;
        self.ks.major_compact()?;
        Ok(true)
    }
    fn close(self: Box<Self>) -> Result<()> {
        self.db.persist(fjall::PersistMode::SyncAll)?;
        drop(self);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// sled 0.34 (the current stable release)

pub struct Sled {
    db: sled::Db,
}

impl Sled {
    fn open(dir: &Path) -> Result<Self> {
        Ok(Sled {
            db: sled::Config::new().path(dir.join("db")).open()?,
        })
    }
}

impl Store for Sled {
    fn write_batch(&self, kvs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (k, v) in kvs {
            batch.insert(*k, *v);
        }
        Ok(self.db.apply_batch(batch)?)
    }
    fn put_durable(&self, key: &[u8], value: &[u8]) -> Result<()> {
        // sled's flush is its durability call; on Linux it issues sync_file_range, not
        // fsync (see BENCHMARKS.md), so sled is left out of durable comparisons.
        self.db.insert(key, value)?;
        self.db.flush()?;
        Ok(())
    }
    fn sync(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
    fn reader(&self) -> Result<Box<dyn Reader + '_>> {
        struct R<'a>(&'a sled::Db);
        impl Reader for R<'_> {
            fn get_many(&mut self, keys: &[Key]) -> Result<u64> {
                let mut bytes = 0;
                for k in keys {
                    bytes += consume(&self.0.get(k)?.ok_or_else(|| missing(k))?);
                }
                Ok(bytes)
            }
        }
        Ok(Box::new(R(&self.db)))
    }
    fn scan(&self) -> Result<(u64, u64)> {
        let (mut n, mut bytes, mut prev) = (0u64, 0u64, Vec::new());
        for item in self.db.iter() {
            let (k, v) = item?;
            check_order(&mut prev, &k, n)?;
            n += 1;
            bytes += k.len() as u64 + consume(&v);
        }
        Ok((n, bytes))
    }
    fn compact(&mut self) -> Result<bool> {
        Ok(false)
    }
    fn close(self: Box<Self>) -> Result<()> {
        self.db.flush()?;
        drop(self);
        Ok(())
    }
}
