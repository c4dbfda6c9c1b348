package katamari

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTxBasics(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "existing", "old")
	tx, err := db.Begin(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.Put([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := tx.PutTTL([]byte("ttl"), []byte("t"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete([]byte("existing")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, tx.PutTTL([]byte("ttl"), nil, 0), ErrInvalidArgument, CodeInvalidArgument)
	// Own writes are visible inside, invisible outside.
	mustGet(t, tx.Get, "a", "1")
	mustGet(t, tx.Get, "ttl", "t")
	wantNotFound(t, tx.Get, "existing")
	if ok, err := tx.Has([]byte("a")); err != nil || !ok {
		t.Fatalf("tx.Has(a) = %v, %v", ok, err)
	}
	if ok, err := tx.Has([]byte("existing")); err != nil || ok {
		t.Fatalf("tx.Has(existing) = %v, %v", ok, err)
	}
	wantNotFound(t, db.Get, "a")
	mustGet(t, db.Get, "existing", "old")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustGet(t, db.Get, "a", "1")
	mustGet(t, db.Get, "ttl", "t")
	wantNotFound(t, db.Get, "existing")

	// After the end: Rollback is a no-op, everything else is an error.
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after Commit: %v", err)
	}
	wantCode(t, tx.Commit(), ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, tx.Put([]byte("x"), nil), ErrInvalidArgument, CodeInvalidArgument)
	_, err = tx.Get([]byte("a"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = tx.Iterator(nil)
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
}

func TestTxRollbackDiscards(t *testing.T) {
	db := openTest(t)
	tx, _ := db.Begin(&TxOptions{})
	tx.Put([]byte("a"), []byte("1"))
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, db.Get, "a")
}

func TestTxSnapshotIsolation(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "k", "before")
	tx, _ := db.Begin(nil)
	defer tx.Rollback()
	mustPut(t, db, "k", "after")
	mustPut(t, db, "new", "x")
	mustGet(t, tx.Get, "k", "before")
	wantNotFound(t, tx.Get, "new")
	it, err := tx.Iterator(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if got := collect(t, it); !equalStrings(got, []string{"k=before"}) {
		t.Fatalf("tx iterator saw %q", got)
	}
}

func TestTxConflictFirstCommitterWins(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "counter", "0")
	t1, _ := db.Begin(nil)
	t2, _ := db.Begin(nil)
	defer t1.Rollback()
	defer t2.Rollback()
	t1.Put([]byte("counter"), []byte("1"))
	t2.Put([]byte("counter"), []byte("2"))
	t2.Put([]byte("other"), []byte("x"))
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
	err := t2.Commit()
	wantCode(t, err, ErrConflict, CodeConflict)
	mustGet(t, db.Get, "counter", "1")
	wantNotFound(t, db.Get, "other") // nothing of the loser was written
	// The loser has ended.
	wantCode(t, t2.Put([]byte("x"), nil), ErrInvalidArgument, CodeInvalidArgument)
}

func TestTxNoConflictOnDisjointKeys(t *testing.T) {
	db := openTest(t)
	t1, _ := db.Begin(nil)
	t2, _ := db.Begin(nil)
	t1.Put([]byte("a"), []byte("1"))
	t2.Put([]byte("b"), []byte("2"))
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := t2.Commit(); err != nil {
		t.Fatalf("disjoint commit: %v", err)
	}
}

func TestTxSerializable(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "x", "0")
	// Write skew: each reads x and writes a different key.
	t1, _ := db.Begin(&TxOptions{Serializable: true})
	t2, _ := db.Begin(&TxOptions{Serializable: true})
	defer t1.Rollback()
	defer t2.Rollback()
	t1.Get([]byte("x"))
	t1.Put([]byte("y"), []byte("1"))
	t2.Put([]byte("x"), []byte("2"))
	if err := t2.Commit(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, t1.Commit(), ErrConflict, CodeConflict)

	// The same schedule under snapshot isolation commits.
	t3, _ := db.Begin(nil)
	t4, _ := db.Begin(nil)
	t3.Get([]byte("x"))
	t3.Put([]byte("y"), []byte("1"))
	t4.Put([]byte("x"), []byte("3"))
	if err := t4.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := t3.Commit(); err != nil {
		t.Fatalf("snapshot isolation: %v", err)
	}
}

func TestTxReadOnly(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "k", "v")
	tx, err := db.Begin(&TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, tx.Get, "k", "v")
	wantCode(t, tx.Put([]byte("k"), nil), ErrReadOnly, CodeReadOnly)
	wantCode(t, tx.PutTTL([]byte("k"), []byte("v"), time.Second), ErrReadOnly, CodeReadOnly)
	wantCode(t, tx.Delete([]byte("k")), ErrReadOnly, CodeReadOnly)
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit of a read-only tx: %v", err)
	}
}

func TestUpdateAndView(t *testing.T) {
	db := openTest(t)
	err := db.Update(func(tx *Tx) error {
		if err := tx.Put([]byte("a"), []byte("1")); err != nil {
			return err
		}
		return tx.Put([]byte("b"), []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, db.Get, "a", "1")

	// An error from fn rolls back and is returned as is.
	boom := errors.New("boom")
	err = db.Update(func(tx *Tx) error {
		tx.Put([]byte("c"), []byte("3"))
		return boom
	})
	if err != boom {
		t.Fatalf("Update returned %v, want boom", err)
	}
	wantNotFound(t, db.Get, "c")

	// A panic rolls back and propagates.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic was swallowed")
			}
		}()
		db.Update(func(tx *Tx) error {
			tx.Put([]byte("p"), []byte("x"))
			panic("inside update")
		})
	}()
	wantNotFound(t, db.Get, "p")

	// fn must not end the transaction itself.
	err = db.Update(func(tx *Tx) error {
		wantCode(t, tx.Commit(), ErrInvalidArgument, CodeInvalidArgument)
		wantCode(t, tx.Rollback(), ErrInvalidArgument, CodeInvalidArgument)
		return tx.Put([]byte("d"), []byte("4"))
	})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, db.Get, "d", "4")

	// View sees committed data, cannot write, and returns fn's error.
	var seen []byte
	err = db.View(func(tx *Tx) error {
		var err error
		seen, err = tx.Get([]byte("a"))
		return err
	})
	if err != nil || string(seen) != "1" {
		t.Fatalf("View: %q, %v", seen, err)
	}
	if err := db.View(func(tx *Tx) error { return boom }); err != boom {
		t.Fatalf("View returned %v", err)
	}
	err = db.View(func(tx *Tx) error { return tx.Delete([]byte("a")) })
	wantCode(t, err, ErrReadOnly, CodeReadOnly)
}

func TestUpdateConflict(t *testing.T) {
	db := openTest(t)
	mustPut(t, db, "k", "0")
	err := db.Update(func(tx *Tx) error {
		if _, err := tx.Get([]byte("k")); err != nil {
			return err
		}
		// Someone else commits a write to the same key meanwhile.
		mustPut(t, db, "k", "other")
		return tx.Put([]byte("k"), []byte("mine"))
	})
	wantCode(t, err, ErrConflict, CodeConflict)
	var e *Error
	errors.As(err, &e)
	if e.Op != "update" {
		t.Fatalf("Op = %q", e.Op)
	}
	mustGet(t, db.Get, "k", "other")
}

func TestTxKeyspaces(t *testing.T) {
	db := openTest(t)
	ks, _ := db.Keyspace("ks")
	other, _ := db.Keyspace("other")
	if err := ks.Put([]byte("gone"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	err := db.Update(func(tx *Tx) error {
		if err := tx.PutIn(ks, []byte("a"), []byte("ks")); err != nil {
			return err
		}
		if err := tx.Put([]byte("a"), []byte("default")); err != nil {
			return err
		}
		if err := tx.DeleteIn(ks, []byte("gone")); err != nil {
			return err
		}
		mustGet(t, func(k []byte) ([]byte, error) { return tx.GetIn(ks, k) }, "a", "ks")
		if _, err := tx.GetIn(other, []byte("a")); err != ErrNotFound {
			t.Errorf("GetIn(other) = %v", err)
		}
		if ok, err := tx.HasIn(ks, []byte("a")); err != nil || !ok {
			t.Errorf("HasIn(a) = %v, %v", ok, err)
		}
		if ok, err := tx.HasIn(ks, []byte("gone")); err != nil || ok {
			t.Errorf("HasIn(gone) = %v, %v", ok, err)
		}
		it, err := tx.IteratorIn(ks, nil)
		if err != nil {
			return err
		}
		defer it.Close()
		if got := collect(t, it); !equalStrings(got, []string{"a=ks"}) {
			t.Errorf("IteratorIn saw %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, ks.Get, "a", "ks")
	mustGet(t, db.Get, "a", "default")
	wantNotFound(t, ks.Get, "gone")

	tx, _ := db.Begin(nil)
	defer tx.Rollback()
	for name, err := range map[string]error{
		"PutIn":    tx.PutIn(nil, []byte("a"), nil),
		"DeleteIn": tx.DeleteIn(nil, []byte("a")),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s(nil keyspace) = %v", name, err)
		}
	}
	_, err = tx.GetIn(nil, []byte("a"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = tx.IteratorIn(nil, nil)
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = tx.HasIn(nil, []byte("a"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	var e *Error
	if errors.As(err, &e); e.Op != "tx.has_in" {
		t.Errorf("HasIn error op %q", e.Op)
	}
	other.Close()
	wantCode(t, tx.PutIn(other, []byte("a"), nil), ErrInvalidArgument, CodeInvalidArgument)
}

func TestTxTTLAndScan(t *testing.T) {
	db := openTest(t)
	err := db.Update(func(tx *Tx) error {
		tx.Put([]byte("p:1"), []byte("a"))
		tx.Put([]byte("p:2"), []byte("b"))
		tx.PutTTL([]byte("p:3"), []byte("c"), 20*time.Millisecond)
		var got []string
		for k, v := range tx.All(&IterOptions{Prefix: []byte("p:")}) {
			got = append(got, string(k)+"="+string(v))
		}
		if !equalStrings(got, []string{"p:1=a", "p:2=b", "p:3=c"}) {
			t.Errorf("tx.All = %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	db.View(func(tx *Tx) error {
		seq, errf := tx.Scan(&IterOptions{Prefix: []byte("p:")})
		var got []string
		for k := range seq {
			got = append(got, string(k))
		}
		if errf() != nil || strings.Join(got, ",") != "p:1,p:2" {
			t.Errorf("after expiry: %q, %v", got, errf())
		}
		return nil
	})
}

// TestKeyspaceOfAnotherDatabase uses a keyspace handle of one database in a batch and a
// transaction of another. That must fail (KAT_INVALID_ARGUMENT) and touch nothing.
func TestKeyspaceOfAnotherDatabase(t *testing.T) {
	db1, db2 := openTest(t), openTest(t)
	mine, _ := db1.Keyspace("mine")
	theirs, _ := db2.Keyspace("theirs")
	b := NewBatch()
	defer b.Close()
	b.PutIn(theirs, []byte("k"), []byte("via batch"))
	errBatch := db1.Write(b)
	tx, _ := db1.Begin(nil)
	defer tx.Rollback()
	errTx := tx.PutIn(theirs, []byte("k2"), []byte("via txn"))
	if errTx == nil {
		errTx = tx.Commit()
	}
	leaked := 0
	for range mine.All(nil) {
		leaked++
	}
	if leaked > 0 {
		t.Fatalf("%d keys leaked into an unrelated keyspace", leaked)
	}
	wantCode(t, errBatch, ErrInvalidArgument, CodeInvalidArgument)
	wantCode(t, errTx, ErrInvalidArgument, CodeInvalidArgument)
}

// TestTxHasIn checks that HasIn sees the snapshot, the transaction's own puts and
// deletes, and nothing committed by others after Begin or written to other keyspaces.
func TestTxHasIn(t *testing.T) {
	db := openTest(t)
	ks, _ := db.Keyspace("ks")
	other, _ := db.Keyspace("other")
	if err := ks.Put([]byte("snap"), []byte("s")); err != nil {
		t.Fatal(err)
	}
	if err := ks.Put([]byte("del"), []byte("d")); err != nil {
		t.Fatal(err)
	}
	if err := ks.Put([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "default-only", "x")
	tx, err := db.Begin(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := ks.Put([]byte("later"), []byte("l")); err != nil {
		t.Fatal(err)
	}
	if err := ks.Delete([]byte("snap")); err != nil {
		t.Fatal(err)
	}
	if err := tx.PutIn(ks, []byte("mine"), []byte("m")); err != nil {
		t.Fatal(err)
	}
	if err := tx.DeleteIn(ks, []byte("del")); err != nil {
		t.Fatal(err)
	}
	if err := tx.PutIn(ks, []byte("brief"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := tx.DeleteIn(ks, []byte("brief")); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{
		"snap":         true,  // in the snapshot (deleted by a later commit)
		"empty":        true,  // empty value, still present
		"later":        false, // committed after Begin
		"mine":         true,  // the transaction's own put
		"del":          false, // the transaction's own delete of snapshot data
		"brief":        false, // put then deleted in the transaction
		"default-only": false, // another keyspace
		"missing":      false,
	} {
		if ok, err := tx.HasIn(ks, []byte(key)); err != nil || ok != want {
			t.Errorf("HasIn(ks, %q) = %v, %v; want %v", key, ok, err, want)
		}
	}
	if ok, err := tx.HasIn(other, []byte("mine")); err != nil || ok {
		t.Errorf("HasIn(other, mine) = %v, %v", ok, err)
	}
	if ok, err := tx.HasIn(ks, nil); err != nil || ok {
		t.Errorf("HasIn(ks, nil) = %v, %v", ok, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err = tx.HasIn(ks, []byte("mine")) // transaction ended
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)

	err = db.View(func(tx *Tx) error {
		for key, want := range map[string]bool{"snap": false, "later": true, "mine": true, "del": false} {
			if ok, err := tx.HasIn(ks, []byte(key)); err != nil || ok != want {
				t.Errorf("View HasIn(ks, %q) = %v, %v; want %v", key, ok, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	tx2, _ := db.Begin(nil)
	defer tx2.Rollback()
	other.Close()
	_, err = tx2.HasIn(other, []byte("a"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	var e *Error
	if errors.As(err, &e); e.Op != "tx.has_in" {
		t.Errorf("HasIn error op %q", e.Op)
	}
}

// TestTxPutTTLIn writes keyspace TTL puts in a transaction: a long TTL is visible in
// the transaction and after Commit, a 1 ms TTL is gone shortly after.
func TestTxPutTTLIn(t *testing.T) {
	db := openTest(t)
	ks, _ := db.Keyspace("ks")
	err := db.Update(func(tx *Tx) error {
		if err := tx.PutTTLIn(ks, []byte("long"), []byte("l"), time.Hour); err != nil {
			return err
		}
		if err := tx.PutTTLIn(ks, []byte("short"), []byte("s"), time.Millisecond); err != nil {
			return err
		}
		mustGet(t, func(k []byte) ([]byte, error) { return tx.GetIn(ks, k) }, "long", "l")
		if ok, err := tx.HasIn(ks, []byte("long")); err != nil || !ok {
			t.Errorf("HasIn(long) = %v, %v", ok, err)
		}
		wantNotFound(t, tx.Get, "long") // not in the default keyspace
		wantCode(t, tx.PutTTLIn(ks, []byte("k"), nil, 0), ErrInvalidArgument, CodeInvalidArgument)
		wantCode(t, tx.PutTTLIn(ks, []byte("k"), nil, -time.Second), ErrInvalidArgument, CodeInvalidArgument)
		wantCode(t, tx.PutTTLIn(nil, []byte("k"), nil, time.Second), ErrInvalidArgument, CodeInvalidArgument)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, ks.Get, "long", "l")
	wantNotFound(t, db.Get, "long")
	wantNotFound(t, ks.Get, "k")
	time.Sleep(20 * time.Millisecond)
	wantNotFound(t, ks.Get, "short")
	if ok, err := ks.Has([]byte("short")); err != nil || ok {
		t.Fatalf("expired key: Has = %v, %v", ok, err)
	}
	mustGet(t, ks.Get, "long", "l")
	db.View(func(tx *Tx) error {
		if ok, err := tx.HasIn(ks, []byte("short")); err != nil || ok {
			t.Errorf("View HasIn(short) = %v, %v", ok, err)
		}
		wantCode(t, tx.PutTTLIn(ks, []byte("k"), []byte("v"), time.Second), ErrReadOnly, CodeReadOnly)
		return nil
	})

	tx, _ := db.Begin(nil)
	defer tx.Rollback()
	ks.Close()
	wantCode(t, tx.PutTTLIn(ks, []byte("k"), nil, time.Second), ErrInvalidArgument, CodeInvalidArgument)
}
