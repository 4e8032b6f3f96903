package telegram

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"danvan/bot"
	"danvan/delivery"
	"danvan/telegramtest"
)

const hookSecret = "Hook_secret-0123456789"

// receiver records what the webhook handler hands over.
type receiver struct {
	mu      sync.Mutex
	updates []bot.Update
	err     error
}

func (r *receiver) receive(_ context.Context, u bot.Update) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.updates = append(r.updates, u)
	return nil
}

func (r *receiver) got() []bot.Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Update(nil), r.updates...)
}

func newWebhookHandler(t *testing.T, r *receiver, reg prometheus.Registerer) http.Handler {
	t.Helper()
	c, err := New(Options{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.NewWebhookHandler(WebhookOptions{
		PublicURL: "https://bot.example.vn/tg/hook", Secret: hookSecret, Receive: r.receive, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestWebhookHandler(t *testing.T) {
	validUpdate := `{"update_id": 42, "message": {"message_id": 7, "date": 1700000000, "chat": {"id": 1001, "type": "private"}, "from": {"id": 1001, "first_name": "Alice"}, "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}`
	tests := []struct {
		name    string
		method  string
		path    string
		secret  *string
		body    string
		recvErr error
		status  int
		applied bool
	}{
		{name: "update", status: 200, applied: true},
		{name: "wrong method", method: http.MethodGet, status: 405},
		{name: "PUT", method: http.MethodPut, status: 405},
		{name: "wrong path", path: "/tg/hook/", status: 404},
		{name: "root", path: "/", status: 404},
		{name: "no secret", secret: new(""), status: 401},
		{name: "wrong secret", secret: new("Hook_secret-0123456788"), status: 401},
		{name: "secret prefix", secret: new(hookSecret[:10]), status: 401},
		{name: "secret and more", secret: new(hookSecret + "x"), status: 401},
		{name: "secret in other case", secret: new(strings.ToLower(hookSecret)), status: 401},
		{name: "too large", body: `{"update_id": 43, "message": {"text": "` + strings.Repeat("a", MaxWebhookBody) + `"}}`, status: 413},
		{name: "not JSON", body: `<html>`, status: 400},
		{name: "no update_id", body: `{"message": {"message_id": 1}}`, status: 400},
		{name: "empty object", body: `{}`, status: 400},
		{name: "empty", body: ` `, status: 400},
		{name: "undecodable with an id", body: `{"update_id": 44, "message": {"message_id": "not-a-number"}}`, status: 200, applied: true},
		{name: "bot not ready", recvErr: bot.ErrNotReady, status: 503},
		{name: "store failure", recvErr: errors.New("disk full"), status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &receiver{err: tt.recvErr}
			reg := prometheus.NewRegistry()
			h := newWebhookHandler(t, r, reg)
			method, path, body, secret := http.MethodPost, "/tg/hook", validUpdate, hookSecret
			if tt.method != "" {
				method = tt.method
			}
			if tt.path != "" {
				path = tt.path
			}
			if tt.body != "" {
				body = tt.body
			}
			if tt.secret != nil {
				secret = *tt.secret
			}
			req := httptest.NewRequest(method, "http://127.0.0.1:8443"+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if secret != "" {
				req.Header.Set(SecretHeader, secret)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status == 405 && rec.Header().Get("Allow") != http.MethodPost {
				t.Errorf("405 without Allow: POST: %v", rec.Header())
			}
			got := r.got()
			if tt.applied != (len(got) == 1) {
				t.Fatalf("receiver got %d updates, want applied=%v", len(got), tt.applied)
			}
			if tt.applied {
				switch u := got[0]; tt.name {
				case "update":
					if u.ID != 42 || u.Message == nil || u.Message.Command != "start" || u.Message.From.ID != 1001 {
						t.Errorf("decoded %+v, want update 42: /start from 1001", u)
					}
				case "undecodable with an id":
					if u.ID != 44 || !u.Undecodable {
						t.Errorf("decoded %+v, want update 44 marked undecodable", u)
					}
				}
			}
			if n := counterValue(t, reg, "danvan_webhook_requests_total"); n != 1 {
				t.Errorf("danvan_webhook_requests_total sums to %v, want 1", n)
			}
		})
	}
}

// counterValue sums a counter family's samples.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestWebhookSecretComparedInConstantTime reads webhook.go: the header is
// compared only through secretMatches, and that uses
// subtle.ConstantTimeCompare — a timing test could not tell reliably.
func TestWebhookSecretComparedInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "webhook.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var constantTime, viaMatches bool
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Name.Name == "secretMatches" {
				ast.Inspect(n.Body, func(m ast.Node) bool {
					if sel, ok := m.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" {
						if id, ok := sel.X.(*ast.Ident); ok && id.Name == "subtle" {
							constantTime = true
						}
					}
					return true
				})
				return false // its == 1 is on ConstantTimeCompare's result
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "secretMatches" {
				viaMatches = true
			}
		case *ast.BinaryExpr:
			if n.Op != token.EQL && n.Op != token.NEQ {
				return true
			}
			// Comparing with "" says whether there is one, not what it is.
			if isEmptyString(n.X) || isEmptyString(n.Y) {
				return true
			}
			for _, side := range []ast.Expr{n.X, n.Y} {
				if mentionsSecret(side) {
					t.Errorf("%s: the secret is compared with %s", fset.Position(n.Pos()), n.Op)
				}
			}
		}
		return true
	})
	if !constantTime {
		t.Error("secretMatches does not call subtle.ConstantTimeCompare")
	}
	if !viaMatches {
		t.Error("nothing calls secretMatches")
	}
}

func isEmptyString(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING && (lit.Value == `""` || lit.Value == "``")
}

// mentionsSecret reports whether an expression reads the secret or the
// secret header.
func mentionsSecret(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Ident:
			if strings.EqualFold(n.Name, "secret") || n.Name == "SecretHeader" {
				found = true
			}
		case *ast.SelectorExpr:
			if strings.EqualFold(n.Sel.Name, "secret") {
				found = true
			}
		}
		return true
	})
	return found
}

// TestWebhookThroughTheEmulator sets the webhook with the client and lets
// the emulator post to the handler: the updates decode as getUpdates'
// do; getWebhookInfo reports the URL, what waits and the last error.
func TestWebhookThroughTheEmulator(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := &receiver{}
	var hookURL string
	var mu sync.Mutex
	failing := true
	attempts := 0
	secondAttempt := make(chan struct{})
	h, err := f.client.NewWebhookHandler(WebhookOptions{
		PublicURL: "http://placeholder/tg/hook", Secret: hookSecret, Receive: func(ctx context.Context, u bot.Update) error {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				attempts++
				if attempts == 2 {
					close(secondAttempt)
				}
				return errors.New("store is down")
			}
			return r.receive(ctx, u)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	hookURL = srv.URL + "/tg/hook"

	private := f.emu.Private(alice)
	before := f.emu.SendText(alice, private, "/help trước")
	if err := f.client.SetWebhook(ctx, bot.Webhook{URL: hookURL, Secret: hookSecret, MaxConnections: 7}); err != nil {
		t.Fatalf("SetWebhook: %v", err)
	}
	set, ok := f.emu.Webhook()
	if !ok || set.URL != hookURL || set.SecretToken != hookSecret || set.MaxConnections != 7 ||
		strings.Join(set.AllowedUpdates, ",") != "message,edited_message,callback_query,my_chat_member" {
		t.Fatalf("emulator's webhook: %+v", set)
	}

	// The first delivery fails: getWebhookInfo says so once the second
	// attempt comes (the error is recorded before the backoff).
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-secondAttempt:
	case <-wctx.Done():
		t.Fatal("the emulator did not post twice")
	}
	info, err := f.client.GetWebhookInfo(ctx)
	if err != nil {
		t.Fatalf("GetWebhookInfo: %v", err)
	}
	if info.URL != hookURL || info.PendingUpdateCount != 1 || info.MaxConnections != 7 ||
		info.LastErrorMessage != "Wrong response from the webhook: 500 Internal Server Error" || info.LastErrorDate.IsZero() {
		t.Errorf("GetWebhookInfo: %+v", info)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	if err := f.emu.WaitPending(wctx, 0); err != nil {
		t.Fatal(err)
	}
	got := r.got()
	if len(got) != 1 || got[0].Message == nil || got[0].Message.ID != before.ID || got[0].Message.Command != "help" || got[0].Message.Args != "trước" {
		t.Errorf("received %+v, want the pending /help, decoded", got)
	}

	// While the webhook is set, getUpdates is a conflict.
	_, err = f.client.GetUpdates(ctx, 0, 100, 0)
	if !errors.Is(err, bot.ErrConflict) || delivery.Classify(err).Code != http.StatusConflict {
		t.Errorf("GetUpdates with a webhook set: %v, want bot.ErrConflict (409)", err)
	}
	if err := f.client.DeleteWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := f.client.GetWebhookInfo(ctx); err != nil || info.URL != "" {
		t.Errorf("GetWebhookInfo after DeleteWebhook: %+v, %v; want no URL", info, err)
	}
}

func TestGetUpdatesSecondPollerIsAConflict(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := make(chan error, 1)
	go func() {
		_, err := f.client.GetUpdates(ctx, 0, 100, 30*time.Second)
		first <- err
	}()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.emu.WaitPolling(wctx); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = f.client.GetUpdates(ctx, 0, 100, 0) }()
	select {
	case err := <-first:
		if !errors.Is(err, bot.ErrConflict) || !strings.Contains(err.Error(), "terminated by other getUpdates request") {
			t.Errorf("first poller: %v, want bot.ErrConflict with Telegram's words", err)
		}
	case <-wctx.Done():
		t.Fatal("the first long poll was not ended")
	}
}

func TestSetWebhookErrorsHideTheSecret(t *testing.T) {
	f := newFixture(t)
	f.emu.SetFault(func(r telegramtest.FaultRequest) *telegramtest.Fault {
		if r.Method == "setWebhook" {
			return &telegramtest.Fault{ErrorCode: 400, Description: "Bad Request: bad webhook: secret " + hookSecret + " refused"}
		}
		return nil
	})
	err := f.client.SetWebhook(context.Background(), bot.Webhook{URL: "https://bot.example/hook", Secret: hookSecret})
	if err == nil {
		t.Fatal("no error")
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), hookSecret) {
			t.Errorf("error shows the secret: %q", e.Error())
		}
	}
	if !strings.Contains(err.Error(), "<secret>") {
		t.Errorf("error %q, want the secret replaced by <secret>", err)
	}
}
