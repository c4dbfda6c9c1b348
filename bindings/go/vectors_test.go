package katamari

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The cross-language test vectors (tests/vectors/README.md): every case runs against a
// fresh directory through this binding, and every status is compared by its C name.
// Keyspace handles are opened (creating the keyspace) on first use of a name and
// forgotten on drop_keyspace and reopen, as in the C runner.

const sharedVectors = "../../tests/vectors/kv.json"

// vecBytes is a byte string in a vector: a JSON string (its UTF-8 bytes) or
// {"hex": "00ff", "repeat": N}.
type vecBytes []byte

func (b *vecBytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*b = []byte(s)
		return nil
	}
	var o struct {
		Hex    *string `json:"hex"`
		Repeat *int    `json:"repeat"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil || o.Hex == nil {
		return fmt.Errorf("bytes must be a string or {\"hex\": ..., \"repeat\"?: N}: %s", data)
	}
	raw, err := hex.DecodeString(*o.Hex)
	if err != nil {
		return err
	}
	n := 1
	if o.Repeat != nil {
		if *o.Repeat < 0 {
			return fmt.Errorf("negative repeat in %s", data)
		}
		n = *o.Repeat
	}
	*b = bytes.Repeat(raw, n)
	return nil
}

type vecOp struct {
	Op    string    `json:"op"`
	Key   *vecBytes `json:"key"`
	Value *vecBytes `json:"value"`
	KS    *string   `json:"ks"`
}

type vecStep struct {
	Op           string        `json:"op"`
	Key          *vecBytes     `json:"key"`
	Value        *vecBytes     `json:"value"`
	KS           *string       `json:"ks"`
	Status       string        `json:"status"`
	Found        *bool         `json:"found"`
	Ops          []vecOp       `json:"ops"`
	Txn          *string       `json:"txn"`
	ReadOnly     bool          `json:"read_only"`
	Serializable bool          `json:"serializable"`
	Prefix       *vecBytes     `json:"prefix"`
	Start        *vecBytes     `json:"start"`
	End          *vecBytes     `json:"end"`
	Reverse      bool          `json:"reverse"`
	Entries      *[][]vecBytes `json:"entries"`
}

type vecCase struct {
	Name    string `json:"name"`
	Options *struct {
		SegmentSize *uint64 `json:"segment_size"`
	} `json:"options"`
	Steps []vecStep `json:"steps"`
}

type vecFile struct {
	Format int       `json:"format"`
	Cases  []vecCase `json:"cases"`
}

func loadVectors(t *testing.T, path string) vecFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f vecFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if f.Format != 1 {
		t.Fatalf("%s: format %d, this runner knows format 1", path, f.Format)
	}
	if len(f.Cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return f
}

// vecRunner holds the state of one case.
type vecRunner struct {
	t    *testing.T
	dir  string
	opts []Option
	db   *DB
	ks   map[string]*Keyspace
	txns map[string]*Tx
}

func (r *vecRunner) keyspace(name *string) (*Keyspace, error) {
	if name == nil {
		return nil, nil
	}
	if ks, ok := r.ks[*name]; ok {
		return ks, nil
	}
	ks, err := r.db.Keyspace(*name)
	if err != nil {
		return nil, err
	}
	r.ks[*name] = ks
	return ks, nil
}

func (r *vecRunner) txn(s vecStep) (*Tx, error) {
	if s.Txn == nil {
		return nil, fmt.Errorf("%s needs a txn", s.Op)
	}
	tx, ok := r.txns[*s.Txn]
	if !ok {
		return nil, fmt.Errorf("unknown txn %q", *s.Txn)
	}
	return tx, nil
}

func need(b *vecBytes, what, op string) ([]byte, error) {
	if b == nil {
		return nil, fmt.Errorf("%s needs %s", op, what)
	}
	return []byte(*b), nil
}

func optBytes(b *vecBytes) []byte {
	if b == nil {
		return nil
	}
	return []byte(*b)
}

// step runs one step; a Go error (not a status) means the vector is malformed.
func (r *vecRunner) step(s vecStep) error {
	want := s.Status
	if want == "" {
		want = "KAT_OK"
	}
	check := func(err error) error {
		if got := codeName(err); got != want {
			return fmt.Errorf("status %s (%v), want %s", got, err, want)
		}
		return nil
	}
	checkValue := func(v []byte, err error) error {
		if e := check(err); e != nil || err != nil {
			return e
		}
		if s.Value == nil {
			return fmt.Errorf("%s expects KAT_OK but gives no value", s.Op)
		}
		if !bytes.Equal(v, *s.Value) {
			return fmt.Errorf("value %q, want %q", v, []byte(*s.Value))
		}
		return nil
	}
	switch s.Op {
	case "put", "get", "delete", "contains":
		key, err := need(s.Key, "key", s.Op)
		if err != nil {
			return err
		}
		ks, err := r.keyspace(s.KS)
		if err != nil {
			return check(err)
		}
		switch s.Op {
		case "put":
			val, err := need(s.Value, "value", s.Op)
			if err != nil {
				return err
			}
			if ks != nil {
				return check(ks.Put(key, val))
			}
			return check(r.db.Put(key, val))
		case "get":
			if ks != nil {
				return checkValue(ks.Get(key))
			}
			return checkValue(r.db.Get(key))
		case "delete":
			if ks != nil {
				return check(ks.Delete(key))
			}
			return check(r.db.Delete(key))
		default:
			var found bool
			if ks != nil {
				found, err = ks.Has(key)
			} else {
				found, err = r.db.Has(key)
			}
			if e := check(err); e != nil || err != nil {
				return e
			}
			if s.Found == nil {
				return errors.New("contains needs found")
			}
			if found != *s.Found {
				return fmt.Errorf("found %v, want %v", found, *s.Found)
			}
			return nil
		}
	case "batch":
		b := NewBatch()
		defer b.Close()
		for _, o := range s.Ops {
			key, err := need(o.Key, "key", "batch "+o.Op)
			if err != nil {
				return err
			}
			ks, err := r.keyspace(o.KS)
			if err != nil {
				return check(err)
			}
			switch o.Op {
			case "put":
				val, err := need(o.Value, "value", "batch put")
				if err != nil {
					return err
				}
				if ks != nil {
					err = b.PutIn(ks, key, val)
				} else {
					err = b.Put(key, val)
				}
				if err != nil {
					return check(err)
				}
			case "delete":
				if ks != nil {
					err = b.DeleteIn(ks, key)
				} else {
					err = b.Delete(key)
				}
				if err != nil {
					return check(err)
				}
			default:
				return fmt.Errorf("unknown batch op %q", o.Op)
			}
		}
		return check(r.db.Write(b))
	case "begin":
		if s.Txn == nil {
			return errors.New("begin needs txn")
		}
		if _, dup := r.txns[*s.Txn]; dup {
			return fmt.Errorf("txn %q already open", *s.Txn)
		}
		tx, err := r.db.Begin(&TxOptions{ReadOnly: s.ReadOnly, Serializable: s.Serializable})
		if err == nil {
			r.txns[*s.Txn] = tx
		}
		return check(err)
	case "txn_put", "txn_get", "txn_delete":
		tx, err := r.txn(s)
		if err != nil {
			return err
		}
		key, err := need(s.Key, "key", s.Op)
		if err != nil {
			return err
		}
		ks, err := r.keyspace(s.KS)
		if err != nil {
			return check(err)
		}
		switch s.Op {
		case "txn_put":
			val, err := need(s.Value, "value", s.Op)
			if err != nil {
				return err
			}
			if ks != nil {
				return check(tx.PutIn(ks, key, val))
			}
			return check(tx.Put(key, val))
		case "txn_get":
			if ks != nil {
				return checkValue(tx.GetIn(ks, key))
			}
			return checkValue(tx.Get(key))
		default:
			if ks != nil {
				return check(tx.DeleteIn(ks, key))
			}
			return check(tx.Delete(key))
		}
	case "commit", "abort":
		tx, err := r.txn(s)
		if err != nil {
			return err
		}
		delete(r.txns, *s.Txn)
		if s.Op == "commit" {
			return check(tx.Commit())
		}
		return check(tx.Rollback())
	case "scan":
		opts := &IterOptions{Prefix: optBytes(s.Prefix), Start: optBytes(s.Start), End: optBytes(s.End), Reverse: s.Reverse}
		ks, err := r.keyspace(s.KS)
		if err != nil {
			return check(err)
		}
		var it *Iterator
		switch {
		case s.Txn != nil:
			tx, e := r.txn(s)
			if e != nil {
				return e
			}
			if ks != nil {
				it, err = tx.IteratorIn(ks, opts)
			} else {
				it, err = tx.Iterator(opts)
			}
		case ks != nil:
			it, err = ks.Iterator(opts)
		default:
			it, err = r.db.Iterator(opts)
		}
		if err != nil {
			return check(err)
		}
		defer it.Close()
		var got [][2][]byte
		for it.Next() {
			got = append(got, [2][]byte{it.Key(), it.Value()})
		}
		if e := check(it.Err()); e != nil || it.Err() != nil {
			return e
		}
		if s.Entries == nil {
			return errors.New("scan needs entries")
		}
		if len(got) != len(*s.Entries) {
			return fmt.Errorf("scan saw %d entries %q, want %d", len(got), got, len(*s.Entries))
		}
		for i, e := range *s.Entries {
			if len(e) != 2 {
				return fmt.Errorf("entry %d is not [key, value]", i)
			}
			if !bytes.Equal(got[i][0], e[0]) || !bytes.Equal(got[i][1], e[1]) {
				return fmt.Errorf("entry %d is %q=%q, want %q=%q", i, got[i][0], got[i][1], []byte(e[0]), []byte(e[1]))
			}
		}
		return nil
	case "drop_keyspace":
		if s.KS == nil {
			return errors.New("drop_keyspace needs ks")
		}
		// Keyspace handles are forgotten on drop (as in every runner): a later use of the
		// name opens, and so creates, the keyspace again.
		if ks, ok := r.ks[*s.KS]; ok {
			ks.Close()
			delete(r.ks, *s.KS)
		}
		return check(r.db.DropKeyspace(*s.KS))
	case "reopen":
		if len(r.txns) != 0 {
			return errors.New("reopen with open transactions")
		}
		r.closeAll()
		db, err := Open(r.dir, r.opts...)
		if err != nil {
			return fmt.Errorf("reopen: %v", err)
		}
		r.db = db
		return nil
	}
	return fmt.Errorf("unknown op %q", s.Op)
}

func (r *vecRunner) closeAll() {
	for name, tx := range r.txns {
		tx.Rollback()
		delete(r.txns, name)
	}
	for name, ks := range r.ks {
		ks.Close()
		delete(r.ks, name)
	}
	if r.db != nil {
		if err := r.db.Close(); err != nil {
			r.t.Errorf("close: %v", err)
		}
		r.db = nil
	}
}

func runVectors(t *testing.T, path string) {
	f := loadVectors(t, path)
	names := map[string]bool{}
	for _, c := range f.Cases {
		if names[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			r := &vecRunner{t: t, dir: filepath.Join(t.TempDir(), "db"), ks: map[string]*Keyspace{}, txns: map[string]*Tx{}}
			if c.Options != nil && c.Options.SegmentSize != nil {
				r.opts = append(r.opts, WithSegmentSize(*c.Options.SegmentSize))
			}
			db, err := Open(r.dir, r.opts...)
			if err != nil {
				t.Fatal(err)
			}
			r.db = db
			defer r.closeAll()
			for i, s := range c.Steps {
				if err := r.step(s); err != nil {
					t.Fatalf("step %d (%s): %v", i, s.Op, err)
				}
			}
		})
	}
}

// TestVectorsSample runs the binding's own sample of the vector format, so the runner
// itself is tested even where the shared file is absent.
func TestVectorsSample(t *testing.T) {
	runVectors(t, "testdata/kv_sample.json")
}

// TestVectorsShared runs the shared cross-language vectors.
func TestVectorsShared(t *testing.T) {
	if _, err := os.Stat(sharedVectors); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is missing: the shared cross-language vectors have not been written yet", sharedVectors)
	}
	runVectors(t, sharedVectors)
}
