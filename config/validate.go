package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// validate checks the values of cfg against each other and the world, loads
// its time zone, and returns the problems found. The problems name their key
// only; Load locates them in the file or the environment.
func validate(cfg *Config, needToken bool) []Problem {
	var problems []Problem
	report := func(key, format string, args ...any) {
		problems = append(problems, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
	}

	tg := cfg.Telegram
	// Whatever is wrong with the token, its value stays out of the
	// message: problems are printed and logged.
	switch {
	case tg.Token == "":
		if needToken {
			report("telegram.token", "is empty: set it in the file or %s", envName("telegram.token"))
		}
	case !tokenShape.MatchString(tg.Token):
		report("telegram.token", "is not a bot token (digits, a colon, then letters, digits, _ or -); copy it again from @BotFather")
	}
	if msg := checkEndpoint(tg.APIEndpoint); msg != "" {
		report("telegram.api_endpoint", "%s", msg)
	}
	if msg := checkProxy(tg.Proxy); msg != "" {
		report("telegram.proxy", "%s", msg)
	}
	checkRange := func(key string, d Duration, lo, hi time.Duration) {
		if d.Duration < lo || d.Duration > hi {
			report(key, "%s is out of range: want %s to %s", shortDuration(d.Duration), shortDuration(lo), shortDuration(hi))
		}
	}
	checkRange("telegram.poll_timeout", tg.PollTimeout, time.Second, 50*time.Second)
	checkRange("telegram.request_timeout", tg.RequestTimeout, time.Second, 5*time.Minute)
	checkRange("bot.conversation_timeout", cfg.Bot.ConversationTimeout, time.Minute, 24*time.Hour)

	lim := tg.Limits
	for _, l := range []struct {
		key   string
		value int
	}{
		{"telegram.limits.global_per_second", lim.GlobalPerSecond},
		{"telegram.limits.chat_per_second", lim.ChatPerSecond},
		{"telegram.limits.group_per_minute", lim.GroupPerMinute},
	} {
		if l.value <= 0 {
			report(l.key, "%d is not positive", l.value)
		}
	}
	if lim.GlobalPerSecond > 0 && lim.ChatPerSecond > lim.GlobalPerSecond {
		report("telegram.limits.chat_per_second", "%d exceeds global_per_second %d", lim.ChatPerSecond, lim.GlobalPerSecond)
	}

	if cfg.Store.Path == "" {
		report("store.path", "is empty")
	}
	if d := cfg.Store.KeepDays; d < 1 || d > 3650 {
		report("store.keep_days", "%d is out of range: want 1 to 3650", d)
	}
	if d := cfg.Store.AuditKeepDays; d < 30 || d > 36500 {
		report("store.audit_keep_days", "%d is out of range: want 30 to 36500", d)
	}

	if msg := checkOneOf(tg.Mode, ModePolling, ModeWebhook); msg != "" {
		report("telegram.mode", "%s", msg)
	}
	if tg.Mode == ModeWebhook {
		wh := cfg.Webhook
		if wh.Listen == "" {
			report("webhook.listen", `is empty: webhook mode needs host:port, e.g. "127.0.0.1:8443"`)
		} else if msg := checkListen(wh.Listen); msg != "" {
			report("webhook.listen", "%s", msg)
		} else if sameListen(wh.Listen, cfg.HTTP.Listen) {
			report("webhook.listen", "%q and http.listen %q bind the same port: give each its own", wh.Listen, cfg.HTTP.Listen)
		}
		if msg := checkPublicURL(wh.PublicURL); msg != "" {
			report("webhook.public_url", "%s", msg)
		}
		if msg := checkSecretToken(wh.SecretToken); msg != "" {
			report("webhook.secret_token", "%s", msg)
		}
	}

	// A unix socket's path is limited (108 bytes on Linux, 104 elsewhere).
	if sock := cfg.AdminSocket(); len(sock) > 100 {
		report("admin.socket", "%q is %d bytes long: a unix socket path must stay under 100; set a shorter admin.socket", sock, len(sock))
	}

	if spec := cfg.Backup.Schedule; spec != "" {
		if sched, err := cronParser.Parse(spec); err != nil {
			report("backup.schedule", "%q is not a cron expression (e.g. \"0 2 * * *\") or descriptor (\"@daily\"): %v", spec, err)
		} else if sched.Next(time.Now()).IsZero() {
			report("backup.schedule", "%q never comes: no such date (e.g. 30 February)", spec)
		}
	}
	if cfg.Backup.Dir == "" {
		report("backup.dir", "is empty")
	}
	if k := cfg.Backup.Keep; k < 1 || k > 1000 {
		report("backup.keep", "%d is out of range: want 1 to 1000", k)
	}

	loc, msg := loadZone(cfg.Bot.Timezone)
	if msg != "" {
		report("bot.timezone", "%s", msg)
	}
	cfg.location = loc
	if msg := checkOneOf(cfg.Bot.Language, "vi", "en"); msg != "" {
		report("bot.language", "%s", msg)
	}
	seen := make(map[int64]bool)
	for _, id := range cfg.Bot.Admins {
		switch {
		case id <= 0:
			report("bot.admins", "%d is not a user id", id)
		case seen[id]:
			report("bot.admins", "%d is listed twice", id)
		}
		seen[id] = true
	}

	if d := cfg.Units.InviteDays; d < 1 || d > 365 {
		report("units.invite_days", "%d is out of range: want 1 to 365", d)
	}
	if n := cfg.Units.MemberInviteUses; n < 1 || n > 1_000_000 {
		report("units.member_invite_uses", "%d is out of range: want 1 to 1000000", n)
	}

	if l := cfg.HTTP.Listen; l != "" {
		if msg := checkListen(l); msg != "" {
			report("http.listen", "%s", msg)
		}
	}

	if msg := checkOneOf(cfg.Log.Level, "debug", "info", "warn", "error"); msg != "" {
		report("log.level", "%s", msg)
	}
	if msg := checkOneOf(cfg.Log.Format, "text", "json"); msg != "" {
		report("log.format", "%s", msg)
	}
	return problems
}

// cronParser reads what the scheduler reads: five fields or a descriptor.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// checkListen returns what is wrong with a host:port to listen on, or "".
func checkListen(l string) string {
	if _, port, err := net.SplitHostPort(l); err != nil || port == "" {
		return fmt.Sprintf("%q is not host:port (e.g. \"127.0.0.1:9090\")", l)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q has no valid port", l)
	}
	return ""
}

// checkPublicURL returns what is wrong with the webhook's public URL, or
// "". Telegram wants https on 443, 80, 88 or 8443, but a local Bot API
// server or an emulator takes http too.
func checkPublicURL(s string) string {
	if s == "" {
		return `is empty: webhook mode needs the https URL Telegram posts to, e.g. "https://bot.example.vn/telegram"`
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an http or https URL with a host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%q must not carry a user, query or fragment", u.Redacted())
	}
	if u.Scheme == "https" {
		switch u.Port() {
		case "", "443", "80", "88", "8443":
		default:
			return fmt.Sprintf("%q uses port %s: Telegram posts only to 443, 80, 88 or 8443", s, u.Port())
		}
	}
	return ""
}

// tokenShape is a bot token as @BotFather gives it: the bot's id, a colon,
// then the secret.
var tokenShape = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// checkSecretToken returns what is wrong with the webhook secret, never
// showing it, or "".
func checkSecretToken(s string) string {
	if s == "" {
		return "is empty: webhook mode needs a secret of 1 to 256 characters A-Z, a-z, 0-9, _ or - (e.g. from `openssl rand -hex 32`)"
	}
	if len(s) > 256 {
		return fmt.Sprintf("is %d characters long: want at most 256", len(s))
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return "has a character other than A-Z, a-z, 0-9, _ and -"
		}
	}
	return ""
}

// checkEndpoint returns what is wrong with a Bot API endpoint format, or "".
// It must take the token and the method through exactly two %s, and give an
// absolute http or https URL.
func checkEndpoint(endpoint string) string {
	verbs := 0
	for i := 0; i < len(endpoint); i++ {
		if endpoint[i] != '%' {
			continue
		}
		if i+1 == len(endpoint) {
			return fmt.Sprintf("%q ends with a lone %%", endpoint)
		}
		i++
		switch endpoint[i] {
		case 's':
			verbs++
		case '%':
		default:
			return fmt.Sprintf("%q has %%%c: only %%s and %%%% are allowed", endpoint, endpoint[i])
		}
	}
	if verbs != 2 {
		return fmt.Sprintf("%q has %d %%s, want exactly 2 (token, method)", endpoint, verbs)
	}
	u, err := url.Parse(fmt.Sprintf(endpoint, "TOKEN", "getMe"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an http or https URL with a host", endpoint)
	}
	return ""
}

// checkProxy returns what is wrong with a proxy URL, or "". Since a proxy URL
// may hold a password, only its redacted form is ever shown.
func checkProxy(proxy string) string {
	if proxy == "" {
		return ""
	}
	u, err := url.Parse(proxy)
	if err != nil {
		return "is not a URL"
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return fmt.Sprintf("%q has scheme %q, want http, https, socks5 or socks5h", u.Redacted(), u.Scheme)
	}
	if u.Host == "" {
		return fmt.Sprintf("%q has no host", u.Redacted())
	}
	return ""
}

// loadZone loads an IANA time zone. The deployment must name its zone, so
// the empty name and "Local", which time.LoadLocation accepts, are refused.
func loadZone(name string) (*time.Location, string) {
	switch name {
	case "":
		return nil, `is empty: name an IANA zone such as "Asia/Ho_Chi_Minh"`
	case "Local":
		return nil, `"Local" depends on the host: name an IANA zone such as "Asia/Ho_Chi_Minh"`
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Sprintf("unknown time zone %q", name)
	}
	return loc, ""
}

// checkOneOf returns what is wrong with value if it is not one of allowed,
// or "".
func checkOneOf(value string, allowed ...string) string {
	if slices.Contains(allowed, value) {
		return ""
	}
	return fmt.Sprintf("%q is not one of %s", value, strings.Join(allowed, ", "))
}

// shortDuration formats d without zero units: "5m" rather than "5m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// sameListen reports whether two listen addresses would clash: the same
// port, and the same host or either a wildcard ("", 0.0.0.0, ::).
func sameListen(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return a == b
	}
	if pa != pb {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}
