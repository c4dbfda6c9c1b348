//! Columns: named, typed, list-like sequences (`i64`, `f64`, fixed `bytes:N`, variable
//! `bytes`) stored as packed chunks in an internal keyspace per column.
//!
//! Layout of column `C`'s keyspace `\0column/C` (documented in `docs/FORMAT.md`):
//! - `L` → length (u64 LE); `H` → heap length (u64 LE, variable columns);
//! - `c ‖ u64 BE k` → element chunk `k`: elements `k·cap .. (k+1)·cap` packed (the last
//!   chunk holds only the elements present). Fixed columns store values; variable
//!   columns store 12-byte entries `u64 LE heap offset ‖ u32 LE length`;
//! - `h ‖ u64 BE k` → heap chunk `k` of a variable column: bytes `k·chunk .. (k+1)·chunk`
//!   of the value heap, where values are appended.
//!
//! Every change (elements, length, heap) is one atomic commit, so a column never shows
//! a length whose values are missing, before or after a crash.

mod appender;

use std::sync::Arc;

use crate::iter::IterOptions;
use crate::txn::retry;
use crate::{Db, Error, Result, Txn, TxnOptions};

pub use appender::Appender;

/// The internal keyspace of the column catalog: `name:<name>` → descriptor, `next` → the
/// next column id (u64 LE; ids are never reused).
const CATALOG: &[u8] = b"\0columns";
const NAME_PREFIX: &[u8] = b"name:";
const NEXT_KEY: &[u8] = b"next";
const DESCRIPTOR_FORMAT: u8 = 1;

const LEN_KEY: &[u8] = b"L";
const HEAP_KEY: &[u8] = b"H";
const ELEMENTS: u8 = b'c';
const HEAP: u8 = b'h';
/// Bytes of a variable column's element entry: heap offset and length.
const ENTRY_LEN: usize = 12;

/// Bytes per chunk. Measured with `benches/column.rs` (1M values, sync-never) against
/// 16 and 64 KiB: 4 KiB chunks keep `extend` above 100M f64/s and sequential reads above
/// 2.5 GB/s, while a random `get` (which reads and checks a whole chunk) runs 1.7 times
/// faster than with 16 KiB and a one-commit `append` (which rewrites the last chunk) 3.5
/// times faster.
pub const CHUNK_BYTES: u32 = 4 << 10;
/// Longest column name.
pub const MAX_COLUMN_NAME_LEN: usize = 255;
/// Largest `N` of a `bytes:N` column.
pub const MAX_FIXED_WIDTH: u32 = 1 << 20;
/// Largest value of a variable `bytes` column.
pub const MAX_VAR_VALUE: usize = u32::MAX as usize;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit signed integers (8 bytes little-endian each).
    I64,
    /// 64-bit floats (8 bytes little-endian IEEE 754 each).
    F64,
    /// Values of exactly `N` bytes.
    Bytes(u32),
    /// Byte strings of any length.
    VarBytes,
}

impl ColumnType {
    /// Bytes per element in the element chunks.
    fn width(self) -> usize {
        match self {
            ColumnType::I64 | ColumnType::F64 => 8,
            ColumnType::Bytes(n) => n as usize,
            ColumnType::VarBytes => ENTRY_LEN,
        }
    }

    fn check(self) -> Result<()> {
        match self {
            ColumnType::Bytes(n) if n == 0 || n > MAX_FIXED_WIDTH => Err(Error::InvalidArgument(
                format!("bytes:N columns need 1 <= N <= {MAX_FIXED_WIDTH}"),
            )),
            _ => Ok(()),
        }
    }

    fn tag(self) -> (u8, u32) {
        match self {
            ColumnType::I64 => (1, 8),
            ColumnType::F64 => (2, 8),
            ColumnType::Bytes(n) => (3, n),
            ColumnType::VarBytes => (4, 0),
        }
    }

    fn from_tag(tag: u8, n: u32) -> Option<ColumnType> {
        match (tag, n) {
            (1, 8) => Some(ColumnType::I64),
            (2, 8) => Some(ColumnType::F64),
            (3, n) if n > 0 && n <= MAX_FIXED_WIDTH => Some(ColumnType::Bytes(n)),
            (4, 0) => Some(ColumnType::VarBytes),
            _ => None,
        }
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnType::I64 => f.write_str("i64"),
            ColumnType::F64 => f.write_str("f64"),
            ColumnType::Bytes(n) => write!(f, "bytes:{n}"),
            ColumnType::VarBytes => f.write_str("bytes"),
        }
    }
}

/// A column's name, type and length, as [`Db::columns`] lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: Vec<u8>,
    pub ty: ColumnType,
    pub len: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Descriptor {
    id: u64,
    ty: ColumnType,
    chunk: u32,
}

impl Descriptor {
    fn encode(&self) -> Vec<u8> {
        let (tag, n) = self.ty.tag();
        let mut b = vec![DESCRIPTOR_FORMAT];
        b.extend_from_slice(&self.id.to_le_bytes());
        b.push(tag);
        b.extend_from_slice(&n.to_le_bytes());
        b.extend_from_slice(&self.chunk.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Result<Descriptor> {
        let bad = || corrupt("malformed column descriptor");
        if b.len() != 18 || b[0] != DESCRIPTOR_FORMAT {
            return Err(bad());
        }
        let id = u64::from_le_bytes(b[1..9].try_into().expect("8 bytes"));
        let n = u32::from_le_bytes(b[10..14].try_into().expect("4 bytes"));
        let chunk = u32::from_le_bytes(b[14..18].try_into().expect("4 bytes"));
        let ty = ColumnType::from_tag(b[9], n).ok_or_else(bad)?;
        if id == 0 || chunk == 0 {
            return Err(bad());
        }
        Ok(Descriptor { id, ty, chunk })
    }
}

fn corrupt(what: &str) -> Error {
    Error::Corruption(format!("column: {what}"))
}

fn keyspace_name(id: u64) -> Vec<u8> {
    format!("\0column/{id}").into_bytes()
}

fn chunk_key(kind: u8, index: u64) -> [u8; 9] {
    let mut k = [kind; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn check_name(name: &[u8]) -> Result<()> {
    if name.is_empty() || name.len() > MAX_COLUMN_NAME_LEN {
        return Err(Error::InvalidArgument(format!(
            "column names are 1 to {MAX_COLUMN_NAME_LEN} bytes"
        )));
    }
    Ok(())
}

fn read_only(db: &Db) -> Result<Txn> {
    db.begin_with(TxnOptions {
        read_only: true,
        ..TxnOptions::default()
    })
}

/// A handle on one column. Cheap to clone and safe to share between threads.
#[derive(Clone)]
pub struct Column {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    name: Vec<u8>,
    desc: Descriptor,
    keyspace: u32,
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Column")
            .field("name", &String::from_utf8_lossy(&self.inner.name))
            .field("type", &self.inner.desc.ty)
            .finish()
    }
}

impl Db {
    fn column_catalog(&self, create: bool) -> Result<Option<u32>> {
        self.with(|e| e.keyspace(CATALOG, create))
    }

    /// Creates column `name` (1 to 255 bytes) of type `ty`; [`Error::InvalidArgument`]
    /// if a column of that name exists.
    pub fn create_column(&self, name: &[u8], ty: ColumnType) -> Result<Column> {
        check_name(name)?;
        ty.check()?;
        let catalog = self.column_catalog(true)?.expect("created");
        let desc = retry(self, |tx| {
            let key = [NAME_PREFIX, name].concat();
            if tx.get_ks(catalog, &key)?.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "column {} exists",
                    String::from_utf8_lossy(name)
                )));
            }
            let id = match tx.get_ks(catalog, NEXT_KEY)? {
                Some(v) => u64::from_le_bytes(
                    v.as_slice()
                        .try_into()
                        .map_err(|_| corrupt("bad next id"))?,
                ),
                None => 1,
            };
            tx.put_ks(catalog, NEXT_KEY, &(id + 1).to_le_bytes(), 0)?;
            let desc = Descriptor {
                id,
                ty,
                chunk: CHUNK_BYTES,
            };
            tx.put_ks(catalog, &key, &desc.encode(), 0)?;
            Ok(desc)
        })?;
        self.column_handle(name, desc)
    }

    /// Opens column `name`; [`Error::NotFound`] if there is none.
    pub fn column(&self, name: &[u8]) -> Result<Column> {
        check_name(name)?;
        let catalog = self.column_catalog(false)?.ok_or(Error::NotFound)?;
        let stored = self.with(|e| e.get(catalog, &[NAME_PREFIX, name].concat()))?;
        let desc = Descriptor::decode(&stored.ok_or(Error::NotFound)?)?;
        self.column_handle(name, desc)
    }

    fn column_handle(&self, name: &[u8], desc: Descriptor) -> Result<Column> {
        let keyspace = self
            .with(|e| e.keyspace(&keyspace_name(desc.id), true))?
            .expect("created");
        Ok(Column {
            inner: Arc::new(Inner {
                db: self.clone(),
                name: name.to_vec(),
                desc,
                keyspace,
            }),
        })
    }

    /// Drops column `name` and all its chunks ([`Error::NotFound`] if there is none);
    /// handles on it fail from then on, and merge reclaims the space.
    pub fn drop_column(&self, name: &[u8]) -> Result<()> {
        check_name(name)?;
        let catalog = self.column_catalog(false)?.ok_or(Error::NotFound)?;
        let desc = retry(self, |tx| {
            let key = [NAME_PREFIX, name].concat();
            let desc = Descriptor::decode(&tx.get_ks(catalog, &key)?.ok_or(Error::NotFound)?)?;
            tx.delete_ks(catalog, &key)?;
            Ok(desc)
        })?;
        drop_column_space(self, desc.id)
    }

    /// Every column with its type and length, sorted by name.
    pub fn columns(&self) -> Result<Vec<ColumnInfo>> {
        let Some(catalog) = self.column_catalog(false)? else {
            return Ok(Vec::new());
        };
        let mut tx = read_only(self)?;
        let mut found = Vec::new();
        {
            let mut it = tx.iter_ks(catalog, &IterOptions::prefix(NAME_PREFIX))?;
            while let Some((k, v)) = it.next_entry()? {
                found.push((k[NAME_PREFIX.len()..].to_vec(), Descriptor::decode(v)?));
            }
        }
        let mut out = Vec::with_capacity(found.len());
        for (name, desc) in found {
            let ks = self.with(|e| e.keyspace(&keyspace_name(desc.id), false))?;
            let len = match ks {
                Some(ks) => read_u64(&mut tx, ks, LEN_KEY)?,
                None => 0,
            };
            out.push(ColumnInfo {
                name,
                ty: desc.ty,
                len,
            });
        }
        Ok(out)
    }
}

fn drop_column_space(db: &Db, id: u64) -> Result<()> {
    match db.with(|e| e.drop_keyspace(&keyspace_name(id))) {
        Ok(()) | Err(Error::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Drops the keyspaces of columns whose catalog entry is gone (a drop that a crash
/// interrupted). Runs when a database opens.
pub(crate) fn recover(db: &Db) -> Result<()> {
    let Some(catalog) = db.column_catalog(false)? else {
        return Ok(());
    };
    let mut live = std::collections::HashSet::new();
    {
        let mut tx = read_only(db)?;
        let mut it = tx.iter_ks(catalog, &IterOptions::prefix(NAME_PREFIX))?;
        while let Some((_, v)) = it.next_entry()? {
            live.insert(Descriptor::decode(v)?.id);
        }
    }
    let orphans: Vec<u64> = db
        .with(|e| Ok(e.keyspace_names()))?
        .iter()
        .filter_map(|n| {
            std::str::from_utf8(n.strip_prefix(b"\0column/")?)
                .ok()?
                .parse()
                .ok()
        })
        .filter(|id| !live.contains(id))
        .collect();
    for id in orphans {
        drop_column_space(db, id)?;
    }
    Ok(())
}

fn read_u64(tx: &mut Txn, ks: u32, key: &[u8]) -> Result<u64> {
    match tx.get_ks(ks, key)? {
        None => Ok(0),
        Some(v) => Ok(u64::from_le_bytes(
            v.as_slice()
                .try_into()
                .map_err(|_| corrupt("bad length record"))?,
        )),
    }
}

/// A chunked area of a column's keyspace: chunks under key prefix `kind`, each holding
/// `per` items of `width` bytes (elements, or heap bytes).
#[derive(Clone, Copy)]
struct Region {
    kind: u8,
    per: u64,
    width: usize,
}

/// Packed elements given to a write: fixed-size values, or variable values as an
/// Arrow-style offsets array (`n + 1` ascending positions into `data`) plus data.
enum Values<'a> {
    Fixed(&'a [u8]),
    Var { offsets: &'a [u64], data: &'a [u8] },
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &[u8] {
        &self.inner.name
    }
    /// The column's type.
    pub fn ty(&self) -> ColumnType {
        self.inner.desc.ty
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    fn ks(&self) -> u32 {
        self.inner.keyspace
    }

    fn width(&self) -> usize {
        self.inner.desc.ty.width()
    }

    /// Elements per chunk.
    fn cap(&self) -> u64 {
        (self.inner.desc.chunk as usize / self.width()).max(1) as u64
    }

    fn live(&self) -> Result<()> {
        self.inner
            .db
            .with(|e| e.check_keyspace(self.ks()))
            .map_err(|e| match e {
                Error::InvalidArgument(_) => {
                    Error::InvalidArgument("the column was dropped".into())
                }
                other => other,
            })
    }

    fn check_txn(&self, tx: &Txn) -> Result<()> {
        if tx.db().same(&self.inner.db) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the transaction belongs to another database".into(),
            ))
        }
    }

    fn expect_type(&self, want: ColumnType) -> Result<()> {
        if self.ty() == want {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "column {} holds {}, not {want}",
                String::from_utf8_lossy(&self.inner.name),
                self.ty()
            )))
        }
    }

    fn is_var(&self) -> bool {
        self.ty() == ColumnType::VarBytes
    }

    /// Turns a possibly negative index (from the end) into a position below `len`.
    fn position(index: i64, len: u64) -> Result<u64> {
        let pos = if index < 0 {
            len.checked_sub(index.unsigned_abs())
        } else {
            Some(index as u64)
        };
        pos.filter(|&p| p < len).ok_or(Error::NotFound)
    }

    // ---- chunk I/O on a transaction's view ----

    /// Bytes `[from, to)` of the chunked region `kind` whose chunks hold `per` items of
    /// `width` bytes, appended to `out`.
    fn read_region(
        &self,
        tx: &mut Txn,
        r: Region,
        from: u64,
        to: u64,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let Region { kind, per, width } = r;
        let mut at = from;
        while at < to {
            let k = at / per;
            let chunk = tx
                .get_ks(self.ks(), &chunk_key(kind, k))?
                .ok_or_else(|| corrupt(&format!("chunk {k} is missing")))?;
            let first = (at - k * per) as usize * width;
            let last = ((to.min((k + 1) * per) - k * per) as usize) * width;
            let piece = chunk
                .get(first..last)
                .ok_or_else(|| corrupt(&format!("chunk {k} is shorter than the length says")))?;
            out.extend_from_slice(piece);
            at = (k + 1) * per;
        }
        Ok(())
    }

    /// Writes `data` (whole items of `width` bytes) at item `start` of region `kind`,
    /// where `filled` items exist: chunks it covers partly are read and patched.
    fn write_region(
        &self,
        tx: &mut Txn,
        r: Region,
        start: u64,
        filled: u64,
        data: &[u8],
    ) -> Result<()> {
        let Region { kind, per, width } = r;
        let n = (data.len() / width) as u64;
        let end = start + n;
        let mut at = start;
        let mut chunk = Vec::new();
        while at < end {
            let k = at / per;
            let (lo, hi) = (k * per, (k + 1) * per);
            let upto = end.min(hi);
            chunk.clear();
            let whole = at == lo && (upto == hi || upto >= filled);
            if !whole && filled > lo {
                chunk = tx
                    .get_ks(self.ks(), &chunk_key(kind, k))?
                    .ok_or_else(|| corrupt(&format!("chunk {k} is missing")))?;
                if chunk.len() < ((filled.min(hi) - lo) as usize) * width {
                    return Err(corrupt(&format!(
                        "chunk {k} is shorter than the length says"
                    )));
                }
            }
            let need = ((upto.max(filled.min(hi)) - lo) as usize) * width;
            if chunk.len() < need {
                chunk.resize(need, 0);
            }
            let src = &data[((at - start) as usize) * width..((upto - start) as usize) * width];
            let dst = ((at - lo) as usize) * width;
            chunk[dst..dst + src.len()].copy_from_slice(src);
            tx.put_ks(self.ks(), &chunk_key(kind, k), &chunk, 0)?;
            at = upto;
        }
        Ok(())
    }

    fn heap_chunk(&self) -> u64 {
        u64::from(self.inner.desc.chunk)
    }

    /// The element chunks (values, or heap entries of a variable column).
    fn elements(&self) -> Region {
        Region {
            kind: ELEMENTS,
            per: self.cap(),
            width: self.width(),
        }
    }

    /// The heap chunks of a variable column.
    fn heap(&self) -> Region {
        Region {
            kind: HEAP,
            per: self.heap_chunk(),
            width: 1,
        }
    }

    // ---- the operations, on a transaction's view ----

    fn len_tx(&self, tx: &mut Txn) -> Result<u64> {
        self.live()?;
        read_u64(tx, self.ks(), LEN_KEY)
    }

    fn check_values(&self, v: &Values<'_>) -> Result<u64> {
        match (v, self.is_var()) {
            (Values::Fixed(data), false) => {
                let w = self.width();
                if data.len() % w != 0 {
                    return Err(Error::InvalidArgument(format!(
                        "{} bytes is not a whole number of {}-byte values",
                        data.len(),
                        w
                    )));
                }
                Ok((data.len() / w) as u64)
            }
            (Values::Var { offsets, data }, true) => {
                if offsets.is_empty() {
                    return Err(Error::InvalidArgument("offsets need n + 1 entries".into()));
                }
                let ok = offsets
                    .windows(2)
                    .all(|p| p[0] <= p[1] && p[1] - p[0] <= MAX_VAR_VALUE as u64)
                    && offsets[offsets.len() - 1] <= data.len() as u64;
                if !ok {
                    return Err(Error::InvalidArgument(
                        "offsets must ascend, stay within the data and describe values under 4 GiB"
                            .into(),
                    ));
                }
                Ok(offsets.len() as u64 - 1)
            }
            (Values::Fixed(_), true) => Err(Error::InvalidArgument(
                "a variable bytes column takes values with offsets".into(),
            )),
            (Values::Var { .. }, false) => Err(Error::InvalidArgument(format!(
                "a {} column takes fixed-size values",
                self.ty()
            ))),
        }
    }

    fn extend_tx(&self, tx: &mut Txn, v: &Values<'_>) -> Result<u64> {
        let n = self.check_values(v)?;
        let len = self.len_tx(tx)?;
        if n == 0 {
            return Ok(len);
        }
        match v {
            Values::Fixed(data) => {
                self.write_region(tx, self.elements(), len, len, data)?;
            }
            Values::Var { offsets, data } => {
                let heap = read_u64(tx, self.ks(), HEAP_KEY)?;
                let base = offsets[0];
                let bytes = &data[base as usize..offsets[offsets.len() - 1] as usize];
                self.write_region(tx, self.heap(), heap, heap, bytes)?;
                let mut entries = Vec::with_capacity(n as usize * ENTRY_LEN);
                for p in offsets.windows(2) {
                    entries.extend_from_slice(&(heap + p[0] - base).to_le_bytes());
                    entries.extend_from_slice(&((p[1] - p[0]) as u32).to_le_bytes());
                }
                self.write_region(tx, self.elements(), len, len, &entries)?;
                tx.put_ks(
                    self.ks(),
                    HEAP_KEY,
                    &(heap + bytes.len() as u64).to_le_bytes(),
                    0,
                )?;
            }
        }
        tx.put_ks(self.ks(), LEN_KEY, &(len + n).to_le_bytes(), 0)?;
        Ok(len + n)
    }

    /// Values `[start, end)` packed (fixed) or as (offsets, data) (variable).
    fn range_tx(&self, tx: &mut Txn, start: u64, end: u64) -> Result<(Vec<u64>, Vec<u8>)> {
        let len = self.len_tx(tx)?;
        if start > end || end > len {
            return Err(Error::InvalidArgument(format!(
                "range {start}..{end} is outside the column's {len} values"
            )));
        }
        let mut elements =
            Vec::with_capacity(((end - start) as usize).saturating_mul(self.width()));
        self.read_region(tx, self.elements(), start, end, &mut elements)?;
        if !self.is_var() {
            return Ok((Vec::new(), elements));
        }
        let heap = read_u64(tx, self.ks(), HEAP_KEY)?;
        let mut offsets = Vec::with_capacity(elements.len() / ENTRY_LEN + 1);
        let mut data = Vec::new();
        offsets.push(0);
        // Consecutive entries usually sit back to back in the heap: read runs at once.
        let entries: Vec<(u64, u64)> = elements
            .chunks_exact(ENTRY_LEN)
            .map(|e| {
                let off = u64::from_le_bytes(e[..8].try_into().expect("8 bytes"));
                let n = u64::from(u32::from_le_bytes(e[8..].try_into().expect("4 bytes")));
                (off, n)
            })
            .collect();
        let mut i = 0;
        while i < entries.len() {
            let (run_start, mut run_end) = (entries[i].0, entries[i].0 + entries[i].1);
            let mut j = i + 1;
            while j < entries.len() && entries[j].0 == run_end {
                run_end += entries[j].1;
                j += 1;
            }
            if run_end > heap || run_start > run_end {
                return Err(corrupt("an entry points past the heap"));
            }
            self.read_region(tx, self.heap(), run_start, run_end, &mut data)?;
            for e in &entries[i..j] {
                offsets.push(offsets.last().expect("seeded") + e.1);
            }
            i = j;
        }
        Ok((offsets, data))
    }

    fn get_tx(&self, tx: &mut Txn, index: i64) -> Result<Vec<u8>> {
        let len = self.len_tx(tx)?;
        let pos = Self::position(index, len)?;
        Ok(self.range_tx(tx, pos, pos + 1)?.1)
    }

    fn set_tx(&self, tx: &mut Txn, index: i64, value: &[u8]) -> Result<()> {
        let len = self.len_tx(tx)?;
        let pos = Self::position(index, len)?;
        if !self.is_var() {
            self.check_width(value)?;
            return self.write_region(tx, self.elements(), pos, len, value);
        }
        if value.len() > MAX_VAR_VALUE {
            return Err(Error::TooLarge("values are under 4 GiB".into()));
        }
        let heap = read_u64(tx, self.ks(), HEAP_KEY)?;
        self.write_region(tx, self.heap(), heap, heap, value)?;
        let mut entry = heap.to_le_bytes().to_vec();
        entry.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.write_region(tx, self.elements(), pos, len, &entry)?;
        tx.put_ks(
            self.ks(),
            HEAP_KEY,
            &(heap + value.len() as u64).to_le_bytes(),
            0,
        )
    }

    fn truncate_tx(&self, tx: &mut Txn, new_len: u64) -> Result<()> {
        let len = self.len_tx(tx)?;
        if new_len > len {
            return Err(Error::InvalidArgument(format!(
                "cannot truncate {len} values to {new_len}"
            )));
        }
        if new_len == len {
            return Ok(());
        }
        let cap = self.cap();
        let keep = new_len.div_ceil(cap);
        for k in keep..len.div_ceil(cap) {
            tx.delete_ks(self.ks(), &chunk_key(ELEMENTS, k))?;
        }
        if !new_len.is_multiple_of(cap) {
            let k = new_len / cap;
            let mut chunk = tx
                .get_ks(self.ks(), &chunk_key(ELEMENTS, k))?
                .ok_or_else(|| corrupt(&format!("chunk {k} is missing")))?;
            chunk.truncate(((new_len - k * cap) as usize) * self.width());
            tx.put_ks(self.ks(), &chunk_key(ELEMENTS, k), &chunk, 0)?;
        }
        if self.is_var() && new_len == 0 {
            // An emptied variable column gives its whole heap back.
            let heap = read_u64(tx, self.ks(), HEAP_KEY)?;
            for k in 0..heap.div_ceil(self.heap_chunk()) {
                tx.delete_ks(self.ks(), &chunk_key(HEAP, k))?;
            }
            tx.put_ks(self.ks(), HEAP_KEY, &0u64.to_le_bytes(), 0)?;
        }
        tx.put_ks(self.ks(), LEN_KEY, &new_len.to_le_bytes(), 0)
    }

    // ---- one-shot operations ----

    /// Number of values.
    pub fn len(&self) -> Result<u64> {
        let mut tx = read_only(self.db())?;
        self.len_tx(&mut tx)
    }

    /// Whether the column holds no values.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Appends one value (its raw bytes: 8 little-endian bytes for `i64`/`f64`, exactly
    /// `N` for `bytes:N`, any length for `bytes`) and returns the new length. One commit;
    /// for many values use [`Column::extend`] or an [`Appender`].
    pub fn append(&self, value: &[u8]) -> Result<u64> {
        if self.is_var() {
            let offsets = [0, value.len() as u64];
            return self.extend_var(&offsets, value);
        }
        self.check_width(value)?;
        self.extend(value)
    }

    /// Fails unless `value` is exactly one value of this fixed-size column.
    fn check_width(&self, value: &[u8]) -> Result<()> {
        if value.len() == self.width() {
            return Ok(());
        }
        Err(Error::InvalidArgument(format!(
            "a {} value is {} bytes, not {}",
            self.ty(),
            self.width(),
            value.len()
        )))
    }

    /// Appends packed fixed-size values (a whole number of them) in one commit; returns
    /// the new length. Wrong sizes are [`Error::InvalidArgument`] and write nothing.
    pub fn extend(&self, data: &[u8]) -> Result<u64> {
        let v = Values::Fixed(data);
        self.check_values(&v)?;
        retry(self.db(), |tx| self.extend_tx(tx, &v))
    }

    /// Appends variable values `data[offsets[i]..offsets[i+1]]` (`offsets` has one more
    /// entry than there are values, ascending) in one commit; returns the new length.
    pub fn extend_var(&self, offsets: &[u64], data: &[u8]) -> Result<u64> {
        let v = Values::Var { offsets, data };
        self.check_values(&v)?;
        retry(self.db(), |tx| self.extend_tx(tx, &v))
    }

    /// The value at `index` (negative: from the end); [`Error::NotFound`] out of range.
    pub fn get(&self, index: i64) -> Result<Vec<u8>> {
        let mut tx = read_only(self.db())?;
        self.get_tx(&mut tx, index)
    }

    /// Replaces the value at `index` (negative: from the end).
    pub fn set(&self, index: i64, value: &[u8]) -> Result<()> {
        retry(self.db(), |tx| self.set_tx(tx, index, value))
    }

    /// Values `[start, end)`: packed for fixed-size columns (offsets empty); for
    /// variable columns, offsets (`n + 1`, from 0) into the returned data.
    pub fn range(&self, start: u64, end: u64) -> Result<(Vec<u64>, Vec<u8>)> {
        let mut tx = read_only(self.db())?;
        self.range_tx(&mut tx, start, end)
    }

    /// Shortens the column to `len` values.
    pub fn truncate(&self, len: u64) -> Result<()> {
        retry(self.db(), |tx| self.truncate_tx(tx, len))
    }

    /// Removes and returns the last value; `None` when empty.
    pub fn pop(&self) -> Result<Option<Vec<u8>>> {
        retry(self.db(), |tx| {
            let len = self.len_tx(tx)?;
            if len == 0 {
                return Ok(None);
            }
            let v = self.get_tx(tx, -1)?;
            self.truncate_tx(tx, len - 1)?;
            Ok(Some(v))
        })
    }

    /// A buffered appender: values collect in memory and are committed in chunks (and
    /// on [`Appender::flush`] or drop), for appends one value at a time at memory speed.
    pub fn appender(&self) -> Result<Appender> {
        self.live()?;
        Ok(Appender::new(self.clone()))
    }

    // ---- typed conveniences ----

    pub fn extend_i64(&self, values: &[i64]) -> Result<u64> {
        self.expect_type(ColumnType::I64)?;
        self.extend(
            &values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
    }
    pub fn extend_f64(&self, values: &[f64]) -> Result<u64> {
        self.expect_type(ColumnType::F64)?;
        self.extend(
            &values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
    }
    pub fn get_i64(&self, index: i64) -> Result<i64> {
        self.expect_type(ColumnType::I64)?;
        Ok(i64::from_le_bytes(
            self.get(index)?
                .try_into()
                .map_err(|_| corrupt("bad value"))?,
        ))
    }
    pub fn get_f64(&self, index: i64) -> Result<f64> {
        self.expect_type(ColumnType::F64)?;
        Ok(f64::from_le_bytes(
            self.get(index)?
                .try_into()
                .map_err(|_| corrupt("bad value"))?,
        ))
    }
    pub fn range_i64(&self, start: u64, end: u64) -> Result<Vec<i64>> {
        self.expect_type(ColumnType::I64)?;
        let (_, data) = self.range(start, end)?;
        Ok(data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8")))
            .collect())
    }
    pub fn range_f64(&self, start: u64, end: u64) -> Result<Vec<f64>> {
        self.expect_type(ColumnType::F64)?;
        let (_, data) = self.range(start, end)?;
        Ok(data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
            .collect())
    }

    // ---- inside a transaction ----

    /// [`Column::len`] in `tx`'s view.
    pub fn len_in(&self, tx: &mut Txn) -> Result<u64> {
        self.check_txn(tx)?;
        self.len_tx(tx)
    }
    /// [`Column::append`] as part of `tx`.
    pub fn append_in(&self, tx: &mut Txn, value: &[u8]) -> Result<u64> {
        self.check_txn(tx)?;
        if !self.is_var() {
            self.check_width(value)?;
        }
        if self.is_var() {
            return self.extend_tx(
                tx,
                &Values::Var {
                    offsets: &[0, value.len() as u64],
                    data: value,
                },
            );
        }
        self.extend_tx(tx, &Values::Fixed(value))
    }
    /// [`Column::extend`] as part of `tx`.
    pub fn extend_in(&self, tx: &mut Txn, data: &[u8]) -> Result<u64> {
        self.check_txn(tx)?;
        self.extend_tx(tx, &Values::Fixed(data))
    }
    /// [`Column::extend_var`] as part of `tx`.
    pub fn extend_var_in(&self, tx: &mut Txn, offsets: &[u64], data: &[u8]) -> Result<u64> {
        self.check_txn(tx)?;
        self.extend_tx(tx, &Values::Var { offsets, data })
    }
    /// [`Column::get`] in `tx`'s view.
    pub fn get_in(&self, tx: &mut Txn, index: i64) -> Result<Vec<u8>> {
        self.check_txn(tx)?;
        self.get_tx(tx, index)
    }
    /// [`Column::set`] as part of `tx`.
    pub fn set_in(&self, tx: &mut Txn, index: i64, value: &[u8]) -> Result<()> {
        self.check_txn(tx)?;
        self.set_tx(tx, index, value)
    }
    /// [`Column::range`] in `tx`'s view.
    pub fn range_in(&self, tx: &mut Txn, start: u64, end: u64) -> Result<(Vec<u64>, Vec<u8>)> {
        self.check_txn(tx)?;
        self.range_tx(tx, start, end)
    }
    /// [`Column::truncate`] as part of `tx`.
    pub fn truncate_in(&self, tx: &mut Txn, len: u64) -> Result<()> {
        self.check_txn(tx)?;
        self.truncate_tx(tx, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_round_trip_and_reject_junk() {
        for ty in [
            ColumnType::I64,
            ColumnType::F64,
            ColumnType::Bytes(3),
            ColumnType::VarBytes,
        ] {
            let d = Descriptor {
                id: 9,
                ty,
                chunk: CHUNK_BYTES,
            };
            assert_eq!(Descriptor::decode(&d.encode()).unwrap(), d);
        }
        let good = Descriptor {
            id: 9,
            ty: ColumnType::Bytes(3),
            chunk: 16,
        }
        .encode();
        for cut in 0..good.len() {
            assert!(Descriptor::decode(&good[..cut]).is_err());
        }
        let mut bad = good.clone();
        bad[9] = 7;
        assert!(Descriptor::decode(&bad).is_err());
    }

    #[test]
    fn positions_count_from_either_end() {
        assert_eq!(Column::position(0, 3).unwrap(), 0);
        assert_eq!(Column::position(-1, 3).unwrap(), 2);
        assert_eq!(Column::position(-3, 3).unwrap(), 0);
        assert!(matches!(Column::position(-4, 3), Err(Error::NotFound)));
        assert!(matches!(Column::position(3, 3), Err(Error::NotFound)));
        assert!(matches!(Column::position(0, 0), Err(Error::NotFound)));
        assert!(matches!(
            Column::position(i64::MIN, 3),
            Err(Error::NotFound)
        ));
    }
}
