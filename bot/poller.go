package bot

import (
	"context"
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

// Poll runs the long-poll loop until ctx is cancelled: ask for a page from
// the stored offset, apply it in one transaction, and only after the commit
// ask for the next page (which confirms this one). Errors are retried with
// backoff; the first of a streak is logged as a warning, the rest at debug.
// It returns nil when ctx is cancelled.
func (b *Bot) Poll(ctx context.Context, src Source, timeout time.Duration) error {
	var offset int64
	if err := b.store.View(ctx, func(tx *store.Tx) error { offset = tx.Offset(); return nil }); err != nil {
		return err
	}
	failures := 0
	fail := func(what string, err error) {
		failures++
		b.poll.fail(b.clock.Now(), err)
		b.logFailure(what, err, failures)
		clock.Sleep(b.clock, backoff(failures), ctx.Done())
	}
	for ctx.Err() == nil {
		updates, err := src.GetUpdates(ctx, offset, PageSize, timeout)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			fail("getUpdates", err)
			continue
		}
		if err := b.Apply(ctx, updates); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fail("applying updates", err)
			continue
		}
		b.poll.ok()
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

// backoff grows from 1 s to 30 s.
func backoff(failures int) time.Duration {
	d := time.Second
	for i := 1; i < failures && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}
