package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// Handler serves one op. It reads its arguments with call.Decode and
// returns the result to send, encoded as JSON (nil: none). To send bytes it
// calls call.Stream first and writes to the writer it gets; the result then
// goes in the trailer. An *Error chooses the failure's code; any other
// error is answered with CodeFailed and the error's text. ctx is cancelled
// when the server stops.
type Handler func(ctx context.Context, call *Call) (any, error)

// Call is one request being served.
type Call struct {
	Op   string
	Args json.RawMessage
	// UID is the peer's user id.
	UID int

	answer   *answer
	streamed bool
}

// Decode reads the request's arguments into v. Fields v does not have are
// a bad request (a newer command line talking to an older bot says so
// instead of being half understood); no arguments leave v as it is.
func (c *Call) Decode(v any) error {
	if len(c.Args) == 0 || string(c.Args) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(c.Args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return BadRequest("arguments of %s: %v", c.Op, err)
	}
	return nil
}

// Stream answers that a byte stream follows and returns the writer of its
// chunks. Call it once, before writing.
func (c *Call) Stream() (io.Writer, error) {
	if c.streamed {
		return nil, errors.New("admin: Stream called twice")
	}
	c.streamed = true
	if err := c.answer.header(Header{OK: true, Stream: true}); err != nil {
		return nil, err
	}
	return c.answer.chunks, nil
}

// Options configure a Server.
type Options struct {
	Log *slog.Logger
	// MaxClients is how many connections are served at once; more are
	// answered CodeBusy. Default 8.
	MaxClients int
	// ReadTimeout bounds the wait for the request line (default 10 s);
	// WriteTimeout each write of the answer to a client that does not
	// read (default 1 min).
	ReadTimeout, WriteTimeout time.Duration
	// PeerUID returns the user id of the process at the other end;
	// default: the kernel's SO_PEERCRED. Tests inject another.
	PeerUID func(*net.UnixConn) (int, error)
}

// Server answers requests on the admin socket with the registered ops.
type Server struct {
	opts Options
	uid  int
	ops  map[string]Handler
}

// NewServer returns a server with no ops. It serves the process's own
// (effective) user and root.
func NewServer(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 8
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = time.Minute
	}
	if o.PeerUID == nil {
		o.PeerUID = peerUID
	}
	return &Server{opts: o, uid: os.Geteuid(), ops: make(map[string]Handler)}
}

// Handle registers the handler of an op; registering a name twice is a
// programming error and panics.
func (s *Server) Handle(op string, h Handler) {
	if _, dup := s.ops[op]; dup || op == "" || h == nil {
		panic(fmt.Sprintf("admin: bad or duplicate op %q", op))
	}
	s.ops[op] = h
}

// Ops returns the registered op names, sorted.
func (s *Server) Ops() []string {
	names := make([]string, 0, len(s.ops))
	for name := range s.ops {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Allowed reports whether a peer with this uid is served: the server's own
// user, or root.
func (s *Server) Allowed(uid int) bool { return uid == s.uid || uid == 0 }

// Serve accepts connections on l until ctx is cancelled, then closes l and
// every open connection, and returns once their goroutines are done. Each connection is served by a
// goroutine that Serve owns.
func (s *Server) Serve(ctx context.Context, l *net.UnixListener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	slots := make(chan struct{}, s.opts.MaxClients)
	waiting := make(chan struct{}, 1)
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors or the like: wait a little.
			s.opts.Log.Warn("admin socket: accept failed", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		select {
		case slots <- struct{}{}:
			wg.Go(func() {
				defer func() { <-slots }()
				s.serve(ctx, c)
			})
			continue
		default:
		}
		// A client served a moment ago may have its answer before its
		// slot is free: one connection at a time waits that moment, in
		// its own goroutine, so the accept loop goes on.
		select {
		case waiting <- struct{}{}:
			wg.Go(func() {
				slot := time.NewTimer(busyWait)
				defer slot.Stop()
				select {
				case slots <- struct{}{}:
					<-waiting // served now: another may wait
					defer func() { <-slots }()
					s.serve(ctx, c)
				case <-slot.C:
					<-waiting
					s.busy(c)
				case <-ctx.Done():
					<-waiting
					c.Close()
				}
			})
		default:
			// Answered here, briefly, so a flood cannot grow goroutines.
			s.busy(c)
		}
	}
}

// busy tells the client every slot is taken, and closes the connection.
func (s *Server) busy(c *net.UnixConn) {
	a := s.newAnswer(c)
	a.timeout = time.Second
	a.fail(&Error{Code: CodeBusy, Message: fmt.Sprintf("the bot is serving %d commands already; try again", s.opts.MaxClients)})
	c.Close()
}

// busyWait is how long a connection waits for a free slot before it is
// told the bot is busy.
const busyWait = 250 * time.Millisecond

func (s *Server) serve(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	// When the bot stops, a client that sends nothing or reads slowly
	// must not hold it up: its connection is cut.
	defer context.AfterFunc(ctx, func() { c.Close() })()
	// Bigger than the default so a backup streams without a switch to
	// the reader every few chunks (twice as fast; capped by the kernel).
	c.SetWriteBuffer(4 << 20)
	a := s.newAnswer(c)
	uid, err := s.opts.PeerUID(c)
	if err != nil {
		s.opts.Log.Warn("admin socket: cannot identify the peer", "err", err)
		a.fail(&Error{Code: CodeForbidden, Message: "cannot identify the user of this connection"})
		return
	}
	if !s.Allowed(uid) {
		s.opts.Log.Warn("admin socket: connection from another user refused", "uid", uid)
		a.fail(&Error{Code: CodeForbidden, Message: fmt.Sprintf(
			"user %d may not use this socket: run the command as the bot's user (uid %d)", uid, s.uid)})
		return
	}
	req, err := s.readRequest(c)
	if errors.Is(err, io.EOF) {
		return // connected and left without a word: a probe
	}
	if err != nil {
		s.opts.Log.Warn("admin socket: bad request", "uid", uid, "err", err)
		a.fail(err)
		return
	}
	h := s.ops[req.Op]
	if h == nil {
		s.opts.Log.Warn("admin socket: unknown op", "uid", uid, "op", truncate(req.Op, 40))
		a.fail(&Error{Code: CodeUnknownOp, Message: fmt.Sprintf("unknown op %q; known: %s", truncate(req.Op, 40), strings.Join(s.Ops(), ", "))})
		return
	}
	call := &Call{Op: req.Op, Args: req.Args, UID: uid, answer: a}
	start := time.Now()
	result, err := s.run(ctx, h, call)
	if err == nil {
		err = a.finish(call.streamed, result)
	} else if call.streamed {
		a.endStream(err, nil)
	} else {
		a.fail(err)
	}
	if err != nil {
		s.opts.Log.Error("admin request failed", "op", req.Op, "uid", uid, "took", time.Since(start), "err", err)
		return
	}
	s.opts.Log.Info("admin request", "op", req.Op, "uid", uid, "took", time.Since(start))
}

// run calls the handler, turning a panic into an error: a broken op must
// not take the bot down.
func (s *Server) run(ctx context.Context, h Handler, call *Call) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.opts.Log.Error("admin op panicked", "op", call.Op, "panic", r, "stack", string(debug.Stack()))
			result, err = nil, fmt.Errorf("internal error in %s", call.Op)
		}
	}()
	return h(ctx, call)
}

// readRequest reads and decodes the request line, within ReadTimeout and
// MaxRequest bytes. io.EOF means the client sent nothing.
func (s *Server) readRequest(c *net.UnixConn) (Request, error) {
	var req Request
	c.SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
	defer c.SetReadDeadline(time.Time{})
	line, err := readLine(bufio.NewReader(io.LimitReader(c, MaxRequest+1)), MaxRequest)
	if errors.Is(err, io.EOF) && len(line) == 0 {
		return req, io.EOF
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return req, BadRequest("no request line within %v", s.opts.ReadTimeout)
	case errors.Is(err, errTooLong):
		return req, BadRequest("request longer than %d bytes", MaxRequest)
	case errors.Is(err, io.EOF):
		return req, BadRequest("the request line does not end with a newline")
	case err != nil:
		return req, err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, BadRequest("not a JSON request: %v", err)
	}
	if req.Op == "" {
		return req, BadRequest(`no "op" in the request`)
	}
	return req, nil
}

var errTooLong = errors.New("line too long")

// readLine reads up to and without '\n', at most limit bytes.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		part, err := r.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > limit+1 || (len(line) > limit && line[len(line)-1] != '\n') {
			return nil, errTooLong
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, err
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// answer writes a response to one connection, each write within timeout.
type answer struct {
	conn    *net.UnixConn
	timeout time.Duration
	sent    bool // the header is written
	chunks  *chunkWriter
	log     *slog.Logger
}

func (s *Server) newAnswer(c *net.UnixConn) *answer {
	a := &answer{conn: c, timeout: s.opts.WriteTimeout, log: s.opts.Log}
	a.chunks = &chunkWriter{a: a, buf: make([]byte, 4, 4+MaxChunk)}
	return a
}

func (a *answer) Write(p []byte) (int, error) {
	a.conn.SetWriteDeadline(time.Now().Add(a.timeout))
	return a.conn.Write(p)
}

func (a *answer) header(h Header) error {
	line, err := json.Marshal(h)
	if err != nil {
		return err
	}
	a.sent = true
	_, err = a.Write(append(line, '\n'))
	return err
}

// fail answers an error, unless a header went out already.
func (a *answer) fail(err error) {
	if a.sent {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeFailed, Message: err.Error()}
	}
	a.header(Header{Code: e.Code, Error: e.Message})
}

// finish sends the result: as the answer, or as the trailer of a stream.
func (a *answer) finish(streamed bool, result any) error {
	var raw json.RawMessage
	if result != nil {
		var err error
		if raw, err = json.Marshal(result); err != nil {
			err = fmt.Errorf("encode the result: %w", err)
			if streamed {
				a.endStream(err, nil)
			} else {
				a.fail(err)
			}
			return err
		}
	}
	if streamed {
		return a.endStream(nil, raw)
	}
	return a.header(Header{OK: true, Result: raw})
}

// endStream flushes the chunks and writes the end of the stream and the
// trailer; a failed stream gets an error trailer.
func (a *answer) endStream(failure error, result json.RawMessage) error {
	if err := a.chunks.flush(); err != nil {
		return err // the client is gone
	}
	if _, err := a.Write([]byte{0, 0, 0, 0}); err != nil {
		return err
	}
	if failure != nil {
		var e *Error
		if !errors.As(failure, &e) {
			e = &Error{Code: CodeFailed, Message: failure.Error()}
		}
		return a.header(Header{Code: e.Code, Error: e.Message})
	}
	return a.header(Header{OK: true, Result: result})
}

// chunkWriter frames a stream in chunks of at most MaxChunk bytes; buf
// keeps 4 bytes in front for the length.
type chunkWriter struct {
	a   *answer
	buf []byte
	err error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if w.err != nil {
			return n, w.err
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p, n = p[k:], n+k
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
	}
	return n, w.err
}

func (w *chunkWriter) flush() error {
	if w.err != nil || len(w.buf) == 4 {
		return w.err
	}
	binary.BigEndian.PutUint32(w.buf, uint32(len(w.buf)-4))
	_, w.err = w.a.Write(w.buf)
	w.buf = w.buf[:4]
	return w.err
}
