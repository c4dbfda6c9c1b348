package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	katamari "github.com/katamari-db/katamari/bindings/go"
)

const sharedDataset = "../../../../tests/vectors/dataset.json"

func datasets(t *testing.T) []string {
	paths := []string{"testdata/dataset_sample.json"}
	if _, err := os.Stat(sharedDataset); err == nil {
		paths = append(paths, sharedDataset)
	} else {
		t.Logf("%s is missing; only the sample dataset is used", sharedDataset)
	}
	return paths
}

func TestWriteThenRead(t *testing.T) {
	for _, path := range datasets(t) {
		ds, err := loadDataset(path)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "db")
		if err := writeDataset(dir, ds); err != nil {
			t.Fatalf("%s: write: %v", path, err)
		}
		writer, err := readDataset(dir, ds)
		if err != nil || writer != "go" {
			t.Fatalf("%s: read: %q, %v", path, writer, err)
		}
		// The writer wants a fresh directory.
		if err := writeDataset(dir, ds); err == nil {
			t.Fatal("writing into a used directory succeeded")
		}
	}
}

func TestReaderDetectsDifferences(t *testing.T) {
	ds, err := loadDataset("testdata/dataset_sample.json")
	if err != nil {
		t.Fatal(err)
	}
	tamper := []struct {
		name string
		do   func(db *katamari.DB) error
		want string
	}{
		{"extra key", func(db *katamari.DB) error { return db.Put([]byte("zzzz"), nil) }, "unexpected key"},
		{"changed value", func(db *katamari.DB) error { return db.Put([]byte("greeting"), []byte("bye")) }, "value of"},
		{"missing key", func(db *katamari.DB) error { return db.Delete([]byte("zzz")) }, "missing"},
		{"extra keyspace", func(db *katamari.DB) error { _, err := db.Keyspace("surprise"); return err }, "keyspaces"},
		{"key in keyspace", func(db *katamari.DB) error {
			ks, err := db.Keyspace("users")
			if err != nil {
				return err
			}
			return ks.Put([]byte("user:9"), nil)
		}, `keyspace "users"`},
	}
	for _, tc := range tamper {
		dir := filepath.Join(t.TempDir(), "db")
		if err := writeDataset(dir, ds); err != nil {
			t.Fatal(err)
		}
		db, err := katamari.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.do(db); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = readDataset(dir, ds)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: reader said %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestRunCommandLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	if err := run([]string{"write", dir, "testdata/dataset_sample.json"}); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"read", dir, "testdata/dataset_sample.json"}); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"bogus"}); err == nil {
		t.Fatal("bad usage accepted")
	}
	if err := run([]string{"read", filepath.Join(t.TempDir(), "none"), "testdata/dataset_sample.json"}); err == nil {
		t.Fatal("reading a missing directory succeeded")
	}
	if _, err := os.Stat(sharedDataset); err == nil {
		// Without a path the dataset is found from the working directory upwards.
		dir2 := filepath.Join(t.TempDir(), "db")
		if err := run([]string{"write", dir2}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadDatasetRejects(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"format":   `{"format": 2, "keyspaces": [], "entries": []}`,
		"unlisted": `{"format": 1, "keyspaces": [], "entries": [{"ks": "x", "key": "k", "value": "v"}]}`,
		"writer":   `{"format": 1, "keyspaces": [], "entries": [{"ks": null, "key": "writer", "value": "v"}]}`,
		"bytes":    `{"format": 1, "keyspaces": [], "entries": [{"ks": null, "key": {"hex": "zz"}, "value": "v"}]}`,
		"unknown":  `{"format": 1, "keyspaces": [], "entries": [], "extra": 1}`,
	} {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := loadDataset(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
