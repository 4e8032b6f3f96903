package telegramtest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestCallbackQueryLifecycle(t *testing.T) {
	clock := newTestClock()
	s := New(Options{Now: clock.Now})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	sent := c.send(vals("chat_id", "1001", "text", "Confirm?", "reply_markup",
		keyboardJSON([]Button{{Text: "Yes", CallbackData: "confirm:1"}, {Text: "No", CallbackData: "cancel:1"}})))

	q := s.Press(alice, chat, sent.MessageID, "confirm:1")
	ups := c.updates(nil)
	if len(ups) != 1 || ups[0].CallbackQuery == nil {
		t.Fatalf("got %+v, want one callback_query", ups)
	}
	cq := ups[0].CallbackQuery
	if cq.ID != q || cq.Data != "confirm:1" || cq.From.ID != alice.ID || cq.ChatInstance == "" {
		t.Errorf("callback_query: got %+v, want id %s data confirm:1 from Alice", cq, q)
	}
	if cq.Message == nil || cq.Message.MessageID != sent.MessageID || cq.Message.ReplyMarkup == nil || cq.Message.Text != "Confirm?" {
		t.Errorf("callback_query.message: got %+v, want the bot's message with its keyboard", cq.Message)
	}

	const tooOld = "Bad Request: query is too old and response timeout expired or query ID is invalid"
	clock.Advance(15 * time.Second)
	var ok bool
	c.call("answerCallbackQuery", vals("callback_query_id", q, "text", "Đã xác nhận", "show_alert", "true")).wantOK(t, &ok)
	got, answered := s.CallbackAnswer(q)
	if !answered || got.Text != "Đã xác nhận" || !got.ShowAlert || !got.At.Equal(clock.Now()) {
		t.Errorf("CallbackAnswer: got %+v %v, want the alert", got, answered)
	}

	tests := []struct {
		name string
		id   func() string
	}{
		{"answered twice", func() string { return q }},
		{"unknown id", func() string { return "12345" }},
		{"too late", func() string {
			late := s.Press(alice, chat, sent.MessageID, "cancel:1")
			clock.Advance(15*time.Second + time.Millisecond)
			return late
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.call("answerCallbackQuery", vals("callback_query_id", tt.id())).wantError(t, http.StatusBadRequest, tooOld)
		})
	}
}

func TestWaitCallbackAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		alice := userAlice()
		chat := s.Private(alice)
		sent := c.send(vals("chat_id", "1001", "text", "?", "reply_markup", keyboardJSON([]Button{{Text: "A", CallbackData: "a"}})))
		q := s.Press(alice, chat, sent.MessageID, "a")
		go func() {
			time.Sleep(2 * time.Second)
			c.call("answerCallbackQuery", vals("callback_query_id", q, "text", "ok"))
		}()
		got, err := s.WaitCallbackAnswer(context.Background(), q)
		if err != nil || got.Text != "ok" {
			t.Errorf("got %+v, %v; want the answer ok", got, err)
		}
		if _, err := s.WaitCallbackAnswer(context.Background(), "nope"); err == nil {
			t.Errorf("unknown query: got no error, want one")
		}
	})
}

func TestPressChecksTheButton(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	sent := c.send(vals("chat_id", "1001", "text", "?", "reply_markup", keyboardJSON([]Button{{Text: "A", CallbackData: "a"}})))
	plain := c.send(vals("chat_id", "1001", "text", "no buttons"))

	tests := []struct {
		name    string
		message int
		data    string
		want    string
	}{
		{"no such data", sent.MessageID, "b", `has no button with callback_data "b"`},
		{"message without keyboard", plain.MessageID, "a", `has no button with callback_data "a"`},
		{"missing message", 99, "a", "has no bot message 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Errorf("Press: got panic %v, want one containing %q", r, tt.want)
				}
			}()
			s.Press(alice, chat, tt.message, tt.data)
		})
	}

	t.Run("forged data is delivered", func(t *testing.T) {
		q := s.PressForged(alice, chat, sent.MessageID, "admin:delete-all")
		ups := c.updates(nil)
		last := ups[len(ups)-1].CallbackQuery
		if last == nil || last.ID != q || last.Data != "admin:delete-all" {
			t.Errorf("got %+v, want the forged query", last)
		}
	})
}
