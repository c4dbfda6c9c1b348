package katamari

/*
#include "katamari_go.h"
*/
import "C"

import (
	"encoding/binary"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// DB is an open database. It is safe for concurrent use by many goroutines. Close
// waits for calls in flight; calls that start after it return ErrClosed, on the DB and
// on every handle made from it (Tx, Iterator, Keyspace, Bucket and its streams, Column).
type DB struct {
	mu     sync.RWMutex // read-held by every call using h; Close holds it exclusively
	h      *C.kat_db    // nil once closed
	closed atomic.Bool  // set when Close starts; checked by child handles
	// merges counts Merge calls in flight, so Close can stop them (see stopMerges).
	merges atomic.Int32
	// largeValues: the last Get found a value over getStackBuf bytes (a hint only).
	largeValues atomic.Bool
	path        string
	cleanup     runtime.Cleanup
}

// Stats are counters describing a database.
type Stats struct {
	LiveKeys    uint64 // keys whose newest version is a value
	LiveBytes   uint64 // bytes of records holding newest values
	DeadBytes   uint64 // bytes in segments not holding newest values (reclaimable)
	TotalBytes  uint64 // bytes in all segment files
	Segments    uint64 // number of segment files
	KeydirBytes uint64 // estimated heap bytes of the in-memory index
	LastSeq     uint64 // sequence number of the newest commit
	Merges      uint64 // merges completed since open (DB.Merge or automatic)
	// MergeFailures counts automatic merges that failed since open (a failed DB.Merge
	// returns its own error instead).
	MergeFailures uint64
}

// Open opens the database in directory path, creating it if missing (unless
// WithCreateIfMissing(false)) and recovering from any crash. A second Open of a
// directory that is open, in this or another process, fails with ErrLocked.
//
// Call Close when done. A DB that becomes unreachable without Close is closed by a
// cleanup as a safety net, at a time the garbage collector chooses.
func Open(path string, opts ...Option) (*DB, error) {
	if versionErr != nil {
		return nil, versionErr
	}
	if strings.IndexByte(path, 0) >= 0 {
		return nil, invalidError("open", "path contains a NUL byte")
	}
	co, err := newCOptions(opts)
	if err != nil {
		return nil, err
	}
	defer C.kat_options_free(co)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))

	var h *C.kat_db
	var cerr *C.kat_error
	st := C.kat_db_open(cpath, co, &h, &cerr)
	if err := statusError("open", st, cerr); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	db := &DB{h: h, path: path}
	db.cleanup = runtime.AddCleanup(db, freeDB, h)
	return db, nil
}

// stopMerges closes the library handle under the read lock when a Merge is in flight:
// kat_db_close stops the merge at its next step and waits for every call in flight,
// where Close's exclusive lock alone would wait (and make every new call wait) for as
// long as the merge runs. The handle is freed later, under the exclusive lock. It
// reports whether it closed the handle, and the close's error.
//
// Close sets db.closed before reading db.merges and Merge counts itself before reading
// db.closed, so either this sees the merge or the merge sees the close and does not
// start.
func (db *DB) stopMerges() (bool, error) {
	if db.merges.Load() == 0 {
		return false, nil
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return false, nil
	}
	var cerr *C.kat_error
	st := C.kat_db_close(db.h, &cerr)
	runtime.KeepAlive(db)
	return true, statusError("close", st, cerr)
}

func freeDB(h *C.kat_db) {
	C.kat_db_free(h)
	liveHandles.Add(-1)
}

// Path returns the directory the database was opened from.
func (db *DB) Path() string { return db.path }

// Close syncs and releases the database. It waits for calls in flight; afterwards every
// call on db or on its transactions, iterators and keyspaces returns ErrClosed. A Merge
// in flight is stopped at its next step and returns ErrClosed (the database keeps its
// contents either way); a Backup or Verify in flight runs to its end. Closing twice is a
// no-op returning nil. The handle is released even when the final sync fails (that
// error is returned).
func (db *DB) Close() error {
	db.closed.Store(true)
	closedEarly, err := db.stopMerges()
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.h == nil {
		return err
	}
	if !closedEarly {
		var cerr *C.kat_error
		st := C.kat_db_close(db.h, &cerr)
		err = statusError("close", st, cerr)
	}
	db.cleanup.Stop()
	freeDB(db.h)
	db.h = nil
	runtime.KeepAlive(db)
	return err
}

// Put sets key to value, atomically and (with SyncAlways) durably on return. Keys may
// be up to 64 KiB, values up to 4 GiB - 1; larger is ErrTooLarge and nothing is
// written. The slices are copied; the caller may reuse them at once.
func (db *DB) Put(key, value []byte) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return closedError("put")
	}
	var cerr *C.kat_error
	st := C.kat_db_put(db.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(db)
	return statusError("put", st, cerr)
}

// PutTTL is Put with the key expiring ttl from now (at least 1 ms; a sub-millisecond
// TTL is rounded up, zero or negative is ErrInvalidArgument). Once expired the key is
// invisible to every read.
func (db *DB) PutTTL(key, value []byte, ttl time.Duration) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return closedError("put_ttl")
	}
	var cerr *C.kat_error
	st := C.kat_db_put_ttl(db.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), ttlMillis(ttl), &cerr)
	runtime.KeepAlive(db)
	return statusError("put_ttl", st, cerr)
}

// getStackBuf is the size of the stack buffer Get reads small values into.
const getStackBuf = 512

// Get returns a copy of the value of key. A missing key returns (nil, ErrNotFound); an
// empty value returns a non-nil empty slice.
func (db *DB) Get(key []byte) ([]byte, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError("get")
	}
	// Small values: one crossing into a stack buffer, then one exact-size copy. This
	// skips the library's owned buffer and the second crossing to free it. After a value
	// that did not fit, reads go straight to kat_db_get until a small one comes back, so
	// a database of large values rarely pays for two lookups.
	if !db.largeValues.Load() {
		var stack [getStackBuf]byte
		var n C.size_t
		var cerr *C.kat_error
		st := C.kat_db_get_into(db.h, bytesPtr(key), C.size_t(len(key)),
			(*C.uint8_t)(unsafe.Pointer(&stack[0])), getStackBuf, &n, &cerr)
		runtime.KeepAlive(db)
		switch st {
		case C.KAT_OK:
			out := make([]byte, int(n))
			copy(out, stack[:n])
			return out, nil
		case C.KAT_BUFFER_TOO_SMALL:
			C.kat_error_free(cerr)
			db.largeValues.Store(true)
		default:
			return nil, statusError("get", st, cerr)
		}
	}
	var buf C.kat_buf
	var cerr *C.kat_error
	st := C.kat_db_get(db.h, bytesPtr(key), C.size_t(len(key)), &buf, &cerr)
	runtime.KeepAlive(db)
	if st != C.KAT_OK {
		return nil, statusError("get", st, cerr)
	}
	if buf.len <= getStackBuf {
		db.largeValues.Store(false)
	}
	return takeBuf(&buf), nil
}

// GetInto reads the value of key into buf without allocating and returns its length.
// If buf is too small it returns the needed length and an error matching
// ErrBufferTooSmall, leaving buf untouched. A missing key is ErrNotFound.
func (db *DB) GetInto(key, buf []byte) (int, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return 0, closedError("get_into")
	}
	var n C.size_t
	var cerr *C.kat_error
	st := C.kat_db_get_into(db.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(buf), C.size_t(len(buf)), &n, &cerr)
	runtime.KeepAlive(db)
	if st == C.KAT_OK {
		return int(n), nil
	}
	if st == C.KAT_BUFFER_TOO_SMALL {
		err := statusError("get_into", st, cerr)
		return int(n), err
	}
	return 0, statusError("get_into", st, cerr)
}

// Delete removes key. Removing a missing key is not an error.
func (db *DB) Delete(key []byte) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return closedError("delete")
	}
	var cerr *C.kat_error
	st := C.kat_db_delete(db.h, bytesPtr(key), C.size_t(len(key)), &cerr)
	runtime.KeepAlive(db)
	return statusError("delete", st, cerr)
}

// Has reports whether key is present, without reading its value.
func (db *DB) Has(key []byte) (bool, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return false, closedError("has")
	}
	var found C.bool
	var cerr *C.kat_error
	st := C.kat_db_contains(db.h, bytesPtr(key), C.size_t(len(key)), &found, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("has", st, cerr); err != nil {
		return false, err
	}
	return bool(found), nil
}

// ExpiresAt returns when the live value of key expires (set by PutTTL, Batch.PutTTL or
// Tx.PutTTL). A key that never expires returns the zero Time (test it with IsZero); a
// key without a live value (never written, deleted or already expired) returns
// (time.Time{}, ErrNotFound), like Get. The library keeps expiries to the millisecond,
// so the result is a whole millisecond, in the local time zone.
func (db *DB) ExpiresAt(key []byte) (time.Time, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return time.Time{}, closedError("expires_at")
	}
	var ms C.uint64_t
	var cerr *C.kat_error
	st := C.kat_db_expires_at(db.h, bytesPtr(key), C.size_t(len(key)), &ms, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("expires_at", st, cerr); err != nil {
		return time.Time{}, err
	}
	return expiryTime(uint64(ms)), nil
}

// Write applies every operation of b as one atomic unit: after a crash it is wholly
// present or wholly absent. An empty batch writes nothing. b is left as it was and may
// be written again or reused after Reset.
func (db *DB) Write(b *Batch) error {
	if b == nil {
		return invalidError("write", "batch is nil")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.h == nil {
		return invalidError("write", "batch is closed")
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return closedError("write")
	}
	var cerr *C.kat_error
	st := C.kat_db_write(db.h, b.h, &cerr)
	runtime.KeepAlive(db)
	runtime.KeepAlive(b)
	return statusError("write", st, cerr)
}

// Sync forces everything written so far onto stable storage (useful with SyncInterval
// and SyncNever).
func (db *DB) Sync() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return closedError("sync")
	}
	var cerr *C.kat_error
	st := C.kat_db_sync(db.h, &cerr)
	runtime.KeepAlive(db)
	return statusError("sync", st, cerr)
}

// Stats returns the database's counters.
func (db *DB) Stats() (Stats, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return Stats{}, closedError("stats")
	}
	var s C.kat_stats
	var cerr *C.kat_error
	st := C.kat_db_stats(db.h, &s, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("stats", st, cerr); err != nil {
		return Stats{}, err
	}
	return Stats{
		LiveKeys:      uint64(s.live_keys),
		LiveBytes:     uint64(s.live_bytes),
		DeadBytes:     uint64(s.dead_bytes),
		TotalBytes:    uint64(s.total_bytes),
		Segments:      uint64(s.segments),
		KeydirBytes:   uint64(s.keydir_bytes),
		LastSeq:       uint64(s.last_seq),
		Merges:        uint64(s.merges),
		MergeFailures: uint64(s.merge_failures),
	}, nil
}

// Keyspace opens the named keyspace (1 to 255 bytes, not starting with a NUL byte),
// creating it if missing. Keys in different keyspaces never collide. The handle may be
// closed with Keyspace.Close when no longer needed; it is released by a cleanup
// otherwise.
func (db *DB) Keyspace(name string) (*Keyspace, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError("keyspace")
	}
	var h *C.kat_keyspace
	var cerr *C.kat_error
	st := C.kat_keyspace_open(db.h, strPtr(name), C.size_t(len(name)), &h, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("keyspace", st, cerr); err != nil {
		return nil, err
	}
	return newKeyspace(db, h, name), nil
}

// DropKeyspace drops the named keyspace and every key in it; ErrNotFound if it does
// not exist. Handles to it then fail with ErrInvalidArgument.
func (db *DB) DropKeyspace(name string) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return closedError("drop_keyspace")
	}
	var cerr *C.kat_error
	st := C.kat_keyspace_drop(db.h, strPtr(name), C.size_t(len(name)), &cerr)
	runtime.KeepAlive(db)
	return statusError("drop_keyspace", st, cerr)
}

// Keyspaces returns the names of the keyspaces, sorted (the default keyspace has no
// name and is not listed).
func (db *DB) Keyspaces() ([]string, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError("keyspaces")
	}
	var buf C.kat_buf
	var count C.size_t
	var cerr *C.kat_error
	st := C.kat_keyspace_list(db.h, &buf, &count, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("keyspaces", st, cerr); err != nil {
		return nil, err
	}
	data := takeBuf(&buf)
	names := make([]string, 0, int(count))
	for len(data) >= 4 {
		n := int(binary.LittleEndian.Uint32(data))
		if 4+n > len(data) {
			return nil, &Error{Code: CodeInternal, Op: "keyspaces", Message: "malformed keyspace list"}
		}
		names = append(names, string(data[4:4+n]))
		data = data[4+n:]
	}
	if len(names) != int(count) || len(data) != 0 {
		return nil, &Error{Code: CodeInternal, Op: "keyspaces", Message: "malformed keyspace list"}
	}
	return names, nil
}
