package admin

import (
	"context"
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
