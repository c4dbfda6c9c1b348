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

// Batch is an ordered list of writes that DB.Write applies all-or-nothing. It is not
// tied to a database, may be written several times, and is safe for concurrent use
// (calls are serialized). Close releases it early; otherwise a cleanup does.
type Batch struct {
	mu      sync.Mutex
	h       *C.kat_batch // nil once closed
	cleanup runtime.Cleanup
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	var h *C.kat_batch
	if st := C.kat_batch_new(&h); st != C.KAT_OK {
		// Only a NULL out-parameter fails, which cannot happen here.
		panic(statusError("batch.new", st, nil))
	}
	liveHandles.Add(1)
	b := &Batch{h: h}
	b.cleanup = runtime.AddCleanup(b, freeBatch, h)
	return b
}

func freeBatch(h *C.kat_batch) {
	C.kat_batch_free(h)
	liveHandles.Add(-1)
}

func (b *Batch) lock(op string) error {
	b.mu.Lock()
	if b.h == nil {
		b.mu.Unlock()
		return invalidError(op, "batch is closed")
	}
	return nil
}

// Put adds a put of key = value (the bytes are copied). Over the size limits it returns
// ErrTooLarge and adds nothing.
func (b *Batch) Put(key, value []byte) error {
	if err := b.lock("batch.put"); err != nil {
		return err
	}
	defer b.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_batch_put(b.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(b)
	return statusError("batch.put", st, cerr)
}

// PutTTL adds a put whose key expires ttl after the batch is written (see DB.PutTTL).
func (b *Batch) PutTTL(key, value []byte, ttl time.Duration) error {
	if err := b.lock("batch.put_ttl"); err != nil {
		return err
	}
	defer b.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_batch_put_ttl(b.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), ttlMillis(ttl), &cerr)
	runtime.KeepAlive(b)
	return statusError("batch.put_ttl", st, cerr)
}

// Delete adds a delete of key.
func (b *Batch) Delete(key []byte) error {
	if err := b.lock("batch.delete"); err != nil {
		return err
	}
	defer b.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_batch_delete(b.h, bytesPtr(key), C.size_t(len(key)), &cerr)
	runtime.KeepAlive(b)
	return statusError("batch.delete", st, cerr)
}

func (b *Batch) lockIn(op string, ks *Keyspace) error {
	if ks == nil {
		return invalidError(op, "keyspace is nil")
	}
	if err := b.lock(op); err != nil {
		return err
	}
	ks.mu.RLock()
	if ks.h == nil {
		ks.mu.RUnlock()
		b.mu.Unlock()
		return invalidError(op, "keyspace handle is closed")
	}
	return nil
}

func (b *Batch) unlockIn(ks *Keyspace) {
	ks.mu.RUnlock()
	b.mu.Unlock()
}

// PutIn adds a put in keyspace ks. The batch must be written to the database ks
// belongs to.
func (b *Batch) PutIn(ks *Keyspace, key, value []byte) error {
	if err := b.lockIn("batch.put_in", ks); err != nil {
		return err
	}
	defer b.unlockIn(ks)
	var cerr *C.kat_error
	st := C.kat_batch_put_in(b.h, ks.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(b)
	runtime.KeepAlive(ks)
	return statusError("batch.put_in", st, cerr)
}

// PutTTLIn adds a put in keyspace ks whose key expires ttl after the batch is written
// (see PutTTL and PutIn).
func (b *Batch) PutTTLIn(ks *Keyspace, key, value []byte, ttl time.Duration) error {
	if err := b.lockIn("batch.put_ttl_in", ks); err != nil {
		return err
	}
	defer b.unlockIn(ks)
	var cerr *C.kat_error
	st := C.kat_batch_put_ttl_in(b.h, ks.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), ttlMillis(ttl), &cerr)
	runtime.KeepAlive(b)
	runtime.KeepAlive(ks)
	return statusError("batch.put_ttl_in", st, cerr)
}

// DeleteIn adds a delete in keyspace ks.
func (b *Batch) DeleteIn(ks *Keyspace, key []byte) error {
	if err := b.lockIn("batch.delete_in", ks); err != nil {
		return err
	}
	defer b.unlockIn(ks)
	var cerr *C.kat_error
	st := C.kat_batch_delete_in(b.h, ks.h, bytesPtr(key), C.size_t(len(key)), &cerr)
	runtime.KeepAlive(b)
	runtime.KeepAlive(ks)
	return statusError("batch.delete_in", st, cerr)
}

// Len returns the number of operations in the batch (0 once closed).
func (b *Batch) Len() int {
	if b.lock("batch.len") != nil {
		return 0
	}
	defer b.mu.Unlock()
	var n C.size_t
	C.kat_batch_count(b.h, &n)
	runtime.KeepAlive(b)
	return int(n)
}

// Reset removes every operation so the batch can be reused.
func (b *Batch) Reset() {
	if b.lock("batch.reset") != nil {
		return
	}
	defer b.mu.Unlock()
	C.kat_batch_clear(b.h)
	runtime.KeepAlive(b)
}

// Close releases the batch. It is idempotent; later calls fail with
// ErrInvalidArgument.
func (b *Batch) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.h == nil {
		return nil
	}
	b.cleanup.Stop()
	freeBatch(b.h)
	b.h = nil
	runtime.KeepAlive(b)
	return nil
}
