package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"
	"time"
)

func updateIDs(ups []tgUpdate) []int64 {
	var ids []int64
	for _, u := range ups {
		ids = append(ids, u.UpdateID)
	}
	return ids
}

func TestGetUpdatesConfirmationAndRedelivery(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	for i := range 3 {
		s.SendText(alice, chat, fmt.Sprintf("message %d", i))
	}

	first := c.updates(nil)
	if got, want := fmt.Sprint(updateIDs(first)), "[10000 10001 10002]"; got != want {
		t.Fatalf("first getUpdates: got ids %s, want %s", got, want)
	}
	if got := first[0].Message.Text; got != "message 0" {
		t.Errorf("first update text: got %q, want %q", got, "message 0")
	}
	again := c.updates(nil)
	if got, want := fmt.Sprint(updateIDs(again)), "[10000 10001 10002]"; got != want {
		t.Errorf("unconfirmed updates: got ids %s, want %s", got, want)
	}
	afterOne := c.updates(vals("offset", "10001"))
	if got, want := fmt.Sprint(updateIDs(afterOne)), "[10001 10002]"; got != want {
		t.Errorf("offset 10001: got ids %s, want %s", got, want)
	}
	if got, want := s.Confirmed(), int64(10000); got != want {
		t.Errorf("Confirmed: got %d, want %d", got, want)
	}
	if got, want := s.Pending(), 2; got != want {
		t.Errorf("Pending: got %d, want %d", got, want)
	}
	// A lower offset does not bring confirmed updates back.
	if got, want := fmt.Sprint(updateIDs(c.updates(vals("offset", "1")))), "[10001 10002]"; got != want {
		t.Errorf("offset 1 after confirming: got ids %s, want %s", got, want)
	}
	if got := c.updates(vals("offset", "10003")); len(got) != 0 {
		t.Errorf("offset past the last: got %d updates, want 0", len(got))
	}
	if got, want := s.Confirmed(), int64(10002); got != want {
		t.Errorf("Confirmed: got %d, want %d", got, want)
	}
	s.SendText(alice, chat, "later")
	if got, want := fmt.Sprint(updateIDs(c.updates(nil))), "[10003]"; got != want {
		t.Errorf("update after confirmation: got ids %s, want %s", got, want)
	}
}

func TestGetUpdatesLimit(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	for range 5 {
		s.SendText(alice, chat, "x")
	}
	tests := []struct {
		limit string
		want  int
	}{
		{"2", 2},
		{"1", 1},
		{"0", 1},
		{"100", 5},
		{"1000", 5},
		{"", 5},
	}
	for _, tt := range tests {
		t.Run("limit="+tt.limit, func(t *testing.T) {
			v := url.Values{}
			if tt.limit != "" {
				v.Set("limit", tt.limit)
			}
			if got := len(c.updates(v)); got != tt.want {
				t.Errorf("got %d updates, want %d", got, tt.want)
			}
		})
	}
	t.Run("negative offset keeps the last ones", func(t *testing.T) {
		if got, want := fmt.Sprint(updateIDs(c.updates(vals("offset", "-2")))), "[10003 10004]"; got != want {
			t.Errorf("got ids %s, want %s", got, want)
		}
		if got, want := s.Pending(), 2; got != want {
			t.Errorf("Pending: got %d, want %d", got, want)
		}
	})
}

func TestLongPollReturnsWhenUpdateArrives(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)

	type result struct {
		ups []tgUpdate
		err error
	}
	done := make(chan result, 1)
	go func() {
		var ups []tgUpdate
		a, err := c.try(c.form(context.Background(), "getUpdates", vals("timeout", "30")))
		if err == nil && a.OK {
			err = json.Unmarshal(a.Result, &ups)
		} else if err == nil {
			err = fmt.Errorf("error %d %q", a.ErrorCode, a.Description)
		}
		done <- result{ups, err}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitPolling(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		t.Fatalf("long poll answered before any update: %+v", r)
	default:
	}
	s.SendText(alice, chat, "wake up")
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("long poll: %v", r.err)
		}
		if len(r.ups) != 1 || r.ups[0].Message == nil || r.ups[0].Message.Text != "wake up" {
			t.Fatalf("long poll: got %+v, want the one message", r.ups)
		}
	case <-ctx.Done():
		t.Fatal("long poll did not return after the update")
	}
}

func TestLongPollTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		start := time.Now()
		ups := c.updates(vals("timeout", "25"))
		if len(ups) != 0 {
			t.Errorf("got %d updates, want 0", len(ups))
		}
		if got, want := time.Since(start), 25*time.Second; got != want {
			t.Errorf("long poll lasted %v, want %v", got, want)
		}
	})
}

func TestLongPollInjectInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		alice := userAlice()
		chat := s.Private(alice)
		go func() {
			time.Sleep(7 * time.Second)
			s.SendText(alice, chat, "hello")
		}()
		start := time.Now()
		ups := c.updates(vals("timeout", "30"))
		if len(ups) != 1 {
			t.Fatalf("got %d updates, want 1", len(ups))
		}
		if got, want := time.Since(start), 7*time.Second; got != want {
			t.Errorf("long poll lasted %v, want %v", got, want)
		}
	})
}

func TestSecondPollerConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		alice := userAlice()
		chat := s.Private(alice)

		first := make(chan answer, 1)
		go func() {
			first <- c.do(c.form(context.Background(), "getUpdates", vals("timeout", "30")))
		}()
		synctest.Wait()
		if err := s.WaitPolling(context.Background()); err != nil {
			t.Fatal(err)
		}

		second := make(chan answer, 1)
		go func() {
			second <- c.do(c.form(context.Background(), "getUpdates", vals("timeout", "30")))
		}()
		a := <-first
		a.wantError(t, http.StatusConflict, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")

		s.SendText(alice, chat, "for the survivor")
		var ups []tgUpdate
		(<-second).wantOK(t, &ups)
		if len(ups) != 1 {
			t.Errorf("second poller: got %d updates, want 1", len(ups))
		}
	})
}

func TestLongPollEndsWhenClientGoesAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := c.try(c.form(ctx, "getUpdates", vals("timeout", "30")))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got error %v, want context.DeadlineExceeded", err)
		}
		synctest.Wait()
		s.mu.Lock()
		waiting := s.poller != nil
		s.mu.Unlock()
		if waiting {
			t.Errorf("poller still registered after its client left")
		}
	})
}

func TestCloseEndsLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		go func() {
			time.Sleep(2 * time.Second)
			s.Close()
		}()
		start := time.Now()
		if ups := c.updates(vals("timeout", "30")); len(ups) != 0 {
			t.Errorf("got %d updates, want 0", len(ups))
		}
		if got, want := time.Since(start), 2*time.Second; got != want {
			t.Errorf("long poll lasted %v, want %v", got, want)
		}
	})
}

func TestAllowedUpdates(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	sent := c.send(vals("chat_id", "1001", "text", "pick", "reply_markup", keyboardJSON([]Button{{Text: "A", CallbackData: "a"}})))

	c.updates(vals("allowed_updates", `["message"]`))
	s.Press(alice, chat, sent.MessageID, "a")
	s.SendText(alice, chat, "text")
	ups := c.updates(nil)
	if len(ups) != 1 || ups[0].Message == nil {
		t.Fatalf("with allowed_updates [message]: got %+v, want one message", ups)
	}

	// Omitted (or null, as tgbotapi sends it) keeps the last list.
	c.updates(vals("allowed_updates", "null", "offset", fmt.Sprint(ups[0].UpdateID+1)))
	s.Press(alice, chat, sent.MessageID, "a")
	if got := s.Pending(); got != 0 {
		t.Errorf("after null allowed_updates: got %d pending, want 0", got)
	}

	// An empty list restores the default.
	c.updates(vals("allowed_updates", "[]"))
	s.Press(alice, chat, sent.MessageID, "a")
	ups = c.updates(nil)
	if len(ups) != 1 || ups[0].CallbackQuery == nil {
		t.Errorf("after [] allowed_updates: got %+v, want one callback_query", ups)
	}
}

func TestInjectRaw(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	id := s.InjectRaw(`{"message":{"message_id":"not a number","chat":{}}}`)
	var raw []map[string]any
	c.call("getUpdates", nil).wantOK(t, &raw)
	if len(raw) != 1 {
		t.Fatalf("got %d updates, want 1", len(raw))
	}
	if got := raw[0]["update_id"]; got != float64(id) {
		t.Errorf("update_id: got %v, want %d", got, id)
	}
	msg, _ := raw[0]["message"].(map[string]any)
	if got := msg["message_id"]; got != "not a number" {
		t.Errorf("message_id: got %v, want the raw value", got)
	}
}

func TestGetMeAndWebhook(t *testing.T) {
	s := New(Options{BotUsername: "other_bot", BotID: 777})
	c := newHTTPServer(t, s)
	var me struct {
		ID        int64  `json:"id"`
		IsBot     bool   `json:"is_bot"`
		Username  string `json:"username"`
		FirstName string `json:"first_name"`
	}
	c.call("getMe", nil).wantOK(t, &me)
	if me.ID != 777 || !me.IsBot || me.Username != "other_bot" || me.FirstName != DefaultBotName {
		t.Errorf("getMe: got %+v, want bot 777 other_bot", me)
	}
	var ok bool
	c.call("deleteWebhook", nil).wantOK(t, &ok)
	if !ok {
		t.Errorf("deleteWebhook: got %v, want true", ok)
	}
}

func TestRouting(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	tests := []struct {
		name   string
		path   string
		status int
		desc   string
	}{
		{"wrong token", "/bot999:wrong/getMe", 401, "Unauthorized"},
		{"unknown method", "/bot" + DefaultToken + "/getNothing", 404, "Not Found"},
		{"no method", "/bot" + DefaultToken + "/", 404, "Not Found"},
		{"not the Bot API", "/favicon.ico", 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, c.base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.do(req).wantError(t, tt.status, tt.desc)
		})
	}
	t.Run("method names are case-insensitive", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, c.url("GETME"), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.do(req).wantOK(t, nil)
		if got := s.Requests("getMe"); got != 1 {
			t.Errorf("Requests(getMe): got %d, want 1", got)
		}
	})
}
