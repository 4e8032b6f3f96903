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
	updates *prometheus.CounterVec
}

// NewMetrics creates the bot's metrics and registers them with reg (nil:
// not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{updates: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "danvan_updates_total",
		Help: "Updates processed, by outcome (applied, failed, undecodable).",
	}, []string{"outcome"})}
	for _, o := range []string{"applied", "failed", "undecodable"} {
		m.updates.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.updates)
	}
	return m
}

// pollState is what /healthz needs to know about the long poll.
type pollState struct {
	mu        sync.Mutex
	connected bool
	failing   time.Time // when the current streak of failures began
	lastErr   error
}

func (p *pollState) ok() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.connected, p.failing, p.lastErr = true, time.Time{}, nil
}

func (p *pollState) fail(at time.Time, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing.IsZero() {
		p.failing = at
	}
	p.lastErr = err
}

// errNotConnected is the health of a bot that has not reached the
// messenger yet.
var errNotConnected = errors.New("not connected to the messenger yet")

// PollHealth says whether the long poll works: nil once getUpdates has
// succeeded and as long as it has not failed since.
func (b *Bot) PollHealth() error {
	p := &b.poll
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.failing.IsZero():
		return fmt.Errorf("getUpdates failing since %s: %v", p.failing.UTC().Format(time.RFC3339), p.lastErr)
	case !p.connected:
		return errNotConnected
	}
	return nil
}
