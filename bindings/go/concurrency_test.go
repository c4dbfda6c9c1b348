package katamari

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrent8 uses one DB from 8 goroutines at once: plain ops, batches,
// transactions (with conflict retries on a shared counter), iterators and keyspaces.
func TestConcurrent8(t *testing.T) {
	db := openTest(t)
	ks, err := db.Keyspace("shared")
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "counter", "0")
	const workers, rounds = 8, 150
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			fail := func(err error) { errs <- fmt.Errorf("worker %d: %w", w, err) }
			b := NewBatch()
			defer b.Close()
			for i := 0; i < rounds; i++ {
				k := []byte(fmt.Sprintf("w%d:%04d", w, i))
				v := bytes.Repeat([]byte{byte(w)}, 100)
				if err := db.Put(k, v); err != nil {
					fail(err)
					return
				}
				if got, err := db.Get(k); err != nil || !bytes.Equal(got, v) {
					fail(fmt.Errorf("get %s: %v", k, err))
					return
				}
				if ok, err := db.Has(k); err != nil || !ok {
					fail(fmt.Errorf("has %s: %v %v", k, ok, err))
					return
				}
				if err := ks.Put(k, v); err != nil {
					fail(err)
					return
				}
				b.Reset()
				b.Put(append(k, 'b'), v)
				b.PutIn(ks, append(k, 'b'), v)
				if err := db.Write(b); err != nil {
					fail(err)
					return
				}
				// Increment the shared counter, retrying on conflict.
				for {
					err := db.Update(func(tx *Tx) error {
						c, err := tx.Get([]byte("counter"))
						if err != nil {
							return err
						}
						var n int
						fmt.Sscan(string(c), &n)
						return tx.Put([]byte("counter"), []byte(fmt.Sprint(n+1)))
					})
					if errors.Is(err, ErrConflict) {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						fail(err)
						return
					}
					break
				}
				if i%10 == 0 {
					it, err := db.Iterator(&IterOptions{Prefix: []byte(fmt.Sprintf("w%d:", w))})
					if err != nil {
						fail(err)
						return
					}
					n := 0
					for it.Next() {
						n++
					}
					it.Close()
					if want := 2*(i+1) - (i+2)/3; it.Err() != nil || n != want { // keys of rounds j<i with j%3==0 were deleted
						fail(fmt.Errorf("iterator saw %d keys at round %d: %v", n, i, it.Err()))
						return
					}
				}
				if i%3 == 0 {
					if err := db.Delete(k); err != nil {
						fail(err)
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustGet(t, db.Get, "counter", fmt.Sprint(workers*rounds))
	st, _ := db.Stats()
	wantLive := workers*(rounds*2-(rounds+2)/3) + 1
	if st.LiveKeys < uint64(wantLive) {
		t.Errorf("live keys %d, want at least %d", st.LiveKeys, wantLive)
	}
	t.Logf("%d conflicts retried", conflicts.Load())
}

// TestConcurrentTxShared uses one Tx and one Iterator-producing Keyspace from several
// goroutines: calls are serialized by the binding, so this is safe.
func TestConcurrentTxShared(t *testing.T) {
	db := openTest(t)
	tx, _ := db.Begin(nil)
	defer tx.Rollback()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				k := []byte(fmt.Sprintf("%d-%d", w, i))
				tx.Put(k, k)
				tx.Get(k)
			}
		}(w)
	}
	wg.Wait()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range db.All(nil) {
		n++
	}
	if n != 400 {
		t.Fatalf("%d keys", n)
	}
}

// TestCloseWhileBusy closes the DB while 8 goroutines are in the middle of calls of
// every kind. Nothing may crash; every goroutine must end with ErrClosed (a
// transaction may also report that it had already ended).
func TestCloseWhileBusy(t *testing.T) {
	for round := 0; round < 5; round++ {
		db := openTest(t)
		ks, _ := db.Keyspace("ks")
		for i := 0; i < 200; i++ {
			mustPut(t, db, fmt.Sprintf("k%03d", i), "value")
		}
		var wg sync.WaitGroup
		var started sync.WaitGroup
		results := make(chan error, 8)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			started.Add(1)
			go func(w int) {
				defer wg.Done()
				once := sync.Once{}
				k := []byte(fmt.Sprintf("w%d", w))
				for i := 0; ; i++ {
					var err error
					switch (w + i) % 8 {
					case 0:
						err = db.Put(k, k)
					case 1:
						_, err = db.Get([]byte("k001"))
					case 2:
						err = ks.Put(k, k)
					case 3:
						err = db.Update(func(tx *Tx) error {
							if err := tx.Put(k, k); err != nil {
								return err
							}
							_, err := tx.Get(k)
							return err
						})
					case 4:
						it, e := db.Iterator(nil)
						if e != nil {
							err = e
							break
						}
						for it.Next() {
						}
						err = it.Err()
						it.Close()
					case 5:
						b := NewBatch()
						b.Put(k, k)
						b.PutIn(ks, k, k)
						err = db.Write(b)
						b.Close()
					case 6:
						_, err = db.Stats()
					case 7:
						err = db.View(func(tx *Tx) error {
							it, err := tx.Iterator(&IterOptions{Prefix: []byte("k0")})
							if err != nil {
								return err
							}
							defer it.Close()
							for it.Next() {
							}
							return it.Err()
						})
					}
					once.Do(started.Done)
					if err != nil {
						results <- err
						return
					}
				}
			}(w)
		}
		started.Wait()
		time.Sleep(time.Duration(round+1) * 5 * time.Millisecond)
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wg.Wait()
		close(results)
		for err := range results {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("round %d: goroutine ended with %v, want ErrClosed", round, err)
			}
		}
		ks.Close()
	}
}
