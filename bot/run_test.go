package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"danvan/store"
)

// logBuffer collects the bot's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count says how many log lines hold every one of words.
func (l *logBuffer) count(words ...string) int {
	n := 0
	for line := range strings.Lines(l.String()) {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			n++
		}
	}
	return n
}

// fakeMessenger plays the messenger for Run. GetUpdates answers from
// pages, one call each, then waits for ctx.
type fakeMessenger struct {
	mu              sync.Mutex
	pages           []func() ([]Update, error)
	polls           int
	deletes         int
	setWebhookFails int
	webhooks        []Webhook
	info            WebhookInfo
	infoErr         error
	infoCalls       int
}

func (f *fakeMessenger) GetUpdates(ctx context.Context, _ int64, _ int, _ time.Duration) ([]Update, error) {
	f.mu.Lock()
	f.polls++
	var page func() ([]Update, error)
	if len(f.pages) > 0 {
		page, f.pages = f.pages[0], f.pages[1:]
	}
	f.mu.Unlock()
	if page != nil {
		return page()
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (f *fakeMessenger) GetMe(context.Context) (Identity, error) {
	return Identity{ID: botID, Username: "danvan_test_bot"}, nil
}

func (f *fakeMessenger) DeleteWebhook(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes++
	return nil
}

func (f *fakeMessenger) SetWebhook(_ context.Context, w Webhook) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.webhooks = append(f.webhooks, w)
	if f.setWebhookFails > 0 {
		f.setWebhookFails--
		return errors.New("temporary (502): Bad Gateway")
	}
	return nil
}

func (f *fakeMessenger) GetWebhookInfo(context.Context) (WebhookInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.infoCalls++
	return f.info, f.infoErr
}

func (f *fakeMessenger) SetCommands(context.Context, string, string, []MenuEntry) error { return nil }

func (f *fakeMessenger) with(fn func(f *fakeMessenger)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// waitFor waits up to ten seconds for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// runHarness is a bot with a log, metrics and a fake messenger, run by
// Run in the background on the fake clock.
type runHarness struct {
	*harness
	log  *logBuffer
	reg  *prometheus.Registry
	m    *fakeMessenger
	stop func()
}

func newRunHarness(t *testing.T, m *fakeMessenger, o RunOptions) *runHarness {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	h := newHarnessWith(t, func(o *Options) {
		o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Metrics = NewMetrics(reg)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.Run(ctx, m, o) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &runHarness{harness: h, log: logs, reg: reg, m: m, stop: stop}
}

// sleeping waits until n timers wait on the fake clock.
func (r *runHarness) sleeping(n int) {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%d sleepers", n), func() bool { return r.clock.Waiters() == n })
}

func (r *runHarness) counter(name string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	r.t.Fatalf("no metric %s", name)
	return 0
}

var conflictErr = fmt.Errorf("%w: temporary (409): Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", ErrConflict)

func TestPollConflictIsRetriedLoggedOnceAndUnhealthy(t *testing.T) {
	conflict := func() ([]Update, error) { return nil, conflictErr }
	var h *runHarness
	m := &fakeMessenger{}
	m.pages = []func() ([]Update, error){conflict, conflict, conflict, func() ([]Update, error) {
		return []Update{h.text(person(userID, "vi"), private(userID), "/id")}, nil
	}}
	h = newRunHarness(t, m, RunOptions{PollTimeout: time.Second})
	polls := func() int { var n int; m.with(func(f *fakeMessenger) { n = f.polls }); return n }

	h.sleeping(1)
	if err := h.bot.PollHealth(); err == nil || !strings.Contains(err.Error(), "getUpdates conflict since 2026-11-30T01:00:00Z") ||
		!strings.Contains(err.Error(), "409") {
		t.Errorf("PollHealth during a conflict: %v", err)
	}
	for i := 2; i <= 4; i++ {
		h.clock.Advance(conflictRetry - time.Millisecond)
		if got := polls(); got != i-1 {
			t.Fatalf("getUpdates called %d times before the %v retry, want %d", got, conflictRetry, i-1)
		}
		h.clock.Advance(time.Millisecond)
		waitFor(t, fmt.Sprintf("retry %d", i), func() bool { return polls() >= i })
		if i < 4 {
			h.sleeping(1)
		}
	}
	waitFor(t, "the reply", func() bool {
		var n int
		h.store.View(ctx, func(tx *store.Tx) error { n = tx.OutboxLen(); return nil })
		return n == 1
	})
	// Healthy again once the page is applied, right after its commit.
	waitFor(t, "PollHealth to be nil after getUpdates worked again", func() bool { return h.bot.PollHealth() == nil })
	if n := h.counter("danvan_poll_conflicts_total"); n != 3 {
		t.Errorf("danvan_poll_conflicts_total %v, want 3", n)
	}
	if n := h.log.count("level=WARN", "another danvan or another program polls with this bot token"); n != 1 {
		t.Errorf("%d warnings with advice, want 1 per streak:\n%s", n, h.log)
	}
	if n := h.log.count("level=INFO", "the conflict ended"); n != 1 {
		t.Errorf("%d lines saying the conflict ended, want 1:\n%s", n, h.log)
	}
	m.with(func(f *fakeMessenger) {
		if f.deletes != 1 {
			t.Errorf("deleteWebhook called %d times, want once before polling", f.deletes)
		}
	})
}

func TestConflictAdviceNamesTheWebhook(t *testing.T) {
	err := fmt.Errorf("%w: temporary (409): Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", ErrConflict)
	if got := conflictAdvice(err); !strings.Contains(got, "a webhook is set") || !strings.Contains(got, `telegram.mode = "webhook"`) {
		t.Errorf("advice for a webhook: %q", got)
	}
	if got := conflictAdvice(conflictErr); !strings.Contains(got, "another danvan") {
		t.Errorf("advice for a second poller: %q", got)
	}
}
