package katamari

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestNoSpace fills a tiny tmpfs (mounted when the test runs as root and may mount;
// skipped otherwise) until a write fails: the failure must be ErrNoSpace.
func TestNoSpace(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	db, err := Open(filepath.Join(mnt, "db"), WithSync(SyncNever, 0), WithSegmentSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 4096)
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		werr = db.Put([]byte{byte(i), byte(i >> 8)}, val)
		if werr == nil && i%8 == 0 {
			werr = db.Sync()
		}
	}
	if werr == nil {
		t.Fatal("4 MB fitted into a 256 KiB tmpfs")
	}
	var e *Error
	errors.As(werr, &e)
	t.Logf("full device: %v", werr)
	if !errors.Is(werr, ErrNoSpace) {
		t.Errorf("writing to a full device returned code %v (%d), want ErrNoSpace: %v", e.Code, e.Code, werr)
	}
}
