package katamari

/*
#include "katamari_go.h"
*/
import "C"

import (
	"encoding/binary"
	"encoding/hex"
	"io"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Compression names how a bucket compresses its chunks.
type Compression int

const (
	// CompressionNone stores chunks as written.
	CompressionNone Compression = C.KAT_COMPRESSION_NONE
	// CompressionZlib is zlib at level 0 to 9.
	CompressionZlib Compression = C.KAT_COMPRESSION_ZLIB
	// CompressionZstd is zstd at level 1 to 22.
	CompressionZstd Compression = C.KAT_COMPRESSION_ZSTD
)

// BucketOption configures DB.Bucket. Options that are not given keep the bucket's
// stored settings (or the defaults for a new bucket: versioning on, no compression,
// 1 MiB chunks, no encryption); given ones that differ are stored for later writes.
type BucketOption func(*bucketConfig)

type bucketConfig struct {
	versioning  *bool
	compression *[2]int
	chunkSize   *uint32
	key         *[]byte // set (even to an empty key, which the library refuses) by WithEncryptionKey
}

// WithVersioning keeps every version (true, the default) or lets a put replace the
// object (false).
func WithVersioning(on bool) BucketOption {
	return func(c *bucketConfig) { c.versioning = &on }
}

// WithCompression sets how chunks are compressed; incompressible chunks are stored
// raw whatever is set.
func WithCompression(codec Compression, level int) BucketOption {
	return func(c *bucketConfig) { c.compression = &[2]int{int(codec), level} }
}

// WithChunkSize sets the chunk size of writes, 4 KiB to 64 MiB (default 1 MiB; other
// sizes, 0 included, are ErrInvalidArgument). Streaming memory stays at about two
// chunks.
func WithChunkSize(bytes uint32) BucketOption {
	return func(c *bucketConfig) { c.chunkSize = &bytes }
}

// WithEncryptionKey gives the 32-byte key of an encrypted bucket: a new bucket is
// created encrypted (XChaCha20-Poly1305); an existing encrypted bucket opens only with
// its key (ErrAuthFailed for a wrong key). A key of any other length, nil or empty
// included, is ErrInvalidArgument: it never means "no encryption". The key is copied
// when the option is made, so the caller may clear it right after.
func WithEncryptionKey(key []byte) BucketOption {
	k := append([]byte(nil), key...)
	return func(c *bucketConfig) { c.key = &k }
}

// Bucket holds versioned objects: contents of any size under a key, each version with
// a SHA-256, a content type and metadata. Safe for concurrent use. After
// DB.DropBucket its calls fail with ErrInvalidArgument; after DB.Close, with ErrClosed.
type Bucket struct {
	mu      sync.RWMutex // read-held by calls using h; Close holds it exclusively
	h       *C.kat_bucket
	db      *DB
	name    string
	cleanup runtime.Cleanup
}

func freeBucket(h *C.kat_bucket) {
	C.kat_bucket_free(h)
	liveHandles.Add(-1)
}

// Bucket opens the bucket name (1 to 255 bytes), creating it if missing. Close the
// handle when done; a cleanup releases it if it becomes unreachable.
func (db *DB) Bucket(name string, opts ...BucketOption) (*Bucket, error) {
	var cfg bucketConfig
	for _, o := range opts {
		o(&cfg)
	}
	var co *C.kat_bucket_options
	if st := C.kat_bucket_options_new(&co); st != C.KAT_OK {
		return nil, statusError("bucket", st, nil)
	}
	defer C.kat_bucket_options_free(co)
	if cfg.versioning != nil {
		on := C.int32_t(0)
		if *cfg.versioning {
			on = 1
		}
		C.kat_bucket_options_set_versioning(co, on)
	}
	if cfg.compression != nil {
		st := C.kat_bucket_options_set_compression(co, C.int32_t(cfg.compression[0]), C.int32_t(cfg.compression[1]))
		if st != C.KAT_OK {
			return nil, invalidError("bucket", "unknown codec or level out of range")
		}
	}
	if cfg.chunkSize != nil {
		if st := C.kat_bucket_options_set_chunk_size(co, C.uint32_t(*cfg.chunkSize)); st != C.KAT_OK {
			return nil, invalidError("bucket", "chunk sizes run from 4 KiB to 64 MiB")
		}
	}
	if cfg.key != nil {
		key := *cfg.key
		if len(key) != C.KAT_KEY_LEN {
			// Checked here too: an empty key must not reach C as (NULL, 0).
			return nil, invalidError("bucket", "encryption keys are 32 bytes")
		}
		st := C.kat_bucket_options_set_encryption_key(co, bytesPtr(key), C.size_t(len(key)))
		runtime.KeepAlive(key)
		if st != C.KAT_OK {
			return nil, invalidError("bucket", "encryption keys are 32 bytes")
		}
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError("bucket")
	}
	var h *C.kat_bucket
	var cerr *C.kat_error
	st := C.kat_bucket_open(db.h, strPtr(name), C.size_t(len(name)), co, &h, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("bucket", st, cerr); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	b := &Bucket{h: h, db: db, name: name}
	b.cleanup = runtime.AddCleanup(b, freeBucket, h)
	return b, nil
}

// DropBucket drops the bucket name and every object in it; ErrNotFound if there is
// none. Merge reclaims the space.
func (db *DB) DropBucket(name string) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return closedError("drop_bucket")
	}
	var cerr *C.kat_error
	st := C.kat_bucket_drop(db.h, strPtr(name), C.size_t(len(name)), &cerr)
	runtime.KeepAlive(db)
	return statusError("drop_bucket", st, cerr)
}

// Buckets returns the bucket names, sorted.
func (db *DB) Buckets() ([]string, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError("buckets")
	}
	var buf C.kat_buf
	var count C.size_t
	var cerr *C.kat_error
	st := C.kat_bucket_list(db.h, &buf, &count, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("buckets", st, cerr); err != nil {
		return nil, err
	}
	return splitNames(takeBuf(&buf), int(count)), nil
}

// splitNames reads repeated (u32 LE length, bytes) records.
func splitNames(data []byte, count int) []string {
	names := make([]string, 0, count)
	for len(data) >= 4 {
		n := int(binary.LittleEndian.Uint32(data))
		if len(data) < 4+n {
			break
		}
		names = append(names, string(data[4:4+n]))
		data = data[4+n:]
	}
	return names
}

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Close releases the handle (the bucket stays). Idempotent; later calls on the handle
// fail with ErrInvalidArgument.
func (b *Bucket) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.h == nil {
		return nil
	}
	b.cleanup.Stop()
	freeBucket(b.h)
	b.h = nil
	runtime.KeepAlive(b)
	return nil
}

func (b *Bucket) rlock(op string) error {
	if b == nil {
		return invalidError(op, "bucket is nil")
	}
	b.mu.RLock()
	if b.h == nil {
		b.mu.RUnlock()
		return invalidError(op, "bucket handle is closed")
	}
	if b.db.closed.Load() {
		b.mu.RUnlock()
		return closedError(op)
	}
	return nil
}

// ObjectInfo describes one stored version of an object.
type ObjectInfo struct {
	Key []byte
	// Version counts the puts of the key from 1 and never repeats, across deletes and
	// restarts.
	Version    uint64
	Size       uint64 // content length
	StoredSize uint64 // bytes stored after compression and encryption
	SHA256     [32]byte
	SHA256Hex  string
	Created    time.Time
	// ContentType is what the writer gave (may be empty).
	ContentType string
	Metadata    map[string]string
}

func infoFrom(p *C.kat_object_info) ObjectInfo {
	info := ObjectInfo{
		Version:    uint64(p.version),
		Size:       uint64(p.size),
		StoredSize: uint64(p.stored_size),
		Created:    time.UnixMilli(int64(p.created_ms)),
		Key:        C.GoBytes(unsafe.Pointer(p.key), C.int(p.key_len)),
		ContentType: C.GoStringN((*C.char)(unsafe.Pointer(p.content_type)),
			C.int(p.content_type_len)),
		Metadata: map[string]string{},
	}
	for i := range info.SHA256 {
		info.SHA256[i] = byte(p.sha256[i])
	}
	info.SHA256Hex = hex.EncodeToString(info.SHA256[:])
	if p.metadata_count > 0 {
		for _, e := range unsafe.Slice(p.metadata, int(p.metadata_count)) {
			k := C.GoStringN((*C.char)(unsafe.Pointer(e.key)), C.int(e.key_len))
			info.Metadata[k] = C.GoStringN((*C.char)(unsafe.Pointer(e.value)), C.int(e.value_len))
		}
	}
	return info
}

// takeInfo converts and frees a library-owned info.
func takeInfo(p *C.kat_object_info) ObjectInfo {
	info := infoFrom(p)
	C.kat_object_info_free(p)
	return info
}

func takeList(p *C.kat_object_list) []ObjectInfo {
	out := make([]ObjectInfo, 0, int(p.len))
	if p.len > 0 {
		items := unsafe.Slice(p.items, int(p.len))
		for i := range items {
			out = append(out, infoFrom(&items[i]))
		}
	}
	C.kat_object_list_free(p)
	return out
}

// PutOption describes a new version: content type, metadata, expected checksum.
type PutOption func(*putConfig)

type putConfig struct {
	contentType *string
	metadata    [][2]string
	expected    *[32]byte
}

// WithContentType records the content type (UTF-8, at most 1024 bytes).
func WithContentType(ct string) PutOption {
	return func(c *putConfig) { c.contentType = &ct }
}

// WithMetadata adds one user metadata pair (UTF-8; the key not empty).
func WithMetadata(key, value string) PutOption {
	return func(c *putConfig) { c.metadata = append(c.metadata, [2]string{key, value}) }
}

// WithExpectedSHA256 makes the put fail with ErrInvalidArgument, storing nothing,
// unless the content's SHA-256 is sum.
func WithExpectedSHA256(sum [32]byte) PutOption {
	return func(c *putConfig) { c.expected = &sum }
}

// putOptions builds the library's put options (nil when none are given); the caller
// frees them with kat_put_options_free.
func putOptions(op string, opts []PutOption) (*C.kat_put_options, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	var cfg putConfig
	for _, o := range opts {
		o(&cfg)
	}
	var po *C.kat_put_options
	if st := C.kat_put_options_new(&po); st != C.KAT_OK {
		return nil, statusError(op, st, nil)
	}
	fail := func(msg string) (*C.kat_put_options, error) {
		C.kat_put_options_free(po)
		return nil, invalidError(op, msg)
	}
	if cfg.contentType != nil {
		ct := *cfg.contentType
		if C.kat_put_options_set_content_type(po, strPtr(ct), C.size_t(len(ct))) != C.KAT_OK {
			return fail("content type is not UTF-8")
		}
		runtime.KeepAlive(ct)
	}
	for _, kv := range cfg.metadata {
		st := C.kat_put_options_add_metadata(po, strPtr(kv[0]), C.size_t(len(kv[0])), strPtr(kv[1]), C.size_t(len(kv[1])))
		runtime.KeepAlive(kv)
		if st != C.KAT_OK {
			return fail("metadata is not UTF-8")
		}
	}
	if cfg.expected != nil {
		sum := cfg.expected[:]
		C.kat_put_options_set_expected_sha256(po, bytesPtr(sum), C.size_t(len(sum)))
		runtime.KeepAlive(sum)
	}
	return po, nil
}

// Put stores data as a new version of key (1 to 65,524 bytes, any bytes) and returns
// its info. Objects larger than a chunk are streamed internally, so memory stays
// bounded by the chunk size beyond data itself.
func (b *Bucket) Put(key, data []byte, opts ...PutOption) (ObjectInfo, error) {
	po, err := putOptions("bucket.put", opts)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer C.kat_put_options_free(po)
	if err := b.rlock("bucket.put"); err != nil {
		return ObjectInfo{}, err
	}
	defer b.mu.RUnlock()
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_bucket_put(b.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(data), C.size_t(len(data)), po, &info, &cerr)
	runtime.KeepAlive(b)
	if err := statusError("bucket.put", st, cerr); err != nil {
		return ObjectInfo{}, err
	}
	return takeInfo(info), nil
}

// Get returns the content and info of the newest version of key, checked against its
// SHA-256 (ErrCorruption on mismatch, never wrong data); ErrNotFound if absent.
func (b *Bucket) Get(key []byte) ([]byte, ObjectInfo, error) {
	return b.GetVersion(key, 0)
}

// GetVersion is Get of version v (0: the newest).
func (b *Bucket) GetVersion(key []byte, v uint64) ([]byte, ObjectInfo, error) {
	if err := b.rlock("bucket.get"); err != nil {
		return nil, ObjectInfo{}, err
	}
	defer b.mu.RUnlock()
	var buf C.kat_buf
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_bucket_get(b.h, bytesPtr(key), C.size_t(len(key)), C.uint64_t(v), &buf, &info, &cerr)
	runtime.KeepAlive(b)
	if err := statusError("bucket.get", st, cerr); err != nil {
		return nil, ObjectInfo{}, err
	}
	return takeBuf(&buf), takeInfo(info), nil
}

// Head returns the info of the newest version of key without its content.
func (b *Bucket) Head(key []byte) (ObjectInfo, error) { return b.HeadVersion(key, 0) }

// HeadVersion is Head of version v (0: the newest).
func (b *Bucket) HeadVersion(key []byte, v uint64) (ObjectInfo, error) {
	if err := b.rlock("bucket.head"); err != nil {
		return ObjectInfo{}, err
	}
	defer b.mu.RUnlock()
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_bucket_head(b.h, bytesPtr(key), C.size_t(len(key)), C.uint64_t(v), &info, &cerr)
	runtime.KeepAlive(b)
	if err := statusError("bucket.head", st, cerr); err != nil {
		return ObjectInfo{}, err
	}
	return takeInfo(info), nil
}

// Delete deletes every version of key; ErrNotFound if there was none.
func (b *Bucket) Delete(key []byte) error { return b.DeleteVersion(key, 0) }

// DeleteVersion deletes version v of key (0: every version); ErrNotFound if absent.
// Deleting the newest version makes the one before it the newest.
func (b *Bucket) DeleteVersion(key []byte, v uint64) error {
	if err := b.rlock("bucket.delete"); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	var cerr *C.kat_error
	st := C.kat_bucket_delete(b.h, bytesPtr(key), C.size_t(len(key)), C.uint64_t(v), &cerr)
	runtime.KeepAlive(b)
	return statusError("bucket.delete", st, cerr)
}

// Versions returns every stored version of key, oldest first (empty if none).
func (b *Bucket) Versions(key []byte) ([]ObjectInfo, error) {
	if err := b.rlock("bucket.versions"); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	var list *C.kat_object_list
	var cerr *C.kat_error
	st := C.kat_bucket_versions(b.h, bytesPtr(key), C.size_t(len(key)), &list, &cerr)
	runtime.KeepAlive(b)
	if err := statusError("bucket.versions", st, cerr); err != nil {
		return nil, err
	}
	return takeList(list), nil
}

// List returns up to limit objects (0: no limit) whose keys start with prefix and sort
// after after (nil: from the first), in key order, each with its newest version's info.
// Page by passing the last key returned as after.
func (b *Bucket) List(prefix, after []byte, limit int) ([]ObjectInfo, error) {
	if limit < 0 {
		return nil, invalidError("bucket.list", "limit is negative")
	}
	if err := b.rlock("bucket.list"); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	afterPtr := bytesPtr(after)
	if after != nil && len(after) == 0 {
		// An empty key sorts before every key: the same as no bound.
		afterPtr = nil
	}
	var list *C.kat_object_list
	var cerr *C.kat_error
	st := C.kat_bucket_list_objects(b.h, bytesPtr(prefix), C.size_t(len(prefix)), afterPtr, C.size_t(len(after)), C.size_t(limit), &list, &cerr)
	runtime.KeepAlive(b)
	if err := statusError("bucket.list", st, cerr); err != nil {
		return nil, err
	}
	return takeList(list), nil
}

// BlobWriter is a streamed upload of one version: an io.Writer (and io.ReaderFrom)
// whose content becomes the newest version of its key, atomically, on Commit. Close
// without Commit aborts. It keeps working after its Bucket handle is closed. Use it
// from one goroutine at a time (calls are serialized, but interleaved writes from
// several goroutines make no sense).
type BlobWriter struct {
	mu      sync.Mutex
	h       *C.kat_blob_writer
	b       *Bucket
	ended   bool
	cleanup runtime.Cleanup
}

func freeBlobWriter(h *C.kat_blob_writer) {
	C.kat_blob_writer_free(h)
	liveHandles.Add(-1)
}

// NewWriter starts a streamed upload of a new version of key.
func (b *Bucket) NewWriter(key []byte, opts ...PutOption) (*BlobWriter, error) {
	po, err := putOptions("bucket.new_writer", opts)
	if err != nil {
		return nil, err
	}
	defer C.kat_put_options_free(po)
	if err := b.rlock("bucket.new_writer"); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	var h *C.kat_blob_writer
	var cerr *C.kat_error
	st := C.kat_blob_writer_open(b.h, bytesPtr(key), C.size_t(len(key)), po, &h, &cerr)
	runtime.KeepAlive(b)
	if err := statusError("bucket.new_writer", st, cerr); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	w := &BlobWriter{h: h, b: b}
	w.cleanup = runtime.AddCleanup(w, freeBlobWriter, h)
	return w, nil
}

func (w *BlobWriter) lock(op string) error {
	w.mu.Lock()
	if w.h == nil || w.ended {
		w.mu.Unlock()
		return invalidError(op, "the upload has ended")
	}
	if w.b.db.closed.Load() {
		w.mu.Unlock()
		return closedError(op)
	}
	return nil
}

// Write appends p to the content. After a failed write the upload can only be
// aborted (Close).
func (w *BlobWriter) Write(p []byte) (int, error) {
	if err := w.lock("blob_writer.write"); err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_blob_writer_write(w.h, bytesPtr(p), C.size_t(len(p)), &cerr)
	runtime.KeepAlive(w)
	runtime.KeepAlive(p)
	if err := statusError("blob_writer.write", st, cerr); err != nil {
		return 0, err
	}
	return len(p), nil
}

// streamBufSize is the buffer of ReadFrom and WriteTo: the default chunk size, so a
// write or read crossing moves up to a whole chunk of a default bucket.
const streamBufSize = 1 << 20

var streamBufs = sync.Pool{New: func() any {
	b := make([]byte, streamBufSize)
	return &b
}}

// ReadFrom copies r into the upload until r's io.EOF (so io.Copy uses one pooled
// 1 MiB buffer). It reads nothing from r when the upload has already ended.
func (w *BlobWriter) ReadFrom(r io.Reader) (int64, error) {
	if err := w.lock("blob_writer.read_from"); err != nil {
		return 0, err
	}
	w.mu.Unlock()
	bufp := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(bufp)
	buf := *bufp
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Commit makes the content the newest version of its key and returns its info. The
// upload ends either way: on failure nothing becomes visible.
func (w *BlobWriter) Commit() (ObjectInfo, error) {
	if err := w.lock("blob_writer.commit"); err != nil {
		return ObjectInfo{}, err
	}
	defer w.mu.Unlock()
	w.ended = true
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_blob_writer_commit(w.h, &info, &cerr)
	runtime.KeepAlive(w)
	if err := statusError("blob_writer.commit", st, cerr); err != nil {
		return ObjectInfo{}, err
	}
	return takeInfo(info), nil
}

// CommitTx stages the version in tx: it appears when tx commits; if tx aborts, the
// chunks are discarded. The upload ends either way.
func (w *BlobWriter) CommitTx(tx *Tx) (ObjectInfo, error) {
	if tx == nil {
		return ObjectInfo{}, invalidError("blob_writer.commit_tx", "transaction is nil")
	}
	if err := tx.lock("blob_writer.commit_tx"); err != nil {
		return ObjectInfo{}, err
	}
	defer tx.mu.Unlock()
	if err := w.lock("blob_writer.commit_tx"); err != nil {
		return ObjectInfo{}, err
	}
	defer w.mu.Unlock()
	w.ended = true
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_blob_writer_commit_txn(w.h, tx.h, &info, &cerr)
	runtime.KeepAlive(w)
	runtime.KeepAlive(tx)
	if err := statusError("blob_writer.commit_tx", st, cerr); err != nil {
		return ObjectInfo{}, err
	}
	return takeInfo(info), nil
}

// Abort discards the upload: nothing becomes visible.
func (w *BlobWriter) Abort() error {
	if err := w.lock("blob_writer.abort"); err != nil {
		return err
	}
	defer w.mu.Unlock()
	w.ended = true
	var cerr *C.kat_error
	st := C.kat_blob_writer_abort(w.h, &cerr)
	runtime.KeepAlive(w)
	return statusError("blob_writer.abort", st, cerr)
}

// Close releases the writer, aborting an upload that was not committed. Idempotent.
func (w *BlobWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.h == nil {
		return nil
	}
	w.cleanup.Stop()
	freeBlobWriter(w.h)
	w.h = nil
	runtime.KeepAlive(w)
	return nil
}

// BlobReader reads one object version on the snapshot taken when it was opened: an
// io.Reader, io.Seeker, io.WriterTo and io.Closer. Later overwrites, deletes and
// merges do not disturb it, and it keeps working after its Bucket handle is closed.
// Reading start to end checks the SHA-256 before the last bytes are returned (damage
// is ErrCorruption, never wrong data). Use it from one goroutine at a time (calls are
// serialized, but share the read position).
type BlobReader struct {
	mu      sync.Mutex
	h       *C.kat_blob_reader
	b       *Bucket
	info    ObjectInfo
	pos     int64
	cleanup runtime.Cleanup
}

func freeBlobReader(h *C.kat_blob_reader) {
	C.kat_blob_reader_free(h)
	liveHandles.Add(-1)
}

// NewReader opens a reader of the newest version of key; ErrNotFound if absent.
func (b *Bucket) NewReader(key []byte) (*BlobReader, error) { return b.NewReaderVersion(key, 0) }

// NewReaderVersion opens a reader of version v of key (0: the newest).
func (b *Bucket) NewReaderVersion(key []byte, v uint64) (*BlobReader, error) {
	if err := b.rlock("bucket.new_reader"); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	var h *C.kat_blob_reader
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_blob_reader_open(b.h, bytesPtr(key), C.size_t(len(key)), C.uint64_t(v), &h, &info, &cerr)
	runtime.KeepAlive(b)
	if err := statusError("bucket.new_reader", st, cerr); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	r := &BlobReader{h: h, b: b, info: takeInfo(info)}
	r.cleanup = runtime.AddCleanup(r, freeBlobReader, h)
	return r, nil
}

// Info returns the info of the version being read.
func (r *BlobReader) Info() ObjectInfo { return r.info }

func (r *BlobReader) lock(op string) error {
	r.mu.Lock()
	if r.h == nil {
		r.mu.Unlock()
		return invalidError(op, "reader is closed")
	}
	if r.b.db.closed.Load() {
		r.mu.Unlock()
		return closedError(op)
	}
	return nil
}

// Read reads up to len(p) bytes; io.EOF at the end of the content.
func (r *BlobReader) Read(p []byte) (int, error) {
	if err := r.lock("blob_reader.read"); err != nil {
		return 0, err
	}
	defer r.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	var n C.size_t
	var cerr *C.kat_error
	st := C.kat_blob_reader_read(r.h, bytesPtr(p), C.size_t(len(p)), &n, &cerr)
	runtime.KeepAlive(r)
	runtime.KeepAlive(p)
	if err := statusError("blob_reader.read", st, cerr); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	r.pos += int64(n)
	return int(n), nil
}

// Seek moves the read position (io.SeekStart, io.SeekCurrent, io.SeekEnd); positions
// before the start or past the end are ErrInvalidArgument.
func (r *BlobReader) Seek(offset int64, whence int) (int64, error) {
	if err := r.lock("blob_reader.seek"); err != nil {
		return 0, err
	}
	defer r.mu.Unlock()
	var target int64
	switch whence {
	case io.SeekStart:
		target = offset
	case io.SeekCurrent:
		target = r.pos + offset
	case io.SeekEnd:
		target = int64(r.info.Size) + offset
	default:
		return 0, invalidError("blob_reader.seek", "unknown whence")
	}
	if target < 0 {
		return 0, invalidError("blob_reader.seek", "position before the start")
	}
	var cerr *C.kat_error
	st := C.kat_blob_reader_seek(r.h, C.uint64_t(target), &cerr)
	runtime.KeepAlive(r)
	if err := statusError("blob_reader.seek", st, cerr); err != nil {
		return 0, err
	}
	r.pos = target
	return target, nil
}

// WriteTo writes the content from the read position to its end to w (so io.Copy uses
// one pooled 1 MiB buffer), checking the SHA-256 as Read does.
func (r *BlobReader) WriteTo(w io.Writer) (int64, error) {
	bufp := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(bufp)
	buf := *bufp
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close releases the reader and its snapshot. Idempotent.
func (r *BlobReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return nil
	}
	r.cleanup.Stop()
	freeBlobReader(r.h)
	r.h = nil
	runtime.KeepAlive(r)
	return nil
}

// lockBucket is tx.lock plus a read lock on b; on success the caller must call
// unlockBucket.
func (tx *Tx) lockBucket(op string, b *Bucket) error {
	if err := b.rlock(op); err != nil {
		return err
	}
	if err := tx.lock(op); err != nil {
		b.mu.RUnlock()
		return err
	}
	return nil
}

func (tx *Tx) unlockBucket(b *Bucket) {
	tx.mu.Unlock()
	b.mu.RUnlock()
}

// BucketPut is Bucket.Put as part of the transaction: visible to others when it
// commits. The content is held in the transaction until then.
func (tx *Tx) BucketPut(b *Bucket, key, data []byte, opts ...PutOption) (ObjectInfo, error) {
	po, err := putOptions("tx.bucket_put", opts)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer C.kat_put_options_free(po)
	if err := tx.lockBucket("tx.bucket_put", b); err != nil {
		return ObjectInfo{}, err
	}
	defer tx.unlockBucket(b)
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_txn_bucket_put(tx.h, b.h, bytesPtr(key), C.size_t(len(key)), bytesPtr(data), C.size_t(len(data)), po, &info, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(b)
	if err := statusError("tx.bucket_put", st, cerr); err != nil {
		return ObjectInfo{}, err
	}
	return takeInfo(info), nil
}

// BucketGet is Bucket.GetVersion in the transaction's view (v 0: the newest).
func (tx *Tx) BucketGet(b *Bucket, key []byte, v uint64) ([]byte, ObjectInfo, error) {
	if err := tx.lockBucket("tx.bucket_get", b); err != nil {
		return nil, ObjectInfo{}, err
	}
	defer tx.unlockBucket(b)
	var buf C.kat_buf
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_txn_bucket_get(tx.h, b.h, bytesPtr(key), C.size_t(len(key)), C.uint64_t(v), &buf, &info, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(b)
	if err := statusError("tx.bucket_get", st, cerr); err != nil {
		return nil, ObjectInfo{}, err
	}
	return takeBuf(&buf), takeInfo(info), nil
}

// BucketHead is Bucket.HeadVersion in the transaction's view.
func (tx *Tx) BucketHead(b *Bucket, key []byte, v uint64) (ObjectInfo, error) {
	if err := tx.lockBucket("tx.bucket_head", b); err != nil {
		return ObjectInfo{}, err
	}
	defer tx.unlockBucket(b)
	var info *C.kat_object_info
	var cerr *C.kat_error
	st := C.kat_txn_bucket_head(tx.h, b.h, bytesPtr(key), C.size_t(len(key)), C.uint64_t(v), &info, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(b)
	if err := statusError("tx.bucket_head", st, cerr); err != nil {
		return ObjectInfo{}, err
	}
	return takeInfo(info), nil
}

// BucketDelete is Bucket.DeleteVersion as part of the transaction (v 0: every
// version).
func (tx *Tx) BucketDelete(b *Bucket, key []byte, v uint64) error {
	if err := tx.lockBucket("tx.bucket_delete", b); err != nil {
		return err
	}
	defer tx.unlockBucket(b)
	var cerr *C.kat_error
	st := C.kat_txn_bucket_delete(tx.h, b.h, bytesPtr(key), C.size_t(len(key)), C.uint64_t(v), &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(b)
	return statusError("tx.bucket_delete", st, cerr)
}
