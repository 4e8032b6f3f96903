package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"danvan/clock"
	"danvan/messages"
	"danvan/scheduler"
	"danvan/store"
)

// Scheduled backups: at [backup] schedule the running bot writes a copy of
// the store into [backup] dir, named by the time, and removes the oldest
// beyond [backup] keep. A failure is logged (by the scheduler), counted in
// /metrics and told to the admins once per streak of failures; the first
// success after a streak is told too.

// backupName is the name of a scheduled backup: sortable by time.
var backupName = regexp.MustCompile(`^danvan-\d{8}-\d{6}\.db$`)

// backupOrigin is the origin of the admins' messages about backups.
const backupOrigin = "backup"

// backupJob takes scheduled backups.
type backupJob struct {
	store *store.Store
	clock clock.Clock
	loc   *time.Location
	log   *slog.Logger
	dir   string
	keep  int
	// notify tells every admin, in the transaction (bot.NotifyAdmins).
	notify   func(tx *store.Tx, origin string, at time.Time, m messages.Message) error
	failures prometheus.Counter
}

// newBackupJob builds the job and registers its metrics with reg.
func newBackupJob(j backupJob, reg prometheus.Registerer) *backupJob {
	j.failures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "danvan_backup_failures_total", Help: "Scheduled backups that failed.",
	})
	reg.MustRegister(j.failures, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "danvan_backup_last_success_timestamp_seconds",
		Help: "Unix time of the last successful backup, scheduled or manual (0: none yet).",
	}, func() float64 {
		var at time.Time
		_ = j.store.View(context.Background(), func(tx *store.Tx) error {
			if r, err := tx.LastBackup(); err == nil {
				at = r.At
			}
			return nil
		})
		if at.IsZero() {
			return 0
		}
		return float64(at.UnixNano()) / 1e9
	}))
	return &j
}

// addBackupJob registers the metrics and, when [backup] schedule is set,
// the job.
// backupRetry is how soon a failed scheduled backup is tried again.
const backupRetry = time.Hour

func (a *app) addBackupJob() error {
	j := newBackupJob(backupJob{
		store: a.store, clock: a.clock, loc: a.cfg.Location(), log: a.log.With("part", "backup"),
		dir: a.cfg.Backup.Dir, keep: a.cfg.Backup.Keep, notify: a.bot.NotifyAdmins,
	}, a.metrics)
	if a.cfg.Backup.Schedule == "" {
		return nil
	}
	return a.scheduler.Add(j.scheduled(a.cfg.Backup.Schedule))
}

// scheduled is the job on its schedule. A failed backup (a full disk, an
// unmounted drive) is tried again every hour rather than a day later.
func (j *backupJob) scheduled(spec string) scheduler.Job {
	return scheduler.Job{Name: "backup", Spec: spec, Run: j.run, Retry: backupRetry}
}

// run takes one backup; its error is logged by the scheduler.
func (j *backupJob) run(ctx context.Context, _ time.Time) error {
	now := j.clock.Now()
	rec, err := j.write(ctx, now)
	if err != nil {
		if ctx.Err() != nil {
			return err // stopping: not a failure of the backup
		}
		j.failures.Inc()
		reason := err.Error()
		if len(reason) > 300 {
			reason = reason[:300] + "…"
		}
		uerr := j.store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			f, err := tx.BackupFailed(now, reason)
			if err != nil || f.Count > 1 {
				return err // told at the first failure of the streak
			}
			return j.notify(tx, backupOrigin, now, messages.BackupFailed{At: now, Dir: j.dir, Reason: reason})
		})
		return errors.Join(fmt.Errorf("scheduled backup: %w", err), uerr)
	}
	j.log.Info("scheduled backup written", "path", rec.Path, "size", rec.Size, "took", j.clock.Now().Sub(now))
	pruneErr := j.prune(filepath.Base(rec.Path))
	uerr := j.store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		ended, err := tx.RecordBackup(rec)
		if err != nil || ended.Count == 0 {
			return err
		}
		return j.notify(tx, backupOrigin, now, messages.BackupRecovered{At: now, Since: ended.Since, Failures: ended.Count})
	})
	return errors.Join(pruneErr, uerr)
}

// write writes the copy into the backup directory, created owner-only on
// first use.
func (j *backupJob) write(ctx context.Context, now time.Time) (store.BackupRecord, error) {
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return store.BackupRecord{}, fmt.Errorf("create the backup directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(j.dir, "danvan-"+now.In(j.loc).Format("20060102-150405")+".db"))
	if err != nil {
		return store.BackupRecord{}, err
	}
	size, _, err := writeFileAtomic(ctx, path, true, func(w io.Writer) (int64, error) { return j.store.WriteBackup(ctx, w) })
	if err != nil {
		return store.BackupRecord{}, err
	}
	return store.BackupRecord{At: now, Size: size, Path: path, Scheduled: true}, nil
}

// prune removes the oldest scheduled backups beyond keep, and the
// temporary files of interrupted ones; other files are left alone. The
// copy just written (newest) stays whatever its name: names come from the
// clock, which may have stepped back.
func (j *backupJob) prune(newest string) error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("prune backups: %w", err)
	}
	var backups []string
	var errs []error
	for _, e := range entries {
		switch name := e.Name(); {
		case name == newest:
		case backupName.MatchString(name) && e.Type().IsRegular():
			backups = append(backups, name)
		case tempName.MatchString(name):
			errs = append(errs, os.Remove(filepath.Join(j.dir, name)))
		}
	}
	slices.Sort(backups)
	for _, name := range backups[:max(len(backups)-(j.keep-1), 0)] {
		if err := os.Remove(filepath.Join(j.dir, name)); err != nil {
			errs = append(errs, fmt.Errorf("prune backups: %w", err))
		}
	}
	return errors.Join(errs...)
}

// tempName is a scheduled backup being written (see writeFileAtomic).
var tempName = regexp.MustCompile(`^\.danvan-\d{8}-\d{6}\.db\.\d+\.tmp$`)

// errExists refuses to overwrite a file.
var errExists = errors.New("the file exists")

// writeFileAtomic writes path (mode 0600) with write: into a temporary
// file in the same directory, synced, checked to be a complete danvan
// store, then renamed over path — so path is never a partial copy. Unless
// replace is set, an existing path is refused with errExists, also one
// created while the copy was written. schema is the copy's. Once ctx is
// done the copy is abandoned.
func writeFileAtomic(ctx context.Context, path string, replace bool, write func(io.Writer) (int64, error)) (n int64, schema int, err error) {
	if _, err := os.Lstat(path); err == nil && !replace {
		return 0, 0, errExists
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, 0, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	buf := bufio.NewWriterSize(f, 1<<20)
	n, err = write(buf)
	if err == nil {
		err = buf.Flush()
	}
	if err == nil {
		// Stopping: syncing and checking a large copy would outlast the
		// shutdown's grace, and the copy would not be recorded anyway.
		err = ctx.Err()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("write %s: %w", path, err)
	}
	if schema, err = store.Check(tmp); err != nil {
		return 0, 0, fmt.Errorf("the copy does not check out: %w", err)
	}
	if replace {
		err = os.Rename(tmp, path)
	} else if err = os.Link(tmp, path); errors.Is(err, os.ErrExist) {
		// A second name never replaces a file, unlike a rename.
		return 0, 0, errExists
	}
	if err != nil {
		return 0, 0, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return 0, 0, err
	}
	defer d.Close()
	return n, schema, d.Sync()
}
