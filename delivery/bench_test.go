package delivery_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"danvan/clock"
	"danvan/delivery"
	"danvan/store"
	"danvan/telegram"
	"danvan/telegramtest"
)

// benchSend delivers n messages spread over chats through the emulator on
// loopback HTTP, in real time, and reports messages per second, CPU time
// per message and elapsed time over the limits' minimum.
func benchSend(b *testing.B, n, chats int, limits delivery.Limits) {
	emu := telegramtest.New(telegramtest.Options{Limits: telegramtest.Limits(limits)})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	defer emu.Close()
	ids := make([]int64, chats)
	for i := range ids {
		ids[i] = emu.Private(telegramtest.User{ID: int64(1_000_000 + i), FirstName: "Hội viên"}).ID
	}
	st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	client, err := telegram.New(telegram.Options{Token: emu.Token(), Endpoint: telegramtest.Endpoint(srv.URL)})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	s := delivery.NewSender(delivery.Options{Store: st, Client: client, Clock: clock.Real{}, Log: log, Limits: limits})
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			if _, err := tx.Enqueue(store.OutboxRow{
				ChatID: ids[i%chats], Priority: store.PriorityBulk, Created: time.Now(),
				Action: store.Action{Kind: store.ActSend, Text: fmt.Sprintf("<b>Thông báo</b> số %d: họp giao ban lúc 08:00", i)},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	go func() { done <- s.Run(ctx) }()
	for emu.Sent() < n {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	cancel()
	<-done
	log0 := emu.SendLog()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/msg")
	if limits.GlobalPerSecond > 0 {
		// The limits' minimum lets N messages go at once and N more every
		// second; a burst-1 token bucket spaces them evenly instead, which
		// is slower by up to one second for any fan-out.
		took := log0[len(log0)-1].At.Sub(log0[0].At)
		least := time.Duration((n-1)/limits.GlobalPerSecond) * time.Second
		even := time.Duration(n-1) * time.Second / time.Duration(limits.GlobalPerSecond)
		b.ReportMetric(took.Seconds()/least.Seconds(), "elapsed/min")
		b.ReportMetric(took.Seconds()/even.Seconds(), "elapsed/even")
		b.ReportMetric(float64(emu.FloodErrors()), "429s")
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSenderUnlimited measures the sender's own speed: limits lifted,
// 1,000 chats, the emulator on loopback HTTP in the same process.
func BenchmarkSenderUnlimited(b *testing.B) {
	benchSend(b, b.N, 1000, delivery.Limits{})
}

// BenchmarkFanOutShortLimits sends 2,000 messages to 2,000 chats in real
// time at a global limit of 200 a second, and reports the elapsed time
// over the minimum the limit allows (9 s) and over even spacing (10 s).
func BenchmarkFanOutShortLimits(b *testing.B) {
	benchSend(b, 2000, 2000, delivery.Limits{GlobalPerSecond: 200, ChatPerSecond: 1, GroupPerMinute: 20})
}
