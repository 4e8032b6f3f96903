package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Action kinds: what an outbox row asks the messenger to do.
const (
	ActSend       = "send"        // a text message
	ActPhoto      = "photo"       // a photo with an optional caption
	ActDocument   = "document"    // a file with an optional caption
	ActEditText   = "edit_text"   // replace a sent message's text (and keyboard)
	ActEditMarkup = "edit_markup" // replace a sent message's keyboard only
	ActDelete     = "delete"      // delete a sent message
	ActAnswer     = "answer"      // answer a button press (stop the spinner)
	// ActChatMember asks what a person is in a group (creator,
	// administrator, member, …); the answer goes to the store's query hook.
	ActChatMember = "chat_member"
)

// Priorities: the sender serves lower numbers first.
const (
	// PriorityInteractive is a reply to something a person just did.
	PriorityInteractive = 0
	// PriorityBulk is fan-out: reminders, announcements, digests.
	PriorityBulk = 1
)

// Button is one inline-keyboard button: it carries callback data or opens a URL.
type Button struct {
	Text string `json:"text"`
	Data string `json:"data,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Action is an outgoing message or change, in danvan's own terms. The
// messenger adapter translates it; feature code never sees Telegram's types.
type Action struct {
	Kind string `json:"kind"`
	// Text is the message text or caption, HTML unless Plain.
	Text  string `json:"text,omitempty"`
	Plain bool   `json:"plain,omitempty"`
	// Buttons is an inline keyboard, one slice per row.
	Buttons [][]Button `json:"buttons,omitempty"`
	// ReplyTo threads the message under another (0 = none); the message is
	// sent anyway if that one was deleted.
	ReplyTo int `json:"reply_to,omitempty"`
	// ForceReply opens a reply to this message in the person's client.
	ForceReply  bool   `json:"force_reply,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	// A photo or document is sent by FileID, or uploaded from FileData.
	FileID   string `json:"file_id,omitempty"`
	FileName string `json:"file_name,omitempty"`
	FileData []byte `json:"file_data,omitempty"`
	// MessageID is the message an edit or deletion acts on.
	MessageID int `json:"message_id,omitempty"`
	// CallbackID and Alert answer a button press; Text is the notice shown.
	CallbackID string `json:"callback_id,omitempty"`
	Alert      bool   `json:"alert,omitempty"`
	// UserID is the person a query is about.
	UserID         int64 `json:"user_id,omitempty"`
	DisablePreview bool  `json:"disable_preview,omitempty"`
	Silent         bool  `json:"silent,omitempty"`
}

// OutboxRow is a message waiting to be sent. Rows are written in the same
// transaction as the change that caused them and leave the outbox only
// after the messenger accepted them.
type OutboxRow struct {
	ID       uint64 `json:"-"`
	ChatID   int64  `json:"chat_id"`
	Priority int    `json:"priority,omitempty"`
	// Origin says what caused the row ("update:123", later "reminder:…"),
	// so the sent message can be found again to edit it or match replies.
	Origin  string    `json:"origin,omitempty"`
	Action  Action    `json:"action"`
	Created time.Time `json:"created"`
	// NotBefore delays a retry; ExpiresAt drops a row that no longer matters.
	NotBefore time.Time `json:"not_before,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// FanOut is the fan-out the row belongs to (0: none). Its copies
	// leave Action empty: the fan-out holds it once (see Tx.RowAction).
	FanOut uint64 `json:"fan_out,omitempty"`
	// Forget leaves no record once the row is settled: the goodbye to a
	// person whose data was just erased.
	Forget bool `json:"forget,omitempty"`
}

// Delivery outcomes.
const (
	DeliverySent        = "sent"
	DeliveryFailed      = "failed"
	DeliveryExpired     = "expired"
	DeliveryUnreachable = "unreachable"
	// DeliveryRecalled: the copy was withdrawn (an announcement recalled)
	// before it was sent.
	DeliveryRecalled = "recalled"
)

// Delivery records what became of an outbox row.
type Delivery struct {
	OutboxID uint64 `json:"outbox_id"`
	ChatID   int64  `json:"chat_id"`
	Origin   string `json:"origin,omitempty"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	// MessageIDs are the ids the messenger gave the message; more than one
	// when the row was sent again after an unconfirmed attempt.
	MessageIDs []int     `json:"message_ids,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
}

// Enqueue adds a row to the outbox and returns its id. Rows are sent in id
// order within a chat. A row for a group that became a supergroup goes to
// the supergroup; a row for an unreachable chat is not queued at all but
// recorded at once as undeliverable, so it costs the sender nothing.
func (tx *Tx) Enqueue(r OutboxRow) (uint64, error) {
	b := tx.bucket(bucketOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	r.ID = seq
	chat, err := tx.Chat(r.ChatID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return 0, fmt.Errorf("enqueue: %w", err)
	case chat.MigratedTo != 0:
		r.ChatID = chat.MigratedTo
	case chat.Unreachable && r.Action.Kind != ActAnswer:
		return seq, tx.finishOutbox(r, DeliveryUnreachable, 0, chat.Reason, r.Created, false)
	}
	if err := putJSON(b, u64(seq), r); err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	if err := tx.bucket(bucketOutboxChats).Put(chatRowKey(r.ChatID, seq), nil); err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	return seq, nil
}

// chatRowKey is the outbox_chats key: chat id, then row id.
func chatRowKey(chatID int64, rowID uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(chatID))
	binary.BigEndian.PutUint64(k[8:], rowID)
	return k
}

// chatRows returns the ids of the chat's pending rows, in order.
func (tx *Tx) chatRows(chatID int64) []uint64 {
	prefix := id(chatID)
	var ids []uint64
	c := tx.bucket(bucketOutboxChats).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, binary.BigEndian.Uint64(k[8:]))
	}
	return ids
}

// ErrBrokenRow marks an outbox row whose stored value does not decode. It
// can never be sent; FailBrokenOutbox settles it.
var ErrBrokenRow = errors.New("the stored outbox row does not decode")

// brokenReason is the reason recorded for a row that does not decode. It
// names nothing of the row: its text may be anyone's.
const brokenReason = "the stored row does not decode"

// OutboxRow returns the pending row with this id; ErrBrokenRow if its
// stored value does not decode.
func (tx *Tx) OutboxRow(rowID uint64) (OutboxRow, error) {
	v := tx.bucket(bucketOutbox).Get(u64(rowID))
	if v == nil {
		return OutboxRow{}, fmt.Errorf("outbox row %d: %w", rowID, ErrNotFound)
	}
	return decodeRow(rowID, v)
}

func decodeRow(rowID uint64, v []byte) (OutboxRow, error) {
	var r OutboxRow
	if err := json.Unmarshal(v, &r); err != nil {
		return OutboxRow{}, fmt.Errorf("outbox row %d: %w: %w", rowID, ErrBrokenRow, err)
	}
	r.ID = rowID
	return r, nil
}

// OutboxPage is part of the outbox, in id order.
type OutboxPage struct {
	Rows []OutboxRow
	// Broken are the ids of rows that do not decode: they cannot be sent,
	// and FailBrokenOutbox settles them.
	Broken []uint64
	// Last is the highest id read (the after asked for, when none was);
	// More says rows follow that the limit left out.
	Last uint64
	More bool
}

// PendingOutboxPage reads up to limit rows with ids above after, in id
// order, setting apart those that do not decode. A caller walking the
// outbox continues after Last, so a broken row never holds back the rows
// behind it.
func (tx *Tx) PendingOutboxPage(after uint64, limit int) OutboxPage {
	p := OutboxPage{Last: after}
	n := 0
	c := tx.bucket(bucketOutbox).Cursor()
	for k, v := c.Seek(u64(after + 1)); k != nil; k, v = c.Next() {
		if n == limit {
			p.More = true
			break
		}
		n++
		rowID := binary.BigEndian.Uint64(k)
		p.Last = rowID
		r, err := decodeRow(rowID, v)
		if err != nil {
			p.Broken = append(p.Broken, rowID)
			continue
		}
		p.Rows = append(p.Rows, r)
	}
	return p
}

// PendingOutbox returns up to limit pending rows with ids above after, in
// id order. Rows that do not decode are left out (PendingOutboxPage lists
// them), so the error is always nil.
func (tx *Tx) PendingOutbox(after uint64, limit int) ([]OutboxRow, error) {
	var out []OutboxRow
	for len(out) < limit {
		p := tx.PendingOutboxPage(after, limit-len(out))
		out = append(out, p.Rows...)
		if !p.More {
			break
		}
		after = p.Last
	}
	return out, nil
}

// OutboxLen returns the number of pending rows. (It counts them: bbolt's
// bucket statistics miss a write transaction's own changes.)
func (tx *Tx) OutboxLen() int {
	n := 0
	c := tx.bucket(bucketOutbox).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// RescheduleOutbox saves a row's retry state — Attempts, LastError and
// NotBefore — onto the row as stored, and nothing else of the caller's
// copy: while the row was being sent an erasure may have scrubbed its text
// and origin, or a migration moved its chat.
func (tx *Tx) RescheduleOutbox(r OutboxRow) error {
	stored, err := tx.OutboxRow(r.ID)
	if err != nil {
		return fmt.Errorf("reschedule: %w", err)
	}
	stored.Attempts, stored.LastError, stored.NotBefore = r.Attempts, r.LastError, r.NotBefore
	return putJSON(tx.bucket(bucketOutbox), u64(r.ID), stored)
}

// AckOutbox records that the messenger accepted the row as messageID (0 for
// actions without a message, such as deletions) and removes it from the
// outbox. Acknowledging a row again adds the new message id to its delivery,
// so a message sent twice keeps both ids.
func (tx *Tx) AckOutbox(r OutboxRow, messageID int, at time.Time) error {
	return tx.finishOutbox(r, DeliverySent, messageID, "", at, true)
}

// FailOutbox records that the row will not be delivered (status failed,
// expired or unreachable, with a reason free of user content) and removes
// it. attempted says whether a request was made for it this time.
func (tx *Tx) FailOutbox(r OutboxRow, status, reason string, at time.Time, attempted bool) error {
	return tx.finishOutbox(r, status, 0, reason, at, attempted)
}

func (tx *Tx) finishOutbox(r OutboxRow, status string, messageID int, reason string, at time.Time, attempted bool) error {
	r, err := tx.storedRow(r)
	if err != nil {
		return err
	}
	return tx.settleRow(r, status, messageID, reason, at, attempted)
}

// storedRow returns the row as stored, or the caller's copy when there is
// none (the row was settled already, or Enqueue settles it unstored). What
// is recorded of a row follows what is stored, never a copy read earlier:
// an erasure may have rewritten its origin and text, a migration its
// chat, since.
func (tx *Tx) storedRow(r OutboxRow) (OutboxRow, error) {
	stored, err := tx.OutboxRow(r.ID)
	if errors.Is(err, ErrNotFound) {
		return r, nil
	}
	return stored, err
}

// settleRow records what became of the row r, as stored, and removes it
// with its chat index key.
func (tx *Tx) settleRow(r OutboxRow, status string, messageID int, reason string, at time.Time, attempted bool) error {
	if r.Forget {
		if err := tx.bucket(bucketOutboxChats).Delete(chatRowKey(r.ChatID, r.ID)); err != nil {
			return err
		}
		return tx.bucket(bucketOutbox).Delete(u64(r.ID))
	}
	deliveries := tx.bucket(bucketDeliveries)
	var d Delivery
	err := getJSON(deliveries, u64(r.ID), &d)
	switch {
	case errors.Is(err, ErrNotFound):
		d = Delivery{OutboxID: r.ID, ChatID: r.ChatID, Origin: r.Origin, Kind: r.Action.Kind}
	case err != nil:
		return fmt.Errorf("delivery of row %d: %w", r.ID, err)
	}
	first := d.Status == ""
	d.Status, d.Reason, d.At, d.Attempts = status, reason, at, r.Attempts
	if attempted {
		d.Attempts++
	}
	if messageID != 0 {
		d.MessageIDs = append(d.MessageIDs, messageID)
	}
	if err := putJSON(deliveries, u64(r.ID), d); err != nil {
		return fmt.Errorf("delivery of row %d: %w", r.ID, err)
	}
	// The index names the record's origin: a row settled again after it
	// left the outbox must not add one its record does not have.
	if d.Origin != "" {
		if err := tx.bucket(bucketOrigins).Put(originKey(d.Origin, r.ID), nil); err != nil {
			return fmt.Errorf("index delivery of row %d: %w", r.ID, err)
		}
	}
	if r.FanOut != 0 && first {
		if err := tx.tallyFanOut(r, status, at); err != nil {
			return err
		}
	}
	if first && tx.s != nil && tx.s.settled != nil {
		tx.tx.OnCommit(func() { tx.s.settled(status) })
	}
	if err := tx.bucket(bucketOutboxChats).Delete(chatRowKey(r.ChatID, r.ID)); err != nil {
		return err
	}
	return tx.bucket(bucketOutbox).Delete(u64(r.ID))
}

// FailBrokenOutbox settles a row whose stored value does not decode as
// failed, and removes it with its chat index key, so it neither stays in
// the outbox nor holds back the rows behind it. The record takes the chat
// from that index; a fan-out the row belongs to, when its id can still be
// read, counts the copy as failed. A row that is gone or decodes is left
// alone.
func (tx *Tx) FailBrokenOutbox(rowID uint64, at time.Time) error {
	raw := tx.bucket(bucketOutbox).Get(u64(rowID))
	if raw == nil {
		return nil
	}
	if _, err := decodeRow(rowID, raw); err == nil {
		return nil
	}
	// json reads nothing from a value that is not JSON, and skips only
	// the fields of a wrong type: the fan-out id may survive.
	var part struct {
		FanOut uint64 `json:"fan_out"`
	}
	_ = json.Unmarshal(raw, &part)
	r := OutboxRow{ID: rowID, FanOut: part.FanOut}
	var keys [][]byte
	c := tx.bucket(bucketOutboxChats).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) == 16 && binary.BigEndian.Uint64(k[8:]) == rowID {
			keys = append(keys, bytes.Clone(k))
		}
	}
	for _, k := range keys {
		r.ChatID = int64(binary.BigEndian.Uint64(k))
		if err := tx.bucket(bucketOutboxChats).Delete(k); err != nil {
			return err
		}
	}
	return tx.settleRow(r, DeliveryFailed, 0, brokenReason, at, false)
}

// failBrokenRows settles every outbox row that does not decode as failed.
func (tx *Tx) failBrokenRows(at time.Time) error {
	var broken []uint64
	c := tx.bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if _, err := decodeRow(binary.BigEndian.Uint64(k), v); err != nil {
			broken = append(broken, binary.BigEndian.Uint64(k))
		}
	}
	for _, id := range broken {
		if err := tx.FailBrokenOutbox(id, at); err != nil {
			return err
		}
	}
	return nil
}

// DropChatOutbox records every pending row of the chat as undeliverable
// with status and reason, and removes them; it returns their ids.
func (tx *Tx) DropChatOutbox(chatID int64, status, reason string, at time.Time) ([]uint64, error) {
	var dropped []uint64
	for _, rowID := range tx.chatRows(chatID) {
		r, err := tx.OutboxRow(rowID)
		switch {
		case errors.Is(err, ErrNotFound):
			// A stale index key: nothing to settle.
			if err := tx.bucket(bucketOutboxChats).Delete(chatRowKey(chatID, rowID)); err != nil {
				return nil, err
			}
			continue
		case errors.Is(err, ErrBrokenRow):
			if err := tx.FailBrokenOutbox(rowID, at); err != nil {
				return nil, err
			}
			dropped = append(dropped, rowID)
			continue
		case err != nil:
			return nil, err
		}
		if err := tx.finishOutbox(r, status, 0, reason, at, false); err != nil {
			return nil, err
		}
		dropped = append(dropped, rowID)
	}
	return dropped, nil
}

// RowAction returns what the row asks to do: its own action, or its
// fan-out's.
func (tx *Tx) RowAction(r OutboxRow) (Action, error) {
	if r.Action.Kind != "" || r.FanOut == 0 {
		return r.Action, nil
	}
	var a Action
	if err := getJSON(tx.bucket(bucketFanOutActions), u64(r.FanOut), &a); err != nil {
		return a, fmt.Errorf("action of fan-out %d: %w", r.FanOut, err)
	}
	return a, nil
}

// Delivery returns what became of the outbox row with this id.
func (tx *Tx) Delivery(rowID uint64) (Delivery, error) {
	var d Delivery
	if err := getJSON(tx.bucket(bucketDeliveries), u64(rowID), &d); err != nil {
		return d, fmt.Errorf("delivery of row %d: %w", rowID, err)
	}
	return d, nil
}

// DeliveriesByOrigin returns the deliveries of every row with this origin,
// in the order the rows were enqueued.
func (tx *Tx) DeliveriesByOrigin(origin string) ([]Delivery, error) {
	prefix := append([]byte(origin), 0)
	var out []Delivery
	c := tx.bucket(bucketOrigins).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		d, err := tx.Delivery(binary.BigEndian.Uint64(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func originKey(origin string, rowID uint64) []byte {
	k := make([]byte, 0, len(origin)+9)
	k = append(k, origin...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, rowID)
}

// OldestPending returns when the oldest pending row was enqueued (ok false
// when the outbox is empty). Rows get increasing ids, and a row waiting for
// a retry keeps its id, so the first row is the oldest.
func (tx *Tx) OldestPending() (created time.Time, ok bool) {
	_, v := tx.bucket(bucketOutbox).Cursor().First()
	if v == nil {
		return time.Time{}, false
	}
	var r OutboxRow
	if err := json.Unmarshal(v, &r); err != nil {
		return time.Time{}, false
	}
	return r.Created, true
}

// AnswerQuery settles a query row (ActChatMember) with its answer — ""
// when the messenger could not answer — and hands the answer to the
// store's query hook in the same transaction.
func (tx *Tx) AnswerQuery(r OutboxRow, answer string, at time.Time) error {
	status := DeliverySent
	if answer == "" {
		status = DeliveryFailed
	}
	// The hook gets the row as stored too: an origin erased meanwhile
	// must not act for the person it named.
	r, err := tx.storedRow(r)
	if err != nil {
		return err
	}
	if err := tx.settleRow(r, status, 0, "", at, true); err != nil {
		return err
	}
	if tx.s != nil && tx.s.queryAnswered != nil {
		return tx.s.queryAnswered(tx, r, answer)
	}
	return nil
}
