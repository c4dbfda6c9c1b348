package katamari

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

func fillLetters(t *testing.T, db *DB) {
	t.Helper()
	for _, k := range []string{"a", "b:1", "b:2", "b:3", "c", "d:1", "d:2"} {
		mustPut(t, db, k, "v"+k)
	}
}

func iterKeys(t *testing.T, db *DB, opts *IterOptions) []string {
	t.Helper()
	it, err := db.Iterator(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key()))
		if !bytes.Equal(it.Value(), []byte("v"+string(it.Key()))) {
			t.Fatalf("value of %q is %q", it.Key(), it.Value())
		}
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	return out
}

func TestIteratorPrefixRangeReverse(t *testing.T) {
	db := openTest(t)
	fillLetters(t, db)
	cases := []struct {
		name string
		opts *IterOptions
		want string
	}{
		{"all", nil, "a b:1 b:2 b:3 c d:1 d:2"},
		{"zero opts", &IterOptions{}, "a b:1 b:2 b:3 c d:1 d:2"},
		{"prefix", &IterOptions{Prefix: []byte("b:")}, "b:1 b:2 b:3"},
		{"prefix reverse", &IterOptions{Prefix: []byte("b:"), Reverse: true}, "b:3 b:2 b:1"},
		{"prefix none", &IterOptions{Prefix: []byte("zz")}, ""},
		{"range", &IterOptions{Start: []byte("b:2"), End: []byte("d:1")}, "b:2 b:3 c"},
		{"range reverse", &IterOptions{Start: []byte("b:2"), End: []byte("d:1"), Reverse: true}, "c b:3 b:2"},
		{"start only", &IterOptions{Start: []byte("c")}, "c d:1 d:2"},
		{"end only", &IterOptions{End: []byte("b:2")}, "a b:1"},
		{"reverse", &IterOptions{Reverse: true}, "d:2 d:1 c b:3 b:2 b:1 a"},
		{"prefix and range", &IterOptions{Prefix: []byte("b:"), Start: []byte("b:2")}, "b:2 b:3"},
		{"empty bounds are unset", &IterOptions{Prefix: []byte{}, Start: []byte{}, End: []byte{}}, "a b:1 b:2 b:3 c d:1 d:2"},
	}
	for _, c := range cases {
		got := fmt.Sprint(iterKeys(t, db, c.opts))
		if got != "["+c.want+"]" {
			t.Errorf("%s: got %s, want [%s]", c.name, got, c.want)
		}
	}
}

func TestIteratorSeekPrev(t *testing.T) {
	db := openTest(t)
	fillLetters(t, db)
	it, err := db.Iterator(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Key() != nil || it.Value() != nil {
		t.Fatal("current entry before Next")
	}
	if it.Prev() {
		t.Fatal("Prev before the first entry")
	}
	it.Seek([]byte("b:2"))
	if !it.Next() || string(it.Key()) != "b:2" {
		t.Fatalf("after Seek(b:2): %q", it.Key())
	}
	if !it.Next() || string(it.Key()) != "b:3" {
		t.Fatalf("Next: %q", it.Key())
	}
	if !it.Prev() || string(it.Key()) != "b:2" {
		t.Fatalf("Prev: %q", it.Key())
	}
	if !it.Prev() || string(it.Key()) != "b:1" {
		t.Fatalf("Prev: %q", it.Key())
	}
	if !it.Next() || string(it.Key()) != "b:2" {
		t.Fatalf("Next after Prev: %q", it.Key())
	}
	it.Seek([]byte("bz")) // between keys
	if !it.Next() || string(it.Key()) != "c" {
		t.Fatalf("after Seek(bz): %q", it.Key())
	}
	it.Seek([]byte("zzz"))
	if it.Next() {
		t.Fatal("Next after seeking past the end")
	}
	if !it.Prev() || string(it.Key()) != "d:2" {
		t.Fatalf("Prev after the end: %q", it.Key())
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}

	rev, _ := db.Iterator(&IterOptions{Reverse: true})
	defer rev.Close()
	rev.Seek([]byte("c0"))
	if !rev.Next() || string(rev.Key()) != "c" {
		t.Fatalf("reverse Seek(c0): %q", rev.Key())
	}
	if !rev.Next() || string(rev.Key()) != "b:3" {
		t.Fatalf("reverse Next: %q", rev.Key())
	}
	if !rev.Prev() || string(rev.Key()) != "c" {
		t.Fatalf("reverse Prev: %q", rev.Key())
	}
}

func TestIteratorSnapshotAndRetainedSlices(t *testing.T) {
	db := openTest(t)
	for i := 0; i < 3000; i++ {
		mustPut(t, db, fmt.Sprintf("k%05d", i), fmt.Sprintf("v%d", i))
	}
	it, err := db.Iterator(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	// Writes after creation are invisible to it.
	mustPut(t, db, "k00000x", "new")
	db.Delete([]byte("k00001"))
	var keys, vals [][]byte
	for it.Next() {
		keys = append(keys, it.Key())
		vals = append(vals, it.Value())
	}
	if it.Err() != nil || len(keys) != 3000 {
		t.Fatalf("saw %d keys, err %v", len(keys), it.Err())
	}
	// Kept slices still hold their entries after many batches.
	for i := range keys {
		if string(keys[i]) != fmt.Sprintf("k%05d", i) || string(vals[i]) != fmt.Sprintf("v%d", i) {
			t.Fatalf("entry %d is %q=%q", i, keys[i], vals[i])
		}
	}
	// Appending to a returned key must not clobber the neighbouring value.
	k := append(keys[0], 'X')
	_ = k
	if string(vals[0]) != "v0" {
		t.Fatal("append to a key overwrote its value")
	}
	if it.Next() || it.Next() {
		t.Fatal("Next after the end")
	}
}

func TestIteratorEmptyValues(t *testing.T) {
	db := openTest(t)
	db.Put([]byte("a"), nil)
	it, _ := db.Iterator(nil)
	defer it.Close()
	if !it.Next() || it.Value() == nil || len(it.Value()) != 0 {
		t.Fatalf("empty value: %#v", it.Value())
	}
}

func TestIteratorClose(t *testing.T) {
	db := openTest(t)
	fillLetters(t, db)
	it, _ := db.Iterator(nil)
	it.Next()
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if it.Next() || it.Key() != nil {
		t.Fatal("Next after Close")
	}
	wantCode(t, it.Err(), ErrInvalidArgument, CodeInvalidArgument)

	it2, _ := db.Iterator(nil)
	it2.Close()
	if it2.Prev() {
		t.Fatal("Prev after Close")
	}
	wantCode(t, it2.Err(), ErrInvalidArgument, CodeInvalidArgument)
	it3, _ := db.Iterator(nil)
	it3.Close()
	it3.Seek([]byte("a"))
	wantCode(t, it3.Err(), ErrInvalidArgument, CodeInvalidArgument)
	it3.Seek([]byte("a")) // a stopped iterator stays stopped
	if it3.Prev() || it3.Next() {
		t.Fatal("stopped iterator moved")
	}
}

func TestIteratorAfterDBClose(t *testing.T) {
	db := openTest(t)
	fillLetters(t, db)
	it, _ := db.Iterator(nil)
	defer it.Close()
	it2, _ := db.Iterator(nil)
	defer it2.Close()
	it3, _ := db.Iterator(nil)
	defer it3.Close()
	it.Next()
	db.Close()
	if it.Next() {
		t.Fatal("Next after DB.Close")
	}
	wantCode(t, it.Err(), ErrClosed, CodeClosed)
	if it2.Prev() {
		t.Fatal("Prev after DB.Close")
	}
	wantCode(t, it2.Err(), ErrClosed, CodeClosed)
	it3.Seek([]byte("a"))
	wantCode(t, it3.Err(), ErrClosed, CodeClosed)
}

func TestIteratorInvalidOptions(t *testing.T) {
	db := openTest(t)
	// An inverted range is simply empty.
	if got := iterKeys(t, db, &IterOptions{Start: []byte("z"), End: []byte("a")}); len(got) != 0 {
		t.Fatalf("inverted range: %q", got)
	}
}

func TestAllAndScan(t *testing.T) {
	db := openTest(t)
	fillLetters(t, db)
	var got []string
	for k, v := range db.All(&IterOptions{Prefix: []byte("d:")}) {
		got = append(got, string(k)+"="+string(v))
	}
	if !equalStrings(got, []string{"d:1=vd:1", "d:2=vd:2"}) {
		t.Fatalf("All: %q", got)
	}
	// Breaking out early closes the iterator (no handle leaks).
	before := liveHandles.Load()
	seq, errf := db.Scan(nil)
	n := 0
	for range seq {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 || errf() != nil {
		t.Fatalf("Scan: %d, %v", n, errf())
	}
	if liveHandles.Load() != before {
		t.Fatalf("breaking out of Scan leaked a handle (%d -> %d)", before, liveHandles.Load())
	}
	// Each range over a sequence takes a fresh snapshot.
	seq, errf = db.Scan(&IterOptions{Prefix: []byte("b:")})
	count := func() int {
		c := 0
		for range seq {
			c++
		}
		return c
	}
	if count() != 3 {
		t.Fatal("first range")
	}
	mustPut(t, db, "b:4", "vb:4")
	if count() != 4 || errf() != nil {
		t.Fatal("second range did not see the new key")
	}
	// Iterator.All continues from the iterator's position.
	it, _ := db.Iterator(nil)
	defer it.Close()
	it.Next()
	got = got[:0]
	for k := range it.All() {
		got = append(got, string(k))
		if len(got) == 2 {
			break
		}
	}
	if !equalStrings(got, []string{"b:1", "b:2"}) || it.Err() != nil {
		t.Fatalf("Iterator.All: %q", got)
	}
}

// iterModel mirrors the documented cursor semantics of kat_iter_next/prev/seek over a
// fixed list of keys in iteration order.
type iterModel struct {
	keys    []string
	reverse bool
	from    int // index the next Next returns
	cur     int // current index, -1 for none
	drained bool
}

func (m *iterModel) next() (string, bool) {
	if m.from < len(m.keys) {
		m.cur = m.from
		m.from++
		return m.keys[m.cur], true
	}
	m.cur, m.drained = -1, true
	return "", false
}

func (m *iterModel) prev() (string, bool) {
	switch {
	case m.cur > 0:
		m.cur--
	case m.cur == 0:
		m.cur, m.from, m.drained = -1, 0, false
		return "", false
	case m.drained && len(m.keys) > 0:
		m.cur = len(m.keys) - 1
	case m.drained:
		m.from, m.drained = 0, false
		return "", false
	default:
		return "", false
	}
	m.from, m.drained = m.cur+1, false
	return m.keys[m.cur], true
}

func (m *iterModel) seek(k string) {
	m.from = sort.Search(len(m.keys), func(i int) bool {
		if m.reverse {
			return m.keys[i] <= k
		}
		return m.keys[i] >= k
	})
	m.cur, m.drained = -1, false
}

// TestIteratorModel drives random Next/Prev/Seek sequences over thousands of keys, so
// batches of every size (and the byte cap) are crossed in both directions, and checks
// each step against the model.
func TestIteratorModel(t *testing.T) {
	db := openTest(t)
	const n = 2500
	var keys []string
	b := NewBatch()
	defer b.Close()
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key%05d", i*2)
		keys = append(keys, k)
		v := bytes.Repeat([]byte{byte(i)}, i%7*20)
		b.Put([]byte(k), v)
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	old := iterMaxBytes
	defer func() { iterMaxBytes = old }()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 40; round++ {
		iterMaxBytes = []int{old, 3000, 100}[round%3]
		reverse := round%2 == 1
		m := &iterModel{cur: -1, reverse: reverse}
		lo, hi := rng.IntN(n), rng.IntN(n)
		if lo > hi {
			lo, hi = hi, lo
		}
		opts := &IterOptions{Reverse: reverse}
		sel := keys
		if round%4 >= 2 {
			opts.Start, opts.End = []byte(keys[lo]), []byte(keys[hi])
			sel = keys[lo:hi]
		}
		m.keys = append([]string(nil), sel...)
		if reverse {
			for i, j := 0, len(m.keys)-1; i < j; i, j = i+1, j-1 {
				m.keys[i], m.keys[j] = m.keys[j], m.keys[i]
			}
		}
		it, err := db.Iterator(opts)
		if err != nil {
			t.Fatal(err)
		}
		for step := 0; step < 3000; step++ {
			var op string
			var wantK string
			var wantOK, gotOK bool
			switch r := rng.IntN(100); {
			case r < 70:
				op = "next"
				wantK, wantOK = m.next()
				gotOK = it.Next()
			case r < 97:
				op = "prev"
				wantK, wantOK = m.prev()
				gotOK = it.Prev()
			default:
				k := fmt.Sprintf("key%05d", rng.IntN(2*n+2))
				op = "seek " + k
				m.seek(k)
				it.Seek([]byte(k))
				continue
			}
			if it.Err() != nil {
				t.Fatalf("round %d step %d %s: %v", round, step, op, it.Err())
			}
			if gotOK != wantOK || (gotOK && string(it.Key()) != wantK) {
				t.Fatalf("round %d (reverse %v, maxBytes %d) step %d %s: got %v %q, want %v %q",
					round, reverse, iterMaxBytes, step, op, gotOK, it.Key(), wantOK, wantK)
			}
			if gotOK {
				idx := sort.SearchStrings(keys, wantK)
				if len(it.Value()) != idx%7*20 {
					t.Fatalf("value of %s has length %d", wantK, len(it.Value()))
				}
			}
		}
		it.Close()
	}
}

func TestKeyspaceIterators(t *testing.T) {
	db := openTest(t)
	ks, _ := db.Keyspace("ks")
	mustPut(t, db, "x:default", "d")
	for _, k := range []string{"x:1", "x:2", "y:1"} {
		if err := ks.Put([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	it, err := ks.Iterator(&IterOptions{Prefix: []byte("x:")})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if got := collect(t, it); !equalStrings(got, []string{"x:1=vx:1", "x:2=vx:2"}) {
		t.Fatalf("keyspace iterator: %q", got)
	}
	var got []string
	for k := range ks.All(&IterOptions{Reverse: true}) {
		got = append(got, string(k))
	}
	if !equalStrings(got, []string{"y:1", "x:2", "x:1"}) {
		t.Fatalf("keyspace All: %q", got)
	}
	seq, errf := ks.Scan(nil)
	n := 0
	for range seq {
		n++
	}
	if n != 3 || errf() != nil {
		t.Fatalf("keyspace Scan: %d, %v", n, errf())
	}
	db.Close()
	_, err = ks.Iterator(nil)
	wantCode(t, err, ErrClosed, CodeClosed)
	seq, errf = ks.Scan(nil)
	for range seq {
		t.Fatal("yielded after close")
	}
	wantCode(t, errf(), ErrClosed, CodeClosed)
}

// TestIteratorDecodeMalformed feeds decode buffers that break the kat_iter_next_batch
// encoding: each must be an internal error, never a panic or a wrong entry.
func TestIteratorDecodeMalformed(t *testing.T) {
	it := &Iterator{}
	good := []byte{1, 0, 0, 0, 2, 0, 0, 0, 'k', 'v', 'w'}
	if err := it.decode(good, 1); err != nil || string(it.buf[0].key) != "k" || string(it.buf[0].value) != "vw" {
		t.Fatalf("good batch: %v", err)
	}
	for name, c := range map[string]struct {
		data  []byte
		count int
	}{
		"short header":  {good[:5], 1},
		"short payload": {good[:10], 1},
		"trailing":      {append(append([]byte{}, good...), 0), 1},
		"count too big": {good, 2},
		"count zero":    {nil, 0},
		"huge length":   {[]byte{255, 255, 255, 255, 255, 255, 255, 255}, 1},
	} {
		if err := it.decode(c.data, c.count); !errors.Is(err, ErrInternal) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestIteratorPrevBounds steps back and forth across batch boundaries, at both ends of
// prefix and range bounds, in reverse, and in a transaction's iterator.
func TestIteratorPrevBounds(t *testing.T) {
	db := openTest(t)
	key := func(i int) string { return fmt.Sprintf("k%05d", i) }
	for i := 0; i < 100; i++ {
		mustPut(t, db, key(i), fmt.Sprintf("v%d", i))
	}
	want := func(it *Iterator, op string, ok bool, k string) {
		t.Helper()
		if it.Err() != nil {
			t.Fatalf("%s: %v", op, it.Err())
		}
		if !ok {
			if k != "" || it.Key() != nil {
				t.Fatalf("%s: got %v %q, want %q", op, ok, it.Key(), k)
			}
			return
		}
		var i int
		fmt.Sscanf(k, "k%d", &i)
		if string(it.Key()) != k || string(it.Value()) != fmt.Sprintf("v%d", i) {
			t.Fatalf("%s: got %q=%q, want %q", op, it.Key(), it.Value(), k)
		}
	}
	open := func(o *IterOptions) *Iterator {
		it, err := db.Iterator(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { it.Close() })
		return it
	}

	// Across the first batch boundary (16 entries) and back over it.
	it := open(nil)
	want(it, "prev at the start", it.Prev(), "")
	want(it, "next after prev at the start", it.Next(), key(0))
	for i := 1; i < 30; i++ {
		want(it, "next", it.Next(), key(i))
	}
	for i := 28; i >= 0; i-- {
		want(it, "prev", it.Prev(), key(i))
	}
	want(it, "prev before the first", it.Prev(), "")
	want(it, "next", it.Next(), key(0))
	// At the first entry of a batch: the C cursor is a whole batch ahead.
	for i := 1; i < 17; i++ {
		want(it, "next", it.Next(), key(i))
	}
	want(it, "prev from a batch's first entry", it.Prev(), key(15))
	want(it, "next after prev", it.Next(), key(16))
	want(it, "next after prev", it.Next(), key(17))
	for i := 18; i < 100; i++ {
		want(it, "next", it.Next(), key(i))
	}
	want(it, "next at the end", it.Next(), "")
	want(it, "prev after the end", it.Prev(), key(99))
	want(it, "prev", it.Prev(), key(98))
	want(it, "next", it.Next(), key(99))

	// Reverse: Prev goes up in key order.
	rev := open(&IterOptions{Reverse: true})
	want(rev, "reverse prev at the start", rev.Prev(), "")
	for i := 99; i >= 60; i-- {
		want(rev, "reverse next", rev.Next(), key(i))
	}
	want(rev, "reverse prev", rev.Prev(), key(61))
	want(rev, "reverse prev", rev.Prev(), key(62))
	want(rev, "reverse next", rev.Next(), key(61))
	for i := 60; i >= 0; i-- {
		want(rev, "reverse next", rev.Next(), key(i))
	}
	want(rev, "reverse next at the end", rev.Next(), "")
	want(rev, "reverse prev after the end", rev.Prev(), key(0))
	want(rev, "reverse prev", rev.Prev(), key(1))

	// A prefix (k0001x) and a range [k00020, k00060).
	pre := open(&IterOptions{Prefix: []byte("k0001")})
	want(pre, "prefix next", pre.Next(), key(10))
	want(pre, "prefix prev at its start", pre.Prev(), "")
	for i := 10; i < 20; i++ {
		want(pre, "prefix next", pre.Next(), key(i))
	}
	want(pre, "prefix next at its end", pre.Next(), "")
	want(pre, "prefix prev after its end", pre.Prev(), key(19))
	rng := open(&IterOptions{Start: []byte(key(20)), End: []byte(key(60))})
	for i := 20; i < 60; i++ {
		want(rng, "range next", rng.Next(), key(i))
	}
	want(rng, "range next at its end", rng.Next(), "")
	for i := 59; i >= 20; i-- {
		want(rng, "range prev", rng.Prev(), key(i))
	}
	want(rng, "range prev at its start", rng.Prev(), "")
	want(rng, "range next", rng.Next(), key(20))

	// A transaction's iterator, with its own writes.
	tx, err := db.Begin(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.Put([]byte(key(5)+"x"), []byte("mine")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete([]byte(key(3))); err != nil {
		t.Fatal(err)
	}
	tit, err := tx.Iterator(&IterOptions{End: []byte(key(40))})
	if err != nil {
		t.Fatal(err)
	}
	defer tit.Close()
	var keys []string
	for i := 0; i < 40; i++ {
		if i != 3 {
			keys = append(keys, key(i))
		}
		if i == 5 {
			keys = append(keys, key(5)+"x")
		}
	}
	for _, k := range keys {
		if !tit.Next() || string(tit.Key()) != k {
			t.Fatalf("tx next: %q, want %q", tit.Key(), k)
		}
	}
	if tit.Next() {
		t.Fatalf("tx next at the end: %q", tit.Key())
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if !tit.Prev() || string(tit.Key()) != keys[i] {
			t.Fatalf("tx prev: %q, want %q", tit.Key(), keys[i])
		}
		if keys[i] == key(5)+"x" && string(tit.Value()) != "mine" {
			t.Fatalf("tx prev value: %q", tit.Value())
		}
	}
	if tit.Prev() || tit.Err() != nil {
		t.Fatalf("tx prev at the start: %q %v", tit.Key(), tit.Err())
	}
	if !tit.Next() || string(tit.Key()) != key(0) {
		t.Fatalf("tx next after prev: %q", tit.Key())
	}
}
