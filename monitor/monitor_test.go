package monitor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealthzAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "danvan_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	var pollErr error
	srv := httptest.NewServer(Handler(reg,
		Check{Name: "store", Check: func(context.Context) error { return nil }},
		Check{Name: "polling", Check: func(context.Context) error { return pollErr }},
	))
	defer srv.Close()

	if code, body := get(t, srv.URL+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("healthy: %d %q, want 200 ok", code, body)
	}
	pollErr = errors.New("getUpdates failing since 2026-11-30T01:00:00Z: connection refused")
	if code, body := get(t, srv.URL+"/healthz"); code != 503 || !strings.Contains(body, "polling: getUpdates failing") {
		t.Errorf("unhealthy: %d %q, want 503 naming the check", code, body)
	}
	if code, body := get(t, srv.URL+"/metrics"); code != 200 || !strings.Contains(body, "danvan_test_total 3") {
		t.Errorf("metrics: %d, body lacks the counter:\n%s", code, body)
	}
	if code, _ := get(t, srv.URL+"/other"); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
}

func TestServeStopsWithTheContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, http.NotFoundHandler(), slog.New(slog.DiscardHandler)) }()
	// Wait until it answers.
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			t.Fatalf("never served: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
	if err := Serve(context.Background(), "256.0.0.1:1", http.NotFoundHandler(), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("Serve on a bad address succeeded")
	}
}
