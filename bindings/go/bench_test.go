package katamari

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Benchmarks of the same operations as the Rust benchmark (benches/engine.rs, run with
// `cargo bench --bench engine`): 16-byte random keys, 100-byte values, SyncNever for
// puts, random hits over a filled database for gets. KATAMARI_BENCH_KEYS sets the fill
// size (default 1,000,000 like the Rust benchmark). The difference to the Rust figures
// is the cost of the binding: cgo crossings, copies into Go memory, locks.
//
//	go test -run '^$' -bench . -benchmem

const benchValueLen = 100

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// benchKey writes the i-th key of a seeded sequence into k (16 bytes).
func benchKey(k []byte, seed, i uint64) {
	binary.LittleEndian.PutUint64(k, splitmix(seed^splitmix(i)))
	binary.LittleEndian.PutUint64(k[8:], splitmix(seed+i))
}

var fill struct {
	once sync.Once
	db   *DB
	n    uint64
	err  error
}

// filledDB returns a database holding n random keys, shared by the read benchmarks.
func filledDB(b *testing.B) (*DB, uint64) {
	fill.once.Do(func() {
		n := uint64(1_000_000)
		if v, err := strconv.ParseUint(os.Getenv("KATAMARI_BENCH_KEYS"), 10, 64); err == nil && v > 0 {
			n = v
		}
		dir, err := os.MkdirTemp("", "katamari-bench-")
		if err != nil {
			fill.err = err
			return
		}
		db, err := Open(filepath.Join(dir, "db"), WithSync(SyncNever, 0))
		if err != nil {
			fill.err = err
			return
		}
		batch := NewBatch()
		defer batch.Close()
		k := make([]byte, 16)
		v := make([]byte, benchValueLen)
		for i := uint64(0); i < n; i++ {
			benchKey(k, 1, i)
			batch.Put(k, v)
			if batch.Len() == 1000 || i == n-1 {
				if fill.err = db.Write(batch); fill.err != nil {
					return
				}
				batch.Reset()
			}
		}
		fill.db, fill.n = db, n
	})
	if fill.err != nil {
		b.Fatal(fill.err)
	}
	return fill.db, fill.n
}

// BenchmarkCgoCall is one call across the boundary that does no work: the floor of
// every operation's binding overhead.
func BenchmarkCgoCall(b *testing.B) {
	for i := 0; i < b.N; i++ {
		VersionNumber()
	}
}

func BenchmarkGet(b *testing.B) {
	db, n := filledDB(b)
	k := make([]byte, 16)
	rng := uint64(7)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rng = splitmix(rng)
		benchKey(k, 1, rng%n)
		v, err := db.Get(k)
		if err != nil || len(v) != benchValueLen {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetInto(b *testing.B) {
	db, n := filledDB(b)
	k := make([]byte, 16)
	buf := make([]byte, 256)
	rng := uint64(7)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rng = splitmix(rng)
		benchKey(k, 1, rng%n)
		if m, err := db.GetInto(k, buf); err != nil || m != benchValueLen {
			b.Fatal(err)
		}
	}
}

func BenchmarkHas(b *testing.B) {
	db, n := filledDB(b)
	k := make([]byte, 16)
	rng := uint64(7)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rng = splitmix(rng)
		benchKey(k, 1, rng%n)
		if ok, err := db.Has(k); err != nil || !ok {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	db, n := filledDB(b)
	var seed uint64
	var mu sync.Mutex
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		seed++
		rng := seed
		mu.Unlock()
		k := make([]byte, 16)
		for pb.Next() {
			rng = splitmix(rng)
			benchKey(k, 1, rng%n)
			if _, err := db.Get(k); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPut(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "db"), WithSync(SyncNever, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	k := make([]byte, 16)
	v := make([]byte, benchValueLen)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchKey(k, 2, uint64(i))
		if err := db.Put(k, v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatchPut1000 writes batches of 1000 puts; ns/op is per batch, ns/key per put.
func BenchmarkBatchPut1000(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "db"), WithSync(SyncNever, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	batch := NewBatch()
	defer batch.Close()
	k := make([]byte, 16)
	v := make([]byte, benchValueLen)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch.Reset()
		for j := 0; j < 1000; j++ {
			benchKey(k, 3, uint64(i*1000+j))
			batch.Put(k, v)
		}
		if err := db.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/key")
}

// BenchmarkScan iterates over the filled database; ns/op is per entry.
func BenchmarkScan(b *testing.B) {
	db, _ := filledDB(b)
	b.ResetTimer()
	var it *Iterator
	for i := 0; i < b.N; i++ {
		if it == nil || !it.Next() {
			if it != nil {
				it.Close()
			}
			var err error
			if it, err = db.Iterator(nil); err != nil {
				b.Fatal(err)
			}
			it.Next()
		}
		_ = it.Value()
	}
	b.StopTimer()
	it.Close()
}
