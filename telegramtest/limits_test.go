package telegramtest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// wantFlood fails the test unless a is a 429 asking to retry after retry
// seconds.
func (a answer) wantFlood(t *testing.T, retry int) {
	t.Helper()
	a.wantError(t, http.StatusTooManyRequests, fmt.Sprintf("Too Many Requests: retry after %d", retry))
	if a.Parameters == nil || a.Parameters.RetryAfter != retry {
		t.Fatalf("got parameters %+v, want retry_after %d", a.Parameters, retry)
	}
}

// rawCall POSTs a urlencoded request and returns the answer's status and
// body as they came.
func (c *client) rawCall(method string, v map[string]string) (int, string) {
	c.t.Helper()
	form := vals()
	for k, x := range v {
		form.Set(k, x)
	}
	resp, err := c.hc.Do(c.form(context.Background(), method, form))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// privates registers n users, with ids from first on, and their chats.
func privates(s *Server, first int64, n int) {
	for i := range int64(n) {
		s.Private(User{ID: first + i, FirstName: fmt.Sprint("User ", first+i)})
	}
}

func TestGlobalLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{Limits: Limits{GlobalPerSecond: 30}})
		c := newMemClient(t, s)
		privates(s, 2001, 31)
		start := time.Now()

		for i := range 30 {
			c.send(vals("chat_id", itoa(2001+i), "text", "Thông báo họp"))
		}
		status, body := c.rawCall("sendMessage", map[string]string{"chat_id": "2031", "text": "one too many"})
		const want = `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`
		if status != http.StatusTooManyRequests || body != want {
			t.Fatalf("31st message at once: got %d %s, want 429 %s", status, body, want)
		}
		if got := len(s.BotMessages(2031)); got != 0 {
			t.Fatalf("messages after the 429: got %d, want 0 (a rejected request is not applied)", got)
		}

		time.Sleep(time.Second - time.Millisecond)
		c.call("sendMessage", vals("chat_id", "2031", "text", "1 ms early")).wantFlood(t, 1)
		time.Sleep(time.Millisecond)
		c.send(vals("chat_id", "2031", "text", "exactly one second later"))

		if got, want := s.FloodErrors(), 2; got != want {
			t.Errorf("FloodErrors: got %d, want %d", got, want)
		}
		log := s.SendLog()
		if len(log) != 31 {
			t.Fatalf("SendLog: got %d records, want 31", len(log))
		}
		if first, last := log[0], log[30]; !first.At.Equal(start) || !last.At.Equal(start.Add(time.Second)) || last.ChatID != 2031 || last.MessageID != 1 {
			t.Errorf("SendLog: got first %+v, last %+v; want the first at the start and the last to 2031 one second later", first, last)
		}
	})
}

func TestChatLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{Limits: Limits{ChatPerSecond: 1}})
		c := newMemClient(t, s)
		s.Private(userAlice())
		s.Private(userBob())

		c.send(vals("chat_id", "1001", "text", "một"))
		time.Sleep(500 * time.Millisecond)
		c.call("sendMessage", vals("chat_id", "1001", "text", "hai")).wantFlood(t, 1)
		c.send(vals("chat_id", "1002", "text", "another chat is free"))
		// The rejected request took no slot: one second after the first
		// message, the chat is free again.
		time.Sleep(500 * time.Millisecond)
		c.send(vals("chat_id", "1001", "text", "hai"))

		if got := len(s.BotMessages(1001)); got != 2 {
			t.Errorf("messages to 1001: got %d, want 2", got)
		}
		if got := s.FloodErrors(); got != 1 {
			t.Errorf("FloodErrors: got %d, want 1", got)
		}
	})
}

func TestGroupLimit(t *testing.T) {
	for _, kind := range []string{"group", "supergroup"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := New(Options{Limits: Limits{GroupPerMinute: 20}})
				c := newMemClient(t, s)
				g := s.Group(-42, "Tổ dân phố 5")
				if kind == "supergroup" {
					g = s.Supergroup(-10042, "Tổ dân phố 5")
				}
				chatID := fmt.Sprint(g.ID)

				for i := range 20 {
					if i > 0 {
						time.Sleep(time.Second)
					}
					c.send(vals("chat_id", chatID, "text", fmt.Sprint("tin ", i+1)))
				}
				time.Sleep(time.Second) // t+20s
				c.call("sendMessage", vals("chat_id", chatID, "text", "tin 21")).wantFlood(t, 40)
				time.Sleep(10500 * time.Millisecond) // t+30.5s: 29.5 s left, rounded up
				c.call("sendMessage", vals("chat_id", chatID, "text", "tin 21")).wantFlood(t, 30)
				time.Sleep(28500 * time.Millisecond) // t+59s
				c.call("sendMessage", vals("chat_id", chatID, "text", "tin 21")).wantFlood(t, 1)
				time.Sleep(time.Second) // t+60s
				c.send(vals("chat_id", chatID, "text", "tin 21"))

				if got := len(s.BotMessages(g.ID)); got != 21 {
					t.Errorf("messages: got %d, want 21", got)
				}
			})
		})
	}

	t.Run("private chats are not groups", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := New(Options{Limits: Limits{GroupPerMinute: 20}})
			c := newMemClient(t, s)
			s.Private(userAlice())
			for i := range 25 {
				c.send(vals("chat_id", "1001", "text", fmt.Sprint("tin ", i+1)))
			}
		})
	})
}

func TestLimitsWaitForTheSlowestScope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{Limits: Limits{GlobalPerSecond: 30, ChatPerSecond: 1, GroupPerMinute: 2}})
		c := newMemClient(t, s)
		s.Group(-42, "Chi bộ")

		c.send(vals("chat_id", "-42", "text", "một"))
		c.call("sendMessage", vals("chat_id", "-42", "text", "hai")).wantFlood(t, 1)
		time.Sleep(time.Second)
		c.send(vals("chat_id", "-42", "text", "hai"))
		time.Sleep(time.Second)
		// The chat is free; the group's minute, begun 2 s ago, is not.
		c.call("sendMessage", vals("chat_id", "-42", "text", "ba")).wantFlood(t, 58)
	})
}

func TestLimitsCountOnlySendsAndEdits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{Limits: Limits{ChatPerSecond: 1}})
		c := newMemClient(t, s)
		alice := userAlice()
		chat := s.Private(alice)
		photo := pngBytes(t, 4, 3)
		start := time.Now()

		sent := c.send(vals("chat_id", "1001", "text", "Chọn:", "reply_markup", keyboardJSON([]Button{{Text: "A", CallbackData: "a"}})))
		id := itoa(sent.MessageID)
		editText := func() answer {
			return c.call("editMessageText", vals("chat_id", "1001", "message_id", id, "text", fmt.Sprint("Chọn lúc ", time.Since(start))))
		}
		editMarkup := func() answer {
			kb := keyboardJSON([]Button{{Text: "B", CallbackData: fmt.Sprint("b", time.Since(start).Seconds())}})
			return c.call("editMessageReplyMarkup", vals("chat_id", "1001", "message_id", id, "reply_markup", kb))
		}
		sendPhoto := func() answer {
			return c.upload("sendPhoto", map[string]string{"chat_id": "1001"}, "photo", "a.png", photo)
		}
		sendDocument := func() answer {
			return c.upload("sendDocument", map[string]string{"chat_id": "1001"}, "document", "a.pdf", []byte("%PDF-1.4"))
		}
		chatAction := func() answer {
			return c.call("sendChatAction", vals("chat_id", "1001", "action", "typing"))
		}
		counted := []struct {
			method string
			call   func() answer
		}{
			{"editMessageText", editText},
			{"editMessageReplyMarkup", editMarkup},
			{"sendPhoto", sendPhoto},
			{"sendDocument", sendDocument},
			{"sendChatAction", chatAction},
		}

		// With the chat's second taken, every counted method waits ...
		// (No t.Run: subtests cannot start inside a synctest bubble.)
		for _, m := range counted {
			if a := m.call(); a.ErrorCode != http.StatusTooManyRequests || a.Parameters == nil || a.Parameters.RetryAfter != 1 {
				t.Errorf("%s within the second: got %d %q, want 429 with retry_after 1", m.method, a.ErrorCode, a.Description)
			}
		}
		// ... and the others do not.
		notCounted := []struct {
			method string
			v      map[string]string
		}{
			{"answerCallbackQuery", map[string]string{"callback_query_id": s.Press(alice, chat, sent.MessageID, "a")}},
			{"getMe", nil},
			{"getUpdates", nil},
			{"setMyCommands", map[string]string{"commands": `[{"command":"trogiup","description":"Trợ giúp"}]`}},
			{"getChatMember", map[string]string{"chat_id": "1001", "user_id": "1001"}},
			{"deleteMessage", map[string]string{"chat_id": "1001", "message_id": itoa(s.SendText(alice, chat, "xin chào").ID)}},
		}
		for _, m := range notCounted {
			if status, body := c.rawCall(m.method, m.v); status != http.StatusOK {
				t.Errorf("%s within the second: got %d %s, want 200", m.method, status, body)
			}
		}
		// A request failing with 400 takes no slot either.
		time.Sleep(time.Second)
		c.call("sendMessage", vals("chat_id", "1001", "text", "")).wantError(t, http.StatusBadRequest, "Bad Request: message text is empty")

		for i, m := range counted {
			if i > 0 {
				time.Sleep(time.Second)
			}
			m.call().wantOK(t, nil)
		}

		want := []string{"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto", "sendDocument", "sendChatAction"}
		log := s.SendLog()
		if len(log) != len(want) {
			t.Fatalf("SendLog: got %+v, want %d records", log, len(want))
		}
		for i, r := range log {
			if r.Method != want[i] || r.ChatID != 1001 || !r.At.Equal(start.Add(time.Duration(i)*time.Second)) {
				t.Errorf("SendLog[%d]: got %+v, want %s to 1001 at start+%ds", i, r, want[i], i)
			}
		}
		if log[1].MessageID != sent.MessageID || log[2].MessageID != sent.MessageID || log[5].MessageID != 0 {
			t.Errorf("SendLog message ids: got %+v, want the edited message for the edits and 0 for the chat action", log)
		}
		if got, want := s.FloodErrors(), len(counted); got != want {
			t.Errorf("FloodErrors: got %d, want %d", got, want)
		}
	})
}

func TestSetLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		s.Private(userAlice())
		for range 3 {
			c.send(vals("chat_id", "1001", "text", "no limits yet"))
		}
		// Requests accepted before count once the limit is on.
		s.SetLimits(Limits{ChatPerSecond: 1})
		c.call("sendMessage", vals("chat_id", "1001", "text", "limited")).wantFlood(t, 1)
		s.SetLimits(Limits{})
		c.send(vals("chat_id", "1001", "text", "free again"))
		if got := s.Violations(Limits{ChatPerSecond: 1}); got != 3 {
			t.Errorf("Violations: got %d, want 3", got)
		}
	})
}

func TestViolations(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		chats  []int64 // the stream cycles through them
		every  time.Duration
		n      int
	}{
		{"global", Limits{GlobalPerSecond: 20}, []int64{2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010}, 50 * time.Millisecond, 200},
		{"chat", Limits{ChatPerSecond: 1}, []int64{1001}, time.Second, 10},
		{"group", Limits{GroupPerMinute: 20}, []int64{-42}, 3 * time.Second, 45},
		{"two windows at once", Limits{GlobalPerSecond: 1, ChatPerSecond: 1}, []int64{1001}, time.Second, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Enforced at first, then turned off: Violations judges
				// the log whatever was enforced.
				s := New(Options{Limits: tt.limits})
				s.SetLimits(Limits{})
				c := newMemClient(t, s)
				s.Private(userAlice())
				privates(s, 2001, 10)
				s.Group(-42, "Tổ dân phố 5")

				send := func(i int) {
					c.send(vals("chat_id", fmt.Sprint(tt.chats[i%len(tt.chats)]), "text", fmt.Sprint("tin ", i)))
				}
				for i := range tt.n {
					if i > 0 {
						time.Sleep(tt.every)
					}
					send(i)
				}
				if got := s.Violations(tt.limits); got != 0 {
					t.Errorf("evenly spaced at the rate: got %d violations, want 0", got)
				}
				send(tt.n - 1) // one more, at the same instant as the last
				if got := s.Violations(tt.limits); got != 1 {
					t.Errorf("one extra message: got %d violations, want 1", got)
				}
				if got := s.Violations(Limits{}); got != 0 {
					t.Errorf("no limits: got %d violations, want 0", got)
				}
				if got := s.FloodErrors(); got != 0 {
					t.Errorf("FloodErrors with enforcement off: got %d, want 0", got)
				}
			})
		})
	}
}

func TestFaultFloodIsNotALimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{Limits: Limits{ChatPerSecond: 1}})
		c := newMemClient(t, s)
		s.Private(userAlice())

		s.SetFault(func(r FaultRequest) *Fault { return &Fault{RetryAfter: 5} })
		c.call("sendMessage", vals("chat_id", "1001", "text", "hi")).wantFlood(t, 5)
		s.SetFault(nil)
		if got := s.FloodErrors(); got != 0 {
			t.Errorf("FloodErrors after a fault's 429: got %d, want 0", got)
		}
		// The faulted request was not applied, so it took no slot.
		c.send(vals("chat_id", "1001", "text", "hi"))

		// A request applied before its answer was lost did take one.
		time.Sleep(time.Second)
		s.SetFault(func(r FaultRequest) *Fault { return &Fault{Status: http.StatusBadGateway, AfterApply: true} })
		if status, _ := c.rawCall("sendMessage", map[string]string{"chat_id": "1001", "text": "lost answer"}); status != http.StatusBadGateway {
			t.Fatalf("got status %d, want 502", status)
		}
		s.SetFault(nil)
		c.call("sendMessage", vals("chat_id", "1001", "text", "retry")).wantFlood(t, 1)
		if got := len(s.SendLog()); got != 2 {
			t.Errorf("SendLog: got %d records, want 2", got)
		}
		if got := s.FloodErrors(); got != 1 {
			t.Errorf("FloodErrors: got %d, want 1", got)
		}
	})
}

// TestLimitsUnderConcurrency has 16 senders race for the slots; each
// honours retry_after. The check and the count are one step, so the log
// must come out clean.
func TestLimitsUnderConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limits := Limits{GlobalPerSecond: 30, ChatPerSecond: 1, GroupPerMinute: 20}
		s := New(Options{Limits: limits})
		c := newMemClient(t, s)
		privates(s, 2001, 40)
		for i := range 4 {
			s.Group(int64(-100-i), fmt.Sprint("Tổ ", i))
		}
		chats := make([]int64, 0, 44)
		for i := range 40 {
			chats = append(chats, int64(2001+i))
		}
		for i := range 4 {
			chats = append(chats, int64(-100-i))
		}

		const workers, perWorker = 16, 60
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					chat := chats[(w*perWorker+i)%len(chats)]
					for {
						a, err := c.try(c.form(context.Background(), "sendMessage", vals("chat_id", fmt.Sprint(chat), "text", "tin")))
						if err != nil {
							t.Error(err)
							return
						}
						if a.OK {
							break
						}
						if a.ErrorCode != http.StatusTooManyRequests || a.Parameters == nil || a.Parameters.RetryAfter < 1 {
							t.Errorf("got %d %q, want ok or 429 with retry_after", a.ErrorCode, a.Description)
							return
						}
						time.Sleep(time.Duration(a.Parameters.RetryAfter) * time.Second)
					}
				}
			})
		}
		wg.Wait()

		if got := len(s.SendLog()); got != workers*perWorker {
			t.Errorf("SendLog: got %d records, want %d", got, workers*perWorker)
		}
		if got := s.Violations(limits); got != 0 {
			t.Errorf("Violations: got %d, want 0", got)
		}
		if s.FloodErrors() == 0 {
			t.Errorf("FloodErrors: got 0, want the race for slots to have lost some")
		}
	})
}

// TestViolationsMatchesTheDefinition checks Violations against a direct
// reading of the definition on an irregular log, and on a long log that
// keeps exactly to the limits.
func TestViolationsMatchesTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	at := start
	chats := []int64{1001, 1002, 1003, 1004, 1005, -42, -43, -10044}
	log := make([]sentEntry, 1000)
	for i := range log {
		if rng.IntN(3) > 0 {
			at = at.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		}
		id := chats[rng.IntN(len(chats))]
		log[i] = sentEntry{SentRecord: SentRecord{Method: "sendMessage", ChatID: id, At: at}, group: id < 0}
	}
	// For each record, count the earlier records of each scope within
	// their window: a limit of N is broken when that count reaches N.
	type counts struct{ global, chat, group int }
	recent := make([]counts, len(log))
	for i, e := range log {
		for j := i - 1; j >= 0 && e.At.Sub(log[j].At) < time.Minute; j-- {
			inSecond := e.At.Sub(log[j].At) < time.Second
			if inSecond {
				recent[i].global++
			}
			if log[j].ChatID == e.ChatID {
				if inSecond {
					recent[i].chat++
				}
				if e.group {
					recent[i].group++
				}
			}
		}
	}
	broken := func(limit, count int) bool { return limit > 0 && count >= limit }

	s := New(Options{})
	s.sendLog = log
	for _, l := range []Limits{
		{GlobalPerSecond: 5},
		{ChatPerSecond: 1},
		{GroupPerMinute: 20},
		{GlobalPerSecond: 6, ChatPerSecond: 2, GroupPerMinute: 25},
		{},
	} {
		want := 0
		for _, c := range recent {
			if broken(l.GlobalPerSecond, c.global) || broken(l.ChatPerSecond, c.chat) || broken(l.GroupPerMinute, c.group) {
				want++
			}
		}
		if got := s.Violations(l); got != want {
			t.Errorf("Violations(%+v): got %d, want %d", l, got, want)
		}
		if l != (Limits{}) && want == 0 {
			t.Errorf("Violations(%+v): the log breaks nothing; make it denser", l)
		}
	}

	// 30,000 records, 25 a second, cycling through 75 chats of which 5
	// are groups: each group gets one every 3 s, 20 a minute.
	limits := Limits{GlobalPerSecond: 25, ChatPerSecond: 1, GroupPerMinute: 20}
	log = make([]sentEntry, 30_000)
	for i := range log {
		id := int64(2001 + i%75)
		if i%75 < 5 {
			id = int64(-100 - i%75)
		}
		at := start.Add(time.Duration(i) * 40 * time.Millisecond)
		log[i] = sentEntry{SentRecord: SentRecord{Method: "sendMessage", ChatID: id, At: at}, group: id < 0}
	}
	s.sendLog = log
	if got := s.Violations(limits); got != 0 {
		t.Errorf("long log at exactly the limits: got %d violations, want 0", got)
	}
	extra := log[len(log)-1]
	s.sendLog = append(log, extra)
	if got := s.Violations(limits); got != 1 {
		t.Errorf("long log with one extra record: got %d violations, want 1", got)
	}
}
