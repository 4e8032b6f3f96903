package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"danvan/clock"
	"danvan/store"
)

type recorder struct {
	mu  sync.Mutex
	due []time.Time
}

func (r *recorder) run(_ context.Context, due time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.due = append(r.due, due)
	return nil
}

func (r *recorder) runs() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.due...)
}

// start runs a scheduler with one job until the returned stop is called.
func start(t *testing.T, st *store.Store, loc *time.Location, spec string, r *recorder) (stop func()) {
	t.Helper()
	s := New(st, clock.Real{}, loc, slog.New(slog.DiscardHandler))
	if err := s.Add(Job{Name: "job", Spec: spec, Run: r.run}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func TestRunsOnScheduleAndCatchesUpOnceAfterDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		begin := time.Now()
		r := &recorder{}
		stop := start(t, st, time.UTC, "@every 1m", r)
		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()
		stop()
		got := r.runs()
		if len(got) != 3 {
			t.Fatalf("got %d runs in 3 minutes, want 3: %v", len(got), got)
		}
		for i, due := range got {
			if want := begin.Add(time.Duration(i+1) * time.Minute); !due.Equal(want) {
				t.Errorf("run %d due %v, want %v", i, due, want)
			}
		}

		// Ten minutes pass with the process down; on restart the job runs
		// once, for the latest missed time, then keeps its schedule.
		time.Sleep(10 * time.Minute)
		restarted := time.Now()
		stop = start(t, st, time.UTC, "@every 1m", r)
		synctest.Wait()
		got = r.runs()
		if len(got) != 4 {
			t.Fatalf("after downtime: %d runs, want 4 (one catch-up)", len(got))
		}
		if want := begin.Add(13 * time.Minute); !got[3].Equal(want) {
			t.Errorf("catch-up due %v, want %v", got[3], want)
		}
		time.Sleep(time.Minute - restarted.Sub(begin.Add(13*time.Minute)) + time.Second)
		synctest.Wait()
		stop()
		if got := r.runs(); len(got) != 5 {
			t.Errorf("after catch-up: %d runs, want 5", len(got))
		}
	})
}

func TestScheduleUsesTheConfiguredZone(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	sched, err := Parse("0 8 * * *", loc)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) // 07:00 in Vietnam
	next := sched.Next(from)
	if want := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("next 08:00 in Vietnam: got %v, want %v", next.UTC(), want)
	}
}

func TestBadSpecIsAnError(t *testing.T) {
	s := New(nil, clock.Real{}, time.UTC, slog.New(slog.DiscardHandler))
	if err := s.Add(Job{Name: "x", Spec: "every minute", Run: (&recorder{}).run}); err == nil {
		t.Error("a bad schedule was accepted")
	}
}

// A schedule that parses but never comes (30 February) is refused: its
// next time is zero, which would make the loop run it without end.
func TestScheduleThatNeverComesIsAnError(t *testing.T) {
	s := New(nil, clock.Real{}, time.UTC, slog.New(slog.DiscardHandler))
	if err := s.Add(Job{Name: "x", Spec: "0 2 30 2 *", Run: (&recorder{}).run}); err == nil {
		t.Error("a schedule that never comes was accepted")
	}
}

// The first start is remembered at once: a due time that passes while the
// process is down before the job ever ran still runs at the next start.
func TestFirstStartIsRemembered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		r := &recorder{}
		stop := start(t, st, time.UTC, "@every 10m", r)
		synctest.Wait()
		time.Sleep(time.Minute)
		stop()
		// Down across the first due time.
		time.Sleep(20 * time.Minute)
		stop = start(t, st, time.UTC, "@every 10m", r)
		synctest.Wait()
		stop()
		if got := r.runs(); len(got) != 1 {
			t.Errorf("%d runs after the first due time passed while down, want 1 (a catch-up): %v", len(got), got)
		}
	})
}

// A watermark ahead of the clock (the clock was set back after a run)
// counts from now instead of silencing the job until that date.
func TestWatermarkAheadOfTheClockCountsFromNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		err = st.Update(context.Background(), func(tx *store.Tx) error {
			return tx.PutJobState(store.JobState{Name: "job", LastRun: time.Now().Add(365 * 24 * time.Hour)})
		})
		if err != nil {
			t.Fatal(err)
		}
		r := &recorder{}
		stop := start(t, st, time.UTC, "@every 1m", r)
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		stop()
		if got := r.runs(); len(got) != 2 {
			t.Errorf("%d runs in 2 minutes, want 2: %v", len(got), got)
		}
	})
}

// A failed run with Retry is tried again after Retry, until it succeeds;
// the watermark moves only then.
func TestFailedRunIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var mu sync.Mutex
		var runs []time.Time
		failures := 2
		s := New(st, clock.Real{}, time.UTC, slog.New(slog.DiscardHandler))
		err = s.Add(Job{Name: "daily", Spec: "@every 24h", Retry: time.Hour, Run: func(_ context.Context, due time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			runs = append(runs, time.Now())
			if failures > 0 {
				failures--
				return errors.New("disk full")
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		time.Sleep(27 * time.Hour)
		synctest.Wait()
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		want := []time.Duration{24 * time.Hour, 25 * time.Hour, 26 * time.Hour}
		if len(runs) != len(want) {
			t.Fatalf("%d runs, want %d (a failure, a failed retry, a retry that works): %v", len(runs), len(want), runs)
		}
		for i, at := range runs {
			if got := at.Sub(begin); got != want[i] {
				t.Errorf("run %d after %v, want %v", i, got, want[i])
			}
		}
		st.View(context.Background(), func(tx *store.Tx) error {
			js, _ := tx.JobState("daily")
			if !js.LastRun.Equal(begin.Add(24 * time.Hour)) {
				t.Errorf("watermark %v, want the due time that finally ran", js.LastRun)
			}
			return nil
		})
	})
}

// A run that fails late is tried again Retry after it failed, not at once.
func TestRetryCountsFromTheFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var mu sync.Mutex
		var starts []time.Time
		s := New(st, clock.Real{}, time.UTC, slog.New(slog.DiscardHandler))
		err = s.Add(Job{Name: "slow", Spec: "@every 24h", Retry: time.Hour, Run: func(ctx context.Context, _ time.Time) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			time.Sleep(90 * time.Minute) // a long backup that then fails
			return errors.New("disk full")
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		time.Sleep(24*time.Hour + 5*time.Hour)
		synctest.Wait()
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap != 150*time.Minute {
				t.Errorf("run %d started %v after the one before, want 2h30m (90 min running, then an hour)", i, gap)
			}
		}
		if len(starts) < 2 {
			t.Errorf("%d runs, want retries", len(starts))
		}
	})
}
