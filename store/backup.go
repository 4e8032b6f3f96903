package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Backups: a consistent copy written from one read transaction while the
// bot keeps serving (WriteBackup), the record of the last one and of a
// streak of failed scheduled ones (meta keys "last_backup" and
// "backup_failures"), and the offline operations on the file itself:
// Check, Restore and Compact.

var (
	keyLastBackup     = []byte("last_backup")
	keyBackupFailures = []byte("backup_failures")
)

// ErrNotStore is returned, wrapped with the reason, by Check (and so by
// Restore and Compact) for a file that is not a danvan database.
var ErrNotStore = errors.New("not a danvan database")

// ErrNewerSchema is returned by Check for a danvan database written by a
// newer danvan than this one.
var ErrNewerSchema = errors.New("written by a newer danvan")

// CheckError is Check's refusal of a file: Err is ErrNotStore or
// ErrNewerSchema, Reason says why in a few words.
type CheckError struct {
	Path   string
	Err    error
	Reason string
}

func (e *CheckError) Error() string { return e.Path + ": " + e.Err.Error() + ": " + e.Reason }
func (e *CheckError) Unwrap() error { return e.Err }

// BackupRecord describes a backup that was written completely.
type BackupRecord struct {
	At   time.Time `json:"at"`
	Size int64     `json:"size"`
	// Path is the copy's absolute path as seen by whoever wrote it: the
	// running bot for scheduled backups, the command line otherwise.
	Path      string `json:"path"`
	Scheduled bool   `json:"scheduled,omitempty"`
}

// BackupFailures is the current streak of failed scheduled backups.
type BackupFailures struct {
	Since  time.Time `json:"since"`
	Last   time.Time `json:"last"`
	Count  int       `json:"count"`
	Reason string    `json:"reason"`
}

// RecordBackup records a successful backup. A scheduled one ends the
// streak of failed scheduled backups, which it returns (Count 0: there was
// none).
func (tx *Tx) RecordBackup(r BackupRecord) (ended BackupFailures, err error) {
	meta := tx.bucket(bucketMeta)
	if err := putJSON(meta, keyLastBackup, r); err != nil {
		return ended, fmt.Errorf("record backup: %w", err)
	}
	if !r.Scheduled {
		return ended, nil
	}
	ended, _ = tx.BackupFailures()
	return ended, meta.Delete(keyBackupFailures)
}

// LastBackup returns the last successful backup, or ErrNotFound.
func (tx *Tx) LastBackup() (BackupRecord, error) {
	var r BackupRecord
	if err := getJSON(tx.bucket(bucketMeta), keyLastBackup, &r); err != nil {
		return r, fmt.Errorf("last backup: %w", err)
	}
	return r, nil
}

// BackupFailed counts a failed scheduled backup and returns the streak it
// belongs to: Count 1 is the first failure since the last success.
func (tx *Tx) BackupFailed(at time.Time, reason string) (BackupFailures, error) {
	f, _ := tx.BackupFailures()
	if f.Count == 0 {
		f.Since = at
	}
	f.Count++
	f.Last, f.Reason = at, reason
	return f, putJSON(tx.bucket(bucketMeta), keyBackupFailures, f)
}

// BackupFailures returns the current streak of failed scheduled backups;
// ok is false when the last scheduled backup succeeded.
func (tx *Tx) BackupFailures() (f BackupFailures, ok bool) {
	err := getJSON(tx.bucket(bucketMeta), keyBackupFailures, &f)
	return f, err == nil && f.Count > 0
}

// WriteBackup writes a consistent copy of the whole database to w from one
// read transaction, while writers go on, and returns the bytes written.
// Cancelling ctx stops the copy at the next write.
func (s *Store) WriteBackup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.View(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("write backup of %s: %w", s.Path(), err)
	}
	return n, nil
}

// walkAll reads the first and last byte of every key and value in b and
// its nested buckets, which reaches every branch, leaf and overflow page
// they use.
func walkAll(b *bolt.Bucket) (sum byte) {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if child := b.Bucket(k); child != nil {
				sum += walkAll(child)
			}
			continue
		}
		sum += k[0] + k[len(k)-1]
		if len(v) > 0 {
			sum += v[0] + v[len(v)-1]
		}
	}
	return sum
}

// CopyDatabase writes a copy of the database at path to w, as WriteBackup
// does, for when no bot holds it: opened read-only, so that a copy taken
// by a newer danvan before an upgrade neither migrates the database nor
// holds anything but its schema. It fails with ErrLocked while a process
// holds the database for writing.
func CopyDatabase(ctx context.Context, path string, w io.Writer) (int64, error) {
	db, err := openBolt(path, bolt.Options{ReadOnly: true}, time.Second)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return 0, fmt.Errorf("copy %s: %w", path, ErrLocked)
	}
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", path, err)
	}
	defer db.Close()
	var n int64
	err = db.View(func(btx *bolt.Tx) error {
		var err error
		n, err = btx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("write backup of %s: %w", path, err)
	}
	return n, nil
}

// ctxWriter fails its writes once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Check opens the database at path read-only and returns its schema
// version. It fails with ErrNotStore for anything but a complete, intact
// bbolt file holding danvan's schema key (random bytes, an empty or
// truncated file, a bbolt file of another program), with ErrNewerSchema
// for a schema this build cannot read (both as a *CheckError), and with
// ErrLocked when a running bot holds the file. Every page is checked, so
// it reads the whole file.
func Check(path string) (schema int, err error) {
	notStore := func(reason string) error { return &CheckError{Path: path, Err: ErrNotStore, Reason: reason} }
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !info.Mode().IsRegular() {
		return 0, notStore("not a regular file")
	}
	if info.Size() == 0 {
		return 0, notStore("the file is empty")
	}
	// A page beyond the end of a damaged file would fault in the memory
	// map: turn that into an error instead of a crash. SetPanicOnFault
	// holds for this goroutine only, so every page is first touched here:
	// the freelist while opening, the rest by walkAll.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			schema, err = 0, notStore(fmt.Sprint("damaged: ", r))
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return 0, fmt.Errorf("check %s: %w", path, ErrLocked)
	}
	if err != nil {
		return 0, notStore(err.Error())
	}
	defer db.Close()
	err = db.View(func(btx *bolt.Tx) error {
		if btx.Size() > info.Size() {
			return notStore(fmt.Sprintf("truncated: %d bytes, the database needs %d", info.Size(), btx.Size()))
		}
		meta := btx.Bucket(bucketMeta)
		if meta == nil {
			return notStore("no meta bucket")
		}
		v := meta.Get(keySchema)
		if len(v) != 8 {
			return notStore("no schema version")
		}
		version := binary.BigEndian.Uint64(v)
		switch {
		case version == 0:
			return notStore("schema version 0")
		case version > SchemaVersion:
			return &CheckError{Path: path, Err: ErrNewerSchema, Reason: fmt.Sprintf("schema %d, this danvan reads up to %d", version, SchemaVersion)}
		}
		// bbolt's check runs in a goroutine of its own, where a fault
		// would crash the process: reach every page here first.
		if err := btx.ForEach(func(name []byte, b *bolt.Bucket) error { runtime.KeepAlive(walkAll(b)); return nil }); err != nil {
			return notStore(fmt.Sprint("damaged: ", err))
		}
		for cerr := range btx.Check() {
			if cerr != nil {
				return notStore(fmt.Sprint("damaged: ", cerr))
			}
		}
		schema = int(version)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return schema, nil
}

// Restore replaces the database at path with the copy at backup, after
// Check accepted the copy. The old file, if any, is kept aside as
// <path>.before-restore-<at> (aside is "" when there was none, as after
// a disk loss). The copy is written next to path and renamed over it, so
// path always holds either the old database or the whole new one. It
// fails with ErrLocked, touching nothing, while a process holds the
// database. An older schema is brought up to date by the next Open.
func Restore(backup, path string, at time.Time) (schema int, aside string, err error) {
	schema, err = Check(backup)
	if err != nil {
		return 0, "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, "", fmt.Errorf("create store directory: %w", err)
	}
	unlock, exists, err := lockFile(path)
	if err != nil {
		return 0, "", err
	}
	defer unlock()
	tmp, err := copyInto(dir, filepath.Base(path)+".restore-*", backup)
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(tmp) // a no-op once renamed
	if exists {
		matchOwner(tmp, path)
		aside = path + ".before-restore-" + at.Format("20060102-150405")
		if _, err := os.Lstat(aside); err == nil {
			return 0, "", fmt.Errorf("restore: %s already exists; move it away and try again", aside)
		}
		// A second name for the old file: path is never missing.
		if err := os.Link(path, aside); err != nil {
			return 0, "", fmt.Errorf("keep the old database as %s: %w", aside, err)
		}
	} else {
		matchOwner(tmp, dir)
	}
	if err := os.Rename(tmp, path); err != nil {
		if aside != "" {
			os.Remove(aside)
		}
		return 0, "", fmt.Errorf("restore %s: %w", path, err)
	}
	return schema, aside, syncDir(dir)
}

// Compact rewrites the database at path with bbolt's compaction, which
// leaves out the pages freed by deleted records, and returns the file's
// size before and after. The compacted copy is written next to path and
// renamed over it only when complete: on failure path is untouched. It
// fails with ErrLocked while a process holds the database.
func Compact(path string) (before, after int64, err error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	if _, err := Check(path); err != nil {
		return 0, 0, err
	}
	// Read-only: a shared lock keeps the bot from starting meanwhile,
	// and the source is never written.
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return 0, 0, fmt.Errorf("compact %s: %w", path, ErrLocked)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	defer src.Close()
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".compact-*")
	if err != nil {
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // a no-op once renamed
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	// Commits every 64 MiB of keys and values, so memory stays bounded.
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	done, err := os.Stat(tmp)
	if err != nil {
		return 0, 0, err
	}
	matchOwner(tmp, path)
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	return info.Size(), done.Size(), syncDir(dir)
}

// lockFile takes the lock bbolt takes on the database file, without
// reading it (a damaged database can still be replaced). When there is no
// file it locks an empty placeholder in its place, so that a bot starting
// meanwhile waits all the same; the restored database is renamed over it,
// and unlock removes it if it is still there.
func lockFile(path string) (unlock func(), exists bool, err error) {
	f, err := os.Open(path)
	placeholder := false
	if errors.Is(err, os.ErrNotExist) {
		if _, lerr := os.Lstat(path); lerr == nil {
			// A symbolic link to nothing (a lost volume): nothing to lock
			// or keep; the restored database replaces the link.
			return func() {}, false, nil
		}
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			// Created meanwhile (a bot starting): lock that instead.
			f, err = os.Open(path)
		} else {
			placeholder = true
		}
	}
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		// A bot that opened the placeholder first holds it now: leave it.
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, true, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, true, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		if placeholder {
			// Removed before the lock goes, so nobody opens it after.
			held, herr := f.Stat()
			named, nerr := os.Stat(path)
			if herr == nil && nerr == nil && os.SameFile(held, named) {
				os.Remove(path)
			}
		}
		f.Close()
	}, !placeholder, nil
}

// copyInto copies the file src to a new file in dir named after pattern
// (mode 0600), synced to disk, and returns its path.
func copyInto(dir, pattern, src string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("copy %s into %s: %w", src, dir, err)
	}
	return out.Name(), nil
}

// matchOwner gives file the owner of like when running as root, so that a
// file replaced by `sudo danvan restore` still opens for the service's
// user.
func matchOwner(file, like string) {
	if os.Geteuid() != 0 {
		return
	}
	info, err := os.Stat(like)
	if err != nil {
		return
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		os.Chown(file, int(st.Uid), int(st.Gid))
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
