// Command katamari-demo is the Go part of `make demo`. It opens the data directory
// shared with the C and Node demos, reads what they wrote (keys "c:..." and
// "node:..."), writes its own "go:..." keys, and prints what it did.
//
//	go run ./cmd/katamari-demo <dir>        (in bindings/go)
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
	"unicode/utf8"

	katamari "github.com/katamari-db/katamari/bindings/go"
)

// show prints printable text quoted and anything else as (a prefix of) hex.
func show(b []byte) string {
	if utf8.Valid(b) {
		printable := true
		for _, r := range string(b) {
			if r < 0x20 || r == 0x7f {
				printable = false
				break
			}
		}
		if printable {
			return strconv.Quote(string(b))
		}
	}
	if len(b) > 16 {
		return fmt.Sprintf("<%d bytes: %x...>", len(b), b[:16])
	}
	return fmt.Sprintf("<%d bytes: %x>", len(b), b)
}

func run(dir string) error {
	db, err := katamari.Open(dir)
	if errors.Is(err, katamari.ErrLocked) {
		return fmt.Errorf("%s is open in another process: %w", dir, err)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Printf("go: opened %s with katamari %s (%s)\n", dir, katamari.Version(), runtime.Version())

	// What the others wrote: a prefix scan each, as a range-over-func loop.
	for _, who := range []struct{ prefix, name string }{{"c:", "C"}, {"node:", "Node"}} {
		seq, errf := db.Scan(&katamari.IterOptions{Prefix: []byte(who.prefix)})
		n := 0
		for k, v := range seq {
			if n == 0 {
				fmt.Printf("go: key(s) from %s:\n", who.name)
			}
			fmt.Printf("  %s = %s\n", show(k), show(v))
			n++
		}
		if err := errf(); err != nil {
			return err
		}
		if n == 0 {
			fmt.Printf("go: no keys from %s yet (prefix %q)\n", who.name, who.prefix)
		}
	}

	// Our own keys: one atomic batch ...
	b := katamari.NewBatch()
	defer b.Close()
	mine := [][2]string{
		{"go:greeting", "hello from Go"},
		{"go:version", runtime.Version()},
		{"go:time", time.Now().UTC().Format(time.RFC3339)},
	}
	for _, kv := range mine {
		if err := b.Put([]byte(kv[0]), []byte(kv[1])); err != nil {
			return err
		}
	}
	if err := db.Write(b); err != nil {
		return err
	}
	fmt.Printf("go: wrote %d keys in one atomic batch:\n", len(mine))
	for _, kv := range mine {
		fmt.Printf("  %q = %q\n", kv[0], kv[1])
	}

	// ... then a transaction that counts the Go demo's runs (retried on conflict).
	var runs int
	for {
		err := db.Update(func(tx *katamari.Tx) error {
			runs = 0
			v, err := tx.Get([]byte("go:runs"))
			switch {
			case errors.Is(err, katamari.ErrNotFound):
			case err != nil:
				return err
			default:
				if runs, err = strconv.Atoi(string(v)); err != nil {
					return fmt.Errorf("go:runs holds %q: %w", v, err)
				}
			}
			runs++
			return tx.Put([]byte("go:runs"), []byte(strconv.Itoa(runs)))
		})
		if errors.Is(err, katamari.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	fmt.Printf("go: transaction: go:runs = %d\n", runs)

	st, err := db.Stats()
	if err != nil {
		return err
	}
	fmt.Printf("go: %d live keys in %d segment file(s), last commit #%d\n", st.LiveKeys, st.Segments, st.LastSeq)
	if err := db.Close(); err != nil {
		return err
	}
	fmt.Println("go: closed")
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: katamari-demo <data directory>")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "go demo:", err)
		os.Exit(1)
	}
}
