package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // as main does, so that zones load on any machine
)

// token is a valid-looking bot token; it must never appear in a problem.
const token = "123456:AAE-secret-token"

// withToken returns env with the token set, for the tests about other keys.
func withToken(env ...string) []string {
	return append(env, "DANVAN_TELEGRAM_TOKEN="+token)
}

// want is a problem a test expects: its key, where it was found, and part of
// its message.
type want struct {
	key  string
	line int
	env  string
	msg  string
}

func (w want) String() string {
	return fmt.Sprintf("{key %q line %d env %q msg ~%q}", w.key, w.line, w.env, w.msg)
}

// writeConfig writes content to a config.toml in a fresh directory and
// returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkProblems fails t unless got matches wants one for one, in order, and
// every problem of the file names it.
func checkProblems(t *testing.T, path string, got []Problem, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d problems %q, want %d %v", len(got), got, len(wants), wants)
	}
	for i, w := range wants {
		p := got[i]
		if p.Key != w.key || p.Line != w.line || p.Env != w.env || !strings.Contains(p.Message, w.msg) {
			t.Errorf("problem %d: got {key %q line %d env %q msg %q}, want %v", i, p.Key, p.Line, p.Env, p.Message, w)
		}
		if w.env == "" && p.File != path {
			t.Errorf("problem %d: got file %q, want %q", i, p.File, path)
		}
		if strings.Contains(p.String(), token) {
			t.Errorf("problem %d: %q shows the token", i, p)
		}
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   []string
		wants []want
	}{
		{
			name:  "unknown top-level table",
			file:  "[telegrm]\ntoken = \"x\"\n",
			env:   withToken(),
			wants: []want{{key: "telegrm", line: 1, msg: "unknown table"}},
		},
		{
			name:  "unknown top-level key",
			file:  "# comment\nfoo = 1\n",
			env:   withToken(),
			wants: []want{{key: "foo", line: 2, msg: "unknown key"}},
		},
		{
			name:  "unknown key in nested table",
			file:  "[telegram.limits]\nglobal_per_second = 30\nfoo = 1\n",
			env:   withToken(),
			wants: []want{{key: "telegram.limits.foo", line: 3, msg: "unknown key"}},
		},
		{
			name:  "unknown dotted key",
			file:  "[telegram]\n\nlimits.foo = 1\n",
			env:   withToken(),
			wants: []want{{key: "telegram.limits.foo", line: 3, msg: "unknown key"}},
		},
		{
			name:  "unknown key in inline table",
			file:  "[telegram]\nlimits = { chat_per_second = 1, foo = 1 }\n",
			env:   withToken(),
			wants: []want{{key: "telegram.limits.foo", line: 2, msg: "unknown key"}},
		},
		{
			name:  "duration given as a number",
			file:  "[telegram]\n\npoll_timeout = 50\n",
			env:   withToken(),
			wants: []want{{key: "telegram.poll_timeout", line: 3, msg: `want a duration such as "50s", got an integer`}},
		},
		{
			name:  "invalid duration",
			file:  "[telegram]\npoll_timeout = \"abc\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.poll_timeout", line: 2, msg: `invalid duration "abc"`}},
		},
		{
			name:  "list given as a string",
			file:  "[bot]\nadmins = \"x\"\n",
			env:   withToken(),
			wants: []want{{key: "bot.admins", line: 2, msg: "want a list of integers, got a string"}},
		},
		{
			name:  "string in a list of numbers",
			file:  "[bot]\nadmins = [\n  1,\n  \"x\",\n]\n",
			env:   withToken(),
			wants: []want{{key: "bot.admins", line: 2, msg: "got a string in the list"}},
		},
		{
			name:  "number given as a string",
			file:  "[telegram.limits]\nglobal_per_second = \"a\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.limits.global_per_second", line: 2, msg: "want an integer, got a string"}},
		},
		{
			name:  "number given as a float",
			file:  "telegram.limits.chat_per_second = 1.5\n",
			env:   withToken(),
			wants: []want{{key: "telegram.limits.chat_per_second", line: 1, msg: "want an integer, got a float"}},
		},
		{
			name:  "number too large",
			file:  "[telegram.limits]\nglobal_per_second = 99999999999999999999\n",
			env:   withToken(),
			wants: []want{{key: "telegram.limits.global_per_second", line: 2, msg: "too large"}},
		},
		{
			name:  "table given as a value",
			file:  "store = \"db\"\n",
			env:   withToken(),
			wants: []want{{key: "store", line: 1, msg: "want a table, got a string"}},
		},
		{
			name:  "key defined twice",
			file:  "[telegram]\ntoken = \"1:a\"\ntoken = \"1:b\"\n",
			wants: []want{{key: "telegram.token", line: 3, msg: "already defined"}},
		},
		{
			name:  "syntax error",
			file:  "[telegram]\ntoken = \"a\"\npoll_timeout =\n[bot]\ntimezone = \"Mars/Base\"\n",
			wants: []want{{key: "", line: 3, msg: "unexpected character"}},
		},
		{
			name:  "unterminated table header",
			file:  "# danvan\n\n[telegram\ntoken = \"a\"\n",
			wants: []want{{key: "", line: 3, msg: "expected ']'"}},
		},
		{
			name:  "unknown time zone",
			file:  "[bot]\nlanguage = \"vi\"\ntimezone = \"Asia/Hanoi\"\n",
			env:   withToken(),
			wants: []want{{key: "bot.timezone", line: 3, msg: `unknown time zone "Asia/Hanoi"`}},
		},
		{
			name:  "local time zone",
			file:  "[bot]\ntimezone = \"Local\"\n",
			env:   withToken(),
			wants: []want{{key: "bot.timezone", line: 2, msg: `"Local" depends on the host`}},
		},
		{
			name:  "empty time zone",
			file:  "[bot]\ntimezone = \"\"\n",
			env:   withToken(),
			wants: []want{{key: "bot.timezone", line: 2, msg: "is empty"}},
		},
		{
			name:  "missing token",
			file:  "",
			wants: []want{{key: "telegram.token", msg: "is empty: set it in the file or DANVAN_TELEGRAM_TOKEN"}},
		},
		{
			name:  "endpoint with one %s",
			file:  "[telegram]\napi_endpoint = \"https://api.telegram.org/bot%s\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.api_endpoint", line: 2, msg: `"https://api.telegram.org/bot%s" has 1 %s, want exactly 2`}},
		},
		{
			name:  "endpoint with three %s",
			file:  "[telegram]\napi_endpoint = \"https://%s/bot%s/%s\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.api_endpoint", line: 2, msg: "has 3 %s, want exactly 2"}},
		},
		{
			name:  "endpoint with %d",
			file:  "[telegram]\napi_endpoint = \"https://api.telegram.org/bot%s/%d\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.api_endpoint", line: 2, msg: "has %d: only %s and %% are allowed"}},
		},
		{
			name:  "endpoint not over http",
			file:  "[telegram]\napi_endpoint = \"ftp://example.org/bot%s/%s\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.api_endpoint", line: 2, msg: "is not an http or https URL with a host"}},
		},
		{
			name:  "endpoint without host",
			file:  "[telegram]\napi_endpoint = \"/bot%s/%s\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.api_endpoint", line: 2, msg: "is not an http or https URL with a host"}},
		},
		{
			name:  "proxy with a bad scheme",
			file:  "[telegram]\nproxy = \"ftp://user:secret@proxy:21\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.proxy", line: 2, msg: `"ftp://user:xxxxx@proxy:21" has scheme "ftp"`}},
		},
		{
			name:  "proxy without host",
			file:  "[telegram]\nproxy = \"socks5://\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.proxy", line: 2, msg: "has no host"}},
		},
		{
			name:  "unknown mode",
			file:  "[telegram]\nmode = \"push\"\n",
			env:   withToken(),
			wants: []want{{key: "telegram.mode", line: 2, msg: `"push" is not one of polling, webhook`}},
		},
		{
			name: "webhook mode without its table",
			file: "[telegram]\nmode = \"webhook\"\n",
			env:  withToken(),
			wants: []want{
				{key: "webhook.listen", msg: "is empty: webhook mode needs host:port"},
				{key: "webhook.public_url", msg: "is empty: webhook mode needs the https URL"},
				{key: "webhook.secret_token", msg: "is empty: webhook mode needs a secret"},
			},
		},
		{
			name: "webhook table with bad values",
			file: "[telegram]\nmode = \"webhook\"\n[http]\nlisten = \"127.0.0.1:9090\"\n[webhook]\nlisten = \"127.0.0.1:9090\"\npublic_url = \"https://bot.example.vn:9443/tg\"\nsecret_token = \"s3cret with spaces\"\n",
			env:  withToken(),
			wants: []want{
				{key: "webhook.listen", line: 6, msg: `"127.0.0.1:9090" and http.listen "127.0.0.1:9090" bind the same port`},
				{key: "webhook.public_url", line: 7, msg: "uses port 9443: Telegram posts only to 443, 80, 88 or 8443"},
				{key: "webhook.secret_token", line: 8, msg: "has a character other than"},
			},
		},
		{
			name:  "webhook public url over ftp",
			file:  "[telegram]\nmode = \"webhook\"\n[webhook]\nlisten = \"127.0.0.1:8443\"\npublic_url = \"ftp://bot.example.vn/tg\"\nsecret_token = \"abc\"\n",
			env:   withToken(),
			wants: []want{{key: "webhook.public_url", line: 5, msg: "is not an http or https URL with a host"}},
		},
		{
			name: "retention and backups out of range",
			file: "[store]\nkeep_days = 0\naudit_keep_days = 7\n[backup]\nschedule = \"every night\"\ndir = \"\"\nkeep = 0\n",
			env:  withToken(),
			wants: []want{
				{key: "store.keep_days", line: 2, msg: "0 is out of range: want 1 to 3650"},
				{key: "store.audit_keep_days", line: 3, msg: "7 is out of range: want 30 to 36500"},
				{key: "backup.schedule", line: 5, msg: `"every night" is not a cron expression`},
				{key: "backup.dir", line: 6, msg: "is empty"},
				{key: "backup.keep", line: 7, msg: "0 is out of range: want 1 to 1000"},
			},
		},
		{
			name:  "webhook and monitoring on one port, one of them a wildcard",
			file:  "[telegram]\nmode = \"webhook\"\n[http]\nlisten = \":9090\"\n[webhook]\nlisten = \"127.0.0.1:9090\"\npublic_url = \"https://bot.example.vn/tg\"\nsecret_token = \"s3cret\"\n",
			env:   withToken(),
			wants: []want{{key: "webhook.listen", line: 6, msg: `bind the same port`}},
		},
		{
			name:  "a backup schedule that never comes",
			file:  "[backup]\nschedule = \"0 2 30 2 *\"\n",
			env:   withToken(),
			wants: []want{{key: "backup.schedule", line: 2, msg: `"0 2 30 2 *" never comes: no such date`}},
		},
		{
			name:  "admin socket path too long",
			file:  "[admin]\nsocket = \"/" + strings.Repeat("d", 120) + "/danvan.sock\"\n",
			env:   withToken(),
			wants: []want{{key: "admin.socket", line: 2, msg: "a unix socket path must stay under 100"}},
		},
		{
			name: "durations out of range",
			file: "[telegram]\npoll_timeout = \"51s\"\nrequest_timeout = \"500ms\"\n[bot]\nconversation_timeout = \"25h\"\n",
			env:  withToken(),
			wants: []want{
				{key: "telegram.poll_timeout", line: 2, msg: "51s is out of range: want 1s to 50s"},
				{key: "telegram.request_timeout", line: 3, msg: "500ms is out of range: want 1s to 5m"},
				{key: "bot.conversation_timeout", line: 5, msg: "25h is out of range: want 1m to 24h"},
			},
		},
		{
			name: "limits",
			file: "[telegram.limits]\nglobal_per_second = 2\nchat_per_second = 3\ngroup_per_minute = 0\n",
			env:  withToken(),
			wants: []want{
				{key: "telegram.limits.chat_per_second", line: 3, msg: "3 exceeds global_per_second 2"},
				{key: "telegram.limits.group_per_minute", line: 4, msg: "0 is not positive"},
			},
		},
		{
			name:  "store path empty",
			file:  "[store]\npath = \"\"\n",
			env:   withToken(),
			wants: []want{{key: "store.path", line: 2, msg: "is empty"}},
		},
		{
			name: "bad admins",
			file: "[bot]\nadmins = [5, -1, 5]\n",
			env:  withToken(),
			wants: []want{
				{key: "bot.admins", line: 2, msg: "-1 is not a user id"},
				{key: "bot.admins", line: 2, msg: "5 is listed twice"},
			},
		},
		{
			name: "bad enums",
			file: "[bot]\nlanguage = \"fr\"\n[log]\nlevel = \"verbose\"\nformat = \"xml\"\n",
			env:  withToken(),
			wants: []want{
				{key: "bot.language", line: 2, msg: `"fr" is not one of vi, en`},
				{key: "log.level", line: 4, msg: `"verbose" is not one of debug, info, warn, error`},
				{key: "log.format", line: 5, msg: `"xml" is not one of text, json`},
			},
		},
		{
			name: "bad environment values",
			file: "[bot]\nadmins = [1]\n",
			env: withToken(
				"DANVAN_BOT_ADMINS=1,x",
				"DANVAN_TELEGRAM_POLL_TIMEOUT=soon",
				"DANVAN_TELEGRAM_LIMITS_GLOBAL_PER_SECOND=99999999999999999999",
			),
			wants: []want{
				{key: "bot.admins", env: "DANVAN_BOT_ADMINS", msg: `"x" is not a number`},
				{key: "telegram.limits.global_per_second", env: "DANVAN_TELEGRAM_LIMITS_GLOBAL_PER_SECOND", msg: "is out of range"},
				{key: "telegram.poll_timeout", env: "DANVAN_TELEGRAM_POLL_TIMEOUT", msg: `invalid duration "soon"`},
			},
		},
		{
			name: "environment values that fail validation",
			file: "[bot]\ntimezone = \"Asia/Ho_Chi_Minh\"\n",
			env: withToken(
				"DANVAN_BOT_TIMEZONE=Mars/Base",
				"DANVAN_BOT_ADMINS=0",
				"DANVAN_TELEGRAM_POLL_TIMEOUT=2m",
			),
			wants: []want{
				{key: "bot.admins", env: "DANVAN_BOT_ADMINS", msg: "0 is not a user id"},
				{key: "bot.timezone", env: "DANVAN_BOT_TIMEZONE", msg: `unknown time zone "Mars/Base"`},
				{key: "telegram.poll_timeout", env: "DANVAN_TELEGRAM_POLL_TIMEOUT", msg: "2m is out of range: want 1s to 50s"},
			},
		},
		{
			name:  "empty token from the environment",
			file:  "[telegram]\ntoken = \"" + token + "\"\n",
			env:   []string{"DANVAN_TELEGRAM_TOKEN="},
			wants: []want{{key: "telegram.token", env: "DANVAN_TELEGRAM_TOKEN", msg: "is empty"}},
		},
		{
			name: "several problems at once",
			file: strings.Join([]string{
				"[telegram]",                        // 1
				"token = \"" + token + "\"",         // 2
				"poll_timeout = 50",                 // 3
				"request_timeout = \"never\"",       // 4
				"api_endpoint = \"http://x/bot%s\"", // 5
				"colour = \"blue\"",                 // 6
				"[telegram.limits]",                 // 7
				"global_per_second = \"many\"",      // 8
				"[bot]",                             // 9
				"timezone = \"Asia/Hanoi\"",         // 10
				"admins = [1, 1]",                   // 11
				"[log]",                             // 12
				"level = \"loud\"",                  // 13
			}, "\n") + "\n",
			env: []string{"DANVAN_STORE_PATH=", "DANVAN_BOT_LANGUAGE=en", "DANVAN_LOG_FORMAT=yaml"},
			wants: []want{
				{key: "log.format", env: "DANVAN_LOG_FORMAT", msg: `"yaml" is not one of text, json`},
				{key: "store.path", env: "DANVAN_STORE_PATH", msg: "is empty"},
				{key: "telegram.poll_timeout", line: 3, msg: "want a duration"},
				{key: "telegram.request_timeout", line: 4, msg: `invalid duration "never"`},
				{key: "telegram.api_endpoint", line: 5, msg: "has 1 %s"},
				{key: "telegram.colour", line: 6, msg: "unknown key"},
				{key: "telegram.limits.global_per_second", line: 8, msg: "want an integer"},
				{key: "bot.timezone", line: 10, msg: "unknown time zone"},
				{key: "bot.admins", line: 11, msg: "1 is listed twice"},
				{key: "log.level", line: 13, msg: `"loud" is not one of`},
			},
		},
		{
			name: "syntax error and bad environment value",
			file: "[log]\nlevel = 'debug\n",
			env:  []string{"DANVAN_BOT_ADMINS=1;2"},
			wants: []want{
				{key: "bot.admins", env: "DANVAN_BOT_ADMINS", msg: `"1;2" is not a number`},
				{key: "", line: 2, msg: "literal string"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.file)
			cfg, problems := Load(path, tt.env)
			checkProblems(t, path, problems, tt.wants)
			if cfg != nil {
				t.Errorf("got a config despite problems, want nil")
			}
		})
	}
}

// A [webhook] table may stay in a polling config: it is not read.
func TestWebhookTableIgnoredWhenPolling(t *testing.T) {
	path := writeConfig(t, "[telegram]\nmode = \"polling\"\n[webhook]\nlisten = \"nonsense\"\n")
	cfg, problems := Load(path, withToken())
	if len(problems) > 0 || cfg == nil || cfg.Webhook.Listen != "nonsense" {
		t.Errorf("got %+v, %q; want the config loaded as is", cfg, problems)
	}
}

func TestAdminSocketDefaultsNextToTheStore(t *testing.T) {
	cfg, problems := Load("", withToken("DANVAN_STORE_PATH=/var/lib/danvan/danvan.db"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if got := cfg.AdminSocket(); got != "/var/lib/danvan/danvan.sock" {
		t.Errorf("got %q, want /var/lib/danvan/danvan.sock", got)
	}
	cfg.Admin.Socket = "/run/danvan/admin.sock"
	if got := cfg.AdminSocket(); got != "/run/danvan/admin.sock" {
		t.Errorf("got %q, want the configured socket", got)
	}
}

func TestLoadWithoutFile(t *testing.T) {
	cfg, problems := Load("", nil)
	if cfg != nil {
		t.Errorf("got a config without a token, want nil")
	}
	if len(problems) != 1 {
		t.Fatalf("got problems %q, want one about the token", problems)
	}
	got, want := problems[0].String(), "telegram.token: is empty: set it in the file or DANVAN_TELEGRAM_TOKEN"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A token with a newline or spaces around it (a secret mounted from a
// file, a CRLF env file) is trimmed: a newline in a request URL makes every
// call fail with the token quoted in the error.
func TestTokenTrimmed(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
	}{
		{name: "environment, CRLF", env: []string{"DANVAN_TELEGRAM_TOKEN=" + token + "\r\n"}},
		{name: "environment, spaces", env: []string{"DANVAN_TELEGRAM_TOKEN=  " + token + "\t"}},
		{name: "file, escaped newline", file: "[telegram]\ntoken = \"" + token + "\\n\"\n"},
		{name: "file, multi-line string", file: "[telegram]\ntoken = \"\"\"\n" + token + "\n\"\"\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			cfg, problems := Load(path, tt.env)
			if len(problems) > 0 {
				t.Fatalf("got problems %q, want none", problems)
			}
			if cfg.Telegram.Token != token {
				t.Errorf("got token %q, want %q", cfg.Telegram.Token, token)
			}
		})
	}
}

// A value that is not shaped like a bot token is a problem, reported
// without the value, from the file or the environment, online or offline.
func TestTokenShape(t *testing.T) {
	bad := []struct{ name, value string }{
		{"the secret half alone", "AAE-secret-token"},
		{"copied with the URL's bot", "bot123456:AAE-secret"},
		{"a space inside", "123456:AAE secret"},
		{"a control character", "123456:AAE-secret\x00"},
		{"no secret", "123456:"},
		{"no bot id", ":AAE-secret-token"},
		{"a second colon", "123456:AAE-secret:extra"},
		{"not ASCII", "123456:AAE-sécret-token"},
		{"quotes kept from an env file", "\"123456:AAE-secret\""},
	}
	const msg = "is not a bot token (digits, a colon, then letters, digits, _ or -); copy it again from @BotFather"
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			for _, load := range []func(string, []string) (*Config, []Problem){Load, LoadOffline} {
				cfg, problems := load("", []string{"DANVAN_TELEGRAM_TOKEN=" + tt.value})
				if cfg != nil || len(problems) != 1 {
					t.Fatalf("got %+v, problems %q; want one problem", cfg, problems)
				}
				p := problems[0]
				if p.Key != "telegram.token" || p.Env != "DANVAN_TELEGRAM_TOKEN" || p.Message != msg {
					t.Errorf("got %+v, want %q from DANVAN_TELEGRAM_TOKEN", p, msg)
				}
				if s := p.String(); strings.Contains(s, tt.value) || strings.Contains(s, "AAE") {
					t.Errorf("got %q, want it without the value", s)
				}
			}
		})
	}
	path := writeConfig(t, "[telegram]\ntoken = \"123456 AAE-secret-token\"\n")
	_, problems := Load(path, nil)
	checkProblems(t, path, problems, []want{{key: "telegram.token", line: 2, msg: msg}})
	if strings.Contains(problems[0].String(), "AAE") {
		t.Errorf("got %q, want it without the value", problems[0])
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.toml")
	_, problems := Load(path, withToken())
	if len(problems) != 1 {
		t.Fatalf("got problems %q, want one", problems)
	}
	got, want := problems[0].String(), path+": cannot read: no such file or directory"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	file := strings.Join([]string{
		`[telegram]`,
		`token = "1:from-file"`,
		`proxy = "http://proxy:3128"`,
		`[telegram.limits]`,
		`global_per_second = 10`,
		`chat_per_second = 1`,
		`[store]`,
		`path = "file.db"`,
		`[bot]`,
		`admins = [9]`,
		`conversation_timeout = "10m"`,
	}, "\n")
	tests := []struct {
		name string
		env  []string
		get  func(*Config) any
		want any
	}{
		{
			name: "token",
			env:  []string{"DANVAN_TELEGRAM_TOKEN=" + token},
			get:  func(c *Config) any { return c.Telegram.Token },
			want: token,
		},
		{
			name: "file value kept without a variable",
			env:  nil,
			get:  func(c *Config) any { return c.Store.Path },
			want: "file.db",
		},
		{
			name: "store path",
			env:  []string{"DANVAN_STORE_PATH=/var/lib/danvan/danvan.db"},
			get:  func(c *Config) any { return c.Store.Path },
			want: "/var/lib/danvan/danvan.db",
		},
		{
			name: "admins list",
			env:  []string{"DANVAN_BOT_ADMINS=1, 2,3"},
			get:  func(c *Config) any { return c.Bot.Admins },
			want: []int64{1, 2, 3},
		},
		{
			name: "admins emptied",
			env:  []string{"DANVAN_BOT_ADMINS="},
			get:  func(c *Config) any { return c.Bot.Admins },
			want: []int64{},
		},
		{
			name: "nested limit",
			env:  []string{"DANVAN_TELEGRAM_LIMITS_CHAT_PER_SECOND=4"},
			get:  func(c *Config) any { return c.Telegram.Limits.ChatPerSecond },
			want: 4,
		},
		{
			name: "duration",
			env:  []string{"DANVAN_BOT_CONVERSATION_TIMEOUT=1h30m"},
			get:  func(c *Config) any { return c.Bot.ConversationTimeout.Duration },
			want: 90 * time.Minute,
		},
		{
			name: "proxy emptied",
			env:  []string{"DANVAN_TELEGRAM_PROXY="},
			get:  func(c *Config) any { return c.Telegram.Proxy },
			want: "",
		},
		{
			name: "time zone and its location",
			env:  []string{"DANVAN_BOT_TIMEZONE=Asia/Bangkok"},
			get:  func(c *Config) any { return c.Location().String() },
			want: "Asia/Bangkok",
		},
		{
			name: "first definition wins, unknown variables ignored",
			env:  []string{"DANVAN_LOG_LEVEL=debug", "DANVAN_LOG_LEVEL=error", "DANVAN_NO_SUCH_KEY=1", "DANVAN_TELEGRAM=x"},
			get:  func(c *Config) any { return c.Log.Level },
			want: "debug",
		},
	}
	path := writeConfig(t, file)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, problems := Load(path, tt.env)
			if len(problems) > 0 {
				t.Fatalf("got problems %q, want none", problems)
			}
			if got := tt.get(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvironmentNames(t *testing.T) {
	var got []string
	for _, f := range fields() {
		if fromEnv(f.typ) {
			got = append(got, envName(f.key))
		}
	}
	want := []string{
		"DANVAN_TELEGRAM_TOKEN", "DANVAN_TELEGRAM_MODE", "DANVAN_TELEGRAM_API_ENDPOINT",
		"DANVAN_TELEGRAM_POLL_TIMEOUT", "DANVAN_TELEGRAM_PROXY", "DANVAN_TELEGRAM_REQUEST_TIMEOUT",
		"DANVAN_TELEGRAM_LIMITS_GLOBAL_PER_SECOND", "DANVAN_TELEGRAM_LIMITS_CHAT_PER_SECOND", "DANVAN_TELEGRAM_LIMITS_GROUP_PER_MINUTE",
		"DANVAN_STORE_PATH", "DANVAN_STORE_KEEP_DAYS", "DANVAN_STORE_AUDIT_KEEP_DAYS",
		"DANVAN_BOT_TIMEZONE", "DANVAN_BOT_LANGUAGE", "DANVAN_BOT_ADMINS", "DANVAN_BOT_CONVERSATION_TIMEOUT",
		"DANVAN_UNITS_INVITE_DAYS", "DANVAN_UNITS_MEMBER_INVITE_USES", "DANVAN_HTTP_LISTEN",
		"DANVAN_WEBHOOK_LISTEN", "DANVAN_WEBHOOK_PUBLIC_URL", "DANVAN_WEBHOOK_SECRET_TOKEN",
		"DANVAN_ADMIN_SOCKET", "DANVAN_BACKUP_SCHEDULE", "DANVAN_BACKUP_DIR", "DANVAN_BACKUP_KEEP",
		"DANVAN_LOG_LEVEL", "DANVAN_LOG_FORMAT",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// sameConfig reports whether a and b hold the same settings and zone.
func sameConfig(a, b Config) bool {
	if a.Location().String() != b.Location().String() {
		return false
	}
	a.location, b.location = nil, nil
	return reflect.DeepEqual(a, b)
}

func TestExampleFileIsDefault(t *testing.T) {
	// The example at the root of the repository is the one operators copy;
	// testdata holds the same content for when it is not there yet.
	path := "../config.example.toml"
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join("testdata", "example.toml")
	}
	cfg, problems := Load(path, withToken())
	if len(problems) > 0 {
		t.Fatalf("got problems %q, want none", problems)
	}
	want := Default()
	want.Telegram.Token = token
	if !sameConfig(*cfg, want) {
		t.Errorf("got %+v, want %+v", *cfg, want)
	}
}

func TestDefault(t *testing.T) {
	cfg, problems := Load("", withToken())
	if len(problems) > 0 {
		t.Fatalf("got problems %q, want none", problems)
	}
	want := Default()
	want.Telegram.Token = token
	if !sameConfig(*cfg, want) {
		t.Errorf("got %+v, want %+v", *cfg, want)
	}
	def := Default()
	if got := def.Location().String(); got != "Asia/Ho_Chi_Minh" {
		t.Errorf("got location %q, want %q", got, "Asia/Ho_Chi_Minh")
	}
	if got := (&Config{}).Location(); got != time.UTC {
		t.Errorf("got location %v for a hand-made config, want UTC", got)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		name    string
		problem Problem
		want    string
	}{
		{
			name:    "file line",
			problem: Problem{File: "config.toml", Line: 12, Key: "telegram.poll_timeout", Message: `invalid duration "abc"`},
			want:    `config.toml:12: telegram.poll_timeout: invalid duration "abc"`,
		},
		{
			name:    "environment",
			problem: Problem{Key: "bot.admins", Env: "DANVAN_BOT_ADMINS", Message: `"12x" is not a number`},
			want:    `DANVAN_BOT_ADMINS: "12x" is not a number`,
		},
		{
			name:    "file without line",
			problem: Problem{File: "config.toml", Key: "telegram.token", Message: "is empty"},
			want:    "config.toml: telegram.token: is empty",
		},
		{
			name:    "syntax error",
			problem: Problem{File: "config.toml", Line: 3, Message: "expected ']'"},
			want:    "config.toml:3: expected ']'",
		},
		{
			name:    "no file",
			problem: Problem{Key: "telegram.token", Message: "is empty"},
			want:    "telegram.token: is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.problem.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		text    string
		want    time.Duration
		wantErr bool
	}{
		{text: "50s", want: 50 * time.Second},
		{text: "1h30m", want: 90 * time.Minute},
		{text: "50", wantErr: true},
		{text: "soon", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(tt.text))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if d.Duration != tt.want {
				t.Errorf("got %v, want %v", d.Duration, tt.want)
			}
			text, _ := d.MarshalText()
			var back Duration
			if err := back.UnmarshalText(text); err != nil || back != d {
				t.Errorf("got %v (%v) after a round trip through %q, want %v", back, err, text, d)
			}
		})
	}
}
