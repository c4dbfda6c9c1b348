package katamari

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"
)

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	for i, f := range splitFields(string(data)) {
		n, _ := strconv.ParseInt(f, 10, 64)
		switch i {
		case 0:
			size = n
		case 1:
			resident = n
		}
	}
	_ = size
	return resident * int64(os.Getpagesize())
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i, c := range s {
		if c == ' ' || c == '\n' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// drainCleanups runs the GC until every C handle has been released by its cleanup.
func drainCleanups(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for liveHandles.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d C handles still live after GC, want %d", liveHandles.Load(), want)
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// settledHandles runs the GC until the live-handle count stops changing.
func settledHandles() int64 {
	last, same := liveHandles.Load(), 0
	for same < 5 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		if n := liveHandles.Load(); n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
	return last
}

// TestFinalizerStress opens, uses and drops databases and every kind of child handle
// without closing anything, 1,000 times, with GOGC=1. The cleanups must release every
// handle: no crash, the live-handle count returns to its start, no file descriptors
// are leaked (each open DB holds several) and RSS does not grow with the cycles (checked
// without -race; scripts/test-go.sh runs this test once without it).
func TestFinalizerStress(t *testing.T) {
	cycles := 1000
	if testing.Short() {
		cycles = 200
	}
	if n, err := strconv.Atoi(os.Getenv("KATAMARI_STRESS_CYCLES")); err == nil && n > 0 {
		cycles = n
	}
	old := debug.SetGCPercent(1)
	defer debug.SetGCPercent(old)
	root := t.TempDir()
	// Handles other tests dropped are garbage too: let their cleanups run first.
	base := settledHandles()

	cycle := func(i int) {
		db, err := Open(filepath.Join(root, strconv.Itoa(i)), WithSync(SyncNever, 0), WithSegmentSize(64<<10))
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		val := make([]byte, 100)
		for j := 0; j < 20; j++ {
			if err := db.Put([]byte{byte(j)}, val); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Get([]byte{1}); err != nil {
			t.Fatal(err)
		}
		ks, _ := db.Keyspace("ks")
		ks.Put([]byte("k"), val)
		tx, _ := db.Begin(nil)
		tx.Put([]byte("tx"), val) // never committed: the cleanup aborts it
		it, _ := db.Iterator(nil)
		it.Next()
		tit, _ := tx.Iterator(nil)
		tit.Next()
		b := NewBatch()
		b.Put([]byte("b"), val)
		db.Write(b)
		bk, _ := db.Bucket("bk", WithChunkSize(4096))
		bk.Put([]byte("o"), val)
		bw, _ := bk.NewWriter([]byte("up"))
		bw.Write(make([]byte, 5000)) // never committed: the cleanup aborts it
		br, _ := bk.NewReader([]byte("o"))
		br.Read(val[:10])
		// Everything is dropped here without Close.
	}

	for i := 0; i < 100; i++ { // warm-up: allocator and runtime reach steady state
		cycle(i)
	}
	drainCleanups(t, base)
	fds0, rss0 := openFDs(t), rssBytes()
	start := time.Now()
	half := 100 + cycles/2
	for i := 100; i < half; i++ {
		cycle(i)
	}
	drainCleanups(t, base)
	fdsHalf, rssHalf := openFDs(t), rssBytes()
	for i := half; i < 100+cycles; i++ {
		cycle(i)
	}
	drainCleanups(t, base)
	fds1, rss1 := openFDs(t), rssBytes()
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("Go heap in use after the run: %.1f MiB", mib(int64(ms.HeapInuse)))
	t.Logf("%d cycles in %v; fds %d -> %d -> %d; RSS %.1f -> %.1f -> %.1f MiB",
		cycles, time.Since(start).Round(time.Millisecond), fds0, fdsHalf, fds1, mib(rss0), mib(rssHalf), mib(rss1))
	if fds1 > fds0+2 {
		t.Errorf("file descriptors grew from %d to %d", fds0, fds1)
	}
	// The allocator settles during the first half; a leak keeps growing in the second.
	// (Under -race, the detector's metadata grows on its own: RSS is only logged.)
	if growth := rss1 - rssHalf; !raceEnabled && growth > 8<<20 {
		t.Errorf("RSS grew by %.1f MiB over the second %d cycles", mib(growth), cycles-cycles/2)
	}
	// A directory dropped without Close is unlocked once its cleanup ran.
	db, err := Open(filepath.Join(root, "0"))
	if err != nil {
		t.Fatalf("reopening a dropped database: %v", err)
	}
	db.Close()
}
