package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// FanOut is one message sent to many chats (an announcement, a reminder to
// every unit head), with a running tally of what became of each copy. When
// the last copy is settled, the store's fan-out hook is called in that
// transaction, so the originator can be told.
type FanOut struct {
	ID     uint64 `json:"id"`
	Origin string `json:"origin,omitempty"`
	// Kind names the feature, which decides how the report reads.
	Kind string `json:"kind,omitempty"`
	// Title says in the report what was sent ("Ủy ban MTTQ xã …: Họp …").
	Title string `json:"title,omitempty"`
	// ReportTo is the chat told when the fan-out finishes (0: nobody).
	ReportTo    int64 `json:"report_to,omitempty"`
	Total       int   `json:"total"`
	Sent        int   `json:"sent"`
	Failed      int   `json:"failed"`
	Unreachable int   `json:"unreachable"`
	Expired     int   `json:"expired"`
	Recalled    int   `json:"recalled,omitempty"`
	// Unreachable chats are listed by FanOutMisses, so the report can
	// name the people to phone.
	Created  time.Time `json:"created"`
	Finished time.Time `json:"finished,omitzero"`
}

// Settled is how many copies have an outcome.
func (f FanOut) Settled() int { return f.Sent + f.Failed + f.Unreachable + f.Expired + f.Recalled }

// Done reports whether every copy has an outcome.
func (f FanOut) Done() bool { return f.Settled() >= f.Total }

// FanOutSpec describes a fan-out to start: one Action to Chats, or, when
// Copies is set, a different action for each copy (deleting sent copies
// takes each one's message id).
type FanOutSpec struct {
	Origin    string
	Kind      string
	Title     string
	ReportTo  int64
	Chats     []int64
	Action    Action
	Copies    []Copy
	Priority  int
	ExpiresAt time.Time
}

// Copy is one copy of a fan-out with its own action.
type Copy struct {
	ChatID int64
	Action Action
}

// OnFanOutDone sets the function called, inside the settling transaction,
// when a fan-out's last copy has an outcome. Set it once, before use.
func (s *Store) OnFanOutDone(fn func(tx *Tx, f FanOut) error) { s.fanOutDone = fn }

// StartFanOut enqueues one copy of the action per distinct chat (a chat
// named twice, or a group named by its old and new id, gets one copy) in
// this transaction and returns the fan-out. The action is stored once.
// Copies for unreachable chats are settled at once; a fan-out whose copies
// are all settled already calls the hook before StartFanOut returns.
func (tx *Tx) StartFanOut(spec FanOutSpec, at time.Time) (FanOut, error) {
	b := tx.bucket(bucketFanOuts)
	seq, err := b.NextSequence()
	if err != nil {
		return FanOut{}, fmt.Errorf("start fan-out: %w", err)
	}
	if len(spec.Copies) > 0 {
		return tx.startCopies(spec, seq, at)
	}
	seen := make(map[int64]bool, len(spec.Chats))
	chats := make([]int64, 0, len(spec.Chats))
	for _, c := range spec.Chats {
		if chat, err := tx.Chat(c); err == nil && chat.MigratedTo != 0 {
			c = chat.MigratedTo
		}
		if !seen[c] {
			seen[c] = true
			chats = append(chats, c)
		}
	}
	f := FanOut{ID: seq, Origin: spec.Origin, Kind: spec.Kind, Title: spec.Title, ReportTo: spec.ReportTo, Total: len(chats), Created: at}
	if err := putJSON(b, u64(seq), f); err != nil {
		return FanOut{}, fmt.Errorf("start fan-out: %w", err)
	}
	if err := putJSON(tx.bucket(bucketFanOutActions), u64(seq), spec.Action); err != nil {
		return FanOut{}, fmt.Errorf("start fan-out: %w", err)
	}
	for _, c := range chats {
		if _, err := tx.Enqueue(OutboxRow{
			ChatID: c, Priority: spec.Priority, Origin: spec.Origin,
			Created: at, ExpiresAt: spec.ExpiresAt, FanOut: seq,
		}); err != nil {
			return FanOut{}, err
		}
	}
	if len(chats) == 0 {
		if err := tx.finishFanOut(&f, at); err != nil {
			return FanOut{}, err
		}
	}
	return tx.FanOut(seq)
}

// startCopies enqueues a fan-out whose copies each have their own action.
func (tx *Tx) startCopies(spec FanOutSpec, seq uint64, at time.Time) (FanOut, error) {
	f := FanOut{ID: seq, Origin: spec.Origin, Kind: spec.Kind, Title: spec.Title, ReportTo: spec.ReportTo, Total: len(spec.Copies), Created: at}
	if err := putJSON(tx.bucket(bucketFanOuts), u64(seq), f); err != nil {
		return FanOut{}, fmt.Errorf("start fan-out: %w", err)
	}
	if len(spec.Copies) == 0 {
		if err := tx.finishFanOut(&f, at); err != nil {
			return FanOut{}, err
		}
	}
	for _, c := range spec.Copies {
		if _, err := tx.Enqueue(OutboxRow{
			ChatID: c.ChatID, Priority: spec.Priority, Origin: spec.Origin, Action: c.Action,
			Created: at, ExpiresAt: spec.ExpiresAt, FanOut: seq,
		}); err != nil {
			return FanOut{}, err
		}
	}
	return tx.FanOut(seq)
}

// CancelFanOut drops the fan-out's copies not sent yet, recording them as
// recalled with reason; it returns how many.
func (tx *Tx) CancelFanOut(fanOutID uint64, reason string, at time.Time) (int, error) {
	var pending []OutboxRow
	c := tx.bucket(bucketOutbox).Cursor()
	needle := []byte(fmt.Sprintf(`"fan_out":%d`, fanOutID))
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !bytes.Contains(v, needle) {
			continue
		}
		var r OutboxRow
		if json.Unmarshal(v, &r) != nil {
			continue // broken: the sender settles it (FailBrokenOutbox)
		}
		if r.FanOut == fanOutID {
			r.ID = binary.BigEndian.Uint64(k)
			pending = append(pending, r)
		}
	}
	for _, r := range pending {
		if err := tx.finishOutbox(r, DeliveryRecalled, 0, reason, at, false); err != nil {
			return 0, err
		}
	}
	return len(pending), nil
}

// FanOut returns the fan-out with this id.
func (tx *Tx) FanOut(fanOutID uint64) (FanOut, error) {
	var f FanOut
	if err := getJSON(tx.bucket(bucketFanOuts), u64(fanOutID), &f); err != nil {
		return f, fmt.Errorf("fan-out %d: %w", fanOutID, err)
	}
	return f, nil
}

// tallyFanOut counts a settled copy and finishes the fan-out after the last.
func (tx *Tx) tallyFanOut(r OutboxRow, status string, at time.Time) error {
	f, err := tx.FanOut(r.FanOut)
	if errors.Is(err, ErrNotFound) {
		return nil // pruned
	}
	if err != nil {
		return err
	}
	switch status {
	case DeliverySent:
		f.Sent++
	case DeliveryUnreachable:
		f.Unreachable++
		if err := tx.bucket(bucketFanOutMisses).Put(missKey(f.ID, r.ChatID), nil); err != nil {
			return err
		}
	case DeliveryExpired:
		f.Expired++
	case DeliveryRecalled:
		f.Recalled++
	default:
		f.Failed++
	}
	if f.Done() && f.Finished.IsZero() {
		return tx.finishFanOut(&f, at)
	}
	return putJSON(tx.bucket(bucketFanOuts), u64(f.ID), f)
}

func (tx *Tx) finishFanOut(f *FanOut, at time.Time) error {
	f.Finished = at
	if err := putJSON(tx.bucket(bucketFanOuts), u64(f.ID), *f); err != nil {
		return err
	}
	if tx.s != nil && tx.s.fanOutDone != nil {
		return tx.s.fanOutDone(tx, *f)
	}
	return nil
}

// FanOutMisses returns the chats the fan-out could not reach, at most
// limit of them, in key order: chat ids compared as unsigned bits, so
// people (positive ids) come first, then groups (negative ids), each in
// ascending order.
func (tx *Tx) FanOutMisses(fanOutID uint64, limit int) []int64 {
	prefix := u64(fanOutID)
	var out []int64
	c := tx.bucket(bucketFanOutMisses).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
		out = append(out, int64(binary.BigEndian.Uint64(k[8:])))
	}
	return out
}

// missKey is the fanout_misses key: fan-out id, then chat id.
func missKey(fanOutID uint64, chatID int64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, fanOutID)
	binary.BigEndian.PutUint64(k[8:], uint64(chatID))
	return k
}
