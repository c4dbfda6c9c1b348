package katamari

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestColumnTypedAccess(t *testing.T) {
	db := openTest(t)
	ints, err := db.CreateColumn("ints", ColumnInt64, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ints.Close()
	if n, err := ints.Len(); err != nil || n != 0 {
		t.Fatalf("len %d %v", n, err)
	}
	_, err = ints.GetInt64(0)
	wantCode(t, err, ErrNotFound, CodeNotFound)
	want := make([]int64, 10000)
	for i := range want {
		want[i] = int64(i*i) - 5000
	}
	if n, err := ints.ExtendInt64(want); err != nil || n != 10000 {
		t.Fatalf("extend %d %v", n, err)
	}
	if n, err := ints.AppendInt64(-1); err != nil || n != 10001 {
		t.Fatalf("append %d %v", n, err)
	}
	want = append(want, -1)
	got, err := ints.RangeInt64(0, 10001)
	if err != nil || len(got) != len(want) {
		t.Fatalf("range %d %v", len(got), err)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("value %d: %d != %d", i, got[i], want[i])
		}
	}
	if v, err := ints.GetInt64(-2); err != nil || v != want[9999] {
		t.Fatalf("get -2: %d %v", v, err)
	}
	if err := ints.Set(0, []byte{1, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if v, _ := ints.GetInt64(0); v != 1 {
		t.Fatalf("set: %d", v)
	}
	wantCode(t, ints.Set(0, []byte{1}), ErrInvalidArgument, CodeInvalidArgument)
	_, err = ints.RangeInt64(5, 10002)
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = ints.ExtendFloat64([]float64{1})
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	if v, err := ints.Pop(); err != nil || !bytes.Equal(v, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("pop %v %v", v, err)
	}
	if err := ints.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if n, _ := ints.Len(); n != 10 {
		t.Fatalf("truncated len %d", n)
	}

	floats, err := db.CreateColumn("floats", ColumnFloat64, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer floats.Close()
	floats.ExtendFloat64([]float64{1.5, math.Inf(-1), math.NaN()})
	fs, err := floats.RangeFloat64(0, 3)
	if err != nil || fs[0] != 1.5 || !math.IsInf(fs[1], -1) || !math.IsNaN(fs[2]) {
		t.Fatalf("floats %v %v", fs, err)
	}

	fixed, err := db.CreateColumn("fixed", ColumnBytes, 3)
	if err != nil || fixed.Width() != 3 || fixed.Type() != ColumnBytes {
		t.Fatalf("fixed: %v", err)
	}
	defer fixed.Close()
	_, err = fixed.Append([]byte("ab"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	fixed.Extend([]byte("abcdef"))
	if r, err := fixed.Range(0, 2); err != nil || string(r) != "abcdef" {
		t.Fatalf("fixed range %q %v", r, err)
	}

	names, err := db.CreateColumn("names", ColumnVarBytes, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer names.Close()
	vals := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte("x"), 10000), []byte("four")}
	if n, err := names.ExtendVar(vals); err != nil || n != 4 {
		t.Fatalf("extend var %d %v", n, err)
	}
	back, err := names.RangeVar(0, 4)
	if err != nil || len(back) != 4 {
		t.Fatalf("range var %v", err)
	}
	for i := range vals {
		if !bytes.Equal(back[i], vals[i]) {
			t.Fatalf("var value %d differs", i)
		}
	}
	cols, err := db.Columns()
	if err != nil || len(cols) != 4 || cols[0].Name != "fixed" || cols[0].Len != 2 || cols[2].Type != ColumnInt64 {
		t.Fatalf("columns %+v %v", cols, err)
	}
	_, err = db.CreateColumn("ints", ColumnInt64, 0)
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = db.Column("missing")
	wantCode(t, err, ErrNotFound, CodeNotFound)
	if err := db.DropColumn("fixed"); err != nil {
		t.Fatal(err)
	}
	_, err = fixed.Len()
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
}

func TestColumnAppenderTransactionsAndClose(t *testing.T) {
	db := openTest(t)
	c, err := db.CreateColumn("log", ColumnInt64, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.NewAppender()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200000; i++ {
		if err := a.AppendInt64(int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AppendFloat64(1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("float on an int column: %v", err)
	}
	if n, err := a.Flush(); err != nil || n != 200000 {
		t.Fatalf("flush %d %v", n, err)
	}
	a.AppendInt64(7)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Len(); n != 200001 {
		t.Fatalf("len after close %d", n)
	}

	tx, _ := db.Begin(nil)
	if _, err := tx.ColumnAppend(c, []byte{9, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ColumnExtend(c, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if err := tx.ColumnSet(c, 0, []byte{5, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if n, err := tx.ColumnLen(c); err != nil || n != 200004 {
		t.Fatalf("tx len %d %v", n, err)
	}
	if v, err := tx.ColumnGet(c, 0); err != nil || v[0] != 5 {
		t.Fatalf("tx get %v %v", v, err)
	}
	tx.Rollback()
	if n, _ := c.Len(); n != 200001 {
		t.Fatalf("aborted tx changed the column: %d", n)
	}
	err = db.Update(func(tx *Tx) error {
		_, err := tx.ColumnAppend(c, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.GetInt64(-1); v != 1 {
		t.Fatalf("committed append: %d", v)
	}
	db.Close()
	_, err = c.Len()
	wantCode(t, err, ErrClosed, CodeClosed)
	c.Close()
	c.Close()
}
