package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

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
// it created or changed (0 when there is none); ChatMember answers a
// query: what the person is in the chat ("creator", "administrator",
// "member", "left", …).
type Client interface {
	Do(ctx context.Context, chatID int64, a store.Action) (messageID int, err error)
	ChatMember(ctx context.Context, chatID, userID int64) (status string, err error)
}
