package main

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"danvan/telegramtest"
)

// A monitoring port already in use stops the start before any part runs:
// no Bot API call, no scheduled job, no "started" line.
func TestHTTPPortInUseStopsTheStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	defer emu.Close()
	cfg := testConfig(t, srv.URL, emu.Token())
	cfg.HTTP.Listen = taken.Addr().String()
	logs := &syncBuffer{}
	a, err := newApp(cfg, newLogger(cfg, logs), appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = a.run(ctx)
	if err == nil || !strings.Contains(err.Error(), "http: listen on "+cfg.HTTP.Listen) {
		t.Fatalf("run: %v, want the port in use", err)
	}
	if strings.Contains(logs.String(), "danvan started") {
		t.Errorf("the bot said it started:\n%s", logs)
	}
	if n := emu.Requests("getMe"); n != 0 {
		t.Errorf("%d getMe calls before the start failed", n)
	}
}
