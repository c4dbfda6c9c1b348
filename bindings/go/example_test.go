package katamari_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	katamari "github.com/katamari-db/katamari/bindings/go"
)

// tempDir returns a fresh directory for an example; a real program uses its own path.
func tempDir() string {
	dir, err := os.MkdirTemp("", "katamari-example-")
	if err != nil {
		log.Fatal(err)
	}
	return filepath.Join(dir, "db")
}

func Example() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.Put([]byte("greeting"), []byte("hello, world")); err != nil {
		log.Fatal(err)
	}
	v, err := db.Get([]byte("greeting"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", v)

	_, err = db.Get([]byte("missing"))
	fmt.Println(errors.Is(err, katamari.ErrNotFound))
	// Output:
	// hello, world
	// true
}

func ExampleOpen() {
	dir := tempDir()
	db, err := katamari.Open(dir,
		katamari.WithSync(katamari.SyncInterval, 100*time.Millisecond),
		katamari.WithSegmentSize(64<<20),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// The directory is locked while open.
	_, err = katamari.Open(dir)
	fmt.Println(errors.Is(err, katamari.ErrLocked))
	// Output: true
}

func ExampleDB_Update() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// Move 10 from a to b atomically; an error from the function rolls back.
	db.Put([]byte("a"), []byte("30"))
	db.Put([]byte("b"), []byte("0"))
	err = db.Update(func(tx *katamari.Tx) error {
		var a, b int
		va, err := tx.Get([]byte("a"))
		if err != nil {
			return err
		}
		vb, err := tx.Get([]byte("b"))
		if err != nil {
			return err
		}
		fmt.Sscan(string(va), &a)
		fmt.Sscan(string(vb), &b)
		if err := tx.Put([]byte("a"), fmt.Append(nil, a-10)); err != nil {
			return err
		}
		return tx.Put([]byte("b"), fmt.Append(nil, b+10))
	})
	if errors.Is(err, katamari.ErrConflict) {
		// Another transaction changed a or b first; nothing was written. Retry.
	} else if err != nil {
		log.Fatal(err)
	}
	a, _ := db.Get([]byte("a"))
	b, _ := db.Get([]byte("b"))
	fmt.Printf("a=%s b=%s\n", a, b)
	// Output: a=20 b=10
}

func ExampleDB_View() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.Put([]byte("k"), []byte("v"))

	err = db.View(func(tx *katamari.Tx) error {
		v, err := tx.Get([]byte("k"))
		fmt.Printf("read %s\n", v)
		if err != nil {
			return err
		}
		return tx.Put([]byte("k"), []byte("new")) // read-only
	})
	fmt.Println(errors.Is(err, katamari.ErrReadOnly))
	// Output:
	// read v
	// true
}

func ExampleDB_Begin() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	t1, _ := db.Begin(nil)
	defer t1.Rollback()
	t2, _ := db.Begin(nil)
	defer t2.Rollback()
	t1.Put([]byte("k"), []byte("from t1"))
	t2.Put([]byte("k"), []byte("from t2"))
	fmt.Println(t1.Commit())
	err = t2.Commit() // first committer wins
	fmt.Println(errors.Is(err, katamari.ErrConflict))
	// Output:
	// <nil>
	// true
}

func ExampleDB_Iterator() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"user:1", "user:2", "user:3", "order:1"} {
		db.Put([]byte(k), []byte("v"))
	}

	it, err := db.Iterator(&katamari.IterOptions{Prefix: []byte("user:"), Reverse: true})
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%s\n", it.Key())
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// user:3
	// user:2
	// user:1
}

func ExampleIterator_Seek() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"a", "c", "e"} {
		db.Put([]byte(k), nil)
	}
	it, _ := db.Iterator(nil)
	defer it.Close()
	it.Seek([]byte("b"))
	it.Next()
	fmt.Printf("after Seek(b): %s\n", it.Key())
	it.Prev()
	fmt.Printf("Prev: %s\n", it.Key())
	// Output:
	// after Seek(b): c
	// Prev: a
}

func ExampleDB_Scan() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.Put([]byte("a"), []byte("1"))
	db.Put([]byte("b"), []byte("2"))
	db.Put([]byte("c"), []byte("3"))

	seq, errf := db.Scan(&katamari.IterOptions{Start: []byte("b")})
	for k, v := range seq {
		fmt.Printf("%s=%s\n", k, v)
	}
	if err := errf(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// b=2
	// c=3
}

func ExampleDB_All() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.Put([]byte("x:1"), []byte("one"))
	db.Put([]byte("x:2"), []byte("two"))
	for k, v := range db.All(&katamari.IterOptions{Prefix: []byte("x:")}) {
		fmt.Printf("%s=%s\n", k, v)
	}
	// Output:
	// x:1=one
	// x:2=two
}

func ExampleBatch() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	b := katamari.NewBatch()
	defer b.Close()
	b.Put([]byte("a"), []byte("1"))
	b.Put([]byte("b"), []byte("2"))
	b.Delete([]byte("a"))
	if err := db.Write(b); err != nil { // all or nothing
		log.Fatal(err)
	}
	_, err = db.Get([]byte("a"))
	v, _ := db.Get([]byte("b"))
	fmt.Println(b.Len(), errors.Is(err, katamari.ErrNotFound), string(v))
	// Output: 3 true 2
}

func ExampleDB_Keyspace() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	users, err := db.Keyspace("users")
	if err != nil {
		log.Fatal(err)
	}
	users.Put([]byte("1"), []byte("Ada"))
	db.Put([]byte("1"), []byte("default keyspace"))

	// One transaction across keyspaces.
	db.Update(func(tx *katamari.Tx) error {
		return tx.PutIn(users, []byte("2"), []byte("Grace"))
	})
	for k, v := range users.All(nil) {
		fmt.Printf("users %s=%s\n", k, v)
	}
	names, _ := db.Keyspaces()
	fmt.Println(names)
	// Output:
	// users 1=Ada
	// users 2=Grace
	// [users]
}

func ExampleDB_ExpiresAt() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.PutTTL([]byte("session"), []byte("token"), 30*time.Minute); err != nil {
		log.Fatal(err)
	}
	if err := db.Put([]byte("config"), []byte("v1")); err != nil {
		log.Fatal(err)
	}

	at, err := db.ExpiresAt([]byte("session"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(time.Until(at).Round(time.Minute))

	at, err = db.ExpiresAt([]byte("config"))
	fmt.Println(at.IsZero(), err) // never expires

	_, err = db.ExpiresAt([]byte("missing"))
	fmt.Println(errors.Is(err, katamari.ErrNotFound))
	// Output:
	// 30m0s
	// true <nil>
	// true
}

func ExampleError() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	db.Close()

	err = db.Put([]byte("k"), []byte("v"))
	var kerr *katamari.Error
	if errors.As(err, &kerr) {
		fmt.Println(kerr.Code == katamari.CodeClosed, kerr.Op)
	}
	fmt.Println(errors.Is(err, katamari.ErrClosed))
	// Output:
	// true put
	// true
}

func ExampleDB_Merge() {
	db, err := katamari.Open(tempDir(),
		katamari.WithSync(katamari.SyncNever, 0),
		katamari.WithSegmentSize(4096),
		katamari.WithAutoMerge(0, 0), // merge only when asked
	)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// Ten versions of 100 keys: nine of every ten records are dead.
	for round := 0; round < 10; round++ {
		for i := 0; i < 100; i++ {
			db.Put(fmt.Appendf(nil, "key-%03d", i), fmt.Appendf(nil, "round-%d", round))
		}
	}
	before, _ := db.Stats()
	m, err := db.Merge()
	if err != nil {
		log.Fatal(err)
	}
	after, _ := db.Stats()
	v, _ := db.Get([]byte("key-042"))
	fmt.Println(m.Records, "records kept;", string(v))
	fmt.Println(after.TotalBytes < before.TotalBytes/5, after.Merges)
	// Output:
	// 100 records kept; round-9
	// true 1
}

func ExampleDB_Backup() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.Put([]byte("greeting"), []byte("hello"))

	// The destination must not exist yet; its parent must.
	dest := tempDir()
	info, err := db.Backup(dest)
	if err != nil {
		log.Fatal(err)
	}
	db.Put([]byte("greeting"), []byte("changed after the backup"))

	backup, err := katamari.Open(dest)
	if err != nil {
		log.Fatal(err)
	}
	defer backup.Close()
	v, _ := backup.Get([]byte("greeting"))
	st, _ := backup.Stats()
	fmt.Printf("%s, at seq %v: %v\n", v, info.Seq, st.LastSeq == info.Seq)
	// A second backup into the same directory is refused.
	_, err = db.Backup(dest)
	fmt.Println(errors.Is(err, katamari.ErrInvalidArgument))
	// Output:
	// hello, at seq 1: true
	// true
}

func ExampleDB_Verify() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.Put([]byte("k"), []byte("v"))

	r, err := db.Verify() // damage is in the report; err is for a check that could not run
	if err != nil {
		log.Fatal(err)
	}
	if !r.Clean() {
		fmt.Printf("damage in segment %d at byte %d: %s\n", r.FirstBadSegment, r.FirstBadOffset, r.FirstBadReason)
	}
	fmt.Println(r.Clean(), r.Records)
	// Output: true 1
}

// A bucket keeps versioned objects with a checksum, a content type and metadata;
// NewWriter and NewReader stream objects larger than memory.
func ExampleDB_Bucket() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	photos, err := db.Bucket("photos", katamari.WithCompression(katamari.CompressionZstd, 3))
	if err != nil {
		log.Fatal(err)
	}
	defer photos.Close()
	info, err := photos.Put([]byte("cat.txt"), []byte("meow"), katamari.WithContentType("text/plain"))
	if err != nil {
		log.Fatal(err)
	}
	data, _, err := photos.Get([]byte("cat.txt"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Version, string(data), info.SHA256Hex[:8])
	// Output: 1 meow 404cdd7b
}

// A column is a typed sequence with list-like access; an appender batches single
// appends into few commits.
func ExampleDB_CreateColumn() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	prices, err := db.CreateColumn("prices", katamari.ColumnFloat64, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer prices.Close()
	if _, err := prices.ExtendFloat64([]float64{101.5, 99.25}); err != nil {
		log.Fatal(err)
	}
	a, err := prices.NewAppender()
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range []float64{100, 100.5} {
		if err := a.AppendFloat64(p); err != nil {
			log.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		log.Fatal(err)
	}
	last, _ := prices.GetFloat64(-1)
	all, _ := prices.RangeFloat64(0, 4)
	fmt.Println(last, all)
	// Output: 100.5 [101.5 99.25 100 100.5]
}

// Each put of a key makes a new version; older versions stay readable until deleted,
// and List pages through the newest version of each key.
func ExampleBucket() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	docs, err := db.Bucket("docs")
	if err != nil {
		log.Fatal(err)
	}
	defer docs.Close()

	for _, text := range []string{"draft", "final"} {
		if _, err := docs.Put([]byte("report.txt"), []byte(text),
			katamari.WithContentType("text/plain"), katamari.WithMetadata("author", "ada")); err != nil {
			log.Fatal(err)
		}
	}
	docs.Put([]byte("notes.txt"), []byte("remember"))

	data, info, err := docs.Get([]byte("report.txt"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s v%d %s %s\n", data, info.Version, info.ContentType, info.Metadata["author"])
	old, _, _ := docs.GetVersion([]byte("report.txt"), 1)
	fmt.Printf("%s\n", old)

	versions, _ := docs.Versions([]byte("report.txt"))
	fmt.Println(len(versions), "versions")

	var after []byte
	for {
		page, err := docs.List(nil, after, 1) // one per page, to show paging
		if err != nil {
			log.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		fmt.Printf("%s (%d bytes)\n", page[0].Key, page[0].Size)
		after = page[0].Key
	}

	docs.Delete([]byte("notes.txt"))
	_, _, err = docs.Get([]byte("notes.txt"))
	fmt.Println(errors.Is(err, katamari.ErrNotFound))
	// Output:
	// final v2 text/plain ada
	// draft
	// 2 versions
	// notes.txt (8 bytes)
	// report.txt (5 bytes)
	// true
}

// NewWriter streams an upload (here through io.Copy) that appears atomically on
// Commit; NewReader streams it back and can seek. Memory stays at about two chunks
// whatever the object's size.
func ExampleBucket_NewWriter() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	key := bytes.Repeat([]byte{0x42}, 32) // keep real keys out of the source
	backups, err := db.Bucket("backups",
		katamari.WithCompression(katamari.CompressionZstd, 3),
		katamari.WithChunkSize(64<<10),
		katamari.WithEncryptionKey(key))
	if err != nil {
		log.Fatal(err)
	}
	defer backups.Close()

	content := strings.Repeat("a line of a large file\n", 100_000) // 2.3 MB
	w, err := backups.NewWriter([]byte("2026/11/dump.sql"))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close() // aborts the upload unless it was committed
	if _, err := io.Copy(w, strings.NewReader(content)); err != nil {
		log.Fatal(err)
	}
	info, err := w.Commit()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Size, info.StoredSize < info.Size/100)

	r, err := backups.NewReader([]byte("2026/11/dump.sql"))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Seek(-5, io.SeekEnd); err != nil {
		log.Fatal(err)
	}
	tail, _ := io.ReadAll(r)
	fmt.Printf("%q\n", tail)

	r.Seek(0, io.SeekStart)
	sum := sha256.New()
	io.Copy(sum, r) // checks the stored SHA-256 on the way
	fmt.Println(hex.EncodeToString(sum.Sum(nil)) == info.SHA256Hex)

	_, err = db.Bucket("backups", katamari.WithEncryptionKey(make([]byte, 32)))
	fmt.Println(errors.Is(err, katamari.ErrAuthFailed))
	// Output:
	// 2300000 true
	// "file\n"
	// true
	// true
}

// A bucket write joins a transaction's other writes and becomes visible when it
// commits.
func ExampleTx_BucketPut() {
	db, err := katamari.Open(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	avatars, err := db.Bucket("avatars")
	if err != nil {
		log.Fatal(err)
	}
	defer avatars.Close()

	err = db.Update(func(tx *katamari.Tx) error {
		info, err := tx.BucketPut(avatars, []byte("ada.png"), []byte("\x89PNG..."),
			katamari.WithContentType("image/png"))
		if err != nil {
			return err
		}
		return tx.Put([]byte("user:ada:avatar"), []byte(info.SHA256Hex))
	})
	if err != nil {
		log.Fatal(err)
	}
	ref, _ := db.Get([]byte("user:ada:avatar"))
	h, _ := avatars.Head([]byte("ada.png"))
	fmt.Println(string(ref) == h.SHA256Hex, h.ContentType)
	// Output: true image/png
}
