package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type echoArgs struct {
	Text string `json:"text"`
}

type echoResult struct {
	Text string `json:"text"`
	UID  int    `json:"uid"`
}

// testServer serves the test ops on a socket in a temporary directory
// until the test ends; it returns the socket's path.
func testServer(t *testing.T, o Options, extra map[string]Handler) (string, *Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.sock")
	s := NewServer(o)
	s.Handle("echo", func(_ context.Context, call *Call) (any, error) {
		var a echoArgs
		if err := call.Decode(&a); err != nil {
			return nil, err
		}
		return echoResult{Text: a.Text, UID: call.UID}, nil
	})
	s.Handle("bytes", func(_ context.Context, call *Call) (any, error) {
		var n int
		if err := call.Decode(&n); err != nil {
			return nil, err
		}
		w, err := call.Stream()
		if err != nil {
			return nil, err
		}
		written, err := w.Write(pattern(n))
		return written, err
	})
	for name, h := range extra {
		s.Handle(name, h)
	}
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path, s
}

// pattern returns n bytes that differ from chunk to chunk.
func pattern(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{7}).Read(b)
	return b
}

// raw sends line as is and returns the server's first answer line.
func raw(t *testing.T, path string, line []byte) Header {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go conn.Write(line) // the server may answer before reading it all
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	answer, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no answer to %.40q: %v", line, err)
	}
	var h Header
	if err := json.Unmarshal(answer, &h); err != nil {
		t.Fatalf("answer %q: %v", answer, err)
	}
	return h
}

func TestSocketIsOwnerOnly(t *testing.T) {
	path, _ := testServer(t, Options{}, nil)
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with mode 600", info.Mode())
	}
}

func TestCallAndStream(t *testing.T) {
	path, _ := testServer(t, Options{}, nil)
	c := &Client{Path: path}
	var got echoResult
	if err := c.Call(context.Background(), "echo", echoArgs{Text: "Xin chào, Thái Bình"}, &got); err != nil {
		t.Fatal(err)
	}
	// The peer is this process: the kernel's answer, not an injected one.
	if got.Text != "Xin chào, Thái Bình" || got.UID != os.Geteuid() {
		t.Errorf("echo: got %+v, want the text back and uid %d", got, os.Geteuid())
	}
	for _, size := range []int{0, 1, MaxChunk - 1, MaxChunk, 3*MaxChunk + 17, 5 << 20} {
		var buf bytes.Buffer
		var written int
		n, err := c.Stream(context.Background(), "bytes", size, &buf, &written)
		if err != nil {
			t.Fatalf("stream of %d bytes: %v", size, err)
		}
		if n != int64(size) || written != size || !bytes.Equal(buf.Bytes(), pattern(size)) {
			t.Errorf("stream of %d bytes: got %d (trailer %d), same bytes %v", size, n, written, bytes.Equal(buf.Bytes(), pattern(size)))
		}
	}
}

// TestMalformedRequests: every broken request gets an error answer, a
// panicking op too, and the server keeps serving.
func TestMalformedRequests(t *testing.T) {
	path, _ := testServer(t, Options{}, map[string]Handler{
		"panic": func(context.Context, *Call) (any, error) { panic("broken op") },
		"fail":  func(context.Context, *Call) (any, error) { return nil, errors.New("disk full") },
	})
	tests := []struct {
		name    string
		line    []byte
		code    string
		message string
	}{
		{"not JSON", []byte("hello\n"), CodeBadRequest, "not a JSON request"},
		{"no op", []byte("{}\n"), CodeBadRequest, `no "op"`},
		{"unknown field", []byte(`{"op":"echo","extra":1}` + "\n"), CodeBadRequest, "not a JSON request"},
		{"unknown op", []byte(`{"op":"drop-tables"}` + "\n"), CodeUnknownOp, "known: bytes, echo, fail, panic"},
		{"bad arguments", []byte(`{"op":"echo","args":{"text":1}}` + "\n"), CodeBadRequest, "arguments of echo"},
		{"unknown argument", []byte(`{"op":"echo","args":{"txt":"x"}}` + "\n"), CodeBadRequest, "unknown field"},
		{"too long", append(bytes.Repeat([]byte("a"), MaxRequest+1), '\n'), CodeBadRequest, "longer than"},
		{"just too long, no newline", bytes.Repeat([]byte("{"), MaxRequest+1), CodeBadRequest, "longer than"},
		{"an op that panics", []byte(`{"op":"panic"}` + "\n"), CodeFailed, "internal error in panic"},
		{"an op that fails", []byte(`{"op":"fail"}` + "\n"), CodeFailed, "disk full"},
		{"nothing sent in time", nil, CodeBadRequest, "no request line within"},
	}
	// A server that waits a short time for the request line.
	impatient, _ := testServer(t, Options{ReadTimeout: 100 * time.Millisecond}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := path
			if tt.line == nil {
				to = impatient
			}
			h := raw(t, to, tt.line)
			if h.OK || h.Code != tt.code || !strings.Contains(h.Error, tt.message) {
				t.Errorf("got %+v, want code %s and %q", h, tt.code, tt.message)
			}
		})
	}
	t.Run("a line cut short", func(t *testing.T) {
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte(`{"op":"echo"`))
		conn.(*net.UnixConn).CloseWrite()
		answer, _ := io.ReadAll(conn)
		if !strings.Contains(string(answer), "does not end with a newline") {
			t.Errorf("got %q, want a bad request", answer)
		}
	})
	var got echoResult
	if err := (&Client{Path: path}).Call(context.Background(), "echo", echoArgs{Text: "still here"}, &got); err != nil || got.Text != "still here" {
		t.Errorf("after the broken requests: %+v, %v", got, err)
	}
}

func TestOtherUserIsRefused(t *testing.T) {
	other := os.Geteuid() + 4242
	var ran atomic.Int32
	var peer atomic.Int64
	path, s := testServer(t, Options{PeerUID: func(*net.UnixConn) (int, error) { return int(peer.Load()), nil }}, map[string]Handler{
		"count": func(context.Context, *Call) (any, error) { ran.Add(1); return nil, nil },
	})
	c := &Client{Path: path}
	peer.Store(int64(other))
	err := c.Call(context.Background(), "count", nil, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeForbidden || !strings.Contains(e.Message, "run the command as the bot's user") {
		t.Errorf("another user: got %v, want forbidden", err)
	}
	if ran.Load() != 0 {
		t.Error("the op ran for another user")
	}
	if s.Allowed(other) || !s.Allowed(os.Geteuid()) || !s.Allowed(0) {
		t.Errorf("Allowed: other %v, self %v, root %v; want false, true, true", s.Allowed(other), s.Allowed(os.Geteuid()), s.Allowed(0))
	}
	for _, uid := range []int{os.Geteuid(), 0} {
		peer.Store(int64(uid))
		if err := c.Call(context.Background(), "count", nil, nil); err != nil {
			t.Errorf("uid %d: %v", uid, err)
		}
	}
	if ran.Load() != 2 {
		t.Errorf("the op ran %d times, want 2 (own user and root)", ran.Load())
	}
}

func TestBusy(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	path, _ := testServer(t, Options{MaxClients: 1}, map[string]Handler{
		"block": func(context.Context, *Call) (any, error) { close(started); <-release; return "done", nil },
	})
	c := &Client{Path: path}
	done := make(chan error, 1)
	go func() {
		var s string
		done <- c.Call(context.Background(), "block", nil, &s)
	}()
	<-started
	var e *Error
	if err := c.Call(context.Background(), "echo", nil, nil); !errors.As(err, &e) || e.Code != CodeBusy {
		t.Errorf("second client: got %v, want busy", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first client: %v", err)
	}
	if err := c.Call(context.Background(), "echo", nil, nil); err != nil {
		t.Errorf("after the first finished: %v", err)
	}
}

func TestStreamErrors(t *testing.T) {
	path, _ := testServer(t, Options{}, map[string]Handler{
		"half": func(_ context.Context, call *Call) (any, error) {
			w, _ := call.Stream()
			w.Write(pattern(100_000))
			return nil, errors.New("read error at page 12")
		},
	})
	var buf bytes.Buffer
	n, err := (&Client{Path: path}).Stream(context.Background(), "half", nil, &buf, nil)
	var e *Error
	if !errors.As(err, &e) || e.Message != "read error at page 12" || n != 100_000 {
		t.Errorf("failed stream: %d bytes, %v; want the error in the trailer after 100000 bytes", n, err)
	}

	// A server that dies mid-stream leaves no trailer.
	cut := filepath.Join(t.TempDir(), "cut.sock")
	l, err := net.Listen("unix", cut)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		bufio.NewReader(conn).ReadBytes('\n')
		conn.Write([]byte("{\"ok\":true,\"stream\":true}\n\x00\x00\x00\x64only ten.."))
		conn.Close()
	}()
	n, err = (&Client{Path: cut}).Stream(context.Background(), "backup", nil, &buf, nil)
	if err == nil || !strings.Contains(err.Error(), "cut") {
		t.Errorf("cut stream: %d bytes, %v; want an error saying it was cut", n, err)
	}
}

func TestCancelledServerEndsStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sock")
	s := NewServer(Options{})
	s.Handle("forever", func(ctx context.Context, call *Call) (any, error) {
		w, _ := call.Stream()
		for ctx.Err() == nil {
			if _, err := w.Write(make([]byte, 1024)); err != nil {
				return nil, err
			}
		}
		return nil, ctx.Err()
	})
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	// The client cancels Serve once it has received some bytes.
	w := &cancelAfter{n: 1 << 20, cancel: cancel}
	_, err = (&Client{Path: path}).Stream(context.Background(), "forever", nil, w, nil)
	if err == nil {
		t.Error("a stream stopped by the server's shutdown ended without error")
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.n -= len(p)
	if c.n <= 0 {
		c.cancel()
	}
	return len(p), nil
}

func TestRemoveStaleAndNotListening(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	missing := filepath.Join(dir, "missing.sock")
	if err := RemoveStale(missing); err != nil {
		t.Errorf("missing: %v", err)
	}
	if err := (&Client{Path: missing}).Call(ctx, "status", nil, nil); !NotListening(err) {
		t.Errorf("call to a missing socket: got %v, want NotListening", err)
	}

	// A socket left by a killed process: nothing answers.
	stale := filepath.Join(dir, "stale.sock")
	l, err := Listen(stale)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := (&Client{Path: stale}).Call(ctx, "status", nil, nil); !NotListening(err) {
		t.Errorf("call to a stale socket: got %v, want NotListening", err)
	}
	if err := RemoveStale(stale); err != nil {
		t.Errorf("stale: %v", err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale socket still there: %v", err)
	}

	live, _ := testServer(t, Options{}, nil)
	if err := RemoveStale(live); err == nil || !strings.Contains(err.Error(), "another process answers") {
		t.Errorf("live socket: got %v, want a refusal", err)
	}
	if err := (&Client{Path: live}).Call(ctx, "echo", nil, nil); err != nil {
		t.Errorf("the live socket stopped answering: %v", err)
	}

	regular := filepath.Join(dir, "notes.txt")
	os.WriteFile(regular, []byte("x"), 0o600)
	if err := RemoveStale(regular); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: got %v, want a refusal", err)
	}
	if _, err := os.Stat(regular); err != nil {
		t.Errorf("the regular file was removed: %v", err)
	}
}
