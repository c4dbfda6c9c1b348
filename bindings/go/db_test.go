package katamari

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	if VersionNumber() != HeaderVersionNumber {
		t.Fatalf("library %d, header %d", VersionNumber(), HeaderVersionNumber)
	}
	v := Version()
	var major, minor, patch uint32
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		t.Fatalf("Version() = %q", v)
	}
	for i, p := range []*uint32{&major, &minor, &patch} {
		for _, c := range parts[i] {
			*p = *p*10 + uint32(c-'0')
		}
	}
	if major*1000000+minor*1000+patch != VersionNumber() {
		t.Fatalf("Version() %q disagrees with VersionNumber() %d", v, VersionNumber())
	}
	if versionErr != nil {
		t.Fatal(versionErr)
	}
}

func TestPutGetDeleteHas(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "a", "1")
	mustGet(t, db.Get, "a", "1")
	if ok, err := db.Has([]byte("a")); err != nil || !ok {
		t.Fatalf("Has(a) = %v, %v", ok, err)
	}
	mustPut(t, db, "a", "2")
	mustGet(t, db.Get, "a", "2")
	if err := db.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, db.Get, "a")
	if ok, err := db.Has([]byte("a")); err != nil || ok {
		t.Fatalf("Has(a) after delete = %v, %v", ok, err)
	}
	if err := db.Delete([]byte("never")); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	// ErrNotFound is returned itself, so == works too.
	if _, err := db.Get([]byte("a")); err != ErrNotFound {
		t.Fatalf("got %v, want ErrNotFound itself", err)
	}
}

func TestEmptyValueAndKey(t *testing.T) {
	db := openTest(t)
	if err := db.Put([]byte("e"), nil); err != nil {
		t.Fatal(err)
	}
	v, err := db.Get([]byte("e"))
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty value) = %#v, %v; want non-nil empty", v, err)
	}
	if err := db.Put([]byte("e2"), []byte{}); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get([]byte("e2")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty value) = %#v, %v", v, err)
	}
	// The empty key is a key like any other.
	if err := db.Put(nil, []byte("empty key")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, db.Get, "", "empty key")
}

func TestBinaryKeysAndValues(t *testing.T) {
	db := openTest(t)
	k := []byte{0, 1, 0, 255, 0}
	v := bytes.Repeat([]byte{0, 0xff, 0x80}, 10000)
	if err := db.Put(k, v); err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(k)
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("binary round trip failed: %v", err)
	}
	// The library copies its inputs: changing the caller's slices changes nothing.
	k2 := []byte("mutate")
	v2 := []byte("before")
	if err := db.Put(k2, v2); err != nil {
		t.Fatal(err)
	}
	copy(v2, "after!")
	mustGet(t, db.Get, "mutate", "before")
	// Returned slices belong to the caller.
	got[0] = 42
	if again, _ := db.Get(k); again[0] != 0 {
		t.Fatal("Get returned shared memory")
	}
}

func TestGetInto(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "k", "hello")
	buf := make([]byte, 16)
	n, err := db.GetInto([]byte("k"), buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("GetInto = %d, %v (%q)", n, err, buf[:n])
	}
	small := []byte("xx")
	n, err = db.GetInto([]byte("k"), small)
	wantCode(t, err, ErrBufferTooSmall, CodeBufferTooSmall)
	if n != 5 || string(small) != "xx" {
		t.Fatalf("too small: needed %d (want 5), buf %q untouched?", n, small)
	}
	n, err = db.GetInto([]byte("k"), nil)
	if !errors.Is(err, ErrBufferTooSmall) || n != 5 {
		t.Fatalf("nil buffer: %d, %v", n, err)
	}
	if _, err := db.GetInto([]byte("missing"), buf); err != ErrNotFound {
		t.Fatalf("missing: %v", err)
	}
	if err := db.Put([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := db.GetInto([]byte("empty"), nil); err != nil || n != 0 {
		t.Fatalf("empty value into nil buffer: %d, %v", n, err)
	}
}

func TestPutTTL(t *testing.T) {
	db := openTest(t)
	if err := db.PutTTL([]byte("short"), []byte("v"), 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := db.PutTTL([]byte("long"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	// A positive sub-millisecond TTL is rounded up, not rejected.
	if err := db.PutTTL([]byte("tiny"), []byte("v"), time.Microsecond); err != nil {
		t.Fatal(err)
	}
	mustGet(t, db.Get, "short", "v")
	time.Sleep(80 * time.Millisecond)
	wantNotFound(t, db.Get, "short")
	wantNotFound(t, db.Get, "tiny")
	mustGet(t, db.Get, "long", "v")
	if ok, _ := db.Has([]byte("short")); ok {
		t.Fatal("expired key is still present")
	}
	wantCode(t, db.PutTTL([]byte("k"), []byte("v"), 0), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, db.PutTTL([]byte("k"), []byte("v"), -time.Second), ErrInvalidArgument, CodeInvalidArgument)
}

// TestExpiresAt reads the absolute expiry of keys written with and without a TTL: the
// zero Time for none, ErrNotFound itself when there is no live value.
func TestExpiresAt(t *testing.T) {
	db := openTest(t)
	before := time.Now().Truncate(time.Millisecond)
	if err := db.PutTTL([]byte("long"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	at, err := db.ExpiresAt([]byte("long"))
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(before.Add(time.Hour)) || at.After(after.Add(time.Hour+time.Millisecond)) {
		t.Fatalf("ExpiresAt(long) = %v, want within [%v, %v]", at, before.Add(time.Hour), after.Add(time.Hour))
	}
	if at.Nanosecond()%int(time.Millisecond) != 0 {
		t.Fatalf("ExpiresAt(long) = %v, not a whole millisecond", at)
	}

	// A plain put, and a plain put over a TTL put: never expires.
	mustPut(t, db, "plain", "v")
	if err := db.PutTTL([]byte("made-plain"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "made-plain", "w")
	for _, k := range []string{"plain", "made-plain"} {
		if at, err := db.ExpiresAt([]byte(k)); err != nil || !at.IsZero() {
			t.Fatalf("ExpiresAt(%q) = %v, %v; want the zero Time", k, at, err)
		}
	}
	// An empty key and an empty value are keys like any other.
	if err := db.PutTTL(nil, nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if at, err := db.ExpiresAt(nil); err != nil || at.IsZero() {
		t.Fatalf("ExpiresAt(empty key) = %v, %v", at, err)
	}

	// No live value: never written, deleted, expired. ErrNotFound is returned itself,
	// as by Get.
	if err := db.PutTTL([]byte("deleted"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete([]byte("deleted")); err != nil {
		t.Fatal(err)
	}
	if err := db.PutTTL([]byte("short"), []byte("v"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	for _, k := range []string{"never-written", "deleted", "short"} {
		if at, err := db.ExpiresAt([]byte(k)); err != ErrNotFound || !at.IsZero() {
			t.Fatalf("ExpiresAt(%q) = %v, %v; want the zero Time, ErrNotFound", k, at, err)
		}
	}

	// A batch's TTL counts from the write; a later TTL put replaces the expiry.
	b := NewBatch()
	defer b.Close()
	if err := b.PutTTL([]byte("batched"), []byte("v"), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	if at, err := db.ExpiresAt([]byte("batched")); err != nil || time.Until(at) < 119*time.Minute || time.Until(at) > 2*time.Hour {
		t.Fatalf("ExpiresAt(batched) = %v, %v", at, err)
	}
	if err := db.PutTTL([]byte("long"), []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if at, err := db.ExpiresAt([]byte("long")); err != nil || time.Until(at) > time.Minute {
		t.Fatalf("ExpiresAt(long) after a shorter TTL = %v, %v", at, err)
	}

	// The expiry survives a reopen.
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if at, err := db2.ExpiresAt([]byte("batched")); err != nil || time.Until(at) < 119*time.Minute {
		t.Fatalf("ExpiresAt(batched) after reopen = %v, %v", at, err)
	}
	if at, err := db2.ExpiresAt([]byte("plain")); err != nil || !at.IsZero() {
		t.Fatalf("ExpiresAt(plain) after reopen = %v, %v", at, err)
	}
}

// TestExpiryTime checks the conversion of the library's milliseconds, including an
// expiry an int64 of milliseconds cannot hold (a C caller's saturated TTL).
func TestExpiryTime(t *testing.T) {
	if at := expiryTime(0); !at.IsZero() {
		t.Fatalf("expiryTime(0) = %v", at)
	}
	if at := expiryTime(1_700_000_000_123); !at.Equal(time.UnixMilli(1_700_000_000_123)) {
		t.Fatalf("expiryTime(1700000000123) = %v", at)
	}
	want := time.UnixMilli(math.MaxInt64)
	for _, ms := range []uint64{math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64} {
		if at := expiryTime(ms); !at.Equal(want) || at.Before(time.Now()) {
			t.Fatalf("expiryTime(%d) = %v, want %v", ms, at, want)
		}
	}
}

func TestReopenPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if db.Path() != dir {
		t.Fatalf("Path() = %q", db.Path())
	}
	mustPut(t, db, "durable", "yes")
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, WithCreateIfMissing(false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustGet(t, db.Get, "durable", "yes")
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	for i, opts := range [][]Option{
		{WithSync(SyncAlways, 0)},
		{WithSync(SyncInterval, 5*time.Millisecond)},
		{WithSync(SyncInterval, time.Microsecond)}, // rounded up to 1 ms
		{WithSync(SyncNever, 0), WithSegmentSize(1024), WithSalvage(true), WithCreateIfMissing(true)},
		{nil},
	} {
		db, err := Open(filepath.Join(dir, string(rune('a'+i))), opts...)
		if err != nil {
			t.Fatalf("options %d: %v", i, err)
		}
		mustPut(t, db, "k", "v")
		mustGet(t, db.Get, "k", "v")
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	bad := map[string][]Option{
		"segment size":  {WithSegmentSize(100)},
		"sync mode":     {WithSync(SyncMode(99), 0)},
		"zero interval": {WithSync(SyncInterval, 0)},
	}
	for name, opts := range bad {
		_, err := Open(filepath.Join(dir, "bad"), opts...)
		wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
		if !strings.Contains(err.Error(), "option") {
			t.Errorf("%s: message %q", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Fatal("a failed Open created the directory")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open("")
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = Open("a\x00b")
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = Open(filepath.Join(dir, "no", "parent"))
	wantCode(t, err, ErrIO, CodeIO)
	_, err = Open(filepath.Join(dir, "missing"), WithCreateIfMissing(false))
	wantCode(t, err, ErrIO, CodeIO)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(file)
	wantCode(t, err, ErrIO, CodeIO)
	var e *Error
	if errors.As(err, &e); e.Op != "open" || e.Message == "" {
		t.Fatalf("error fields: %+v", e)
	}
}

func TestLocked(t *testing.T) {
	db := openTest(t)
	_, err := Open(db.Path())
	wantCode(t, err, ErrLocked, CodeLocked)
	db.Close()
	db2, err := Open(db.Path())
	if err != nil {
		t.Fatalf("reopen after Close: %v", err)
	}
	db2.Close()
}

func TestTooLarge(t *testing.T) {
	db := openTest(t)
	big := make([]byte, 64*1024+1)
	wantCode(t, db.Put(big, []byte("v")), ErrTooLarge, CodeTooLarge)
	wantCode(t, db.PutTTL(big, []byte("v"), time.Second), ErrTooLarge, CodeTooLarge)
	b := NewBatch()
	defer b.Close()
	wantCode(t, b.Put(big, nil), ErrTooLarge, CodeTooLarge)
	if b.Len() != 0 {
		t.Fatal("an oversized put was added to the batch")
	}
	ok := make([]byte, 64*1024)
	if err := db.Put(ok, []byte("max key")); err != nil {
		t.Fatalf("64 KiB key: %v", err)
	}
}

// TestCorruption damages a sealed segment: Open fails with ErrCorruption and changes
// nothing; WithSalvage opens it anyway.
func TestCorruption(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := Open(dir, WithSync(SyncNever, 0), WithSegmentSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if err := db.Put([]byte{byte(i), 'k'}, bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.kseg"))
	if len(segs) < 3 {
		t.Fatalf("expected several segments, got %v", segs)
	}
	first := segs[0]
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 2; i < len(data)/2+16; i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(first, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	wantCode(t, err, ErrCorruption, CodeCorruption)
	db, err = Open(dir, WithSalvage(true))
	if err != nil {
		t.Fatalf("salvage open: %v", err)
	}
	defer db.Close()
	// The newest keys live in later segments and survive.
	mustGet(t, db.Get, string([]byte{199, 'k'}), string(bytes.Repeat([]byte{199}, 100)))
}

func TestStats(t *testing.T) {
	db := openTest(t)
	for i := 0; i < 10; i++ {
		mustPut(t, db, string(rune('a'+i)), "value")
	}
	mustPut(t, db, "a", "overwritten")
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.LiveKeys != 10 || s.Segments < 1 || s.TotalBytes == 0 || s.LiveBytes == 0 ||
		s.LastSeq < 11 || s.KeydirBytes == 0 || s.DeadBytes == 0 {
		t.Fatalf("unexpected stats %+v", s)
	}
}

func TestBatch(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "gone", "x")
	b := NewBatch()
	if err := b.Put([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put([]byte("b"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutTTL([]byte("t"), []byte("3"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete([]byte("gone")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.PutTTL([]byte("t"), []byte("3"), 0), ErrInvalidArgument, CodeInvalidArgument)
	if b.Len() != 4 {
		t.Fatalf("Len = %d", b.Len())
	}
	// Nothing is visible before Write.
	wantNotFound(t, db.Get, "a")
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	mustGet(t, db.Get, "a", "1")
	mustGet(t, db.Get, "b", "2")
	mustGet(t, db.Get, "t", "3")
	wantNotFound(t, db.Get, "gone")
	if b.Len() != 4 {
		t.Fatal("Write changed the batch")
	}
	b.Reset()
	if b.Len() != 0 {
		t.Fatal("Reset left operations")
	}
	if err := db.Write(b); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	// An oversized value in a batch: TooLarge, nothing added.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	wantCode(t, b.Put([]byte("x"), nil), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, b.PutTTL([]byte("x"), nil, time.Second), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, b.Delete([]byte("x")), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, db.Write(b), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, db.Write(nil), ErrInvalidArgument, CodeInvalidArgument)
	if b.Len() != 0 {
		t.Fatal("Len of a closed batch")
	}
	b.Reset() // no-op
}

func TestBatchAtomicOnFailure(t *testing.T) {
	db := openTest(t)
	ks, err := db.Keyspace("ks")
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch()
	defer b.Close()
	if err := b.Put([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutIn(ks, []byte("a"), []byte("ks1")); err != nil {
		t.Fatal(err)
	}
	if err := db.DropKeyspace("ks"); err != nil {
		t.Fatal(err)
	}
	// The batch refers to a dropped keyspace: the whole write fails, nothing lands.
	err = db.Write(b)
	if err == nil {
		t.Fatal("writing into a dropped keyspace succeeded")
	}
	wantNotFound(t, db.Get, "a")
}

func TestCloseIdempotentAndClosedErrors(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "k", "v")
	ks, err := db.Keyspace("ks")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(nil)
	if err != nil {
		t.Fatal(err)
	}
	it, err := db.Iterator(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch()
	defer b.Close()
	b.Put([]byte("x"), []byte("y"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	closed := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	_, err = db.Get([]byte("k"))
	closed("Get", err)
	_, err = db.GetInto([]byte("k"), nil)
	closed("GetInto", err)
	closed("Put", db.Put([]byte("k"), nil))
	closed("PutTTL", db.PutTTL([]byte("k"), nil, time.Second))
	closed("Delete", db.Delete([]byte("k")))
	_, err = db.Has([]byte("k"))
	closed("Has", err)
	_, err = db.ExpiresAt([]byte("k"))
	closed("ExpiresAt", err)
	closed("Write", db.Write(b))
	closed("Sync", db.Sync())
	_, err = db.Stats()
	closed("Stats", err)
	_, err = db.Merge()
	closed("Merge", err)
	_, err = db.Backup(filepath.Join(t.TempDir(), "backup"))
	closed("Backup", err)
	_, err = db.Verify()
	closed("Verify", err)
	_, err = db.Keyspace("x")
	closed("Keyspace", err)
	closed("DropKeyspace", db.DropKeyspace("ks"))
	_, err = db.Keyspaces()
	closed("Keyspaces", err)
	_, err = db.Begin(nil)
	closed("Begin", err)
	_, err = db.Iterator(nil)
	closed("Iterator", err)
	closed("Update", db.Update(func(*Tx) error { return nil }))
	closed("View", db.View(func(*Tx) error { return nil }))
	seq, errf := db.Scan(nil)
	for range seq {
		t.Fatal("Scan yielded after Close")
	}
	closed("Scan", errf())
	for range db.All(nil) {
		t.Fatal("All yielded after Close")
	}

	// Child handles.
	_, err = tx.Get([]byte("k"))
	closed("tx.Get", err)
	closed("tx.Put", tx.Put([]byte("k"), nil))
	_, err = tx.Has([]byte("k"))
	closed("tx.Has", err)
	closed("tx.Commit", tx.Commit())
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after Close: %v", err)
	}
	_, err = ks.Get([]byte("k"))
	closed("ks.Get", err)
	_, err = ks.Has([]byte("k"))
	closed("ks.Has", err)
	_, err = ks.ExpiresAt([]byte("k"))
	closed("ks.ExpiresAt", err)

	closed("ks.Put", ks.Put([]byte("k"), nil))
	if it.Next() {
		t.Fatal("iterator yielded after Close")
	}
	closed("it.Err", it.Err())
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestKeyspaces(t *testing.T) {
	db := openTest(t)
	users, err := db.Keyspace("users")
	if err != nil {
		t.Fatal(err)
	}
	if users.Name() != "users" {
		t.Fatalf("Name() = %q", users.Name())
	}
	orders, err := db.Keyspace("orders")
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k", "default")
	if err := users.Put([]byte("k"), []byte("user")); err != nil {
		t.Fatal(err)
	}
	if err := orders.PutTTL([]byte("k"), []byte("order"), time.Hour); err != nil {
		t.Fatal(err)
	}
	mustGet(t, db.Get, "k", "default")
	mustGet(t, users.Get, "k", "user")
	mustGet(t, orders.Get, "k", "order")
	if ok, err := users.Has([]byte("k")); err != nil || !ok {
		t.Fatalf("Has = %v, %v", ok, err)
	}
	if err := users.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, users.Get, "k")
	if ok, _ := users.Has([]byte("k")); ok {
		t.Fatal("deleted key present")
	}
	mustGet(t, db.Get, "k", "default")
	wantCode(t, users.PutTTL([]byte("k"), nil, 0), ErrInvalidArgument, CodeInvalidArgument)

	// Expiries are per keyspace: "k" has a TTL in orders only.
	if at, err := orders.ExpiresAt([]byte("k")); err != nil || time.Until(at) < 59*time.Minute || time.Until(at) > time.Hour {
		t.Fatalf("orders.ExpiresAt(k) = %v, %v", at, err)
	}
	if at, err := db.ExpiresAt([]byte("k")); err != nil || !at.IsZero() {
		t.Fatalf("ExpiresAt(k) in the default keyspace = %v, %v", at, err)
	}
	if _, err := users.ExpiresAt([]byte("k")); err != ErrNotFound {
		t.Fatalf("users.ExpiresAt(deleted k) = %v, want ErrNotFound", err)
	}
	if err := users.PutTTL([]byte("only-users"), []byte("u"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExpiresAt([]byte("only-users")); err != ErrNotFound {
		t.Fatalf("ExpiresAt(only-users) in the default keyspace = %v, want ErrNotFound", err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := users.ExpiresAt([]byte("only-users")); err != ErrNotFound {
		t.Fatalf("users.ExpiresAt(expired) = %v, want ErrNotFound", err)
	}

	names, err := db.Keyspaces()
	if err != nil || !equalStrings(names, []string{"orders", "users"}) {
		t.Fatalf("Keyspaces() = %q, %v", names, err)
	}
	// A second handle to the same keyspace sees the same data.
	again, err := db.Keyspace("orders")
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, again.Get, "k", "order")
	again.Close()

	if err := db.DropKeyspace("orders"); err != nil {
		t.Fatal(err)
	}
	if err := db.DropKeyspace("orders"); err != ErrNotFound {
		t.Fatalf("second drop: %v", err)
	}
	_, err = orders.Get([]byte("k"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = orders.ExpiresAt([]byte("k"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	names, _ = db.Keyspaces()
	if !equalStrings(names, []string{"users"}) {
		t.Fatalf("after drop: %q", names)
	}
	// Recreated keyspaces start empty.
	orders2, err := db.Keyspace("orders")
	if err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, orders2.Get, "k")

	// Invalid names.
	for _, name := range []string{"", "\x00internal", strings.Repeat("n", 256)} {
		_, err := db.Keyspace(name)
		wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	}
	if _, err := db.Keyspace(strings.Repeat("n", 255)); err != nil {
		t.Fatalf("255-byte name: %v", err)
	}

	// A closed handle.
	if err := users.Close(); err != nil {
		t.Fatal(err)
	}
	users.Close()
	wantCode(t, users.Put([]byte("k"), nil), ErrInvalidArgument, CodeInvalidArgument)
	_, err = users.Iterator(nil)
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = users.ExpiresAt([]byte("k"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
}

func TestKeyspacesEmptyList(t *testing.T) {
	db := openTest(t)
	names, err := db.Keyspaces()
	if err != nil || len(names) != 0 {
		t.Fatalf("Keyspaces() = %q, %v", names, err)
	}
}

func TestKeyspacePersistsAndBatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := Open(dir, WithSync(SyncNever, 0))
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := db.Keyspace("ks")
	b := NewBatch()
	defer b.Close()
	b.PutIn(ks, []byte("a"), []byte("1"))
	b.PutIn(ks, []byte("b"), []byte("2"))
	b.Put([]byte("a"), []byte("default"))
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.DeleteIn(ks, []byte("b"))
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.PutIn(nil, []byte("a"), nil), ErrInvalidArgument, CodeInvalidArgument)
	ks.Close()
	wantCode(t, b.PutIn(ks, []byte("a"), nil), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, b.DeleteIn(ks, []byte("a")), ErrInvalidArgument, CodeInvalidArgument)
	db.Close()

	db, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ks, err = db.Keyspace("ks")
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, ks.Get, "a", "1")
	wantNotFound(t, ks.Get, "b")
	mustGet(t, db.Get, "a", "default")
}

// TestGetValueSizes crosses Get's stack-buffer size in both directions, so both read
// paths and the switch between them are exercised.
func TestGetValueSizes(t *testing.T) {
	db := openTest(t)
	sizes := []int{0, 1, getStackBuf - 1, getStackBuf, getStackBuf + 1, 100, 1 << 20, 3, getStackBuf + 1, getStackBuf, 0}
	for i, n := range sizes {
		v := bytes.Repeat([]byte{byte(i + 1)}, n)
		if err := db.Put([]byte{byte(i)}, v); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 2; round++ {
		for i, n := range sizes {
			got, err := db.Get([]byte{byte(i)})
			if err != nil || len(got) != n || got == nil || (n > 0 && got[n-1] != byte(i+1)) {
				t.Fatalf("value %d (%d bytes): len %d, %v", i, n, len(got), err)
			}
			if cap(got) != n {
				t.Fatalf("value %d: cap %d for %d bytes", i, cap(got), n)
			}
			if _, err := db.Get([]byte("missing")); err != ErrNotFound {
				t.Fatalf("missing after %d bytes: %v", n, err)
			}
		}
	}
}

// TestBatchPutTTLIn writes keyspace TTL puts in a batch: nothing is visible before
// Write, a long TTL is visible after it, a 1 ms TTL is gone shortly after.
func TestBatchPutTTLIn(t *testing.T) {
	db := openTest(t)
	ks, _ := db.Keyspace("ks")
	b := NewBatch()
	defer b.Close()
	if err := b.PutTTLIn(ks, []byte("long"), []byte("l"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.PutTTLIn(ks, []byte("short"), []byte("s"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.PutTTLIn(ks, []byte("k"), nil, 0), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, b.PutTTLIn(ks, []byte("k"), nil, -time.Second), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, b.PutTTLIn(nil, []byte("k"), nil, time.Second), ErrInvalidArgument, CodeInvalidArgument)
	if b.Len() != 2 {
		t.Fatalf("Len = %d", b.Len())
	}
	wantNotFound(t, ks.Get, "long")
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	mustGet(t, ks.Get, "long", "l")
	wantNotFound(t, db.Get, "long") // not in the default keyspace
	wantNotFound(t, ks.Get, "k")
	time.Sleep(20 * time.Millisecond)
	wantNotFound(t, ks.Get, "short")
	if ok, err := ks.Has([]byte("short")); err != nil || ok {
		t.Fatalf("expired key: Has = %v, %v", ok, err)
	}
	mustGet(t, ks.Get, "long", "l")

	ks.Close()
	wantCode(t, b.PutTTLIn(ks, []byte("k"), nil, time.Second), ErrInvalidArgument, CodeInvalidArgument)
	b.Close()
	ks2, _ := db.Keyspace("ks")
	wantCode(t, b.PutTTLIn(ks2, []byte("k"), nil, time.Second), ErrInvalidArgument, CodeInvalidArgument)
}
