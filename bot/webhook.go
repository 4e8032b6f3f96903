package bot

import (
	"context"
	"danvan/store"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"danvan/clock"
)

// Webhook is where the messenger posts updates in webhook mode.
type Webhook struct {
	// URL is the public URL the messenger posts to.
	URL string
	// Secret comes back with every request; it must never be logged.
	Secret string
	// MaxConnections is how many requests the messenger may have in
	// flight at once.
	MaxConnections int
}

// WebhookInfo is the messenger's view of the webhook.
type WebhookInfo struct {
	// URL is empty when no webhook is set.
	URL                string
	PendingUpdateCount int
	// LastErrorDate and LastErrorMessage describe the most recent failed
	// delivery (zero: none).
	LastErrorDate    time.Time
	LastErrorMessage string
	MaxConnections   int
}

// ErrNotReady is returned by Receive before the bot has connected to the
// messenger or after it stopped: the messenger should try again later.
var ErrNotReady = errors.New("the bot is not ready for updates")

// ErrConflict is returned (wrapped) by a Source when another program
// receives the bot's updates: another getUpdates, or a webhook is set.
var ErrConflict = errors.New("another program receives this bot's updates (409 Conflict)")

// webhookCheckEvery is how often the webhook's state is asked for, for
// /healthz.
const webhookCheckEvery = time.Minute

// inbox group-commits updates that arrive one request at a time (webhook
// mode): the collector takes whatever requests wait — up to a page — into
// one transaction, so parallel requests share one commit.
type inbox struct {
	current atomic.Pointer[collector]
	// applied counts updates committed through Receive, so the webhook
	// check can tell whether deliveries arrive.
	applied atomic.Uint64
}

// collector is the running collect loop's door.
type collector struct {
	arrivals chan arrival
	stopped  chan struct{}
}

type arrival struct {
	update Update
	result chan error
}

// Receive applies one update the messenger pushed and returns once it is
// committed (or known processed), so that answering the messenger only
// then keeps updates exactly-once: an update whose request failed is sent
// again, and its record makes a second application a no-op. Concurrent
// calls share a transaction. It returns ErrNotReady when the bot is not
// running, and Apply's store errors.
func (b *Bot) Receive(ctx context.Context, u Update) error {
	c := b.inbox.current.Load()
	if c == nil {
		return ErrNotReady
	}
	a := arrival{update: u, result: make(chan error, 1)}
	select {
	case c.arrivals <- a:
	case <-c.stopped:
		return ErrNotReady
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-a.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// collect applies what Receive hands over until ctx ends. Every arrival it
// takes is answered. It is run by runWebhook.
// startCollector publishes a collector, so that Receive takes requests
// from the moment it returns, and runs it until ctx ends; done is closed
// then.
func (b *Bot) startCollector(ctx context.Context) (done <-chan struct{}) {
	c := &collector{arrivals: make(chan arrival), stopped: make(chan struct{})}
	b.inbox.current.Store(c)
	closed := make(chan struct{})
	go func() { defer close(closed); b.collect(ctx, c) }()
	return closed
}

func (b *Bot) collect(ctx context.Context, c *collector) {
	defer func() {
		b.inbox.current.CompareAndSwap(c, nil)
		close(c.stopped)
	}()
	failures := 0
	for {
		var batch []arrival
		select {
		case a := <-c.arrivals:
			batch = append(batch, a)
		case <-ctx.Done():
			return
		}
		// Requests that came in during the last commit are waiting:
		// take them all into this one.
	more:
		for len(batch) < PageSize {
			select {
			case a := <-c.arrivals:
				batch = append(batch, a)
			default:
				break more
			}
		}
		updates := make([]Update, len(batch))
		for i, a := range batch {
			updates[i] = a.update
		}
		err := b.apply(ctx, updates, false)
		switch {
		case err == nil:
			b.inbox.applied.Add(uint64(len(batch)))
			b.poll.ok(b.clock.Now())
			if failures > 0 {
				b.log.Info("applying updates recovered", "after_failures", failures)
				failures = 0
			}
		case ctx.Err() == nil:
			failures++
			b.poll.fail(b.clock.Now(), "applying updates failing", err)
			b.logFailure("applying updates", err, failures)
		default:
			// Stopping: the messenger should try again later (503).
			err = ErrNotReady
		}
		for _, a := range batch {
			a.result <- err
		}
	}
}

// runWebhook receives updates through Receive until ctx ends: it sets the
// webhook (retrying), registers the menu, then checks every minute that
// the messenger still posts here.
func (b *Bot) runWebhook(ctx context.Context, m Messenger, w Webhook) error {
	// Webhook updates commit in any order: the offset polling kept means
	// nothing now, and a later switch back to polling must start from
	// Telegram's first unconfirmed update.
	if err := b.store.Update(ctx, func(tx *store.Tx) error { return tx.ClearOffset() }); err != nil {
		return err
	}
	done := b.startCollector(ctx)
	defer func() { <-done }()
	// Updates may arrive before setWebhook answers (a webhook left by the
	// previous run): the collector is already taking them.
	if err := b.connectStep(ctx, "setWebhook", func() error { return m.SetWebhook(ctx, w) }); err != nil || ctx.Err() != nil {
		return err
	}
	b.poll.ok(b.clock.Now())
	b.log.Info("webhook set; receiving updates", "max_connections", w.MaxConnections)
	stopMenu := b.registerMenu(ctx, m)
	defer stopMenu()
	b.watchWebhook(ctx, m, w)
	return nil
}

// webhookErrorRecent is how long a delivery error the messenger reports
// counts: it keeps reporting its last one long after deliveries work
// again, and retries a failing webhook every few minutes at most.
const webhookErrorRecent = 10 * time.Minute

// watchWebhook asks the messenger for the webhook's state every
// webhookCheckEvery, for /healthz: unhealthy when another URL is set (or
// none), or when updates wait, the messenger reports delivery errors and
// nothing arrived since the last check. Each problem is logged once.
func (b *Bot) watchWebhook(ctx context.Context, m Messenger, w Webhook) {
	lastApplied := b.inbox.applied.Load()
	var reported string
	for clock.Sleep(b.clock, webhookCheckEvery, ctx.Done()) {
		info, err := m.GetWebhookInfo(ctx)
		if ctx.Err() != nil {
			return
		}
		applied := b.inbox.applied.Load()
		var problem error
		switch {
		case err != nil:
			problem = err
		case info.URL != w.URL:
			problem = fmt.Errorf("the webhook is %s, not this bot's: another program uses the token; stop it, then restart danvan (it sets the webhook at start)", describeURL(info.URL))
		case info.PendingUpdateCount > 0 && info.LastErrorMessage != "" && applied == lastApplied &&
			b.clock.Now().Sub(info.LastErrorDate) < webhookErrorRecent:
			problem = fmt.Errorf("the messenger cannot deliver %d updates: %s (at %s); check the reverse proxy and webhook.listen", info.PendingUpdateCount, info.LastErrorMessage, info.LastErrorDate.UTC().Format(time.RFC3339))
		}
		lastApplied = applied
		kind := ""
		switch {
		case err != nil:
			kind = "getWebhookInfo failing"
		case problem != nil && info.URL != w.URL:
			kind = "webhook replaced"
		case problem != nil:
			kind = "webhook deliveries failing"
		}
		if problem == nil {
			if reported != "" {
				b.log.Info("webhook works again")
				reported = ""
			}
			b.poll.ok(b.clock.Now())
			continue
		}
		b.poll.fail(b.clock.Now(), kind, problem)
		if reported != kind {
			b.log.Warn(kind, "err", problem)
			reported = kind
		}
	}
}

// describeURL names a webhook URL by scheme and host only: its path may
// hold a secret.
func describeURL(s string) string {
	if s == "" {
		return "not set"
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "set to another URL"
	}
	return "set to " + u.Scheme + "://" + u.Host + "/…"
}
