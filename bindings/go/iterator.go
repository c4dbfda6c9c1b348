package katamari

/*
#include "katamari_go.h"
*/
import "C"

import (
	"encoding/binary"
	"iter"
	"runtime"
	"sync"
	"unsafe"
)

// IterOptions say what an iterator covers: keys that start with Prefix, are >= Start
// and < End, in ascending order or, with Reverse, descending. A nil or empty bound is
// unset; nil *IterOptions means every key, ascending.
type IterOptions struct {
	Prefix  []byte
	Start   []byte // inclusive
	End     []byte // exclusive
	Reverse bool
}

// Batch sizes of kat_iter_next_batch: entries cross the C boundary in growing batches,
// so a short scan copies little and a long one crosses rarely.
const (
	iterFirstBatch = 16
	iterMaxBatch   = 1024
)

// iterMaxBytes caps one batch's output (a variable so tests can exercise the cap).
var iterMaxBytes = 1 << 20

type entry struct{ key, value []byte }

// Iterator is an ordered cursor over one snapshot; it sees the same data however long
// it lives, and stays usable after the transaction it came from ends.
//
//	it, err := db.Iterator(&katamari.IterOptions{Prefix: []byte("user:")})
//	if err != nil { ... }
//	defer it.Close()
//	for it.Next() {
//		fmt.Printf("%s = %s\n", it.Key(), it.Value())
//	}
//	if err := it.Err(); err != nil { ... }
//
// The slices returned by Key and Value are never overwritten by the iterator and may be
// kept. Entries are fetched from the library in batches. An Iterator must not be used
// by two goroutines at once.
type Iterator struct {
	mu      sync.Mutex // guards h against Close and the cleanup
	h       *C.kat_iter
	db      *DB // keeps the database alive while the iterator is reachable
	cleanup runtime.Cleanup

	buf     []entry // entries fetched in iteration order; buf[pos] is current
	pos     int     // -1: no current entry
	batch   int     // size of the next fetch
	pastEnd bool    // the last batch ran out of entries: the C cursor is past the end
	err     error
}

type iterTarget struct {
	on  C.int
	db  *C.kat_db
	txn *C.kat_txn
	ks  *C.kat_keyspace
}

// newIterator creates a C iterator; the caller holds the locks guarding the handles.
func newIterator(op string, db *DB, t iterTarget, opts *IterOptions) (*Iterator, error) {
	var o IterOptions
	if opts != nil {
		o = *opts
	}
	var flags C.uint32_t
	if o.Reverse {
		flags |= C.KAT_ITER_REVERSE
	}
	var h *C.kat_iter
	var cerr *C.kat_error
	st := C.kat_go_iter_new(t.on, t.db, t.txn, t.ks,
		bytesPtr(o.Prefix), C.size_t(len(o.Prefix)),
		bytesPtr(o.Start), C.size_t(len(o.Start)),
		bytesPtr(o.End), C.size_t(len(o.End)),
		flags, &h, &cerr)
	if err := statusError(op, st, cerr); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	it := &Iterator{h: h, db: db, pos: -1, batch: iterFirstBatch}
	it.cleanup = runtime.AddCleanup(it, freeIter, h)
	return it, nil
}

func freeIter(h *C.kat_iter) {
	C.kat_iter_free(h)
	liveHandles.Add(-1)
}

// Iterator returns an iterator over a snapshot of the database taken now. Close it
// when done.
func (db *DB) Iterator(opts *IterOptions) (*Iterator, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError("iterator")
	}
	it, err := newIterator("iterator", db, iterTarget{on: C.KAT_GO_ON_DB, db: db.h}, opts)
	runtime.KeepAlive(db)
	return it, err
}

// Iterator returns an iterator over the transaction's view: its snapshot plus the
// writes it made before this call.
func (tx *Tx) Iterator(opts *IterOptions) (*Iterator, error) {
	if err := tx.lock("tx.iterator"); err != nil {
		return nil, err
	}
	defer tx.mu.Unlock()
	it, err := newIterator("tx.iterator", tx.db, iterTarget{on: C.KAT_GO_ON_TXN, txn: tx.h}, opts)
	runtime.KeepAlive(tx)
	return it, err
}

// IteratorIn is Iterator over keyspace ks.
func (tx *Tx) IteratorIn(ks *Keyspace, opts *IterOptions) (*Iterator, error) {
	if err := tx.lockIn("tx.iterator_in", ks); err != nil {
		return nil, err
	}
	defer tx.unlockIn(ks)
	it, err := newIterator("tx.iterator_in", tx.db, iterTarget{on: C.KAT_GO_ON_TXN_KS, txn: tx.h, ks: ks.h}, opts)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(ks)
	return it, err
}

// Next moves to the next entry and reports whether there is one. At the end, or on
// error (see Err), it returns false.
func (it *Iterator) Next() bool {
	if it.err != nil {
		return false
	}
	if it.db.closed.Load() {
		it.fail(closedError("iterator.next"))
		return false
	}
	if it.pos+1 < len(it.buf) {
		it.pos++
		return true
	}
	return it.fetch()
}

// fetch replaces the buffer with the next batch from the C cursor.
func (it *Iterator) fetch() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.h == nil {
		it.fail(invalidError("iterator.next", "iterator is closed"))
		return false
	}
	var buf C.kat_buf
	var count C.size_t
	var cerr *C.kat_error
	requested := it.batch
	st := C.kat_iter_next_batch(it.h, C.size_t(requested), C.size_t(iterMaxBytes), &buf, &count, &cerr)
	runtime.KeepAlive(it)
	if st != C.KAT_OK {
		it.buf, it.pos, it.pastEnd = it.buf[:0], -1, false
		if st != C.KAT_NOT_FOUND {
			it.fail(statusError("iterator.next", st, cerr))
		}
		return false
	}
	if it.batch < iterMaxBatch {
		it.batch *= 2
	}
	data := takeBuf(&buf)
	// A batch stops at max_items, at max_bytes, or when the entries run out; only in
	// the last case has the C cursor moved past the end (Prev needs that).
	it.pastEnd = int(count) < requested && len(data) < iterMaxBytes
	if err := it.decode(data, int(count)); err != nil {
		it.fail(err)
		return false
	}
	it.pos = 0
	return true
}

// decode splits a kat_iter_next_batch buffer into entries. Each slice is capped so an
// append by the caller cannot overwrite its neighbour.
func (it *Iterator) decode(data []byte, count int) error {
	it.buf = it.buf[:0]
	for i := 0; i < count; i++ {
		if len(data) < 8 {
			return &Error{Code: CodeInternal, Op: "iterator.next", Message: "malformed batch"}
		}
		kl := int(binary.LittleEndian.Uint32(data))
		vl := int(binary.LittleEndian.Uint32(data[4:]))
		data = data[8:]
		if kl+vl > len(data) {
			return &Error{Code: CodeInternal, Op: "iterator.next", Message: "malformed batch"}
		}
		k := data[:kl:kl]
		v := data[kl : kl+vl : kl+vl]
		data = data[kl+vl:]
		it.buf = append(it.buf, entry{k, v})
	}
	if len(data) != 0 || len(it.buf) == 0 {
		return &Error{Code: CodeInternal, Op: "iterator.next", Message: "malformed batch"}
	}
	return nil
}

// Prev moves to the previous entry in iteration order and reports whether there is
// one; false before the first entry. After Next has returned false at the end, Prev
// returns the last entry.
func (it *Iterator) Prev() bool {
	if it.err != nil {
		return false
	}
	if it.db.closed.Load() {
		it.fail(closedError("iterator.prev"))
		return false
	}
	if it.pos > 0 {
		it.pos--
		return true
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.h == nil {
		it.fail(invalidError("iterator.prev", "iterator is closed"))
		return false
	}
	// The C cursor is at the last fetched entry, or past the end; step it back over
	// the whole buffer (just once when nothing is buffered) in one crossing.
	steps := len(it.buf)
	if it.pastEnd {
		steps++
	}
	if it.pos < 0 {
		steps = 1
	}
	var k, v *C.uint8_t
	var kl, vl C.size_t
	var cerr *C.kat_error
	st := C.kat_go_iter_prev_n(it.h, C.size_t(steps), &k, &kl, &v, &vl, &cerr)
	runtime.KeepAlive(it)
	it.buf, it.pos, it.pastEnd = it.buf[:0], -1, false
	it.batch = 1 // a cursor moving back and forth gains little from large batches
	if st != C.KAT_OK {
		if st != C.KAT_NOT_FOUND {
			it.fail(statusError("iterator.prev", st, cerr))
		}
		return false
	}
	key := make([]byte, int(kl)+int(vl))
	copy(key, unsafe.Slice((*byte)(unsafe.Pointer(k)), int(kl)))
	copy(key[kl:], unsafe.Slice((*byte)(unsafe.Pointer(v)), int(vl)))
	it.buf = append(it.buf, entry{key[:kl:kl], key[kl:]})
	it.pos = 0
	return true
}

// Seek positions the iterator so that the following Next returns the first entry at or
// after key in iteration order (at or below key for a reverse iterator).
func (it *Iterator) Seek(key []byte) {
	if it.err != nil {
		return
	}
	if it.db.closed.Load() {
		it.fail(closedError("iterator.seek"))
		return
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.h == nil {
		it.fail(invalidError("iterator.seek", "iterator is closed"))
		return
	}
	var cerr *C.kat_error
	st := C.kat_iter_seek(it.h, bytesPtr(key), C.size_t(len(key)), &cerr)
	runtime.KeepAlive(it)
	it.buf, it.pos, it.batch, it.pastEnd = it.buf[:0], -1, iterFirstBatch, false
	if err := statusError("iterator.seek", st, cerr); err != nil {
		it.fail(err)
	}
}

// Key returns the current entry's key, or nil when there is none.
func (it *Iterator) Key() []byte {
	if it.pos < 0 || it.pos >= len(it.buf) {
		return nil
	}
	return it.buf[it.pos].key
}

// Value returns the current entry's value (a non-nil empty slice for an empty value),
// or nil when there is none.
func (it *Iterator) Value() []byte {
	if it.pos < 0 || it.pos >= len(it.buf) {
		return nil
	}
	return it.buf[it.pos].value
}

// Err returns the error that stopped the iterator, if any. Reaching the end is not an
// error.
func (it *Iterator) Err() error { return it.err }

func (it *Iterator) fail(err error) {
	it.err = err
	it.buf, it.pos = nil, -1
}

// Close releases the iterator and its snapshot. It is idempotent and returns nil.
func (it *Iterator) Close() error {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.h == nil {
		return nil
	}
	it.cleanup.Stop()
	freeIter(it.h)
	it.h = nil
	it.buf, it.pos = nil, -1
	runtime.KeepAlive(it)
	return nil
}

// All returns the remaining entries as a range-over-func sequence. After the loop,
// check Err. Keys and values may be kept.
func (it *Iterator) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for it.Next() {
			if !yield(it.Key(), it.Value()) {
				return
			}
		}
	}
}

// scan builds the sequence of DB.Scan, Keyspace.Scan and Tx.Scan.
func scan(open func() (*Iterator, error)) (iter.Seq2[[]byte, []byte], func() error) {
	var err error
	seq := func(yield func([]byte, []byte) bool) {
		it, e := open()
		if e != nil {
			err = e
			return
		}
		defer it.Close()
		for it.Next() {
			if !yield(it.Key(), it.Value()) {
				break
			}
		}
		err = it.Err()
	}
	return seq, func() error { return err }
}

// Scan returns the entries selected by opts as a range-over-func sequence over a
// snapshot taken when the loop starts, and a function that returns the error that
// ended the loop early, if any (call it after the loop). Keys and values may be kept.
//
//	seq, errf := db.Scan(&katamari.IterOptions{Prefix: []byte("user:")})
//	for k, v := range seq { ... }
//	if err := errf(); err != nil { ... }
func (db *DB) Scan(opts *IterOptions) (iter.Seq2[[]byte, []byte], func() error) {
	return scan(func() (*Iterator, error) { return db.Iterator(opts) })
}

// All is Scan without the error: for code where a partial result is acceptable when
// the scan fails (closed database, I/O error). Use Scan or an Iterator to see the
// error.
func (db *DB) All(opts *IterOptions) iter.Seq2[[]byte, []byte] {
	seq, _ := db.Scan(opts)
	return seq
}

// Scan is DB.Scan over the transaction's view.
func (tx *Tx) Scan(opts *IterOptions) (iter.Seq2[[]byte, []byte], func() error) {
	return scan(func() (*Iterator, error) { return tx.Iterator(opts) })
}

// All is DB.All over the transaction's view.
func (tx *Tx) All(opts *IterOptions) iter.Seq2[[]byte, []byte] {
	seq, _ := tx.Scan(opts)
	return seq
}
