package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"danvan/clock"
	"danvan/messages"
)

// Messenger is what the bot needs from the messenger adapter to run.
type Messenger interface {
	Source
	// GetMe checks the token and says who the bot is.
	GetMe(ctx context.Context) (Identity, error)
	// DeleteWebhook makes long polling possible, keeping pending updates.
	DeleteWebhook(ctx context.Context) error
	// SetCommands registers the command menu for a language code ("" is
	// the default).
	SetCommands(ctx context.Context, language string, entries []MenuEntry) error
}

// ErrUnauthorized is returned (wrapped) by a Messenger whose token was
// refused; retrying cannot help.
var ErrUnauthorized = errors.New("the bot token was refused")

// Run connects to the messenger and polls until ctx is cancelled: it
// learns who the bot is (retrying while the messenger is unreachable —
// the bot must be able to start while the network is down), removes any
// webhook, registers the command menu and then long-polls. It returns nil
// when ctx is cancelled, and an error only for a refused token.
func (b *Bot) Run(ctx context.Context, m Messenger, pollTimeout time.Duration) error {
	var me Identity
	err := b.retry(ctx, "getMe", func() error {
		var err error
		me, err = m.GetMe(ctx)
		return err
	})
	if err != nil || ctx.Err() != nil {
		return err
	}
	b.SetIdentity(me)
	b.poll.ok()
	if err := b.OfferClaim(b.console); err != nil {
		b.log.Error("offering the admin claim link failed", "err", err)
	}
	b.log.Info("connected to the messenger", "bot", me.Username, "bot_id", me.ID)
	if err := b.retry(ctx, "deleteWebhook", func() error { return m.DeleteWebhook(ctx) }); err != nil || ctx.Err() != nil {
		return err
	}
	// The menu is set once before polling; what fails is retried in the
	// background, since the bot works without a menu.
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, menu := range []struct {
		code string
		lang messages.Lang
	}{{"", messages.Vi}, {"vi", messages.Vi}, {"en", messages.En}} {
		entries := b.Menu(menu.lang)
		set := func() error { return m.SetCommands(ctx, menu.code, entries) }
		if err := set(); err != nil {
			wg.Go(func() { _ = b.retry(ctx, "setMyCommands", set) })
		}
	}
	return b.Poll(ctx, m, pollTimeout)
}

// retry calls fn until it succeeds or ctx ends, backing off from 1 s to
// 30 s; the first failure is a warning, the rest debug lines. A refused
// token ends it with an error.
func (b *Bot) retry(ctx context.Context, what string, fn func() error) error {
	for failures := 0; ; {
		err := fn()
		switch {
		case err == nil || ctx.Err() != nil:
			if err == nil && failures > 0 {
				b.log.Info(what+" succeeded", "after_failures", failures)
			}
			return nil
		case errors.Is(err, ErrUnauthorized):
			return fmt.Errorf("%s: %w", what, err)
		}
		failures++
		b.logFailure(what, err, failures)
		if !clock.Sleep(b.clock, backoff(failures), ctx.Done()) {
			return nil
		}
	}
}

// logFailure logs the first failure of a streak as a warning and the rest
// at debug level, so an outage does not flood the log.
func (b *Bot) logFailure(what string, err error, failures int) {
	if failures == 1 {
		b.log.Warn(what+" failed; retrying", "err", err)
		return
	}
	b.log.Debug(what+" failed again", "err", err, "failures", failures)
}
