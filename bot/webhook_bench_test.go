package bot

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"danvan/clock"
	"danvan/messages"
	"danvan/store"
)

// BenchmarkWebhookUpdates measures webhook mode's throughput with 40
// requests in flight (setWebhook's max_connections): "shared" is Receive,
// whose collector puts the waiting requests into one commit; "own-commit"
// applies each request's update in its own transaction. Every commit
// syncs the file, so sharing is what makes a burst cheap.
func BenchmarkWebhookUpdates(b *testing.B) {
	for _, mode := range []string{"shared", "own-commit"} {
		b.Run(mode, func(b *testing.B) {
			st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			cat, err := messages.Load(time.UTC)
			if err != nil {
				b.Fatal(err)
			}
			bot, err := New(Options{Store: st, Messages: cat, Clock: clock.NewFake(time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC))})
			if err != nil {
				b.Fatal(err)
			}
			bot.SetIdentity(Identity{ID: botID, Username: "danvan_test_bot"})
			runCtx, cancel := context.WithCancel(context.Background())
			collected := bot.startCollector(runCtx)
			defer func() { cancel(); <-collected }()
			var next atomic.Int64
			b.SetParallelism(40) // 40 × GOMAXPROCS goroutines: at least max_connections
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := next.Add(1)
					chat := Chat{ID: 10000 + id%500, Kind: store.ChatPrivate}
					u := Update{ID: id, Message: &Message{
						ID: int(id), Chat: chat, From: &User{ID: chat.ID, FirstName: "Người", LanguageCode: "vi"},
						Kind: KindText, Text: "/id", Command: "id",
					}}
					var err error
					if mode == "shared" {
						err = bot.Receive(context.Background(), u)
					} else {
						err = bot.Apply(context.Background(), []Update{u})
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
