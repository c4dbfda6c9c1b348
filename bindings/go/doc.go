// Package katamari is the Go binding of Katamari, an embedded log-structured storage
// engine: a key-value store with atomic batches, MVCC snapshot transactions, ordered
// prefix and range iteration, TTLs and named keyspaces, plus buckets of versioned
// objects and typed columns in the same transactions.
//
// It wraps the C API (include/katamari.h) with cgo. By default it links the static
// library of the repository it lives in, so build that first:
//
//	cargo build --release              # at the repository root
//	cd bindings/go && go test ./...
//
// With the build tag katamari_system it links an installed libkatamari instead (see
// link_system.go).
//
// # Usage
//
//	db, err := katamari.Open("/var/lib/app/data")
//	if err != nil { ... }
//	defer db.Close()
//
//	err = db.Put([]byte("greeting"), []byte("hello"))
//	v, err := db.Get([]byte("greeting"))
//	if errors.Is(err, katamari.ErrNotFound) { ... }
//
//	err = db.Update(func(tx *katamari.Tx) error {
//		return tx.Put([]byte("a"), []byte("1"))
//	})
//
//	for k, v := range db.All(&katamari.IterOptions{Prefix: []byte("user:")}) { ... }
//
// # Errors
//
// Failed calls return *Error, carrying the library's status Code, the operation and
// the library's message. Test the code with errors.Is and the sentinels (ErrNotFound,
// ErrConflict, ErrClosed, ErrLocked, ...). A lookup of a missing key returns
// ErrNotFound itself; an empty value is a non-nil empty slice, so missing and empty
// stay distinct.
//
// # TTLs
//
// PutTTL (and the PutTTL methods of Batch, Tx and Keyspace) writes a value that expires
// after a duration, rounded up to whole milliseconds; once expired the key is invisible
// to every read. ExpiresAt reads a key's absolute expiry back: the zero Time when its
// value never expires, ErrNotFound (like Get) when it has no live value:
//
//	err = db.PutTTL([]byte("session"), token, 30*time.Minute)
//	at, err := db.ExpiresAt([]byte("session")) // at.IsZero(): no expiry
//
// # Maintenance
//
// The log only grows: overwritten and deleted values stay on disk until a merge
// rewrites the live data. By default a background merge starts when dead bytes reach
// half of the data and 256 MiB (WithAutoMerge changes the policy; a ratio of 0 turns
// it off). DB.Merge merges now, DB.Backup writes a consistent copy into a new
// directory while the database stays in use, and DB.Verify checks every checksum
// without changing anything, reporting damage in its VerifyReport:
//
//	m, err := db.Merge()                     // MergeStats: segments and bytes in and out
//	info, err := db.Backup("/backups/app-1") // opens with Open at commit info.Seq
//	r, err := db.Verify()
//	if err == nil && !r.Clean() { ... r.FirstBadSegment, r.FirstBadOffset, r.FirstBadReason }
//
// Close stops a Merge in flight (it returns ErrClosed; the data stays intact).
//
// # Buckets
//
// A Bucket holds versioned objects: contents of any size under a byte key, each
// version with a SHA-256, a content type and metadata, optionally compressed (zlib,
// zstd) and encrypted (XChaCha20-Poly1305). Put and Get move whole objects; NewWriter
// and NewReader stream them (io.Writer, io.Reader, io.Seeker), so objects larger than
// memory never need to fit in it:
//
//	b, err := db.Bucket("photos", katamari.WithCompression(katamari.CompressionZstd, 3))
//	info, err := b.Put([]byte("cat.jpg"), data, katamari.WithContentType("image/jpeg"))
//	data, info, err := b.Get([]byte("cat.jpg"))
//
//	w, err := b.NewWriter([]byte("dump.sql"))
//	defer w.Close()              // aborts unless committed
//	_, err = io.Copy(w, file)
//	info, err = w.Commit()       // the version appears atomically
//
// Tx.BucketPut, BucketGet, BucketHead, BucketDelete and BlobWriter.CommitTx join a
// transaction.
//
// # Memory and concurrency
//
// Arguments are passed to C as pointer and length and copied by the library; results
// are copied into Go memory, so every returned slice belongs to the caller. A DB,
// Keyspace, Bucket, Column, Tx and Batch may be used from many goroutines; an
// Iterator, BlobWriter or BlobReader by one at a time. Close is idempotent and waits for calls in flight; later calls, on the DB and
// on every handle made from it, return ErrClosed. Handles that are dropped without
// Close are released by runtime cleanups, but only as a safety net: a DB left open
// keeps its directory locked until the garbage collector runs.
package katamari
