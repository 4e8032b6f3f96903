package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"danvan/store"
	"danvan/telegramtest"
)

// binary is the real danvan, built once for the tests that start it as a
// child process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "danvan-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "danvan")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building danvan: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// child is a running danvan process.
type child struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	c := &child{stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(binary, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = c.stderr
	c.cmd.Stdout = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.cmd.Process.Kill(); <-c.done })
	return c
}

// exitCode waits up to limit for the process to end.
func (c *child) exitCode(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		t.Fatalf("process still running after %v\n%s", limit, c.stderr)
		return -1
	}
}

func childEnv(emuURL, token, storePath string, extra ...string) []string {
	return append([]string{
		"DANVAN_TELEGRAM_TOKEN=" + token,
		"DANVAN_TELEGRAM_API_ENDPOINT=" + telegramtest.Endpoint(emuURL),
		"DANVAN_STORE_PATH=" + storePath,
		"DANVAN_BOT_ADMINS=",
		// Pacing is tested in delivery/; here the limits only slow things.
		"DANVAN_TELEGRAM_LIMITS_GLOBAL_PER_SECOND=1000", "DANVAN_TELEGRAM_LIMITS_CHAT_PER_SECOND=1000",
		"HTTPS_PROXY=", "HTTP_PROXY=", "NO_PROXY=",
	}, extra...)
}

func newEmulator(t *testing.T) (*telegramtest.Server, string) {
	t.Helper()
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	return emu, srv.URL
}

func waitPolling(t *testing.T, emu *telegramtest.Server, c *child) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := emu.WaitPolling(ctx); err != nil {
		t.Fatalf("the bot never polled: %v\n%s", err, c.stderr)
	}
}

func TestSIGTERMDuringLongPollExitsCleanly(t *testing.T) {
	emu, url := newEmulator(t)
	c := startChild(t, childEnv(url, emu.Token(), filepath.Join(t.TempDir(), "d.db"), "DANVAN_TELEGRAM_POLL_TIMEOUT=50s"), "run")
	waitPolling(t, emu, c)
	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, c.stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
}

func TestSecondInstanceSaysTheDatabaseIsInUse(t *testing.T) {
	emu, url := newEmulator(t)
	path := filepath.Join(t.TempDir(), "d.db")
	first := startChild(t, childEnv(url, emu.Token(), path), "run")
	waitPolling(t, emu, first)
	second := startChild(t, childEnv(url, emu.Token(), path), "run")
	start := time.Now()
	if code := second.exitCode(t, 5*time.Second); code == 0 {
		t.Errorf("second instance exited 0")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second instance took %v to give up", d)
	}
	if !strings.Contains(second.stderr.String(), "in use") {
		t.Errorf("second instance said %q, want 'in use'", second.stderr)
	}
	// The first one is unharmed.
	u := telegramtest.User{ID: 42, FirstName: "Minh", LanguageCode: "vi"}
	emu.SendText(u, emu.Private(u), "/id")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := emu.WaitBotMessages(ctx, u.ID, 1); err != nil {
		t.Errorf("first instance stopped answering: %v", err)
	}
}

func TestRunAnswersStartInVietnamese(t *testing.T) {
	emu, url := newEmulator(t)
	c := startChild(t, childEnv(url, emu.Token(), filepath.Join(t.TempDir(), "d.db")), "run")
	waitPolling(t, emu, c)
	u := telegramtest.User{ID: 42, FirstName: "Minh", LanguageCode: "vi"}
	emu.SendText(u, emu.Private(u), "/start")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := emu.WaitBotMessages(ctx, u.ID, 1)
	if err != nil {
		t.Fatalf("no answer to /start: %v\n%s", err, c.stderr)
	}
	if !strings.Contains(msgs[0].Text, "Xin chào Minh") {
		t.Errorf("/start answered %q", msgs[0].Text)
	}
}

// TestTokenNeverLeaks runs the real binary through connection resets and
// against a port where nothing listens, at debug level, and looks for the
// token in everything it printed.
func TestTokenNeverLeaks(t *testing.T) {
	emu, url := newEmulator(t)
	emu.ResetNext(2)
	c := startChild(t, childEnv(url, emu.Token(), filepath.Join(t.TempDir(), "d.db"), "DANVAN_LOG_LEVEL=debug"), "run")
	waitPolling(t, emu, c)
	u := telegramtest.User{ID: 42, FirstName: "Minh", LanguageCode: "vi"}
	emu.ResetNext(2, "sendMessage")
	emu.SendText(u, emu.Private(u), "/start")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := emu.WaitBotMessages(ctx, u.ID, 1); err != nil {
		t.Fatalf("no answer after resets: %v\n%s", err, c.stderr)
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.exitCode(t, 5*time.Second)

	// Nothing listens on this port: every request fails with an error that
	// carries the URL.
	dead := httptest.NewServer(emu)
	deadURL := dead.URL
	dead.Close()
	d := startChild(t, childEnv(deadURL, emu.Token(), filepath.Join(t.TempDir(), "e.db"), "DANVAN_LOG_LEVEL=debug"), "run")
	for !strings.Contains(d.stderr.String(), "getMe failed") {
		select {
		case <-d.done:
			t.Fatalf("exited early:\n%s", d.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.exitCode(t, 5*time.Second)

	for name, out := range map[string]string{"resets": c.stderr.String(), "refused": d.stderr.String()} {
		if !strings.Contains(out, "failed") {
			t.Errorf("%s: expected logged failures, got:\n%s", name, out)
		}
		for _, form := range []string{emu.Token(), strings.Split(emu.Token(), ":")[1]} {
			if strings.Contains(out, form) {
				t.Errorf("%s: output contains the token:\n%s", name, out)
			}
		}
	}
}

// TestCrashLosesNothing kills the real binary with SIGKILL again and again
// while 1,000 updates flow: at instants the emulator picks right after it
// delivered a page of updates (before the bot could confirm them) and
// right after it accepted a message (before the bot learned so). After the
// last restart every update has exactly one effect and a reply.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the binary many times")
	}
	const (
		updates = 1000
		users   = 40
		kills   = 14
	)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DANVAN_CRASH_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (set DANVAN_CRASH_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	// The plan: which kind of instant each kill uses, at least half of
	// them after a delivery of updates; and how many such events to let
	// pass first.
	type kill struct {
		afterDelivery bool
		skip          int
	}
	var plan []kill
	for i := range kills {
		plan = append(plan, kill{afterDelivery: i%2 == 0 || rng.IntN(3) == 0, skip: rng.IntN(4)})
	}

	emu, url := newEmulator(t)
	path := filepath.Join(t.TempDir(), "crash.db")
	env := childEnv(url, emu.Token(), path, "DANVAN_TELEGRAM_POLL_TIMEOUT=1s", "DANVAN_LOG_LEVEL=debug")

	var (
		mu        sync.Mutex
		current   *child
		next      int // index into plan
		seen      int // matching events since the last kill
		killed    = make(chan struct{}, 1)
		byKind    [2]int
		deliverAt []int
	)
	// maybeKill runs inside the emulator's hooks: when the plan says so it
	// kills the bot and returns only once the process is gone, so the bot
	// never sees this answer.
	maybeKill := func(afterDelivery bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(plan) || current == nil || plan[next].afterDelivery != afterDelivery {
			return
		}
		if seen < plan[next].skip {
			seen++
			return
		}
		current.cmd.Process.Kill()
		<-current.done
		if afterDelivery {
			byKind[0]++
			deliverAt = append(deliverAt, emu.Pending())
		} else {
			byKind[1]++
		}
		current, seen = nil, 0
		next++
		killed <- struct{}{}
	}
	emu.SetOnUpdatesDelivered(func([]int64) { maybeKill(true) })
	emu.SetOnAccepted(func(method string, _ int64, _ int) {
		if method == "sendMessage" {
			maybeKill(false)
		}
	})

	start := func() {
		c := startChild(t, env, "run")
		mu.Lock()
		current = c
		mu.Unlock()
	}

	// Updates flow from a feeder while the bot is killed and restarted.
	people := make([]telegramtest.User, users)
	sent := make(map[int64][]int) // chat → message ids of the commands
	var sentMu sync.Mutex
	for i := range people {
		people[i] = telegramtest.User{ID: int64(50000 + i), FirstName: fmt.Sprintf("Người %d", i), LanguageCode: "vi"}
		emu.Private(people[i])
	}
	feederDone := make(chan struct{})
	go func() {
		defer close(feederDone)
		for i := range updates {
			u := people[i%users]
			m := emu.SendText(u, emu.Private(u), "/id")
			sentMu.Lock()
			sent[u.ID] = append(sent[u.ID], m.ID)
			sentMu.Unlock()
			if i%10 == 9 {
				// Let the bot (or its next incarnation) take and confirm
				// the chunk, so the updates arrive in a hundred pages
				// while it is being killed.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				for emu.Pending() > 0 && ctx.Err() == nil {
					emu.WaitPolling(ctx)
					time.Sleep(time.Millisecond)
				}
				cancel()
			}
		}
	}()

	start()
	deadline := time.After(40 * time.Second)
	for restarts := 0; restarts < kills; restarts++ {
		select {
		case <-killed:
			start()
		case <-deadline:
			mu.Lock()
			logs := ""
			if current != nil {
				logs = current.stderr.String()
			}
			t.Fatalf("only %d of %d kills happened (plan %+v); pending %d\n%s", next, kills, plan, emu.Pending(), logs)
		}
	}
	<-feederDone

	// Let the last process catch up: every command answered.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, u := range people {
		for {
			// Count before checking, so a reply that lands in between
			// ends the wait instead of being waited for twice.
			have := len(emu.BotMessages(u.ID))
			missing := unanswered(emu, u.ID, sent[u.ID])
			if missing == 0 {
				break
			}
			if _, err := emu.WaitBotMessages(ctx, u.ID, have+1); err != nil {
				mu.Lock()
				c := current
				mu.Unlock()
				c.cmd.Process.Signal(syscall.SIGTERM)
				c.exitCode(t, 5*time.Second)
				var bm []string
				for _, m := range emu.BotMessages(u.ID) {
					bm = append(bm, fmt.Sprintf("%d→%d", m.ID, m.ReplyToID))
				}
				t.Fatalf("user %d: %d commands unanswered: %v\ncommands %v\nbot messages %v\n%s\nstore:\n%s", u.ID, missing, err, sent[u.ID], bm, c.stderr, dumpChat(path, u.ID))
			}
		}
	}
	for emu.Pending() > 0 {
		if err := emu.WaitPolling(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	last := current
	mu.Unlock()
	last.cmd.Process.Signal(syscall.SIGTERM)
	if code := last.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("last process exit status %d\n%s", code, last.stderr)
	}

	// Every update: exactly one effect in the store.
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	effects := make(map[int64]int)
	st.View(ctx, func(tx *store.Tx) error {
		return tx.Journal(func(e store.JournalEntry) bool {
			if e.Handler == "command:id" {
				effects[e.UpdateID]++
			}
			return true
		})
	})
	if len(effects) != updates {
		t.Errorf("%d updates have an effect, want %d", len(effects), updates)
	}
	for id, n := range effects {
		if n != 1 {
			t.Errorf("update %d applied %d times", id, n)
		}
	}
	// Every command: at least one reply threaded to it.
	duplicates := 0
	for _, u := range people {
		replies := make(map[int]int)
		for _, m := range emu.BotMessages(u.ID) {
			replies[m.ReplyToID]++
		}
		for _, id := range sent[u.ID] {
			switch n := replies[id]; {
			case n == 0:
				t.Errorf("user %d: command %d got no reply", u.ID, id)
			case n > 1:
				duplicates += n - 1
			}
		}
	}
	t.Logf("kills after delivery %d (pending then: %v), after acceptance %d; duplicate replies %d",
		byKind[0], deliverAt, byKind[1], duplicates)
	if byKind[0] < kills/2 {
		t.Errorf("only %d of %d kills came after a delivery of updates", byKind[0], kills)
	}
	if duplicates > kills*16 {
		t.Errorf("%d duplicate replies for %d kills, want at most 16 per kill", duplicates, kills)
	}
}

// unanswered counts the commands in the chat that have no reply threaded
// to them.
func unanswered(emu *telegramtest.Server, chatID int64, commands []int) int {
	replied := make(map[int]bool)
	for _, m := range emu.BotMessages(chatID) {
		replied[m.ReplyToID] = true
	}
	n := 0
	for _, id := range commands {
		if !replied[id] {
			n++
		}
	}
	return n
}

// dumpChat describes what the store holds for a chat, to diagnose a failure.
func dumpChat(path string, chatID int64) string {
	st, err := store.Open(path, store.Options{})
	if err != nil {
		return err.Error()
	}
	defer st.Close()
	var b strings.Builder
	st.View(context.Background(), func(tx *store.Tx) error {
		rows, _ := tx.PendingOutbox(0, 1<<20)
		fmt.Fprintf(&b, "outbox: %d rows\n", len(rows))
		for _, r := range rows {
			fmt.Fprintf(&b, "  row %d chat %d origin %s attempts %d not_before %v err %q\n", r.ID, r.ChatID, r.Origin, r.Attempts, r.NotBefore, r.LastError)
		}
		tx.Journal(func(e store.JournalEntry) bool {
			ds, _ := tx.DeliveriesByOrigin(fmt.Sprintf("update:%d", e.UpdateID))
			for _, d := range ds {
				if d.ChatID == chatID {
					fmt.Fprintf(&b, "  update %d %s → row %d %s ids %v %s\n", e.UpdateID, e.Handler, d.OutboxID, d.Status, d.MessageIDs, d.Reason)
				}
			}
			return true
		})
		return nil
	})
	return b.String()
}
