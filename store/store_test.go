package store

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var ctx = context.Background()

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sub", "danvan.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesFileOwnerOnly(t *testing.T) {
	s := open(t)
	info, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode %o, want 600", got)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	s := open(t)
	start := time.Now()
	_, err := Open(s.Path(), Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "danvan.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("Open of a newer schema succeeded")
	}
}

func TestSchemaVersionIsWritten(t *testing.T) {
	s := open(t)
	var v uint64
	s.db.View(func(tx *bolt.Tx) error {
		v = binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchema))
		return nil
	})
	if v != SchemaVersion {
		t.Errorf("schema %d, want %d", v, SchemaVersion)
	}
}

func TestOffsetNeverMovesBack(t *testing.T) {
	s := open(t)
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.SetOffset(10); err != nil {
			return err
		}
		return tx.SetOffset(5)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		if got := tx.Offset(); got != 10 {
			t.Errorf("offset %d, want 10", got)
		}
		return nil
	})
}

func TestFailedUpdateChangesNothing(t *testing.T) {
	s := open(t)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		tx.SetOffset(7)
		tx.Enqueue(OutboxRow{ChatID: 1, Action: Action{Kind: ActSend, Text: "x"}})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	s.View(ctx, func(tx *Tx) error {
		if tx.Offset() != 0 || tx.OutboxLen() != 0 {
			t.Errorf("offset %d, outbox %d after a failed transaction; want 0, 0", tx.Offset(), tx.OutboxLen())
		}
		return nil
	})
}

func TestUpdateRecordsAndJournal(t *testing.T) {
	s := open(t)
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx *Tx) error {
		for _, id := range []int64{100, 101} {
			if err := tx.RecordUpdate(id, UpdateRecord{At: at, Handler: "command:start", Outcome: OutcomeApplied}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		if !tx.UpdateProcessed(100) || tx.UpdateProcessed(102) {
			t.Error("UpdateProcessed wrong")
		}
		var ids []int64
		tx.Journal(func(e JournalEntry) bool { ids = append(ids, e.UpdateID); return true })
		if len(ids) != 2 || ids[0] != 100 || ids[1] != 101 {
			t.Errorf("journal %v, want [100 101]", ids)
		}
		return nil
	})
}

func TestOutboxAckKeepsEveryMessageID(t *testing.T) {
	s := open(t)
	at := time.Now()
	var row OutboxRow
	err := s.Update(ctx, func(tx *Tx) error {
		id, err := tx.Enqueue(OutboxRow{ChatID: -100123, Origin: "update:5", Action: Action{Kind: ActSend, Text: "hi"}})
		if err != nil {
			return err
		}
		row, err = tx.OutboxRow(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The row was sent, the acknowledgement lost, and it was sent again.
	for _, msgID := range []int{41, 42} {
		if err := s.Update(ctx, func(tx *Tx) error { return tx.AckOutbox(row, msgID, at) }); err != nil {
			t.Fatal(err)
		}
	}
	s.View(ctx, func(tx *Tx) error {
		if n := tx.OutboxLen(); n != 0 {
			t.Errorf("outbox has %d rows after ack, want 0", n)
		}
		ds, err := tx.DeliveriesByOrigin("update:5")
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || len(ds[0].MessageIDs) != 2 || ds[0].MessageIDs[0] != 41 || ds[0].MessageIDs[1] != 42 {
			t.Errorf("deliveries %+v, want one with message ids [41 42]", ds)
		}
		if ds[0].ChatID != -100123 || ds[0].Status != DeliverySent {
			t.Errorf("delivery %+v: wrong chat or status", ds[0])
		}
		if other, _ := tx.DeliveriesByOrigin("update:50"); len(other) != 0 {
			t.Errorf("origin prefix leaked: update:50 found %v", other)
		}
		return nil
	})
}

func TestPendingOutboxInOrder(t *testing.T) {
	s := open(t)
	s.Update(ctx, func(tx *Tx) error {
		for i := range 5 {
			tx.Enqueue(OutboxRow{ChatID: int64(i), Action: Action{Kind: ActSend, Text: "x"}})
		}
		return nil
	})
	s.View(ctx, func(tx *Tx) error {
		rows, err := tx.PendingOutbox(2, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || rows[0].ID != 3 || rows[2].ID != 5 {
			t.Errorf("rows after 2: %+v, want ids 3..5", rows)
		}
		return nil
	})
}

func TestConversationLifecycle(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	var first, second Conversation
	s.Update(ctx, func(tx *Tx) error {
		var err error
		first, err = tx.StartConversation(Conversation{UserID: 7, ChatID: 7, Name: "language", Expires: now.Add(time.Minute)})
		if err != nil {
			return err
		}
		second, err = tx.StartConversation(Conversation{UserID: 7, ChatID: 7, Name: "language", Expires: now.Add(time.Minute)})
		return err
	})
	if first.ID == second.ID {
		t.Fatalf("two conversations share id %d", first.ID)
	}
	s.View(ctx, func(tx *Tx) error {
		got, err := tx.Conversation(7)
		if err != nil || got.ID != second.ID {
			t.Errorf("conversation %+v, %v; want the second", got, err)
		}
		if exp, _ := tx.ExpiredConversations(now); len(exp) != 0 {
			t.Errorf("expired before time: %v", exp)
		}
		if exp, _ := tx.ExpiredConversations(now.Add(time.Minute)); len(exp) != 1 {
			t.Errorf("got %d expired at the deadline, want 1", len(exp))
		}
		return nil
	})
	s.Update(ctx, func(tx *Tx) error { return tx.EndConversation(7) })
	s.View(ctx, func(tx *Tx) error {
		if _, err := tx.Conversation(7); !errors.Is(err, ErrNotFound) {
			t.Errorf("after end: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func TestTokenUse(t *testing.T) {
	s := open(t)
	now := time.Now()
	s.Update(ctx, func(tx *Tx) error {
		return tx.PutToken(Token{Code: "abc", UserID: 1, Handler: "language", Expires: now.Add(time.Hour)})
	})
	s.Update(ctx, func(tx *Tx) error { return tx.UseToken("abc", now) })
	s.View(ctx, func(tx *Tx) error {
		tok, err := tx.Token("abc")
		if err != nil || tok.Used.IsZero() {
			t.Errorf("token %+v, %v: want used", tok, err)
		}
		if _, err := tx.Token("nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown token: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func TestSeeUserWritesOnlyOnChange(t *testing.T) {
	s := open(t)
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	s.Update(ctx, func(tx *Tx) error {
		_, err := tx.SeeUser(User{ID: 9, FirstName: "Hoa"}, at)
		return err
	})
	s.Update(ctx, func(tx *Tx) error {
		u, _ := tx.User(9)
		u.Language = "en"
		return tx.PutUser(u)
	})
	s.Update(ctx, func(tx *Tx) error {
		u, err := tx.SeeUser(User{ID: 9, FirstName: "Hoa", Username: "hoa_nt"}, at.Add(time.Second))
		if u.Language != "en" || u.Username != "hoa_nt" || !u.FirstSeen.Equal(at) {
			t.Errorf("SeeUser lost data: %+v", u)
		}
		return err
	})
}

func TestValuesAreCopies(t *testing.T) {
	s := open(t)
	s.Update(ctx, func(tx *Tx) error { return tx.PutUser(User{ID: 1, FirstName: "Lan"}) })
	var u User
	s.View(ctx, func(tx *Tx) error { u, _ = tx.User(1); return nil })
	// Writing more data remaps the file; a value pointing into the old
	// mapping would now be garbage or fault.
	s.Update(ctx, func(tx *Tx) error {
		for i := range 2000 {
			tx.PutUser(User{ID: int64(i + 10), FirstName: "x"})
		}
		return nil
	})
	if u.FirstName != "Lan" {
		t.Errorf("value changed after its transaction: %q", u.FirstName)
	}
}

func TestContextCancelledRefusesWork(t *testing.T) {
	s := open(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := s.Update(c, func(*Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Update with a cancelled context: err %v, ran %v", err, ran)
	}
}
