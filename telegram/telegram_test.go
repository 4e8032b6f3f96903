package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"danvan/bot"
	"danvan/delivery"
	"danvan/store"
	"danvan/telegramtest"
)

// testToken looks like a real token, so redaction is tested on the real
// shape; secretHalf is the part after ':' that must never leak either.
const (
	testToken  = "7345123456:AAHx-Secret_Token_0123456789abcdefZZ"
	secretHalf = "AAHx-Secret_Token_0123456789abcdefZZ"
)

var alice = telegramtest.User{ID: 1001, FirstName: "Alice", LastName: "Nguyễn", Username: "alice", LanguageCode: "vi"}

// syncBuffer is a log sink safe for the client's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func debugLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fixture is an emulator behind a loopback HTTP server and a client to it.
type fixture struct {
	emu    *telegramtest.Server
	url    string
	client *Client
	logs   *syncBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	emu := telegramtest.New(telegramtest.Options{Token: testToken})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	logs := &syncBuffer{}
	c, err := New(Options{Token: testToken, Endpoint: telegramtest.Endpoint(srv.URL), Log: debugLogger(logs)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { assertClean(t, "client log", logs.String()) })
	return &fixture{emu: emu, url: srv.URL, client: c, logs: logs}
}

// assertClean fails if text holds the token or its secret half.
func assertClean(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, testToken) || strings.Contains(text, secretHalf) {
		t.Errorf("%s: got %q, want it without the token or its secret", what, text)
	}
}

// assertErrorClean checks every error in err's chain.
func assertErrorClean(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		assertClean(t, "error", e.Error())
	}
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 3))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGetMe(t *testing.T) {
	f := newFixture(t)
	got, err := f.client.GetMe(context.Background())
	if err != nil {
		t.Fatalf("GetMe: %v", err)
	}
	want := bot.Identity{ID: telegramtest.DefaultBotID, Username: telegramtest.DefaultBotUsername, Name: telegramtest.DefaultBotName}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDeleteWebhookAndSetCommands(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.client.DeleteWebhook(ctx); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	entries := []bot.MenuEntry{{Command: "trogiup", Description: "Trợ giúp"}, {Command: "baocao", Description: "Gửi báo cáo"}}
	if err := f.client.SetCommands(ctx, bot.MenuEverywhere, "vi", entries); err != nil {
		t.Fatalf("SetCommands: %v", err)
	}
	got := f.emu.Commands("", "vi")
	if len(got) != 2 || got[0].Command != "trogiup" || got[1].Description != "Gửi báo cáo" {
		t.Errorf("commands for vi: got %+v, want trogiup and baocao", got)
	}
	if got := f.emu.Commands("", "en"); len(got) != 0 {
		t.Errorf("commands for en: got %+v, want none", got)
	}
}

// wantErr is the classification a failed call must carry.
type wantErr struct {
	kind       delivery.Kind
	status     int
	code       int
	desc       string // prefix of Description
	retryAfter time.Duration
	migrateTo  int64
}

func checkError(t *testing.T, err error, want wantErr) *delivery.Error {
	t.Helper()
	var e *delivery.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want a *delivery.Error", err, err)
	}
	if e.Kind != want.kind || e.Status != want.status || e.Code != want.code || e.RetryAfter != want.retryAfter || e.MigrateTo != want.migrateTo {
		t.Errorf("got kind %v status %d code %d retry after %v migrate to %d, want %v %d %d %v %d",
			e.Kind, e.Status, e.Code, e.RetryAfter, e.MigrateTo, want.kind, want.status, want.code, want.retryAfter, want.migrateTo)
	}
	if !strings.HasPrefix(e.Description, want.desc) {
		t.Errorf("got description %q, want it to start with %q", e.Description, want.desc)
	}
	if want.desc != "" && !strings.Contains(e.Error(), want.desc) {
		t.Errorf("got error text %q, want it to carry %q", e.Error(), want.desc)
	}
	assertErrorClean(t, err)
	return e
}

func TestErrorClassification(t *testing.T) {
	const htmlPage = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
	text := store.Action{Kind: store.ActSend, Text: "xin chào"}
	upload := store.Action{Kind: store.ActDocument, FileName: "a.txt", FileData: []byte("abc")}
	tests := []struct {
		name string
		// setup prepares the emulator and returns the chat and action.
		setup func(f *fixture) (int64, store.Action)
		want  wantErr
		// sent is how many messages the chat must hold afterwards.
		sent int
	}{
		{
			name: "flood limit",
			setup: func(f *fixture) (int64, store.Action) {
				f.emu.SetFault(func(telegramtest.FaultRequest) *telegramtest.Fault { return &telegramtest.Fault{RetryAfter: 7} })
				return f.emu.Private(alice).ID, text
			},
			want: wantErr{kind: delivery.RateLimited, status: 429, code: 429, desc: "Too Many Requests: retry after 7", retryAfter: 7 * time.Second},
		},
		{
			name: "flood limit on an upload",
			setup: func(f *fixture) (int64, store.Action) {
				f.emu.SetFault(func(r telegramtest.FaultRequest) *telegramtest.Fault {
					if r.Method == "sendDocument" {
						return &telegramtest.Fault{RetryAfter: 3}
					}
					return nil
				})
				return f.emu.Private(alice).ID, upload
			},
			want: wantErr{kind: delivery.RateLimited, status: 429, code: 429, desc: "Too Many Requests", retryAfter: 3 * time.Second},
		},
		{
			name: "rejected upload",
			setup: func(f *fixture) (int64, store.Action) {
				a := upload
				a.Text = strings.Repeat("c", 1025)
				return f.emu.Private(alice).ID, a
			},
			want: wantErr{kind: delivery.Rejected, status: 400, code: 400, desc: "Bad Request: message caption is too long"},
		},
		{
			name: "internal server error",
			setup: func(f *fixture) (int64, store.Action) {
				f.emu.SetFault(func(telegramtest.FaultRequest) *telegramtest.Fault { return &telegramtest.Fault{Status: 500} })
				return f.emu.Private(alice).ID, text
			},
			want: wantErr{kind: delivery.Temporary, status: 500, code: 500, desc: "Internal Server Error"},
		},
		{
			name: "proxy's HTML page",
			setup: func(f *fixture) (int64, store.Action) {
				f.emu.SetFault(func(telegramtest.FaultRequest) *telegramtest.Fault { return &telegramtest.Fault{Body: htmlPage} })
				return f.emu.Private(alice).ID, text
			},
			want: wantErr{kind: delivery.Temporary, status: 502},
		},
		{
			name: "connection reset",
			setup: func(f *fixture) (int64, store.Action) {
				f.emu.ResetNext(1)
				return f.emu.Private(alice).ID, text
			},
			want: wantErr{kind: delivery.Temporary},
		},
		{
			name: "answer lost after the message was stored",
			setup: func(f *fixture) (int64, store.Action) {
				f.emu.SetFault(func(telegramtest.FaultRequest) *telegramtest.Fault {
					return &telegramtest.Fault{Reset: true, AfterApply: true}
				})
				return f.emu.Private(alice).ID, text
			},
			want: wantErr{kind: delivery.Temporary},
			sent: 1,
		},
		{
			name: "blocked by the user",
			setup: func(f *fixture) (int64, store.Action) {
				chat := f.emu.Private(alice)
				f.emu.Block(alice.ID)
				return chat.ID, text
			},
			want: wantErr{kind: delivery.Unreachable, status: 403, code: 403, desc: "Forbidden: bot was blocked by the user"},
		},
		{
			name: "deactivated user",
			setup: func(f *fixture) (int64, store.Action) {
				chat := f.emu.Private(alice)
				f.emu.Deactivate(alice.ID)
				return chat.ID, text
			},
			want: wantErr{kind: delivery.Unreachable, status: 403, code: 403, desc: "Forbidden: user is deactivated"},
		},
		{
			name: "unknown chat",
			setup: func(f *fixture) (int64, store.Action) {
				return 424242, text
			},
			want: wantErr{kind: delivery.Unreachable, status: 400, code: 400, desc: "Bad Request: chat not found"},
		},
		{
			name: "group upgraded to a supergroup",
			setup: func(f *fixture) (int64, store.Action) {
				group := f.emu.Group(-3001, "Chi bộ")
				f.emu.Migrate(alice, group, -1003001)
				return group.ID, text
			},
			want: wantErr{kind: delivery.Migrated, status: 400, code: 400, desc: "Bad Request: group chat was upgraded to a supergroup chat", migrateTo: -1003001},
		},
		{
			name: "message too long",
			setup: func(f *fixture) (int64, store.Action) {
				return f.emu.Private(alice).ID, store.Action{Kind: store.ActSend, Text: strings.Repeat("ư", 4097)}
			},
			want: wantErr{kind: delivery.Rejected, status: 400, code: 400, desc: "Bad Request: message is too long"},
		},
		{
			name: "bad HTML",
			setup: func(f *fixture) (int64, store.Action) {
				return f.emu.Private(alice).ID, store.Action{Kind: store.ActSend, Text: "<b>đậm"}
			},
			want: wantErr{kind: delivery.Rejected, status: 400, code: 400, desc: "Bad Request: can't parse entities"},
		},
		{
			name: "edit of a missing message",
			setup: func(f *fixture) (int64, store.Action) {
				return f.emu.Private(alice).ID, store.Action{Kind: store.ActEditText, MessageID: 77, Text: "x"}
			},
			want: wantErr{kind: delivery.Rejected, status: 400, code: 400, desc: "Bad Request: message to edit not found"},
		},
		{
			name: "callback data too long",
			setup: func(f *fixture) (int64, store.Action) {
				return f.emu.Private(alice).ID, store.Action{Kind: store.ActSend, Text: "x", Buttons: [][]store.Button{{{Text: "x", Data: strings.Repeat("d", 65)}}}}
			},
			want: wantErr{kind: delivery.Rejected, status: 400, code: 400, desc: "Bad Request: BUTTON_DATA_INVALID"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			chatID, a := tt.setup(f)
			id, err := f.client.Do(context.Background(), chatID, a)
			if err == nil {
				t.Fatalf("got message %d, want an error", id)
			}
			checkError(t, err, tt.want)
			if got := len(f.emu.BotMessages(chatID)); got != tt.sent {
				t.Errorf("got %d messages in the chat, want %d", got, tt.sent)
			}
		})
	}
}

func TestWrongToken(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	logs := &syncBuffer{}
	c, err := New(Options{Token: testToken, Endpoint: telegramtest.Endpoint(srv.URL), Log: debugLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetMe(context.Background())
	checkError(t, err, wantErr{kind: delivery.Temporary, status: 401, code: 401, desc: "Unauthorized"})
	_, err = c.Do(context.Background(), emu.Private(alice).ID, store.Action{Kind: store.ActSend, Text: "x"})
	checkError(t, err, wantErr{kind: delivery.Temporary, status: 401, code: 401, desc: "Unauthorized"})
	assertClean(t, "log", logs.String())
	if n := len(emu.BotMessages(alice.ID)); n != 0 {
		t.Errorf("got %d messages, want none", n)
	}
}

// TestRequestTimeout runs in virtual time: a stalled answer ends at the
// request timeout as a temporary error that still matches
// context.DeadlineExceeded, and nothing is sent.
func TestRequestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := telegramtest.New(telegramtest.Options{Token: testToken})
		defer emu.Close()
		c, err := New(Options{Token: testToken, Endpoint: telegramtest.Endpoint("http://telegram.test"), Transport: emu.Transport(), RequestTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		chat := emu.Private(alice)
		emu.SetFault(func(telegramtest.FaultRequest) *telegramtest.Fault { return &telegramtest.Fault{Delay: time.Minute} })
		start := time.Now()
		_, err = c.Do(context.Background(), chat.ID, store.Action{Kind: store.ActSend, Text: "chậm"})
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("gave up after %v, want 3s", got)
		}
		e := checkError(t, err, wantErr{kind: delivery.Temporary})
		if !errors.Is(e, context.DeadlineExceeded) {
			t.Errorf("got %v, want it to match context.DeadlineExceeded", err)
		}
		synctest.Wait()
		if n := len(emu.BotMessages(chat.ID)); n != 0 {
			t.Errorf("got %d messages, want none", n)
		}

		// The caller's own cancellation is seen through the redaction too.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		_, err = c.GetMe(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		assertErrorClean(t, err)
	})
}

// TestTokenNeverLeaks builds clients on malformed endpoints: every call
// fails, and neither the errors nor the logs show the token or its secret.
func TestTokenNeverLeaks(t *testing.T) {
	endpoints := []string{
		"http://127.0.0.1:1/bot%s/%s",    // connection refused
		"http://bad host/bot%s/%s",       // NewRequest quotes the URL
		"http://127.0.0.1:1/bot%s/%s/%s", // %!s(MISSING)
		"http://127.0.0.1:1/bot%s",       // %!(EXTRA string=getMe)
		"http://127.0.0.1:1/",            // %!(EXTRA string=TOKEN, string=getMe)
		"%s%s",
		"%s/%s",
		"",
		"http://%s/%s",         // the token as host:port
		"http://%s.example/%s", // invalid port ":SECRET.example"
		"http://[%s]/%s",
		"http://127.0.0.1:1/bot%s/%s?a=%%zz",
		"ftp://127.0.0.1:1/bot%s/%s",
	}
	for _, endpoint := range endpoints {
		t.Run(endpoint, func(t *testing.T) {
			logs := &syncBuffer{}
			c, err := New(Options{Token: testToken, Endpoint: endpoint, Log: debugLogger(logs), RequestTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			calls := map[string]func() error{
				"getMe": func() error { _, err := c.GetMe(ctx); return err },
				"send": func() error {
					_, err := c.Do(ctx, 1, store.Action{Kind: store.ActSend, Text: "x"})
					return err
				},
				"upload": func() error {
					_, err := c.Do(ctx, 1, store.Action{Kind: store.ActDocument, FileName: "a", FileData: []byte("a")})
					return err
				},
				"getUpdates":    func() error { _, err := c.GetUpdates(ctx, 5, 10, 0); return err },
				"deleteWebhook": func() error { return c.DeleteWebhook(ctx) },
				"setWebhook": func() error {
					return c.SetWebhook(ctx, bot.Webhook{URL: "https://bot.example/" + testToken, Secret: "hook-secret"})
				},
				"getWebhookInfo": func() error { _, err := c.GetWebhookInfo(ctx); return err },
				"setCommands": func() error {
					return c.SetCommands(ctx, bot.MenuEverywhere, "", []bot.MenuEntry{{Command: "a", Description: "b"}})
				},
			}
			for name, call := range calls {
				err := call()
				if err == nil {
					t.Errorf("%s: got no error, want one", name)
					continue
				}
				if e := delivery.Classify(err); e.Kind != delivery.Temporary {
					t.Errorf("%s: got kind %v, want temporary", name, e.Kind)
				}
				assertErrorClean(t, err)
				assertClean(t, name+" error", fmt.Sprintf("%v %+v", err, err))
			}
			assertClean(t, "log", logs.String())
		})
	}
}

// TestTokenWithControlCharacterNeverLeaks: a token read with its newline
// (a secret file, a CRLF env file) makes every request fail in
// http.NewRequest, whose error quotes the URL ("bot7345:AAH…ZZ\n"); the
// secret half must not show in any form.
func TestTokenWithControlCharacterNeverLeaks(t *testing.T) {
	for _, token := range []string{testToken + "\n", testToken + "\r\n", testToken + "\x00", " " + testToken + "\t"} {
		t.Run(strconv.Quote(token), func(t *testing.T) {
			emu := telegramtest.New(telegramtest.Options{Token: testToken})
			srv := httptest.NewServer(emu)
			defer srv.Close()
			defer emu.Close()
			logs := &syncBuffer{}
			c, err := New(Options{Token: token, Endpoint: telegramtest.Endpoint(srv.URL), Log: debugLogger(logs)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			_, getMe := c.GetMe(ctx)
			_, send := c.Do(ctx, emu.Private(alice).ID, store.Action{Kind: store.ActSend, Text: "x"})
			_, updates := c.GetUpdates(ctx, 0, 10, 0)
			for name, err := range map[string]error{"getMe": getMe, "send": send, "getUpdates": updates} {
				if err == nil {
					t.Fatalf("%s: got no error, want one", name)
				}
				if e := delivery.Classify(err); e.Kind != delivery.Temporary {
					t.Errorf("%s: got kind %v, want temporary", name, e.Kind)
				}
				assertErrorClean(t, err)
				text := fmt.Sprintf("%v %+v", err, err)
				assertClean(t, name+" error", text)
				if !strings.Contains(text, "<token>") {
					t.Errorf("%s: got %q, want the token replaced by <token>", name, text)
				}
			}
			assertClean(t, "log", logs.String())
		})
	}
}

func TestScrub(t *testing.T) {
	// A short secret that tokenShape does not match: only the quoted
	// forms can catch it.
	const token = "42:Shh_quiet\r\n"
	tests := []string{
		fmt.Sprintf("parse %q: net/url: invalid control character in URL", "http://x/bot"+token+"/getMe"),
		fmt.Sprintf("parse %+q: bad", "http://x/bot"+token+"/getMe"),
		fmt.Sprintf("invalid port %q after host", ":"+strings.TrimPrefix(token, "42:")),
		"http://x/bot" + url.PathEscape(token) + "/getMe",
		"GET /bot42:Shh_quiet/getMe", // trimmed somewhere on the way
		"other bot: 123456789:ABCdefGHIjklMNOpqrSTUvwxYZ012345",
	}
	for _, in := range tests {
		out := scrub(in, token)
		if strings.Contains(out, "Shh_quiet") || strings.Contains(out, "ABCdefGHIjklMNOpqrSTUvwxYZ012345") {
			t.Errorf("scrub(%q) = %q, want it without the secret", in, out)
		}
		if !strings.Contains(out, "<token>") {
			t.Errorf("scrub(%q) = %q, want <token> in its place", in, out)
		}
	}
}

// TestAnswersNotFromTheBotAPI: a JSON answer without the Bot API's
// error_code comes from something in the way (a gateway, a proxy) and says
// nothing about the chat or the request: it is temporary, whatever its
// HTTP status, and its Retry-After is kept. Telegram's own errors with the
// same statuses keep their kinds.
func TestAnswersNotFromTheBotAPI(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		header map[string]string
		upload bool
		want   wantErr
	}{
		{name: "gateway 403", status: 403, body: `{"message":"Forbidden"}`, want: wantErr{kind: delivery.Temporary, status: 403}},
		{name: "gateway 403 on an upload", status: 403, body: `{"message":"Forbidden"}`, upload: true, want: wantErr{kind: delivery.Temporary, status: 403}},
		{name: "gateway 400", status: 400, body: `{"error":"bad request","ok":false}`, want: wantErr{kind: delivery.Temporary, status: 400}},
		{name: "gateway 404", status: 404, body: `{}`, want: wantErr{kind: delivery.Temporary, status: 404}},
		{name: "proxy 407", status: 407, body: `{"message":"Proxy Authentication Required"}`, want: wantErr{kind: delivery.Temporary, status: 407}},
		{name: "200 null", status: 200, body: `null`, want: wantErr{kind: delivery.Temporary, status: 200}},
		{name: "ok false without error_code", status: 200, body: `{"ok":false,"description":"Forbidden: bot was blocked by the user"}`, want: wantErr{kind: delivery.Temporary, status: 200}},
		{
			name: "gateway 429 with Retry-After", status: 429, body: `{"message":"Too Many Requests"}`, header: map[string]string{"Retry-After": "12"},
			want: wantErr{kind: delivery.Temporary, status: 429, retryAfter: 12 * time.Second},
		},
		{
			name: "gateway 503 with a far Retry-After date", status: 503, body: `{"message":"down"}`,
			header: map[string]string{"Retry-After": time.Now().Add(48 * time.Hour).UTC().Format(http.TimeFormat)},
			want:   wantErr{kind: delivery.Temporary, status: 503, retryAfter: time.Hour},
		},
		{
			name: "Telegram's 403", status: 403, body: `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`,
			want: wantErr{kind: delivery.Unreachable, status: 403, code: 403, desc: "Forbidden: bot was blocked by the user"},
		},
		{
			name: "Telegram's 403 on an upload", status: 403, body: `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`, upload: true,
			want: wantErr{kind: delivery.Unreachable, status: 403, code: 403, desc: "Forbidden: bot was blocked by the user"},
		},
		{
			name: "Telegram's 400", status: 400, body: `{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}`,
			want: wantErr{kind: delivery.Rejected, status: 400, code: 400, desc: "Bad Request: message is too long"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseMultipartForm(1 << 20)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c, err := New(Options{Token: testToken, Endpoint: telegramtest.Endpoint(srv.URL)})
			if err != nil {
				t.Fatal(err)
			}
			a := store.Action{Kind: store.ActSend, Text: "x"}
			if tt.upload {
				a = store.Action{Kind: store.ActDocument, FileName: "a.txt", FileData: []byte("abc")}
			}
			_, err = c.Do(context.Background(), 1001, a)
			if err == nil {
				t.Fatal("got no error, want one")
			}
			checkError(t, err, tt.want)
			if tt.want.kind == delivery.Temporary && !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", tt.status)) {
				t.Errorf("got %q, want it to name the HTTP status", err)
			}
		})
	}
}

// A gateway's JSON 401 or 409 is not Telegram refusing the token or
// reporting another poller.
func TestGatewayStatusesAreNotTelegrams(t *testing.T) {
	for _, status := range []int{401, 409} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"message":"no"}`)
		}))
		c, err := New(Options{Token: testToken, Endpoint: telegramtest.Endpoint(srv.URL)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetMe(context.Background())
		if errors.Is(err, bot.ErrUnauthorized) || delivery.Classify(err).Kind != delivery.Temporary {
			t.Errorf("getMe, gateway %d: got %v, want a temporary error", status, err)
		}
		_, err = c.GetUpdates(context.Background(), 0, 10, 0)
		if errors.Is(err, bot.ErrConflict) || delivery.Classify(err).Kind != delivery.Temporary {
			t.Errorf("getUpdates, gateway %d: got %v, want a temporary error", status, err)
		}
		srv.Close()
	}
}

func TestLibraryLoggerScrubs(t *testing.T) {
	logs := &syncBuffer{}
	l := libraryLogger{log: debugLogger(logs), token: testToken}
	l.Printf("Endpoint: %s, params: %v", "https://api.telegram.org/bot"+testToken+"/sendMessage", "x")
	l.Println("other bot:", "https://api.telegram.org/bot123456789:ABCdefGHIjklMNOpqrSTUvwxYZ012345/getMe")
	out := logs.String()
	assertClean(t, "library log", out)
	if strings.Contains(out, "ABCdefGHIjklMNOpqrSTUvwxYZ012345") {
		t.Errorf("got %q, want another bot's token scrubbed too", out)
	}
	if got := strings.Count(out, "<token>"); got != 2 {
		t.Errorf("got %d <token> marks in %q, want 2", got, out)
	}
}
