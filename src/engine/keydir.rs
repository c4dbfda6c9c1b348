//! The in-memory index: for each (keyspace, key) the location of its newest committed
//! version, plus the older versions that live snapshots still need.
//!
//! Each keyspace is an ordered map (`BTreeMap`) so prefix and range scans need no sort.
//! Keys of up to 22 bytes live inline in the map's nodes (no pointer to chase when
//! comparing), and an entry is 24 bytes, which keeps a 16-byte key at about 60 bytes of
//! index beyond the key itself. Expiry times and older versions are rare, so they sit in
//! side tables flagged from the entry instead of widening every entry.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::btree_map::Entry as Slot;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::ops::Bound;

use super::format::RECORD_HEADER_LEN;

const INLINE_KEY: usize = 22;

/// An immutable key: inline when short, boxed otherwise. Ordered and hashed as bytes.
pub struct Key(Repr);

enum Repr {
    Inline { len: u8, buf: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(bytes: &[u8]) -> Key {
        if bytes.len() <= INLINE_KEY {
            let mut buf = [0u8; INLINE_KEY];
            buf[..bytes.len()].copy_from_slice(bytes);
            Key(Repr::Inline {
                len: bytes.len() as u8,
                buf,
            })
        } else {
            Key(Repr::Heap(bytes.into()))
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Heap(b) => b,
        }
    }

    /// Bytes this key holds outside the map node.
    fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}
impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            // Inline keys are zero-padded, so comparing the padded bytes as big-endian
            // words and then the lengths orders them exactly as bytes, without a call to
            // memcmp on the hot path.
            (Repr::Inline { len: la, buf: a }, Repr::Inline { len: lb, buf: b }) => {
                inline_words(a).cmp(&inline_words(b)).then(la.cmp(lb))
            }
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

/// The 22 inline bytes as three big-endian words (the last one zero-extended).
#[inline]
fn inline_words(b: &[u8; INLINE_KEY]) -> (u64, u64, u64) {
    let w = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let mut tail = [0u8; 8];
    tail[..6].copy_from_slice(&b[16..22]);
    (w(0), w(8), u64::from_be_bytes(tail))
}
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

const OFFSET_MASK: u64 = (1 << 56) - 1;
const FLAG_TOMBSTONE: u64 = 1 << 56;
const FLAG_EXPIRY: u64 = 1 << 57;
const FLAG_HISTORY: u64 = 1 << 58;

/// Where one version of a key lives and when it was committed. 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Segment number.
    pub seg: u32,
    /// Value length in bytes.
    pub val_len: u32,
    off_flags: u64,
    /// Commit sequence of the version.
    pub seq: u64,
}

impl Entry {
    /// A value stored in record at `offset` of segment `seg`.
    pub fn value(seg: u32, offset: u64, val_len: u32, seq: u64) -> Entry {
        debug_assert!(offset <= OFFSET_MASK);
        Entry {
            seg,
            val_len,
            off_flags: offset,
            seq,
        }
    }

    /// A deletion, written as the tombstone record at `offset` of `seg`.
    pub fn tombstone(seg: u32, offset: u64, seq: u64) -> Entry {
        Entry {
            seg,
            val_len: 0,
            off_flags: offset | FLAG_TOMBSTONE,
            seq,
        }
    }

    /// Byte offset of the record inside its segment.
    pub fn offset(&self) -> u64 {
        self.off_flags & OFFSET_MASK
    }
    pub fn is_tombstone(&self) -> bool {
        self.off_flags & FLAG_TOMBSTONE != 0
    }
    fn has(&self, flag: u64) -> bool {
        self.off_flags & flag != 0
    }
    fn set(&mut self, flag: u64, on: bool) {
        if on {
            self.off_flags |= flag
        } else {
            self.off_flags &= !flag
        }
    }
    /// The same version, stored at `offset` of segment `seg` instead (merge moved it).
    pub fn moved(&self, seg: u32, offset: u64) -> Entry {
        Entry {
            seg,
            off_flags: (self.off_flags & !OFFSET_MASK) | offset,
            ..*self
        }
    }

    /// Whether `other` is the same stored record (same segment and offset).
    pub fn same_record(&self, other: &Entry) -> bool {
        self.seg == other.seg && self.offset() == other.offset()
    }

    /// Length of the whole record holding a key of `key_len` bytes.
    pub fn record_len(&self, key_len: usize) -> u64 {
        (RECORD_HEADER_LEN + key_len) as u64 + u64::from(self.val_len)
    }
}

/// A version as a reader sees it: location plus expiry (0 = never).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub entry: Entry,
    pub expires_at: u64,
}

#[derive(Default)]
struct Space {
    /// Tombstones kept in `tree` for open snapshots, to drop once none needs them.
    tombstones: HashSet<Key>,
    tree: BTreeMap<Key, Entry>,
    /// Expiry of the newest version of keys flagged `FLAG_EXPIRY`.
    expiries: HashMap<Key, u64>,
    /// Older versions, oldest first, of keys flagged `FLAG_HISTORY`.
    history: HashMap<Key, Vec<Version>>,
    /// Keys whose newest version is a value.
    live_keys: u64,
    heap_key_bytes: usize,
}

impl Space {
    /// The version of `key` (whose newest entry is `cur`) visible at `snap`.
    fn visible(&self, key: &[u8], cur: &Entry, snap: u64) -> Option<Version> {
        let v = if cur.seq <= snap {
            let expires_at = if cur.has(FLAG_EXPIRY) {
                self.expiries.get(key).copied().unwrap_or(0)
            } else {
                0
            };
            Version {
                entry: *cur,
                expires_at,
            }
        } else if cur.has(FLAG_HISTORY) {
            *self
                .history
                .get(key)?
                .iter()
                .rev()
                .find(|v| v.entry.seq <= snap)?
        } else {
            return None;
        };
        (!v.entry.is_tombstone()).then_some(v)
    }
}

/// The open snapshots, as far as recording a write needs to know.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenSnapshots {
    pub oldest: Option<u64>,
    pub newest: Option<u64>,
}

/// The whole index.
#[derive(Default)]
pub struct Keydir {
    /// Few keyspaces exist, so a B-tree (one node, scanned linearly) beats hashing here.
    spaces: BTreeMap<u32, Space>,
    /// Bytes of records still referenced by the newest version of some key, per segment.
    seg_live: BTreeMap<u32, u64>,
    /// Older versions and tombstones kept for snapshots, now and after the last prune.
    retained: usize,
    retained_after_prune: usize,
}

impl Keydir {
    /// Records a committed version of `key`. The replaced version is kept while an open
    /// snapshot can see it, and a deletion stays in the map as a tombstone while any
    /// snapshot is open (so a transaction begun earlier notices the write at commit).
    pub fn apply(
        &mut self,
        keyspace: u32,
        key: &[u8],
        mut new: Entry,
        expires_at: u64,
        snaps: OpenSnapshots,
    ) {
        let space = self.spaces.entry(keyspace).or_default();
        new.set(FLAG_EXPIRY, expires_at != 0 && !new.is_tombstone());
        let rec_len = new.record_len(key.len());
        let retain_tombstone = new.is_tombstone() && snaps.oldest.is_some();
        // One walk of the tree finds the slot for both the update and the insert.
        match space.tree.entry(Key::new(key)) {
            Slot::Occupied(mut slot) => {
                let old = *slot.get();
                let old_expiry = if old.has(FLAG_EXPIRY) {
                    space.expiries.get(key).copied().unwrap_or(0)
                } else {
                    0
                };
                let keep = snaps.newest.is_some_and(|s| s >= old.seq);
                if keep {
                    let v = Version {
                        entry: old,
                        expires_at: old_expiry,
                    };
                    self.retained += 1;
                    match space.history.get_mut(key) {
                        Some(h) => h.push(v),
                        None => {
                            space.history.insert(Key::new(key), vec![v]);
                        }
                    }
                }
                new.set(FLAG_HISTORY, keep || old.has(FLAG_HISTORY));
                if !old.is_tombstone() {
                    space.live_keys -= 1;
                    sub_live(&mut self.seg_live, old.seg, old.record_len(key.len()));
                }
                if old.has(FLAG_EXPIRY) && !new.has(FLAG_EXPIRY) {
                    space.expiries.remove(key);
                }
                if new.is_tombstone() && !new.has(FLAG_HISTORY) && !retain_tombstone {
                    let (k, _) = slot.remove_entry();
                    space.heap_key_bytes -= k.heap_bytes();
                } else {
                    *slot.get_mut() = new;
                    if new.is_tombstone() && space.tombstones.insert(Key::new(key)) {
                        self.retained += 1;
                    }
                }
            }
            Slot::Vacant(slot) => {
                if new.is_tombstone() && !retain_tombstone {
                    return;
                }
                space.heap_key_bytes += slot.key().heap_bytes();
                slot.insert(new);
                if new.is_tombstone() && space.tombstones.insert(Key::new(key)) {
                    self.retained += 1;
                }
            }
        }
        if new.has(FLAG_EXPIRY) {
            match space.expiries.get_mut(key) {
                Some(e) => *e = expires_at,
                None => {
                    space.expiries.insert(Key::new(key), expires_at);
                }
            }
        }
        if !new.is_tombstone() {
            space.live_keys += 1;
            *self.seg_live.entry(new.seg).or_default() += rec_len;
        }
    }

    /// Sequence of the newest committed write (value or deletion still remembered) of
    /// `key`: what first-committer-wins validation compares with a snapshot.
    pub fn newest_seq(&self, keyspace: u32, key: &[u8]) -> Option<u64> {
        Some(lookup(&self.spaces.get(&keyspace)?.tree, key)?.seq)
    }

    /// Whether any key in `range` was written after `snap` (phantom check).
    pub fn changed_in_range(
        &self,
        keyspace: u32,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        snap: u64,
    ) -> bool {
        is_ordered(&range)
            && self
                .spaces
                .get(&keyspace)
                .is_some_and(|s| s.tree.range::<[u8], _>(range).any(|(_, e)| e.seq > snap))
    }

    /// Up to `limit` keys of `range` visible at `snap`, in order (descending with
    /// `reverse`), with their versions, appended to `out`. Versions expired at `now_ms`
    /// are skipped.
    #[allow(clippy::too_many_arguments)]
    pub fn scan(
        &self,
        keyspace: u32,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        snap: u64,
        reverse: bool,
        limit: usize,
        now_ms: u64,
        out: &mut Vec<(Vec<u8>, Version)>,
    ) {
        let Some(space) = self.spaces.get(&keyspace) else {
            return;
        };
        if !is_ordered(&range) {
            return;
        }
        let mut take = |k: &Key, e: &Entry| -> bool {
            if let Some(v) = space.visible(k.as_bytes(), e, snap) {
                if v.expires_at == 0 || v.expires_at > now_ms {
                    out.push((k.as_bytes().to_vec(), v));
                    return out.len() < limit;
                }
            }
            true
        };
        let mut it = space.tree.range::<[u8], _>(range);
        if reverse {
            while let Some((k, e)) = it.next_back() {
                if !take(k, e) {
                    break;
                }
            }
        } else {
            for (k, e) in it {
                if !take(k, e) {
                    break;
                }
            }
        }
    }

    /// The version of `key` a reader at snapshot `snap` sees; `None` when absent or
    /// deleted. `u64::MAX` reads the newest committed version.
    pub fn get_at(&self, keyspace: u32, key: &[u8], snap: u64) -> Option<Version> {
        let space = self.spaces.get(&keyspace)?;
        space.visible(key, lookup(&space.tree, key)?, snap)
    }

    /// Drops older versions no snapshot in `snapshots` (ascending) can see any more, and
    /// tombstones no open snapshot predates.
    pub fn prune_history(&mut self, snapshots: &[u64]) {
        for space in self.spaces.values_mut() {
            let mut emptied = Vec::new();
            for (key, versions) in space.history.iter_mut() {
                let newest_seq = space.tree.get(key.as_bytes()).map_or(u64::MAX, |e| e.seq);
                let mut next_seq = newest_seq;
                let mut keep = vec![false; versions.len()];
                for (i, v) in versions.iter().enumerate().rev() {
                    keep[i] = snapshots.iter().any(|&s| v.entry.seq <= s && s < next_seq);
                    next_seq = v.entry.seq;
                }
                let mut it = keep.iter();
                versions.retain(|_| *it.next().expect("one flag per version"));
                if versions.is_empty() {
                    emptied.push(Key::new(key.as_bytes()));
                }
            }
            for key in &emptied {
                space.history.remove(key.as_bytes());
                if let Some(e) = space.tree.get_mut(key.as_bytes()) {
                    e.set(FLAG_HISTORY, false);
                    if e.is_tombstone() {
                        space.tombstones.insert(Key::new(key.as_bytes()));
                    }
                }
            }
            let oldest = snapshots.first().copied();
            let Space {
                tree,
                tombstones,
                heap_key_bytes,
                ..
            } = space;
            tombstones.retain(|key| {
                let Some(e) = tree.get(key.as_bytes()) else {
                    return false;
                };
                if !e.is_tombstone() {
                    return false;
                }
                if e.has(FLAG_HISTORY) || oldest.is_some_and(|o| o < e.seq) {
                    return true;
                }
                if let Some((k, _)) = tree.remove_entry(key.as_bytes()) {
                    *heap_key_bytes -= k.heap_bytes();
                }
                false
            });
        }
        self.retained = self
            .spaces
            .values()
            .map(|s| s.tombstones.len() + s.history.values().map(Vec::len).sum::<usize>())
            .sum();
        self.retained_after_prune = self.retained;
    }

    /// Whether versions kept for snapshots doubled (plus slack) since the last prune.
    pub fn retained_grew(&self) -> bool {
        self.retained > 2 * self.retained_after_prune + 1024
    }

    /// Older versions and tombstones currently kept for snapshots.
    pub fn retained_versions(&self) -> usize {
        self.retained
    }

    /// Forgets keyspace `id` entirely (it was dropped).
    pub fn drop_space(&mut self, id: u32) {
        if let Some(space) = self.spaces.remove(&id) {
            for (k, e) in &space.tree {
                if !e.is_tombstone() {
                    sub_live(&mut self.seg_live, e.seg, e.record_len(k.as_bytes().len()));
                }
            }
        }
    }

    /// Keys whose newest version is a value (expired keys included until reclaimed).
    pub fn live_keys(&self) -> u64 {
        self.spaces
            .range(..super::catalog::FIRST_RESERVED_ID)
            .map(|(_, s)| s.live_keys)
            .sum()
    }

    /// Bytes of live records across all segments.
    pub fn live_bytes(&self) -> u64 {
        self.seg_live.values().sum()
    }

    /// Bytes of live records in one segment.
    pub fn segment_live_bytes(&self, seg: u32) -> u64 {
        self.seg_live.get(&seg).copied().unwrap_or(0)
    }

    /// Estimated heap bytes held by the index: map slots at the B-tree's typical fill,
    /// out-of-line keys, and the side tables.
    pub fn memory_bytes(&self) -> u64 {
        // A BTreeMap leaf holds up to 11 slots plus ~16 bytes of bookkeeping and fills to
        // about 70% under random inserts; internal nodes add roughly 1/7 on top.
        const SLOT: usize = size_of::<Key>() + size_of::<Entry>();
        let mut total = 0usize;
        for s in self.spaces.values() {
            let slots = s.tree.len() * SLOT;
            total += slots * 100 / 70 * 8 / 7 + s.heap_key_bytes;
            total += s.expiries.capacity() * (size_of::<Key>() + 8 + 1);
            total += s.history.capacity() * (size_of::<Key>() + size_of::<Vec<Version>>() + 1);
            total += s
                .history
                .values()
                .map(|v| v.capacity() * size_of::<Version>())
                .sum::<usize>();
        }
        total as u64
    }
}

/// Builds the index of merged segments, whose records come in (keyspace, key) order:
/// the maps are built bottom-up from sorted runs, several times faster than inserting
/// one key at a time. Input out of order is still handled (inserted one by one).
pub struct SortedLoader {
    spaces: BTreeMap<u32, Vec<(Key, Entry, u64)>>,
    sorted: bool,
    /// Run lengths when [`SortedLoader::mark`] was called: entries before it are never
    /// replaced in place, so [`SortedLoader::rollback`] can cut back to it.
    marked: BTreeMap<u32, usize>,
}

impl Default for SortedLoader {
    fn default() -> Self {
        SortedLoader {
            spaces: BTreeMap::new(),
            sorted: true,
            marked: BTreeMap::new(),
        }
    }
}

impl SortedLoader {
    /// Remembers the current contents, to return to with [`SortedLoader::rollback`].
    pub fn mark(&mut self) {
        self.marked = self.spaces.iter().map(|(ks, r)| (*ks, r.len())).collect();
    }

    /// Forgets every version pushed since [`SortedLoader::mark`].
    pub fn rollback(&mut self) {
        for (ks, run) in self.spaces.iter_mut() {
            run.truncate(self.marked.get(ks).copied().unwrap_or(0));
        }
    }

    /// Adds a version; a later version of the same key replaces an earlier one.
    pub fn push(&mut self, keyspace: u32, key: &[u8], entry: Entry, expires_at: u64) {
        let run = self.spaces.entry(keyspace).or_default();
        let fixed = self.marked.get(&keyspace).copied().unwrap_or(0);
        let len = run.len();
        if let Some(last) = run.last_mut() {
            match last.0.as_bytes().cmp(key) {
                // Before the mark: keep it (a rollback may need it) and add this one
                // after it; order of application still decides.
                Ordering::Equal if len <= fixed => self.sorted = false,
                Ordering::Equal => {
                    last.1 = entry;
                    last.2 = expires_at;
                    return;
                }
                Ordering::Greater => self.sorted = false,
                Ordering::Less => {}
            }
        }
        run.push((Key::new(key), entry, expires_at));
    }

    /// Moves everything into `kd`, which must not hold these keyspaces yet (otherwise,
    /// or if the input was out of order, the versions are applied one by one).
    pub fn finish(self, kd: &mut Keydir) {
        let bulk = self.sorted && self.spaces.keys().all(|ks| !kd.spaces.contains_key(ks));
        for (ks, run) in self.spaces {
            if !bulk {
                for (k, e, x) in run {
                    kd.apply(ks, k.as_bytes(), e, x, OpenSnapshots::default());
                }
                continue;
            }
            let mut space = Space::default();
            let tree = run
                .into_iter()
                .filter(|(_, e, _)| !e.is_tombstone())
                .map(|(k, mut e, x)| {
                    e.set(FLAG_EXPIRY, x != 0);
                    if x != 0 {
                        space.expiries.insert(Key::new(k.as_bytes()), x);
                    }
                    space.live_keys += 1;
                    space.heap_key_bytes += k.heap_bytes();
                    *kd.seg_live.entry(e.seg).or_default() += e.record_len(k.as_bytes().len());
                    (k, e)
                })
                .collect();
            space.tree = tree;
            kd.spaces.insert(ks, space);
        }
    }
}

/// A key whose stored versions a merge must copy (or may drop).
pub struct MergeCandidate {
    pub keyspace: u32,
    pub key: Vec<u8>,
    /// Versions stored in the merged segments, oldest first.
    pub versions: Vec<Version>,
    /// The key's only version is a value that has expired: drop it instead of copying.
    pub expired: bool,
}

impl Keydir {
    /// Up to `limit` keys after `after` (in keyspace, then key order) with a version
    /// stored in a segment `merging` accepts; also returns where to continue, `None`
    /// when the walk is done.
    pub fn merge_candidates(
        &self,
        after: Option<&(u32, Vec<u8>)>,
        limit: usize,
        merging: impl Fn(u32) -> bool,
        now_ms: u64,
        out: &mut Vec<MergeCandidate>,
    ) -> Option<(u32, Vec<u8>)> {
        let first_space = after.map_or(0, |(ks, _)| *ks);
        let mut walked = 0usize;
        for (&ks, space) in self.spaces.range(first_space..) {
            let lo = match after {
                Some((aks, key)) if *aks == ks => Bound::Excluded(key.as_slice()),
                _ => Bound::Unbounded,
            };
            for (k, e) in space.tree.range::<[u8], _>((lo, Bound::Unbounded)) {
                let key = k.as_bytes();
                let mut versions: Vec<Version> = if e.has(FLAG_HISTORY) {
                    space.history.get(key).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                };
                let expires_at = if e.has(FLAG_EXPIRY) {
                    space.expiries.get(key).copied().unwrap_or(0)
                } else {
                    0
                };
                versions.push(Version {
                    entry: *e,
                    expires_at,
                });
                let expired = versions.len() == 1
                    && merging(e.seg)
                    && !e.is_tombstone()
                    && expires_at != 0
                    && expires_at <= now_ms;
                versions.retain(|v| merging(v.entry.seg));
                if !versions.is_empty() {
                    out.push(MergeCandidate {
                        keyspace: ks,
                        key: key.to_vec(),
                        versions,
                        expired,
                    });
                }
                walked += 1;
                if out.len() >= limit || walked >= limit * 16 {
                    return Some((ks, key.to_vec()));
                }
            }
        }
        None
    }

    /// Points the version of `key` stored as `old` at its copy at `offset` of `seg`;
    /// false when that version is gone (overwritten and no longer needed).
    pub fn relocate(
        &mut self,
        keyspace: u32,
        key: &[u8],
        old: &Entry,
        seg: u32,
        offset: u64,
    ) -> bool {
        let Some(space) = self.spaces.get_mut(&keyspace) else {
            return false;
        };
        if let Some(e) = space.tree.get_mut(key) {
            if e.same_record(old) {
                let moved = e.moved(seg, offset);
                if !e.is_tombstone() {
                    let len = e.record_len(key.len());
                    sub_live(&mut self.seg_live, e.seg, len);
                    *self.seg_live.entry(seg).or_default() += len;
                }
                *e = moved;
                return true;
            }
            if e.has(FLAG_HISTORY) {
                if let Some(v) = space
                    .history
                    .get_mut(key)
                    .and_then(|h| h.iter_mut().find(|v| v.entry.same_record(old)))
                {
                    v.entry = v.entry.moved(seg, offset);
                    return true;
                }
            }
        }
        false
    }

    /// Removes `key` if its only version is still `old` (an expired value a merge
    /// dropped).
    pub fn remove_expired(&mut self, keyspace: u32, key: &[u8], old: &Entry) -> bool {
        let Some(space) = self.spaces.get_mut(&keyspace) else {
            return false;
        };
        match space.tree.get(key) {
            Some(e) if e.same_record(old) && !e.has(FLAG_HISTORY) && !e.is_tombstone() => {
                let e = *e;
                if let Some((k, _)) = space.tree.remove_entry(key) {
                    space.heap_key_bytes -= k.heap_bytes();
                }
                space.expiries.remove(key);
                space.live_keys -= 1;
                sub_live(&mut self.seg_live, e.seg, e.record_len(key.len()));
                true
            }
            _ => false,
        }
    }

    /// Whether any version, newest or older, is stored in a segment `seg` accepts.
    pub fn points_into(&self, seg: impl Fn(u32) -> bool) -> bool {
        self.spaces.values().any(|s| {
            s.tree.values().any(|e| seg(e.seg))
                || s.history
                    .values()
                    .any(|h| h.iter().any(|v| seg(v.entry.seg)))
        })
    }

    /// Forgets the live-byte count of a removed segment.
    pub fn forget_segment(&mut self, seg: u32) {
        self.seg_live.remove(&seg);
    }
}

/// Whether `range` is one a B-tree accepts (start not after end, and not an empty
/// excluded point); anything else holds no keys.
fn is_ordered(range: &(Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match *range {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a < b,
        _ => true,
    }
}

/// Finds `key`, comparing as inline keys (no memcmp) when it is short enough.
#[inline]
fn lookup<'a>(tree: &'a BTreeMap<Key, Entry>, key: &[u8]) -> Option<&'a Entry> {
    if key.len() <= INLINE_KEY {
        tree.get(&Key::new(key))
    } else {
        tree.get(key)
    }
}

fn sub_live(seg_live: &mut BTreeMap<u32, u64>, seg: u32, bytes: u64) {
    if let Some(v) = seg_live.get_mut(&seg) {
        *v = v.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: OpenSnapshots = OpenSnapshots {
        oldest: None,
        newest: None,
    };
    fn open(oldest: u64, newest: u64) -> OpenSnapshots {
        OpenSnapshots {
            oldest: Some(oldest),
            newest: Some(newest),
        }
    }

    #[test]
    fn layout_is_compact() {
        assert_eq!(size_of::<Key>(), 24);
        assert_eq!(size_of::<Entry>(), 24);
    }

    #[test]
    fn keys_order_as_bytes_inline_or_boxed() {
        let long = [0xFFu8; 40];
        let mut keys = [
            Key::new(b"b"),
            Key::new(&long),
            Key::new(b""),
            Key::new(b"a\xff"),
            Key::new(&[b'a'; 23]),
        ];
        keys.sort();
        let got: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        let mut want: Vec<&[u8]> = vec![b"b", &long, b"", b"a\xff", &[b'a'; 23]];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn inline_comparison_agrees_with_byte_order() {
        // Short keys over a tiny alphabet (0, 1, 0xFF) so prefixes, zero bytes and
        // padding collide as often as possible; plus every length up to the boxed limit.
        let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=4 {
            let mut next = Vec::new();
            for k in keys.iter().filter(|k| k.len() == len - 1) {
                for b in [0u8, 1, 0xFF] {
                    let mut k = k.clone();
                    k.push(b);
                    next.push(k);
                }
            }
            keys.extend(next);
        }
        for len in 5..=30 {
            keys.push(vec![0u8; len]);
            keys.push((0..len as u8).collect());
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(Key::new(a).cmp(&Key::new(b)), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn snapshot_sees_replaced_and_deleted_versions_until_pruned() {
        let mut kd = Keydir::default();
        kd.apply(0, b"k", Entry::value(1, 40, 3, 1), 0, NONE);
        // A snapshot at seq 1 is open while the key is overwritten then deleted.
        kd.apply(0, b"k", Entry::value(1, 100, 5, 2), 0, open(1, 1));
        kd.apply(0, b"k", Entry::tombstone(1, 200, 3), 0, open(1, 2));
        assert_eq!(kd.get_at(0, b"k", 1).unwrap().entry.val_len, 3);
        assert_eq!(kd.get_at(0, b"k", 2).unwrap().entry.val_len, 5);
        assert!(kd.get_at(0, b"k", 3).is_none());
        assert!(kd.get_at(0, b"k", u64::MAX).is_none());
        assert_eq!(kd.live_keys(), 0);
        kd.prune_history(&[2]);
        assert!(kd.get_at(0, b"k", 1).is_none(), "no snapshot at 1 is left");
        assert_eq!(kd.get_at(0, b"k", 2).unwrap().entry.val_len, 5);
        kd.prune_history(&[]);
        assert!(kd.get_at(0, b"k", 2).is_none());
        assert!(
            kd.spaces[&0].tree.is_empty(),
            "tombstone dropped once unneeded"
        );
        assert!(kd.spaces[&0].history.is_empty());
    }

    #[test]
    fn sorted_loader_rolls_back_to_its_mark() {
        let mut l = SortedLoader::default();
        l.push(0, b"a", Entry::value(1, 40, 1, 1), 0);
        l.push(0, b"b", Entry::value(1, 80, 1, 2), 0);
        l.mark();
        // A version of "b" after the mark does not overwrite the one before it.
        l.push(0, b"b", Entry::value(2, 40, 9, 9), 0);
        l.push(0, b"c", Entry::value(2, 80, 1, 3), 0);
        l.push(5, b"x", Entry::value(2, 99, 1, 4), 0);
        l.rollback();
        let mut kd = Keydir::default();
        l.finish(&mut kd);
        assert_eq!(kd.get_at(0, b"b", u64::MAX).unwrap().entry.seq, 2);
        assert!(kd.get_at(0, b"c", u64::MAX).is_none());
        assert!(kd.get_at(5, b"x", u64::MAX).is_none());
        assert_eq!(kd.live_keys(), 2);

        // Without a rollback the later version wins.
        let mut l = SortedLoader::default();
        l.push(0, b"b", Entry::value(1, 80, 1, 2), 0);
        l.mark();
        l.push(0, b"b", Entry::tombstone(2, 40, 9), 0);
        let mut kd = Keydir::default();
        l.finish(&mut kd);
        assert!(kd.get_at(0, b"b", u64::MAX).is_none());
    }

    #[test]
    fn live_bytes_follow_overwrites_and_expiry_is_tracked() {
        let mut kd = Keydir::default();
        kd.apply(0, b"a", Entry::value(1, 40, 10, 1), 500, NONE);
        let one = Entry::value(0, 0, 10, 0).record_len(1);
        assert_eq!(kd.live_bytes(), one);
        assert_eq!(kd.get_at(0, b"a", u64::MAX).unwrap().expires_at, 500);
        kd.apply(0, b"a", Entry::value(2, 40, 10, 2), 0, NONE);
        assert_eq!(kd.segment_live_bytes(1), 0);
        assert_eq!(kd.segment_live_bytes(2), one);
        assert_eq!(kd.get_at(0, b"a", u64::MAX).unwrap().expires_at, 0);
        assert!(kd.spaces[&0].expiries.is_empty());
        assert_eq!(kd.live_keys(), 1);
        kd.apply(1, b"a", Entry::value(2, 90, 1, 3), 0, NONE);
        assert_eq!(kd.live_keys(), 2, "keyspaces are separate");
    }
}
