// Package admin is the local socket through which danvan's command line
// reaches the running bot. bbolt lets one process open the store, so while
// `danvan run` holds it, commands that touch the data (backup, import-units,
// status for doctor…) ask the bot to do the work.
//
// The socket is a unix stream socket, mode 0600; the server also checks the
// peer's uid (SO_PEERCRED) and serves only its own user and root (root can
// read the store file anyway, so refusing it would protect nothing). The
// package knows nothing of danvan's operations: the program registers a
// Handler per op name.
//
// # Protocol
//
// One request per connection. The client writes one line of JSON, a
// Request, at most MaxRequest bytes:
//
//	{"op":"import-units","args":{…}}
//
// The server answers with one line of JSON, a Header:
//
//	{"ok":true,"result":{…}}
//	{"ok":false,"code":"unknown_op","error":"unknown op \"x\"; known: backup, status"}
//
// and closes the connection. An op that sends a byte stream (a backup)
// answers {"ok":true,"stream":true}, then the bytes in chunks — each a
// 4-byte big-endian length and that many bytes, at most MaxChunk — then an
// empty chunk (length 0) and a trailer Header, which says whether the
// stream is complete: {"ok":true,"result":{…}} or {"ok":false,…}. A stream
// cut short (the bot stopped) has no trailer and is an error.
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Limits of the protocol.
const (
	// MaxRequest bounds a request line: a unit file of 100,000 lines fits.
	MaxRequest = 16 << 20
	// MaxHeader bounds an answer's header or trailer line.
	MaxHeader = 64 << 20
	// MaxChunk bounds one chunk of a stream.
	MaxChunk = 256 << 10
)

// Request is the line a client sends.
type Request struct {
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Header is the server's answer line, and the trailer after a stream.
type Header struct {
	OK bool `json:"ok"`
	// Code and Error say why a request failed (OK false).
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// Result is the op's answer, when it has one.
	Result json.RawMessage `json:"result,omitempty"`
	// Stream says that chunks and a trailer follow.
	Stream bool `json:"stream,omitempty"`
}

// Codes of failed requests.
const (
	// CodeBadRequest: the line was not a request (bad JSON, too long, no
	// op, arguments the op does not take).
	CodeBadRequest = "bad_request"
	// CodeUnknownOp: no such op.
	CodeUnknownOp = "unknown_op"
	// CodeForbidden: the peer is another user.
	CodeForbidden = "forbidden"
	// CodeBusy: too many clients at once; try again.
	CodeBusy = "busy"
	// CodeFailed: the op failed; Error says why.
	CodeFailed = "failed"
)

// Error is a failure reported by the server, or returned by a Handler to
// choose the code.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// BadRequest returns an error answered with CodeBadRequest.
func BadRequest(format string, args ...any) error {
	return &Error{Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// DialError is returned by the client when it could not connect: nothing
// listens, the socket is missing, or it may not be opened.
type DialError struct {
	Path string
	Err  error
}

func (e *DialError) Error() string { return fmt.Sprintf("admin socket %s: %v", e.Path, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }

// NotListening reports whether err says that no bot listens on the socket:
// the socket file is missing, or it is left over from a process that is
// gone. Then the command line may open the store itself.
func NotListening(err error) bool {
	var d *DialError
	return errors.As(err, &d) && (errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED))
}

// Unreachable reports whether err is any failure to connect (NotListening,
// but also a socket the user may not open or a timeout): nothing was sent.
func Unreachable(err error) bool {
	var d *DialError
	return errors.As(err, &d)
}

// RemoveStale removes a socket file left at path by a process that is
// gone, so that Listen can bind there. Call it only while holding the
// store's lock: a process that holds it is the only one that may serve
// this store, so a socket nobody answers on is stale. It refuses to remove
// a file that is not a socket, and a socket something still answers on.
func RemoveStale(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: move it away or set [admin] socket to another path", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("another process answers on %s: set [admin] socket to another path for this store", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// Listen binds the socket at path, owner only (mode 0600). The directory
// should be private too (the store's is created 0700): between bind and
// chmod the umask's mode applies, and the peer check refuses other users
// in any case. Close the listener, then remove the file, on shutdown.
func Listen(path string) (*net.UnixListener, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	// The file stays until removed by whoever knows it is theirs.
	l.SetUnlinkOnClose(false)
	// Until the chmod another user could connect; the peer check on every
	// connection refuses them all the same.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		os.Remove(path)
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return l, nil
}
