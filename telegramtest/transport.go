package telegramtest

import (
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
)

// Transport returns an http.RoundTripper that serves requests with s in
// memory, without sockets, so the emulator works inside testing/synctest
// bubbles. Answers stream: a long poll holds its RoundTrip until it is
// answered or the request's context ends. A reset fault makes RoundTrip
// fail with an *net.OpError wrapping ECONNRESET.
func (s *Server) Transport() http.RoundTripper {
	return memTransport{s: s}
}

type memTransport struct {
	s *Server
}

// RoundTrip runs the handler in a goroutine owned by this call: the
// goroutine ends when ServeHTTP returns, which it does once the answer is
// written (or abandoned by the client) or the request's context ends.
func (t memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	sreq := req.Clone(ctx)
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:1"

	pr, pw := io.Pipe()
	w := &memWriter{
		header: make(http.Header),
		ready:  make(chan struct{}),
		reset:  make(chan struct{}),
		pw:     pw,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sreq.Body.Close()
		defer w.finish()
		t.s.ServeHTTP(w, sreq)
	}()

	select {
	case <-w.ready:
		resp := &http.Response{
			Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
			StatusCode:    w.status,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        w.sent,
			Body:          pr,
			ContentLength: -1,
			Request:       req,
		}
		if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
			resp.ContentLength = n
		}
		return resp, nil
	case <-w.reset:
		pr.CloseWithError(errConnReset())
		return nil, errConnReset()
	case <-ctx.Done():
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
}

// errConnReset is the error a client sees when the server resets the
// connection.
func errConnReset() error {
	return &net.OpError{
		Op:   "read",
		Net:  "tcp",
		Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443},
		Err:  os.NewSyscallError("read", syscall.ECONNRESET),
	}
}

// memWriter is the ResponseWriter of an in-memory request. Only the
// handler's goroutine calls its methods; RoundTrip reads status and sent
// after ready is closed.
type memWriter struct {
	header      http.Header
	sent        http.Header
	status      int
	wroteHeader bool
	ready       chan struct{}
	reset       chan struct{}
	resetDone   bool
	pw          *io.PipeWriter
}

func (w *memWriter) Header() http.Header { return w.header }

func (w *memWriter) WriteHeader(status int) {
	if w.wroteHeader || w.resetDone {
		return
	}
	w.wroteHeader = true
	w.status = status
	w.sent = w.header.Clone()
	close(w.ready)
}

// Write blocks until the client has read p, so a flushed answer is a
// received answer.
func (w *memWriter) Write(p []byte) (int, error) {
	if w.resetDone {
		return 0, errConnReset()
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.pw.Write(p)
}

// Flush commits the header; written bytes are already with the client.
func (w *memWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
}

func (w *memWriter) resetConnection() {
	if w.resetDone {
		return
	}
	w.resetDone = true
	if w.wroteHeader {
		w.pw.CloseWithError(errConnReset())
		return
	}
	close(w.reset)
}

// finish ends the answer once the handler returns.
func (w *memWriter) finish() {
	if w.resetDone {
		w.pw.CloseWithError(errConnReset())
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.pw.Close()
}
