package admin

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Client sends requests to the admin socket at Path, one connection each.
type Client struct {
	Path string
	// Timeout bounds connecting, and each wait for the server: its answer
	// (the op's work included) and each chunk of a stream. Default 2 min.
	Timeout time.Duration
}

// Call sends op with args (encoded as JSON; nil: none) and decodes the
// result into result (nil: ignored). The server's refusals and failures
// are *Error; a failure to connect is *DialError (see NotListening).
func (c *Client) Call(ctx context.Context, op string, args, result any) error {
	_, err := c.do(ctx, op, args, nil, result)
	return err
}

// Stream is Call for an op that sends bytes: they are copied to w, and the
// result comes from the trailer. It returns the bytes copied; when err is
// nil the stream was complete.
func (c *Client) Stream(ctx context.Context, op string, args any, w io.Writer, result any) (int64, error) {
	return c.do(ctx, op, args, w, result)
}

func (c *Client) do(ctx context.Context, op string, args any, w io.Writer, result any) (int64, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	req := Request{Op: op}
	if args != nil {
		raw, err := json.Marshal(args)
		if err != nil {
			return 0, fmt.Errorf("encode %s arguments: %w", op, err)
		}
		req.Args = raw
	}
	line, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	if len(line) > MaxRequest {
		return 0, fmt.Errorf("%s: the request is %d bytes, over the socket's limit of %d", op, len(line), MaxRequest)
	}
	d := net.Dialer{Timeout: min(timeout, 5*time.Second)}
	conn, err := d.DialContext(ctx, "unix", c.Path)
	if err != nil {
		return 0, &DialError{Path: c.Path, Err: err}
	}
	defer conn.Close()
	conn.(*net.UnixConn).SetReadBuffer(4 << 20) // see the server's SetWriteBuffer
	// Cancelling ctx ends every wait at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	n, err := exchange(conn, append(line, '\n'), timeout, w, result)
	if err != nil && ctx.Err() != nil {
		return n, ctx.Err()
	}
	return n, err
}

// exchange writes the request and reads the answer.
func exchange(conn net.Conn, line []byte, timeout time.Duration, w io.Writer, result any) (int64, error) {
	conn.SetWriteDeadline(time.Now().Add(timeout))
	_, werr := conn.Write(line)
	r := bufio.NewReaderSize(conn, 1<<20)
	conn.SetReadDeadline(time.Now().Add(timeout))
	h, err := readHeader(r)
	if werr != nil {
		// A refusal (another user, too many clients) is answered
		// without reading the request: show it rather than the
		// broken pipe.
		var refused *Error
		if errors.As(err, &refused) {
			return 0, err
		}
		return 0, fmt.Errorf("send the request: %w", werr)
	}
	if err != nil {
		return 0, err
	}
	var n int64
	if h.Stream {
		if w == nil {
			return 0, errors.New("the server sent a stream that was not asked for")
		}
		if n, err = readChunks(conn, r, w, timeout); err != nil {
			return n, err
		}
		if h, err = readHeader(r); err != nil {
			return n, fmt.Errorf("after %d bytes: %w", n, err)
		}
	}
	if result != nil && len(h.Result) > 0 {
		if err := json.Unmarshal(h.Result, result); err != nil {
			return n, fmt.Errorf("decode the result: %w", err)
		}
	}
	return n, nil
}

// readHeader reads a header or trailer line; a failure it reports is an
// *Error.
func readHeader(r *bufio.Reader) (Header, error) {
	var h Header
	line, err := readLine(r, MaxHeader)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return h, errors.New("the bot closed the connection without an answer")
		}
		return h, fmt.Errorf("read the answer: %w", err)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, fmt.Errorf("not an answer: %w", err)
	}
	if !h.OK {
		return h, &Error{Code: h.Code, Message: h.Error}
	}
	return h, nil
}

// readChunks copies a chunked stream to w up to its empty last chunk.
func readChunks(conn net.Conn, r *bufio.Reader, w io.Writer, timeout time.Duration) (int64, error) {
	var n int64
	var size [4]byte
	for {
		conn.SetReadDeadline(time.Now().Add(timeout))
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return n, fmt.Errorf("the stream was cut after %d bytes: %w", n, err)
		}
		k := binary.BigEndian.Uint32(size[:])
		if k == 0 {
			return n, nil
		}
		if k > MaxChunk {
			return n, fmt.Errorf("a chunk of %d bytes, over the limit of %d", k, MaxChunk)
		}
		copied, err := io.CopyN(w, r, int64(k))
		n += copied
		if err != nil {
			if copied < int64(k) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				return n, fmt.Errorf("the stream was cut after %d bytes", n)
			}
			return n, err
		}
	}
}
