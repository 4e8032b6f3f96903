package messages

import (
	"fmt"
	"strings"
	"time"
)

// Operating the bot: what the command line says about backups, restores
// and compaction, and what admins are told about scheduled backups.

// BotRunning says a command needs the bot stopped: Command is the
// subcommand to run again ("restore", "compact").
type BotRunning struct{ Path, Command string }

func (BotRunning) Key() string { return "bot_running" }

// StoreBusy says the store is held by a process that does not answer on
// the admin socket; Reason is why the socket did not answer.
type StoreBusy struct{ Path, Socket, Reason string }

func (StoreBusy) Key() string { return "store_busy" }

// BackupWritten reports a backup written to Path.
type BackupWritten struct {
	Path string
	Size int64
}

func (BackupWritten) Key() string { return "backup_written" }

// BackupExists refuses to overwrite a file.
type BackupExists struct{ Path string }

func (BackupExists) Key() string { return "backup_exists" }

// RestoreDone reports a restore; Aside is where the old database is kept
// ("" when there was none).
type RestoreDone struct{ Backup, Path, Aside string }

func (RestoreDone) Key() string { return "restore_done" }

// RestoreRefused says why a file was not restored: Problem is "not_store",
// "newer" or "missing"; Detail is the technical reason.
type RestoreRefused struct{ Backup, Problem, Detail string }

func (RestoreRefused) Key() string { return "restore_refused" }

// CompactDone reports the store's size before and after compaction.
type CompactDone struct {
	Path          string
	Before, After int64
}

func (CompactDone) Key() string { return "compact_done" }

// BackupFailed tells admins that a scheduled backup failed, once per
// streak of failures.
type BackupFailed struct {
	At     time.Time
	Dir    string
	Reason string
}

func (BackupFailed) Key() string { return "backup_failed" }

// BackupRecovered tells admins that scheduled backups work again.
type BackupRecovered struct {
	At, Since time.Time
	Failures  int
}

func (BackupRecovered) Key() string { return "backup_recovered" }

// formatSize writes a file size for people: "512 B", "48 KB", "12,5 MB"
// ("12.5 MB" in English), "1,25 GB"; units of 1,024.
func formatSize(n int64, lang Lang) string {
	const kb, mb, gb = 1 << 10, 1 << 20, 1 << 30
	var s string
	switch {
	case n < kb:
		return fmt.Sprintf("%d B", n)
	case n < mb:
		return fmt.Sprintf("%d KB", (n+kb/2)/kb)
	case n < gb:
		s = fmt.Sprintf("%.1f MB", float64(n)/mb)
	default:
		s = fmt.Sprintf("%.2f GB", float64(n)/gb)
	}
	if lang == Vi {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// DoctorLine is one line of `danvan doctor`'s checklist. Finding names
// what was found ("store_running", "token_refused", …; the template is
// "doctor_" + Finding) and says how to fix it when something is wrong;
// the other fields are what the finding shows. None of them ever holds
// the token or a person's data.
type DoctorLine struct {
	Finding string
	// Path is a file (the configuration, the store, a backup); Socket the
	// admin socket.
	Path, Socket string
	// Host is the Bot API's host, or the webhook's; Proxy the proxy the
	// requests go through ("": direct); Other a second host to compare.
	Host, Proxy, Other string
	// Reason is a problem in the system's words.
	Reason string
	// Version, PID and Uptime describe the running bot.
	Version string
	PID     int
	Uptime  time.Duration
	// Bot is the bot's @username, Name its display name, ID its user id.
	Bot, Name string
	ID        int64
	// Mode is [telegram] mode; Spec a cron schedule.
	Mode, Spec string
	// At is when something happened (a backup, an error); Age how long
	// ago, or a clock's offset; Limit the allowed age or offset.
	// Due is when a scheduled backup was due.
	At, Due    time.Time
	Age, Limit time.Duration
	// Count is a number of things (messages, updates, failures, a
	// percentage); Size a file's size or free bytes; Need the bytes
	// needed.
	Count      int
	Size, Need int64
	// Ahead says the local clock is ahead of Telegram's.
	Ahead bool
}

func (l DoctorLine) Key() string { return "doctor_" + l.Finding }

// DoctorSummary ends the checklist: how many lines failed and how many are
// only advice.
type DoctorSummary struct{ Failed, Warnings int }

func (DoctorSummary) Key() string { return "doctor_summary" }
