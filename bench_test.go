package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"danvan/bot"
	"danvan/clock"
	"danvan/messages"
	"danvan/store"
	"danvan/telegram"
	"danvan/telegramtest"
)

// timedSource wraps the real Telegram client and measures, for every update,
// the time from the getUpdates call that fetched it (request, answer and
// decoding included) to the next getUpdates call — which the poller makes
// only after the page's transaction committed.
type timedSource struct {
	src       bot.Source
	last      int64 // stop once the offset passes this update id
	cancel    context.CancelFunc
	mu        sync.Mutex
	pageAt    time.Time
	pageSize  int
	latencies []time.Duration
}

func (s *timedSource) GetUpdates(ctx context.Context, offset int64, limit int, timeout time.Duration) ([]bot.Update, error) {
	now := time.Now()
	s.mu.Lock()
	if s.pageSize > 0 {
		for range s.pageSize {
			s.latencies = append(s.latencies, now.Sub(s.pageAt))
		}
		s.pageSize = 0
	}
	s.mu.Unlock()
	if offset > s.last {
		s.cancel()
		return nil, ctx.Err()
	}
	updates, err := s.src.GetUpdates(ctx, offset, limit, timeout)
	s.mu.Lock()
	s.pageAt, s.pageSize = now, len(updates)
	s.mu.Unlock()
	return updates, err
}

// BenchmarkApplyUpdates measures the run path from getUpdates (real HTTP to
// the emulator, the Telegram adapter's decoding) to the committed
// transaction holding the updates' effects, the offset and the replies'
// outbox rows, on a real store file with fsync. The sender is not running,
// so only the update path is measured.
func BenchmarkApplyUpdates(b *testing.B) {
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	defer emu.Close()
	users := make([]telegramtest.User, 200)
	for i := range users {
		users[i] = telegramtest.User{ID: int64(70000 + i), FirstName: fmt.Sprintf("Hội viên %d", i), LanguageCode: "vi"}
		emu.Private(users[i])
	}
	texts := []string{"/id", "/start", "/trogiup", "xin chào", "/ngonngu en"}
	for i := range b.N {
		u := users[i%len(users)]
		emu.SendText(u, emu.Private(u), texts[i%len(texts)])
	}

	st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cat, err := messages.Load(time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	bt, err := bot.New(bot.Options{Store: st, Messages: cat, Clock: clock.Real{}, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	client, err := telegram.New(telegram.Options{Token: emu.Token(), Endpoint: telegramtest.Endpoint(srv.URL), Log: log})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	me, err := client.GetMe(ctx)
	if err != nil {
		b.Fatal(err)
	}
	bt.SetIdentity(me)
	// The emulator numbers updates from its base; the last one is the
	// highest id it holds.
	first, err := client.GetUpdates(ctx, 0, 1, 0)
	if err != nil || len(first) == 0 {
		b.Fatalf("no updates: %v", err)
	}
	src := &timedSource{src: client, last: first[0].ID + int64(b.N) - 1, cancel: cancel}

	b.ResetTimer()
	start := time.Now()
	if err := bt.Poll(ctx, src, time.Second); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	var applied int
	st.View(context.Background(), func(tx *store.Tx) error {
		tx.Journal(func(store.JournalEntry) bool { applied++; return true })
		return nil
	})
	if applied != b.N {
		b.Fatalf("applied %d updates, want %d", applied, b.N)
	}
	lat := src.latencies
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
