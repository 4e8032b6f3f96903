package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestFanOutTallyAndHook(t *testing.T) {
	s := open(t)
	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	var done []FanOut
	s.OnFanOutDone(func(tx *Tx, f FanOut) error { done = append(done, f); return nil })
	var f FanOut
	err := s.Update(ctx, func(tx *Tx) error {
		if _, err := tx.MarkUnreachable(4, "Forbidden: bot was blocked by the user", at); err != nil {
			return err
		}
		var err error
		f, err = tx.StartFanOut(FanOutSpec{
			Origin: "announcement:1", Kind: "announcement", ReportTo: 99,
			Chats:  []int64{1, 2, 2, 3, 4, 1}, // duplicates and an unreachable chat
			Action: Action{Kind: ActSend, Text: "Họp"}, Priority: PriorityBulk,
		}, at)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.Total != 4 || f.Unreachable != 1 || f.Done() {
		t.Fatalf("fan-out %+v: want 4 distinct chats, one unreachable at once, not done", f)
	}
	var rows []OutboxRow
	s.View(ctx, func(tx *Tx) error { rows, _ = tx.PendingOutbox(0, 100); return nil })
	if len(rows) != 3 {
		t.Fatalf("%d rows queued, want 3 (chat 4 is unreachable)", len(rows))
	}
	s.Update(ctx, func(tx *Tx) error {
		if err := tx.AckOutbox(rows[0], 10, at); err != nil {
			return err
		}
		return tx.FailOutbox(rows[1], DeliveryExpired, "late", at, false)
	})
	if len(done) != 0 {
		t.Fatalf("hook called before the last copy: %+v", done)
	}
	// Acknowledging a settled row again (a second message id) counts once.
	s.Update(ctx, func(tx *Tx) error { return tx.AckOutbox(rows[0], 11, at) })
	s.Update(ctx, func(tx *Tx) error {
		return tx.FailOutbox(rows[2], DeliveryFailed, "Bad Request: message is too long", at, true)
	})
	if len(done) != 1 {
		t.Fatalf("hook called %d times, want once", len(done))
	}
	got := done[0]
	if got.Sent != 1 || got.Expired != 1 || got.Failed != 1 || got.Unreachable != 1 || got.Finished.IsZero() || got.ReportTo != 99 {
		t.Errorf("finished fan-out %+v", got)
	}
	s.View(ctx, func(tx *Tx) error {
		if misses := tx.FanOutMisses(f.ID, 10); len(misses) != 1 || misses[0] != 4 {
			t.Errorf("unreachable chats %v, want [4]", misses)
		}
		a, err := tx.RowAction(rows[0])
		if err != nil || a.Text != "Họp" || rows[0].Action.Kind != "" {
			t.Errorf("copy's action %+v (%v), stored once as %+v; want the fan-out's", a, err, rows[0].Action)
		}
		return nil
	})
}

func TestFanOutToNobodyFinishesAtOnce(t *testing.T) {
	s := open(t)
	called := 0
	s.OnFanOutDone(func(tx *Tx, f FanOut) error { called++; return nil })
	s.Update(ctx, func(tx *Tx) error {
		_, err := tx.StartFanOut(FanOutSpec{Action: Action{Kind: ActSend, Text: "x"}}, time.Now())
		return err
	})
	if called != 1 {
		t.Errorf("hook called %d times for an empty fan-out, want 1", called)
	}
}

func TestMigrateChatMovesRowsAndFutureRows(t *testing.T) {
	s := open(t)
	at := time.Now()
	s.Update(ctx, func(tx *Tx) error {
		tx.SeeChat(Chat{ID: -10, Kind: ChatGroup, Title: "Chi bộ thôn 1"}, at)
		tx.Enqueue(OutboxRow{ChatID: -10, Action: Action{Kind: ActSend, Text: "a"}})
		tx.Enqueue(OutboxRow{ChatID: 5, Action: Action{Kind: ActSend, Text: "other"}})
		tx.Enqueue(OutboxRow{ChatID: -10, Action: Action{Kind: ActSend, Text: "b"}})
		n, err := tx.MigrateChat(-10, -10010, at)
		if n != 2 {
			t.Errorf("moved %d rows, want 2", n)
		}
		if err != nil {
			return err
		}
		_, err = tx.Enqueue(OutboxRow{ChatID: -10, Action: Action{Kind: ActSend, Text: "c"}})
		return err
	})
	s.View(ctx, func(tx *Tx) error {
		rows, _ := tx.PendingOutbox(0, 100)
		var moved []string
		for _, r := range rows {
			if r.ChatID == -10 {
				t.Errorf("row %d still for the old group", r.ID)
			}
			if r.ChatID == -10010 {
				moved = append(moved, r.Action.Text)
			}
		}
		if len(moved) != 3 || moved[0] != "a" || moved[1] != "b" || moved[2] != "c" {
			t.Errorf("supergroup rows %v, want [a b c]", moved)
		}
		if ids := tx.chatRows(-10010); len(ids) != 3 {
			t.Errorf("chat index has %d rows for the supergroup, want 3", len(ids))
		}
		if ids := tx.chatRows(-10); len(ids) != 0 {
			t.Errorf("chat index still has %d rows for the old group", len(ids))
		}
		c, _ := tx.Chat(-10010)
		if c.Kind != ChatSupergroup || c.Title != "Chi bộ thôn 1" {
			t.Errorf("supergroup entry %+v, want the group's title", c)
		}
		return nil
	})
}

func TestUnreachableDropsPendingRowsUntilTheChatWrites(t *testing.T) {
	s := open(t)
	at := time.Now()
	s.Update(ctx, func(tx *Tx) error {
		tx.Enqueue(OutboxRow{ChatID: 7, Action: Action{Kind: ActSend, Text: "a"}})
		tx.Enqueue(OutboxRow{ChatID: 7, Action: Action{Kind: ActSend, Text: "b"}})
		dropped, err := tx.MarkUnreachable(7, "Forbidden: bot was blocked by the user", at)
		if len(dropped) != 2 {
			t.Errorf("dropped %v, want two rows", dropped)
		}
		if n := tx.CountUnreachable(); n != 1 {
			t.Errorf("%d chats counted unreachable, want 1", n)
		}
		if err != nil {
			return err
		}
		id, err := tx.Enqueue(OutboxRow{ChatID: 7, Action: Action{Kind: ActSend, Text: "c"}})
		if d, _ := tx.Delivery(id); d.Status != DeliveryUnreachable || d.Attempts != 0 {
			t.Errorf("row for an unreachable chat: %+v, want settled unreachable without an attempt", d)
		}
		return err
	})
	s.Update(ctx, func(tx *Tx) error {
		if tx.OutboxLen() != 0 {
			t.Errorf("outbox has %d rows for an unreachable chat", tx.OutboxLen())
		}
		if _, err := tx.SeeChat(Chat{ID: 7, Kind: ChatPrivate}, at.Add(time.Hour)); err != nil {
			return err
		}
		if n := tx.CountUnreachable(); n != 0 {
			t.Errorf("%d chats counted unreachable after the person wrote, want 0", n)
		}
		_, err := tx.Enqueue(OutboxRow{ChatID: 7, Action: Action{Kind: ActSend, Text: "d"}})
		if tx.OutboxLen() != 1 {
			t.Errorf("after the person wrote again, outbox has %d rows, want 1", tx.OutboxLen())
		}
		return err
	})
}

func TestSchemaOneIsMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A version-1 store: an outbox without the chat index.
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucketIfNotExists(bucketMeta)
		meta.Put(keySchema, u64(1))
		outbox, _ := tx.CreateBucketIfNotExists(bucketOutbox)
		for i, chat := range []int64{3, -100, 3} {
			v, _ := json.Marshal(OutboxRow{ChatID: chat, Action: Action{Kind: ActSend, Text: "x"}})
			outbox.Put(u64(uint64(i+1)), v)
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(ctx, func(tx *Tx) error {
		if got := tx.chatRows(3); len(got) != 2 || got[0] != 1 || got[1] != 3 {
			t.Errorf("chat 3 rows %v, want [1 3]", got)
		}
		if got := tx.chatRows(-100); len(got) != 1 {
			t.Errorf("chat -100 rows %v, want one", got)
		}
		return nil
	})
}

// A copy that does not decode neither stops a recall nor keeps its
// fan-out from finishing: it counts as failed once settled.
func TestBrokenCopyCountsAsFailed(t *testing.T) {
	s := open(t)
	at := time.Now()
	var done []FanOut
	s.OnFanOutDone(func(tx *Tx, f FanOut) error { done = append(done, f); return nil })
	var f FanOut
	s.Update(ctx, func(tx *Tx) error {
		var err error
		f, err = tx.StartFanOut(FanOutSpec{Origin: "announcement:1", Chats: []int64{1, 2, 3}, Action: Action{Kind: ActSend, Text: "Họp"}}, at)
		return err
	})
	var broken uint64
	s.View(ctx, func(tx *Tx) error {
		rows, _ := tx.PendingOutbox(0, 10)
		broken = rows[1].ID
		return nil
	})
	// Only the chat id is of the wrong type: the fan-out id still reads.
	breakRow(t, s, broken, fmt.Sprintf(`{"chat_id":"two","fan_out":%d}`, f.ID))
	var recalled int
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		recalled, err = tx.CancelFanOut(f.ID, "recalled", at)
		return err
	})
	if err != nil || recalled != 2 {
		t.Fatalf("CancelFanOut: recalled %d (%v), want 2", recalled, err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.FailBrokenOutbox(broken, at) }); err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Recalled != 2 || done[0].Failed != 1 {
		t.Errorf("finished fan-outs %+v, want one with 2 recalled and 1 failed", done)
	}
}

// Misses come in key order: people, then groups, each ascending.
func TestFanOutMissesOrder(t *testing.T) {
	s := open(t)
	at := time.Now()
	chats := []int64{-100200, 7, -5, 3}
	var f FanOut
	s.Update(ctx, func(tx *Tx) error {
		for _, c := range chats {
			if _, err := tx.MarkUnreachable(c, "Forbidden: bot was blocked by the user", at); err != nil {
				return err
			}
		}
		var err error
		f, err = tx.StartFanOut(FanOutSpec{Chats: chats, Action: Action{Kind: ActSend, Text: "x"}}, at)
		return err
	})
	s.View(ctx, func(tx *Tx) error {
		if got, want := tx.FanOutMisses(f.ID, 10), []int64{3, 7, -100200, -5}; !slices.Equal(got, want) {
			t.Errorf("misses %v, want %v", got, want)
		}
		return nil
	})
}
