package katamari

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

const testChunk = 4096

func testBucket(t *testing.T, db *DB, name string, opts ...BucketOption) *Bucket {
	t.Helper()
	b, err := db.Bucket(name, append([]BucketOption{WithChunkSize(testChunk)}, opts...)...)
	if err != nil {
		t.Fatalf("Bucket(%s): %v", name, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func randomBytes(n int, seed int64) []byte {
	r := rand.New(rand.NewSource(seed))
	b := make([]byte, n)
	for i := range b {
		if (i/512)%2 == 0 {
			b[i] = byte('a' + i%7)
		} else {
			b[i] = byte(r.Intn(256))
		}
	}
	return b
}

func TestBucketCodecsRoundTrip(t *testing.T) {
	db := openTest(t)
	key := bytes.Repeat([]byte{7}, 32)
	codecs := []struct {
		c     Compression
		level int
	}{{CompressionNone, 0}, {CompressionZlib, 6}, {CompressionZstd, 3}}
	sizes := []int{0, 1, testChunk - 1, testChunk, testChunk + 1, 3*testChunk + 5}
	for i, c := range codecs {
		for _, encrypted := range []bool{false, true} {
			opts := []BucketOption{WithCompression(c.c, c.level)}
			if encrypted {
				opts = append(opts, WithEncryptionKey(key))
			}
			b := testBucket(t, db, fmt.Sprintf("b%d-%v", i, encrypted), opts...)
			for _, size := range sizes {
				data := randomBytes(size, int64(size))
				info, err := b.Put([]byte("obj"), data)
				if err != nil {
					t.Fatal(err)
				}
				if info.Size != uint64(size) || info.SHA256 != sha256.Sum256(data) {
					t.Fatalf("info %+v", info)
				}
				got, ginfo, err := b.Get([]byte("obj"))
				if err != nil || !bytes.Equal(got, data) || ginfo.Version != info.Version {
					t.Fatalf("codec %d enc %v size %d: get %v", i, encrypted, size, err)
				}
				// Streamed both ways through io.Copy.
				w, err := b.NewWriter([]byte("obj"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
				winfo, err := w.Commit()
				if err != nil || winfo.Version != info.Version+1 || winfo.SHA256Hex != info.SHA256Hex {
					t.Fatalf("commit: %+v %v", winfo, err)
				}
				w.Close()
				r, err := b.NewReader([]byte("obj"))
				if err != nil {
					t.Fatal(err)
				}
				var back bytes.Buffer
				if _, err := io.Copy(&back, r); err != nil {
					t.Fatal(err)
				}
				r.Close()
				if !bytes.Equal(back.Bytes(), data) {
					t.Fatalf("streamed read differs (codec %d, size %d)", i, size)
				}
			}
		}
	}
}

func TestBucketVersionsListAndDelete(t *testing.T) {
	db := openTest(t)
	b := testBucket(t, db, "docs")
	key := []byte{'a', 0, 0xff}
	for i := 1; i <= 3; i++ {
		info, err := b.Put(key, []byte(fmt.Sprint("v", i)), WithContentType("text/plain"), WithMetadata("n", fmt.Sprint(i)))
		if err != nil || info.Version != uint64(i) {
			t.Fatalf("put %d: %+v %v", i, info, err)
		}
		if info.ContentType != "text/plain" || info.Metadata["n"] != fmt.Sprint(i) || !bytes.Equal(info.Key, key) {
			t.Fatalf("info %+v", info)
		}
	}
	vs, err := b.Versions(key)
	if err != nil || len(vs) != 3 || vs[0].Version != 1 {
		t.Fatalf("versions %v %v", vs, err)
	}
	old, _, err := b.GetVersion(key, 1)
	if err != nil || string(old) != "v1" {
		t.Fatalf("get v1: %q %v", old, err)
	}
	if err := b.DeleteVersion(key, 3); err != nil {
		t.Fatal(err)
	}
	if h, err := b.Head(key); err != nil || h.Version != 2 {
		t.Fatalf("head after deleting v3: %+v %v", h, err)
	}
	wantCode(t, b.DeleteVersion(key, 3), ErrNotFound, CodeNotFound)
	if err := b.Delete(key); err != nil {
		t.Fatal(err)
	}
	_, err = b.Head(key)
	wantCode(t, err, ErrNotFound, CodeNotFound)
	if info, err := b.Put(key, []byte("again")); err != nil || info.Version != 4 {
		t.Fatalf("version after delete: %+v %v", info, err)
	}

	for _, k := range []string{"p/a", "p/b", "p/c", "p/d", "q/x"} {
		if _, err := b.Put([]byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	var after []byte
	for {
		page, err := b.List([]byte("p/"), after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, o := range page {
			seen = append(seen, string(o.Key))
		}
		after = page[len(page)-1].Key
	}
	if !equalStrings(seen, []string{"p/a", "p/b", "p/c", "p/d"}) {
		t.Fatalf("paged list %v", seen)
	}
	all, err := b.List(nil, nil, 0)
	if err != nil || len(all) != 6 {
		t.Fatalf("list all %d %v", len(all), err)
	}
	names, err := db.Buckets()
	if err != nil || !equalStrings(names, []string{"docs"}) {
		t.Fatalf("buckets %v %v", names, err)
	}
}

func TestBucketChecksEncryptionAndErrors(t *testing.T) {
	db := openTest(t)
	b := testBucket(t, db, "b")
	_, err := b.Put([]byte("k"), []byte("data"), WithExpectedSHA256([32]byte{}))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	if _, err := b.Head([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused put stored something: %v", err)
	}
	if _, err := b.Put([]byte("k"), []byte("data"), WithExpectedSHA256(sha256.Sum256([]byte("data")))); err != nil {
		t.Fatal(err)
	}
	_, err = b.Put(nil, []byte("x"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = db.Bucket("bad", WithChunkSize(10))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	_, err = db.Bucket("bad", WithCompression(CompressionZstd, 99))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)

	key := bytes.Repeat([]byte{1}, 32)
	v, err := db.Bucket("vault", WithEncryptionKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put([]byte("s"), []byte("secret")); err != nil {
		t.Fatal(err)
	}
	v.Close()
	_, err = db.Bucket("vault", WithEncryptionKey(bytes.Repeat([]byte{2}, 32)))
	wantCode(t, err, ErrAuthFailed, CodeAuthFailed)
	_, err = db.Bucket("vault")
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)

	// Reader seeks.
	data := randomBytes(5*testChunk+17, 3)
	if _, err := b.Put([]byte("big"), data); err != nil {
		t.Fatal(err)
	}
	r, err := b.NewReader([]byte("big"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if pos, err := r.Seek(-20, io.SeekEnd); err != nil || pos != int64(len(data)-20) {
		t.Fatalf("seek end: %d %v", pos, err)
	}
	tail, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(tail, data[len(data)-20:]) {
		t.Fatalf("tail %v", err)
	}
	if _, err := r.Seek(testChunk-3, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data[testChunk-3:testChunk+7]) {
		t.Fatalf("read across chunks: %v", err)
	}
	if _, err := r.Seek(-int64(2*len(data)), io.SeekCurrent); err == nil {
		t.Fatal("seek before the start succeeded")
	}

	// Aborted and abandoned uploads leave nothing.
	w, _ := b.NewWriter([]byte("gone"))
	w.Write(data)
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	_, err = w.Write([]byte("x"))
	wantCode(t, err, ErrInvalidArgument, CodeInvalidArgument)
	w.Close()
	w, _ = b.NewWriter([]byte("gone"))
	w.Write(data)
	w.Close()
	if _, err := b.Head([]byte("gone")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted upload visible: %v", err)
	}
}

func TestBucketTransactionsAndClose(t *testing.T) {
	db := openTest(t)
	b := testBucket(t, db, "b")
	tx, err := db.Begin(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Put([]byte("kv"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.BucketPut(b, []byte("o"), []byte("in tx")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := tx.BucketGet(b, []byte("o"), 0); err != nil || string(got) != "in tx" {
		t.Fatalf("own write: %q %v", got, err)
	}
	w, _ := b.NewWriter([]byte("s"))
	w.Write([]byte("streamed"))
	if _, err := w.CommitTx(tx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := b.Head([]byte("o")); !errors.Is(err, ErrNotFound) {
		t.Fatal("visible before commit")
	}
	tx.Rollback()
	if _, err := b.Head([]byte("s")); !errors.Is(err, ErrNotFound) {
		t.Fatal("aborted stream visible")
	}
	err = db.Update(func(tx *Tx) error {
		if _, err := tx.BucketPut(b, []byte("o"), []byte("kept")); err != nil {
			return err
		}
		_, err := tx.BucketHead(b, []byte("o"), 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.BucketDelete(b, []byte("o"), 0) }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Head([]byte("o")); !errors.Is(err, ErrNotFound) {
		t.Fatal("deleted in tx but still there")
	}
	if _, err := b.Put([]byte("r"), randomBytes(3*testChunk, 1)); err != nil {
		t.Fatal(err)
	}
	r, err := b.NewReader([]byte("r"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DropBucket("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("drop missing: %v", err)
	}
	db.Close()
	_, err = b.Put([]byte("k"), []byte("v"))
	wantCode(t, err, ErrClosed, CodeClosed)
	_, err = r.Read(make([]byte, 10))
	wantCode(t, err, ErrClosed, CodeClosed)
	r.Close()
	r.Close()
	b.Close()
}
