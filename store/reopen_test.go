package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// storeWithOffset creates a store at path whose getUpdates offset is
// offset: a mark telling two databases apart.
func storeWithOffset(t *testing.T, path string, offset int64) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(context.Background(), func(tx *Tx) error { return tx.SetOffset(offset) }); err != nil {
		t.Fatal(err)
	}
}

// openedTimes counts this process's descriptors open on path's file.
func openedTimes(t *testing.T, path string) int {
	t.Helper()
	want, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	n := 0
	for _, e := range entries {
		if fi, err := os.Stat(filepath.Join("/proc/self/fd", e.Name())); err == nil && os.SameFile(fi, want) {
			n++
		}
	}
	return n
}

// A bot that starts while restore (or compact) holds the old file's lock
// opens the old file, then waits for its lock; once restore has renamed the
// new database over the path and let go, the bot must run on the new one.
func TestOpenWaitingForTheLockGetsTheFileNowAtThePath(t *testing.T) {
	for _, readOnly := range []bool{false, true} {
		name := "read-write"
		if readOnly {
			name = "read-only"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "danvan.db")
			storeWithOffset(t, path, 111)
			replacement := filepath.Join(dir, "restored.db")
			storeWithOffset(t, replacement, 222)

			// Restore's lock on the old file.
			old, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Flock(int(old.Fd()), syscall.LOCK_EX); err != nil {
				t.Fatal(err)
			}
			type opened struct {
				s   *Store
				err error
			}
			done := make(chan opened, 1)
			go func() {
				s, err := Open(path, Options{LockTimeout: 10 * time.Second, ReadOnly: readOnly})
				done <- opened{s, err}
			}()
			// Wait until the opener holds the old file (ours and its).
			for deadline := time.Now().Add(10 * time.Second); openedTimes(t, path) < 2; {
				if time.Now().After(deadline) {
					t.Fatal("Open never opened the file")
				}
				time.Sleep(time.Millisecond)
			}
			if err := os.Rename(replacement, path); err != nil {
				t.Fatal(err)
			}
			old.Close() // restore lets go

			got := <-done
			if got.err != nil {
				t.Fatalf("Open: %v", got.err)
			}
			defer got.s.Close()
			var offset int64
			got.s.View(context.Background(), func(tx *Tx) error { offset = tx.Offset(); return nil })
			if offset != 222 {
				t.Errorf("the store opened holds offset %d: the old file, not the one now at the path (222)", offset)
			}
		})
	}
}

// Restore into a path with no database takes a lock all the same: a bot
// starting meanwhile waits, then opens the restored database.
func TestRestoreWithoutAnOldFileLocksThePath(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	storeWithOffset(t, backup, 333)
	path := filepath.Join(dir, "danvan.db")

	unlock, exists, err := lockFile(path)
	if err != nil || exists {
		t.Fatalf("lockFile on a missing path: exists %v, %v", exists, err)
	}
	if _, err := Open(path, Options{LockTimeout: 50 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), ErrLocked.Error()) {
		t.Errorf("Open while restore holds the missing path: %v, want ErrLocked", err)
	}
	unlock()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("an abandoned restore leaves a file at the path: %v", err)
	}

	if _, aside, err := Restore(backup, path, time.Now()); err != nil || aside != "" {
		t.Fatalf("Restore: aside %q, %v", aside, err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var offset int64
	s.View(context.Background(), func(tx *Tx) error { offset = tx.Offset(); return nil })
	if offset != 333 {
		t.Errorf("offset %d after restore, want 333", offset)
	}
}

// A database path that is a symbolic link to a lost volume: restore puts
// the copy in the link's place.
func TestRestoreOverADanglingLink(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	storeWithOffset(t, backup, 444)
	path := filepath.Join(dir, "danvan.db")
	if err := os.Symlink(filepath.Join(dir, "lost-volume", "danvan.db"), path); err != nil {
		t.Fatal(err)
	}
	if _, aside, err := Restore(backup, path, time.Now()); err != nil || aside != "" {
		t.Fatalf("Restore: aside %q, %v", aside, err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var offset int64
	s.View(context.Background(), func(tx *Tx) error { offset = tx.Offset(); return nil })
	if offset != 444 {
		t.Errorf("offset %d, want the restored 444", offset)
	}
}
