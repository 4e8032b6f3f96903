package delivery

import (
	"sync"

	"danvan/store"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sender's Prometheus metrics.
type Metrics struct {
	sent       prometheus.Counter
	failed     *prometheus.CounterVec
	retried    *prometheus.CounterVec
	floodWaits prometheus.Counter
}

// NewMetrics creates the sender's metrics and registers them with reg (nil:
// not registered, for tests). Sent and failed rows are counted from the
// store's commits (Count), so a row is counted once, when its outcome is
// durable, whoever settled it.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "danvan_messages_sent_total", Help: "Outbox rows the messenger accepted.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "danvan_messages_failed_total", Help: "Outbox rows given up, by reason (rejected, unreachable, expired).",
		}, []string{"reason"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "danvan_messages_retried_total", Help: "Sends to be tried again, by reason (rate_limited, temporary, migrated).",
		}, []string{"reason"}),
		floodWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "danvan_flood_waits_total", Help: "429 Too Many Requests answers.",
		}),
	}
	for _, r := range []string{"rejected", "unreachable", "expired"} {
		m.failed.WithLabelValues(r)
	}
	for _, r := range []string{"rate_limited", "temporary", "migrated"} {
		m.retried.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.failed, m.retried, m.floodWaits)
	}
	return m
}

// stats is what the dispatcher publishes for gauges read by other
// goroutines.
type stats struct {
	mu    sync.Mutex
	depth [2]int
}

func (s *stats) publish(x *index) {
	s.mu.Lock()
	s.depth = x.depth
	s.mu.Unlock()
}

// depth returns the number of rows queued by priority: interactive, bulk.
func (s *Sender) depth() (interactive, bulk int) {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.depth[0], s.stats.depth[1]
}

// Register adds the sender's gauges (outbox depth by priority) to reg.
func (s *Sender) Register(reg prometheus.Registerer) {
	for i, name := range []string{"interactive", "bulk"} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "danvan_outbox_depth", Help: "Outbox rows waiting to be sent, by priority.",
			ConstLabels: prometheus.Labels{"priority": name},
		}, func() float64 {
			s.stats.mu.Lock()
			defer s.stats.mu.Unlock()
			return float64(s.stats.depth[i])
		}))
	}
}

// Count counts a settled outbox row by its delivery status; the store
// calls it after each commit (store.Store.OnSettled).
func (m *Metrics) Count(status string) {
	switch status {
	case store.DeliverySent:
		m.sent.Inc()
	case store.DeliveryFailed:
		m.failed.WithLabelValues("rejected").Inc()
	default:
		m.failed.WithLabelValues(status).Inc()
	}
}
