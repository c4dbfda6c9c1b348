package katamari

/*
#include "katamari_go.h"
*/
import "C"

import (
	"bytes"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

// MergeStats is what a Merge did.
type MergeStats struct {
	InputSegments  uint64        // segments merged away
	InputBytes     uint64        // their total size in bytes
	OutputSegments uint64        // merged segments written
	OutputBytes    uint64        // their total size in bytes
	Records        uint64        // records copied
	Expired        uint64        // expired values dropped
	Duration       time.Duration // wall time (millisecond resolution)
}

// BackupInfo is what a Backup copied.
type BackupInfo struct {
	Seq      uint64 // the copy holds exactly the commits up to this sequence number
	Segments uint64 // segment files in the copy
	Bytes    uint64 // their total size in bytes
	Linked   uint64 // files hard-linked rather than copied
}

// VerifyReport is what Verify found. Damage is reported here, not as an error.
type VerifyReport struct {
	Segments uint64 // segments checked
	Batches  uint64 // batches whose every checksum matched
	Records  uint64 // records in them
	Bytes    uint64 // bytes checked
	HintsOK  uint64 // hint files that matched their segment
	HintsBad uint64 // hint files that did not (open ignores them and scans the segment)
	Damaged  uint64 // batches or segment headers that failed a check

	// When Damaged is not 0: the segment number (its file is named after it, as
	// %010d.kseg), the byte offset in it and the reason of the first damage (cut to
	// 127 bytes by the library). Otherwise 0, 0 and "".
	FirstBadSegment uint64
	FirstBadOffset  uint64
	FirstBadReason  string
}

// Clean reports whether everything checked out: no damaged batch or segment header
// and no hint file that disagrees with its segment.
func (r VerifyReport) Clean() bool { return r.Damaged == 0 && r.HintsBad == 0 }

// Merge compacts the database now: it seals the active segment, rewrites the live data
// of every other segment into merged segments (with hint files, so the next Open reads
// no values) and removes the old ones. Overwritten versions, deleted keys and expired
// values are dropped; versions a live transaction or iterator can see are kept. Reads
// and writes from other goroutines continue meanwhile; one merge runs at a time. A
// crash at any point leaves the same contents. Close stops a merge in flight, which
// then returns ErrClosed.
func (db *DB) Merge() (MergeStats, error) {
	db.merges.Add(1) // before reading db.closed: see stopMerges
	defer db.merges.Add(-1)
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil || db.closed.Load() {
		return MergeStats{}, closedError("merge")
	}
	var m C.kat_merge_stats
	var cerr *C.kat_error
	st := C.kat_db_merge(db.h, &m, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("merge", st, cerr); err != nil {
		return MergeStats{}, err
	}
	return MergeStats{
		InputSegments:  uint64(m.input_segments),
		InputBytes:     uint64(m.input_bytes),
		OutputSegments: uint64(m.output_segments),
		OutputBytes:    uint64(m.output_bytes),
		Records:        uint64(m.records),
		Expired:        uint64(m.expired),
		Duration:       time.Duration(m.millis) * time.Millisecond,
	}, nil
}

// Backup writes a consistent copy of the database into the directory dest, which must
// not exist yet (its parent must; an existing dest is ErrInvalidArgument): every commit
// up to the moment of the call and nothing after, while reads and writes continue
// (merges wait). Sealed segments are hard-linked where the file system allows. The
// copy opens with Open like any database, at the commit point BackupInfo.Seq.
func (db *DB) Backup(dest string) (BackupInfo, error) {
	if strings.IndexByte(dest, 0) >= 0 {
		return BackupInfo{}, invalidError("backup", "path contains a NUL byte")
	}
	cdest := C.CString(dest)
	defer C.free(unsafe.Pointer(cdest))
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return BackupInfo{}, closedError("backup")
	}
	var b C.kat_backup_info
	var cerr *C.kat_error
	st := C.kat_db_backup(db.h, cdest, &b, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("backup", st, cerr); err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{
		Seq:      uint64(b.seq),
		Segments: uint64(b.segments),
		Bytes:    uint64(b.bytes),
		Linked:   uint64(b.linked),
	}, nil
}

// Verify reads every record of every segment and checks every checksum, and every hint
// file against its segment, changing nothing. Damage is reported in the VerifyReport
// (see Clean), not as an error: a nil error means the check ran.
func (db *DB) Verify() (VerifyReport, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return VerifyReport{}, closedError("verify")
	}
	var r C.kat_verify_report
	var cerr *C.kat_error
	st := C.kat_db_verify(db.h, &r, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("verify", st, cerr); err != nil {
		return VerifyReport{}, err
	}
	// The reason is NUL-terminated; read no further than the array in any case.
	reason := unsafe.Slice((*byte)(unsafe.Pointer(&r.first_bad_reason[0])), len(r.first_bad_reason))
	if i := bytes.IndexByte(reason, 0); i >= 0 {
		reason = reason[:i]
	}
	return VerifyReport{
		Segments:        uint64(r.segments),
		Batches:         uint64(r.batches),
		Records:         uint64(r.records),
		Bytes:           uint64(r.bytes),
		HintsOK:         uint64(r.hints_ok),
		HintsBad:        uint64(r.hints_bad),
		Damaged:         uint64(r.damaged),
		FirstBadSegment: uint64(r.first_bad_segment),
		FirstBadOffset:  uint64(r.first_bad_offset),
		FirstBadReason:  string(reason),
	}, nil
}
