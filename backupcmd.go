package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"danvan/admin"
	"danvan/config"
	"danvan/messages"
	"danvan/store"
)

// operatorCommand parses the flags and the one argument of backup,
// restore and compact (none for compact), and loads the configuration
// and the printer of [bot] language. ok is false after printing why.
func operatorCommand(name, argName string, args []string, stderr io.Writer, environ []string, flags func(*flag.FlagSet)) (cfg *config.Config, p messages.Printer, arg string, status int, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (TOML); default: built-in defaults")
	if flags != nil {
		flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, p, "", 2, false
	}
	want := 0
	if argName != "" {
		want = 1
	}
	if fs.NArg() != want {
		fmt.Fprintf(stderr, "usage: danvan %s [-config FILE] %s\n", name, argName)
		fs.PrintDefaults()
		return nil, p, "", 2, false
	}
	cfg, ok = loadConfigFile(name, *path, stderr, environ, false)
	if !ok {
		return nil, p, "", 1, false
	}
	catalog, err := messages.Load(cfg.Location())
	if err != nil {
		fmt.Fprintln(stderr, "danvan:", err)
		return nil, p, "", 1, false
	}
	lang, _ := messages.ParseLang(cfg.Bot.Language)
	return cfg, catalog.For(lang), fs.Arg(0), 0, true
}

// backupCommand runs "danvan backup [-config FILE] [-force] OUT": a
// consistent copy of the store, streamed by the running bot through the
// admin socket, or read from the file when the bot is stopped.
func backupCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	var force bool
	cfg, p, out, status, ok := operatorCommand("backup", "OUT", args, stderr, environ, func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "force", false, "replace OUT if it exists")
	})
	if !ok {
		return status
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return reportError(stderr, p, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	size, unrecorded, err := backup(ctx, cfg, out, force)
	if errors.Is(err, errExists) {
		fmt.Fprintln(stderr, p.Text(messages.BackupExists{Path: out}))
		return 1
	}
	if err != nil {
		return reportError(stderr, p, err)
	}
	if unrecorded != nil {
		// The copy is complete; only doctor will not know of it.
		fmt.Fprintf(stderr, "danvan: warning: the backup is complete but could not be recorded: %v\n", unrecorded)
	}
	fmt.Fprintln(stdout, p.Text(messages.BackupWritten{Path: out, Size: size}))
	return 0
}

// backup writes the copy to out and records it in the store: through the
// bot when it runs, directly otherwise. unrecorded is why a complete copy
// could not be recorded.
func backup(ctx context.Context, cfg *config.Config, out string, force bool) (size int64, unrecorded, err error) {
	if sameFile(out, cfg.Store.Path) {
		return 0, nil, fmt.Errorf("%s is the database itself ([store] path): choose another file for the copy", out)
	}
	client := adminClient(cfg)
	direct := false
	size, schema, err := writeFileAtomic(ctx, out, force, func(w io.Writer) (int64, error) {
		n, dialErr := client.Stream(ctx, opBackup, nil, w, nil)
		if !admin.Unreachable(dialErr) {
			return n, dialErr
		}
		if _, serr := os.Stat(cfg.Store.Path); serr != nil {
			return 0, fmt.Errorf("no database to back up at %s (check [store] path): %w", cfg.Store.Path, serr)
		}
		direct = true
		n, err := store.CopyDatabase(ctx, cfg.Store.Path, w)
		if errors.Is(err, store.ErrLocked) {
			return n, &busyError{Path: cfg.Store.Path, Socket: cfg.AdminSocket(), Dial: dialErr}
		}
		return n, err
	})
	if err != nil {
		return 0, nil, err
	}
	if !direct {
		return size, client.Call(ctx, opBackupDone, backupDoneArgs{Path: out, Size: size}, nil), nil
	}
	if schema != store.SchemaVersion {
		// Recording would bring the database up to date: the copy of an
		// older danvan's data must leave it as it was.
		return size, fmt.Errorf("the database has schema %d, which the bot brings up to date when it starts; this copy is not recorded", schema), nil
	}
	st, err := openStore(cfg, nil)
	if err != nil {
		return size, err, nil
	}
	defer st.Close()
	return size, st.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.RecordBackup(store.BackupRecord{At: time.Now(), Size: size, Path: out})
		return err
	}), nil
}

// sameFile reports whether a and b name the same file (false when either
// does not exist, or cannot be told).
func sameFile(a, b string) bool {
	ia, err := os.Stat(a)
	if err != nil {
		return false
	}
	ib, err := os.Stat(b)
	return err == nil && os.SameFile(ia, ib)
}

// botRunning reports whether a bot answers on the admin socket, having
// said then that the command needs it stopped.
func botRunning(cfg *config.Config, p messages.Printer, stderr io.Writer, command string) bool {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !botAnswers(ctx, cfg) {
		return false
	}
	refuseRunning(cfg, p, stderr, command)
	return true
}

// refuseRunning says the command needs the bot stopped; it returns the
// exit status 1.
func refuseRunning(cfg *config.Config, p messages.Printer, stderr io.Writer, command string) int {
	fmt.Fprintln(stderr, p.Text(messages.BotRunning{Path: cfg.Store.Path, Command: command}))
	return 1
}

// restoreCommand runs "danvan restore [-config FILE] BACKUP" with the bot
// stopped: the copy is checked, then replaces the store, the old file kept
// aside.
func restoreCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	cfg, p, backup, status, ok := operatorCommand("restore", "BACKUP", args, stderr, environ, nil)
	if !ok {
		return status
	}
	if botRunning(cfg, p, stderr, "restore") {
		return 1
	}
	_, aside, err := store.Restore(backup, cfg.Store.Path, time.Now())
	var refused *store.CheckError
	switch {
	case errors.Is(err, store.ErrLocked):
		return refuseRunning(cfg, p, stderr, "restore")
	case errors.As(err, &refused):
		problem := "not_store"
		if errors.Is(err, store.ErrNewerSchema) {
			problem = "newer"
		}
		fmt.Fprintln(stderr, p.Text(messages.RestoreRefused{Backup: backup, Problem: problem, Detail: refused.Reason}))
		return 1
	case errors.Is(err, os.ErrNotExist) && !fileExists(backup):
		fmt.Fprintln(stderr, p.Text(messages.RestoreRefused{Backup: backup, Problem: "missing", Detail: "no such file"}))
		return 1
	case err != nil:
		return reportError(stderr, p, err)
	}
	fmt.Fprintln(stdout, p.Text(messages.RestoreDone{Backup: backup, Path: cfg.Store.Path, Aside: aside}))
	return 0
}

// compactCommand runs "danvan compact [-config FILE]" with the bot stopped.
func compactCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	cfg, p, _, status, ok := operatorCommand("compact", "", args, stderr, environ, nil)
	if !ok {
		return status
	}
	if botRunning(cfg, p, stderr, "compact") {
		return 1
	}
	if !fileExists(cfg.Store.Path) {
		fmt.Fprintf(stderr, "danvan: no database to compact at %s (check [store] path)\n", cfg.Store.Path)
		return 1
	}
	before, after, err := store.Compact(cfg.Store.Path)
	if errors.Is(err, store.ErrLocked) {
		return refuseRunning(cfg, p, stderr, "compact")
	}
	if err != nil {
		return reportError(stderr, p, err)
	}
	fmt.Fprintln(stdout, p.Text(messages.CompactDone{Path: cfg.Store.Path, Before: before, After: after}))
	return 0
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
