package delivery_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"danvan/delivery"
	"danvan/store"
	"danvan/telegramtest"
)

// These tests run in virtual time and judge the sender by the emulator's
// record of when each message arrived.

// users registers n people who opened the bot, with ids from base.
func users(r *rig, base int64, n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		u := telegramtest.User{ID: base + int64(i), FirstName: fmt.Sprintf("Hội viên %d", i)}
		ids[i] = r.emu.Private(u).ID
	}
	return ids
}

// span is the time from the first to the last accepted send.
func span(log []telegramtest.SentRecord) time.Duration {
	if len(log) < 2 {
		return 0
	}
	return log[len(log)-1].At.Sub(log[0].At)
}

// minimum is the least time n sends can take under a global limit of
// perSecond in any window [t, t+1s): perSecond at once, then perSecond
// more each second.
func minimum(n, perSecond int) time.Duration {
	return time.Duration((n-1)/perSecond) * time.Second
}

// waitDelivered sleeps in virtual time until the outbox is empty.
func (r *rig) waitDelivered(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for r.outboxLen(t) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox still has %d rows after %v", r.outboxLen(t), limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	synctest.Wait()
}

func TestTwoThousandMessagesAtTheLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		chats := users(r, 100000, 500)
		var rows []store.OutboxRow
		for k := range 4 {
			for _, c := range chats {
				row := text(c, fmt.Sprintf("tin %d", k))
				row.Priority = store.PriorityBulk
				rows = append(rows, row)
			}
		}
		r.start(t)
		r.enqueue(t, rows...)
		r.waitDelivered(t, 5*time.Minute)

		log := r.emu.SendLog()
		if len(log) != 2000 {
			t.Fatalf("emulator accepted %d messages, want 2000", len(log))
		}
		if n := r.emu.FloodErrors(); n != 0 {
			t.Errorf("%d 429s, want 0", n)
		}
		if n := r.emu.Violations(telegramtest.Limits(delivery.DefaultLimits)); n != 0 {
			t.Errorf("%d sends broke a window, want 0", n)
		}
		for _, c := range chats {
			if got := r.texts(c); !equal(got, []string{"tin 0", "tin 1", "tin 2", "tin 3"}) {
				t.Fatalf("chat %d got %v, want the four messages in order", c, got)
			}
		}
		got, least := span(log), minimum(2000, 30)
		t.Logf("2,000 messages to 500 chats took %v; the limits allow %v (%.2f%% more)", got, least, 100*(got.Seconds()/least.Seconds()-1))
		if got.Seconds() > least.Seconds()*1.02 {
			t.Errorf("took %v, more than 2%% over the minimum %v", got, least)
		}
	})
}

func TestRandomFailuresLoseNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		chats := users(r, 200000, 100)
		rng := rand.New(rand.NewPCG(7, 11))
		type wait struct{ until time.Time }
		var mu sync.Mutex
		holds := make(map[int64]time.Time) // chat → earliest allowed retry after a 429
		var early []string
		r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
			if q.Method != "sendMessage" {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if until, ok := holds[q.ChatID]; ok {
				if now.Before(until) {
					early = append(early, fmt.Sprintf("chat %d at %v, before %v", q.ChatID, now, until))
				}
				delete(holds, q.ChatID)
			}
			if rng.IntN(5) != 0 {
				return nil
			}
			switch rng.IntN(4) {
			case 0:
				after := 1 + rng.IntN(3)
				holds[q.ChatID] = now.Add(time.Duration(after) * time.Second)
				return &telegramtest.Fault{RetryAfter: after}
			case 1:
				return &telegramtest.Fault{Status: 500}
			case 2:
				return &telegramtest.Fault{Status: 502, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"}
			default:
				return &telegramtest.Fault{Reset: true}
			}
		})
		var rows []store.OutboxRow
		for k := range 5 {
			for _, c := range chats {
				rows = append(rows, text(c, fmt.Sprintf("tin %d", k)))
			}
		}
		r.start(t)
		ids := r.enqueue(t, rows...)
		r.waitDelivered(t, 10*time.Minute)
		for i, id := range ids {
			r.checkSent(t, id, rows[i].ChatID, rows[i].Action.Text)
		}
		for _, c := range chats {
			if got := r.texts(c); !equal(got, []string{"tin 0", "tin 1", "tin 2", "tin 3", "tin 4"}) {
				t.Errorf("chat %d got %v, want each message once, in order", c, got)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range early {
			t.Errorf("retried before retry_after: %s", e)
		}
		if n := r.emu.Violations(telegramtest.Limits(delivery.DefaultLimits)); n != 0 {
			t.Errorf("%d sends broke a window", n)
		}
	})
}

func TestOneChatBehindRetryAfterDoesNotSlowOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		stuck := users(r, 300000, 1)[0]
		others := users(r, 310000, 300)
		var once sync.Once
		r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
			var f *telegramtest.Fault
			if q.ChatID == stuck {
				once.Do(func() { f = &telegramtest.Fault{RetryAfter: 30} })
			}
			return f
		})
		r.start(t)
		start := time.Now()
		rows := []store.OutboxRow{text(stuck, "chờ"), text(stuck, "sau")}
		for _, c := range others {
			rows = append(rows, text(c, "tin"))
		}
		r.enqueue(t, rows...)
		r.waitDelivered(t, 2*time.Minute)

		var lastOther, firstStuck time.Time
		for _, rec := range r.emu.SendLog() {
			if rec.ChatID == stuck {
				if firstStuck.IsZero() {
					firstStuck = rec.At
				}
			} else {
				lastOther = rec.At
			}
		}
		// 300 messages plus the stuck chat's first attempt at 30 a second.
		if got, want := lastOther.Sub(start), minimum(301, 30); got.Seconds() > want.Seconds()*1.02+0.1 {
			t.Errorf("the other chats took %v, want about %v: the stuck chat slowed them", got, want)
		}
		if got := firstStuck.Sub(start); got < 30*time.Second {
			t.Errorf("the stuck chat was retried after %v, before its retry_after of 30s", got)
		}
		if got := r.texts(stuck); !equal(got, []string{"chờ", "sau"}) {
			t.Errorf("stuck chat got %v, want both in order", got)
		}
	})
}

func TestSeveralChatsFloodedSlowTheGlobalRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		chats := users(r, 400000, 200)
		var mu sync.Mutex
		flooded := map[int64]bool{}
		r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
			mu.Lock()
			defer mu.Unlock()
			// The first three chats each get one 429, all within a second.
			if idx := slices.Index(chats, q.ChatID); idx >= 0 && idx < 3 && !flooded[q.ChatID] {
				flooded[q.ChatID] = true
				return &telegramtest.Fault{RetryAfter: 1}
			}
			return nil
		})
		r.start(t)
		start := time.Now()
		var rows []store.OutboxRow
		for _, c := range chats {
			rows = append(rows, text(c, "tin"))
		}
		r.enqueue(t, rows...)
		r.waitDelivered(t, 5*time.Minute)
		log := r.emu.SendLog()
		// Right after the floods the rate is halved: the next 30 sends take
		// about two seconds instead of one.
		var after []time.Time
		for _, rec := range log {
			if rec.At.Sub(start) > 200*time.Millisecond {
				after = append(after, rec.At)
			}
		}
		if len(after) < 31 {
			t.Fatalf("only %d sends after the floods", len(after))
		}
		if got := after[30].Sub(after[0]); got < 1900*time.Millisecond {
			t.Errorf("30 sends after three chats were flooded took %v, want about 2s (half rate)", got)
		}
		if len(log) != 200 {
			t.Errorf("got %d messages, want 200", len(log))
		}
	})
}

func TestUnreachableChatsDoNotSlowOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		reachable := users(r, 500000, 200)
		blocked := users(r, 510000, 50)
		for _, c := range blocked {
			r.emu.Block(c)
		}
		unknown := make([]int64, 50) // never opened the bot
		for i := range unknown {
			unknown[i] = 520000 + int64(i)
		}
		all := slices.Concat(reachable, blocked, unknown)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

		fanOut := func() store.FanOut {
			var f store.FanOut
			err := r.st.Update(context.Background(), func(tx *store.Tx) error {
				var err error
				f, err = tx.StartFanOut(store.FanOutSpec{
					Origin: "test", Kind: "announcement", Chats: all, Priority: store.PriorityBulk,
					Action: store.Action{Kind: store.ActSend, Text: "Thông báo họp"},
				}, time.Now())
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			r.sender.Wake()
			return f
		}
		var reports []store.FanOut
		r.st.OnFanOutDone(func(_ *store.Tx, f store.FanOut) error { reports = append(reports, f); return nil })
		r.start(t)

		start := time.Now()
		first := fanOut()
		r.waitDelivered(t, 5*time.Minute)
		firstTook := time.Since(start)
		// Discovering an unreachable chat costs one request, no more: the
		// 300 requests go at the global rate.
		if want := time.Duration(float64(minimum(300, 30))*1.02) + time.Second; firstTook > want {
			t.Errorf("first fan-out took %v, want at most %v", firstTook, want)
		}
		for _, c := range slices.Concat(blocked, unknown) {
			if ch := r.chat(t, c); !ch.Unreachable {
				t.Errorf("chat %d not marked unreachable", c)
			}
		}
		for _, c := range reachable {
			if got := r.texts(c); !equal(got, []string{"Thông báo họp"}) {
				t.Fatalf("chat %d got %v", c, got)
			}
		}
		// A second fan-out costs the unreachable chats nothing: no request,
		// no share of the rate.
		before := len(r.emu.SendLog())
		requests := len(r.allRequests())
		start = time.Now()
		second := fanOut()
		r.waitDelivered(t, 5*time.Minute)
		secondTook := time.Since(start)
		if got := len(r.allRequests()) - requests; got != len(reachable) {
			t.Errorf("second fan-out made %d requests, want %d (only the reachable chats)", got, len(reachable))
		}
		if got := len(r.emu.SendLog()) - before; got != len(reachable) {
			t.Errorf("second fan-out delivered %d, want %d", got, len(reachable))
		}
		if want := minimum(len(reachable), 30) + time.Second; secondTook > want {
			t.Errorf("second fan-out took %v, want at most %v", secondTook, want)
		}
		t.Logf("first fan-out (discovering 100 unreachable chats) %v, second %v", firstTook, secondTook)

		if len(reports) != 2 {
			t.Fatalf("got %d fan-out reports, want 2", len(reports))
		}
		for i, want := range []store.FanOut{first, second} {
			got := reports[i]
			if got.ID != want.ID || got.Total != 300 || got.Sent != 200 || got.Unreachable != 100 {
				t.Errorf("report %d: %+v, want 300 total, 200 sent, 100 unreachable", i, got)
			}
			r.st.View(context.Background(), func(tx *store.Tx) error {
				if misses := tx.FanOutMisses(got.ID, 1000); len(misses) != 100 {
					t.Errorf("report %d lists %d unreachable chats, want 100", i, len(misses))
				}
				return nil
			})
		}
	})
}

func TestExpiredRowsAreDroppedAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		chats := users(r, 600000, 90)
		var report store.FanOut
		r.st.OnFanOutDone(func(_ *store.Tx, f store.FanOut) error { report = f; return nil })
		r.start(t)
		// 90 reminders at 30 a second take three seconds; they expire after
		// two, so about a third are useless by the time their turn comes.
		err := r.st.Update(context.Background(), func(tx *store.Tx) error {
			_, err := tx.StartFanOut(store.FanOutSpec{
				Origin: "reminder", Chats: chats, Priority: store.PriorityBulk, ExpiresAt: time.Now().Add(2 * time.Second),
				Action: store.Action{Kind: store.ActSend, Text: "Nhắc họp"},
			}, time.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r.sender.Wake()
		r.waitDelivered(t, time.Minute)
		sent := len(r.emu.SendLog())
		if report.Expired == 0 || report.Sent != sent || report.Sent+report.Expired != 90 {
			t.Errorf("report %+v with %d sent: want every row sent or expired, some expired", report, sent)
		}
		for _, rec := range r.emu.SendLog() {
			if rec.At.Sub(report.Created) >= 2*time.Second {
				t.Errorf("a reminder was sent at +%v, after it expired", rec.At.Sub(report.Created))
			}
		}
	})
}

func TestAnswersNeverWaitBehindBulk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		chats := users(r, 700000, 1000)
		person := telegramtest.User{ID: chats[999], FirstName: "Hoa"}
		chat := r.emu.Private(person)
		// A message with a button, then a fan-out that includes this chat.
		ids := r.enqueue(t, store.OutboxRow{ChatID: chat.ID, Action: store.Action{
			Kind: store.ActSend, Text: "Xác nhận?", Buttons: [][]store.Button{{{Text: "Có", Data: "yes"}}},
		}})
		r.start(t)
		synctest.Wait()
		d, _ := r.delivery(t, ids[0])
		var bulk []store.OutboxRow
		for _, c := range chats {
			bulk = append(bulk, store.OutboxRow{ChatID: c, Priority: store.PriorityBulk, Action: store.Action{Kind: store.ActSend, Text: "Thông báo"}})
		}
		r.enqueue(t, bulk...)
		time.Sleep(5 * time.Second)
		q := r.emu.Press(person, chat, d.MessageIDs[0], "yes")
		pressed := time.Now()
		r.enqueue(t,
			store.OutboxRow{ChatID: chat.ID, Action: store.Action{Kind: store.ActAnswer, CallbackID: q, Text: "Đã lưu."}},
			store.OutboxRow{ChatID: chat.ID, Action: store.Action{Kind: store.ActSend, Text: "Cảm ơn"}})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ans, err := r.emu.WaitCallbackAnswer(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if took := ans.At.Sub(pressed); took > 100*time.Millisecond {
			t.Errorf("the button was answered after %v behind bulk, want at once", took)
		}
		msgs, err := r.emu.WaitBotMessages(ctx, chat.ID, 3)
		if err != nil {
			t.Fatal(err)
		}
		// The reply to the press jumps the fan-out queue, even ahead of the
		// announcement still waiting for this very chat.
		var reply, announcement time.Time
		for _, m := range msgs {
			switch m.Text {
			case "Cảm ơn":
				reply = m.Date
			case "Thông báo":
				announcement = m.Date
			}
		}
		if took := reply.Sub(pressed); reply.IsZero() || took > 2*time.Second {
			t.Errorf("the interactive reply came %v after the press, during a 1,000-chat fan-out", took)
		}
		if !announcement.After(reply) {
			t.Errorf("the chat's announcement (at %v) went before the reply (at %v)", announcement, reply)
		}
	})
}

// allRequests returns every request the emulator saw.
func (r *rig) allRequests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func TestAbruptStopMidFanOutLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		chats := users(r, 800000, 5000)
		path := r.st.Path()
		err := r.st.Update(context.Background(), func(tx *store.Tx) error {
			_, err := tx.StartFanOut(store.FanOutSpec{
				Origin: "announcement", Chats: chats, Priority: store.PriorityBulk,
				Action: store.Action{Kind: store.ActSend, Text: "Thông báo"},
			}, time.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Requests take 300 ms, so about nine are in flight at 30 a second.
		r.setFault(func(telegramtest.FaultRequest) *telegramtest.Fault {
			return &telegramtest.Fault{Delay: 300 * time.Millisecond}
		})
		r.start(t)
		r.sender.Wake()
		time.Sleep(60*time.Second + 150*time.Millisecond)
		// Stop without draining: the context ends and the store closes
		// under the workers' feet.
		r.cancel()
		r.cancel = nil
		r.st.Close()
		<-r.done
		before := len(r.emu.SendLog())
		if before == 0 || before >= 5000 {
			t.Fatalf("%d sent before the stop, want a part", before)
		}

		st, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		r.st = st
		client := r.client
		r.sender = delivery.NewSender(delivery.Options{Store: st, Client: client, Limits: delivery.DefaultLimits})
		r.start(t)
		r.waitDelivered(t, 10*time.Minute)

		duplicates := 0
		for _, c := range chats {
			switch n := len(r.emu.BotMessages(c)); {
			case n == 0:
				t.Fatalf("chat %d got nothing", c)
			case n > 1:
				duplicates += n - 1
			}
		}
		t.Logf("%d sent before the stop, %d duplicates after the restart", before, duplicates)
		if duplicates > 16 {
			t.Errorf("%d duplicates, want at most 16 (the sends in flight)", duplicates)
		}
	})
}

func TestAnswersAndRepliesDoNotWaitForSlowBulk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		chats := users(r, 710000, 200)
		person := telegramtest.User{ID: 719999, FirstName: "Hoa"}
		chat := r.emu.Private(person)
		ids := r.enqueue(t, store.OutboxRow{ChatID: chat.ID, Action: store.Action{
			Kind: store.ActSend, Text: "Xác nhận?", Buttons: [][]store.Button{{{Text: "Có", Data: "yes"}}},
		}})
		r.start(t)
		synctest.Wait()
		d, _ := r.delivery(t, ids[0])
		// Bulk sends now take 10 s each: every worker bulk may use is stuck.
		r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
			if q.Method == "sendMessage" && q.ChatID != chat.ID {
				return &telegramtest.Fault{Delay: 10 * time.Second}
			}
			return nil
		})
		var bulk []store.OutboxRow
		for _, c := range chats {
			bulk = append(bulk, store.OutboxRow{ChatID: c, Priority: store.PriorityBulk, Action: store.Action{Kind: store.ActSend, Text: "Thông báo"}})
		}
		r.enqueue(t, bulk...)
		time.Sleep(3 * time.Second)
		q := r.emu.Press(person, chat, d.MessageIDs[0], "yes")
		pressed := time.Now()
		r.enqueue(t,
			store.OutboxRow{ChatID: chat.ID, Action: store.Action{Kind: store.ActAnswer, CallbackID: q, Text: "Đã lưu."}},
			store.OutboxRow{ChatID: chat.ID, Action: store.Action{Kind: store.ActSend, Text: "Cảm ơn"}})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ans, err := r.emu.WaitCallbackAnswer(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if took := ans.At.Sub(pressed); took > 100*time.Millisecond {
			t.Errorf("answer after %v while bulk sends hang, want at once", took)
		}
		msgs, err := r.emu.WaitBotMessages(ctx, chat.ID, 2)
		if err != nil {
			t.Fatal(err)
		}
		if took := msgs[1].Date.Sub(pressed); took > 2*time.Second {
			t.Errorf("reply after %v while bulk sends hang, want within 2s", took)
		}
	})
}

func TestRetryAfterSurvivesARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, delivery.DefaultLimits)
		chat := users(r, 720000, 1)[0]
		var once sync.Once
		r.setFault(func(q telegramtest.FaultRequest) *telegramtest.Fault {
			var f *telegramtest.Fault
			once.Do(func() { f = &telegramtest.Fault{RetryAfter: 30} })
			return f
		})
		r.start(t)
		start := time.Now()
		r.enqueue(t, store.OutboxRow{ChatID: chat, Priority: store.PriorityBulk, Action: store.Action{Kind: store.ActSend, Text: "bulk"}})
		time.Sleep(2 * time.Second)
		r.stop(t)
		// A new sender on the same store; a reply for the same chat comes in.
		r.sender = delivery.NewSender(delivery.Options{Store: r.st, Client: r.client, Limits: delivery.DefaultLimits})
		r.start(t)
		r.enqueue(t, text(chat, "reply"))
		r.waitDelivered(t, time.Minute)
		for _, rec := range r.emu.SendLog() {
			if took := rec.At.Sub(start); took < 30*time.Second {
				t.Errorf("a message went to the chat %v after a 429 with retry_after 30", took)
			}
		}
		if got := r.texts(chat); len(got) != 2 {
			t.Errorf("chat got %v, want both messages", got)
		}
	})
}

func TestEstimate(t *testing.T) {
	tests := []struct {
		n, queued int
		want      time.Duration
	}{
		{0, 0, 0},
		{1, 0, 0},
		{31, 0, 1002 * time.Millisecond},
		{10000, 0, 9999 * 33400 * time.Microsecond},
		{1, 300, 300 * 33400 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := delivery.Estimate(delivery.DefaultLimits, tt.n, tt.queued); got != tt.want {
			t.Errorf("Estimate(%d after %d) = %v, want %v", tt.n, tt.queued, got, tt.want)
		}
	}
	if got := delivery.Estimate(delivery.Limits{}, 1000, 0); got != 0 {
		t.Errorf("Estimate without limits = %v, want 0", got)
	}
}
