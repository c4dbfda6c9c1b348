package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
)

// The workloads of issue 8, the same for every store: 16-byte random keys, 100-byte
// values, a database of BENCH_KEYS keys (default 1,000,000) for reads and scans.
//
//	go test -run '^$' -bench . -benchtime 2s      (in bindings/go/bench)
//
// RandomGet       one random hit per op, copied out of the store
// BatchedPut      1,000 fresh keys per op in one atomic batch, no fsync; ns/key reported
// DurablePut      one fresh key per op, fsync before returning
// PrefixScan      all entries under a random 1-byte prefix (~1/256 of the keys) per op;
//                 ns/entry reported

const valueLen = 100

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func key(seed, i uint64) []byte {
	k := make([]byte, 16)
	binary.LittleEndian.PutUint64(k, splitmix(seed^splitmix(i)))
	binary.LittleEndian.PutUint64(k[8:], splitmix(seed+i))
	return k
}

func numKeys() uint64 {
	if v, err := strconv.ParseUint(os.Getenv("BENCH_KEYS"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

var filled = map[string]*struct {
	once sync.Once
	s    store
}{}

func init() {
	for _, st := range stores {
		filled[st.name] = &struct {
			once sync.Once
			s    store
		}{}
	}
}

var benchRoot = func() string {
	dir, err := os.MkdirTemp("", "katamari-peers-")
	must(err)
	return dir
}()

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range filled {
		if f.s != nil {
			f.s.close()
		}
	}
	os.RemoveAll(benchRoot)
	os.Exit(code)
}

// filledStore returns the named store holding numKeys() keys, filled once in batches.
func filledStore(b *testing.B, name string, open opener) store {
	f := filled[name]
	f.once.Do(func() {
		dir, err := os.MkdirTemp(benchRoot, name+"-")
		must(err)
		s, err := open(dir, false)
		must(err)
		n := numKeys()
		val := bytes.Repeat([]byte{0xab}, valueLen)
		keys, vals := make([][]byte, 0, 10000), make([][]byte, 0, 10000)
		for i := uint64(0); i < n; i++ {
			keys, vals = append(keys, key(1, i)), append(vals, val)
			if len(keys) == cap(keys) || i == n-1 {
				must(s.putBatch(keys, vals, false))
				keys, vals = keys[:0], vals[:0]
			}
		}
		must(s.settle())
		f.s = s
	})
	if f.s == nil {
		b.Fatal("fill failed")
	}
	return f.s
}

func BenchmarkRandomGet(b *testing.B) {
	n := numKeys()
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := filledStore(b, st.name, st.open)
			keys := make([][]byte, 1<<16)
			rng := uint64(5)
			for i := range keys {
				rng = splitmix(rng)
				keys[i] = key(1, rng%n)
			}
			for _, k := range keys { // warm-up pass
				_, _ = s.get(k)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v, err := s.get(keys[i&(len(keys)-1)])
				if err != nil || len(v) != valueLen {
					b.Fatalf("get: %d bytes, %v", len(v), err)
				}
			}
		})
	}
}

func freshStore(b *testing.B, st struct {
	name string
	open opener
}, durable bool) store {
	s, err := st.open(b.TempDir(), durable)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.close() })
	return s
}

func BenchmarkBatchedPut(b *testing.B) {
	val := bytes.Repeat([]byte{0xcd}, valueLen)
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := freshStore(b, st, false)
			keys, vals := make([][]byte, 1000), make([][]byte, 1000)
			next := uint64(0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for j := range keys {
					keys[j], vals[j] = key(2, next), val
					next++
				}
				b.StartTimer()
				if err := s.putBatch(keys, vals, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/key")
		})
	}
}

func BenchmarkDurablePut(b *testing.B) {
	val := bytes.Repeat([]byte{0xef}, valueLen)
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := freshStore(b, st, true)
			k := [][]byte{nil}
			v := [][]byte{val}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k[0] = key(3, uint64(i))
				if err := s.putBatch(k, v, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPrefixScan(b *testing.B) {
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := filledStore(b, st.name, st.open)
			entries := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := []byte{byte(splitmix(uint64(i)))}
				if err := s.scanPrefix(p, func(k, v []byte) {
					if len(v) != valueLen {
						panic(fmt.Sprintf("value of %x has %d bytes", k, len(v)))
					}
					entries++
				}); err != nil {
					b.Fatal(err)
				}
			}
			if entries > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(entries), "ns/entry")
			}
		})
	}
}

// TestStoresAgree runs each workload once on a small database and checks that every
// store returns the same results, so the benchmarks compare equal work.
func TestStoresAgree(t *testing.T) {
	var results []string
	for _, st := range stores {
		s, err := st.open(t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		var keys, vals [][]byte
		for i := uint64(0); i < 2000; i++ {
			keys, vals = append(keys, key(1, i)), append(vals, key(9, i))
		}
		if err := s.putBatch(keys, vals, false); err != nil {
			t.Fatal(err)
		}
		if err := s.putBatch(keys[:1], [][]byte{[]byte("durable")}, true); err != nil {
			t.Fatal(err)
		}
		var sum bytes.Buffer
		v, err := s.get(keys[0])
		fmt.Fprintf(&sum, "%s %v|", v, err)
		v, err = s.get(keys[1])
		fmt.Fprintf(&sum, "%x %v|", v, err)
		_, err = s.get([]byte("missing"))
		fmt.Fprintf(&sum, "%v|", err != nil)
		s.scanPrefix([]byte{0x42}, func(k, v []byte) { fmt.Fprintf(&sum, "%x=%x,", k, v) })
		s.close()
		results = append(results, sum.String())
	}
	for i := 1; i < len(results); i++ {
		if results[i] != results[0] {
			t.Errorf("%s disagrees with %s:\n%s\n%s", stores[i].name, stores[0].name, results[i], results[0])
		}
	}
}
