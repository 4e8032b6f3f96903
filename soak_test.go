package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"danvan/clock"
	"danvan/config"
	"danvan/store"
	"danvan/telegramtest"
)

// The soak: the whole bot against the emulator for months of fake time,
// a steady load every day, the nightly prune job running as the clock
// passes 03:30, and the file's use measured after each night. Nothing
// sleeps: the test waits for the bot's messages in the emulator and for
// the prune job's log line, and moves the fake clock a day at a time.

// soakPlan is the load: Updates in all (about), spread evenly over Days,
// from Users people, plus a daily fan-out to FanOut of them.
type soakPlan struct {
	Days, Updates, Users, FanOut int
}

// soakDay is the store after one simulated day and the night's pruning.
type soakDay struct {
	Day     int // 1 is the first
	Applied int // updates applied so far
	Space   store.Space
	Records map[string]int // keys per bucket
	// Night is the real time from the clock passing 03:30 to the end of
	// the prune job.
	Night time.Duration
}

// soakBuckets are the buckets the soak reports.
var soakBuckets = []string{"updates", "journal", "deliveries", "origins", "tokens", "fanouts", "fanout_actions", "users", "chats"}

// pruneWatch passes on the log lines that say how a prune run ended.
type pruneWatch struct {
	lines chan string
	mu    sync.Mutex
	errs  []string
}

func (w *pruneWatch) Write(p []byte) (int, error) {
	line := string(p)
	switch {
	case strings.Contains(line, "pruned records past their retention"), strings.Contains(line, "job=prune"):
		w.lines <- line
	case strings.Contains(line, "level=ERROR"):
		w.mu.Lock()
		w.errs = append(w.errs, line)
		w.mu.Unlock()
	}
	return len(p), nil
}

// sendCounter counts the messages the emulator accepted from the bot, so
// the soak can wait for a day's replies without looking at every chat.
type sendCounter struct {
	mu      sync.Mutex
	n       int
	target  int
	reached chan struct{}
}

func (c *sendCounter) accepted(method string, _ int64, _ int) {
	if method != "sendMessage" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.reached != nil && c.n >= c.target {
		close(c.reached)
		c.reached = nil
	}
}

// wait returns once n messages were accepted, or fails after timeout (a
// safety net: the bot answers in milliseconds).
func (c *sendCounter) wait(n int, timeout time.Duration) error {
	c.mu.Lock()
	if c.n >= n {
		c.mu.Unlock()
		return nil
	}
	reached := make(chan struct{})
	c.target, c.reached = n, reached
	c.mu.Unlock()
	select {
	case <-reached:
		return nil
	case <-time.After(timeout):
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("%d messages sent after %v, want %d", c.n, timeout, n)
	}
}

// runSoak runs the plan and returns the store after every day.
func runSoak(t testing.TB, plan soakPlan) []soakDay {
	t.Helper()
	const keepDays = 30
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, loc)
	clk := clock.NewFake(start)
	emu := telegramtest.New(telegramtest.Options{Now: clk.Now})
	defer emu.Close()

	cfg := config.Default()
	cfg.Telegram.Token = emu.Token()
	cfg.Telegram.APIEndpoint = telegramtest.Endpoint("http://telegram.test")
	cfg.Store.Path = filepath.Join(t.TempDir(), "danvan.db")
	cfg.Store.KeepDays = keepDays
	cfg.Bot.Timezone = loc.String()
	cfg.Bot.Admins = []int64{adminUser.ID}
	cfg.Log.Level = "info"
	// Nothing waits on the fake clock but the scheduler: no limits.
	cfg.Telegram.Limits.GlobalPerSecond, cfg.Telegram.Limits.ChatPerSecond, cfg.Telegram.Limits.GroupPerMinute = 0, 0, 0

	// The jobs' watermarks are set before the start, so the first night
	// is pruned however late the scheduler starts.
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		for _, job := range []string{"prune", "housekeeping"} {
			if err := tx.PutJobState(store.JobState{Name: job, LastRun: start}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	sends := &sendCounter{}
	emu.SetOnAccepted(sends.accepted)
	watch := &pruneWatch{lines: make(chan string, plan.Days+1)}
	a, err := newApp(&cfg, newLogger(&cfg, watch), appOptions{Clock: clk, Transport: emu.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("app.run: %v", err)
			}
		}
	}
	defer stop()

	users := make([]telegramtest.User, plan.Users)
	for i := range users {
		users[i] = telegramtest.User{ID: int64(500000 + i), FirstName: fmt.Sprintf("Hội viên %d", i), LanguageCode: "vi"}
		emu.Private(users[i])
	}
	// presser answers the language keyboard every day; leaver walks away
	// from it, so the dialogue times out and its keyboard expires unused.
	presser := telegramtest.User{ID: 490001, FirstName: "Lan", LanguageCode: "vi"}
	leaver := telegramtest.User{ID: 490002, FirstName: "Hoa", LanguageCode: "vi"}
	emu.Private(presser)
	emu.Private(leaver)
	expect := map[int64]int{} // bot messages each chat must have in the end
	want := 0                 // messages the bot must have sent so far
	waitSent := func(what string) {
		t.Helper()
		if err := sends.wait(want, 2*time.Minute); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	texts := []string{"/id", "/start", "/huy", "xin chào"}
	const extra = 3 // the keyboards' updates: two /ngonngu and a press
	perDay := max((plan.Updates+plan.Days-1)/plan.Days-extra, 1)
	applied, sent := 0, 0
	perDayApplied := make([]int, plan.Days)
	var days []soakDay
	for d := range plan.Days {
		// The day's messages, each answered once, and a keyboard for
		// each of the two.
		for range perDay {
			u := users[sent%len(users)]
			emu.SendText(u, emu.Private(u), texts[sent%len(texts)])
			expect[u.ID]++
			want++
			sent++
		}
		for _, u := range []telegramtest.User{presser, leaver} {
			emu.SendText(u, emu.Private(u), "/ngonngu")
			expect[u.ID]++
			want++
		}
		// The day's fan-out (a digest), reported to the first person.
		recipients := make([]int64, plan.FanOut)
		for i := range recipients {
			recipients[i] = users[(d*plan.FanOut+i)%len(users)].ID
			expect[recipients[i]]++
		}
		expect[users[0].ID]++
		want += plan.FanOut + 1
		err := a.store.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.StartFanOut(store.FanOutSpec{
				Origin: fmt.Sprintf("digest:%d", d), Kind: "digest", Title: "Tổng hợp", ReportTo: users[0].ID,
				Chats: recipients, Priority: store.PriorityBulk,
				Action: store.Action{Kind: store.ActSend, Text: fmt.Sprintf("Tổng hợp ngày %d", d+1)},
			}, clk.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		a.sender.Wake()
		waitSent(fmt.Sprintf("day %d", d+1))

		// One keyboard is pressed; the other's dialogue will time out.
		msgs := emu.BotMessages(presser.ID)
		q := msgs[len(msgs)-1]
		if len(q.Keyboard) == 0 {
			t.Fatalf("day %d: the language question has no keyboard: %q", d+1, q.Text)
		}
		wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err = emu.WaitCallbackAnswer(wctx, emu.Press(presser, emu.Private(presser), q.ID, q.Keyboard[0][d%2].CallbackData))
		wcancel()
		if err != nil {
			t.Fatalf("day %d: the press was never answered: %v", d+1, err)
		}
		perDayApplied[d] = perDay + extra
		applied += perDay + extra

		// Night: the clock passes 03:30, the prune job runs, and the
		// leaver's dialogue times out.
		night := time.Now()
		clk.Advance(24 * time.Hour)
		select {
		case line := <-watch.lines:
			if !strings.Contains(line, "pruned records past their retention") {
				t.Fatalf("night %d: %s", d+1, line)
			}
		case <-time.After(2 * time.Minute): // a safety net, never reached when the job runs
			t.Fatalf("night %d: the prune job did not run", d+1)
		}
		took := time.Since(night)
		expect[leaver.ID]++
		want++
		waitSent(fmt.Sprintf("night %d: the timed-out dialogue's notice", d+1))

		day := soakDay{Day: d + 1, Applied: applied, Records: map[string]int{}, Night: took}
		if day.Space, err = a.store.Space(ctx); err != nil {
			t.Fatal(err)
		}
		err = a.store.Walk(func(path []string, _, _ []byte) error {
			if len(path) == 1 {
				day.Records[path[0]]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		days = append(days, day)
	}
	stop()
	for _, line := range watch.errs {
		t.Errorf("logged: %s", line)
	}

	// Every reply arrived, once.
	for id, n := range expect {
		if got := len(emu.BotMessages(id)); got != n {
			t.Errorf("chat %d has %d bot messages, want %d", id, got, n)
		}
	}
	if n := emu.Pending(); n != 0 {
		t.Errorf("%d updates never confirmed", n)
	}

	// Nothing still needed was pruned.
	st, err = store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	last := start.Add(time.Duration(plan.Days) * 24 * time.Hour) // the last night's pruning
	cutoff := last.Add(-keepDays * 24 * time.Hour)
	recent := 0 // updates applied since the cutoff: their markers must stay
	for d, n := range perDayApplied {
		if !start.Add(time.Duration(d) * 24 * time.Hour).Before(cutoff) {
			recent += n
		}
	}
	err = st.View(context.Background(), func(tx *store.Tx) error {
		if n := tx.OutboxLen(); n != 0 {
			t.Errorf("%d rows still in the outbox", n)
		}
		if tx.Offset() == 0 {
			t.Error("the getUpdates offset is gone")
		}
		var marked, stale int
		err := tx.Journal(func(e store.JournalEntry) bool {
			if e.At.Before(cutoff) {
				stale++
			}
			if tx.UpdateProcessed(e.UpdateID) {
				marked++
			}
			return true
		})
		if err != nil {
			return err
		}
		if stale > 0 {
			t.Errorf("%d journal entries from before the cutoff %v are still there", stale, cutoff)
		}
		if marked != recent {
			t.Errorf("%d updates are marked processed, want %d: those of the last %d days", marked, recent, keepDays)
		}
		for _, u := range append(slices.Clone(users), presser, leaver) {
			if _, err := tx.User(u.ID); err != nil {
				t.Errorf("user %d: %v", u.ID, err)
			}
			if _, err := tx.Chat(u.ID); err != nil {
				t.Errorf("chat %d: %v", u.ID, err)
			}
		}
		for _, job := range []string{"prune", "housekeeping"} {
			if s, err := tx.JobState(job); err != nil || s.LastRun.Before(last.Add(-24*time.Hour)) {
				t.Errorf("job %s: watermark %v, %v", job, s.LastRun, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := days[len(days)-1].Records["updates"]; got != recent {
		t.Errorf("%d update markers after the last night, want %d", got, recent)
	}
	return days
}

// soakTable is the figures as a Markdown table: every tenth day, the
// first and the last.
func soakTable(days []soakDay) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "| day | updates applied | file | in use | free | prune | %s |\n", strings.Join(soakBuckets, " | "))
	fmt.Fprintf(&b, "|---|---|---|---|---|---|%s\n", strings.Repeat("---|", len(soakBuckets)))
	for i, d := range days {
		if i != 0 && d.Day%10 != 0 && i != len(days)-1 {
			continue
		}
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %v |", d.Day, d.Applied, mib(d.Space.FileSize), mib(d.Space.InUse), mib(d.Space.Free), d.Night.Round(100*time.Microsecond))
		for _, name := range soakBuckets {
			fmt.Fprintf(&b, " %d |", d.Records[name])
		}
		b.WriteString("\n")
	}
	nights := make([]time.Duration, len(days))
	for i, d := range days {
		nights[i] = d.Night
	}
	slices.Sort(nights)
	fmt.Fprintf(&b, "\nprune job per night: median %v, max %v\n", nights[len(nights)/2].Round(100*time.Microsecond), nights[len(nights)-1].Round(100*time.Microsecond))
	return b.String()
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// TestSoakFileLevelsOff pushes 10,000 updates with their replies over 90
// days of fake time, with a fan-out and keyboards every day: once the
// first records outlive keep_days (30), pruning holds the store level —
// the bytes in use grow over the last 30 days by less than a tenth of
// what they grew over the first 30, the file does not grow at all, and
// the bookkeeping buckets hold as many records as 30 days earlier.
func TestSoakFileLevelsOff(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak takes a while")
	}
	days := runSoak(t, soakPlan{Days: 90, Updates: 10000, Users: 200, FanOut: 10})
	t.Logf("\n%s", soakTable(days))
	checkLevelsOff(t, days, 30)
}

// checkLevelsOff judges the figures of a run of 3×keep days.
func checkLevelsOff(t testing.TB, days []soakDay, keep int) {
	t.Helper()
	first, mid, end := days[0], days[2*keep-1], days[len(days)-1]
	firstThird := days[keep-1].Space.InUse - first.Space.InUse
	lastThird := end.Space.InUse - mid.Space.InUse
	if firstThird <= 0 {
		t.Fatalf("the store did not grow over the first %d days (%d → %d bytes)", keep, first.Space.InUse, days[keep-1].Space.InUse)
	}
	if lastThird*10 > firstThird {
		t.Errorf("bytes in use grew by %d over the last %d days, more than a tenth of the %d over the first %d", lastThird, keep, firstThird, keep)
	}
	if end.Space.FileSize > mid.Space.FileSize {
		t.Errorf("the file grew from %s to %s over the last %d days", mib(mid.Space.FileSize), mib(end.Space.FileSize), keep)
	}
	for _, name := range []string{"updates", "journal", "fanouts", "fanout_actions", "tokens"} {
		if a, b := mid.Records[name], end.Records[name]; a != b {
			t.Errorf("%s: %d records after day %d, %d after day %d; want the same", name, a, mid.Day, b, end.Day)
		}
	}
	// A few acknowledgements may land just after midnight.
	for _, name := range []string{"deliveries", "origins"} {
		if a, b := mid.Records[name], end.Records[name]; b > a+a/100 || b < a-a/100 {
			t.Errorf("%s: %d records after day %d, %d after day %d; want within 1%%", name, a, mid.Day, b, end.Day)
		}
	}
}

// BenchmarkSoak is the soak at 100,000 updates (not run in CI); its
// figures are in docs/benchmarks.md.
//
//	go test -run '^$' -bench Soak -benchtime 1x -v .
func BenchmarkSoak(b *testing.B) {
	for range b.N {
		days := runSoak(b, soakPlan{Days: 90, Updates: 100000, Users: 200, FanOut: 200})
		b.Logf("\n%s", soakTable(days))
		checkLevelsOff(b, days, 30)
		end := days[len(days)-1]
		b.ReportMetric(float64(end.Space.FileSize)/(1<<20), "file-MiB")
		b.ReportMetric(float64(end.Space.InUse)/(1<<20), "inuse-MiB")
	}
}
