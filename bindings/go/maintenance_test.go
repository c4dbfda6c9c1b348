package katamari

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func maintKey(i int) string { return fmt.Sprintf("key-%04d", i) }

func maintValue(i, round int) string {
	return fmt.Sprintf("value-%d-%d-padding-padding", i, round)
}

// churn writes n keys `rounds` times over, then deletes every third key.
func churn(t *testing.T, db *DB, n, rounds int) {
	t.Helper()
	for round := 0; round < rounds; round++ {
		for i := 0; i < n; i++ {
			mustPut(t, db, maintKey(i), maintValue(i, round))
		}
	}
	for i := 0; i < n; i += 3 {
		if err := db.Delete([]byte(maintKey(i))); err != nil {
			t.Fatal(err)
		}
	}
}

// checkChurned checks what churn left: the last round's values, every third key gone.
func checkChurned(t *testing.T, db *DB, n, rounds int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if i%3 == 0 {
			wantNotFound(t, db.Get, maintKey(i))
			continue
		}
		mustGet(t, db.Get, maintKey(i), maintValue(i, rounds-1))
	}
}

// TestMerge: a merge keeps every value, drops deleted and overwritten ones, shrinks the
// data, is counted in Stats, and the merged database reopens with the same contents.
func TestMerge(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	opts := []Option{WithSync(SyncNever, 0), WithSegmentSize(16 << 10), WithAutoMerge(0, 0)}
	db, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	churn(t, db, 500, 5)
	before, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}

	m, err := db.Merge()
	if err != nil {
		t.Fatal(err)
	}
	if m.InputSegments <= 1 || m.OutputSegments < 1 || m.OutputBytes >= m.InputBytes/3 ||
		m.Records != 500-167 || m.Expired != 0 || m.Duration < 0 {
		t.Fatalf("unexpected merge stats %+v", m)
	}
	checkChurned(t, db, 500, 5)
	after, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.TotalBytes >= before.TotalBytes/2 || after.LiveKeys != 500-167 ||
		after.Merges != 1 || after.MergeFailures != 0 || before.Merges != 0 {
		t.Fatalf("stats before %+v, after %+v", before, after)
	}
	// Nothing left to reclaim: a second merge still works.
	if _, err := db.Merge(); err != nil {
		t.Fatalf("second merge: %v", err)
	}
	if st, _ := db.Stats(); st.Merges != 2 {
		t.Fatalf("Merges = %d, want 2", st.Merges)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkChurned(t, db, 500, 5)
}

// TestMergeWhileWriting merges while other goroutines write and read: every write
// lands and every read sees a value.
func TestMergeWhileWriting(t *testing.T) {
	db := openTest(t, WithSegmentSize(16<<10), WithAutoMerge(0, 0))
	churn(t, db, 300, 3)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := []byte(fmt.Sprintf("w%d-%05d", w, i%2000))
				if err := db.Put(k, k); err != nil {
					errs <- err
					return
				}
				if _, err := db.Get([]byte(maintKey(1))); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	for i := 0; i < 3; i++ {
		if _, err := db.Merge(); err != nil {
			t.Fatalf("merge %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkChurned(t, db, 300, 3)
	if r, err := db.Verify(); err != nil || !r.Clean() {
		t.Fatalf("Verify after merging while writing: %+v, %v", r, err)
	}
}

// TestBackup: the copy opens at the commit point it reports, holds nothing written
// after it, and an existing or invalid destination is refused.
func TestBackup(t *testing.T) {
	root := t.TempDir()
	dest := filepath.Join(root, "backup")
	db := openTest(t, WithSegmentSize(16<<10), WithAutoMerge(0, 0))
	churn(t, db, 500, 3)
	if _, err := db.Merge(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "before-backup", "x")
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	info, err := db.Backup(dest)
	if err != nil {
		t.Fatal(err)
	}
	if info.Seq != st.LastSeq || info.Segments < 2 || info.Bytes == 0 || info.Linked > info.Segments {
		t.Fatalf("backup info %+v, stats %+v", info, st)
	}
	// Writes after the backup do not reach the copy.
	mustPut(t, db, "after-backup", "x")
	mustPut(t, db, maintKey(1), "changed after the backup")

	_, err = db.Backup(dest)
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument) // dest exists
	_, err = db.Backup("")
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = db.Backup(filepath.Join(root, "a\x00b"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = db.Backup(filepath.Join(root, "no", "parent"))
	if err == nil {
		t.Fatal("backup into a missing parent directory succeeded")
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "backup" || e.Message == "" {
		t.Fatalf("backup error %#v", err)
	}

	cp, err := Open(dest, WithCreateIfMissing(false))
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer cp.Close()
	checkChurned(t, cp, 500, 3)
	mustGet(t, cp.Get, "before-backup", "x")
	wantNotFound(t, cp.Get, "after-backup")
	cst, err := cp.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if cst.LastSeq != info.Seq || cst.LiveKeys != 500-167+1 {
		t.Fatalf("backup stats %+v, info %+v", cst, info)
	}
	if r, err := cp.Verify(); err != nil || !r.Clean() {
		t.Fatalf("Verify of the backup: %+v, %v", r, err)
	}
	// The source is unchanged by the backup.
	mustGet(t, db.Get, maintKey(1), "changed after the backup")
}

// TestVerify: a clean database verifies clean; a flipped byte in a merged segment is
// reported (segment, offset, reason) and the file is left exactly as it was.
func TestVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	opts := []Option{WithSync(SyncNever, 0), WithSegmentSize(8 << 10), WithAutoMerge(0, 0)}
	db, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	val := func(i, round int) string { return maintValue(i, round) + strings.Repeat("x", 80) }
	for i := 0; i < 300; i++ {
		mustPut(t, db, maintKey(i), val(i, 0))
	}
	if _, err := db.Merge(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		mustPut(t, db, maintKey(i), val(i, 1))
	}
	r, err := db.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() || r.Records != 400 || r.HintsOK < 1 || r.HintsBad != 0 || r.Damaged != 0 ||
		r.Segments < 2 || r.Batches == 0 || r.Bytes == 0 ||
		r.FirstBadSegment != 0 || r.FirstBadOffset != 0 || r.FirstBadReason != "" {
		t.Fatalf("clean report %+v", r)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Damage a value in the middle of a merged segment (header byte 12 is the segment
	// kind; 2 is merged). Open still works through the hint file.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.kseg"))
	var seg string
	var data []byte
	for _, p := range segs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 12 && b[12] == 2 {
			seg, data = p, b
			break
		}
	}
	if seg == "" {
		t.Fatalf("no merged segment (header kind 2) among %v", segs)
	}
	at := len(data) / 2
	data[at] ^= 0x20
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, opts...)
	if err != nil {
		t.Fatalf("open with a damaged merged segment: %v", err)
	}
	defer db.Close()
	r, err = db.Verify()
	if err != nil {
		t.Fatalf("Verify of a damaged database returned an error: %v", err)
	}
	if r.Clean() || r.Damaged != 1 || r.FirstBadReason == "" || r.FirstBadOffset > uint64(at) ||
		r.Records >= 400 {
		t.Fatalf("damaged report %+v (flipped byte %d of %s)", r, at, filepath.Base(seg))
	}
	if want := fmt.Sprintf("%010d", r.FirstBadSegment); !strings.Contains(filepath.Base(seg), want) {
		t.Fatalf("first bad segment %d, but the damaged file is %s", r.FirstBadSegment, filepath.Base(seg))
	}
	after, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, data) {
		t.Fatal("Verify changed the damaged segment")
	}
}

// TestAutoMergeOption: invalid policies fail Open with ErrInvalidArgument (and create
// nothing); a low threshold merges in the background; ratio 0 turns it off.
func TestAutoMergeOption(t *testing.T) {
	dir := t.TempDir()
	for _, ratio := range []float64{1.5, -0.1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := Open(filepath.Join(dir, "bad"), WithAutoMerge(ratio, 0))
		wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
		if !strings.Contains(err.Error(), "option") {
			t.Errorf("ratio %v: message %q", ratio, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Fatal("a failed Open created the directory")
	}
	for i, o := range []Option{WithAutoMerge(0, 0), WithAutoMerge(1, 0), WithAutoMerge(0.5, 64<<20)} {
		db, err := Open(filepath.Join(dir, fmt.Sprint("ok", i)), o)
		if err != nil {
			t.Fatalf("policy %d: %v", i, err)
		}
		db.Close()
	}

	write := func(db *DB) {
		for round := 0; round < 30; round++ {
			for i := 0; i < 200; i++ {
				mustPut(t, db, maintKey(i), maintValue(i, round)+strings.Repeat("x", 80))
			}
		}
	}
	// Thirty copies of every key cross the threshold several times over.
	on := openTest(t, WithSegmentSize(16<<10), WithAutoMerge(0.5, 64<<10))
	write(on)
	deadline := time.Now().Add(60 * time.Second)
	var st Stats
	for {
		var err error
		if st, err = on.Stats(); err != nil {
			t.Fatal(err)
		}
		if st.Merges > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Merges == 0 || st.MergeFailures != 0 {
		t.Fatalf("no automatic merge: %+v", st)
	}
	for i := 0; i < 200; i++ {
		mustGet(t, on.Get, maintKey(i), maintValue(i, 29)+strings.Repeat("x", 80))
	}

	off := openTest(t, WithSegmentSize(16<<10), WithAutoMerge(0, 0))
	write(off)
	time.Sleep(100 * time.Millisecond)
	if st, err := off.Stats(); err != nil || st.Merges != 0 {
		t.Fatalf("auto merge off, yet %+v, %v", st, err)
	}
}

// TestCloseStopsMerge closes the DB while a Merge runs: the merge returns nil (it
// finished first) or ErrClosed (Close stopped it), Close succeeds, and the database
// reopens with every value.
func TestCloseStopsMerge(t *testing.T) {
	for round := 0; round < 3; round++ {
		dir := filepath.Join(t.TempDir(), "db")
		opts := []Option{WithSync(SyncNever, 0), WithSegmentSize(64 << 10), WithAutoMerge(0, 0)}
		db, err := Open(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		b := NewBatch()
		for rr := 0; rr < 3; rr++ {
			for i := 0; i < 20000; i++ {
				b.Put([]byte(maintKey(i)), []byte(maintValue(i, rr)+strings.Repeat("y", 100)))
				if b.Len() == 1000 {
					if err := db.Write(b); err != nil {
						t.Fatal(err)
					}
					b.Reset()
				}
			}
		}
		b.Close()
		done := make(chan error, 1)
		started := time.Now()
		go func() {
			_, err := db.Merge()
			done <- err
		}()
		time.Sleep(time.Duration(round) * 2 * time.Millisecond)
		if err := db.Close(); err != nil {
			t.Fatalf("Close during a merge: %v", err)
		}
		closed := time.Since(started)
		err = <-done
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("Merge stopped by Close returned %v, want nil or ErrClosed", err)
		}
		t.Logf("round %d: merge returned %v; Close returned after %v", round, err, closed)
		if _, err := db.Merge(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Merge after Close: %v", err)
		}

		db, err = Open(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 1, 9999, 19999} {
			mustGet(t, db.Get, maintKey(i), maintValue(i, 2)+strings.Repeat("y", 100))
		}
		if st, _ := db.Stats(); st.LiveKeys != 20000 {
			t.Fatalf("live keys %d after a stopped merge", st.LiveKeys)
		}
		if r, err := db.Verify(); err != nil || !r.Clean() {
			t.Fatalf("Verify after a stopped merge: %+v, %v", r, err)
		}
		db.Close()
	}
}
