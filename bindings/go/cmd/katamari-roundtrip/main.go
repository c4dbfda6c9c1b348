// Command katamari-roundtrip is the Go side of the cross-language round trip
// (tests/vectors/README.md, scripts/roundtrip.sh):
//
//	katamari-roundtrip write <dir> [dataset.json]   writes the dataset plus "writer" = "go"
//	katamari-roundtrip read  <dir> [dataset.json]   checks a directory written by any language
//
// The dataset defaults to tests/vectors/dataset.json, looked up from the current
// directory upwards. The reader checks that the keyspace list and every keyspace's full
// scan equal the dataset exactly (the default keyspace also holds "writer") and prints
// "go reader: ok (written by <language>)".
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	katamari "github.com/katamari-db/katamari/bindings/go"
)

// byteString is a dataset byte field: a JSON string (its UTF-8 bytes) or
// {"hex": "00ff", "repeat": N}.
type byteString []byte

func (b *byteString) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*b = []byte(s)
		return nil
	}
	var o struct {
		Hex    *string `json:"hex"`
		Repeat *int    `json:"repeat"`
	}
	if err := json.Unmarshal(data, &o); err != nil || o.Hex == nil {
		return fmt.Errorf("bytes must be a string or {\"hex\": ..., \"repeat\"?: N}: %.80s", data)
	}
	raw, err := hex.DecodeString(*o.Hex)
	if err != nil {
		return err
	}
	n := 1
	if o.Repeat != nil {
		if *o.Repeat < 0 {
			return errors.New("negative repeat")
		}
		n = *o.Repeat
	}
	*b = bytes.Repeat(raw, n)
	return nil
}

type dataset struct {
	Format    int      `json:"format"`
	Keyspaces []string `json:"keyspaces"`
	Entries   []struct {
		KS    *string    `json:"ks"`
		Key   byteString `json:"key"`
		Value byteString `json:"value"`
	} `json:"entries"`
}

const writerKey = "writer"

func loadDataset(path string) (*dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ds dataset
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ds); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if ds.Format != 1 {
		return nil, fmt.Errorf("%s: format %d, this tool knows format 1", path, ds.Format)
	}
	for _, e := range ds.Entries {
		if e.KS != nil && !slices.Contains(ds.Keyspaces, *e.KS) {
			return nil, fmt.Errorf("%s: entry in unlisted keyspace %q", path, *e.KS)
		}
		if e.KS == nil && string(e.Key) == writerKey {
			return nil, fmt.Errorf("%s: the dataset itself uses the key %q", path, writerKey)
		}
	}
	return &ds, nil
}

// findDataset looks for tests/vectors/dataset.json from the current directory upwards.
func findDataset() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "tests", "vectors", "dataset.json")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("tests/vectors/dataset.json not found here or above; give its path")
		}
		dir = parent
	}
}

// kv is one expected or found entry.
type kv struct{ key, value []byte }

// expected returns the dataset's entries per keyspace ("" is the default), sorted by key.
func (ds *dataset) expected(writer string) map[string][]kv {
	m := map[string][]kv{"": {{[]byte(writerKey), []byte(writer)}}}
	for _, name := range ds.Keyspaces {
		m[name] = nil
	}
	for _, e := range ds.Entries {
		name := ""
		if e.KS != nil {
			name = *e.KS
		}
		m[name] = append(m[name], kv{e.Key, e.Value})
	}
	for _, list := range m {
		slices.SortFunc(list, func(a, b kv) int { return bytes.Compare(a.key, b.key) })
	}
	return m
}

// writeDataset writes ds into a fresh directory dir, in one atomic batch.
func writeDataset(dir string, ds *dataset) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty; the writer needs a fresh directory", dir)
	}
	db, err := katamari.Open(dir)
	if err != nil {
		return err
	}
	defer db.Close()
	handles := map[string]*katamari.Keyspace{}
	for _, name := range ds.Keyspaces {
		ks, err := db.Keyspace(name)
		if err != nil {
			return err
		}
		defer ks.Close()
		handles[name] = ks
	}
	b := katamari.NewBatch()
	defer b.Close()
	for _, e := range ds.Entries {
		if e.KS == nil {
			err = b.Put(e.Key, e.Value)
		} else {
			err = b.PutIn(handles[*e.KS], e.Key, e.Value)
		}
		if err != nil {
			return err
		}
	}
	if err := b.Put([]byte(writerKey), []byte("go")); err != nil {
		return err
	}
	if err := db.Write(b); err != nil {
		return err
	}
	return db.Close()
}

// readDataset checks dir against ds and returns the writer's language.
func readDataset(dir string, ds *dataset) (string, error) {
	db, err := katamari.Open(dir, katamari.WithCreateIfMissing(false))
	if err != nil {
		return "", err
	}
	defer db.Close()
	writer, err := db.Get([]byte(writerKey))
	if err != nil {
		return "", fmt.Errorf("reading %q: %w", writerKey, err)
	}
	names, err := db.Keyspaces()
	if err != nil {
		return "", err
	}
	want := slices.Clone(ds.Keyspaces)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		return "", fmt.Errorf("keyspaces %q, want %q", names, want)
	}
	var problems []string
	for name, entries := range ds.expected(string(writer)) {
		var seq func(func([]byte, []byte) bool)
		var errf func() error
		if name == "" {
			seq, errf = db.Scan(nil)
		} else {
			ks, err := db.Keyspace(name)
			if err != nil {
				return "", err
			}
			defer ks.Close()
			seq, errf = ks.Scan(nil)
		}
		var got []kv
		for k, v := range seq {
			got = append(got, kv{k, v})
		}
		if err := errf(); err != nil {
			return "", fmt.Errorf("scanning keyspace %q: %w", name, err)
		}
		if msg := diff(got, entries); msg != "" {
			label := "the default keyspace"
			if name != "" {
				label = fmt.Sprintf("keyspace %q", name)
			}
			problems = append(problems, label+": "+msg)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return "", errors.New(strings.Join(problems, "; "))
	}
	return string(writer), db.Close()
}

func short(b []byte) string {
	if len(b) > 24 {
		return fmt.Sprintf("%q... (%d bytes)", b[:24], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func diff(got, want []kv) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("missing %s (and %d more)", short(want[i].key), len(want)-i-1)
		case i >= len(want):
			return fmt.Sprintf("unexpected key %s", short(got[i].key))
		case !bytes.Equal(got[i].key, want[i].key):
			return fmt.Sprintf("entry %d is key %s, want %s", i, short(got[i].key), short(want[i].key))
		case !bytes.Equal(got[i].value, want[i].value):
			return fmt.Sprintf("value of %s is %s, want %s", short(got[i].key), short(got[i].value), short(want[i].value))
		}
	}
	return ""
}

func run(args []string) error {
	if len(args) < 2 || len(args) > 3 || (args[0] != "write" && args[0] != "read") {
		return errors.New("usage: katamari-roundtrip write|read <dir> [dataset.json]")
	}
	path := ""
	if len(args) == 3 {
		path = args[2]
	} else {
		p, err := findDataset()
		if err != nil {
			return err
		}
		path = p
	}
	ds, err := loadDataset(path)
	if err != nil {
		return err
	}
	if args[0] == "write" {
		if err := writeDataset(args[1], ds); err != nil {
			return err
		}
		fmt.Printf("go writer: wrote %d entries in %d keyspaces to %s\n", len(ds.Entries), len(ds.Keyspaces), args[1])
		return nil
	}
	writer, err := readDataset(args[1], ds)
	if err != nil {
		return err
	}
	fmt.Printf("go reader: ok (written by %s)\n", writer)
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "roundtrip (go):", err)
		os.Exit(1)
	}
}
