package katamari

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMain points TMPDIR at one directory removed at the end, so examples (which use
// os.MkdirTemp like a program would) leave nothing behind.
func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "katamari-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", root)
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

// openTest opens a fresh database in a temporary directory (SyncNever unless opts say
// otherwise, for speed) and closes it when the test ends.
func openTest(t testing.TB, opts ...Option) *DB {
	t.Helper()
	all := append([]Option{WithSync(SyncNever, 0)}, opts...)
	db, err := Open(filepath.Join(t.TempDir(), "db"), all...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustPut(t testing.TB, db *DB, k, v string) {
	t.Helper()
	if err := db.Put([]byte(k), []byte(v)); err != nil {
		t.Fatalf("Put(%q): %v", k, err)
	}
}

func mustGet(t testing.TB, get func([]byte) ([]byte, error), k, want string) {
	t.Helper()
	got, err := get([]byte(k))
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	if !bytes.Equal(got, []byte(want)) {
		t.Fatalf("Get(%q) = %q, want %q", k, got, want)
	}
}

func wantNotFound(t testing.TB, get func([]byte) ([]byte, error), k string) {
	t.Helper()
	v, err := get([]byte(k))
	if !errors.Is(err, ErrNotFound) || v != nil {
		t.Fatalf("Get(%q) = %q, %v; want nil, ErrNotFound", k, v, err)
	}
}

// wantCode fails unless err is an *Error with the given code and matches its sentinel.
func wantCode(t testing.TB, err error, sentinel error, code Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v", code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *katamari.Error", err, err)
	}
	if e.Code != code || !errors.Is(err, sentinel) {
		t.Fatalf("error %v has code %d (%v), want %d (%v)", err, e.Code, e.Code, code, code)
	}
}

// collect drains an iterator into "k=v" strings.
func collect(t testing.TB, it *Iterator) []string {
	t.Helper()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterator: %v", err)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
