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
	// SetWebhook makes the messenger post updates to w.URL, keeping
	// pending updates.
	SetWebhook(ctx context.Context, w Webhook) error
	// GetWebhookInfo says what webhook is set and how its deliveries go.
	GetWebhookInfo(ctx context.Context) (WebhookInfo, error)
	// SetCommands registers the command menu for a scope (MenuEverywhere
	// or MenuGroups) and a language code ("" is the default).
	SetCommands(ctx context.Context, scope, language string, entries []MenuEntry) error
}

// Menu scopes: the menu shown everywhere unless a narrower one applies,
// and the one shown in every group chat.
const (
	MenuEverywhere = "default"
	MenuGroups     = "all_group_chats"
)

// ErrUnauthorized is returned (wrapped) by a Messenger whose token was
// refused; retrying cannot help.
var ErrUnauthorized = errors.New("the bot token was refused")

// RunOptions say how updates arrive.
type RunOptions struct {
	// PollTimeout is the long poll's timeout (polling mode).
	PollTimeout time.Duration
	// Webhook, when set, makes the messenger post updates, which the
	// webhook listener hands to Receive; nil: long polling.
	Webhook *Webhook
}

// Run connects to the messenger and receives updates until ctx is
// cancelled: it learns who the bot is (retrying while the messenger is
// unreachable — the bot must be able to start while the network is down),
// then either removes any webhook and long-polls, or sets the webhook and
// applies what Receive is given. The command menu is registered once
// connected. It returns nil when ctx is cancelled, and an error only for a
// refused token.
func (b *Bot) Run(ctx context.Context, m Messenger, o RunOptions) error {
	var me Identity
	err := b.connectStep(ctx, "getMe", func() error {
		var err error
		me, err = m.GetMe(ctx)
		return err
	})
	if err != nil || ctx.Err() != nil {
		return err
	}
	b.SetIdentity(me)
	if err := b.OfferClaim(b.console); err != nil {
		b.log.Error("offering the admin claim link failed", "err", err)
	}
	b.log.Info("connected to the messenger", "bot", me.Username, "bot_id", me.ID)
	if o.Webhook != nil {
		return b.runWebhook(ctx, m, *o.Webhook)
	}
	// A webhook left set (by webhook mode, or another program) makes
	// getUpdates fail with 409: remove it, keeping its pending updates.
	if err := b.connectStep(ctx, "deleteWebhook", func() error { return m.DeleteWebhook(ctx) }); err != nil || ctx.Err() != nil {
		return err
	}
	b.poll.ok(b.clock.Now())
	stopMenu := b.registerMenu(ctx, m)
	defer stopMenu()
	return b.Poll(ctx, m, o.PollTimeout)
}

// registerMenu sets the command menu in every language, everywhere and
// (without the commands that work only in a private chat) in groups. The
// first attempts go out together and are waited for, so that one slow
// answer does not hold up the next; what fails is retried in the
// background until ctx ends, since the bot works without a menu. The
// returned function waits for those retries.
func (b *Bot) registerMenu(ctx context.Context, m Messenger) (wait func()) {
	var first, retries sync.WaitGroup
	for _, scope := range []string{MenuEverywhere, MenuGroups} {
		for _, menu := range []struct {
			code string
			lang messages.Lang
		}{{"", messages.Vi}, {"vi", messages.Vi}, {"en", messages.En}} {
			entries := b.MenuFor(menu.lang, scope == MenuGroups)
			set := func() error { return m.SetCommands(ctx, scope, menu.code, entries) }
			first.Go(func() {
				if err := set(); err != nil {
					retries.Go(func() { _ = b.retry(ctx, "setMyCommands", set) })
				}
			})
		}
	}
	first.Wait()
	return retries.Wait
}

// connectStep is retry for a step the bot cannot receive updates without:
// its failures show in /healthz ("setWebhook failing since …").
func (b *Bot) connectStep(ctx context.Context, what string, fn func() error) error {
	return b.retry(ctx, what, func() error {
		err := fn()
		if err != nil && ctx.Err() == nil {
			b.poll.fail(b.clock.Now(), what+" failing", err)
		}
		return err
	})
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
