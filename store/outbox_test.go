package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The person erased while a reply naming them is being sent, and the name
// the reply's text gives them.
const (
	erasedID   int64 = 7_340_021_117
	erasedName       = "Nguyễn Văn Tèo"
)

// enqueueReply queues, in a group, the reply to a group-link request by
// the person about to be erased, and returns the row as the sender read
// it before the erasure.
func enqueueReply(t *testing.T, s *Store, group int64) OutboxRow {
	t.Helper()
	var row OutboxRow
	err := s.Update(ctx, func(tx *Tx) error {
		id, err := tx.Enqueue(OutboxRow{
			ChatID: group, Priority: PriorityInteractive,
			Origin: fmt.Sprintf("link:7:%d:15", erasedID), Created: time.Now(),
			Action: Action{Kind: ActSend, Text: erasedName + " đã liên kết nhóm với Chi hội thôn 3.", ReplyTo: 15},
		})
		if err != nil {
			return err
		}
		row, err = tx.OutboxRow(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// erase runs the erasure of the person, which rewrites the reply row
// in place (origin "erased", name scrubbed) without deleting it.
func erase(t *testing.T, s *Store, at time.Time) {
	t.Helper()
	err := s.Update(ctx, func(tx *Tx) error {
		_, err := tx.ErasePerson(erasedID, []string{erasedName}, nil, func(n uint64) string { return fmt.Sprintf("Người dùng #%d (đã xóa dữ liệu)", n) }, at)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// traces returns where the store still holds the erased person's id or
// name, in any bucket's keys or values.
func traces(t *testing.T, s *Store) []string {
	t.Helper()
	needles := [][]byte{
		[]byte(strconv.FormatInt(erasedID, 10)),
		binary.BigEndian.AppendUint64(nil, uint64(erasedID)),
		[]byte(erasedName),
	}
	var hits []string
	err := s.Walk(func(path []string, k, v []byte) error {
		for _, n := range needles {
			if bytes.Contains(k, n) || bytes.Contains(v, n) {
				hits = append(hits, fmt.Sprintf("%v key %q value %q", path, k, v))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// Settling a row with the copy read before an erasure records the row as
// the erasure left it: the person's id reaches neither the delivery
// record nor the origin index.
func TestSettlingAfterErasureRecordsTheStoredRow(t *testing.T) {
	settle := map[string]func(tx *Tx, stale OutboxRow, at time.Time) error{
		"ack": func(tx *Tx, stale OutboxRow, at time.Time) error { return tx.AckOutbox(stale, 88, at) },
		"fail": func(tx *Tx, stale OutboxRow, at time.Time) error {
			return tx.FailOutbox(stale, DeliveryFailed, "Bad Request: message is too long", at, true)
		},
	}
	for name, fn := range settle {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			at := time.Now()
			stale := enqueueReply(t, s, -100_777)
			erase(t, s, at)
			if err := s.Update(ctx, func(tx *Tx) error { return fn(tx, stale, at) }); err != nil {
				t.Fatal(err)
			}
			if hits := traces(t, s); len(hits) != 0 {
				t.Errorf("the erased person is still in the store:\n%v", hits)
			}
			s.View(ctx, func(tx *Tx) error {
				d, err := tx.Delivery(stale.ID)
				if err != nil || d.Origin != "erased" || d.ChatID != -100_777 || d.Kind != ActSend {
					t.Errorf("delivery %+v (%v), want origin \"erased\" in chat -100777", d, err)
				}
				if n := tx.OutboxLen(); n != 0 {
					t.Errorf("outbox has %d rows, want 0", n)
				}
				return nil
			})
		})
	}
}

// A row that leaves no record (Forget), settled with a copy read before
// its group became a supergroup, takes its index key with it.
func TestForgetRowLeavesNoIndexKeyAfterMigration(t *testing.T) {
	s := open(t)
	at := time.Now()
	var stale OutboxRow
	err := s.Update(ctx, func(tx *Tx) error {
		id, err := tx.Enqueue(OutboxRow{ChatID: -10, Action: Action{Kind: ActDelete, MessageID: 3}, Forget: true})
		if err != nil {
			return err
		}
		stale, err = tx.OutboxRow(id)
		if err != nil {
			return err
		}
		_, err = tx.MigrateChat(-10, -10010, at)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.AckOutbox(stale, 0, at) }); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		if ids := tx.chatRows(-10010); len(ids) != 0 {
			t.Errorf("chat index still lists rows %v for the supergroup, want none", ids)
		}
		if _, err := tx.Delivery(stale.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("delivery of a Forget row: got %v, want ErrNotFound", err)
		}
		return nil
	})
}

// A retry scheduled with the copy read before an erasure keeps what the
// erasure did to the row, and saves only the retry state.
func TestRescheduleKeepsTheErasure(t *testing.T) {
	s := open(t)
	at := time.Now()
	stale := enqueueReply(t, s, -100_777)
	erase(t, s, at)
	stale.Attempts, stale.LastError, stale.NotBefore = 1, "Internal Server Error", at.Add(time.Minute)
	if err := s.Update(ctx, func(tx *Tx) error { return tx.RescheduleOutbox(stale) }); err != nil {
		t.Fatal(err)
	}
	if hits := traces(t, s); len(hits) != 0 {
		t.Errorf("the erased person is back in the store:\n%v", hits)
	}
	s.View(ctx, func(tx *Tx) error {
		r, err := tx.OutboxRow(stale.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Origin != "erased" || r.Action.Text == stale.Action.Text {
			t.Errorf("row %+v: want the erasure's origin and text kept", r)
		}
		if r.Attempts != 1 || r.LastError != "Internal Server Error" || !r.NotBefore.Equal(stale.NotBefore) {
			t.Errorf("row %+v: want attempts 1, the error and NotBefore saved", r)
		}
		return nil
	})
}

// A retry scheduled with a copy read before a migration keeps the row in
// the supergroup.
func TestRescheduleKeepsTheMigration(t *testing.T) {
	s := open(t)
	at := time.Now()
	var stale OutboxRow
	s.Update(ctx, func(tx *Tx) error {
		id, _ := tx.Enqueue(OutboxRow{ChatID: -10, Action: Action{Kind: ActSend, Text: "a"}})
		stale, _ = tx.OutboxRow(id)
		_, err := tx.MigrateChat(-10, -10010, at)
		return err
	})
	stale.Attempts = 2
	if err := s.Update(ctx, func(tx *Tx) error { return tx.RescheduleOutbox(stale) }); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		r, _ := tx.OutboxRow(stale.ID)
		if r.ChatID != -10010 || r.Attempts != 2 {
			t.Errorf("row %+v: want chat -10010, attempts 2", r)
		}
		return nil
	})
}

// breakRow overwrites a stored outbox row with a value that does not
// decode as a row, as a bug or a damaged page could leave it.
func breakRow(t *testing.T, s *Store, rowID uint64, value string) {
	t.Helper()
	err := s.db.Update(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketOutbox).Put(u64(rowID), []byte(value))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func rowIDs(rows []OutboxRow) []uint64 {
	var ids []uint64
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

// A row that does not decode is set apart from the rows around it, and
// settled as failed in its chat, with its index key gone.
func TestBrokenOutboxRowIsSkippedAndSettled(t *testing.T) {
	s := open(t)
	at := time.Now()
	var settled []string
	s.OnSettled(func(status string) { settled = append(settled, status) })
	s.Update(ctx, func(tx *Tx) error {
		tx.Enqueue(OutboxRow{ChatID: 1, Action: Action{Kind: ActSend, Text: "a"}})
		tx.Enqueue(OutboxRow{ChatID: -20, Origin: "update:2", Action: Action{Kind: ActSend, Text: "b"}})
		tx.Enqueue(OutboxRow{ChatID: 1, Action: Action{Kind: ActSend, Text: "c"}})
		return nil
	})
	breakRow(t, s, 2, "{not json")
	s.View(ctx, func(tx *Tx) error {
		rows, err := tx.PendingOutbox(0, 10)
		if err != nil || !slices.Equal(rowIDs(rows), []uint64{1, 3}) {
			t.Errorf("PendingOutbox: got %v (%v), want rows [1 3]", rowIDs(rows), err)
		}
		p := tx.PendingOutboxPage(0, 2)
		if !slices.Equal(rowIDs(p.Rows), []uint64{1}) || !slices.Equal(p.Broken, []uint64{2}) || p.Last != 2 || !p.More {
			t.Errorf("first page %+v, want row 1, broken 2, last 2, more", p)
		}
		p = tx.PendingOutboxPage(p.Last, 2)
		if !slices.Equal(rowIDs(p.Rows), []uint64{3}) || len(p.Broken) != 0 || p.Last != 3 || p.More {
			t.Errorf("second page %+v, want row 3, last 3, no more", p)
		}
		if _, err := tx.OutboxRow(2); !errors.Is(err, ErrBrokenRow) {
			t.Errorf("OutboxRow(2): got %v, want ErrBrokenRow", err)
		}
		return nil
	})
	if err := s.Update(ctx, func(tx *Tx) error { return tx.FailBrokenOutbox(2, at) }); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		d, err := tx.Delivery(2)
		if err != nil || d.Status != DeliveryFailed || d.ChatID != -20 || d.Reason != brokenReason {
			t.Errorf("delivery %+v (%v), want failed in chat -20 for not decoding", d, err)
		}
		if ids := tx.chatRows(-20); len(ids) != 0 {
			t.Errorf("chat index still lists %v", ids)
		}
		if n := tx.OutboxLen(); n != 2 {
			t.Errorf("outbox has %d rows, want 2", n)
		}
		return nil
	})
	if !slices.Equal(settled, []string{DeliveryFailed}) {
		t.Errorf("settled %v, want [failed]", settled)
	}
}

// A broken row in a chat that turns unreachable is dropped with the rest.
func TestBrokenRowDoesNotStopDroppingItsChat(t *testing.T) {
	s := open(t)
	at := time.Now()
	s.Update(ctx, func(tx *Tx) error {
		tx.Enqueue(OutboxRow{ChatID: 1, Action: Action{Kind: ActSend, Text: "a"}})
		tx.Enqueue(OutboxRow{ChatID: 1, Action: Action{Kind: ActSend, Text: "b"}})
		return nil
	})
	breakRow(t, s, 1, `{"chat_id":"one"}`)
	var dropped []uint64
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		dropped, err = tx.MarkUnreachable(1, "Forbidden: bot was blocked by the user", at)
		return err
	})
	if err != nil || !slices.Equal(dropped, []uint64{1, 2}) {
		t.Errorf("MarkUnreachable: dropped %v (%v), want [1 2]", dropped, err)
	}
	s.View(ctx, func(tx *Tx) error {
		if n := tx.OutboxLen(); n != 0 {
			t.Errorf("outbox has %d rows, want 0", n)
		}
		return nil
	})
}

// A row that does not decode stops neither a migration nor an erasure: it
// is settled as failed, and the erasure leaves no record naming the person.
func TestBrokenRowStopsNeitherMigrationNorErasure(t *testing.T) {
	s := open(t)
	at := time.Now()
	const person, group, supergroup = 7001, -30, -1000000000030
	s.Update(ctx, func(tx *Tx) error {
		tx.Enqueue(OutboxRow{ChatID: group, Action: Action{Kind: ActSend, Text: "a"}})
		tx.Enqueue(OutboxRow{ChatID: group, Action: Action{Kind: ActSend, Text: "b"}})
		tx.Enqueue(OutboxRow{ChatID: person, Action: Action{Kind: ActSend, Text: "c"}})
		return nil
	})
	breakRow(t, s, 1, "{not json")
	breakRow(t, s, 3, "[1,2")
	err := s.Update(ctx, func(tx *Tx) error {
		n, err := tx.MigrateChat(group, supergroup, at)
		if err != nil || n != 2 {
			t.Errorf("MigrateChat: %d rows, %v", n, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		if r, err := tx.OutboxRow(2); err != nil || r.ChatID != supergroup {
			t.Errorf("row 2 after the migration: %+v, %v", r, err)
		}
		if d, err := tx.Delivery(1); err != nil || d.Status != DeliveryFailed {
			t.Errorf("broken row 1: %+v, %v; want settled as failed", d, err)
		}
		return nil
	})
	err = s.Update(ctx, func(tx *Tx) error {
		_, err := tx.ErasePerson(person, []string{"Nguyễn Văn A"}, nil, func(n uint64) string { return "Người dùng #1 (đã xóa dữ liệu)" }, at)
		return err
	})
	if err != nil {
		t.Fatalf("erasure with a broken row: %v", err)
	}
	s.View(ctx, func(tx *Tx) error {
		if _, err := tx.OutboxRow(3); !errors.Is(err, ErrNotFound) {
			t.Errorf("broken row 3 after the erasure: %v, want gone", err)
		}
		if d, err := tx.Delivery(3); err == nil {
			t.Errorf("a record of the person's broken row is left: %+v", d)
		}
		return nil
	})
}
