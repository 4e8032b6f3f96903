package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// hookReceiver is a bot's webhook endpoint for the tests: it records every
// request and answers what status says (200 by default), after waiting
// for release when hold is set.
type hookReceiver struct {
	mu       sync.Mutex
	requests []hookRequest
	attempts map[int64]int
	status   func(id int64, attempt int) int
	hold     chan struct{}
	inflight int
	peak     int
}

type hookRequest struct {
	id          int64
	text        string
	secret      string
	contentType string
	method      string
}

func newHookReceiver() *hookReceiver {
	return &hookReceiver{attempts: make(map[int64]int)}
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var u tgUpdate
	_ = json.Unmarshal(body, &u)
	h.mu.Lock()
	h.attempts[u.UpdateID]++
	attempt := h.attempts[u.UpdateID]
	text := ""
	if u.Message != nil {
		text = u.Message.Text
	}
	h.requests = append(h.requests, hookRequest{
		id: u.UpdateID, text: text, secret: r.Header.Get(SecretHeader),
		contentType: r.Header.Get("Content-Type"), method: r.Method,
	})
	h.inflight++
	h.peak = max(h.peak, h.inflight)
	hold, status := h.hold, h.status
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inflight--
		h.mu.Unlock()
	}()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	code := http.StatusOK
	if status != nil {
		code = status(u.UpdateID, attempt)
	}
	w.WriteHeader(code)
}

func (h *hookReceiver) all() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

func (h *hookReceiver) ids() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []int64
	for _, r := range h.requests {
		ids = append(ids, r.id)
	}
	return ids
}

// handlerTransport serves webhook requests with a handler in memory, so
// deliveries run in a synctest bubble's virtual time.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// waitPending fails the test unless at most n updates are pending within
// a minute (of virtual time inside a bubble).
func waitPending(t *testing.T, s *Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.WaitPending(ctx, n); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookDeliversInOrderWithTheSecret(t *testing.T) {
	rcv := newHookReceiver()
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	for i := range 3 {
		s.SendText(alice, chat, fmt.Sprintf("before %d", i))
	}

	var ok bool
	a := c.call("setWebhook", vals("url", hook.URL+"/tg/hook", "secret_token", "s3cret_-X", "max_connections", "1",
		"allowed_updates", `["message","callback_query"]`))
	a.wantOK(t, &ok)
	if !ok || a.Description != "Webhook was set" {
		t.Errorf("setWebhook: %v %q, want true \"Webhook was set\"", ok, a.Description)
	}
	s.SendText(alice, chat, "after")
	waitPending(t, s, 0)

	if got, want := fmt.Sprint(rcv.ids()), "[10000 10001 10002 10003]"; got != want {
		t.Errorf("posted ids %s, want %s (pending updates kept, in order)", got, want)
	}
	for _, r := range rcv.all() {
		if r.secret != "s3cret_-X" || r.contentType != "application/json" || r.method != http.MethodPost {
			t.Errorf("request for %d: %s with secret %q, content type %q", r.id, r.method, r.secret, r.contentType)
		}
	}
	if got := rcv.all()[3].text; got != "after" {
		t.Errorf("last update's text %q, want after", got)
	}
	if got := s.Confirmed(); got != 10003 {
		t.Errorf("Confirmed %d, want 10003", got)
	}

	var info struct {
		URL              string   `json:"url"`
		Pending          int      `json:"pending_update_count"`
		MaxConnections   int      `json:"max_connections"`
		AllowedUpdates   []string `json:"allowed_updates"`
		LastErrorDate    int64    `json:"last_error_date"`
		LastErrorMessage string   `json:"last_error_message"`
	}
	c.call("getWebhookInfo", nil).wantOK(t, &info)
	if info.URL != hook.URL+"/tg/hook" || info.Pending != 0 || info.MaxConnections != 1 ||
		fmt.Sprint(info.AllowedUpdates) != "[message callback_query]" || info.LastErrorDate != 0 || info.LastErrorMessage != "" {
		t.Errorf("getWebhookInfo: %+v", info)
	}
	c.call("getUpdates", nil).wantError(t, http.StatusConflict,
		"Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")

	// The same again is "already set"; allowed_updates filter new updates.
	a = c.call("setWebhook", vals("url", hook.URL+"/tg/hook", "secret_token", "s3cret_-X", "max_connections", "1"))
	a.wantOK(t, nil)
	if a.Description != "Webhook is already set" {
		t.Errorf("second setWebhook: %q, want Webhook is already set", a.Description)
	}
	if _, ok := s.Webhook(); !ok {
		t.Fatal("no webhook after setWebhook")
	}
	if got := s.MyChatMember(alice, s.Group(-5, "G"), StatusMember); got != 0 {
		t.Errorf("my_chat_member update %d created though allowed_updates excludes it", got)
	}
}

func TestWebhookRetriesUntil2xx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
		rcv := newHookReceiver()
		rcv.status = func(id int64, attempt int) int {
			if id == 10000 && attempt <= 3 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}
		s := New(Options{WebhookTransport: handlerTransport{rcv}, Now: func() time.Time { return start }})
		defer s.Close()
		c := newMemClient(t, s)
		c.call("setWebhook", vals("url", "https://bot.example/hook", "max_connections", "1")).wantOK(t, nil)
		alice := userAlice()
		t0 := time.Now()
		s.SendText(alice, s.Private(alice), "hello")
		s.SendText(alice, s.Private(alice), "second")
		synctest.Wait()

		info, _ := s.Webhook()
		if info.PendingUpdateCount != 2 || info.LastErrorMessage != "Wrong response from the webhook: 500 Internal Server Error" || !info.LastErrorDate.Equal(start) {
			t.Errorf("while failing: %+v", info)
		}
		waitPending(t, s, 0)
		// 50 + 100 + 200 ms of backoff before the fourth attempt.
		if got, want := time.Since(t0), 350*time.Millisecond; got != want {
			t.Errorf("delivered after %v, want %v", got, want)
		}
		if got, want := fmt.Sprint(rcv.ids()), "[10000 10000 10000 10000 10001]"; got != want {
			t.Errorf("requests %s, want %s: one at a time, the failed update again until 2xx, then the next", got, want)
		}
		var info2 struct {
			LastErrorDate    int64  `json:"last_error_date"`
			LastErrorMessage string `json:"last_error_message"`
		}
		c.call("getWebhookInfo", nil).wantOK(t, &info2)
		if info2.LastErrorDate != start.Unix() || info2.LastErrorMessage == "" {
			t.Errorf("getWebhookInfo keeps the last error: %+v", info2)
		}
	})
}

func TestWebhookMaxConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rcv := newHookReceiver()
		rcv.hold = make(chan struct{})
		s := New(Options{WebhookTransport: handlerTransport{rcv}})
		defer s.Close()
		c := newMemClient(t, s)
		c.call("setWebhook", vals("url", "https://bot.example/hook", "max_connections", "3")).wantOK(t, nil)
		alice := userAlice()
		for range 10 {
			s.SendText(alice, s.Private(alice), "x")
		}
		synctest.Wait()
		if got := fmt.Sprint(slices.Sorted(slices.Values(rcv.ids()))); got != "[10000 10001 10002]" {
			t.Errorf("in flight: %s, want the first three", got)
		}
		close(rcv.hold)
		waitPending(t, s, 0)
		rcv.mu.Lock()
		peak := rcv.peak
		rcv.mu.Unlock()
		if peak != 3 || len(rcv.ids()) != 10 {
			t.Errorf("peak %d requests at once over %d requests, want 3 over 10", peak, len(rcv.ids()))
		}
	})
}

func TestWebhookAnswerLostIsPostedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rcv := newHookReceiver()
		s := New(Options{WebhookTransport: handlerTransport{rcv}})
		defer s.Close()
		var posted []int64
		var mu sync.Mutex
		s.SetOnWebhookPost(func(id int64) {
			mu.Lock()
			posted = append(posted, id)
			mu.Unlock()
		})
		lose := 1
		s.SetOnWebhookAnswer(func(id int64, status int) bool {
			mu.Lock()
			defer mu.Unlock()
			if status == 200 && lose > 0 {
				lose--
				return true
			}
			return false
		})
		c := newMemClient(t, s)
		c.call("setWebhook", vals("url", "https://bot.example/hook")).wantOK(t, nil)
		alice := userAlice()
		s.SendText(alice, s.Private(alice), "once")
		waitPending(t, s, 0)
		if got := fmt.Sprint(rcv.ids()); got != "[10000 10000]" {
			t.Errorf("requests %s, want the update twice (its first answer lost)", got)
		}
		if got := fmt.Sprint(posted); got != "[10000 10000]" {
			t.Errorf("post hook saw %s", got)
		}
		if info, _ := s.Webhook(); info.LastErrorMessage != "Connection reset by peer" {
			t.Errorf("last error %q", info.LastErrorMessage)
		}
	})
}

func TestWebhookConflictsAndDeletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rcv := newHookReceiver()
		rcv.status = func(int64, int) int { return http.StatusServiceUnavailable }
		s := New(Options{WebhookTransport: handlerTransport{rcv}})
		defer s.Close()
		c := newMemClient(t, s)
		alice := userAlice()

		// A waiting long poll is ended by setWebhook.
		polled := make(chan answer, 1)
		go func() { polled <- c.do(c.form(context.Background(), "getUpdates", vals("timeout", "30"))) }()
		synctest.Wait()
		c.call("setWebhook", vals("url", "http://127.0.0.1:1/hook", "secret_token", "abc")).wantOK(t, nil)
		(<-polled).wantError(t, http.StatusConflict, "Conflict: terminated by setWebhook request")

		// Updates wait while the webhook fails; deleteWebhook keeps them
		// for getUpdates.
		s.SendText(alice, s.Private(alice), "kept")
		synctest.Wait()
		a := c.call("deleteWebhook", nil)
		a.wantOK(t, nil)
		if a.Description != "Webhook was deleted" {
			t.Errorf("deleteWebhook: %q", a.Description)
		}
		if _, ok := s.Webhook(); ok {
			t.Error("webhook still set after deleteWebhook")
		}
		if ups := c.updates(nil); len(ups) != 1 || ups[0].Message.Text != "kept" {
			t.Errorf("getUpdates after deleteWebhook: %+v, want the pending update", ups)
		}
		if a := c.call("deleteWebhook", nil); a.Description != "Webhook is already deleted" {
			t.Errorf("second deleteWebhook: %q", a.Description)
		}

		// drop_pending_updates drops, on setWebhook and deleteWebhook.
		s.SendText(alice, s.Private(alice), "dropped")
		c.call("setWebhook", vals("url", "https://bot.example/hook", "drop_pending_updates", "true")).wantOK(t, nil)
		if n := s.Pending(); n != 0 {
			t.Errorf("%d pending after setWebhook with drop_pending_updates", n)
		}
		s.SendText(alice, s.Private(alice), "dropped too")
		c.call("deleteWebhook", vals("drop_pending_updates", "true")).wantOK(t, nil)
		if n := s.Pending(); n != 0 {
			t.Errorf("%d pending after deleteWebhook with drop_pending_updates", n)
		}
		// An empty url removes the webhook too.
		c.call("setWebhook", vals("url", "https://bot.example/hook")).wantOK(t, nil)
		if a := c.call("setWebhook", vals("url", "")); a.Description != "Webhook was deleted" {
			t.Errorf("setWebhook with an empty url: %q", a.Description)
		}
	})
}

func TestSetWebhookRefusals(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	tests := []struct {
		name string
		v    []string
		want string
	}{
		{"not a URL", []string{"url", "bot.example"}, "Bad Request: bad webhook: invalid webhook URL specified"},
		{"ftp", []string{"url", "ftp://bot.example/hook"}, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"},
		{"secret with a colon", []string{"url", "https://bot.example/hook", "secret_token", "123:abc"}, "Bad Request: secret token contains unallowed characters"},
		{"secret too long", []string{"url", "https://bot.example/hook", "secret_token", fmt.Sprintf("%0257d", 0)}, "Bad Request: secret token contains unallowed characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.call("setWebhook", vals(tt.v...)).wantError(t, http.StatusBadRequest, tt.want)
			if _, ok := s.Webhook(); ok {
				t.Error("webhook set despite the error")
			}
		})
	}
}
