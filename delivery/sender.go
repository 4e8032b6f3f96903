// Package delivery sends the outbox. Handlers and scheduled jobs write
// outbox rows in their transactions; the Sender, woken by those commits,
// sends each row through the messenger adapter and removes it only after
// the messenger accepted it, recording the message id against the row's
// origin. A row is therefore delivered at least once, even across crashes.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"danvan/clock"
	"danvan/store"
)

// Kind classifies a failed send by what the sender should do about it.
type Kind int

// Kinds of failure.
const (
	// Temporary failures (5xx, timeouts, connection errors, answers that
	// are not JSON) are retried with backoff.
	Temporary Kind = iota + 1
	// RateLimited (429) is retried after RetryAfter, never sooner.
	RateLimited
	// Unreachable chats (blocked, kicked, deactivated, not found) get
	// nothing more until they write again.
	Unreachable
	// Migrated groups became supergroups; resend to MigrateTo.
	Migrated
	// Rejected rows (other 400s) are recorded as failed and skipped.
	Rejected
)

func (k Kind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case RateLimited:
		return "rate_limited"
	case Unreachable:
		return "unreachable"
	case Migrated:
		return "migrated"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Error is a failed send, classified by the messenger adapter. Its text
// never contains the bot token.
type Error struct {
	Kind Kind
	// Status is the HTTP status (0 when no answer came); Code the API's
	// error_code; Description its description.
	Status      int
	Code        int
	Description string
	RetryAfter  time.Duration
	MigrateTo   int64
	Err         error
}

func (e *Error) Error() string {
	switch {
	case e.Description != "":
		return fmt.Sprintf("%s (%d): %s", e.Kind, e.Code, e.Description)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Kind, e.Err)
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Classify returns err's kind; errors the adapter did not classify count as
// temporary.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Temporary, Err: err}
}

// Client performs one action in one chat and returns the id of the message
// it created or changed (0 when there is none).
type Client interface {
	Do(ctx context.Context, chatID int64, a store.Action) (messageID int, err error)
}

// Sender sends outbox rows in order.
type Sender struct {
	store  *store.Store
	client Client
	clock  clock.Clock
	log    *slog.Logger
	wake   chan struct{}
	// Grace lets a send in flight at shutdown finish, so a message that
	// Telegram accepted is acknowledged instead of sent again next start.
	Grace time.Duration
}

// NewSender returns a sender; start it with Run.
func NewSender(st *store.Store, client Client, clk clock.Clock, log *slog.Logger) *Sender {
	return &Sender{store: st, client: client, clock: clk, log: log, wake: make(chan struct{}, 1), Grace: 2 * time.Second}
}

// Wake tells the sender that new rows were committed. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx is cancelled. It owns no goroutines besides itself.
func (s *Sender) Run(ctx context.Context) error {
	// Sends in flight when ctx ends get Grace to finish.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(s.Grace, cancelSends) })
	defer stop()

	for ctx.Err() == nil {
		next, err := s.pass(ctx, sendCtx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("sending the outbox failed", "err", err)
			next = s.clock.Now().Add(5 * time.Second)
		}
		s.wait(ctx, next)
	}
	return nil
}

// wait sleeps until a commit wakes the sender, next arrives (zero: no
// timer) or ctx ends.
func (s *Sender) wait(ctx context.Context, next time.Time) {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := s.clock.NewTimer(next.Sub(s.clock.Now()))
		defer t.Stop()
		timer = t.C()
	}
	select {
	case <-ctx.Done():
	case <-s.wake:
	case <-timer:
	}
}

// pass sends every row that is due, in id order, keeping each chat's rows
// in order. It returns when the next delayed row falls due (zero: none).
func (s *Sender) pass(ctx, sendCtx context.Context) (next time.Time, err error) {
	blocked := make(map[int64]bool)
	var after uint64
	for ctx.Err() == nil {
		var rows []store.OutboxRow
		err := s.store.View(ctx, func(tx *store.Tx) error {
			var err error
			rows, err = tx.PendingOutbox(after, 256)
			return err
		})
		if err != nil || len(rows) == 0 {
			return next, err
		}
		for _, r := range rows {
			after = r.ID
			if blocked[r.ChatID] || ctx.Err() != nil {
				continue
			}
			chatID := r.ChatID
			due, err := s.send(ctx, sendCtx, &r)
			if err != nil {
				return next, err
			}
			if !due.IsZero() {
				// A migrated row now waits in its supergroup: hold both
				// chats, so the supergroup's later rows stay behind it.
				blocked[chatID], blocked[r.ChatID] = true, true
				if next.IsZero() || due.Before(next) {
					next = due
				}
			}
		}
	}
	return next, nil
}

// send delivers one row. A non-zero due time means the row waits for a
// retry and the chat's later rows must wait behind it; r.ChatID is then
// the chat it waits in (a supergroup's, after a migration).
func (s *Sender) send(ctx, sendCtx context.Context, r *store.OutboxRow) (due time.Time, err error) {
	now := s.clock.Now()
	if r.NotBefore.After(now) {
		return r.NotBefore, nil
	}
	if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return time.Time{}, s.finish(ctx, *r, store.DeliveryExpired, "expired before it could be sent")
	}
	var chat store.Chat
	if err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		chat, err = tx.Chat(r.ChatID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil {
		return time.Time{}, err
	}
	if chat.Unreachable && r.Action.Kind != store.ActAnswer {
		return time.Time{}, s.finish(ctx, *r, store.DeliveryUnreachable, chat.Reason)
	}

	messageID, sendErr := s.client.Do(sendCtx, r.ChatID, r.Action)
	now = s.clock.Now()
	if sendErr == nil {
		return time.Time{}, s.store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			return tx.AckOutbox(*r, messageID, now)
		})
	}
	e := Classify(sendErr)
	tried := *r // as stored: FailOutbox counts this attempt itself
	r.Attempts++
	r.LastError = e.Error()
	switch e.Kind {
	case RateLimited:
		r.NotBefore = now.Add(max(e.RetryAfter, time.Second))
	case Migrated:
		s.log.Info("group became a supergroup; resending there", "chat_id", r.ChatID, "new_chat_id", e.MigrateTo)
		r.ChatID, r.NotBefore = e.MigrateTo, now
	case Unreachable:
		s.log.Warn("chat unreachable; its messages are dropped until it writes again", "chat_id", r.ChatID, "reason", e.Description)
		return time.Time{}, s.store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			if err := tx.MarkUnreachable(r.ChatID, e.Description, now); err != nil {
				return err
			}
			return tx.FailOutbox(tried, store.DeliveryUnreachable, e.Description, now)
		})
	case Rejected:
		s.log.Warn("message rejected; skipped", "chat_id", r.ChatID, "kind", r.Action.Kind, "reason", e.Description)
		return time.Time{}, s.finish(ctx, tried, store.DeliveryFailed, e.Description)
	default:
		if ctx.Err() != nil {
			return time.Time{}, nil // shutting down; the row stays for the next start
		}
		r.NotBefore = now.Add(retryDelay(r.Attempts))
		s.log.Debug("send failed; will retry", "chat_id", r.ChatID, "attempts", r.Attempts, "err", e)
	}
	return r.NotBefore, s.store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.RescheduleOutbox(*r)
	})
}

func (s *Sender) finish(ctx context.Context, r store.OutboxRow, status, reason string) error {
	now := s.clock.Now()
	return s.store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.FailOutbox(r, status, reason, now)
	})
}

// retryDelay is exponential backoff with full jitter: up to 1 s after the
// first failure, doubling to at most 5 minutes.
func retryDelay(attempts int) time.Duration {
	ceiling := time.Second << min(attempts-1, 9)
	ceiling = min(ceiling, 5*time.Minute)
	return ceiling/2 + rand.N(ceiling/2+1)
}
