// Package bot turns updates into effects. Every update — a message, a button
// press — is routed to a handler that runs inside one store transaction
// together with the update's exactly-once record, the getUpdates offset and
// the outbox rows of its replies. Handlers never talk to the messenger: they
// write outbox rows, which the delivery package sends.
//
// The package knows nothing of Telegram's types; the telegram package
// translates them into Update and store.Action.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"danvan/clock"
	"danvan/messages"
	"danvan/store"
)

// Options configure a Bot.
type Options struct {
	Store    *store.Store
	Messages *messages.Catalog
	Clock    clock.Clock
	Log      *slog.Logger
	// Admins are the numeric user ids named in the configuration.
	Admins []int64
	// Language is the default reply language.
	Language messages.Lang
	// ConversationTimeout abandons a dialogue left idle this long.
	ConversationTimeout time.Duration
	// Wake is called after a commit that enqueued outbox rows.
	Wake func()
}

// Bot routes updates to handlers. Build it with New, register features,
// then call SetIdentity before applying updates.
type Bot struct {
	store    *store.Store
	msgs     *messages.Catalog
	clock    clock.Clock
	log      *slog.Logger
	admins   map[int64]bool
	lang     messages.Lang
	convTTL  time.Duration
	wake     func()
	identity atomic.Pointer[Identity]

	commands  []*Command
	byName    map[string]*Command
	callbacks map[string]*CallbackHandler
	wizards   map[string]*Wizard
	lists     map[string]*List
	starts    []StartHook
}

// New returns a Bot with the core commands registered.
func New(o Options) (*Bot, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Language == "" {
		o.Language = messages.Vi
	}
	if o.ConversationTimeout <= 0 {
		o.ConversationTimeout = 30 * time.Minute
	}
	if o.Wake == nil {
		o.Wake = func() {}
	}
	b := &Bot{
		store:     o.Store,
		msgs:      o.Messages,
		clock:     o.Clock,
		log:       o.Log,
		admins:    make(map[int64]bool),
		lang:      o.Language,
		convTTL:   o.ConversationTimeout,
		wake:      o.Wake,
		byName:    make(map[string]*Command),
		callbacks: make(map[string]*CallbackHandler),
		wizards:   make(map[string]*Wizard),
		lists:     make(map[string]*List),
	}
	for _, id := range o.Admins {
		b.admins[id] = true
	}
	b.identity.Store(&Identity{})
	if err := b.registerCore(); err != nil {
		return nil, err
	}
	return b, nil
}

// SetIdentity tells the bot who it is, so it can recognise commands
// addressed to it in groups ("/help@danvan_bot").
func (b *Bot) SetIdentity(id Identity) { b.identity.Store(&id) }

// Identity returns who the bot is.
func (b *Bot) Identity() Identity { return *b.identity.Load() }

// Apply applies a page of updates in one transaction, together with the
// new offset and every outbox row they produce. An update whose handler
// fails or panics is taken out and the page applied again without it; the
// failure is recorded with the offset advance and the sender gets a short
// apology, so a poison update never blocks or rolls back the others.
// Updates already processed are skipped. Apply returns only store errors,
// after which nothing of the page was applied.
func (b *Bot) Apply(ctx context.Context, updates []Update) error {
	if len(updates) == 0 {
		return nil
	}
	failed := make(map[int64]string)
	for {
		var poison *updateError
		now := b.clock.Now()
		enqueued := false
		err := b.store.Update(ctx, func(tx *store.Tx) error {
			next := tx.Offset()
			for _, u := range updates {
				if u.ID >= next {
					next = u.ID + 1
				}
				if tx.UpdateProcessed(u.ID) {
					continue
				}
				c := b.newContext(tx, now, u)
				record := store.UpdateRecord{At: now, Outcome: store.OutcomeApplied}
				switch reason, isFailed := failed[u.ID]; {
				case u.Undecodable:
					record.Outcome = store.OutcomeUndecodable
				case isFailed:
					record.Outcome, record.Reason = store.OutcomeFailed, reason
					if err := c.apologize(); err != nil {
						return err
					}
				default:
					if err := b.handleSafely(c); err != nil {
						poison = &updateError{id: u.ID, err: err}
						return poison
					}
					record.Handler = c.handler
				}
				if err := tx.RecordUpdate(u.ID, record); err != nil {
					return err
				}
				enqueued = enqueued || c.enqueued
			}
			if enqueued {
				tx.OnCommit(b.wake)
			}
			return tx.SetOffset(next)
		})
		if poison != nil && errors.Is(err, poison) {
			failed[poison.id] = poison.err.Error()
			b.log.Error("update failed; skipped with an apology", "update_id", poison.id, "err", poison.err)
			continue
		}
		if err != nil {
			return fmt.Errorf("apply %d updates: %w", len(updates), err)
		}
		for _, u := range updates {
			if u.Undecodable {
				b.log.Warn("undecodable update skipped", "update_id", u.ID)
			}
		}
		return nil
	}
}

type updateError struct {
	id  int64
	err error
}

func (e *updateError) Error() string { return fmt.Sprintf("update %d: %v", e.id, e.err) }

// handleSafely runs the handler, turning a panic into an error so the page
// can be applied again without this update.
func (b *Bot) handleSafely(c *Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in %s: %v\n%s", c.handler, r, firstFrames(debug.Stack()))
		}
	}()
	return b.route(c)
}

// firstFrames keeps the top of a stack trace: enough to find the bug,
// short enough for a log line.
func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	return strings.Join(lines, "\n")
}

// language picks the reply language for a person: their choice, else their
// client's language when it is English, else the configured default.
func (b *Bot) language(u store.User) messages.Lang {
	if l, ok := messages.ParseLang(u.Language); ok {
		return l
	}
	if strings.HasPrefix(strings.ToLower(u.ClientLanguage), "en") {
		return messages.En
	}
	return b.lang
}

// isAdmin reports whether the person is an admin, named in the
// configuration or granted in chat.
func (b *Bot) isAdmin(tx *store.Tx, userID int64) bool {
	return userID != 0 && (b.admins[userID] || tx.IsStoredAdmin(userID))
}
