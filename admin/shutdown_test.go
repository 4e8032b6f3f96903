package admin

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// A client that connects and sends nothing, or stops reading, does not
// hold up the bot's stop: Serve cuts its connection and returns at once,
// well before the request's read timeout.
func TestServeReturnsPromptlyWithAnIdleClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sock")
	s := NewServer(Options{ReadTimeout: time.Hour})
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Make sure the server has accepted it before stopping.
	(&Client{Path: path}).Call(context.Background(), "nothing", nil, nil)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still waits for an idle client 10 s after the stop")
	}
}

// A burst of clients while every slot is taken is answered "busy" at
// once, not one wait after another: only one connection waits for a slot
// at a time, outside the accept loop.
func TestBurstWhileBusy(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	path, _ := testServer(t, Options{MaxClients: 1}, map[string]Handler{
		"block": func(context.Context, *Call) (any, error) { close(started); <-release; return "done", nil },
	})
	c := &Client{Path: path}
	done := make(chan error, 1)
	go func() { done <- c.Call(context.Background(), "block", nil, nil) }()
	<-started
	const burst = 20
	errs := make(chan error, burst)
	begin := time.Now()
	for range burst {
		go func() { errs <- c.Call(context.Background(), "echo", nil, nil) }()
	}
	busy := 0
	for range burst {
		var e *Error
		if err := <-errs; errors.As(err, &e) && e.Code == CodeBusy {
			busy++
		}
	}
	// Each waits at most busyWait; one after another they would take 20×.
	if elapsed := time.Since(begin); elapsed > 10*busyWait {
		t.Errorf("%d busy answers took %v, want them within a few waits", busy, elapsed)
	}
	if busy != burst {
		t.Errorf("%d of %d answered busy", busy, burst)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the first client: %v", err)
	}
}
