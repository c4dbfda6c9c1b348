package katamari

/*
#include "katamari_go.h"
*/
import "C"

import (
	"iter"
	"runtime"
	"sync"
	"time"
)

// Keyspace is a named keyspace of a database (like a column family): keys in
// different keyspaces never collide. It has the same operations as DB, is safe for
// concurrent use, and its name can be given to Tx and Batch methods ending in In.
//
// After DB.DropKeyspace of its name its calls fail with ErrInvalidArgument; after
// DB.Close, with ErrClosed.
type Keyspace struct {
	mu      sync.RWMutex // read-held by calls using h; Close holds it exclusively
	h       *C.kat_keyspace
	db      *DB // keeps the database alive while the handle is reachable
	name    string
	cleanup runtime.Cleanup
}

func newKeyspace(db *DB, h *C.kat_keyspace, name string) *Keyspace {
	liveHandles.Add(1)
	ks := &Keyspace{h: h, db: db, name: name}
	ks.cleanup = runtime.AddCleanup(ks, freeKeyspace, h)
	return ks
}

func freeKeyspace(h *C.kat_keyspace) {
	C.kat_keyspace_free(h)
	liveHandles.Add(-1)
}

// Name returns the keyspace's name.
func (ks *Keyspace) Name() string { return ks.name }

// Close releases the handle (the keyspace and its data stay). It is idempotent; other
// calls on the handle then fail with ErrInvalidArgument.
func (ks *Keyspace) Close() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.h == nil {
		return nil
	}
	ks.cleanup.Stop()
	freeKeyspace(ks.h)
	ks.h = nil
	runtime.KeepAlive(ks)
	return nil
}

// rlock read-locks the handle and checks that it and its database are open; on
// success the caller must RUnlock.
func (ks *Keyspace) rlock(op string) error {
	ks.mu.RLock()
	if ks.h == nil {
		ks.mu.RUnlock()
		return invalidError(op, "keyspace handle is closed")
	}
	if ks.db.closed.Load() {
		ks.mu.RUnlock()
		return closedError(op)
	}
	return nil
}

// Put is DB.Put in this keyspace.
func (ks *Keyspace) Put(key, value []byte) error {
	if err := ks.rlock("keyspace.put"); err != nil {
		return err
	}
	defer ks.mu.RUnlock()
	var cerr *C.kat_error
	st := C.kat_keyspace_put(ks.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(ks)
	return statusError("keyspace.put", st, cerr)
}

// PutTTL is DB.PutTTL in this keyspace.
func (ks *Keyspace) PutTTL(key, value []byte, ttl time.Duration) error {
	if err := ks.rlock("keyspace.put_ttl"); err != nil {
		return err
	}
	defer ks.mu.RUnlock()
	var cerr *C.kat_error
	st := C.kat_keyspace_put_ttl(ks.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), ttlMillis(ttl), &cerr)
	runtime.KeepAlive(ks)
	return statusError("keyspace.put_ttl", st, cerr)
}

// Get is DB.Get in this keyspace.
func (ks *Keyspace) Get(key []byte) ([]byte, error) {
	if err := ks.rlock("keyspace.get"); err != nil {
		return nil, err
	}
	defer ks.mu.RUnlock()
	var buf C.kat_buf
	var cerr *C.kat_error
	st := C.kat_keyspace_get(ks.h, bytesPtr(key), C.size_t(len(key)), &buf, &cerr)
	runtime.KeepAlive(ks)
	if st != C.KAT_OK {
		return nil, statusError("keyspace.get", st, cerr)
	}
	return takeBuf(&buf), nil
}

// Delete is DB.Delete in this keyspace.
func (ks *Keyspace) Delete(key []byte) error {
	if err := ks.rlock("keyspace.delete"); err != nil {
		return err
	}
	defer ks.mu.RUnlock()
	var cerr *C.kat_error
	st := C.kat_keyspace_delete(ks.h, bytesPtr(key), C.size_t(len(key)), &cerr)
	runtime.KeepAlive(ks)
	return statusError("keyspace.delete", st, cerr)
}

// Has is DB.Has in this keyspace.
func (ks *Keyspace) Has(key []byte) (bool, error) {
	if err := ks.rlock("keyspace.has"); err != nil {
		return false, err
	}
	defer ks.mu.RUnlock()
	var found C.bool
	var cerr *C.kat_error
	st := C.kat_keyspace_contains(ks.h, bytesPtr(key), C.size_t(len(key)), &found, &cerr)
	runtime.KeepAlive(ks)
	if err := statusError("keyspace.has", st, cerr); err != nil {
		return false, err
	}
	return bool(found), nil
}

// ExpiresAt is DB.ExpiresAt in this keyspace.
func (ks *Keyspace) ExpiresAt(key []byte) (time.Time, error) {
	if err := ks.rlock("keyspace.expires_at"); err != nil {
		return time.Time{}, err
	}
	defer ks.mu.RUnlock()
	var ms C.uint64_t
	var cerr *C.kat_error
	st := C.kat_keyspace_expires_at(ks.h, bytesPtr(key), C.size_t(len(key)), &ms, &cerr)
	runtime.KeepAlive(ks)
	if err := statusError("keyspace.expires_at", st, cerr); err != nil {
		return time.Time{}, err
	}
	return expiryTime(uint64(ms)), nil
}

// Iterator is DB.Iterator over this keyspace.
func (ks *Keyspace) Iterator(opts *IterOptions) (*Iterator, error) {
	if err := ks.rlock("keyspace.iterator"); err != nil {
		return nil, err
	}
	defer ks.mu.RUnlock()
	it, err := newIterator("keyspace.iterator", ks.db, iterTarget{on: C.KAT_GO_ON_KS, ks: ks.h}, opts)
	runtime.KeepAlive(ks)
	return it, err
}

// Scan is DB.Scan over this keyspace.
func (ks *Keyspace) Scan(opts *IterOptions) (iter.Seq2[[]byte, []byte], func() error) {
	return scan(func() (*Iterator, error) { return ks.Iterator(opts) })
}

// All is DB.All over this keyspace.
func (ks *Keyspace) All(opts *IterOptions) iter.Seq2[[]byte, []byte] {
	seq, _ := ks.Scan(opts)
	return seq
}
