package main

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"danvan/scheduler"
	"danvan/store"
)

// pruneSpec is when records past their retention are removed: every night
// at 03:30 in the configured time zone, when the bot is quietest. A run
// missed while the bot was down happens once at the next start.
const pruneSpec = "30 3 * * *"

// addPruneJob registers the nightly pruning job (see store.Prune) and its
// counter, danvan_pruned_records_total{bucket}.
func (a *app) addPruneJob() error {
	pruned := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "danvan_pruned_records_total",
		Help: "Records removed because they outlived [store] keep_days or audit_keep_days, by bucket.",
	}, []string{"bucket"})
	if err := a.metrics.Register(pruned); err != nil {
		return err
	}
	for _, b := range store.PrunedBuckets() {
		pruned.WithLabelValues(b) // every bucket shows, at 0 until pruned
	}
	return a.scheduler.Add(scheduler.Job{
		Name: "prune", Spec: pruneSpec,
		Run: func(ctx context.Context, _ time.Time) error { return a.prune(ctx, pruned) },
	})
}

// prune removes what outlived its retention, counts it and logs a summary.
func (a *app) prune(ctx context.Context, pruned *prometheus.CounterVec) error {
	const day = 24 * time.Hour
	start := time.Now()
	stats, err := a.store.Prune(ctx, store.PruneOptions{
		Now:       a.clock.Now(),
		Keep:      time.Duration(a.cfg.Store.KeepDays) * day,
		AuditKeep: time.Duration(a.cfg.Store.AuditKeepDays) * day,
	})
	// What was committed before a failure is counted all the same.
	attrs := []any{"removed", stats.Total(), "transactions", stats.Transactions, "took", time.Since(start).Round(time.Millisecond)}
	for _, b := range slices.Sorted(maps.Keys(stats.Removed)) {
		n := stats.Removed[b]
		pruned.WithLabelValues(b).Add(float64(n))
		attrs = append(attrs, b, n)
	}
	if err != nil {
		return err // the scheduler logs it
	}
	a.log.Info("pruned records past their retention", attrs...)
	return nil
}
