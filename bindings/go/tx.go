package katamari

/*
#include "katamari_go.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"time"
)

// TxOptions select the kind of transaction; nil or the zero value is a read-write
// transaction with snapshot isolation.
type TxOptions struct {
	// ReadOnly: writes fail with ErrReadOnly.
	ReadOnly bool
	// Serializable: Commit also fails with ErrConflict when a key or range the
	// transaction read was written by another commit after its snapshot.
	Serializable bool
}

// Tx is a transaction. Reads see the snapshot taken at Begin plus the transaction's
// own writes; Commit applies the writes atomically or, if a transaction that committed
// after the snapshot wrote one of the same keys, fails with ErrConflict and writes
// nothing (first committer wins).
//
// A Tx is safe for use by several goroutines (calls are serialized). End it with
// Commit or Rollback; `defer tx.Rollback()` is the usual idiom, as Rollback after
// Commit is a no-op.
type Tx struct {
	mu      sync.Mutex
	h       *C.kat_txn // nil once ended
	db      *DB        // keeps the database alive while the transaction is reachable
	managed bool       // owned by DB.Update / DB.View
	cleanup runtime.Cleanup
}

// Begin starts a transaction. opts may be nil.
func (db *DB) Begin(opts *TxOptions) (*Tx, error) {
	var flags C.uint32_t
	if opts != nil {
		if opts.ReadOnly {
			flags |= C.KAT_TXN_READ_ONLY
		}
		if opts.Serializable {
			flags |= C.KAT_TXN_SERIALIZABLE
		}
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError("begin")
	}
	var h *C.kat_txn
	var cerr *C.kat_error
	st := C.kat_txn_begin(db.h, flags, &h, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("begin", st, cerr); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	tx := &Tx{h: h, db: db}
	tx.cleanup = runtime.AddCleanup(tx, freeTxn, h)
	return tx, nil
}

func freeTxn(h *C.kat_txn) {
	C.kat_txn_free(h)
	liveHandles.Add(-1)
}

// Update runs fn in a read-write transaction and commits it if fn returns nil; if fn
// returns an error or panics, the transaction is rolled back. A conflict with a
// concurrent commit is returned as an error matching ErrConflict (nothing was
// written; fn may be retried). fn must not call Commit or Rollback.
func (db *DB) Update(fn func(tx *Tx) error) error {
	tx, err := db.Begin(nil)
	if err != nil {
		return err
	}
	tx.managed = true
	defer tx.end()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.commit("update")
}

// View runs fn in a read-only transaction, which is always rolled back afterwards;
// fn's error is returned. Writes inside fn fail with ErrReadOnly. fn must not call
// Commit or Rollback.
func (db *DB) View(fn func(tx *Tx) error) error {
	tx, err := db.Begin(&TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	tx.managed = true
	defer tx.end()
	return fn(tx)
}

// lock locks the transaction and checks that it and its database are still open; on
// success the caller must unlock.
func (tx *Tx) lock(op string) error {
	tx.mu.Lock()
	if tx.h == nil {
		tx.mu.Unlock()
		return invalidError(op, "transaction already ended")
	}
	if tx.db.closed.Load() {
		tx.mu.Unlock()
		return closedError(op)
	}
	return nil
}

// Get returns a copy of the value of key in the transaction's view; (nil, ErrNotFound)
// if absent.
func (tx *Tx) Get(key []byte) ([]byte, error) {
	if err := tx.lock("tx.get"); err != nil {
		return nil, err
	}
	defer tx.mu.Unlock()
	var buf C.kat_buf
	var cerr *C.kat_error
	st := C.kat_txn_get(tx.h, bytesPtr(key), C.size_t(len(key)), &buf, &cerr)
	runtime.KeepAlive(tx)
	if st != C.KAT_OK {
		return nil, statusError("tx.get", st, cerr)
	}
	return takeBuf(&buf), nil
}

// Has reports whether key is present in the transaction's view.
func (tx *Tx) Has(key []byte) (bool, error) {
	if err := tx.lock("tx.has"); err != nil {
		return false, err
	}
	defer tx.mu.Unlock()
	var found C.bool
	var cerr *C.kat_error
	st := C.kat_txn_contains(tx.h, bytesPtr(key), C.size_t(len(key)), &found, &cerr)
	runtime.KeepAlive(tx)
	if err := statusError("tx.has", st, cerr); err != nil {
		return false, err
	}
	return bool(found), nil
}

// Put sets key to value when the transaction commits (the bytes are copied now).
func (tx *Tx) Put(key, value []byte) error {
	if err := tx.lock("tx.put"); err != nil {
		return err
	}
	defer tx.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_txn_put(tx.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(tx)
	return statusError("tx.put", st, cerr)
}

// PutTTL is Put with the key expiring ttl after this call (see DB.PutTTL).
func (tx *Tx) PutTTL(key, value []byte, ttl time.Duration) error {
	if err := tx.lock("tx.put_ttl"); err != nil {
		return err
	}
	defer tx.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_txn_put_ttl(tx.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), ttlMillis(ttl), &cerr)
	runtime.KeepAlive(tx)
	return statusError("tx.put_ttl", st, cerr)
}

// Delete removes key when the transaction commits.
func (tx *Tx) Delete(key []byte) error {
	if err := tx.lock("tx.delete"); err != nil {
		return err
	}
	defer tx.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_txn_delete(tx.h, bytesPtr(key), C.size_t(len(key)), &cerr)
	runtime.KeepAlive(tx)
	return statusError("tx.delete", st, cerr)
}

// lockIn is lock plus a read lock on ks; on success the caller must call unlockIn.
func (tx *Tx) lockIn(op string, ks *Keyspace) error {
	if ks == nil {
		return invalidError(op, "keyspace is nil")
	}
	if err := tx.lock(op); err != nil {
		return err
	}
	ks.mu.RLock()
	if ks.h == nil {
		ks.mu.RUnlock()
		tx.mu.Unlock()
		return invalidError(op, "keyspace handle is closed")
	}
	return nil
}

func (tx *Tx) unlockIn(ks *Keyspace) {
	ks.mu.RUnlock()
	tx.mu.Unlock()
}

// GetIn is Get in keyspace ks.
func (tx *Tx) GetIn(ks *Keyspace, key []byte) ([]byte, error) {
	if err := tx.lockIn("tx.get_in", ks); err != nil {
		return nil, err
	}
	defer tx.unlockIn(ks)
	var buf C.kat_buf
	var cerr *C.kat_error
	st := C.kat_txn_get_in(tx.h, ks.h, bytesPtr(key), C.size_t(len(key)), &buf, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(ks)
	if st != C.KAT_OK {
		return nil, statusError("tx.get_in", st, cerr)
	}
	return takeBuf(&buf), nil
}

// HasIn is Has in keyspace ks.
func (tx *Tx) HasIn(ks *Keyspace, key []byte) (bool, error) {
	if err := tx.lockIn("tx.has_in", ks); err != nil {
		return false, err
	}
	defer tx.unlockIn(ks)
	var found C.bool
	var cerr *C.kat_error
	st := C.kat_txn_contains_in(tx.h, ks.h, bytesPtr(key), C.size_t(len(key)), &found, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(ks)
	if err := statusError("tx.has_in", st, cerr); err != nil {
		return false, err
	}
	return bool(found), nil
}

// PutIn is Put in keyspace ks.
func (tx *Tx) PutIn(ks *Keyspace, key, value []byte) error {
	if err := tx.lockIn("tx.put_in", ks); err != nil {
		return err
	}
	defer tx.unlockIn(ks)
	var cerr *C.kat_error
	st := C.kat_txn_put_in(tx.h, ks.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(ks)
	return statusError("tx.put_in", st, cerr)
}

// PutTTLIn is PutTTL in keyspace ks.
func (tx *Tx) PutTTLIn(ks *Keyspace, key, value []byte, ttl time.Duration) error {
	if err := tx.lockIn("tx.put_ttl_in", ks); err != nil {
		return err
	}
	defer tx.unlockIn(ks)
	var cerr *C.kat_error
	st := C.kat_txn_put_ttl_in(tx.h, ks.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), ttlMillis(ttl), &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(ks)
	return statusError("tx.put_ttl_in", st, cerr)
}

// DeleteIn is Delete in keyspace ks.
func (tx *Tx) DeleteIn(ks *Keyspace, key []byte) error {
	if err := tx.lockIn("tx.delete_in", ks); err != nil {
		return err
	}
	defer tx.unlockIn(ks)
	var cerr *C.kat_error
	st := C.kat_txn_delete_in(tx.h, ks.h, bytesPtr(key), C.size_t(len(key)), &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(ks)
	return statusError("tx.delete_in", st, cerr)
}

// Commit applies every write atomically (durably under SyncAlways) and ends the
// transaction. An error matching ErrConflict means another commit after this
// transaction's snapshot wrote a key it writes (or, serializable, one it read) and
// nothing was written. The transaction has ended either way.
func (tx *Tx) Commit() error {
	if tx.managed {
		return invalidError("tx.commit", "transaction is managed by DB.Update or DB.View")
	}
	return tx.commit("tx.commit")
}

func (tx *Tx) commit(op string) error {
	if err := tx.lock(op); err != nil {
		if tx.db.closed.Load() {
			tx.end()
		}
		return err
	}
	defer tx.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_txn_commit(tx.h, &cerr)
	tx.release()
	return statusError(op, st, cerr)
}

// Rollback discards the transaction's writes and ends it. Rolling back an ended
// transaction (after Commit, or twice) is a no-op returning nil.
func (tx *Tx) Rollback() error {
	if tx.managed {
		return invalidError("tx.rollback", "transaction is managed by DB.Update or DB.View")
	}
	tx.end()
	return nil
}

// end aborts the transaction if it is still open and releases its handle.
func (tx *Tx) end() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.h == nil {
		return
	}
	C.kat_txn_abort(tx.h, nil)
	tx.release()
}

// release frees the handle; tx.mu is held.
func (tx *Tx) release() {
	tx.cleanup.Stop()
	freeTxn(tx.h)
	tx.h = nil
	runtime.KeepAlive(tx)
}
