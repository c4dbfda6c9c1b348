package main

import (
	"path/filepath"
	"strings"
	"testing"

	katamari "github.com/katamari-db/katamari/bindings/go"
)

func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, err := katamari.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Put([]byte("c:greeting"), []byte("hello from C"))
	db.Put([]byte("node:bin"), []byte{0, 1, 2})
	db.Close()
	for i := 0; i < 2; i++ {
		if err := run(dir); err != nil {
			t.Fatal(err)
		}
	}
	db, err = katamari.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Get([]byte("go:runs")); err != nil || string(v) != "2" {
		t.Fatalf("go:runs = %q, %v", v, err)
	}
	if v, _ := db.Get([]byte("go:greeting")); string(v) != "hello from Go" {
		t.Fatalf("go:greeting = %q", v)
	}
	// A directory held by another open handle is reported clearly.
	if err := run(dir); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("locked: %v", err)
	}
}

func TestShow(t *testing.T) {
	for in, want := range map[string]string{
		"text":                     `"text"`,
		"\x00\x01":                 "<2 bytes: 0001>",
		strings.Repeat("\x00", 20): "<20 bytes: 00000000000000000000000000000000...>",
	} {
		if got := show([]byte(in)); got != want {
			t.Errorf("show(%q) = %s, want %s", in, got, want)
		}
	}
}
