package telegramtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestResetNext(t *testing.T) {
	for _, transport := range []string{"http", "memory"} {
		t.Run(transport, func(t *testing.T) {
			s := New(Options{})
			c := newMemClient(t, s)
			if transport == "http" {
				c = newHTTPServer(t, s)
			}
			s.Private(userAlice())
			s.ResetNext(2, "sendMessage")

			c.call("getMe", nil).wantOK(t, nil)
			for i := range 2 {
				_, err := c.try(c.form(context.Background(), "sendMessage", vals("chat_id", "1001", "text", "hi")))
				if err == nil {
					t.Fatalf("send %d: got an answer, want the connection reset", i)
				}
				if transport == "memory" && !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("send %d: got %v, want ECONNRESET", i, err)
				}
			}
			if got := len(s.BotMessages(1001)); got != 0 {
				t.Errorf("messages after resets: got %d, want 0", got)
			}
			c.send(vals("chat_id", "1001", "text", "hi"))
			if got, want := s.Requests("sendMessage"), 3; got != want {
				t.Errorf("Requests(sendMessage): got %d, want %d", got, want)
			}
			if got := len(s.BotMessages(1001)); got != 1 {
				t.Errorf("messages: got %d, want 1", got)
			}
		})
	}
}

func TestSetFault(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	s.Private(userAlice())
	s.Private(userBob())

	const page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
	tests := []struct {
		name        string
		fault       Fault
		status      int
		contentType string
		code        int
		desc        string
		retryAfter  int
		migrateTo   int64
	}{
		{"flood", Fault{RetryAfter: 7}, 429, "application/json", 429, "Too Many Requests: retry after 7", 7, 0},
		{"proxy page", Fault{Status: 502, Body: page}, 502, "text/html", 0, "", 0, 0},
		{"internal error", Fault{ErrorCode: 500}, 500, "application/json", 500, "Internal Server Error", 0, 0},
		{"blocked", Fault{ErrorCode: 403, Description: "Forbidden: bot was blocked by the user"}, 403, "application/json", 403, "Forbidden: bot was blocked by the user", 0, 0},
		{"upgraded", Fault{MigrateTo: -1001234}, 400, "application/json", 400, "Bad Request: group chat was upgraded to a supergroup chat", 0, -1001234},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []FaultRequest
			var mu sync.Mutex
			s.SetFault(func(r FaultRequest) *Fault {
				mu.Lock()
				seen = append(seen, r)
				mu.Unlock()
				if r.Method != "sendMessage" || r.ChatID != 1001 {
					return nil
				}
				f := tt.fault
				return &f
			})
			defer s.SetFault(nil)
			before := len(s.BotMessages(1001))

			resp, err := c.hc.Do(c.form(context.Background(), "sendMessage", vals("chat_id", "1001", "text", "hi")))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("got status %d %s, want %d %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, tt.contentType)
			}
			if tt.code == 0 {
				if string(body) != page {
					t.Errorf("body: got %q, want the proxy page", body)
				}
			} else {
				want := fmt.Sprintf(`{"ok":false,"error_code":%d,"description":%q`, tt.code, tt.desc)
				if !strings.HasPrefix(string(body), want) {
					t.Errorf("body: got %s, want it to start with %s", body, want)
				}
				if tt.retryAfter != 0 && !strings.Contains(string(body), fmt.Sprintf(`"retry_after":%d`, tt.retryAfter)) {
					t.Errorf("body: got %s, want retry_after %d", body, tt.retryAfter)
				}
				if tt.migrateTo != 0 && !strings.Contains(string(body), fmt.Sprintf(`"migrate_to_chat_id":%d`, tt.migrateTo)) {
					t.Errorf("body: got %s, want migrate_to_chat_id %d", body, tt.migrateTo)
				}
			}
			if got := len(s.BotMessages(1001)); got != before {
				t.Errorf("messages: got %d, want %d (a failed request changes nothing)", got, before)
			}
			c.send(vals("chat_id", "1002", "text", "other chats still work"))
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 2 || seen[0] != (FaultRequest{Method: "sendMessage", ChatID: 1001}) {
				t.Errorf("hook saw %+v, want sendMessage to 1001 first", seen)
			}
		})
	}
}

func TestFaultDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		s.Private(userAlice())
		s.SetFault(func(FaultRequest) *Fault { return &Fault{Delay: 10 * time.Second} })
		start := time.Now()
		c.send(vals("chat_id", "1001", "text", "slow"))
		if got, want := time.Since(start), 10*time.Second; got != want {
			t.Errorf("answer took %v, want %v", got, want)
		}

		// A client that gives up first gets no answer, and nothing is sent.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if _, err := c.try(c.form(ctx, "sendMessage", vals("chat_id", "1001", "text", "abandoned"))); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want context.DeadlineExceeded", err)
		}
		synctest.Wait()
		if got := len(s.BotMessages(1001)); got != 1 {
			t.Errorf("messages: got %d, want 1", got)
		}
	})
}

func TestFaultAfterApply(t *testing.T) {
	s := New(Options{})
	c := newMemClient(t, s)
	s.Private(userAlice())
	s.SetFault(func(FaultRequest) *Fault { return &Fault{Reset: true, AfterApply: true} })
	if _, err := c.try(c.form(context.Background(), "sendMessage", vals("chat_id", "1001", "text", "lost answer"))); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("got %v, want ECONNRESET", err)
	}
	if msgs := s.BotMessages(1001); len(msgs) != 1 || msgs[0].Text != "lost answer" {
		t.Errorf("messages: got %+v, want the message stored although its answer was lost", msgs)
	}
}

func TestOnAcceptedHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		s.Private(userAlice())
		release := make(chan struct{})
		type call struct {
			method  string
			chatID  int64
			message int
		}
		calls := make(chan call, 10)
		s.SetOnAccepted(func(method string, chatID int64, messageID int) {
			calls <- call{method, chatID, messageID}
			<-release
		})

		answered := make(chan tgMessage, 1)
		go func() { answered <- c.send(vals("chat_id", "1001", "text", "accepted")) }()
		got := <-calls
		if got != (call{"sendMessage", 1001, 1}) {
			t.Errorf("hook: got %+v, want sendMessage 1001 1", got)
		}
		synctest.Wait()
		if msgs := s.BotMessages(1001); len(msgs) != 1 {
			t.Errorf("while the hook blocks: got %d messages, want 1", len(msgs))
		}
		select {
		case m := <-answered:
			t.Fatalf("answer arrived while the hook blocked: %+v", m)
		default:
		}
		close(release)
		if m := <-answered; m.MessageID != 1 {
			t.Errorf("answer: got message %d, want 1", m.MessageID)
		}

		c.call("deleteMessage", vals("chat_id", "1001", "message_id", "1")).wantOK(t, nil)
		if got := <-calls; got != (call{"deleteMessage", 1001, 1}) {
			t.Errorf("hook: got %+v, want deleteMessage 1001 1", got)
		}
		c.call("getMe", nil).wantOK(t, nil)
		c.call("sendMessage", vals("chat_id", "1001")).wantError(t, 400, "Bad Request: message text is empty")
		select {
		case got := <-calls:
			t.Errorf("hook called for %+v, want only accepted sends, edits and deletes", got)
		default:
		}
	})
}

func TestOnUpdatesDeliveredHook(t *testing.T) {
	// The hook runs after the answer is flushed, so the client can see
	// the answer first: the test waits for each call.
	delivered := make(chan []int64, 4)
	s := New(Options{OnUpdatesDelivered: func(ids []int64) { delivered <- ids }})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)

	next := func() string {
		select {
		case ids := <-delivered:
			return fmt.Sprint(ids)
		case <-time.After(5 * time.Second):
			return "no call"
		}
	}
	c.updates(nil) // nothing to deliver: no call
	s.SendText(alice, chat, "one")
	s.SendText(alice, chat, "two")
	c.updates(nil)
	if got := next(); got != "[10000 10001]" {
		t.Errorf("first hook call: got %s, want [10000 10001]", got)
	}
	c.updates(vals("offset", "10001"))
	if got := next(); got != "[10001]" {
		t.Errorf("second hook call: got %s, want [10001]", got)
	}
	select {
	case ids := <-delivered:
		t.Errorf("extra hook call with %v", ids)
	default:
	}
}
