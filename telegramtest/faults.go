package telegramtest

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// FaultRequest describes a request a fault hook decides about.
type FaultRequest struct {
	// Method is the canonical Bot API method name, such as "sendMessage".
	Method string
	// ChatID is the request's chat_id, or 0.
	ChatID int64
}

// Fault is what a fault hook makes of one request. The zero Fault (or a nil
// *Fault) leaves the request alone.
type Fault struct {
	// Delay holds the request this long (or until the client gives up)
	// before anything else happens; alone, it makes a slow but normal
	// answer.
	Delay time.Duration
	// Reset drops the connection without an answer.
	Reset bool
	// Status and Body make a raw answer, such as a proxy's HTML 502 page.
	// Status defaults to 502 when Body is set. Status alone makes a Bot
	// API error with that code.
	Status int
	Body   string
	// RetryAfterHeader, with Body, adds a proxy's Retry-After header (in
	// seconds) to the raw answer.
	RetryAfterHeader int
	// ErrorCode, Description, RetryAfter and MigrateTo make a Bot API error
	// answer. ErrorCode defaults to 429 with RetryAfter and to 400 with
	// MigrateTo; Description defaults to Telegram's wording for the code.
	ErrorCode   int
	Description string
	RetryAfter  int
	MigrateTo   int64
	// AfterApply lets the request take effect (a message is stored, an
	// offset confirmed) before the fault replaces its answer, as when an
	// answer is lost on its way back.
	AfterApply bool
}

// active reports whether f changes the answer, not just its timing.
func (f *Fault) active() bool {
	if f == nil {
		return false
	}
	return f.Reset || f.Status != 0 || f.Body != "" || f.ErrorCode != 0 ||
		f.Description != "" || f.RetryAfter != 0 || f.MigrateTo != 0
}

// apiError returns the Bot API error f describes.
func (f *Fault) apiError() *apiError {
	code := f.ErrorCode
	switch {
	case code != 0:
	case f.RetryAfter != 0:
		code = http.StatusTooManyRequests
	case f.MigrateTo != 0:
		code = http.StatusBadRequest
	case f.Status != 0:
		code = f.Status
	default:
		code = http.StatusBadRequest
	}
	desc := f.Description
	if desc == "" {
		switch {
		case code == http.StatusTooManyRequests:
			desc = fmt.Sprintf("Too Many Requests: retry after %d", f.RetryAfter)
		case f.MigrateTo != 0:
			desc = "Bad Request: group chat was upgraded to a supergroup chat"
		case code == http.StatusBadRequest:
			desc = "Bad Request"
		case code == http.StatusBadGateway:
			desc = "Bad Gateway"
		default:
			desc = http.StatusText(code)
		}
	}
	return &apiError{code: code, description: desc, retryAfter: f.RetryAfter, migrateTo: f.MigrateTo}
}

// resetRule is one ResetNext call still in force.
type resetRule struct {
	remaining int
	methods   map[string]bool // lower-case names; empty means any method
}

// SetFault installs a hook deciding, for every request, whether to answer
// it normally (nil) or with a Fault. The hook is called without the
// server's lock, from the request's goroutine. nil removes it.
func (s *Server) SetFault(hook func(r FaultRequest) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = hook
}

// ResetNext drops the connection of the next n requests to any of methods
// (to any method when none is given), without applying them. These resets
// come before the SetFault hook. ResetNext(0) cancels pending resets.
func (s *Server) ResetNext(n int, methods ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		s.resets = nil
		return
	}
	rule := resetRule{remaining: n, methods: make(map[string]bool)}
	for _, m := range methods {
		rule.methods[strings.ToLower(m)] = true
	}
	s.resets = append(s.resets, rule)
}

// pickFault decides the fault for one request.
func (s *Server) pickFault(r FaultRequest) *Fault {
	s.mu.Lock()
	for i := range s.resets {
		rule := &s.resets[i]
		if len(rule.methods) > 0 && !rule.methods[strings.ToLower(r.Method)] {
			continue
		}
		rule.remaining--
		if rule.remaining <= 0 {
			s.resets = append(s.resets[:i], s.resets[i+1:]...)
		}
		s.mu.Unlock()
		return &Fault{Reset: true}
	}
	hook := s.fault
	s.mu.Unlock()
	if hook == nil {
		return nil
	}
	return hook(r)
}

// deliverFault answers with f instead of the normal answer.
func (s *Server) deliverFault(w http.ResponseWriter, f *Fault) {
	switch {
	case f.Reset:
		resetConnection(w)
	case f.Body != "":
		status := f.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		contentType := "application/json"
		if strings.HasPrefix(strings.TrimSpace(f.Body), "<") {
			contentType = "text/html"
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", fmt.Sprint(len(f.Body)))
		if f.RetryAfterHeader > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfterHeader))
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	default:
		e := f.apiError()
		if f.Status != 0 {
			resp := apiResponse{OK: false, ErrorCode: e.code, Description: e.description}
			if e.retryAfter != 0 || e.migrateTo != 0 {
				resp.Parameters = &apiRespParams{RetryAfter: e.retryAfter, MigrateToChatID: e.migrateTo}
			}
			writeJSON(w, f.Status, resp)
			return
		}
		writeError(w, e)
	}
}
