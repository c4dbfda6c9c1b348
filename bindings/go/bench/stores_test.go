package bench

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	katamari "github.com/katamari-db/katamari/bindings/go"
	bolt "go.etcd.io/bbolt"
)

// store is the common surface of the compared engines. Every store is opened without
// per-write fsync except where a workload asks for durability.
type store interface {
	get(k []byte) ([]byte, error)
	// putBatch writes the pairs atomically; durable asks for fsync before returning.
	putBatch(keys, vals [][]byte, durable bool) error
	// scanPrefix calls fn for each entry whose key starts with p, in order.
	scanPrefix(p []byte, fn func(k, v []byte)) error
	// settle brings a freshly filled store to its steady state for reads (Pebble:
	// flush and compact, so reads do not wade through L0 files).
	settle() error
	close() error
}

var errMissing = errors.New("missing key")

// ---- Katamari -------------------------------------------------------------------

type katStore struct{ db *katamari.DB }

func openKatamari(dir string, durable bool) (store, error) {
	mode := katamari.SyncNever
	if durable {
		mode = katamari.SyncAlways
	}
	db, err := katamari.Open(filepath.Join(dir, "katamari"), katamari.WithSync(mode, 0))
	if err != nil {
		return nil, err
	}
	return &katStore{db}, nil
}

func (s *katStore) get(k []byte) ([]byte, error) { return s.db.Get(k) }

func (s *katStore) putBatch(keys, vals [][]byte, durable bool) error {
	if len(keys) == 1 {
		return s.db.Put(keys[0], vals[0]) // durability is the open mode
	}
	b := katamari.NewBatch()
	defer b.Close()
	for i := range keys {
		if err := b.Put(keys[i], vals[i]); err != nil {
			return err
		}
	}
	return s.db.Write(b)
}

func (s *katStore) scanPrefix(p []byte, fn func(k, v []byte)) error {
	it, err := s.db.Iterator(&katamari.IterOptions{Prefix: p})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		fn(it.Key(), it.Value())
	}
	return it.Err()
}

func (s *katStore) settle() error { return s.db.Sync() }

func (s *katStore) close() error { return s.db.Close() }

// ---- bbolt ----------------------------------------------------------------------

var boltBucket = []byte("kv")

type boltStore struct{ db *bolt.DB }

func openBolt(dir string, durable bool) (store, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{NoSync: !durable, NoFreelistSync: true})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &boltStore{db}, nil
}

func (s *boltStore) get(k []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(k)
		if v == nil {
			return errMissing
		}
		out = bytes.Clone(v) // bbolt's slice is only valid inside the transaction
		return nil
	})
	return out, err
}

func (s *boltStore) putBatch(keys, vals [][]byte, durable bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for i := range keys {
			if err := b.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltStore) scanPrefix(p []byte, fn func(k, v []byte)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			fn(k, v)
		}
		return nil
	})
}

func (s *boltStore) settle() error { return s.db.Sync() }

func (s *boltStore) close() error { return s.db.Close() }

// ---- Pebble ---------------------------------------------------------------------

type pebbleStore struct{ db *pebble.DB }

// openPebble tunes Pebble the way a read-heavy user would: a 256 MiB block cache (it
// holds the whole benchmark database, as the page cache does for the others), bloom
// filters on every level and 64 MiB memtables.
func openPebble(dir string, durable bool) (store, error) {
	cache := pebble.NewCache(256 << 20)
	defer cache.Unref()
	opts := &pebble.Options{Cache: cache, MemTableSize: 64 << 20, Levels: make([]pebble.LevelOptions, 7)}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].EnsureDefaults()
	}
	db, err := pebble.Open(filepath.Join(dir, "pebble"), opts)
	if err != nil {
		return nil, err
	}
	return &pebbleStore{db}, nil
}

func (s *pebbleStore) get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errMissing
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v) // Pebble's slice is only valid until closer.Close
	closer.Close()
	return out, nil
}

func (s *pebbleStore) putBatch(keys, vals [][]byte, durable bool) error {
	opt := pebble.NoSync
	if durable {
		opt = pebble.Sync
	}
	if len(keys) == 1 {
		return s.db.Set(keys[0], vals[0], opt)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for i := range keys {
		if err := b.Set(keys[i], vals[i], nil); err != nil {
			return err
		}
	}
	return b.Commit(opt)
}

func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func (s *pebbleStore) scanPrefix(p []byte, fn func(k, v []byte)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		fn(it.Key(), it.Value())
	}
	return errors.Join(it.Error(), it.Close())
}

func (s *pebbleStore) settle() error {
	if err := s.db.Flush(); err != nil {
		return err
	}
	return s.db.Compact([]byte{0}, bytes.Repeat([]byte{0xff}, 17), true)
}

func (s *pebbleStore) close() error { return s.db.Close() }

type opener func(dir string, durable bool) (store, error)

var stores = []struct {
	name string
	open opener
}{
	{"katamari", openKatamari},
	{"bbolt", openBolt},
	{"pebble", openPebble},
}

func must(err error) {
	if err != nil {
		panic(fmt.Sprint("bench: ", err))
	}
}
