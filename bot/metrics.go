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
}

func (p *pollState) ok() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.connected, p.failing, p.what, p.lastErr = true, time.Time{}, "", nil
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
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.failing.IsZero():
		return fmt.Errorf("%s since %s: %v", p.what, p.failing.UTC().Format(time.RFC3339), p.lastErr)
	case !p.connected:
		return errNotConnected
	}
	return nil
}
