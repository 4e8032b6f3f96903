package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"danvan/clock"
	"danvan/delivery"
	"danvan/store"
	"danvan/telegram"
	"danvan/telegramtest"
)

var (
	alice = telegramtest.User{ID: 1001, FirstName: "Alice"}
	bob   = telegramtest.User{ID: 1002, FirstName: "Bob"}
)

// rig is a sender running against the emulator inside a synctest bubble:
// the in-memory transport, a real bbolt file and the real clock, which is
// virtual in the bubble.
type rig struct {
	emu    *telegramtest.Server
	st     *store.Store
	client *telegram.Client
	sender *delivery.Sender

	mu   sync.Mutex
	reqs []request // every request the emulator saw, in order
	hook func(telegramtest.FaultRequest) *telegramtest.Fault

	cancel context.CancelFunc
	done   chan error
}

type request struct {
	method string
	chatID int64
	at     time.Time
}

// newRig must be called inside a bubble. The sender is not started. With
// limits, the sender keeps to them and the emulator enforces them (a
// breach is a 429 there); without, both are lifted.
func newRig(t *testing.T, limits ...delivery.Limits) *rig {
	t.Helper()
	var lim delivery.Limits
	if len(limits) > 0 {
		lim = limits[0]
	}
	emu := telegramtest.New(telegramtest.Options{Limits: telegramtest.Limits(lim)})
	t.Cleanup(emu.Close)
	client, err := telegram.New(telegram.Options{
		Token: emu.Token(), Endpoint: telegramtest.Endpoint("http://telegram.test"),
		Transport: emu.Transport(), RequestTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "danvan.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{emu: emu, st: st, client: client, sender: delivery.NewSender(delivery.Options{
		Store: st, Client: client, Clock: clock.Real{}, Log: slog.New(slog.DiscardHandler), Limits: lim,
	})}
	emu.SetFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
		r.mu.Lock()
		r.reqs = append(r.reqs, request{q.Method, q.ChatID, time.Now()})
		hook := r.hook
		r.mu.Unlock()
		if hook == nil {
			return nil
		}
		return hook(q)
	})
	return r
}

// start runs the sender until the test ends or stop is called.
func (r *rig) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.sender.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
}

// stop cancels Run and waits for it; it reports how long Run took to
// return.
func (r *rig) stop(t *testing.T) time.Duration {
	t.Helper()
	if r.cancel == nil {
		return 0
	}
	start := time.Now()
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
	return time.Since(start)
}

// setFault installs a fault hook after the request recorder.
func (r *rig) setFault(hook func(telegramtest.FaultRequest) *telegramtest.Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = hook
}

// requests returns the sends (any method but getMe) to chatID.
func (r *rig) requests(chatID int64) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if q.chatID == chatID {
			out = append(out, q)
		}
	}
	return out
}

// enqueue commits rows in one transaction, wakes the sender and returns
// the row ids.
func (r *rig) enqueue(t *testing.T, rows ...store.OutboxRow) []uint64 {
	t.Helper()
	var ids []uint64
	err := r.st.Update(context.Background(), func(tx *store.Tx) error {
		for _, row := range rows {
			if row.Created.IsZero() {
				row.Created = time.Now()
			}
			id, err := tx.Enqueue(row)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	r.sender.Wake()
	return ids
}

func text(chatID int64, s string) store.OutboxRow {
	return store.OutboxRow{ChatID: chatID, Origin: "test", Action: store.Action{Kind: store.ActSend, Text: s}}
}

func (r *rig) outboxLen(t *testing.T) int {
	t.Helper()
	var n int
	if err := r.st.View(context.Background(), func(tx *store.Tx) error { n = tx.OutboxLen(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// pending returns the outbox row, or ok false once it left the outbox.
func (r *rig) pending(t *testing.T, id uint64) (row store.OutboxRow, ok bool) {
	t.Helper()
	err := r.st.View(context.Background(), func(tx *store.Tx) error {
		var err error
		row, err = tx.OutboxRow(id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return row, false
	case err != nil:
		t.Fatal(err)
	}
	return row, true
}

// delivery returns the delivery record of a row, or ok false if none.
func (r *rig) delivery(t *testing.T, id uint64) (d store.Delivery, ok bool) {
	t.Helper()
	err := r.st.View(context.Background(), func(tx *store.Tx) error {
		var err error
		d, err = tx.Delivery(id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return d, false
	case err != nil:
		t.Fatal(err)
	}
	return d, true
}

func (r *rig) chat(t *testing.T, id int64) store.Chat {
	t.Helper()
	var c store.Chat
	if err := r.st.View(context.Background(), func(tx *store.Tx) error {
		var err error
		c, err = tx.Chat(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// texts returns the texts of the bot's messages in a chat, in order.
func (r *rig) texts(chatID int64) []string {
	var out []string
	for _, m := range r.emu.BotMessages(chatID) {
		out = append(out, m.Text)
	}
	return out
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// checkSent checks that row id was delivered as the emulator's message
// with that text in chatID.
func (r *rig) checkSent(t *testing.T, id uint64, chatID int64, text string) {
	t.Helper()
	if _, ok := r.pending(t, id); ok {
		t.Errorf("row %d: still in the outbox, want it removed", id)
	}
	d, ok := r.delivery(t, id)
	if !ok {
		t.Fatalf("row %d: got no delivery record, want one", id)
	}
	var want int
	for _, m := range r.emu.BotMessages(chatID) {
		if m.Text == text {
			want = m.ID
		}
	}
	if d.Status != store.DeliverySent || d.ChatID != chatID || len(d.MessageIDs) != 1 || d.MessageIDs[0] != want || want == 0 {
		t.Errorf("row %d: got %+v, want sent to %d as message %d", id, d, chatID, want)
	}
}

func TestSendsRowsInOrderAndRecordsMessageIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a, b := r.emu.Private(alice), r.emu.Private(bob)
		group := r.emu.Group(-2001, "Tổ 5")
		r.start(t)

		rows := []store.OutboxRow{
			text(a.ID, "a1"), text(b.ID, "b1"), text(a.ID, "a2"), text(group.ID, "g1"),
			text(a.ID, "a3"), text(b.ID, "b2"), text(a.ID, "a4"), text(group.ID, "g2"),
		}
		rows[1].Origin, rows[5].Origin = "update:7", "update:7"
		rows[3].Action.Buttons = [][]store.Button{{{Text: "Có", Data: "yes"}}}
		ids := r.enqueue(t, rows...)
		synctest.Wait()

		for chat, want := range map[int64][]string{a.ID: {"a1", "a2", "a3", "a4"}, b.ID: {"b1", "b2"}, group.ID: {"g1", "g2"}} {
			if got := r.texts(chat); !equal(got, want) {
				t.Errorf("chat %d: got %v, want %v", chat, got, want)
			}
		}
		for i, id := range ids {
			r.checkSent(t, id, rows[i].ChatID, rows[i].Action.Text)
		}
		if m := r.emu.BotMessages(group.ID)[0]; len(m.Keyboard) != 1 || m.Keyboard[0][0].CallbackData != "yes" {
			t.Errorf("g1: got keyboard %+v, want the button", m.Keyboard)
		}
		if n := r.outboxLen(t); n != 0 {
			t.Errorf("outbox: got %d rows, want 0", n)
		}
		var byOrigin []store.Delivery
		if err := r.st.View(context.Background(), func(tx *store.Tx) error {
			var err error
			byOrigin, err = tx.DeliveriesByOrigin("update:7")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		bobMsgs := r.emu.BotMessages(b.ID)
		if len(byOrigin) != 2 || byOrigin[0].OutboxID != ids[1] || byOrigin[1].OutboxID != ids[5] ||
			byOrigin[0].MessageIDs[0] != bobMsgs[0].ID || byOrigin[1].MessageIDs[0] != bobMsgs[1].ID {
			t.Errorf("by origin: got %+v, want rows %d and %d as bob's messages", byOrigin, ids[1], ids[5])
		}
		if n := r.emu.Requests("sendMessage"); n != len(rows) {
			t.Errorf("got %d sendMessage requests, want %d", n, len(rows))
		}

		// A row enqueued later is sent when the sender is woken; one with
		// NotBefore waits for it.
		start := time.Now()
		later := r.enqueue(t, text(a.ID, "a5"), store.OutboxRow{ChatID: b.ID, NotBefore: start.Add(time.Minute), Action: store.Action{Kind: store.ActSend, Text: "b3"}})
		synctest.Wait()
		r.checkSent(t, later[0], a.ID, "a5")
		if _, ok := r.pending(t, later[1]); !ok || len(r.emu.BotMessages(b.ID)) != 2 {
			t.Errorf("b3 before its NotBefore: got pending %v and bob %v, want pending and [b1 b2]", ok, r.texts(b.ID))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		r.checkSent(t, later[1], b.ID, "b3")
		if m := r.emu.BotMessages(b.ID)[2]; !m.Date.Equal(start.Add(time.Minute)) {
			t.Errorf("b3: got date %v, want %v", m.Date, start.Add(time.Minute))
		}
	})
}

func TestTemporaryFailureIsRetriedInOrder(t *testing.T) {
	const htmlPage = "<html><body><h1>502 Bad Gateway</h1></body></html>"
	tests := []struct {
		name  string
		fault telegramtest.Fault
	}{
		{"500", telegramtest.Fault{Status: 500}},
		{"HTML 502", telegramtest.Fault{Body: htmlPage}},
		{"reset", telegramtest.Fault{Reset: true}},
		{"timeout", telegramtest.Fault{Delay: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				a, b := r.emu.Private(alice), r.emu.Private(bob)
				const failures = 3
				var mu sync.Mutex
				failed := 0
				r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
					mu.Lock()
					defer mu.Unlock()
					if q.ChatID != a.ID || failed == failures {
						return nil
					}
					failed++
					f := tt.fault
					return &f
				})
				r.start(t)
				start := time.Now()
				ids := r.enqueue(t, text(a.ID, "a1"), text(a.ID, "a2"), text(b.ID, "b1"), text(a.ID, "a3"))

				// Once the first attempt has failed, a2 and a3 wait
				// behind a1 while bob's b1 goes out. (The sender sends one
				// row at a time, so a stalled request holds everyone until
				// the client's timeout.)
				answered := min(tt.fault.Delay, 30*time.Second)
				time.Sleep(answered + time.Millisecond)
				synctest.Wait()
				if got := r.texts(b.ID); !equal(got, []string{"b1"}) {
					t.Errorf("bob: got %v, want [b1] at once", got)
				}
				if tt.fault.Delay == 0 {
					row, ok := r.pending(t, ids[0])
					if !ok || row.Attempts != 1 || !strings.HasPrefix(row.LastError, "temporary") || !row.NotBefore.After(start) {
						t.Errorf("a1 after one failure: got %+v (pending %v), want 1 attempt, a temporary error and a later NotBefore", row, ok)
					}
				}
				if got := len(r.requests(a.ID)); got != 1 {
					t.Errorf("alice: got %d requests, want 1: later rows wait behind a1", got)
				}

				time.Sleep(2 * time.Hour)
				synctest.Wait()
				if got, want := r.texts(a.ID), []string{"a1", "a2", "a3"}; !equal(got, want) {
					t.Errorf("alice: got %v, want %v", got, want)
				}
				for i, id := range ids {
					r.checkSent(t, id, []int64{a.ID, a.ID, b.ID, a.ID}[i], []string{"a1", "a2", "b1", "a3"}[i])
				}
				if d, _ := r.delivery(t, ids[0]); d.Attempts != failures+1 {
					t.Errorf("a1: got %d attempts, want %d", d.Attempts, failures+1)
				}
				// Backoff: the n-th retry comes between 2^(n-1)/2 and
				// 2^(n-1) seconds after the n-th failure's answer.
				reqs := r.requests(a.ID)
				if len(reqs) != failures+3 {
					t.Fatalf("alice: got %d requests, want %d", len(reqs), failures+3)
				}
				for n := 1; n <= failures; n++ {
					gap := reqs[n].at.Sub(reqs[n-1].at) - answered
					ceiling := time.Second << (n - 1)
					if gap < ceiling/2 || gap > ceiling {
						t.Errorf("retry %d came %v after the failure, want between %v and %v", n, gap, ceiling/2, ceiling)
					}
				}
			})
		})
	}
}

func TestRateLimitedChatWaitsRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a, b := r.emu.Private(alice), r.emu.Private(bob)
		var once sync.Once
		r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
			var f *telegramtest.Fault
			if q.ChatID == a.ID {
				once.Do(func() { f = &telegramtest.Fault{RetryAfter: 5} })
			}
			return f
		})
		r.start(t)
		start := time.Now()
		ids := r.enqueue(t, text(a.ID, "a1"), text(b.ID, "b1"), text(a.ID, "a2"))
		synctest.Wait()
		if got := r.texts(b.ID); !equal(got, []string{"b1"}) {
			t.Errorf("bob at 0s: got %v, want [b1]", got)
		}
		if row, ok := r.pending(t, ids[0]); !ok || !row.NotBefore.Equal(start.Add(5*time.Second)) || row.Attempts != 1 {
			t.Errorf("a1: got %+v (pending %v), want NotBefore 5s on", row, ok)
		}

		// Bob's new row goes out while alice's chat waits.
		time.Sleep(2 * time.Second)
		more := r.enqueue(t, text(b.ID, "b2"))
		synctest.Wait()
		r.checkSent(t, more[0], b.ID, "b2")
		if m := r.emu.BotMessages(b.ID)[1]; !m.Date.Equal(start.Add(2 * time.Second)) {
			t.Errorf("b2: got date %v, want %v", m.Date, start.Add(2*time.Second))
		}

		time.Sleep(3*time.Second - time.Millisecond)
		synctest.Wait()
		if n := len(r.requests(a.ID)); n != 1 || len(r.texts(a.ID)) != 0 {
			t.Errorf("alice just before 5s: got %d requests and %v, want 1 request and nothing sent", n, r.texts(a.ID))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := r.texts(a.ID); !equal(got, []string{"a1", "a2"}) {
			t.Errorf("alice at 5s: got %v, want [a1 a2]", got)
		}
		for _, m := range r.emu.BotMessages(a.ID) {
			if !m.Date.Equal(start.Add(5 * time.Second)) {
				t.Errorf("%s: got date %v, want %v", m.Text, m.Date, start.Add(5*time.Second))
			}
		}
		r.checkSent(t, ids[0], a.ID, "a1")
		r.checkSent(t, ids[2], a.ID, "a2")
	})
}

func TestUnreachableChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a, b := r.emu.Private(alice), r.emu.Private(bob)
		r.start(t)
		// A message with a button, pressed before alice blocks the bot.
		pre := r.enqueue(t, store.OutboxRow{ChatID: a.ID, Action: store.Action{Kind: store.ActSend, Text: "Chọn", Buttons: [][]store.Button{{{Text: "Có", Data: "yes"}}}}})
		synctest.Wait()
		r.checkSent(t, pre[0], a.ID, "Chọn")
		query := r.emu.Press(alice, a, r.emu.BotMessages(a.ID)[0].ID, "yes")
		r.emu.Block(alice.ID)
		sends := r.emu.Requests("sendMessage")

		ids := r.enqueue(t, text(a.ID, "a1"), text(a.ID, "a2"), text(b.ID, "b1"))
		synctest.Wait()
		const reason = "Forbidden: bot was blocked by the user"
		for _, id := range ids[:2] {
			d, ok := r.delivery(t, id)
			if !ok || d.Status != store.DeliveryUnreachable || d.Reason != reason {
				t.Errorf("row %d: got %+v, want unreachable: %s", id, d, reason)
			}
			if _, ok := r.pending(t, id); ok {
				t.Errorf("row %d: still pending, want dropped", id)
			}
		}
		if d, _ := r.delivery(t, ids[0]); d.Attempts != 1 {
			t.Errorf("a1: got %d attempts, want 1", d.Attempts)
		}
		r.checkSent(t, ids[2], b.ID, "b1")
		if c := r.chat(t, a.ID); !c.Unreachable || c.Reason != reason || c.UnreachableAt.IsZero() {
			t.Errorf("registry: got %+v, want alice unreachable", c)
		}
		if got := r.emu.Requests("sendMessage") - sends; got != 2 {
			t.Errorf("got %d sendMessage requests, want 2 (a1 and b1; a2 dropped without one)", got)
		}

		// Later rows are dropped without a request; an answer to a press
		// still goes.
		later := r.enqueue(t, text(a.ID, "a3"), store.OutboxRow{ChatID: a.ID, Action: store.Action{Kind: store.ActAnswer, CallbackID: query, Text: "Đã nhận"}})
		synctest.Wait()
		if d, _ := r.delivery(t, later[0]); d.Status != store.DeliveryUnreachable {
			t.Errorf("a3: got %+v, want unreachable", d)
		}
		if got := r.emu.Requests("sendMessage") - sends; got != 2 {
			t.Errorf("got %d sendMessage requests, want still 2", got)
		}
		if ans, ok := r.emu.CallbackAnswer(query); !ok || ans.Text != "Đã nhận" {
			t.Errorf("answer: got %+v (%v), want Đã nhận", ans, ok)
		}

		// Alice unblocks and writes again: her chat is reachable.
		r.emu.Unblock(alice.ID)
		if err := r.st.Update(context.Background(), func(tx *store.Tx) error {
			_, err := tx.SeeChat(store.Chat{ID: a.ID, Kind: store.ChatPrivate, Title: "Alice"}, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		again := r.enqueue(t, text(a.ID, "a4"))
		synctest.Wait()
		r.checkSent(t, again[0], a.ID, "a4")
		if got := r.texts(a.ID); !equal(got, []string{"Chọn", "a4"}) {
			t.Errorf("alice: got %v, want [Chọn a4]", got)
		}
	})
}

func TestRejectedRowIsRecordedAndSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a := r.emu.Private(alice)
		r.start(t)
		ids := r.enqueue(t, text(a.ID, strings.Repeat("x", 4097)), text(a.ID, "<b>bad"), text(a.ID, "ok"))
		synctest.Wait()
		for i, reason := range []string{"Bad Request: message is too long", "Bad Request: can't parse entities"} {
			d, ok := r.delivery(t, ids[i])
			if !ok || d.Status != store.DeliveryFailed || !strings.HasPrefix(d.Reason, reason) || d.Attempts != 1 {
				t.Errorf("row %d: got %+v, want failed after 1 attempt: %s", ids[i], d, reason)
			}
		}
		r.checkSent(t, ids[2], a.ID, "ok")
		if got := r.texts(a.ID); !equal(got, []string{"ok"}) {
			t.Errorf("alice: got %v, want [ok]", got)
		}
		if n := r.emu.Requests("sendMessage"); n != 3 {
			t.Errorf("got %d requests, want 3: rejected rows are not retried", n)
		}
		if n := r.outboxLen(t); n != 0 {
			t.Errorf("outbox: got %d rows, want 0", n)
		}
	})
}

func TestExpiredRowIsNeverSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a, b := r.emu.Private(alice), r.emu.Private(bob)
		// Bob's first attempt hits a flood limit that outlasts his row.
		var once sync.Once
		r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
			var f *telegramtest.Fault
			if q.ChatID == b.ID {
				once.Do(func() { f = &telegramtest.Fault{RetryAfter: 10} })
			}
			return f
		})
		r.start(t)
		now := time.Now()
		stale := text(a.ID, "stale")
		stale.ExpiresAt = now.Add(-time.Second)
		short := text(b.ID, "short-lived")
		short.ExpiresAt = now.Add(5 * time.Second)
		ids := r.enqueue(t, stale, text(a.ID, "fresh"), short)
		time.Sleep(time.Minute)
		synctest.Wait()
		for _, id := range []uint64{ids[0], ids[2]} {
			if d, ok := r.delivery(t, id); !ok || d.Status != store.DeliveryExpired {
				t.Errorf("row %d: got %+v, want expired", id, d)
			}
		}
		r.checkSent(t, ids[1], a.ID, "fresh")
		if got := r.texts(a.ID); !equal(got, []string{"fresh"}) {
			t.Errorf("alice: got %v, want [fresh]", got)
		}
		if n := len(r.requests(b.ID)); n != 1 || len(r.texts(b.ID)) != 0 {
			t.Errorf("bob: got %d requests and %v, want the one rate-limited attempt only", n, r.texts(b.ID))
		}
		if n := r.outboxLen(t); n != 0 {
			t.Errorf("outbox: got %d rows, want 0", n)
		}
	})
}

func TestMigratedGroup(t *testing.T) {
	const oldID, newID = -4001, -1004001
	tests := []struct {
		name  string
		rows  []store.OutboxRow
		texts []string
	}{
		{"rows for the old id", []store.OutboxRow{text(oldID, "g1"), text(oldID, "g2"), text(oldID, "g3")}, []string{"g1", "g2", "g3"}},
		// A row already addressed to the supergroup is a different chat
		// until the sender learns of the migration, so it may go before
		// g1; the old id's rows keep their order.
		{"old id then new id", []store.OutboxRow{text(oldID, "g1"), text(newID, "g2"), text(oldID, "g3")}, []string{"g1", "g3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				group := r.emu.Group(oldID, "Chi bộ")
				r.emu.Migrate(alice, group, newID)
				// The group is linked to a unit: the link follows it.
				var unitID uint64
				if err := r.st.Update(context.Background(), func(tx *store.Tx) error {
					u, err := tx.AddUnit(store.Unit{Code: "CHI-BO", Name: "Chi bộ", Kind: store.KindMTTQ})
					unitID = u.ID
					if err != nil {
						return err
					}
					return tx.LinkGroup(store.Link{UnitID: u.ID, ChatID: oldID, Title: "Chi bộ"})
				}); err != nil {
					t.Fatal(err)
				}
				r.start(t)
				ids := r.enqueue(t, tt.rows...)
				synctest.Wait()
				var got []string
				for _, text := range r.texts(newID) {
					if slices.Contains(tt.texts, text) {
						got = append(got, text)
					}
				}
				if !equal(got, tt.texts) {
					t.Errorf("supergroup: got %v in order, want %v", got, tt.texts)
				}
				if n := len(r.texts(newID)); n != len(tt.rows) {
					t.Errorf("supergroup: got %d messages, want %d", n, len(tt.rows))
				}
				if n := len(r.emu.BotMessages(oldID)); n != 0 {
					t.Errorf("old group: got %d bot messages, want 0", n)
				}
				for i, id := range ids {
					r.checkSent(t, id, newID, tt.rows[i].Action.Text)
				}
				// The registry moved the group: later rows for the old id go
				// straight to the supergroup, with no failed request first.
				if got := r.chat(t, oldID).MigratedTo; got != newID {
					t.Errorf("registry: old group migrated to %d, want %d", got, newID)
				}
				if got := r.chat(t, newID); got.Kind != store.ChatSupergroup {
					t.Errorf("registry: supergroup entry %+v", got)
				}
				r.st.View(context.Background(), func(tx *store.Tx) error {
					if l := tx.UnitLinks(unitID); len(l) != 1 || l[0].ChatID != newID {
						t.Errorf("unit links %+v, want the supergroup", l)
					}
					if l := tx.ChatLinks(oldID); len(l) != 0 {
						t.Errorf("old group still linked: %+v", l)
					}
					return nil
				})
				before := len(r.requests(oldID))
				later := r.enqueue(t, text(oldID, "g4"))
				synctest.Wait()
				r.checkSent(t, later[0], newID, "g4")
				if n := len(r.requests(oldID)) - before; n != 0 {
					t.Errorf("%d requests to the old id after the migration was known, want 0", n)
				}
			})
		})
	}
}

func TestStopWhileSending(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		// sent: the slow send finishes within Grace and is acknowledged;
		// otherwise it is abandoned and stays in the outbox.
		sent bool
		took time.Duration
	}{
		{"answer within grace", time.Second, true, time.Second},
		{"answer after grace", time.Minute, false, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				a := r.emu.Private(alice)
				started := make(chan struct{}, 1)
				r.setFault(func(telegramtest.FaultRequest) *telegramtest.Fault {
					started <- struct{}{}
					return &telegramtest.Fault{Delay: tt.delay}
				})
				r.start(t)
				ids := r.enqueue(t, text(a.ID, "slow"), text(a.ID, "next"))
				<-started
				if took := r.stop(t); took != tt.took {
					t.Errorf("Run returned after %v, want %v (Grace 2s)", took, tt.took)
				}
				synctest.Wait()
				_, pending := r.pending(t, ids[0])
				_, delivered := r.delivery(t, ids[0])
				msgs := r.texts(a.ID)
				switch {
				case pending == delivered:
					t.Errorf("slow row: pending %v, delivered %v; want exactly one", pending, delivered)
				case tt.sent:
					r.checkSent(t, ids[0], a.ID, "slow")
				case len(msgs) != 0:
					t.Errorf("got %v sent, want nothing", msgs)
				}
				if _, ok := r.pending(t, ids[1]); !ok {
					t.Errorf("next row: not pending after stop, want it kept for the next start")
				}
				if got := len(r.requests(a.ID)); got != 1 {
					t.Errorf("got %d requests, want 1: nothing is sent after stop", got)
				}
			})
		})
	}
}

// TestRowLeavesOutboxOnlyAfterAcceptance holds the emulator's answer after
// it stored the message: the row is still pending then, and acknowledged
// once the answer arrives.
func TestRowLeavesOutboxOnlyAfterAcceptance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a := r.emu.Private(alice)
		accepted := make(chan int, 1)
		release := make(chan struct{})
		r.emu.SetOnAccepted(func(_ string, _ int64, messageID int) {
			accepted <- messageID
			<-release
		})
		r.start(t)
		ids := r.enqueue(t, text(a.ID, "a1"))
		msgID := <-accepted
		synctest.Wait()
		if _, ok := r.pending(t, ids[0]); !ok {
			t.Errorf("before the answer: row not pending, want it kept")
		}
		if d, ok := r.delivery(t, ids[0]); ok {
			t.Errorf("before the answer: got delivery %+v, want none", d)
		}
		close(release)
		synctest.Wait()
		r.checkSent(t, ids[0], a.ID, "a1")
		if d, _ := r.delivery(t, ids[0]); d.MessageIDs[0] != msgID {
			t.Errorf("got message ids %v, want [%d]", d.MessageIDs, msgID)
		}
	})
}

// TestLostAnswerIsSentAgain: Telegram stored the message but the answer
// was lost, so the row is sent again (at least once) and the delivery
// holds the id of the copy that was acknowledged.
func TestLostAnswerIsSentAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a := r.emu.Private(alice)
		var once sync.Once
		r.setFault(func(telegramtest.FaultRequest) *telegramtest.Fault {
			var f *telegramtest.Fault
			once.Do(func() { f = &telegramtest.Fault{Reset: true, AfterApply: true} })
			return f
		})
		r.start(t)
		ids := r.enqueue(t, text(a.ID, "a1"), text(a.ID, "a2"))
		time.Sleep(time.Minute)
		synctest.Wait()
		if got, want := r.texts(a.ID), []string{"a1", "a1", "a2"}; !equal(got, want) {
			t.Errorf("alice: got %v, want %v", got, want)
		}
		d, _ := r.delivery(t, ids[0])
		if msgs := r.emu.BotMessages(a.ID); d.Status != store.DeliverySent || len(d.MessageIDs) != 1 || d.MessageIDs[0] != msgs[1].ID || d.Attempts != 2 {
			t.Errorf("a1: got %+v, want sent as message %d after 2 attempts", d, msgs[1].ID)
		}
	})
}

// A gateway in front of the Bot API that answers 503 with its own JSON and
// a Retry-After header: the row is retried, never sooner than the header
// says, and the chat is not marked unreachable.
func TestGatewayRetryAfterIsAFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a := r.emu.Private(alice)
		var mu sync.Mutex
		failed := false
		r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
			mu.Lock()
			defer mu.Unlock()
			if q.ChatID != a.ID || failed {
				return nil
			}
			failed = true
			return &telegramtest.Fault{Status: http.StatusServiceUnavailable, Body: `{"message":"busy"}`, RetryAfterHeader: 120}
		})
		r.start(t)
		ids := r.enqueue(t, text(a.ID, "a1"))
		time.Sleep(119 * time.Second)
		synctest.Wait()
		if got := len(r.requests(a.ID)); got != 1 {
			t.Errorf("%d requests within the gateway's 120 s, want 1", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		r.checkSent(t, ids[0], a.ID, "a1")
	})
}

// A group becomes a supergroup while the sender still holds some of its
// messages: the bot records the migration (the service message), then a
// new message is addressed to the supergroup. The group's older messages
// go first.
func TestMigrationKeepsOrderWithNewerRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const oldID, newID = -4002, -1004002
		r := newRig(t, delivery.DefaultLimits)
		group := r.emu.Group(oldID, "Chi hội")
		r.start(t)
		r.enqueue(t, text(oldID, "g1"), text(oldID, "g2"), text(oldID, "g3"))
		time.Sleep(100 * time.Millisecond) // g1 is out; g2 and g3 wait for the group's pace
		synctest.Wait()
		if got := r.texts(oldID); !equal(got, []string{"g1"}) {
			t.Fatalf("old group before the upgrade: %v, want [g1]", got)
		}
		r.emu.Migrate(alice, group, newID)
		if err := r.st.Update(context.Background(), func(tx *store.Tx) error {
			_, err := tx.MigrateChat(oldID, newID, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		r.enqueue(t, text(newID, "s1"))
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if got := r.texts(newID); !equal(got, []string{"g2", "g3", "s1"}) {
			t.Errorf("supergroup: %v, want the group's older messages first: [g2 g3 s1]", got)
		}
	})
}
