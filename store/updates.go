package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Outcomes of applying an update.
const (
	OutcomeApplied     = "applied"     // a handler ran and its effects committed
	OutcomeFailed      = "failed"      // the handler failed or panicked; skipped with an apology
	OutcomeUndecodable = "undecodable" // the update could not be decoded; skipped
)

// UpdateRecord marks an update as processed, so it is never applied twice.
type UpdateRecord struct {
	At      time.Time `json:"at"`
	Handler string    `json:"handler,omitempty"`
	Outcome string    `json:"outcome"`
	// Reason says why a failed update was skipped; it never holds user content.
	Reason string `json:"reason,omitempty"`
}

// JournalEntry is appended once for every processed update: a durable
// trace of what the bot did with it, free of personal data.
type JournalEntry struct {
	Seq      uint64    `json:"-"`
	UpdateID int64     `json:"update_id"`
	At       time.Time `json:"at"`
	Handler  string    `json:"handler,omitempty"`
	Outcome  string    `json:"outcome"`
}

// UpdateProcessed reports whether the update with this id was already
// processed (applied or skipped).
func (tx *Tx) UpdateProcessed(updateID int64) bool {
	return tx.bucket(bucketUpdates).Get(u64(uint64(updateID))) != nil
}

// RecordUpdate marks the update as processed and appends it to the journal.
func (tx *Tx) RecordUpdate(updateID int64, r UpdateRecord) error {
	if err := putJSON(tx.bucket(bucketUpdates), u64(uint64(updateID)), r); err != nil {
		return fmt.Errorf("record update %d: %w", updateID, err)
	}
	j := tx.bucket(bucketJournal)
	seq, err := j.NextSequence()
	if err != nil {
		return fmt.Errorf("journal update %d: %w", updateID, err)
	}
	e := JournalEntry{UpdateID: updateID, At: r.At, Handler: r.Handler, Outcome: r.Outcome}
	if err := putJSON(j, u64(seq), e); err != nil {
		return fmt.Errorf("journal update %d: %w", updateID, err)
	}
	return nil
}

// UpdateRecordOf returns the record of a processed update.
func (tx *Tx) UpdateRecordOf(updateID int64) (UpdateRecord, error) {
	var r UpdateRecord
	if err := getJSON(tx.bucket(bucketUpdates), u64(uint64(updateID)), &r); err != nil {
		return r, fmt.Errorf("update %d: %w", updateID, err)
	}
	return r, nil
}

// Journal calls fn for every journal entry in order until fn returns false.
func (tx *Tx) Journal(fn func(JournalEntry) bool) error {
	c := tx.bucket(bucketJournal).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var e JournalEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("journal entry: %w", err)
		}
		e.Seq = binary.BigEndian.Uint64(k)
		if !fn(e) {
			return nil
		}
	}
	return nil
}
