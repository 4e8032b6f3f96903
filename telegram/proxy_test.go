package telegram

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"danvan/delivery"
	"danvan/store"
	"danvan/telegramtest"
)

// forwardProxy is an HTTP forward proxy that sends every request to one
// target (the emulator) and remembers what it was asked for.
type forwardProxy struct {
	url   string
	mu    sync.Mutex
	hosts []string
	auth  []string
}

func newForwardProxy(t *testing.T, target string) *forwardProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &forwardProxy{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.hosts = append(p.hosts, r.URL.Host)
		p.auth = append(p.auth, r.Header.Get("Proxy-Authorization"))
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *forwardProxy) seen() (hosts, auth []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hosts...), append([]string(nil), p.auth...)
}

func TestProxyOption(t *testing.T) {
	f := newFixture(t)
	p := newForwardProxy(t, f.url)
	proxyURL := strings.Replace(p.url, "http://", "http://danvan:pa55@", 1)
	// The endpoint's host does not resolve: only the proxy can reach it.
	c, err := New(Options{Token: testToken, Endpoint: "http://api.telegram.invalid/bot%s/%s", Proxy: proxyURL})
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.GetMe(context.Background())
	if err != nil {
		t.Fatalf("GetMe through the proxy: %v", err)
	}
	if me.ID != telegramtest.DefaultBotID || me.Username != telegramtest.DefaultBotUsername {
		t.Errorf("got %+v, want the emulator's bot", me)
	}
	chat := f.emu.Private(alice)
	id, err := c.Do(context.Background(), chat.ID, store.Action{Kind: store.ActSend, Text: "qua proxy"})
	if msgs := f.emu.BotMessages(chat.ID); err != nil || len(msgs) != 1 || msgs[0].ID != id || msgs[0].Text != "qua proxy" {
		t.Errorf("send through the proxy: got %+v, %v; want message %d", msgs, err, id)
	}
	hosts, auth := p.seen()
	if len(hosts) != 2 || hosts[0] != "api.telegram.invalid" || hosts[1] != "api.telegram.invalid" {
		t.Errorf("proxy saw %v, want two requests for api.telegram.invalid", hosts)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("danvan:pa55"))
	for _, a := range auth {
		if a != wantAuth {
			t.Errorf("proxy got authorization %q, want %q", a, wantAuth)
		}
	}
}

// TestProxyFromEnvironment runs a child test process, since the standard
// library reads the proxy variables once per process. The endpoint host
// 0.0.0.0 reaches the local emulator yet is not treated as loopback, which
// ProxyFromEnvironment never proxies.
func TestProxyFromEnvironment(t *testing.T) {
	if endpoint := os.Getenv("DANVAN_TEST_PROXY_ENDPOINT"); endpoint != "" {
		c, err := New(Options{Token: testToken, Endpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		me, err := c.GetMe(context.Background())
		if err != nil || me.ID != telegramtest.DefaultBotID {
			t.Fatalf("child GetMe: got %+v, %v; want the emulator's bot", me, err)
		}
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	f := newFixture(t)
	p := newForwardProxy(t, f.url)
	u, err := url.Parse(f.url)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://0.0.0.0:" + u.Port() + "/bot%s/%s"
	tests := []struct {
		name    string
		noProxy string
		proxied bool
	}{
		{"through HTTP_PROXY", "", true},
		{"excluded by NO_PROXY", "0.0.0.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := p.seen()
			gets := f.emu.Requests("getMe")
			cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.count=1")
			cmd.Env = append(environWithoutProxies(),
				"DANVAN_TEST_PROXY_ENDPOINT="+endpoint,
				"HTTP_PROXY="+p.url, "http_proxy="+p.url, "HTTPS_PROXY="+p.url, "https_proxy="+p.url,
				"NO_PROXY="+tt.noProxy, "no_proxy="+tt.noProxy,
				// A -race child would otherwise linger a second at exit.
				"GORACE=atexit_sleep_ms=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			after, _ := p.seen()
			if got := len(after) > len(before); got != tt.proxied {
				t.Errorf("proxied: got %v, want %v (proxy saw %v)", got, tt.proxied, after[len(before):])
			}
			if got := f.emu.Requests("getMe") - gets; got != 1 {
				t.Errorf("emulator got %d getMe, want 1", got)
			}
		})
	}
}

func environWithoutProxies() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUEST_METHOD", "GORACE", "DANVAN_TEST_PROXY_ENDPOINT":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func TestTransportProxySetting(t *testing.T) {
	tests := []struct {
		proxy   string
		wantErr bool
	}{
		{"http://proxy.example:3128", false},
		{"https://user:secret@proxy.example", false},
		{"socks5://127.0.0.1:1080", false},
		{"socks5h://user:secret@proxy.example:1080", false},
		{"ftp://user:secret@proxy.example:21", true},
		{"proxy.example:3128", true},
		{"http://", true},
		{"socks5://", true},
		{"://secret@x", true},
	}
	req, err := http.NewRequest("GET", "https://api.telegram.org/bot1/getMe", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.proxy, func(t *testing.T) {
			tr, err := transport(tt.proxy, 8)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got a transport, want an error")
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("got error %q, want the proxy's password left out", err)
				}
				if _, err := New(Options{Token: testToken, Proxy: tt.proxy}); err == nil {
					t.Errorf("New: got no error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a transport", err)
			}
			got, err := tr.Proxy(req)
			if err != nil || got == nil || got.String() != tt.proxy {
				t.Errorf("got proxy %v, %v; want %s", got, err, tt.proxy)
			}
			if tr.MaxIdleConnsPerHost != 8 || tr.MaxIdleConns != 16 {
				t.Errorf("got %d idle per host, %d idle, want 8 and 16", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
			}
		})
	}
}

// TestSocks5ProxyIsUsed checks that a socks5 proxy is dialled: the fake
// proxy records the greeting and hangs up, so the call fails as temporary.
func TestSocks5ProxyIsUsed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	greeting := make(chan []byte, 1)
	go func() { // owned by this test; ends when the listener closes
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 3)
		n, _ := conn.Read(buf)
		greeting <- buf[:n]
	}()
	c, err := New(Options{Token: testToken, Endpoint: "http://api.telegram.invalid/bot%s/%s", Proxy: "socks5://" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetMe(context.Background())
	if e := delivery.Classify(err); err == nil || e.Kind != delivery.Temporary {
		t.Fatalf("got %v, want a temporary error", err)
	}
	assertErrorClean(t, err)
	select {
	case g := <-greeting:
		if len(g) == 0 || g[0] != 5 {
			t.Errorf("proxy got %v, want a SOCKS5 greeting (version 5)", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("socks5 proxy: got no connection, want the client's greeting")
	}
}
