package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxUploadMemory bounds the multipart form held in memory; Telegram's own
// upload limit for bots is 50 MB.
const maxUploadMemory = 64 << 20

// apiError is a Bot API error answer.
type apiError struct {
	code        int
	description string
	retryAfter  int
	migrateTo   int64
}

func badRequest(description string) *apiError {
	return &apiError{code: http.StatusBadRequest, description: "Bad Request: " + description}
}

func forbidden(description string) *apiError {
	return &apiError{code: http.StatusForbidden, description: "Forbidden: " + description}
}

// params are a request's parameters, whatever the encoding they came in.
type params struct {
	values map[string]string
	files  map[string]upload
}

// upload is a file part of a multipart request.
type upload struct {
	name string
	data []byte
}

func (p params) str(key string) string { return p.values[key] }

func (p params) has(key string) bool {
	v, ok := p.values[key]
	return ok && v != "" && v != "null"
}

// int64 parses an integer parameter; ok is false when it is missing or not
// a number.
func (p params) int64(key string) (int64, bool) {
	v := strings.TrimSpace(p.values[key])
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func (p params) int(key string) int {
	n, _ := p.int64(key)
	return int(n)
}

func (p params) bool(key string) bool {
	switch strings.ToLower(strings.TrimSpace(p.values[key])) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}

// outcome is what a method handler decided.
type outcome struct {
	result      any
	err         *apiError
	description string // optional text on a successful answer
	// accepted marks a send, edit or delete applied to the state.
	accepted  bool
	chatID    int64
	messageID int
	// delivered lists the update_ids a getUpdates answer carries.
	delivered []int64
	// noAnswer means the client went away: nothing is written.
	noAnswer bool
}

type handlerFunc func(s *Server, ctx context.Context, p params) outcome

// lookupMethod resolves a method name, case-insensitively as Telegram does,
// to its canonical name and handler; fn is nil for unknown methods.
func lookupMethod(name string) (canonical string, fn handlerFunc) {
	switch strings.ToLower(name) {
	case "getme":
		return "getMe", (*Server).getMe
	case "getupdates":
		return "getUpdates", (*Server).getUpdates
	case "setwebhook":
		return "setWebhook", (*Server).setWebhook
	case "deletewebhook":
		return "deleteWebhook", (*Server).deleteWebhook
	case "getwebhookinfo":
		return "getWebhookInfo", (*Server).getWebhookInfo
	case "sendmessage":
		return "sendMessage", (*Server).sendMessage
	case "sendphoto":
		return "sendPhoto", (*Server).sendPhoto
	case "sendchataction":
		return "sendChatAction", (*Server).sendChatAction
	case "senddocument":
		return "sendDocument", (*Server).sendDocument
	case "editmessagetext":
		return "editMessageText", (*Server).editMessageText
	case "editmessagereplymarkup":
		return "editMessageReplyMarkup", (*Server).editMessageReplyMarkup
	case "deletemessage":
		return "deleteMessage", (*Server).deleteMessage
	case "answercallbackquery":
		return "answerCallbackQuery", (*Server).answerCallbackQuery
	case "setmycommands":
		return "setMyCommands", (*Server).setMyCommands
	case "getmycommands":
		return "getMyCommands", (*Server).getMyCommands
	case "deletemycommands":
		return "deleteMyCommands", (*Server).deleteMyCommands
	case "getchatmember":
		return "getChatMember", (*Server).getChatMember
	}
	return name, nil
}

// ServeHTTP answers Bot API requests at /bot<token>/<method>. Every
// answer carries a Date header from Options.Now, as Telegram's answers do
// (the in-memory transport adds none by itself, and net/http keeps the
// one set here), so a test can put the server's clock off the bot's.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, found := strings.Cut(rest, "/")
	if !ok || !found {
		writeError(w, &apiError{code: http.StatusNotFound, description: "Not Found"})
		return
	}
	if token != s.token {
		writeError(w, &apiError{code: http.StatusUnauthorized, description: "Unauthorized"})
		return
	}
	canonical, fn := lookupMethod(method)
	s.mu.Lock()
	s.requests[canonical]++
	s.mu.Unlock()
	if fn == nil || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
		writeError(w, &apiError{code: http.StatusNotFound, description: "Not Found"})
		return
	}
	p, err := readParams(r)
	if err != nil {
		writeError(w, badRequest(err.Error()))
		return
	}

	chatID, _ := p.int64("chat_id")
	f := s.pickFault(FaultRequest{Method: canonical, ChatID: chatID})
	if f != nil && f.Delay > 0 {
		if !sleepContext(r.Context(), f.Delay) {
			abandon(w)
			return
		}
	}
	if f.active() && !f.AfterApply {
		s.deliverFault(w, f)
		return
	}

	out := fn(s, r.Context(), p)
	if out.noAnswer {
		abandon(w)
		return
	}
	if out.accepted {
		s.mu.Lock()
		hook := s.onAccepted
		s.mu.Unlock()
		if hook != nil {
			hook(canonical, out.chatID, out.messageID)
		}
	}
	if f.active() {
		s.deliverFault(w, f)
		return
	}
	if out.err != nil {
		writeError(w, out.err)
		return
	}
	result := out.result
	if result == nil {
		result = true
	}
	writeJSON(w, http.StatusOK, apiResponse{OK: true, Result: result, Description: out.description})
	if len(out.delivered) > 0 {
		s.mu.Lock()
		hook := s.onDelivered
		s.mu.Unlock()
		if hook != nil {
			hook(out.delivered)
		}
	}
}

// readParams collects a request's parameters from the query string and
// from a urlencoded, multipart or JSON body.
func readParams(r *http.Request) (params, error) {
	p := params{values: make(map[string]string), files: make(map[string]upload)}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxUploadMemory); err != nil {
			return p, errors.New("can't parse multipart form data")
		}
		for key, fhs := range r.MultipartForm.File {
			if len(fhs) == 0 {
				continue
			}
			f, err := fhs[0].Open()
			if err != nil {
				return p, errors.New("can't read uploaded file")
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return p, errors.New("can't read uploaded file")
			}
			p.files[key] = upload{name: fhs[0].Filename, data: data}
		}
	case "application/json":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return p, errors.New("can't read request body")
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(body, &obj); err != nil {
				return p, errors.New("can't parse JSON object")
			}
			for key, raw := range obj {
				var str string
				switch {
				case string(raw) == "null":
					continue
				case json.Unmarshal(raw, &str) == nil:
					p.values[key] = str
				default:
					p.values[key] = string(raw)
				}
			}
		}
	}
	if err := r.ParseForm(); err != nil {
		return p, errors.New("can't parse request parameters")
	}
	for key, vs := range r.Form {
		if _, ok := p.values[key]; !ok && len(vs) > 0 {
			p.values[key] = vs[0]
		}
	}
	return p, nil
}

// writeJSON writes v with a Content-Length and flushes it, so that when it
// returns the client has the whole answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func writeError(w http.ResponseWriter, e *apiError) {
	resp := apiResponse{OK: false, ErrorCode: e.code, Description: e.description}
	if e.retryAfter != 0 || e.migrateTo != 0 {
		resp.Parameters = &apiRespParams{RetryAfter: e.retryAfter, MigrateToChatID: e.migrateTo}
	}
	writeJSON(w, e.code, resp)
}

// connResetter is implemented by the in-memory transport's writer.
type connResetter interface {
	resetConnection()
}

// resetConnection drops the client's connection without an answer: an RST
// on a real TCP connection, an ECONNRESET error in memory.
func resetConnection(w http.ResponseWriter) {
	if r, ok := w.(connResetter); ok {
		r.resetConnection()
		return
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	// The server cannot hand the connection over (HTTP/2): abort the
	// response, which closes the stream without an answer.
	panic(http.ErrAbortHandler)
}

// abandon ends a request whose client went away. In memory the client
// must not mistake the unwritten answer for an empty 200.
func abandon(w http.ResponseWriter) {
	if r, ok := w.(connResetter); ok {
		r.resetConnection()
	}
}

// sleepContext waits for d, or until ctx ends; it reports whether the full
// delay passed.
func sleepContext(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
