package katamari

/*
#include "katamari_go.h"
*/
import "C"

import "time"

// SyncMode says when commits reach stable storage.
type SyncMode uint32

const (
	// SyncAlways: a write returns after its data is on stable storage (fdatasync);
	// concurrent committers share one sync. The default.
	SyncAlways SyncMode = C.KAT_SYNC_ALWAYS
	// SyncInterval: a background thread syncs every interval; a power loss may lose
	// that interval.
	SyncInterval SyncMode = C.KAT_SYNC_INTERVAL
	// SyncNever: only segment rotation, Sync and Close sync; a power loss may lose
	// recent writes.
	SyncNever SyncMode = C.KAT_SYNC_NEVER
)

// Option configures Open.
type Option func(*options)

type options struct {
	sync            *SyncMode
	interval        time.Duration
	segmentSize     *uint64
	salvage         *bool
	createIfMissing *bool
	autoMerge       *autoMerge
}

type autoMerge struct {
	deadRatio    float64
	minDeadBytes uint64
}

// WithSync sets the sync mode; interval (positive; rounded up to whole milliseconds)
// is used only with SyncInterval.
func WithSync(mode SyncMode, interval time.Duration) Option {
	return func(o *options) { o.sync, o.interval = &mode, interval }
}

// WithSegmentSize sets the size in bytes at which the active log segment is sealed (at
// least 1024; default 128 MiB).
func WithSegmentSize(bytes uint64) Option {
	return func(o *options) { o.segmentSize = &bytes }
}

// WithSalvage opens a damaged database anyway, skipping damaged batches. Without it
// (the default) damage other than a torn tail makes Open fail with ErrCorruption.
func WithSalvage(on bool) Option {
	return func(o *options) { o.salvage = &on }
}

// WithAutoMerge sets the automatic merge policy: after the active segment fills up, a
// background merge starts when unreachable bytes make up at least deadRatio (0 to 1) of
// all segment bytes and amount to at least minDeadBytes. The default is 0.5 and 256 MiB.
// A deadRatio of 0 turns automatic merging off (DB.Merge still works); a ratio above 1,
// below 0 or NaN makes Open fail with ErrInvalidArgument.
func WithAutoMerge(deadRatio float64, minDeadBytes uint64) Option {
	return func(o *options) { o.autoMerge = &autoMerge{deadRatio, minDeadBytes} }
}

// WithCreateIfMissing sets whether Open creates a missing directory (default true; its
// parent must exist).
func WithCreateIfMissing(on bool) Option {
	return func(o *options) { o.createIfMissing = &on }
}

// newCOptions builds kat_options from opts; the caller frees them.
func newCOptions(opts []Option) (*C.kat_options, error) {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	var co *C.kat_options
	if st := C.kat_options_new(&co); st != C.KAT_OK {
		return nil, statusError("open", st, nil)
	}
	fail := func(st C.kat_status, what string) (*C.kat_options, error) {
		C.kat_options_free(co)
		return nil, &Error{Code: Code(st), Op: "open", Message: "invalid option: " + what}
	}
	if o.sync != nil {
		ms := uint64(ttlMillis(o.interval)) // rounds up; <= 0 gives 0, rejected for SyncInterval
		if ms > uint64(^uint32(0)) {
			ms = uint64(^uint32(0))
		}
		if st := C.kat_options_set_sync(co, C.kat_sync(*o.sync), C.uint32_t(ms)); st != C.KAT_OK {
			return fail(st, "sync mode or interval")
		}
	}
	if o.segmentSize != nil {
		if st := C.kat_options_set_segment_size(co, C.uint64_t(*o.segmentSize)); st != C.KAT_OK {
			return fail(st, "segment size")
		}
	}
	if o.salvage != nil {
		if st := C.kat_options_set_salvage(co, C.bool(*o.salvage)); st != C.KAT_OK {
			return fail(st, "salvage")
		}
	}
	if o.autoMerge != nil {
		st := C.kat_options_set_auto_merge(co, C.double(o.autoMerge.deadRatio), C.uint64_t(o.autoMerge.minDeadBytes))
		if st != C.KAT_OK {
			return fail(st, "auto merge dead ratio (0 to 1)")
		}
	}
	if o.createIfMissing != nil {
		if st := C.kat_options_set_create_if_missing(co, C.bool(*o.createIfMissing)); st != C.KAT_OK {
			return fail(st, "create if missing")
		}
	}
	return co, nil
}
