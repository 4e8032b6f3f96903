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
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"danvan/clock"
	"danvan/messages"
	"danvan/places"
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
	Wake    func()
	Metrics *Metrics
	// Estimate says how long delivering n more messages will take (the
	// sender knows the limits and the queue); nil: unknown, zero.
	Estimate func(n int) time.Duration
	// Places is the official directory of provinces and communes
	// (default: the embedded one).
	Places *places.Directory
	// InviteDays is how long invite links stay valid (default 7);
	// MemberInviteUses how many people a member invite lets in (5000).
	InviteDays       int
	MemberInviteUses int
	// Console receives what only the operator should see, such as the
	// first-run admin claim link (default: nowhere).
	Console io.Writer
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
	estimate func(n int) time.Duration
	metrics  *Metrics
	places   *places.Directory
	console  io.Writer
	invites  inviteSettings
	// claim is the one-time code that makes its first user an admin, set
	// at start when no admin exists; cleared on use (OnCommit).
	claim    atomic.Pointer[string]
	poll     pollState
	inbox    inbox // webhook updates waiting for their commit (webhook.go)
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
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Estimate == nil {
		o.Estimate = func(int) time.Duration { return 0 }
	}
	if o.Console == nil {
		o.Console = io.Discard
	}
	if o.Places == nil {
		o.Places = places.Default()
	}
	if o.InviteDays <= 0 {
		o.InviteDays = 7
	}
	if o.MemberInviteUses <= 0 {
		o.MemberInviteUses = 5000
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
		metrics:   o.Metrics,
		estimate:  o.Estimate,
		places:    o.Places,
		console:   o.Console,
		invites:   inviteSettings{ttl: time.Duration(o.InviteDays) * 24 * time.Hour, memberUses: o.MemberInviteUses},
		byName:    make(map[string]*Command),
		callbacks: make(map[string]*CallbackHandler),
		wizards:   make(map[string]*Wizard),
		lists:     make(map[string]*List),
	}
	for _, id := range o.Admins {
		b.admins[id] = true
	}
	b.identity.Store(&Identity{})
	// The bot answers the store's triggers: a fan-out finished, a query
	// answered.
	b.store.OnFanOutDone(b.FanOutDone)
	b.store.OnQueryAnswered(b.QueryAnswered)
	for _, register := range []func() error{b.registerCore, b.registerUnits, b.registerMembers, b.registerAdmins, b.registerGroups, b.registerAnnouncements, b.registerErasure} {
		if err := register(); err != nil {
			return nil, err
		}
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
	return b.apply(ctx, updates, true)
}

// apply is Apply; a webhook's updates (trackOffset false) leave the
// getUpdates offset alone, since they may commit out of order.
func (b *Bot) apply(ctx context.Context, updates []Update, trackOffset bool) error {
	if len(updates) == 0 {
		return nil
	}
	failed := make(map[int64]*updateError)
	for {
		var poison *updateError
		var undecodable []int64
		var outcomes []string
		now := b.clock.Now()
		enqueued := false
		err := b.store.Update(ctx, func(tx *store.Tx) error {
			undecodable, outcomes = undecodable[:0], outcomes[:0]
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
				switch failure, isFailed := failed[u.ID]; {
				case u.Undecodable:
					record.Outcome = store.OutcomeUndecodable
					undecodable = append(undecodable, u.ID)
				case isFailed:
					record.Outcome, record.Reason = store.OutcomeFailed, failure.reason()
					if err := c.apologize(failure.dialogueStep); err != nil {
						return err
					}
				default:
					if err := b.handleSafely(c); err != nil {
						poison = err
						return poison
					}
					record.Handler = c.handler
				}
				if err := tx.RecordUpdate(u.ID, record); err != nil {
					return err
				}
				outcomes = append(outcomes, record.Outcome)
				enqueued = enqueued || c.enqueued
			}
			if enqueued {
				tx.OnCommit(b.wake)
			}
			if !trackOffset {
				return nil
			}
			return tx.SetOffset(next)
		})
		if poison != nil && errors.Is(err, poison) {
			failed[poison.id] = poison
			// The error's text may quote what the person wrote: it goes
			// to the debug log only.
			b.log.Error("update failed; skipped with an apology",
				"update_id", poison.id, "handler", poison.handler, "at", poison.frames)
			b.log.Debug("update failure detail", "update_id", poison.id, "err", poison.err)
			continue
		}
		if err != nil {
			return fmt.Errorf("apply %d updates: %w", len(updates), err)
		}
		for _, id := range undecodable {
			b.log.Warn("undecodable update skipped", "update_id", id)
		}
		for _, o := range outcomes {
			b.metrics.updates.WithLabelValues(o).Inc()
		}
		return nil
	}
}

// updateError is a handler's failure on one update.
type updateError struct {
	id      int64
	handler string
	// dialogueStep says the update was routed to the sender's dialogue
	// (Context.dialogueStep).
	dialogueStep bool
	err          error
	// frames is where a panic happened: code locations only.
	frames string
}

func (e *updateError) Error() string { return fmt.Sprintf("update %d: %v", e.id, e.err) }

// reason describes the failure for the update's record without quoting
// the error, which may hold user content.
func (e *updateError) reason() string {
	if e.frames != "" {
		return "panic in " + e.handler + " at " + e.frames
	}
	return "error in " + e.handler
}

// handleSafely runs the handler, turning a panic into an error so the page
// can be applied again without this update.
func (b *Bot) handleSafely(c *Context) (failure *updateError) {
	defer func() {
		if r := recover(); r != nil {
			failure = &updateError{id: c.Update.ID, handler: c.handler, dialogueStep: c.dialogueStep, err: fmt.Errorf("panic: %v", r), frames: panicFrames()}
		}
	}()
	if err := b.route(c); err != nil {
		return &updateError{id: c.Update.ID, handler: c.handler, dialogueStep: c.dialogueStep, err: err}
	}
	return nil
}

// panicFrames names the function and line that panicked and its two
// callers, skipping the runtime's own frames.
func panicFrames() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var out []string
	for f, more := frames.Next(); more && len(out) < 3; f, more = frames.Next() {
		if strings.HasPrefix(f.Function, "runtime.") {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s:%d)", f.Function, filepath.Base(f.File), f.Line))
	}
	return strings.Join(out, " ← ")
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
