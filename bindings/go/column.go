package katamari

/*
#include "katamari_go.h"
*/
import "C"

import (
	"encoding/binary"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// ColumnType is what a column holds.
type ColumnType int

const (
	// ColumnInt64 holds int64 values.
	ColumnInt64 ColumnType = C.KAT_COLUMN_I64
	// ColumnFloat64 holds float64 values.
	ColumnFloat64 ColumnType = C.KAT_COLUMN_F64
	// ColumnBytes holds values of exactly Width bytes.
	ColumnBytes ColumnType = C.KAT_COLUMN_BYTES
	// ColumnVarBytes holds byte strings of any length.
	ColumnVarBytes ColumnType = C.KAT_COLUMN_VAR_BYTES
)

// ColumnInfo is a column's name, type, value width and length, as DB.Columns lists them.
type ColumnInfo struct {
	Name  string
	Type  ColumnType
	Width uint32 // bytes per value; 0 for ColumnVarBytes
	Len   uint64
}

// Column is a typed, list-like sequence: append and extend, get and set with negative
// indices (from the end), range reads, truncate and pop. Every change is one atomic
// commit of values and length. Safe for concurrent use. An index outside the column
// is ErrNotFound; a range outside it and a value of the wrong size ErrInvalidArgument.
type Column struct {
	mu      sync.RWMutex
	h       *C.kat_column
	db      *DB
	name    string
	typ     ColumnType
	width   uint32
	cleanup runtime.Cleanup
}

func freeColumn(h *C.kat_column) {
	C.kat_column_free(h)
	liveHandles.Add(-1)
}

func (db *DB) newColumn(op, name string, open func(**C.kat_column, **C.kat_error) C.kat_status) (*Column, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError(op)
	}
	var h *C.kat_column
	var cerr *C.kat_error
	st := open(&h, &cerr)
	runtime.KeepAlive(db)
	if err := statusError(op, st, cerr); err != nil {
		return nil, err
	}
	var t C.int32_t
	var w C.uint32_t
	C.kat_column_type(h, &t, &w)
	liveHandles.Add(1)
	c := &Column{h: h, db: db, name: name, typ: ColumnType(t), width: uint32(w)}
	c.cleanup = runtime.AddCleanup(c, freeColumn, h)
	return c, nil
}

// CreateColumn creates the column name of type typ (width is N for ColumnBytes and
// ignored otherwise); a column of that name existing is ErrInvalidArgument.
func (db *DB) CreateColumn(name string, typ ColumnType, width uint32) (*Column, error) {
	return db.newColumn("create_column", name, func(h **C.kat_column, cerr **C.kat_error) C.kat_status {
		return C.kat_column_create(db.h, strPtr(name), C.size_t(len(name)), C.int32_t(typ), C.uint32_t(width), h, cerr)
	})
}

// Column opens the column name; ErrNotFound if there is none.
func (db *DB) Column(name string) (*Column, error) {
	return db.newColumn("column", name, func(h **C.kat_column, cerr **C.kat_error) C.kat_status {
		return C.kat_column_open(db.h, strPtr(name), C.size_t(len(name)), h, cerr)
	})
}

// DropColumn drops the column name and its values; ErrNotFound if there is none.
func (db *DB) DropColumn(name string) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return closedError("drop_column")
	}
	var cerr *C.kat_error
	st := C.kat_column_drop(db.h, strPtr(name), C.size_t(len(name)), &cerr)
	runtime.KeepAlive(db)
	return statusError("drop_column", st, cerr)
}

// Columns lists every column, sorted by name.
func (db *DB) Columns() ([]ColumnInfo, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return nil, closedError("columns")
	}
	var buf C.kat_buf
	var count C.size_t
	var cerr *C.kat_error
	st := C.kat_column_list(db.h, &buf, &count, &cerr)
	runtime.KeepAlive(db)
	if err := statusError("columns", st, cerr); err != nil {
		return nil, err
	}
	data := takeBuf(&buf)
	out := make([]ColumnInfo, 0, int(count))
	for len(data) >= 4 {
		n := int(binary.LittleEndian.Uint32(data))
		if len(data) < 4+n+16 {
			break
		}
		rest := data[4+n:]
		out = append(out, ColumnInfo{
			Name:  string(data[4 : 4+n]),
			Type:  ColumnType(int32(binary.LittleEndian.Uint32(rest))),
			Width: binary.LittleEndian.Uint32(rest[4:]),
			Len:   binary.LittleEndian.Uint64(rest[8:]),
		})
		data = rest[16:]
	}
	return out, nil
}

// Name, Type and Width describe the column.
func (c *Column) Name() string     { return c.name }
func (c *Column) Type() ColumnType { return c.typ }
func (c *Column) Width() uint32    { return c.width }

// Close releases the handle (the column stays). Idempotent.
func (c *Column) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return nil
	}
	c.cleanup.Stop()
	freeColumn(c.h)
	c.h = nil
	runtime.KeepAlive(c)
	return nil
}

func (c *Column) rlock(op string) error {
	if c == nil {
		return invalidError(op, "column is nil")
	}
	c.mu.RLock()
	if c.h == nil {
		c.mu.RUnlock()
		return invalidError(op, "column handle is closed")
	}
	if c.db.closed.Load() {
		c.mu.RUnlock()
		return closedError(op)
	}
	return nil
}

// Len returns the number of values.
func (c *Column) Len() (uint64, error) {
	if err := c.rlock("column.len"); err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	var n C.uint64_t
	var cerr *C.kat_error
	st := C.kat_column_len(c.h, &n, &cerr)
	runtime.KeepAlive(c)
	return uint64(n), statusError("column.len", st, cerr)
}

// Append appends one value (8 little-endian bytes for int64/float64, exactly Width
// bytes for ColumnBytes, any length for ColumnVarBytes); returns the new length.
func (c *Column) Append(value []byte) (uint64, error) {
	return c.call("column.append", func(n *C.uint64_t, cerr **C.kat_error) C.kat_status {
		return C.kat_column_append(c.h, bytesPtr(value), C.size_t(len(value)), n, cerr)
	}, value)
}

// AppendInt64 appends one int64 to an int64 column.
func (c *Column) AppendInt64(v int64) (uint64, error) {
	return c.ExtendInt64([]int64{v})
}

// AppendFloat64 appends one float64 to a float64 column.
func (c *Column) AppendFloat64(v float64) (uint64, error) {
	return c.ExtendFloat64([]float64{v})
}

// Extend appends packed fixed-size values (a whole number of them) in one commit.
func (c *Column) Extend(data []byte) (uint64, error) {
	return c.call("column.extend", func(n *C.uint64_t, cerr **C.kat_error) C.kat_status {
		return C.kat_column_extend(c.h, bytesPtr(data), C.size_t(len(data)), n, cerr)
	}, data)
}

// ExtendInt64 appends int64 values to an int64 column in one commit.
func (c *Column) ExtendInt64(values []int64) (uint64, error) {
	if c.typ != ColumnInt64 {
		return 0, invalidError("column.extend_int64", "not an int64 column")
	}
	return c.Extend(int64Bytes(values))
}

// ExtendFloat64 appends float64 values to a float64 column in one commit.
func (c *Column) ExtendFloat64(values []float64) (uint64, error) {
	if c.typ != ColumnFloat64 {
		return 0, invalidError("column.extend_float64", "not a float64 column")
	}
	return c.Extend(float64Bytes(values))
}

// ExtendVar appends variable-length values to a ColumnVarBytes column in one commit.
func (c *Column) ExtendVar(values [][]byte) (uint64, error) {
	offsets := make([]uint64, 1, len(values)+1)
	total := 0
	for _, v := range values {
		total += len(v)
	}
	data := make([]byte, 0, total)
	for _, v := range values {
		data = append(data, v...)
		offsets = append(offsets, uint64(len(data)))
	}
	return c.call("column.extend_var", func(n *C.uint64_t, cerr **C.kat_error) C.kat_status {
		return C.kat_column_extend_var(c.h, (*C.uint64_t)(unsafe.Pointer(unsafe.SliceData(offsets))), C.size_t(len(values)), bytesPtr(data), C.size_t(len(data)), n, cerr)
	}, offsets, data)
}

// call runs a length-returning C call under the read lock, keeping args alive.
func (c *Column) call(op string, f func(*C.uint64_t, **C.kat_error) C.kat_status, args ...any) (uint64, error) {
	if err := c.rlock(op); err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	var n C.uint64_t
	var cerr *C.kat_error
	st := f(&n, &cerr)
	runtime.KeepAlive(c)
	runtime.KeepAlive(args)
	if err := statusError(op, st, cerr); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// Get returns a copy of the value at index (negative: from the end).
func (c *Column) Get(index int64) ([]byte, error) {
	if err := c.rlock("column.get"); err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	var buf C.kat_buf
	var cerr *C.kat_error
	st := C.kat_column_get(c.h, C.int64_t(index), &buf, &cerr)
	runtime.KeepAlive(c)
	if err := statusError("column.get", st, cerr); err != nil {
		return nil, err
	}
	return takeBuf(&buf), nil
}

// GetInt64 returns the int64 at index of an int64 column.
func (c *Column) GetInt64(index int64) (int64, error) {
	if err := c.rlock("column.get_int64"); err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	var v C.int64_t
	var cerr *C.kat_error
	st := C.kat_column_get_i64(c.h, C.int64_t(index), &v, &cerr)
	runtime.KeepAlive(c)
	return int64(v), statusError("column.get_int64", st, cerr)
}

// GetFloat64 returns the float64 at index of a float64 column.
func (c *Column) GetFloat64(index int64) (float64, error) {
	if err := c.rlock("column.get_float64"); err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	var v C.double
	var cerr *C.kat_error
	st := C.kat_column_get_f64(c.h, C.int64_t(index), &v, &cerr)
	runtime.KeepAlive(c)
	return float64(v), statusError("column.get_float64", st, cerr)
}

// Set replaces the value at index (negative: from the end).
func (c *Column) Set(index int64, value []byte) error {
	if err := c.rlock("column.set"); err != nil {
		return err
	}
	defer c.mu.RUnlock()
	var cerr *C.kat_error
	st := C.kat_column_set(c.h, C.int64_t(index), bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(c)
	runtime.KeepAlive(value)
	return statusError("column.set", st, cerr)
}

// readInto copies the packed values [start, end) of a fixed-size column into dst,
// which must be exactly their size.
func (c *Column) readInto(op string, start, end uint64, dst []byte) error {
	if err := c.rlock(op); err != nil {
		return err
	}
	defer c.mu.RUnlock()
	var need C.size_t
	var cerr *C.kat_error
	st := C.kat_column_read(c.h, C.uint64_t(start), C.uint64_t(end), bytesPtr(dst), C.size_t(len(dst)), &need, &cerr)
	runtime.KeepAlive(c)
	runtime.KeepAlive(dst)
	if err := statusError(op, st, cerr); err != nil {
		return err
	}
	if int(need) != len(dst) {
		return makeError(op, CodeInternal, "range size differs from the column's width")
	}
	return nil
}

func (c *Column) rangeCount(op string, start, end uint64) (int, error) {
	if end < start {
		return 0, invalidError(op, "end before start")
	}
	if end-start > math.MaxInt32 {
		return 0, invalidError(op, "range too long for one call")
	}
	return int(end - start), nil
}

// rangeWords reads the 8-byte values [start, end) into out: straight into its memory
// on little-endian machines, through a converted copy elsewhere.
func (c *Column) rangeWords(op string, start, end uint64, out []uint64) error {
	if littleEndian {
		return c.readInto(op, start, end, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), len(out)*8))
	}
	tmp := make([]byte, len(out)*8)
	if err := c.readInto(op, start, end, tmp); err != nil {
		return err
	}
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(tmp[i*8:])
	}
	return nil
}

// Range returns the values [start, end) of a fixed-size column, packed.
func (c *Column) Range(start, end uint64) ([]byte, error) {
	n, err := c.rangeCount("column.range", start, end)
	if err != nil {
		return nil, err
	}
	if c.typ == ColumnVarBytes {
		return nil, invalidError("column.range", "use RangeVar for a variable bytes column")
	}
	out := make([]byte, n*int(c.width))
	return out, c.readInto("column.range", start, end, out)
}

// RangeInt64 returns the values [start, end) of an int64 column, read straight into
// the returned slice.
func (c *Column) RangeInt64(start, end uint64) ([]int64, error) {
	n, err := c.rangeCount("column.range_int64", start, end)
	if err != nil {
		return nil, err
	}
	if c.typ != ColumnInt64 {
		return nil, invalidError("column.range_int64", "not an int64 column")
	}
	out := make([]int64, n)
	if err := c.rangeWords("column.range_int64", start, end, unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(out))), n)); err != nil {
		return nil, err
	}
	return out, nil
}

// RangeFloat64 returns the values [start, end) of a float64 column.
func (c *Column) RangeFloat64(start, end uint64) ([]float64, error) {
	n, err := c.rangeCount("column.range_float64", start, end)
	if err != nil {
		return nil, err
	}
	if c.typ != ColumnFloat64 {
		return nil, invalidError("column.range_float64", "not a float64 column")
	}
	out := make([]float64, n)
	if err := c.rangeWords("column.range_float64", start, end, unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(out))), n)); err != nil {
		return nil, err
	}
	return out, nil
}

// RangeVar returns the values [start, end) of a variable bytes column.
func (c *Column) RangeVar(start, end uint64) ([][]byte, error) {
	if err := c.rlock("column.range_var"); err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	var data, offs C.kat_buf
	var cerr *C.kat_error
	st := C.kat_column_read_buf(c.h, C.uint64_t(start), C.uint64_t(end), &data, &offs, &cerr)
	runtime.KeepAlive(c)
	if err := statusError("column.range_var", st, cerr); err != nil {
		return nil, err
	}
	d := takeBuf(&data)
	o := takeBuf(&offs)
	out := make([][]byte, 0, len(o)/8)
	for i := 8; i+8 <= len(o); i += 8 {
		a := binary.LittleEndian.Uint64(o[i-8:])
		b := binary.LittleEndian.Uint64(o[i:])
		out = append(out, d[a:b:b])
	}
	return out, nil
}

// Truncate shortens the column to n values.
func (c *Column) Truncate(n uint64) error {
	if err := c.rlock("column.truncate"); err != nil {
		return err
	}
	defer c.mu.RUnlock()
	var cerr *C.kat_error
	st := C.kat_column_truncate(c.h, C.uint64_t(n), &cerr)
	runtime.KeepAlive(c)
	return statusError("column.truncate", st, cerr)
}

// Pop removes and returns the last value; ErrNotFound when the column is empty.
func (c *Column) Pop() ([]byte, error) {
	if err := c.rlock("column.pop"); err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	var buf C.kat_buf
	var cerr *C.kat_error
	st := C.kat_column_pop(c.h, &buf, &cerr)
	runtime.KeepAlive(c)
	if err := statusError("column.pop", st, cerr); err != nil {
		return nil, err
	}
	return takeBuf(&buf), nil
}

// ColumnAppender buffers appends and commits them in batches (when its buffer fills,
// on Flush and on Close): one value at a time at memory speed. Values still buffered
// when the process dies are lost; each batch is all or nothing. Not for concurrent use.
type ColumnAppender struct {
	mu      sync.Mutex
	h       *C.kat_column_appender
	c       *Column
	cleanup runtime.Cleanup
}

func freeAppender(h *C.kat_column_appender) {
	C.kat_column_appender_free(h)
	liveHandles.Add(-1)
}

// NewAppender starts a buffered appender on the column.
func (c *Column) NewAppender() (*ColumnAppender, error) {
	if err := c.rlock("column.new_appender"); err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	var h *C.kat_column_appender
	var cerr *C.kat_error
	st := C.kat_column_appender_open(c.h, &h, &cerr)
	runtime.KeepAlive(c)
	if err := statusError("column.new_appender", st, cerr); err != nil {
		return nil, err
	}
	liveHandles.Add(1)
	a := &ColumnAppender{h: h, c: c}
	a.cleanup = runtime.AddCleanup(a, freeAppender, h)
	return a, nil
}

func (a *ColumnAppender) lock(op string) error {
	a.mu.Lock()
	if a.h == nil {
		a.mu.Unlock()
		return invalidError(op, "appender is closed")
	}
	return nil
}

// Append buffers one value (sized as for Column.Append).
func (a *ColumnAppender) Append(value []byte) error {
	if err := a.lock("appender.append"); err != nil {
		return err
	}
	defer a.mu.Unlock()
	var cerr *C.kat_error
	st := C.kat_column_appender_append(a.h, bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(a)
	runtime.KeepAlive(value)
	return statusError("appender.append", st, cerr)
}

// AppendInt64 buffers an int64 (on an int64 column).
func (a *ColumnAppender) AppendInt64(v int64) error {
	if a.c.typ != ColumnInt64 {
		return invalidError("appender.append_int64", "not an int64 column")
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	return a.Append(b[:])
}

// AppendFloat64 buffers a float64 (on a float64 column).
func (a *ColumnAppender) AppendFloat64(v float64) error {
	if a.c.typ != ColumnFloat64 {
		return invalidError("appender.append_float64", "not a float64 column")
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
	return a.Append(b[:])
}

// Flush commits the buffered values as one batch and returns the column's length.
func (a *ColumnAppender) Flush() (uint64, error) {
	if err := a.lock("appender.flush"); err != nil {
		return 0, err
	}
	defer a.mu.Unlock()
	var n C.uint64_t
	var cerr *C.kat_error
	st := C.kat_column_appender_flush(a.h, &n, &cerr)
	runtime.KeepAlive(a)
	return uint64(n), statusError("appender.flush", st, cerr)
}

// Close flushes what is buffered (returning its error) and releases the appender.
// Idempotent.
func (a *ColumnAppender) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.h == nil {
		return nil
	}
	var cerr *C.kat_error
	st := C.kat_column_appender_flush(a.h, nil, &cerr)
	err := statusError("appender.close", st, cerr)
	a.cleanup.Stop()
	freeAppender(a.h)
	a.h = nil
	runtime.KeepAlive(a)
	return err
}

func (tx *Tx) lockColumn(op string, c *Column) error {
	if err := c.rlock(op); err != nil {
		return err
	}
	if err := tx.lock(op); err != nil {
		c.mu.RUnlock()
		return err
	}
	return nil
}

func (tx *Tx) unlockColumn(c *Column) {
	tx.mu.Unlock()
	c.mu.RUnlock()
}

// ColumnLen is Column.Len in the transaction's view.
func (tx *Tx) ColumnLen(c *Column) (uint64, error) {
	if err := tx.lockColumn("tx.column_len", c); err != nil {
		return 0, err
	}
	defer tx.unlockColumn(c)
	var n C.uint64_t
	var cerr *C.kat_error
	st := C.kat_txn_column_len(tx.h, c.h, &n, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(c)
	return uint64(n), statusError("tx.column_len", st, cerr)
}

// ColumnAppend is Column.Append as part of the transaction.
func (tx *Tx) ColumnAppend(c *Column, value []byte) (uint64, error) {
	if err := tx.lockColumn("tx.column_append", c); err != nil {
		return 0, err
	}
	defer tx.unlockColumn(c)
	var n C.uint64_t
	var cerr *C.kat_error
	st := C.kat_txn_column_append(tx.h, c.h, bytesPtr(value), C.size_t(len(value)), &n, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(c)
	runtime.KeepAlive(value)
	return uint64(n), statusError("tx.column_append", st, cerr)
}

// ColumnExtend is Column.Extend as part of the transaction.
func (tx *Tx) ColumnExtend(c *Column, data []byte) (uint64, error) {
	if err := tx.lockColumn("tx.column_extend", c); err != nil {
		return 0, err
	}
	defer tx.unlockColumn(c)
	var n C.uint64_t
	var cerr *C.kat_error
	st := C.kat_txn_column_extend(tx.h, c.h, bytesPtr(data), C.size_t(len(data)), &n, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(c)
	runtime.KeepAlive(data)
	return uint64(n), statusError("tx.column_extend", st, cerr)
}

// ColumnGet is Column.Get in the transaction's view.
func (tx *Tx) ColumnGet(c *Column, index int64) ([]byte, error) {
	if err := tx.lockColumn("tx.column_get", c); err != nil {
		return nil, err
	}
	defer tx.unlockColumn(c)
	var buf C.kat_buf
	var cerr *C.kat_error
	st := C.kat_txn_column_get(tx.h, c.h, C.int64_t(index), &buf, &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(c)
	if err := statusError("tx.column_get", st, cerr); err != nil {
		return nil, err
	}
	return takeBuf(&buf), nil
}

// ColumnSet is Column.Set as part of the transaction.
func (tx *Tx) ColumnSet(c *Column, index int64, value []byte) error {
	if err := tx.lockColumn("tx.column_set", c); err != nil {
		return err
	}
	defer tx.unlockColumn(c)
	var cerr *C.kat_error
	st := C.kat_txn_column_set(tx.h, c.h, C.int64_t(index), bytesPtr(value), C.size_t(len(value)), &cerr)
	runtime.KeepAlive(tx)
	runtime.KeepAlive(c)
	runtime.KeepAlive(value)
	return statusError("tx.column_set", st, cerr)
}

// littleEndian reports whether this machine stores integers little-endian, as columns
// do: then typed slices are passed to the library without conversion.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// int64Bytes views values as little-endian bytes (a converted copy on big-endian
// machines).
func int64Bytes(values []int64) []byte {
	if len(values) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(values))), len(values)*8)
	}
	out := make([]byte, len(values)*8)
	for i, v := range values {
		binary.LittleEndian.PutUint64(out[i*8:], uint64(v))
	}
	return out
}

func float64Bytes(values []float64) []byte {
	if len(values) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(values))), len(values)*8)
	}
	out := make([]byte, len(values)*8)
	for i, v := range values {
		binary.LittleEndian.PutUint64(out[i*8:], math.Float64bits(v))
	}
	return out
}
