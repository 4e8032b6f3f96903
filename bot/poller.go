package bot

import (
	"context"
	"errors"
	"strings"
	"time"

	"danvan/clock"
	"danvan/store"
)

// Source delivers updates: the messenger's long poll.
type Source interface {
	// GetUpdates returns updates with ids ≥ offset, waiting up to timeout
	// for the first. Asking with a higher offset confirms the earlier ones.
	GetUpdates(ctx context.Context, offset int64, limit int, timeout time.Duration) ([]Update, error)
}

// PageSize is how many updates one getUpdates asks for (Telegram's maximum).
const PageSize = 100

// conflictRetry is how long the poll waits after a 409 Conflict.
const conflictRetry = 5 * time.Second

// Poll runs the long-poll loop until ctx is cancelled: ask for a page from
// the stored offset, apply it in one transaction, and only after the commit
// ask for the next page (which confirms this one). Errors are retried with
// backoff; the first of a streak is logged as a warning, the rest at debug.
// A 409 Conflict (another poller, or a webhook) is retried every
// conflictRetry, counted, and explained once per streak. It returns nil
// when ctx is cancelled.
func (b *Bot) Poll(ctx context.Context, src Source, timeout time.Duration) error {
	var offset int64
	if err := b.store.View(ctx, func(tx *store.Tx) error { offset = tx.Offset(); return nil }); err != nil {
		return err
	}
	failures, conflicts := 0, 0
	b.poll.expectAnswers(b.clock.Now(), 2*timeout+time.Minute)
	defer b.poll.expectAnswers(time.Time{}, 0)
	fail := func(what string, err error) {
		failures++
		b.poll.fail(b.clock.Now(), what+" failing", err)
		b.logFailure(what, err, failures)
		clock.Sleep(b.clock, backoff(failures), ctx.Done())
	}
	conflict := func(err error) {
		conflicts++
		b.metrics.conflicts.Inc()
		b.poll.fail(b.clock.Now(), "getUpdates conflict", err)
		if conflicts == 1 {
			b.log.Warn("getUpdates refused: "+conflictAdvice(err), "err", err, "retry_every", conflictRetry)
		} else {
			b.log.Debug("getUpdates conflict again", "err", err, "conflicts", conflicts)
		}
		clock.Sleep(b.clock, conflictRetry, ctx.Done())
	}
	for ctx.Err() == nil {
		updates, err := src.GetUpdates(ctx, offset, PageSize, timeout)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrConflict) {
			conflict(err)
			continue
		}
		if err != nil {
			fail("getUpdates", err)
			continue
		}
		if conflicts > 0 {
			b.log.Info("getUpdates works again: the conflict ended", "conflicts", conflicts)
			conflicts = 0
		}
		if err := b.Apply(ctx, updates); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fail("applying updates", err)
			continue
		}
		b.poll.ok(b.clock.Now())
		if failures > 0 {
			b.log.Info("polling recovered", "after_failures", failures)
			failures = 0
		}
		for _, u := range updates {
			if u.ID >= offset {
				offset = u.ID + 1
			}
		}
	}
	return nil
}

// conflictAdvice says what to do about a 409 Conflict.
func conflictAdvice(err error) string {
	if strings.Contains(strings.ToLower(err.Error()), "webhook") {
		return "a webhook is set for this bot token. If it is danvan's, run it with telegram.mode = \"webhook\"; " +
			"otherwise stop the program that set it and restart danvan, which deletes the webhook at start in polling mode"
	}
	return "another danvan or another program polls with this bot token. Stop the other instance " +
		"(only one may receive updates); this one keeps retrying"
}

// backoff grows from 1 s to 30 s.
func backoff(failures int) time.Duration {
	d := time.Second
	for i := 1; i < failures && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}
