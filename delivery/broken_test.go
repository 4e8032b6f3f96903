package delivery_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"danvan/clock"
	"danvan/delivery"
	"danvan/store"
)

// brokenValue does not decode as an outbox row (its chat id is text), yet
// holds a message, which must not reach the log.
const brokenValue = `{"chat_id":"bob","action":{"kind":"send","text":"secret"}}`

// logBuffer collects a sender's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logTo gives the rig a new sender, not started, that logs to a buffer.
func (r *rig) logTo() *logBuffer {
	logs := &logBuffer{}
	r.sender = delivery.NewSender(delivery.Options{
		Store: r.st, Client: r.client, Clock: clock.Real{}, Log: slog.New(slog.NewTextHandler(logs, nil)),
	})
	return logs
}

// reopenBreaking closes the rig's store, overwrites the rows with a value
// that does not decode, as a bug or a damaged page could leave them, and
// reopens the store under the sender.
func (r *rig) reopenBreaking(t *testing.T, ids ...uint64) {
	t.Helper()
	path := r.st.Path()
	if err := r.st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		for _, id := range ids {
			if err := btx.Bucket([]byte("outbox")).Put(binary.BigEndian.AppendUint64(nil, id), []byte(brokenValue)); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st = st
	r.sender.UseStoreForTest(st)
}

// checkBroken checks that the row was recorded as failed in chatID, never
// sent, and logged once by id without its content.
func (r *rig) checkBroken(t *testing.T, logs *logBuffer, id uint64, chatID int64) {
	t.Helper()
	if _, ok := r.pending(t, id); ok {
		t.Errorf("row %d: still in the outbox, want it removed", id)
	}
	if d, ok := r.delivery(t, id); !ok || d.Status != store.DeliveryFailed || d.ChatID != chatID || d.Attempts != 0 {
		t.Errorf("row %d: got %+v, want failed in chat %d without an attempt", id, d, chatID)
	}
	out := logs.String()
	if n := strings.Count(out, "does not decode"); n != 1 || strings.Count(out, "level=ERROR") != 1 {
		t.Errorf("log:\n%s\nwant the broken row logged once, and no other error", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("log:\n%s\nwant no content of the row", out)
	}
}

// A row that does not decode is passed over when the outbox is loaded:
// the rows after it, and those committed later, are sent.
func TestBrokenRowDoesNotStopLoading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a, b := r.emu.Private(alice), r.emu.Private(bob)
		logs := r.logTo()
		ids := r.enqueue(t, text(a.ID, "a1"), text(b.ID, "b1"), text(a.ID, "a2"), text(b.ID, "b2"))
		r.reopenBreaking(t, ids[1])
		r.start(t)
		synctest.Wait()
		r.checkSent(t, ids[0], a.ID, "a1")
		r.checkSent(t, ids[2], a.ID, "a2")
		r.checkSent(t, ids[3], b.ID, "b2")
		r.checkBroken(t, logs, ids[1], b.ID)
		later := r.enqueue(t, text(b.ID, "b3"))
		synctest.Wait()
		r.checkSent(t, later[0], b.ID, "b3")
		if got := r.texts(b.ID); !equal(got, []string{"b2", "b3"}) {
			t.Errorf("bob: got %v, want [b2 b3]", got)
		}
		if n := r.outboxLen(t); n != 0 {
			t.Errorf("outbox: got %d rows, want 0", n)
		}
	})
}

// A row that breaks after it was loaded is recorded as failed when its
// turn comes, and the chat's later rows follow.
func TestRowBrokenAfterLoadingIsSettled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		a := r.emu.Private(alice)
		logs := r.logTo()
		ids := r.enqueue(t, text(a.ID, "a1"), text(a.ID, "a2"), text(a.ID, "a3"))
		if err := r.sender.LoadForTest(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.reopenBreaking(t, ids[1])
		r.start(t)
		time.Sleep(time.Minute)
		synctest.Wait()
		r.checkSent(t, ids[0], a.ID, "a1")
		r.checkSent(t, ids[2], a.ID, "a3")
		r.checkBroken(t, logs, ids[1], a.ID)
		if got := r.texts(a.ID); !equal(got, []string{"a1", "a3"}) {
			t.Errorf("alice: got %v, want [a1 a3]", got)
		}
	})
}
