//! Ordered iteration over one snapshot: prefix, range, reverse, seek, next/prev.

use std::collections::{BTreeMap, VecDeque};
use std::ops::{Bound, RangeBounds};

use crate::engine::borrow_range;

use crate::{Db, Error, Result};

/// What an iterator covers. `prefix`, `start` (inclusive) and `end` (exclusive) combine:
/// the iterator sees keys that satisfy all that are set.
#[derive(Clone, Debug, Default)]
pub struct IterOptions {
    pub prefix: Option<Vec<u8>>,
    pub start: Option<Vec<u8>>,
    pub end: Option<Vec<u8>>,
    /// Iterate from the largest key down.
    pub reverse: bool,
}

impl IterOptions {
    /// Keys starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        IterOptions {
            prefix: Some(prefix.to_vec()),
            ..Self::default()
        }
    }
    /// Keys in `[start, end)`.
    pub fn range(start: &[u8], end: &[u8]) -> Self {
        IterOptions {
            start: Some(start.to_vec()),
            end: Some(end.to_vec()),
            ..Self::default()
        }
    }
    /// The same, iterating from the largest key down.
    pub fn reversed(mut self) -> Self {
        self.reverse = true;
        self
    }

    /// The key range these options describe.
    pub(crate) fn bounds(&self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let mut lo = self.start.clone();
        let mut hi = self
            .end
            .clone()
            .map(Bound::Excluded)
            .unwrap_or(Bound::Unbounded);
        if let Some(p) = &self.prefix {
            if lo.as_ref().is_none_or(|s| s < p) {
                lo = Some(p.clone());
            }
            if let Some(succ) = prefix_successor(p) {
                hi = match hi {
                    Bound::Excluded(e) if e <= succ => Bound::Excluded(e),
                    _ => Bound::Excluded(succ),
                };
            }
        }
        (lo.map(Bound::Included).unwrap_or(Bound::Unbounded), hi)
    }
}

/// The smallest key greater than every key starting with `prefix`, if there is one
/// (there is none when the prefix is empty or all 0xFF).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last != 0xFF {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// A key and its value.
type Entry = (Vec<u8>, Vec<u8>);

/// A transaction's pending writes by key: value and expiry, or `None` for a deletion.
pub(crate) type Overlay = BTreeMap<Vec<u8>, Option<(Vec<u8>, u64)>>;

const FIRST_BATCH: usize = 16;
const MAX_BATCH: usize = 1024;

/// An ordered cursor over one snapshot of one keyspace. It sees the same data however
/// long it lives; an iterator made from a transaction also sees that transaction's own
/// writes as of the iterator's creation. Not for use by two threads at once.
pub struct Iter {
    db: Db,
    keyspace: u32,
    snapshot: u64,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    reverse: bool,
    /// The transaction's own writes in range: value and expiry, `None` for a deletion.
    overlay: Overlay,
    /// Where the next step in iteration order starts.
    from: Bound<Vec<u8>>,
    buf: VecDeque<Entry>,
    /// No more entries after the buffer in iteration order.
    drained: bool,
    batch: usize,
    current: Option<Entry>,
    released: bool,
}

impl Iter {
    /// `snapshot` must already be registered for this iterator; it is released on drop.
    pub(crate) fn new(
        db: Db,
        keyspace: u32,
        snapshot: u64,
        opts: &IterOptions,
        overlay: Overlay,
    ) -> Iter {
        let (lo, hi) = opts.bounds();
        let from = if opts.reverse { hi.clone() } else { lo.clone() };
        Iter {
            db,
            keyspace,
            snapshot,
            lo,
            hi,
            reverse: opts.reverse,
            overlay,
            from,
            buf: VecDeque::new(),
            drained: false,
            batch: FIRST_BATCH,
            current: None,
            released: false,
        }
    }

    /// Fetches up to `limit` entries strictly after `from` in the given order. Returns
    /// an empty list only when nothing is left (`true` = nothing after these).
    fn fetch(
        &self,
        from: &Bound<Vec<u8>>,
        descending: bool,
        limit: usize,
    ) -> Result<(Vec<Entry>, bool)> {
        let mut cursor = from.clone();
        loop {
            let (lo, hi) = if descending {
                (self.lo.clone(), clip_hi(&cursor, &self.hi))
            } else {
                (clip_lo(&cursor, &self.lo), self.hi.clone())
            };
            if empty_range(&lo, &hi) {
                return Ok((Vec::new(), true));
            }
            let (engine_part, now) = self.db.with(|e| {
                let part = e.scan(
                    self.keyspace,
                    borrow_range(&lo, &hi),
                    self.snapshot,
                    descending,
                    limit,
                )?;
                Ok((part, e.now()))
            })?;
            let exhausted = engine_part.len() < limit;
            if self.overlay.is_empty() {
                return Ok((engine_part, exhausted));
            }
            // Merge the transaction's own writes up to the last engine key (or over the
            // rest of the range when the engine has no more).
            let frontier = (!exhausted).then(|| engine_part.last().map(|(k, _)| k.clone()));
            let (olo, ohi) = match (frontier.clone().flatten(), descending) {
                (Some(k), false) => (lo.clone(), Bound::Included(k)),
                (Some(k), true) => (Bound::Included(k), hi.clone()),
                (None, _) => (lo.clone(), hi.clone()),
            };
            let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> =
                engine_part.into_iter().map(|(k, v)| (k, Some(v))).collect();
            for (k, w) in self.overlay.range::<[u8], _>(borrow_range(&olo, &ohi)) {
                let visible = w
                    .as_ref()
                    .filter(|(_, exp)| *exp == 0 || *exp > now)
                    .map(|(v, _)| v.clone());
                merged.insert(k.clone(), visible);
            }
            let live = merged.into_iter().filter_map(|(k, v)| v.map(|v| (k, v)));
            let out: Vec<_> = if descending {
                live.rev().collect()
            } else {
                live.collect()
            };
            match frontier.flatten() {
                // Everything in this stretch was deleted by the transaction: go on.
                Some(k) if out.is_empty() => cursor = Bound::Excluded(k),
                _ => return Ok((out, exhausted)),
            }
        }
    }

    /// Moves to the next entry in iteration order; `None` at the end.
    pub fn next_entry(&mut self) -> Result<Option<(&[u8], &[u8])>> {
        self.current = self.advance()?;
        Ok(self.current())
    }

    /// Takes the next entry in iteration order, refilling the buffer when it runs dry.
    fn advance(&mut self) -> Result<Option<Entry>> {
        if self.buf.is_empty() && !self.drained {
            let (items, exhausted) = self.fetch(&self.from, self.reverse, self.batch)?;
            self.batch = (self.batch * 2).min(MAX_BATCH);
            self.drained = exhausted;
            self.buf.extend(items);
        }
        let item = self.buf.pop_front();
        match &item {
            // The next refill starts after the last entry taken: record it once per
            // buffer, not once per entry.
            Some((k, _)) if self.buf.is_empty() => self.from = Bound::Excluded(k.clone()),
            Some(_) => {}
            None => self.drained = true,
        }
        Ok(item)
    }

    /// Moves to the previous entry in iteration order; `None` before the first.
    pub fn prev_entry(&mut self) -> Result<Option<(&[u8], &[u8])>> {
        let anchor = match (&self.current, self.drained && self.buf.is_empty()) {
            (Some((k, _)), _) => Bound::Excluded(k.clone()),
            // Past the end: step back onto the last entry.
            (None, true) => {
                if self.reverse {
                    self.lo.clone()
                } else {
                    self.hi.clone()
                }
            }
            (None, false) => {
                self.current = None;
                return Ok(None);
            }
        };
        let (items, _) = self.fetch(&anchor, !self.reverse, 1)?;
        self.buf.clear();
        self.batch = FIRST_BATCH;
        match items.into_iter().next() {
            Some(item) => {
                self.from = Bound::Excluded(item.0.clone());
                self.drained = false;
                self.current = Some(item);
            }
            None => {
                // Before the first entry: the next step starts at the beginning.
                self.from = if self.reverse {
                    self.hi.clone()
                } else {
                    self.lo.clone()
                };
                self.drained = false;
                self.current = None;
            }
        }
        Ok(self.current())
    }

    /// Positions the iterator so the next [`Iter::next_entry`] returns the first entry at
    /// or after `key` in iteration order (at or below `key` for a reverse iterator).
    pub fn seek(&mut self, key: &[u8]) {
        self.buf.clear();
        self.batch = FIRST_BATCH;
        self.drained = false;
        self.current = None;
        self.from = Bound::Included(key.to_vec());
    }

    /// The entry the iterator is on, if any.
    pub fn current(&self) -> Option<(&[u8], &[u8])> {
        self.current.as_ref().map(|(k, v)| (&k[..], &v[..]))
    }

    /// Releases the iterator's snapshot now instead of at drop.
    pub fn close(&mut self) {
        if !self.released {
            self.released = true;
            let snap = self.snapshot;
            let _ = self.db.with(|e| {
                e.release_snapshot(snap);
                Ok(())
            });
        }
        self.buf.clear();
        self.current = None;
        self.drained = true;
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.released {
            Err(Error::InvalidArgument("iterator is closed".into()))
        } else if self.db.is_closed() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Whether `key` lies in this iterator's range.
    pub fn covers(&self, key: &[u8]) -> bool {
        borrow_range(&self.lo, &self.hi).contains(key)
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.check_open() {
            return Some(Err(e));
        }
        self.current = None;
        self.advance().transpose()
    }
}

impl Drop for Iter {
    fn drop(&mut self) {
        self.close();
    }
}

/// The tighter of a cursor position and the range's lower bound.
fn clip_lo(from: &Bound<Vec<u8>>, lo: &Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    let key = |b: &Bound<Vec<u8>>| match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.clone()),
        Bound::Unbounded => None,
    };
    match (key(from), key(lo)) {
        (None, _) => lo.clone(),
        (Some(_), None) => from.clone(),
        (Some(f), Some(l)) if f > l => from.clone(),
        (Some(f), Some(l)) if f < l => lo.clone(),
        // Equal keys: exclusive wins.
        _ => match (from, lo) {
            (Bound::Excluded(_), _) => from.clone(),
            _ => lo.clone(),
        },
    }
}

/// The tighter of a cursor position and the range's upper bound.
fn clip_hi(from: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    let key = |b: &Bound<Vec<u8>>| match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.clone()),
        Bound::Unbounded => None,
    };
    match (key(from), key(hi)) {
        (None, _) => hi.clone(),
        (Some(_), None) => from.clone(),
        (Some(f), Some(h)) if f < h => from.clone(),
        (Some(f), Some(h)) if f > h => hi.clone(),
        _ => match (from, hi) {
            (Bound::Excluded(_), _) => from.clone(),
            _ => hi.clone(),
        },
    }
}

fn empty_range(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Included(l), Bound::Included(h)) => l > h,
        (Bound::Included(l), Bound::Excluded(h))
        | (Bound::Excluded(l), Bound::Included(h))
        | (Bound::Excluded(l), Bound::Excluded(h)) => l >= h,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_handles_ff_bytes() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn bounds_combine_prefix_and_range() {
        let o = IterOptions {
            prefix: Some(b"k".to_vec()),
            start: Some(b"a".to_vec()),
            end: Some(b"kz".to_vec()),
            reverse: false,
        };
        assert_eq!(
            o.bounds(),
            (
                Bound::Included(b"k".to_vec()),
                Bound::Excluded(b"kz".to_vec())
            )
        );
        let o = IterOptions::prefix(b"\xff");
        assert_eq!(
            o.bounds(),
            (Bound::Included(b"\xff".to_vec()), Bound::Unbounded)
        );
        let (lo, hi) = o.bounds();
        assert!(borrow_range(&lo, &hi).contains(&b"\xff\xff\x00"[..]));
    }
}
