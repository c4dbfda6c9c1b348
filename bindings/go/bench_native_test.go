//go:build katamari_bench

package katamari

import (
	"path/filepath"
	"testing"
	"time"
)

// Run with: go test -tags katamari_bench -run '^$' -bench 'Overhead' -benchmem
//
// Each pair runs the same keys through the Go binding and through a C loop in the
// same process, on the same data, so "go-native" is the binding's cost per call.

// hitKeys returns 65,536 random existing keys of the filled database, concatenated.
func hitKeys(b *testing.B, n uint64) []byte {
	const count = 1 << 16
	keys := make([]byte, 16*count)
	rng := uint64(11)
	for i := 0; i < count; i++ {
		rng = splitmix(rng)
		benchKey(keys[16*i:], 1, rng%n)
	}
	return keys
}

func BenchmarkOverheadGet(b *testing.B) {
	db, n := filledDB(b)
	keys := hitKeys(b, n)
	nk := len(keys) / 16
	// Warm both paths over the whole key set first (page faults of mapped segments).
	if _, err := nativeGet(db, keys, nk); err != nil {
		b.Fatal(err)
	}
	b.Run("native", func(b *testing.B) {
		if _, err := nativeGet(db, keys, b.N); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("go", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			j := i % nk
			if _, err := db.Get(keys[16*j : 16*j+16]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-getinto", func(b *testing.B) {
		buf := make([]byte, 256)
		for i := 0; i < b.N; i++ {
			j := i % nk
			if _, err := db.GetInto(keys[16*j:16*j+16], buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOverheadPut(b *testing.B) {
	b.Run("native", func(b *testing.B) {
		db, err := Open(filepath.Join(b.TempDir(), "db"), WithSync(SyncNever, 0))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ResetTimer()
		if err := nativePut(db, 2, 0, b.N); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("go", func(b *testing.B) {
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
	})
}

// BenchmarkOverheadInterleaved alternates blocks of the same operations through the C
// loop and through the Go binding, so machine load affects both alike; it reports the
// per-call time of each path and their difference (the binding's overhead).
func BenchmarkOverheadInterleaved(b *testing.B) {
	db, n := filledDB(b)
	keys := hitKeys(b, n)
	const block = 2048
	nk := len(keys) / 16
	if _, err := nativeGet(db, keys, nk); err != nil { // warm the mapped segments
		b.Fatal(err)
	}
	put, err := Open(filepath.Join(b.TempDir(), "put"), WithSync(SyncNever, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer put.Close()
	buf := make([]byte, 256)
	k := make([]byte, 16)
	v := make([]byte, benchValueLen)
	var tNative, tGet, tInto, tPutNative, tPutGo time.Duration
	var ops, putOps int
	next := uint64(0)
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		off := (done / block * block) % nk
		if off+block > nk {
			off = 0
		}
		blk := keys[16*off : 16*(off+block)]

		t0 := time.Now()
		if _, err := nativeGet(db, blk, block); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for j := 0; j < block; j++ {
			if _, err := db.Get(blk[16*j : 16*j+16]); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		for j := 0; j < block; j++ {
			if _, err := db.GetInto(blk[16*j:16*j+16], buf); err != nil {
				b.Fatal(err)
			}
		}
		t3 := time.Now()
		tNative += t1.Sub(t0)
		tGet += t2.Sub(t1)
		tInto += t3.Sub(t2)
		ops += block

		// Puts: fresh keys for both paths (same key function, disjoint ranges).
		const pblock = 256
		t4 := time.Now()
		if err := nativePut(put, 2, next, pblock); err != nil {
			b.Fatal(err)
		}
		t5 := time.Now()
		for j := 0; j < pblock; j++ {
			benchKey(k, 2, next+pblock+uint64(j))
			if err := put.Put(k, v); err != nil {
				b.Fatal(err)
			}
		}
		t6 := time.Now()
		next += 2 * pblock
		tPutNative += t5.Sub(t4)
		tPutGo += t6.Sub(t5)
		putOps += pblock
	}
	per := func(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }
	b.ReportMetric(per(tNative, ops), "get-native-ns")
	b.ReportMetric(per(tGet, ops), "get-go-ns")
	b.ReportMetric(per(tInto, ops), "getinto-go-ns")
	b.ReportMetric(per(tGet-tNative, ops), "get-overhead-ns")
	b.ReportMetric(per(tPutNative, putOps), "put-native-ns")
	b.ReportMetric(per(tPutGo, putOps), "put-go-ns")
	b.ReportMetric(per(tPutGo-tPutNative, putOps), "put-overhead-ns")
}

// BenchmarkOverheadScan scans the whole filled database natively and through the Go
// iterator, alternately; ns/entry of each path is reported.
func BenchmarkOverheadScan(b *testing.B) {
	db, _ := filledDB(b)
	var tNative, tGo time.Duration
	var entries int
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		n, err := nativeScan(db)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		it, err := db.Iterator(nil)
		if err != nil {
			b.Fatal(err)
		}
		m := 0
		for it.Next() {
			m++
		}
		it.Close()
		t2 := time.Now()
		if m != n || it.Err() != nil {
			b.Fatalf("native saw %d entries, Go %d (%v)", n, m, it.Err())
		}
		tNative += t1.Sub(t0)
		tGo += t2.Sub(t1)
		entries += n
	}
	b.ReportMetric(float64(tNative.Nanoseconds())/float64(entries), "native-ns/entry")
	b.ReportMetric(float64(tGo.Nanoseconds())/float64(entries), "go-ns/entry")
}
