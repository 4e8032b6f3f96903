package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// contents returns every key and value of the store, nested buckets
// included, keyed by bucket path and key.
func contents(t *testing.T, s *Store) map[string]string {
	t.Helper()
	m := make(map[string]string)
	err := s.Walk(func(path []string, k, v []byte) error {
		m[strings.Join(path, "/")+"\x00"+string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameContents reports the first difference between two stores' contents.
func sameContents(got, want map[string]string) error {
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			return fmt.Errorf("missing %q", k)
		}
		if g != v {
			return fmt.Errorf("%q: got %q, want %q", k, g, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("extra %q", k)
		}
	}
	return nil
}

// dirState names every file in dir with its size and digest, to show that
// an operation touched nothing.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		m[e.Name()] = fmt.Sprintf("%d %s", len(data), hex.EncodeToString(sum[:]))
	}
	return m
}

// fill adds n units, each with an audit entry, in one transaction.
func fill(t *testing.T, s *Store, from, n int) {
	t.Helper()
	err := s.Update(ctx, func(tx *Tx) error {
		for i := from; i < from+n; i++ {
			u, err := tx.AddUnit(Unit{Code: fmt.Sprintf("U-%d", i), Name: fmt.Sprintf("Chi hội Phụ nữ thôn %d", i), Kind: KindPhuNu, Created: time.Now()})
			if err != nil {
				return err
			}
			if err := tx.Audit(AuditEntry{At: time.Now(), ActorName: "Nguyễn Văn Thành", Action: AuditUnitCreate, Target: u.Code}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeBackupFile(t *testing.T, s *Store) string {
	t.Helper()
	var buf bytes.Buffer
	n, err := s.WriteBackup(ctx, &buf)
	if err != nil {
		t.Fatalf("WriteBackup: %v", err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteBackup returned %d, wrote %d bytes", n, buf.Len())
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBackupRecords(t *testing.T) {
	s := open(t)
	at := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.LastBackup(); !errors.Is(err, ErrNotFound) {
			t.Errorf("LastBackup of a new store: got %v, want ErrNotFound", err)
		}
		if f, ok := tx.BackupFailures(); ok {
			t.Errorf("new store has failures %+v", f)
		}
		for i, want := range []int{1, 2, 3} {
			f, err := tx.BackupFailed(at.Add(time.Duration(i)*24*time.Hour), "disk full")
			if err != nil {
				return err
			}
			if f.Count != want || !f.Since.Equal(at) {
				t.Errorf("failure %d: got %+v, want count %d since %v", i, f, want, at)
			}
		}
		// A manual backup is recorded but does not end the streak of
		// failed scheduled ones.
		manual := BackupRecord{At: at.Add(80 * time.Hour), Size: 4096, Path: "/mnt/usb/danvan.db"}
		if ended, err := tx.RecordBackup(manual); err != nil || ended.Count != 0 {
			t.Errorf("manual backup: ended %+v, %v; want no streak ended", ended, err)
		}
		if f, ok := tx.BackupFailures(); !ok || f.Count != 3 {
			t.Errorf("after a manual backup: failures %+v, want the streak of 3", f)
		}
		scheduled := BackupRecord{At: at.Add(96 * time.Hour), Size: 8192, Path: "/var/lib/danvan/backups/danvan-20261130-020000.db", Scheduled: true}
		ended, err := tx.RecordBackup(scheduled)
		if err != nil || ended.Count != 3 || !ended.Since.Equal(at) {
			t.Errorf("scheduled backup: ended %+v, %v; want the streak of 3", ended, err)
		}
		if f, ok := tx.BackupFailures(); ok {
			t.Errorf("after a scheduled backup: failures %+v, want none", f)
		}
		last, err := tx.LastBackup()
		if err != nil || last != scheduled {
			t.Errorf("LastBackup: got %+v, %v; want %+v", last, err, scheduled)
		}
		if f, _ := tx.BackupFailed(at.Add(120*time.Hour), "again"); f.Count != 1 {
			t.Errorf("a failure after a success: count %d, want 1 (a new streak)", f.Count)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBackupWhileWriting takes copies while a writer adds units with their
// audit entries: every copy holds whole transactions only, and the copy
// taken at rest is the store itself.
func TestBackupWhileWriting(t *testing.T) {
	s := open(t)
	fill(t, s, 0, 100)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 100; ; i += 10 {
			select {
			case <-stop:
				return
			default:
			}
			fill(t, s, i, 10)
		}
	})
	for range 5 {
		path := writeBackupFile(t, s)
		if _, err := Check(path); err != nil {
			t.Fatalf("Check of a copy taken while writing: %v", err)
		}
		c, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = c.View(ctx, func(tx *Tx) error {
			entries, err := tx.AuditLog(0, 1<<20)
			if units := tx.UnitCount(); units != len(entries) || units < 100 || units%10 != 0 {
				t.Errorf("copy: %d units, %d audit entries (%v); want equal, whole transactions of 10", units, len(entries), err)
			}
			return nil
		})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()

	path := writeBackupFile(t, s)
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := sameContents(contents(t, c), contents(t, s)); err != nil {
		t.Errorf("copy at rest differs from the store: %v", err)
	}
}

func TestWriteBackupStopsWhenCancelled(t *testing.T) {
	s := open(t)
	fill(t, s, 0, 10)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.WriteBackup(cctx, &bytes.Buffer{}); err == nil {
		t.Error("WriteBackup with a cancelled context succeeded")
	}
}

// testFile is a file for Check and Restore: want is the error Check
// gives (nil: accepted with schema), message a word of its reason.
type testFile struct {
	name    string
	path    string
	want    error
	schema  int
	message string
}

// checkFiles writes into dir a danvan store and every kind of file Check
// must refuse.
func checkFiles(t *testing.T, dir string) []testFile {
	t.Helper()
	good := filepath.Join(dir, "good.db")
	s, err := Open(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 0, 50)
	s.Close()
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// bboltFile builds a bbolt file changed by fn.
	bboltFile := func(name string, fn func(*bolt.Tx) error) string {
		path := filepath.Join(dir, name)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
		db.Close()
		return path
	}
	withSchema := func(name string, version uint64) string {
		path := write(name, data)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(version)) })
		db.Close()
		return path
	}
	// farPage is a danvan-looking file whose branch page points to a page
	// 64 GiB past its start, as bit rot could leave it: touching it
	// faults, which crashed the process when bbolt's own check goroutine
	// got there first.
	farPage := func(name string) string {
		path := bboltFile(name, func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			if err := meta.Put(keySchema, u64(SchemaVersion)); err != nil {
				return err
			}
			x, err := tx.CreateBucket([]byte("x"))
			if err != nil {
				return err
			}
			for i := range 2000 {
				if err := x.Put(u64(uint64(i)), bytes.Repeat([]byte{'v'}, 100)); err != nil {
					return err
				}
			}
			return nil
		})
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		size := os.Getpagesize()
		for off := 2 * size; off+size <= len(data); off += size {
			// The page header: id u64, flags u16 (branch 0x01), count
			// u16, overflow u32; then elements of pos u32, ksize u32,
			// pgid u64.
			if binary.LittleEndian.Uint16(data[off+8:]) == 0x01 {
				binary.LittleEndian.PutUint64(data[off+16+8:], 1<<24)
				return write(name, data)
			}
		}
		t.Fatal("no branch page to damage")
		return ""
	}
	random := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{1}).Read(random)
	sub := filepath.Join(dir, "a-directory")
	os.Mkdir(sub, 0o700)
	return []testFile{
		{name: "a danvan store", path: good, schema: SchemaVersion},
		{name: "an older schema", path: withSchema("old.db", 1), schema: 1},
		{name: "random bytes", path: write("random.db", random), want: ErrNotStore, message: "invalid"},
		{name: "an empty file", path: write("empty.db", nil), want: ErrNotStore, message: "empty"},
		{name: "an empty bbolt file", path: bboltFile("bare.db", func(*bolt.Tx) error { return nil }), want: ErrNotStore, message: "no meta bucket"},
		{name: "a bbolt file without the schema key", path: bboltFile("noschema.db", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			return b.Put([]byte("other"), []byte("x"))
		}), want: ErrNotStore, message: "no schema version"},
		{name: "a future schema", path: withSchema("future.db", SchemaVersion+1), want: ErrNewerSchema, message: "reads up to"},
		{name: "a truncated copy", path: write("truncated.db", data[:len(data)/2]), want: ErrNotStore, message: "truncated"},
		{name: "a directory", path: sub, want: ErrNotStore, message: "not a regular file"},
		{name: "a page past the end", path: farPage("far.db"), want: ErrNotStore, message: "damaged"},
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range checkFiles(t, dir) {
		t.Run(tt.name, func(t *testing.T) {
			schema, err := Check(tt.path)
			if tt.want == nil {
				if err != nil || schema != tt.schema {
					t.Errorf("got schema %d, %v; want %d", schema, err, tt.schema)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("got %d, %v; want %v naming the file and saying %q", schema, err, tt.want, tt.message)
			}
		})
	}
	if _, err := Check(filepath.Join(dir, "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want ErrNotExist", err)
	}
}

func TestRestore(t *testing.T) {
	source := open(t)
	fill(t, source, 0, 30)
	backup := writeBackupFile(t, source)
	want := contents(t, source)
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

	t.Run("over an existing store, kept aside", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "danvan.db")
		old, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fill(t, old, 1000, 3)
		oldContents := contents(t, old)
		old.Close()

		schema, aside, err := Restore(backup, path, at)
		if err != nil || schema != SchemaVersion {
			t.Fatalf("Restore: schema %d, %v", schema, err)
		}
		if wantAside := path + ".before-restore-20261126-093000"; aside != wantAside {
			t.Errorf("aside %q, want %q", aside, wantAside)
		}
		restored, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sameContents(contents(t, restored), want); err != nil {
			t.Errorf("restored store differs from the backup: %v", err)
		}
		restored.Close()
		kept, err := Open(aside, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sameContents(contents(t, kept), oldContents); err != nil {
			t.Errorf("the file kept aside differs from the old store: %v", err)
		}
		kept.Close()
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("restored file: %v, %v; want mode 600", info.Mode(), err)
		}
		if names := dirState(t, dir); len(names) != 2 {
			t.Errorf("directory holds %v, want the store and the old one only", names)
		}
		// A second restore in the same second would overwrite the kept file: refused.
		if _, _, err := Restore(backup, path, at); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("second restore at the same time: got %v, want a refusal", err)
		}
	})

	t.Run("after a disk loss", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gone", "danvan.db")
		_, aside, err := Restore(backup, path, at)
		if err != nil || aside != "" {
			t.Fatalf("Restore: aside %q, %v; want none", aside, err)
		}
		restored, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer restored.Close()
		if err := sameContents(contents(t, restored), want); err != nil {
			t.Errorf("restored store differs from the backup: %v", err)
		}
	})

	t.Run("refused, touching nothing", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "danvan.db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s, 500, 2)
		s.Close()
		before := dirState(t, dir)
		for _, f := range checkFiles(t, t.TempDir()) {
			if f.want == nil {
				continue
			}
			if _, _, err := Restore(f.path, path, at); !errors.Is(err, f.want) {
				t.Errorf("restore of %s: got %v, want %v", f.name, err, f.want)
			}
		}
		if after := dirState(t, dir); sameContents(after, before) != nil {
			t.Errorf("refused restores changed the directory: %v → %v", before, after)
		}
		// The running bot holds the store (opening it writes).
		held, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		before = dirState(t, dir)
		if _, _, err := Restore(backup, path, at); !errors.Is(err, ErrLocked) {
			t.Errorf("restore while the store is held: got %v, want ErrLocked", err)
		}
		held.Close()
		if after := dirState(t, dir); sameContents(after, before) != nil {
			t.Errorf("a restore refused while the store was held changed the directory: %v → %v", before, after)
		}
	})
}

func TestCompact(t *testing.T) {
	s := open(t)
	path := s.Path()
	// Many records, most of them deleted again.
	big := strings.Repeat("Thông báo họp giao ban Mặt trận xã Thái Bình. ", 40)
	for batch := range 20 {
		err := s.Update(ctx, func(tx *Tx) error {
			for i := range 200 {
				if _, err := tx.Enqueue(OutboxRow{ChatID: int64(batch*1000 + i), Created: time.Now(), Action: Action{Kind: ActSend, Text: big}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.Update(ctx, func(tx *Tx) error {
		rows, err := tx.PendingOutbox(0, 1<<20)
		if err != nil {
			return err
		}
		for _, r := range rows[:len(rows)-10] {
			if err := tx.AckOutbox(r, 1, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 0, 20)
	want := contents(t, s)
	if _, _, err := Compact(path); !errors.Is(err, ErrLocked) {
		t.Errorf("Compact while the store is open: got %v, want ErrLocked", err)
	}
	s.Close()

	before, after, err := Compact(path)
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if after >= before/2 {
		t.Errorf("sizes %d → %d, want the file at least halved", before, after)
	}
	if info, err := os.Stat(path); err != nil || info.Size() != after || info.Mode().Perm() != 0o600 {
		t.Errorf("compacted file: %v, %v; want %d bytes, mode 600", info, err, after)
	}
	if names := dirState(t, filepath.Dir(path)); len(names) != 1 {
		t.Errorf("directory holds %v, want only the store", names)
	}
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := sameContents(contents(t, c), want); err != nil {
		t.Errorf("compacted store differs: %v", err)
	}
	// Sequences go on where they were: no audit entry is numbered twice.
	err = c.Update(ctx, func(tx *Tx) error {
		if err := tx.Audit(AuditEntry{At: time.Now(), ActorName: "CLI", Action: AuditUnitsImport}); err != nil {
			return err
		}
		log, err := tx.AuditLog(0, 1)
		if err != nil || log[0].Seq != 21 {
			t.Errorf("next audit entry: %+v, %v; want sequence 21", log, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	s := open(t)
	path := s.Path()
	fill(t, s, 0, 3)
	if _, err := Open(path, Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("read-only open while a writer holds the store: got %v, want ErrLocked", err)
	}
	s.Close()
	r1, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	defer r2.Close()
	r1.View(ctx, func(tx *Tx) error {
		if n := tx.UnitCount(); n != 3 {
			t.Errorf("read-only: %d units, want 3", n)
		}
		return nil
	})
	if err := r1.Update(ctx, func(tx *Tx) error { return nil }); err == nil {
		t.Error("Update on a read-only store succeeded")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none.db"), Options{ReadOnly: true}); err == nil {
		t.Error("read-only open of a missing file succeeded")
	}
}
