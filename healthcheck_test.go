package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		if !healthy.Load() {
			http.Error(w, "polling: getUpdates failing", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := strings.Cut(addr, ":")

	tests := []struct {
		name       string
		listen     string
		healthy    bool
		wantCode   int
		wantOutput string
	}{
		{"healthy", addr, true, 0, "ok"},
		{"wildcard listen is dialled on the loopback", "0.0.0.0:" + port, true, 0, "ok"},
		{"unhealthy", addr, false, 1, "unhealthy (503 Service Unavailable): polling: getUpdates failing"},
		{"nothing listens", "127.0.0.1:1", true, 1, "does not answer (is danvan running?)"},
		{"listener off", "", true, 1, "http.listen is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			healthy.Store(tt.healthy)
			var out, errOut bytes.Buffer
			env := []string{"DANVAN_HTTP_LISTEN=" + tt.listen, "HTTP_PROXY=http://127.0.0.1:1", "http_proxy=http://127.0.0.1:1"}
			code := dispatch([]string{"healthcheck"}, &out, &errOut, env)
			if code != tt.wantCode || !strings.Contains(out.String()+errOut.String(), tt.wantOutput) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out.String(), errOut.String(), tt.wantCode, tt.wantOutput)
			}
		})
	}
}
