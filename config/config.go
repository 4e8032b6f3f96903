// Package config loads danvan's settings from an optional TOML file and the
// environment, and checks them before anything else starts.
//
// The file mirrors config.example.toml at the root of the repository. Every
// scalar key and every list of numbers can also be set by an environment
// variable named DANVAN_ followed by the key's path in upper case, with dots
// turned into underscores: telegram.token is DANVAN_TELEGRAM_TOKEN,
// telegram.limits.chat_per_second is DANVAN_TELEGRAM_LIMITS_CHAT_PER_SECOND.
// A list of numbers is written comma-separated. The environment wins over the
// file. The variables are derived from the struct tags, so a key added to
// Config gets its variable without further work.
//
// Load reports every problem it finds, each naming the key and either the
// file line or the variable it came from, so that an operator can fix a
// deployment in one pass.
package config

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Config is the whole configuration of danvan. Its toml tags are the keys of
// the file; its sections are the file's tables.
type Config struct {
	Telegram Telegram `toml:"telegram"`
	Store    Store    `toml:"store"`
	Bot      Bot      `toml:"bot"`
	Units    Units    `toml:"units"`
	HTTP     HTTP     `toml:"http"`
	Webhook  Webhook  `toml:"webhook"`
	Admin    Admin    `toml:"admin"`
	Backup   Backup   `toml:"backup"`
	Log      Log      `toml:"log"`

	// location is Bot.Timezone, loaded when the configuration is checked.
	location *time.Location
}

// Telegram holds how danvan reaches the Bot API.
type Telegram struct {
	// Token is the bot's secret from @BotFather, "<bot id>:<secret>";
	// Load trims spaces and newlines around it. It must never be logged.
	Token string `toml:"token"`
	// Mode is how updates arrive: "polling" (getUpdates) or "webhook"
	// (Telegram posts them to [webhook] public_url).
	Mode string `toml:"mode"`
	// APIEndpoint is a format with exactly two %s verbs: token, then method.
	APIEndpoint string `toml:"api_endpoint"`
	// PollTimeout is the long-poll timeout of getUpdates.
	PollTimeout Duration `toml:"poll_timeout"`
	// Proxy is the URL of an HTTP or SOCKS5 proxy; when empty, HTTPS_PROXY
	// and NO_PROXY are honoured.
	Proxy string `toml:"proxy"`
	// RequestTimeout bounds every Bot API request other than getUpdates.
	RequestTimeout Duration `toml:"request_timeout"`
	Limits         Limits   `toml:"limits"`
}

// Limits are Telegram's flood limits, which the sender keeps within.
type Limits struct {
	// GlobalPerSecond is the number of messages per second over all chats.
	GlobalPerSecond int `toml:"global_per_second"`
	// ChatPerSecond is the number of messages per second in one chat.
	ChatPerSecond int `toml:"chat_per_second"`
	// GroupPerMinute is the number of messages per minute in one group.
	GroupPerMinute int `toml:"group_per_minute"`
}

// Store holds where danvan keeps its data.
type Store struct {
	// Path is the bbolt database file; its directory is created.
	Path string `toml:"path"`
	// KeepDays is how long records kept only for exactly-once delivery
	// and bookkeeping (processed-update markers, the journal, settled
	// outbox rows and their delivery records, finished fan-outs, used
	// one-time tokens) are kept.
	KeepDays int `toml:"keep_days"`
	// AuditKeepDays is how long audit log entries are kept.
	AuditKeepDays int `toml:"audit_keep_days"`
}

// Bot holds how the bot behaves towards its users.
type Bot struct {
	// Timezone is the IANA zone used for dates and schedules.
	Timezone string `toml:"timezone"`
	// Language is the default language of replies: "vi" or "en".
	Language string `toml:"language"`
	// Admins are the Telegram user ids of the Ban Dân vận staff.
	Admins []int64 `toml:"admins"`
	// ConversationTimeout is how long a multi-step dialogue may stay idle
	// before it is abandoned.
	ConversationTimeout Duration `toml:"conversation_timeout"`
}

// Units holds the organization tree's settings.
type Units struct {
	// InviteDays is how long an invite link stays valid.
	InviteDays int `toml:"invite_days"`
	// MemberInviteUses is how many people one member invite can let in.
	MemberInviteUses int `toml:"member_invite_uses"`
}

// HTTP holds the operator's HTTP listener: /healthz and /metrics.
type HTTP struct {
	// Listen is host:port, e.g. "127.0.0.1:9090"; empty turns it off.
	Listen string `toml:"listen"`
}

// Webhook holds webhook mode's listener; it is read only when
// [telegram] mode is "webhook", so the table may stay in a polling config.
type Webhook struct {
	// Listen is the host:port the webhook listener binds, usually behind
	// a reverse proxy that ends TLS, e.g. "127.0.0.1:8443".
	Listen string `toml:"listen"`
	// PublicURL is the https URL Telegram posts to (port 443, 80, 88 or
	// 8443); the listener serves its path. An http URL is accepted for a
	// local Bot API server or an emulator.
	PublicURL string `toml:"public_url"`
	// SecretToken is sent by Telegram in X-Telegram-Bot-Api-Secret-Token
	// with every update: 1 to 256 of A-Z, a-z, 0-9, _ and -. It must
	// never be logged.
	SecretToken string `toml:"secret_token"`
}

// Admin holds the local admin socket, through which the command line
// reaches the running bot (bbolt lets only one process open the store).
type Admin struct {
	// Socket is the unix socket's path; empty: danvan.sock next to the
	// store file.
	Socket string `toml:"socket"`
}

// Backup holds scheduled backups.
type Backup struct {
	// Schedule is a cron expression or descriptor in [bot] timezone, e.g.
	// "0 2 * * *"; empty turns scheduled backups off.
	Schedule string `toml:"schedule"`
	// Dir is where scheduled backups are written; it is created.
	Dir string `toml:"dir"`
	// Keep is how many scheduled backups are kept; older ones are removed.
	Keep int `toml:"keep"`
}

// Log holds how danvan logs.
type Log struct {
	// Level is debug, info, warn or error; user content is logged only at
	// debug.
	Level string `toml:"level"`
	// Format is text or json.
	Format string `toml:"format"`
}

// The update modes of [telegram] mode.
const (
	ModePolling = "polling"
	ModeWebhook = "webhook"
)

// AdminSocket returns the admin socket's path: [admin] socket, or
// danvan.sock in the store file's directory.
func (c *Config) AdminSocket() string {
	if c.Admin.Socket != "" {
		return c.Admin.Socket
	}
	return filepath.Join(filepath.Dir(c.Store.Path), "danvan.sock")
}

// defaultTimezone is the zone of the Vietnamese deployments danvan is for.
const defaultTimezone = "Asia/Ho_Chi_Minh"

// Default returns the built-in configuration, the one config.example.toml
// spells out. It has no token, so it does not pass Load's checks by itself.
func Default() Config {
	c := Config{
		Telegram: Telegram{
			Mode:           ModePolling,
			APIEndpoint:    "https://api.telegram.org/bot%s/%s",
			PollTimeout:    Duration{50 * time.Second},
			RequestTimeout: Duration{30 * time.Second},
			Limits: Limits{
				GlobalPerSecond: 30,
				ChatPerSecond:   1,
				GroupPerMinute:  20,
			},
		},
		Store: Store{Path: "data/danvan.db", KeepDays: 30, AuditKeepDays: 730},
		Bot: Bot{
			Timezone:            defaultTimezone,
			Language:            "vi",
			Admins:              []int64{},
			ConversationTimeout: Duration{30 * time.Minute},
		},
		Units:  Units{InviteDays: 7, MemberInviteUses: 5000},
		Backup: Backup{Dir: "data/backups", Keep: 14},
		Log:    Log{Level: "info", Format: "text"},
	}
	// The zone database is embedded by main (time/tzdata), so this only
	// fails in a binary built without it; Location then falls back to UTC.
	c.location, _ = time.LoadLocation(defaultTimezone)
	return c
}

// Location returns the time zone named by Bot.Timezone, as loaded by Load or
// Default. A Config built any other way has no zone loaded and gets UTC.
func (c *Config) Location() *time.Location {
	if c.location == nil {
		return time.UTC
	}
	return c.location
}

// Load reads the TOML file at path, if path is not empty, over the defaults,
// then applies the DANVAN_ variables found in environ (formatted like
// os.Environ), and checks the result. It returns the configuration only when
// there is no problem; otherwise it returns nil and every problem found,
// sorted by line and key.
func Load(path string, environ []string) (*Config, []Problem) {
	return load(path, environ, true)
}

// LoadOffline is Load for commands that do not talk to Telegram (imports,
// backups): an empty token is not a problem for them.
func LoadOffline(path string, environ []string) (*Config, []Problem) {
	return load(path, environ, false)
}

func load(path string, environ []string, needToken bool) (*Config, []Problem) {
	cfg := Default()
	var (
		problems []Problem
		lines    map[string]int
	)
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			// The path is already in the Problem; keep only the reason.
			var pathErr *fs.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err
			}
			return nil, []Problem{{File: path, Message: "cannot read: " + err.Error()}}
		}
		var complete bool
		cfg, lines, problems, complete = decodeFile(path, data)
		if !complete {
			// Checking a half-read file would only add noise about the
			// keys after the broken line.
			problems = append(problems, applyEnv(&cfg, environ).problems...)
			sortProblems(problems)
			return nil, problems
		}
	}

	env := applyEnv(&cfg, environ)
	problems = append(problems, env.problems...)
	// A token read from a secret file or a CRLF env file often ends in a
	// newline, which would otherwise break every request URL.
	cfg.Telegram.Token = strings.TrimSpace(cfg.Telegram.Token)

	for _, p := range validate(&cfg, needToken) {
		switch {
		case env.vars[p.Key] != "":
			p.Env = env.vars[p.Key]
		case path != "":
			p.File, p.Line = path, lines[p.Key]
		}
		problems = append(problems, p)
	}

	if len(problems) > 0 {
		sortProblems(problems)
		return nil, problems
	}
	return &cfg, nil
}

func sortProblems(problems []Problem) {
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), strings.Compare(a.Key, b.Key))
	})
}
