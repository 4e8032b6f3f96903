package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"danvan/admin"
	"danvan/bot"
	"danvan/config"
	"danvan/messages"
	"danvan/scheduler"
	"danvan/store"
	"danvan/telegram"
)

// What doctor allows before a line turns from advice into a failure.
const (
	// doctorTimeout bounds the whole checklist.
	doctorTimeout = time.Minute
	// doctorSocketTimeout bounds the question to the running bot.
	doctorSocketTimeout = 5 * time.Second
	// backupGrace is how long after its due time a scheduled backup may
	// still be missing: the job runs a few seconds late, and a bot that was
	// stopped at the due time makes it up when it starts.
	backupGrace = time.Hour
	// outboxStuckAfter: a running bot sends a 2,000-person announcement in
	// about a minute and the slowest group's 20 a minute in a few; a
	// message older than this is stuck.
	outboxStuckAfter = 15 * time.Minute
	// webhookErrorRecent: a delivery error older than this, or with nothing
	// waiting, is history.
	webhookErrorRecent = time.Hour
	// clockWarnAfter and clockFailAfter bound the offset between the
	// server's clock and Telegram's: reminders are minutes-exact.
	clockWarnAfter = 30 * time.Second
	clockFailAfter = 2 * time.Minute
)

// mark is a checklist line's verdict.
type mark int

const (
	markOK mark = iota
	// markWarn is advice: exit 0.
	markWarn
	// markFail is something to fix: exit 1.
	markFail
	// markSkip is a check that could not run because an earlier one failed.
	markSkip
)

var markSymbols = [...]string{markOK: "✅", markWarn: "⚠️", markFail: "❌", markSkip: "➖"}

// doctorOptions are what a test changes: the clock and the transport to
// the Bot API (nil: the network, through the configured proxy).
type doctorOptions struct {
	Now       func() time.Time
	Transport http.RoundTripper
	// DiskSpace says how many bytes are free (to this user) of the file
	// system holding dir, and its size; nil: the system's (statfs).
	DiskSpace func(dir string) (free, total int64, err error)
}

// doctorCommand runs "danvan doctor [-config FILE]".
func doctorCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (TOML); default: built-in defaults")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "danvan doctor: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), doctorTimeout)
	defer cancel()
	return runDoctor(ctx, *path, environ, stdout, doctorOptions{Now: time.Now})
}

// doctor is one run of the checklist.
type doctor struct {
	cfg  *config.Config
	opts doctorOptions
	p    messages.Printer
	w    io.Writer

	failed, warnings int

	// running is the bot's answer on the admin socket (nil: no bot
	// answered); facts what the store says, from the bot or the file (nil:
	// unknown).
	running *statusReply
	facts   *storeFacts
	// clock is what Telegram's answer said of the time (nil: no answer).
	probe *telegram.Probe
}

// runDoctor prints the checklist to w and returns the exit status: 1 when
// any line failed.
func runDoctor(ctx context.Context, path string, environ []string, w io.Writer, opts doctorOptions) int {
	d := &doctor{opts: opts, w: w}
	cfg, problems := config.Load(path, environ)
	tokenOK := len(problems) == 0
	if !tokenOK {
		// Without a (valid) token the store and backups can still be
		// checked.
		cfg, _ = config.LoadOffline(path, environ)
	}
	loc := time.Local
	if cfg != nil {
		loc = cfg.Location()
	}
	catalog, err := messages.Load(loc)
	if err != nil {
		fmt.Fprintln(w, "danvan doctor:", err)
		return 1
	}
	lang := messages.Vi
	if cfg != nil {
		lang, _ = messages.ParseLang(cfg.Bot.Language)
	}
	d.p, d.cfg = catalog.For(lang), cfg

	for _, pr := range problems {
		d.line(markFail, messages.DoctorLine{Finding: "config_invalid", Path: path, Reason: pr.String()})
	}
	if cfg == nil {
		d.summary()
		return 1
	}
	if tokenOK {
		d.line(markOK, messages.DoctorLine{Finding: "config_ok", Path: path, Mode: cfg.Telegram.Mode})
	}
	d.checkStore(ctx)
	if tokenOK {
		d.checkTelegram(ctx)
	} else {
		d.line(markSkip, messages.DoctorLine{Finding: "telegram_skipped"})
	}
	d.checkBackups()
	d.checkDisk()
	d.checkOutbox()
	d.checkClock()
	d.summary()
	if d.failed > 0 {
		return 1
	}
	return 0
}

func (d *doctor) line(m mark, l messages.DoctorLine) {
	switch m {
	case markWarn:
		d.warnings++
	case markFail:
		d.failed++
	}
	text := strings.ReplaceAll(d.p.Text(l), "\n", "\n   ")
	fmt.Fprintf(d.w, "%s %s\n", markSymbols[m], text)
}

func (d *doctor) summary() {
	fmt.Fprintln(d.w)
	fmt.Fprintln(d.w, d.p.Text(messages.DoctorSummary{Failed: d.failed, Warnings: d.warnings}))
}

// storeFacts is what the store says about backups and the outbox.
type storeFacts struct {
	OutboxDepth    int
	OldestPending  *time.Time
	LastBackup     *store.BackupRecord
	BackupFailures *store.BackupFailures
}

// readStoreFacts reads storeFacts in one transaction (the admin socket's
// status and doctor on a stopped bot's file).
func readStoreFacts(tx *store.Tx) (storeFacts, error) {
	var f storeFacts
	f.OutboxDepth = tx.OutboxLen()
	if created, ok := tx.OldestPending(); ok {
		f.OldestPending = &created
	}
	if last, err := tx.LastBackup(); err == nil {
		f.LastBackup = &last
	} else if !errors.Is(err, store.ErrNotFound) {
		return f, err
	}
	if fails, ok := tx.BackupFailures(); ok {
		f.BackupFailures = &fails
	}
	return f, nil
}

// checkStore asks the running bot on the admin socket, and reads the file
// itself when no bot answers.
func (d *doctor) checkStore(ctx context.Context) {
	path, socket := d.cfg.Store.Path, d.cfg.AdminSocket()
	client := &admin.Client{Path: socket, Timeout: doctorSocketTimeout}
	var st statusReply
	err := client.Call(ctx, opStatus, nil, &st)
	switch {
	case err == nil:
		d.running = &st
		d.facts = &storeFacts{OutboxDepth: st.OutboxDepth, OldestPending: st.OldestPending,
			LastBackup: st.LastBackup, BackupFailures: st.BackupFailures}
		d.line(markOK, messages.DoctorLine{Finding: "store_running", Path: st.Store, Socket: socket,
			Version: st.Version, PID: st.PID, Uptime: time.Duration(st.UptimeSeconds * float64(time.Second))})
		return
	case !admin.Unreachable(err):
		// A bot answered, and refused: it runs as another user.
		d.line(markFail, messages.DoctorLine{Finding: "store_denied", Path: path, Socket: socket, Reason: err.Error()})
		return
	case !admin.NotListening(err):
		// The socket is there but may not be opened (another user's), or
		// the bot did not answer in time.
		d.line(markFail, messages.DoctorLine{Finding: "store_denied", Path: path, Socket: socket, Reason: dialReason(err)})
		return
	}

	info, serr := os.Stat(path)
	if errors.Is(serr, os.ErrNotExist) {
		d.line(markWarn, messages.DoctorLine{Finding: "store_missing", Path: path})
		return
	}
	schema, cerr := store.Check(path)
	var refused *store.CheckError
	switch {
	case errors.Is(cerr, store.ErrLocked):
		d.line(markFail, messages.DoctorLine{Finding: "store_locked", Path: path, Socket: socket, Reason: dialReason(err)})
		return
	case errors.As(cerr, &refused) && errors.Is(cerr, store.ErrNewerSchema):
		d.line(markFail, messages.DoctorLine{Finding: "store_newer", Path: path, Reason: refused.Reason})
		return
	case errors.As(cerr, &refused):
		d.line(markFail, messages.DoctorLine{Finding: "store_bad", Path: path, Reason: refused.Reason})
		return
	case cerr != nil:
		d.line(markFail, messages.DoctorLine{Finding: "store_bad", Path: path, Reason: cerr.Error()})
		return
	case schema < store.SchemaVersion:
		// Readable only after the next `danvan run` migrates it.
		d.line(markWarn, messages.DoctorLine{Finding: "store_old", Path: path, Size: info.Size()})
		return
	}
	st2, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		d.line(markFail, messages.DoctorLine{Finding: "store_bad", Path: path, Reason: err.Error()})
		return
	}
	defer st2.Close()
	var f storeFacts
	if err := st2.View(ctx, func(tx *store.Tx) error {
		var err error
		f, err = readStoreFacts(tx)
		return err
	}); err != nil {
		d.line(markFail, messages.DoctorLine{Finding: "store_bad", Path: path, Reason: err.Error()})
		return
	}
	d.facts = &f
	d.line(markWarn, messages.DoctorLine{Finding: "store_stopped", Path: path, Size: info.Size()})
}

// checkTelegram asks getMe (the endpoint, the proxy, the token, the clock)
// and getWebhookInfo.
func (d *doctor) checkTelegram(ctx context.Context) {
	c, err := telegram.New(telegram.Options{
		Token: d.cfg.Telegram.Token, Endpoint: d.cfg.Telegram.APIEndpoint, Proxy: d.cfg.Telegram.Proxy,
		RequestTimeout: d.cfg.Telegram.RequestTimeout.Duration, Transport: d.opts.Transport,
	})
	if err != nil {
		d.line(markFail, messages.DoctorLine{Finding: "getme_failed", Reason: err.Error()})
		return
	}
	probe, err := c.Probe(ctx)
	if probe.Status == 0 {
		d.line(markFail, messages.DoctorLine{Finding: "api_unreachable", Host: probe.Host, Proxy: probe.Proxy, Reason: probe.Reason})
		return
	}
	d.probe = &probe
	d.line(markOK, messages.DoctorLine{Finding: "api_reachable", Host: probe.Host, Proxy: probe.Proxy})
	switch {
	case errors.Is(err, bot.ErrUnauthorized):
		d.line(markFail, messages.DoctorLine{Finding: "token_refused"})
		return
	case err != nil:
		d.line(markFail, messages.DoctorLine{Finding: "getme_failed", Reason: err.Error()})
		return
	}
	d.line(markOK, messages.DoctorLine{Finding: "bot_ok", Bot: probe.Identity.Username, Name: probe.Identity.Name, ID: probe.Identity.ID})

	info, err := c.GetWebhookInfo(ctx)
	if err != nil {
		d.line(markFail, messages.DoctorLine{Finding: "webhook_unknown", Reason: err.Error()})
		return
	}
	d.checkWebhook(info)
}

// checkWebhook compares Telegram's webhook with the configured mode.
func (d *doctor) checkWebhook(info bot.WebhookInfo) {
	running := d.running != nil
	set := messages.DoctorLine{Host: urlPlace(info.URL), Count: info.PendingUpdateCount}
	if d.cfg.Telegram.Mode != config.ModeWebhook {
		switch {
		case info.URL == "":
			d.line(markOK, messages.DoctorLine{Finding: "webhook_none"})
		case running:
			// The bot removes any webhook when it starts polling: someone
			// set this one since.
			set.Finding = "webhook_set_polling"
			d.line(markFail, set)
		default:
			set.Finding = "webhook_set_stopped"
			d.line(markWarn, set)
		}
		return
	}
	want := urlPlace(d.cfg.Webhook.PublicURL)
	switch {
	case info.URL == "" && running:
		d.line(markFail, messages.DoctorLine{Finding: "webhook_missing_running", Other: want})
	case info.URL == "":
		d.line(markWarn, messages.DoctorLine{Finding: "webhook_missing_stopped", Other: want})
	case info.URL != d.cfg.Webhook.PublicURL:
		set.Finding, set.Other = "webhook_mismatch", want
		d.line(markFail, set)
	case info.PendingUpdateCount > 0 && !info.LastErrorDate.IsZero() && d.opts.Now().Sub(info.LastErrorDate) < webhookErrorRecent:
		set.Finding, set.Reason, set.At = "webhook_failing", info.LastErrorMessage, info.LastErrorDate
		d.line(markFail, set)
	default:
		set.Finding = "webhook_ok"
		d.line(markOK, set)
	}
}

// urlPlace is a URL's host and path, without credentials or query: what
// doctor shows of a webhook.
func urlPlace(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "?"
	}
	return u.Host + u.EscapedPath()
}

// checkBackups judges the last backup against [backup] schedule.
func (d *doctor) checkBackups() {
	if d.facts == nil {
		d.line(markSkip, messages.DoctorLine{Finding: "backup_skipped"})
		return
	}
	now, spec := d.opts.Now(), d.cfg.Backup.Schedule
	last := d.facts.LastBackup
	l := messages.DoctorLine{Spec: spec, Path: d.cfg.Backup.Dir}
	if last != nil {
		l.At, l.Age, l.Size = last.At, now.Sub(last.At), last.Size
	}
	if f := d.facts.BackupFailures; f != nil {
		l.Finding, l.Count, l.At, l.Reason = "backup_failing", f.Count, f.Since, f.Reason
		d.line(markFail, l)
		return
	}
	if spec == "" {
		l.Finding = "backup_unscheduled"
		d.line(markWarn, l)
		return
	}
	if last == nil {
		l.Finding = "backup_none"
		d.line(markWarn, l)
		return
	}
	sched, err := scheduler.Parse(spec, d.cfg.Location())
	if err != nil { // config.Load checked it
		l.Finding, l.Reason = "backup_unscheduled", err.Error()
		d.line(markWarn, l)
		return
	}
	if due := sched.Next(last.At); now.After(due.Add(backupGrace)) {
		l.Finding, l.Due = "backup_stale", due
		d.line(markFail, l)
		return
	}
	l.Finding = "backup_ok"
	d.line(markOK, l)
}

// checkOutbox judges the messages waiting to be sent.
func (d *doctor) checkOutbox() {
	if d.facts == nil {
		d.line(markSkip, messages.DoctorLine{Finding: "outbox_skipped"})
		return
	}
	f := d.facts
	l := messages.DoctorLine{Count: f.OutboxDepth, Limit: outboxStuckAfter}
	if f.OutboxDepth == 0 || f.OldestPending == nil {
		l.Finding = "outbox_empty"
		d.line(markOK, l)
		return
	}
	l.Age = d.opts.Now().Sub(*f.OldestPending)
	switch {
	case d.running == nil:
		l.Finding = "outbox_waiting"
		d.line(markWarn, l)
	case l.Age > outboxStuckAfter:
		l.Finding = "outbox_stuck"
		d.line(markFail, l)
	default:
		l.Finding = "outbox_ok"
		d.line(markOK, l)
	}
}

// checkClock compares the local clock with the Date of Telegram's answer
// to getMe. The header has whole seconds and the answer travels, so
// offsets of a second or two are noise.
func (d *doctor) checkClock() {
	if d.probe == nil {
		d.line(markSkip, messages.DoctorLine{Finding: "clock_skipped"})
		return
	}
	if d.probe.Date.IsZero() {
		d.line(markWarn, messages.DoctorLine{Finding: "clock_unknown"})
		return
	}
	// Date is the server's time rounded down to the second: its middle is
	// the best guess.
	offset := d.probe.Received.Sub(d.probe.Date.Add(500 * time.Millisecond))
	l := messages.DoctorLine{Age: offset.Abs().Round(time.Second), Ahead: offset > 0, Limit: clockWarnAfter}
	switch {
	case offset.Abs() > clockFailAfter:
		l.Finding = "clock_skewed"
		d.line(markFail, l)
	case offset.Abs() > clockWarnAfter:
		l.Finding = "clock_skewed"
		d.line(markWarn, l)
	default:
		l.Finding = "clock_ok"
		d.line(markOK, l)
	}
}

// diskHeadroom is what the disk should keep free besides room for one
// backup's copy: the store grows in 16 MiB steps, logs need room too.
const diskHeadroom = 256 << 20

// checkDisk looks at the free space where the store and the scheduled
// backups live (once when they share a file system): a backup needs room
// for a copy of the store, and a full disk stops every write.
func (d *doctor) checkDisk() {
	size := int64(0)
	if info, err := os.Stat(d.cfg.Store.Path); err == nil {
		size = info.Size()
	}
	dirs := []string{filepath.Dir(d.cfg.Store.Path)}
	if d.cfg.Backup.Schedule != "" {
		dirs = append(dirs, d.cfg.Backup.Dir)
	}
	seen := map[uint64]bool{}
	for _, dir := range dirs {
		at := existingDir(dir)
		info, err := os.Stat(at)
		if err != nil {
			continue // the store check has said what is missing
		}
		space := d.opts.DiskSpace
		if space == nil {
			space = diskSpace
		}
		free, total, err := space(at)
		if err != nil {
			continue
		}
		if sys, ok := info.Sys().(*syscall.Stat_t); ok {
			if seen[uint64(sys.Dev)] {
				continue
			}
			seen[uint64(sys.Dev)] = true
		}
		m, finding := diskVerdict(free, total, size)
		pct := 0
		if total > 0 {
			pct = int(free * 100 / total)
		}
		d.line(m, messages.DoctorLine{Finding: finding, Path: dir, Size: free, Count: pct, Need: size + diskHeadroom})
	}
}

// diskVerdict judges free bytes of total for a store of size: room for a
// backup's copy and some headroom is needed (fail); less than four times
// that, or under a tenth of the disk, is advice.
func diskVerdict(free, total, size int64) (mark, string) {
	need := size + diskHeadroom
	switch {
	case free < need:
		return markFail, "disk_full"
	case free < 4*need || (total > 0 && free*10 < total):
		return markWarn, "disk_low"
	}
	return markOK, "disk_ok"
}

// existingDir is dir, or its nearest existing parent (a backup directory
// is created on first use).
func existingDir(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}
