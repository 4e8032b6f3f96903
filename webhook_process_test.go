package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"danvan/store"
	"danvan/telegramtest"
)

// frontProxy stands for the reverse proxy that ends TLS in front of the
// webhook listener: Telegram posts to it, it forwards to the current
// process's port, and answers 502 while no process listens.
type frontProxy struct {
	mu     sync.Mutex
	target *url.URL
}

func (p *frontProxy) set(target *url.URL) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

func (p *frontProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	if target == nil {
		http.Error(w, "no backend", http.StatusBadGateway)
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite:      func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	rp.ServeHTTP(w, r)
}

var listeningAt = regexp.MustCompile(`msg="listening for webhook requests".* addr=(127\.0\.0\.1:\d+)`)

// webhookAddr waits for the child to say where its webhook listener is.
func webhookAddr(t *testing.T, c *child) *url.URL {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if m := listeningAt.FindStringSubmatch(c.stderr.String()); m != nil {
			return &url.URL{Scheme: "http", Host: m[1]}
		}
		select {
		case <-c.done:
			t.Fatalf("exited before listening:\n%s", c.stderr)
		case <-deadline:
			t.Fatalf("no webhook listener after 15 s:\n%s", c.stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestWebhookCrashLosesNothing runs the real binary in webhook mode
// behind a reverse proxy and kills it with SIGKILL while the emulator
// posts 400 updates, 40 at a time: at instants when a request has reached
// the bot and before it could commit, and when the bot has answered but
// the answer is lost (Telegram never learns it was applied). Each restart
// sets the webhook again; Telegram's redeliveries are applied once: one
// effect in the store and a reply for every update.
func TestWebhookCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the binary several times")
	}
	const (
		updates = 400
		users   = 20
		kills   = 6
	)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DANVAN_CRASH_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (set DANVAN_CRASH_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, 2))

	emu, apiURL := newEmulator(t)
	proxy := &frontProxy{}
	front := httptest.NewServer(proxy)
	defer front.Close()
	const secret = "proc_Webhook-secret_42"
	path := filepath.Join(t.TempDir(), "hook.db")
	env := childEnv(apiURL, emu.Token(), path, "DANVAN_LOG_LEVEL=debug",
		"DANVAN_TELEGRAM_MODE=webhook", "DANVAN_WEBHOOK_LISTEN=127.0.0.1:0",
		"DANVAN_WEBHOOK_PUBLIC_URL="+front.URL+"/tg/hook", "DANVAN_WEBHOOK_SECRET_TOKEN="+secret)

	// The plan: half the kills while a request is with the bot, half
	// after its answer (then lost); how many such events to let pass.
	type kill struct {
		afterAnswer bool
		skip        int
	}
	var plan []kill
	for i := range kills {
		plan = append(plan, kill{afterAnswer: i%2 == 1, skip: 5 + rng.IntN(30)})
	}
	var (
		mu      sync.Mutex
		current *child
		next    int
		seen    int
		killed  = make(chan struct{}, 1)
		logs    []string
	)
	// maybeKill runs in the emulator's hooks; it returns once the process
	// is gone, so when it says so the answer is lost for sure.
	maybeKill := func(afterAnswer bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(plan) || current == nil || plan[next].afterAnswer != afterAnswer {
			return false
		}
		if seen < plan[next].skip {
			seen++
			return false
		}
		proxy.set(nil)
		current.cmd.Process.Kill()
		<-current.done
		logs = append(logs, current.stderr.String())
		current, seen = nil, 0
		next++
		killed <- struct{}{}
		return true
	}
	emu.SetOnWebhookPost(func(int64) { maybeKill(false) })
	emu.SetOnWebhookAnswer(func(_ int64, status int) bool { return status == http.StatusOK && maybeKill(true) })

	setBefore := 0 // setWebhook requests before the last start
	start := func() {
		setBefore = emu.Requests("setWebhook")
		c := startChild(t, env, "run")
		proxy.set(webhookAddr(t, c))
		mu.Lock()
		current = c
		mu.Unlock()
	}

	people := make([]telegramtest.User, users)
	sent := make(map[int64][]int)
	for i := range people {
		people[i] = telegramtest.User{ID: int64(60000 + i), FirstName: fmt.Sprintf("Người %d", i), LanguageCode: "vi"}
		emu.Private(people[i])
	}
	start()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := emu.WaitWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	// A steady stream: a chunk, then let the bot (or its next
	// incarnation) take it, so the kills fall mid-stream.
	feederDone := make(chan struct{})
	go func() {
		defer close(feederDone)
		for i := range updates {
			u := people[i%users]
			m := emu.SendText(u, emu.Private(u), "/id")
			mu.Lock()
			sent[u.ID] = append(sent[u.ID], m.ID)
			mu.Unlock()
			if i%50 == 49 {
				emu.WaitPending(ctx, 20)
			}
		}
	}()
	for restarts := 0; restarts < kills; restarts++ {
		select {
		case <-killed:
			start()
		case <-ctx.Done():
			mu.Lock()
			t.Fatalf("only %d of %d kills happened (plan %+v); pending %d", next, kills, plan, emu.Pending())
		}
	}
	<-feederDone
	if err := emu.WaitPending(ctx, 0); err != nil {
		t.Fatalf("updates never all acknowledged: %v", err)
	}
	// Every command answered.
	for _, u := range people {
		for {
			have := len(emu.BotMessages(u.ID))
			mu.Lock()
			missing := unanswered(emu, u.ID, sent[u.ID])
			mu.Unlock()
			if missing == 0 {
				break
			}
			if _, err := emu.WaitBotMessages(ctx, u.ID, have+1); err != nil {
				t.Fatalf("user %d: %d commands unanswered: %v\n%s", u.ID, missing, err, current.stderr)
			}
		}
	}
	mu.Lock()
	last := current
	mu.Unlock()
	last.cmd.Process.Signal(syscall.SIGTERM)
	if code := last.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, last.stderr)
	}
	logs = append(logs, last.stderr.String())
	for i, out := range logs {
		for _, form := range []string{secret, emu.Token(), strings.Split(emu.Token(), ":")[1]} {
			if strings.Contains(out, form) {
				t.Errorf("process %d printed the secret or the token", i)
			}
		}
	}

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
	// A process killed at once may not have got to it; the last did.
	if n := emu.Requests("setWebhook"); n <= setBefore || n > kills+1 {
		t.Errorf("setWebhook called %d times over %d starts, %d before the last", n, kills+1, setBefore)
	}
	t.Logf("%d kills; duplicate replies %d", kills, duplicates)
	if duplicates > kills*16 {
		t.Errorf("%d duplicate replies for %d kills, want at most 16 per kill", duplicates, kills)
	}
}
