package bot

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the update loop's Prometheus metrics.
type Metrics struct {
	updates   *prometheus.CounterVec
	conflicts prometheus.Counter
}

// NewMetrics creates the bot's metrics and registers them with reg (nil:
// not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "danvan_updates_total",
			Help: "Updates processed, by outcome (applied, failed, undecodable).",
		}, []string{"outcome"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "danvan_poll_conflicts_total",
			Help: "getUpdates answered 409 Conflict: another program polls with this token, or a webhook is set.",
		}),
	}
	for _, o := range []string{"applied", "failed", "undecodable"} {
		m.updates.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.updates, m.conflicts)
	}
	return m
}

// pollState is what /healthz needs to know about how updates arrive: the
// long poll, or the webhook.
type pollState struct {
	mu        sync.Mutex
	connected bool
	failing   time.Time // when the current streak of failures began
	what      string    // what fails, e.g. "getUpdates failing"
	lastErr   error
	// answered is when updates last came in (or could have: a long poll
	// that returned); quiet, when not 0, is how long polling may stay
	// without an answer before a hung request counts as a failure.
	answered time.Time
	quiet    time.Duration
}

// ok records that updates can arrive, at time at.
func (p *pollState) ok(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.connected, p.failing, p.what, p.lastErr, p.answered = true, time.Time{}, "", nil, at
}

// expectAnswers makes a silence longer than quiet a failure: a long poll
// answers at least every poll timeout, so a request that hangs on a
// network that drops packets shows in /healthz before the client's own
// timeout ends it.
func (p *pollState) expectAnswers(at time.Time, quiet time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answered, p.quiet = at, quiet
}

// fail records a failure; what names it for /healthz ("getUpdates
// failing"). A streak of the same failure keeps its start.
func (p *pollState) fail(at time.Time, what string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing.IsZero() || p.what != what {
		p.failing = at
	}
	p.what, p.lastErr = what, err
}

// errNotConnected is the health of a bot that has not reached the
// messenger yet.
var errNotConnected = errors.New("not connected to the messenger yet")

// PollHealth says whether updates arrive: nil once the bot is connected —
// getUpdates works, or the webhook is set — and as long as nothing has
// failed since.
func (b *Bot) PollHealth() error {
	p := &b.poll
	now := b.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.failing.IsZero():
		return fmt.Errorf("%s since %s: %v", p.what, p.failing.UTC().Format(time.RFC3339), p.lastErr)
	case !p.connected:
		return errNotConnected
	case p.quiet > 0 && now.Sub(p.answered) > p.quiet:
		return fmt.Errorf("getUpdates has not answered since %s", p.answered.UTC().Format(time.RFC3339))
	}
	return nil
}
