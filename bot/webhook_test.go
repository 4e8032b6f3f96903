package bot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danvan/store"
)

const hookURL = "https://bot.example.vn/tg/hook"

func outboxLen(t *testing.T, s *store.Store) int {
	t.Helper()
	var n int
	if err := s.View(ctx, func(tx *store.Tx) error { n = tx.OutboxLen(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunWebhook(t *testing.T) {
	m := &fakeMessenger{setWebhookFails: 2, info: WebhookInfo{URL: hookURL}}
	w := Webhook{URL: hookURL, Secret: "s3cret", MaxConnections: 40}
	h := newRunHarness(t, m, RunOptions{Webhook: &w})

	// setWebhook fails twice: /healthz says so; it is retried after 1 s
	// and 2 s.
	h.sleeping(1)
	if err := h.bot.PollHealth(); err == nil || !strings.Contains(err.Error(), "setWebhook failing since") {
		t.Errorf("PollHealth while setWebhook fails: %v", err)
	}
	// Updates posted meanwhile (a webhook left by the last run) are
	// already taken.
	u := h.text(person(userID, "vi"), private(userID), "/id")
	if err := h.bot.Receive(ctx, u); err != nil {
		t.Fatalf("Receive before setWebhook succeeded: %v", err)
	}
	h.clock.Advance(time.Second)
	h.sleeping(1)
	h.clock.Advance(2 * time.Second)
	waitFor(t, "the webhook set", func() bool { return h.bot.PollHealth() == nil })
	m.with(func(f *fakeMessenger) {
		if len(f.webhooks) != 3 || f.webhooks[2] != w {
			t.Errorf("setWebhook calls %+v, want three with %+v", f.webhooks, w)
		}
		if f.deletes != 0 || f.polls != 0 {
			t.Errorf("webhook mode called deleteWebhook %d and getUpdates %d times", f.deletes, f.polls)
		}
	})
	if strings.Contains(h.log.String(), "s3cret") {
		t.Errorf("the log shows the secret:\n%s", h.log)
	}

	// The same update again (Telegram's redelivery) changes nothing.
	if err := h.bot.Receive(ctx, u); err != nil {
		t.Fatal(err)
	}
	if n := outboxLen(t, h.store); n != 1 {
		t.Errorf("%d replies to one update received twice, want 1", n)
	}
	// Webhook updates may commit out of order: no getUpdates offset is
	// kept, so a switch back to polling starts from Telegram's first
	// unconfirmed update.
	h.store.View(ctx, func(tx *store.Tx) error {
		if off := tx.Offset(); off != 0 {
			t.Errorf("offset %d after webhook updates, want none", off)
		}
		return nil
	})

	// Every minute the webhook's state is checked.
	check := func() {
		t.Helper()
		h.sleeping(1)
		calls := 0
		m.with(func(f *fakeMessenger) { calls = f.infoCalls })
		h.clock.Advance(webhookCheckEvery)
		waitFor(t, "a getWebhookInfo", func() bool {
			n := 0
			m.with(func(f *fakeMessenger) { n = f.infoCalls })
			return n > calls
		})
		h.sleeping(1)
	}
	check()
	if err := h.bot.PollHealth(); err != nil {
		t.Errorf("PollHealth with the webhook in place: %v", err)
	}
	m.with(func(f *fakeMessenger) { f.info.URL = "https://other.example/secret-path/x" })
	check()
	check()
	if err := h.bot.PollHealth(); err == nil || !strings.Contains(err.Error(), "webhook replaced since") ||
		!strings.Contains(err.Error(), "https://other.example/…") || strings.Contains(err.Error(), "secret-path") {
		t.Errorf("PollHealth with another webhook: %v", err)
	}
	if n := h.log.count("level=WARN", "webhook replaced"); n != 1 {
		t.Errorf("%d warnings about the replaced webhook, want 1:\n%s", n, h.log)
	}

	// Telegram cannot deliver: updates wait, an error, nothing arrives.
	m.with(func(f *fakeMessenger) {
		f.info = WebhookInfo{URL: hookURL, PendingUpdateCount: 3, LastErrorMessage: "Connection refused", LastErrorDate: h.clock.Now()}
	})
	check()
	if err := h.bot.PollHealth(); err == nil || !strings.Contains(err.Error(), "cannot deliver 3 updates: Connection refused") {
		t.Errorf("PollHealth while deliveries fail: %v", err)
	}
	// An update that arrives shows deliveries work again, even though
	// the last error is still reported.
	if err := h.bot.Receive(ctx, h.text(person(userID, "vi"), private(userID), "/id")); err != nil {
		t.Fatal(err)
	}
	check()
	if err := h.bot.PollHealth(); err != nil {
		t.Errorf("PollHealth after an update arrived: %v", err)
	}
	if n := h.log.count("level=INFO", "webhook works again"); n != 1 {
		t.Errorf("%d lines saying the webhook works again, want 1:\n%s", n, h.log)
	}
	// A quiet bot with an update in flight, and an error from long ago
	// still reported: healthy.
	m.with(func(f *fakeMessenger) {
		f.info = WebhookInfo{URL: hookURL, PendingUpdateCount: 1, LastErrorMessage: "Connection refused", LastErrorDate: h.clock.Now().Add(-time.Hour)}
	})
	check()
	if err := h.bot.PollHealth(); err != nil {
		t.Errorf("PollHealth with an old delivery error: %v", err)
	}

	h.stop()
	if err := h.bot.Receive(ctx, h.text(person(userID, "vi"), private(userID), "/id")); !errors.Is(err, ErrNotReady) {
		t.Errorf("Receive after Run returned: %v, want ErrNotReady", err)
	}
}

func TestReceiveBeforeRunIsNotReady(t *testing.T) {
	h := newHarness(t)
	if err := h.bot.Receive(ctx, h.text(person(userID, "vi"), private(userID), "/id")); !errors.Is(err, ErrNotReady) {
		t.Errorf("got %v, want ErrNotReady", err)
	}
}

// TestReceiveSharesCommits holds the first update's transaction open
// while 200 more arrive: they are applied in a couple of commits, not one
// each, and each exactly once — duplicates too.
func TestReceiveSharesCommits(t *testing.T) {
	release := make(chan struct{})
	var commits atomic.Int32
	h := newHarnessWith(t, func(o *Options) {
		o.Wake = func() { commits.Add(1) } // once per commit that enqueued
	}, func(b *Bot) error {
		return b.HandleCommand(Command{Name: "cho", Perm: Anyone, Handle: func(c *Context) error {
			<-release
			return c.ReplyHTML("xong")
		}})
	})
	runCtx, cancel := context.WithCancel(context.Background())
	collected := h.bot.startCollector(runCtx)
	defer func() { cancel(); <-collected }()

	first := make(chan error, 1)
	slow := h.text(person(userID, "vi"), private(userID), "/cho")
	go func() { first <- h.bot.Receive(ctx, slow) }()
	// The collector is inside the first transaction once the handler
	// waits on release; until then Receive blocks.
	const n = 200
	updates := make([]Update, n)
	for i := range updates {
		updates[i] = h.text(person(int64(10000+i%50), "vi"), private(int64(10000+i%50)), "/id")
	}
	var started, done sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		started.Add(1)
		done.Go(func() {
			started.Done()
			errs <- h.bot.Receive(ctx, updates[i%n]) // each one twice
		})
	}
	started.Wait()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	done.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
	}
	if got := outboxLen(t, h.store); got != n+1 {
		t.Errorf("%d replies, want %d: every update once", got, n+1)
	}
	// Serially this would be 201 commits; the requests that waited share
	// them (a page holds 100).
	if got := commits.Load(); got > 20 {
		t.Errorf("%d commits for %d updates, want them shared", got, n+1)
	}
	t.Logf("%d updates (each twice) in %d commits", n+1, commits.Load())
}

func TestReceiveReportsStoreErrors(t *testing.T) {
	h := newHarness(t)
	runCtx, cancel := context.WithCancel(context.Background())
	collected := h.bot.startCollector(runCtx)
	defer func() { cancel(); <-collected }()
	h.store.Close()
	err := h.bot.Receive(ctx, h.text(person(userID, "vi"), private(userID), "/id"))
	if err == nil || errors.Is(err, ErrNotReady) {
		t.Errorf("Receive with the store closed: %v, want the store's error", err)
	}
	if err := h.bot.PollHealth(); err == nil || !strings.Contains(err.Error(), "applying updates failing") {
		t.Errorf("PollHealth: %v", err)
	}
}
