package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"danvan/admin"
	"danvan/config"
	"danvan/messages"
	"danvan/store"
)

// The admin socket's ops. The command line tries the socket first and
// opens the store itself only when no bot listens.
const (
	// opStatus answers a statusReply: what `danvan doctor` shows.
	opStatus = "status"
	// opBackup streams a consistent copy of the store (no arguments;
	// trailer: backupResult). The command line writes it, then reports it
	// with opBackupDone.
	opBackup = "backup"
	// opBackupDone records a backup the command line wrote completely
	// (backupDoneArgs; no result).
	opBackupDone = "backup-done"
	// opImportUnits applies a unit file the command line read
	// (importArgs → importReply), all or nothing, audited as "CLI".
	opImportUnits = "import-units"
)

// statusReply answers opStatus.
type statusReply struct {
	Version       string    `json:"version"`
	PID           int       `json:"pid"`
	Started       time.Time `json:"started"`
	Now           time.Time `json:"now"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Store         string    `json:"store"`
	// OutboxDepth is the number of messages waiting to be sent;
	// OldestPending the creation time of the oldest (absent: none).
	OutboxDepth          int        `json:"outbox_depth"`
	OldestPending        *time.Time `json:"oldest_pending,omitempty"`
	OldestPendingSeconds float64    `json:"oldest_pending_seconds"`
	// BackupSchedule is [backup] schedule ("": off); LastBackup the last
	// successful backup of any kind (absent: none yet); BackupFailures
	// the current streak of failed scheduled ones (absent: none).
	BackupSchedule string                `json:"backup_schedule"`
	LastBackup     *store.BackupRecord   `json:"last_backup,omitempty"`
	BackupFailures *store.BackupFailures `json:"backup_failures,omitempty"`
}

// backupResult is opBackup's trailer.
type backupResult struct {
	Size int64 `json:"size"`
}

// backupDoneArgs are opBackupDone's arguments: where the command line
// wrote the copy (absolute) and its size.
type backupDoneArgs struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// importArgs are opImportUnits' arguments: the file's name (for the audit
// log), its rows, and the problems the command line found already (the
// import then only collects the store's problems and writes nothing).
type importArgs struct {
	File     string                   `json:"file"`
	Rows     []store.ImportRow        `json:"rows"`
	Problems []messages.ImportProblem `json:"problems,omitempty"`
}

// importReply is what an import did, or every problem of the file.
type importReply struct {
	Summary  store.ImportSummary      `json:"summary"`
	Problems []messages.ImportProblem `json:"problems,omitempty"`
}

// listenAdmin binds the admin socket and returns the part that serves it
// until ctx ends, then removes the socket file. It runs once the store is
// open: holding the store's lock, this process is the only one that may
// serve it, so a socket file nobody answers on is a killed process's and
// is removed. When the socket cannot be bound the bot runs without it.
func (a *app) listenAdmin() func(context.Context) error {
	idle := func(context.Context) error { return nil }
	if !a.adminSocket {
		return idle
	}
	path := a.cfg.AdminSocket()
	log := a.log.With("part", "admin")
	if err := admin.RemoveStale(path); err != nil {
		log.Error("admin socket not started: backup and import-units cannot reach the bot", "socket", path, "err", err)
		return idle
	}
	l, err := admin.Listen(path)
	if err != nil {
		log.Error("admin socket not started: backup and import-units cannot reach the bot", "socket", path, "err", err)
		return idle
	}
	srv := admin.NewServer(admin.Options{Log: log})
	for op, h := range a.adminOps(a.clock.Now()) {
		srv.Handle(op, h)
	}
	log.Info("admin socket ready", "socket", path)
	return func(ctx context.Context) error {
		defer os.Remove(path)
		return srv.Serve(ctx, l)
	}
}

// adminOps is the registry of the socket's ops: a command added later is
// a line here and its handler. started is when the bot started.
func (a *app) adminOps(started time.Time) map[string]admin.Handler {
	return map[string]admin.Handler{
		opStatus:      func(ctx context.Context, call *admin.Call) (any, error) { return a.status(ctx, call, started) },
		opBackup:      a.streamBackup,
		opBackupDone:  a.recordBackup,
		opImportUnits: a.importUnits,
	}
}

func (a *app) status(ctx context.Context, call *admin.Call, started time.Time) (any, error) {
	if err := call.Decode(&struct{}{}); err != nil {
		return nil, err
	}
	now := a.clock.Now()
	r := statusReply{
		Version: versionString(), PID: os.Getpid(), Started: started, Now: now,
		UptimeSeconds: now.Sub(started).Seconds(), Store: a.store.Path(), BackupSchedule: a.cfg.Backup.Schedule,
	}
	err := a.store.View(ctx, func(tx *store.Tx) error {
		f, err := readStoreFacts(tx)
		r.OutboxDepth, r.OldestPending, r.LastBackup, r.BackupFailures = f.OutboxDepth, f.OldestPending, f.LastBackup, f.BackupFailures
		if f.OldestPending != nil {
			r.OldestPendingSeconds = now.Sub(*f.OldestPending).Seconds()
		}
		return err
	})
	return r, err
}

func (a *app) streamBackup(ctx context.Context, call *admin.Call) (any, error) {
	if err := call.Decode(&struct{}{}); err != nil {
		return nil, err
	}
	w, err := call.Stream()
	if err != nil {
		return nil, err
	}
	n, err := a.store.WriteBackup(ctx, w)
	if err != nil {
		return nil, err
	}
	return backupResult{Size: n}, nil
}

func (a *app) recordBackup(ctx context.Context, call *admin.Call) (any, error) {
	var args backupDoneArgs
	if err := call.Decode(&args); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(args.Path) || args.Size <= 0 {
		return nil, admin.BadRequest("backup-done needs an absolute path and a size")
	}
	return nil, a.store.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.RecordBackup(store.BackupRecord{At: a.clock.Now(), Size: args.Size, Path: args.Path})
		return err
	})
}

func (a *app) importUnits(ctx context.Context, call *admin.Call) (any, error) {
	var args importArgs
	if err := call.Decode(&args); err != nil {
		return nil, err
	}
	sum, problems, err := importRows(ctx, a.store, args, a.clock.Now())
	return importReply{Summary: sum, Problems: problems}, err
}

// adminClient reaches the running bot of this configuration.
func adminClient(cfg *config.Config) *admin.Client {
	return &admin.Client{Path: cfg.AdminSocket()}
}

// busyError says that the store is held by another process while no bot
// answers on the admin socket.
type busyError struct {
	Path, Socket string
	// Dial is why the socket did not answer.
	Dial error
}

func (e *busyError) Error() string {
	return fmt.Sprintf("%s is in use by another process, and no bot answers on %s: %v", e.Path, e.Socket, e.Dial)
}

// openStore opens the store itself, once the bot did not answer on the
// admin socket (dialErr says why): a store that another process still
// holds is a *busyError.
func openStore(cfg *config.Config, dialErr error) (*store.Store, error) {
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return nil, &busyError{Path: cfg.Store.Path, Socket: cfg.AdminSocket(), Dial: dialErr}
	}
	return st, err
}

// botAnswers reports whether a bot answers on the admin socket, even to
// refuse (it runs as another user).
func botAnswers(ctx context.Context, cfg *config.Config) bool {
	err := adminClient(cfg).Call(ctx, opStatus, nil, nil)
	return !admin.Unreachable(err)
}

// reportError prints err for the operator and returns the exit status 1:
// a store held while the socket is silent in full sentences, the running
// bot's refusals as it said them, anything else as "danvan: err".
func reportError(stderr io.Writer, p messages.Printer, err error) int {
	var busy *busyError
	var refused *admin.Error
	switch {
	case errors.As(err, &busy):
		fmt.Fprintln(stderr, p.Text(messages.StoreBusy{Path: busy.Path, Socket: busy.Socket, Reason: dialReason(busy.Dial)}))
	case errors.As(err, &refused):
		fmt.Fprintln(stderr, "danvan: the running bot answered:", refused.Message)
	default:
		fmt.Fprintln(stderr, "danvan:", err)
	}
	return 1
}

// dialReason is the system's word for a failed connection ("connect:
// connection refused"), without the path already named.
func dialReason(err error) string {
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Error()
	}
	if err == nil {
		return "no answer"
	}
	return err.Error()
}
