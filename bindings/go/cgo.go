package katamari

/*
#include "katamari_go.h"

// The library never calls back into Go and keeps no pointer it is given (it copies what
// it keeps), so every call may use the cheaper cgo paths; this also lets out-parameters
// stay on the Go stack.
#cgo noescape kat_version
#cgo nocallback kat_version
#cgo noescape kat_version_number
#cgo nocallback kat_version_number
#cgo noescape kat_status_str
#cgo nocallback kat_status_str
#cgo noescape kat_error_message
#cgo nocallback kat_error_message
#cgo noescape kat_error_free
#cgo nocallback kat_error_free
#cgo noescape kat_buf_free
#cgo nocallback kat_buf_free
#cgo noescape kat_batch_new
#cgo nocallback kat_batch_new
#cgo noescape kat_batch_put
#cgo nocallback kat_batch_put
#cgo noescape kat_batch_put_ttl
#cgo nocallback kat_batch_put_ttl
#cgo noescape kat_batch_delete
#cgo nocallback kat_batch_delete
#cgo noescape kat_batch_count
#cgo nocallback kat_batch_count
#cgo noescape kat_batch_clear
#cgo nocallback kat_batch_clear
#cgo noescape kat_batch_free
#cgo nocallback kat_batch_free
#cgo noescape kat_batch_put_in
#cgo nocallback kat_batch_put_in
#cgo noescape kat_batch_delete_in
#cgo nocallback kat_batch_delete_in
#cgo noescape kat_db_write
#cgo nocallback kat_db_write
#cgo noescape kat_db_open
#cgo nocallback kat_db_open
#cgo noescape kat_db_close
#cgo nocallback kat_db_close
#cgo noescape kat_db_free
#cgo nocallback kat_db_free
#cgo noescape kat_db_put
#cgo nocallback kat_db_put
#cgo noescape kat_db_put_ttl
#cgo nocallback kat_db_put_ttl
#cgo noescape kat_db_get
#cgo nocallback kat_db_get
#cgo noescape kat_db_get_into
#cgo nocallback kat_db_get_into
#cgo noescape kat_db_delete
#cgo nocallback kat_db_delete
#cgo noescape kat_db_contains
#cgo nocallback kat_db_contains
#cgo noescape kat_db_expires_at
#cgo nocallback kat_db_expires_at
#cgo noescape kat_db_sync
#cgo nocallback kat_db_sync
#cgo noescape kat_db_stats
#cgo nocallback kat_db_stats
#cgo noescape kat_db_merge
#cgo nocallback kat_db_merge
#cgo noescape kat_db_backup
#cgo nocallback kat_db_backup
#cgo noescape kat_db_verify
#cgo nocallback kat_db_verify
#cgo noescape kat_iter_next_batch
#cgo nocallback kat_iter_next_batch
#cgo noescape kat_iter_seek
#cgo nocallback kat_iter_seek
#cgo noescape kat_iter_free
#cgo nocallback kat_iter_free
#cgo noescape kat_go_iter_new
#cgo nocallback kat_go_iter_new
#cgo noescape kat_go_iter_prev_n
#cgo nocallback kat_go_iter_prev_n
#cgo noescape kat_keyspace_open
#cgo nocallback kat_keyspace_open
#cgo noescape kat_keyspace_drop
#cgo nocallback kat_keyspace_drop
#cgo noescape kat_keyspace_list
#cgo nocallback kat_keyspace_list
#cgo noescape kat_keyspace_free
#cgo nocallback kat_keyspace_free
#cgo noescape kat_keyspace_put
#cgo nocallback kat_keyspace_put
#cgo noescape kat_keyspace_put_ttl
#cgo nocallback kat_keyspace_put_ttl
#cgo noescape kat_keyspace_get
#cgo nocallback kat_keyspace_get
#cgo noescape kat_keyspace_delete
#cgo nocallback kat_keyspace_delete
#cgo noescape kat_keyspace_contains
#cgo nocallback kat_keyspace_contains
#cgo noescape kat_keyspace_expires_at
#cgo nocallback kat_keyspace_expires_at
#cgo noescape kat_txn_get_in
#cgo nocallback kat_txn_get_in
#cgo noescape kat_txn_put_in
#cgo nocallback kat_txn_put_in
#cgo noescape kat_txn_delete_in
#cgo nocallback kat_txn_delete_in
#cgo noescape kat_options_new
#cgo nocallback kat_options_new
#cgo noescape kat_options_set_sync
#cgo nocallback kat_options_set_sync
#cgo noescape kat_options_set_segment_size
#cgo nocallback kat_options_set_segment_size
#cgo noescape kat_options_set_salvage
#cgo nocallback kat_options_set_salvage
#cgo noescape kat_options_set_auto_merge
#cgo nocallback kat_options_set_auto_merge
#cgo noescape kat_options_set_create_if_missing
#cgo nocallback kat_options_set_create_if_missing
#cgo noescape kat_options_free
#cgo nocallback kat_options_free
#cgo noescape kat_txn_begin
#cgo nocallback kat_txn_begin
#cgo noescape kat_txn_get
#cgo nocallback kat_txn_get
#cgo noescape kat_txn_contains
#cgo nocallback kat_txn_contains
#cgo noescape kat_txn_put
#cgo nocallback kat_txn_put
#cgo noescape kat_txn_put_ttl
#cgo nocallback kat_txn_put_ttl
#cgo noescape kat_txn_delete
#cgo nocallback kat_txn_delete
#cgo noescape kat_txn_commit
#cgo nocallback kat_txn_commit
#cgo noescape kat_txn_abort
#cgo nocallback kat_txn_abort
#cgo noescape kat_txn_free
#cgo nocallback kat_txn_free
#cgo noescape kat_bucket_options_new
#cgo nocallback kat_bucket_options_new
#cgo noescape kat_bucket_options_free
#cgo nocallback kat_bucket_options_free
#cgo noescape kat_bucket_options_set_versioning
#cgo nocallback kat_bucket_options_set_versioning
#cgo noescape kat_bucket_options_set_compression
#cgo nocallback kat_bucket_options_set_compression
#cgo noescape kat_bucket_options_set_chunk_size
#cgo nocallback kat_bucket_options_set_chunk_size
#cgo noescape kat_bucket_options_set_encryption_key
#cgo nocallback kat_bucket_options_set_encryption_key
#cgo noescape kat_bucket_open
#cgo nocallback kat_bucket_open
#cgo noescape kat_bucket_drop
#cgo nocallback kat_bucket_drop
#cgo noescape kat_bucket_list
#cgo nocallback kat_bucket_list
#cgo noescape kat_bucket_free
#cgo nocallback kat_bucket_free
#cgo noescape kat_put_options_new
#cgo nocallback kat_put_options_new
#cgo noescape kat_put_options_free
#cgo nocallback kat_put_options_free
#cgo noescape kat_put_options_set_content_type
#cgo nocallback kat_put_options_set_content_type
#cgo noescape kat_put_options_add_metadata
#cgo nocallback kat_put_options_add_metadata
#cgo noescape kat_put_options_set_expected_sha256
#cgo nocallback kat_put_options_set_expected_sha256
#cgo noescape kat_bucket_put
#cgo nocallback kat_bucket_put
#cgo noescape kat_bucket_get
#cgo nocallback kat_bucket_get
#cgo noescape kat_bucket_head
#cgo nocallback kat_bucket_head
#cgo noescape kat_bucket_delete
#cgo nocallback kat_bucket_delete
#cgo noescape kat_bucket_versions
#cgo nocallback kat_bucket_versions
#cgo noescape kat_bucket_list_objects
#cgo nocallback kat_bucket_list_objects
#cgo noescape kat_object_info_free
#cgo nocallback kat_object_info_free
#cgo noescape kat_object_list_free
#cgo nocallback kat_object_list_free
#cgo noescape kat_blob_writer_open
#cgo nocallback kat_blob_writer_open
#cgo noescape kat_blob_writer_write
#cgo nocallback kat_blob_writer_write
#cgo noescape kat_blob_writer_commit
#cgo nocallback kat_blob_writer_commit
#cgo noescape kat_blob_writer_commit_txn
#cgo nocallback kat_blob_writer_commit_txn
#cgo noescape kat_blob_writer_abort
#cgo nocallback kat_blob_writer_abort
#cgo noescape kat_blob_writer_free
#cgo nocallback kat_blob_writer_free
#cgo noescape kat_blob_reader_open
#cgo nocallback kat_blob_reader_open
#cgo noescape kat_blob_reader_read
#cgo nocallback kat_blob_reader_read
#cgo noescape kat_blob_reader_seek
#cgo nocallback kat_blob_reader_seek
#cgo noescape kat_blob_reader_free
#cgo nocallback kat_blob_reader_free
#cgo noescape kat_txn_bucket_put
#cgo nocallback kat_txn_bucket_put
#cgo noescape kat_txn_bucket_get
#cgo nocallback kat_txn_bucket_get
#cgo noescape kat_txn_bucket_head
#cgo nocallback kat_txn_bucket_head
#cgo noescape kat_txn_bucket_delete
#cgo nocallback kat_txn_bucket_delete
*/
import "C"

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// HeaderVersionNumber is KAT_VERSION_NUMBER of the header this package was compiled
// against (MAJOR*1000000 + MINOR*1000 + PATCH).
const HeaderVersionNumber = uint32(C.KAT_VERSION_NUMBER)

// versionErr is set at start-up when the linked library and the header disagree; Open
// then refuses to run.
var versionErr error

func init() {
	if lib := uint32(C.kat_version_number()); lib != HeaderVersionNumber {
		versionErr = &Error{
			Code: CodeInternal,
			Op:   "open",
			Message: fmt.Sprintf("library version %s (%d) does not match header version %d; rebuild the library or the binding",
				Version(), lib, HeaderVersionNumber),
		}
	}
}

// Version returns the version of the linked library as "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.kat_version()) }

// VersionNumber returns the version of the linked library as
// MAJOR*1000000 + MINOR*1000 + PATCH; it equals HeaderVersionNumber.
func VersionNumber() uint32 { return uint32(C.kat_version_number()) }

// liveHandles counts C handles the binding has created and not yet released. Tests use
// it to prove that finalizers release everything.
var liveHandles atomic.Int64

// bytesPtr returns a pointer to b's first byte for a (pointer, length) argument pair,
// or nil for an empty slice. C never keeps it beyond the call.
func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

// strPtr is bytesPtr for a string.
func strPtr(s string) *C.uint8_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s)))
}

// takeBuf copies a library-owned buffer into Go memory and releases it. A kat_buf
// filled by a successful call always yields a non-nil slice (empty for an empty value).
func takeBuf(buf *C.kat_buf) []byte {
	n := int(buf.len)
	if n == 0 {
		C.kat_buf_free(buf)
		return []byte{}
	}
	// append allocates without zeroing the memory it is about to overwrite.
	out := append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(buf.data)), n)...)
	C.kat_buf_free(buf)
	return out[:n:n]
}

// ttlMillis converts a TTL to the library's milliseconds, rounding a positive
// sub-millisecond TTL up to 1 ms; zero or negative become 0, which the library rejects
// with CodeInvalidArgument.
func ttlMillis(ttl time.Duration) C.uint64_t {
	if ttl <= 0 {
		return 0
	}
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	return C.uint64_t(ms)
}

// expiryTime converts an expiry from the library (ms since the Unix epoch, 0 for none)
// to a time.Time: the zero Time for 0. An expiry past the last millisecond an int64
// holds (a C caller's TTL near UINT64_MAX saturates to it) is clamped to that
// millisecond, some 292 million years from now.
func expiryTime(ms uint64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	if ms > math.MaxInt64 {
		return time.UnixMilli(math.MaxInt64)
	}
	return time.UnixMilli(int64(ms))
}

// statusError converts a status and its optional error object into a Go error and
// frees the object. KAT_OK is nil; KAT_NOT_FOUND is ErrNotFound itself.
func statusError(op string, st C.kat_status, cerr *C.kat_error) error {
	if st == C.KAT_OK {
		if cerr != nil {
			C.kat_error_free(cerr)
		}
		return nil
	}
	msg := ""
	if cerr != nil {
		msg = C.GoString(C.kat_error_message(cerr))
		C.kat_error_free(cerr)
	}
	return makeError(op, Code(st), msg)
}

// makeError is the Go side of statusError: the error for a non-OK code.
func makeError(op string, code Code, msg string) error {
	switch code {
	case CodeOK:
		return nil
	case CodeNotFound:
		if msg == "" {
			return ErrNotFound
		}
	}
	return &Error{Code: code, Op: op, Message: msg}
}
