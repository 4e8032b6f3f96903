package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"danvan/config"
	"danvan/store"
	"danvan/telegramtest"
)

const webhookSecret = "e2e_Webhook-secret_0123456789"

// startWebhookBot runs the app in webhook mode against the emulator, its
// listener on a free loopback port, and waits for its setWebhook.
func startWebhookBot(t *testing.T) (*testBot, string) {
	t.Helper()
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	tb := &testBot{emu: emu, cfg: testConfig(t, srv.URL, emu.Token()), logs: &syncBuffer{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hookURL := "http://" + ln.Addr().String() + "/tg/hook"
	tb.cfg.Telegram.Mode = config.ModeWebhook
	tb.cfg.Webhook = config.Webhook{Listen: ln.Addr().String(), PublicURL: hookURL, SecretToken: webhookSecret}

	tb.run(t, appOptions{WebhookListener: ln})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if _, err := emu.WaitWebhook(wctx); err != nil {
		t.Fatalf("the bot never set its webhook: %v\n%s", err, tb.logs)
	}
	return tb, hookURL
}

// post sends a webhook request as Telegram (or an impostor) would.
func post(t *testing.T, target, secret, method, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(telegramtest.SecretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func updateJSON(id int64, chatID int64, text string) string {
	return fmt.Sprintf(`{"update_id": %d, "message": {"message_id": %d, "date": %d, "chat": {"id": %d, "type": "private", "first_name": "Minh"},
		"from": {"id": %d, "first_name": "Minh", "language_code": "vi"}, "text": %q, "entities": [{"type": "bot_command", "offset": 0, "length": 3}]}}`,
		id, id, time.Now().Unix(), chatID, chatID, text)
}

func processed(t *testing.T, a *app, id int64) bool {
	t.Helper()
	var done bool
	if err := a.store.View(context.Background(), func(tx *store.Tx) error { done = tx.UpdateProcessed(id); return nil }); err != nil {
		t.Fatal(err)
	}
	return done
}

// TestWebhookEndToEnd runs the bot in webhook mode: the emulator posts
// updates to its listener with the secret and each is applied once and
// answered; requests without the secret, to another path or with another
// method change nothing.
func TestWebhookEndToEnd(t *testing.T) {
	tb, hookURL := startWebhookBot(t)
	set, _ := tb.emu.Webhook()
	if set.URL != hookURL || set.SecretToken != webhookSecret || set.MaxConnections != webhookMaxConnections ||
		strings.Join(set.AllowedUpdates, ",") != "message,edited_message,callback_query,my_chat_member" {
		t.Errorf("webhook set as %+v", set)
	}
	if n := tb.emu.Requests("deleteWebhook"); n != 0 {
		t.Errorf("webhook mode called deleteWebhook %d times", n)
	}

	// Through the emulator, with the right secret: applied and answered.
	got := tb.ask(t, viUser, tb.emu.Private(viUser), "/start")
	if !strings.Contains(got.Text, "Xin chào Hoa") {
		t.Errorf("/start answered %q", got.Text)
	}
	for i := range 5 {
		tb.ask(t, enUser, tb.emu.Private(enUser), fmt.Sprintf("/id %d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tb.emu.WaitPending(ctx, 0); err != nil {
		t.Fatal(err)
	}

	// Straight to the listener: the answer comes after the commit.
	const stranger = 7007
	tb.emu.Private(telegramtest.User{ID: stranger, FirstName: "Minh"})
	if code := post(t, hookURL, webhookSecret, http.MethodPost, updateJSON(900001, stranger, "/id")); code != 200 {
		t.Errorf("right secret: %d, want 200", code)
	}
	if !processed(t, tb.app, 900001) {
		t.Error("update 900001 answered 200 before its commit")
	}
	tb.wait(t, stranger, 1)
	// Everything else is refused and changes nothing.
	refused := []struct {
		name, target, secret, method string
		id                           int64
		want                         int
	}{
		{"no secret", hookURL, "", http.MethodPost, 900002, 401},
		{"wrong secret", hookURL, "e2e_Webhook-secret_0123456780", http.MethodPost, 900003, 401},
		{"the token as secret", hookURL, tb.emu.Token(), http.MethodPost, 900004, 401},
		{"another path", strings.TrimSuffix(hookURL, "/hook") + "/other", webhookSecret, http.MethodPost, 900005, 404},
		{"GET", hookURL, webhookSecret, http.MethodGet, 900006, 405},
	}
	for _, r := range refused {
		if code := post(t, r.target, r.secret, r.method, updateJSON(r.id, stranger, "/id")); code != r.want {
			t.Errorf("%s: %d, want %d", r.name, code, r.want)
		}
	}
	if code := post(t, hookURL, webhookSecret, http.MethodPost, `{"update_id": 9000`); code != 400 {
		t.Errorf("broken JSON: %d, want 400", code)
	}

	// /healthz names the webhook; /metrics counts the requests.
	mon := httptest.NewServer(tb.app.monitorHandler())
	defer mon.Close()
	body, code := get(t, mon.URL+"/healthz")
	if code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	metrics, _ := get(t, mon.URL+"/metrics")
	for _, want := range []string{
		`danvan_webhook_requests_total{result="unauthorized"} 3`,
		`danvan_webhook_requests_total{result="not_found"} 1`,
		`danvan_webhook_requests_total{result="method_not_allowed"} 1`,
		`danvan_webhook_requests_total{result="bad_request"} 1`,
		`danvan_poll_conflicts_total 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	tb.stop()
	if strings.Contains(tb.logs.String(), webhookSecret) {
		t.Errorf("the log shows the webhook secret")
	}
	// The store: each update once; none of the refused ones.
	st, err := store.Open(tb.cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	effects := make(map[int64]int)
	st.View(context.Background(), func(tx *store.Tx) error {
		return tx.Journal(func(e store.JournalEntry) bool { effects[e.UpdateID]++; return true })
	})
	if len(effects) != 7 {
		t.Errorf("%d updates in the journal, want 7 (six through the emulator, one posted directly)", len(effects))
	}
	for id, n := range effects {
		if n != 1 {
			t.Errorf("update %d applied %d times", id, n)
		}
	}
	for _, r := range refused {
		if effects[r.id] != 0 {
			t.Errorf("%s: update %d was applied", r.name, r.id)
		}
	}
	if n := len(tb.emu.BotMessages(stranger)); n != 1 {
		t.Errorf("the direct posts got %d replies, want 1 (the refused ones none)", n)
	}
	// The webhook stays set for the next start, as on Telegram.
	if _, ok := tb.emu.Webhook(); !ok {
		t.Error("stopping the bot removed the webhook")
	}
}

func get(t *testing.T, target string) (string, int) {
	t.Helper()
	resp, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// TestPollingStartDeletesTheWebhook starts the bot in polling mode while
// a webhook is set with updates waiting: it deletes the webhook, keeping
// them, and answers them.
func TestPollingStartDeletesTheWebhook(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	form := url.Values{"url": {"https://127.0.0.1:1/nobody-listens"}, "secret_token": {"old"}}
	resp, err := http.PostForm(srv.URL+"/bot"+emu.Token()+"/setWebhook", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := emu.Webhook(); !ok {
		t.Fatal("webhook not set")
	}
	chat := emu.Private(viUser)
	emu.SendText(viUser, chat, "/id")

	tb := &testBot{emu: emu, cfg: testConfig(t, srv.URL, emu.Token()), logs: &syncBuffer{}}
	tb.start(t) // waits for a long poll
	if _, ok := emu.Webhook(); ok {
		t.Error("the webhook is still set after a start in polling mode")
	}
	if msgs := tb.wait(t, chat.ID, 1); !strings.Contains(msgs[0].Text, "2002") {
		t.Errorf("the update waiting under the webhook got %q", msgs[0].Text)
	}
}

// TestPollConflicts runs the bot in virtual time while a rival polls with
// the same token, then sets a webhook: each conflict is logged once with
// advice, retried every few seconds, counted, and makes /healthz 503 until
// getUpdates works again.
func TestPollConflicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The rival's webhook is nowhere: its deliveries fail at once
		// (no real network in the bubble).
		emu := telegramtest.New(telegramtest.Options{WebhookTransport: unreachable{}})
		defer emu.Close()
		cfg := testConfig(t, "http://telegram.test", emu.Token())
		cfg.Log.Level = "info"
		logs := &syncBuffer{}
		a, err := newApp(cfg, newLogger(cfg, logs), appOptions{Transport: emu.Transport()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.run(ctx) }()
		defer func() { cancel(); <-done }()
		mon := a.monitorHandler()
		health := func() (int, string) {
			rec := httptest.NewRecorder()
			mon.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			return rec.Code, rec.Body.String()
		}
		metric := func(name string) string {
			rec := httptest.NewRecorder()
			mon.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			for line := range strings.Lines(rec.Body.String()) {
				if v, ok := strings.CutPrefix(line, name+" "); ok {
					return strings.TrimSpace(v)
				}
			}
			return ""
		}
		time.Sleep(time.Second)
		if code, body := health(); code != 200 {
			t.Fatalf("/healthz before the rival: %d %s", code, body)
		}

		// The rival polls without pause: every getUpdates of the bot is
		// ended by the rival's next one.
		rival := &http.Client{Transport: emu.Transport()}
		call := func(ctx context.Context, method string, v url.Values) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://telegram.test/bot"+emu.Token()+"/"+method, strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if resp, err := rival.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		rivalCtx, stopRival := context.WithCancel(context.Background())
		rivalDone := make(chan struct{})
		go func() {
			defer close(rivalDone)
			for rivalCtx.Err() == nil {
				call(rivalCtx, "getUpdates", url.Values{"timeout": {"50"}})
			}
		}()
		time.Sleep(time.Minute)
		code, body := health()
		if code != 503 || !strings.Contains(body, "polling: getUpdates conflict since") || !strings.Contains(body, "terminated by other getUpdates request") {
			t.Errorf("/healthz during the conflict: %d %q", code, body)
		}
		// One try every 5 s for a minute.
		if n := metric("danvan_poll_conflicts_total"); n != "12" && n != "13" {
			t.Errorf("danvan_poll_conflicts_total %s after a minute of conflict, want 12 or 13", n)
		}
		if n := strings.Count(logs.String(), "another danvan or another program polls with this bot token"); n != 1 {
			t.Errorf("advice logged %d times, want once:\n%s", n, logs)
		}

		stopRival()
		<-rivalDone
		time.Sleep(6 * time.Second) // the bot's next try
		// Its long poll succeeds when it returns: an update, or its
		// timeout.
		u := telegramtest.User{ID: 42, FirstName: "Minh", LanguageCode: "vi"}
		emu.SendText(u, emu.Private(u), "/id")
		wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
		defer wcancel()
		if _, err := emu.WaitBotMessages(wctx, u.ID, 1); err != nil {
			t.Fatalf("no reply after the conflict: %v\n%s", err, logs)
		}
		synctest.Wait() // the poll loop notes its success after the commit
		if code, body := health(); code != 200 {
			t.Errorf("/healthz after the conflict: %d %q", code, body)
		}
		if !strings.Contains(logs.String(), "the conflict ended") {
			t.Errorf("no line saying the conflict ended:\n%s", logs)
		}

		// A webhook set by someone else: the waiting poll is ended, and
		// every getUpdates refused until it is deleted.
		call(context.Background(), "setWebhook", url.Values{"url": {"https://elsewhere.example/hook"}})
		time.Sleep(30 * time.Second)
		code, body = health()
		if code != 503 || !strings.Contains(body, "webhook is active") {
			t.Errorf("/healthz with a webhook set: %d %q", code, body)
		}
		if n := strings.Count(logs.String(), "a webhook is set for this bot token"); n != 1 {
			t.Errorf("webhook advice logged %d times, want once:\n%s", n, logs)
		}
		call(context.Background(), "deleteWebhook", nil)
		time.Sleep(6 * time.Second)
		emu.SendText(u, emu.Private(u), "/id")
		if _, err := emu.WaitBotMessages(wctx, u.ID, 2); err != nil {
			t.Fatalf("no reply after the webhook was deleted: %v", err)
		}
		synctest.Wait()
		if code, body := health(); code != 200 {
			t.Errorf("/healthz after the webhook was deleted: %d %q", code, body)
		}
	})
}

// unreachable fails every request, as a webhook URL nobody serves.
type unreachable struct{}

func (unreachable) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connection refused")}
}
