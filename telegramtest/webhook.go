package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"
)

// SecretHeader carries setWebhook's secret_token in every webhook request.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Telegram's words for webhook conflicts.
const (
	webhookActiveDescription       = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	terminatedByWebhookDescription = "Conflict: terminated by setWebhook request"
)

// Webhook delivery timing: a request gets webhookTimeout to be answered;
// a failed one is posted again after a backoff growing from
// webhookRetryMin to webhookRetryMax (Telegram's own is slower; tests want
// short outages to heal fast). Both run on the time package's timers, like
// long polls, so they are virtual inside a testing/synctest bubble.
const (
	webhookTimeout  = 30 * time.Second
	webhookRetryMin = 50 * time.Millisecond
	webhookRetryMax = time.Second
)

// secretTokenShape is what setWebhook accepts as secret_token.
var secretTokenShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// webhookState is a webhook set with setWebhook, and its deliveries.
type webhookState struct {
	url            string
	secret         string
	maxConnections int
	allowed        []string

	lastErrorDate    time.Time
	lastErrorMessage string
	// inflight are the update_ids being posted (or waiting to be posted
	// again) by this webhook's workers.
	inflight map[int64]bool
	// cancel stops this webhook's deliveries.
	cancel context.CancelFunc
}

// WebhookInfo describes the webhook as getWebhookInfo does, with its
// secret for tests to check.
type WebhookInfo struct {
	URL            string
	SecretToken    string
	MaxConnections int
	AllowedUpdates []string
	// PendingUpdateCount counts unconfirmed updates, those being posted
	// included.
	PendingUpdateCount int
	LastErrorDate      time.Time
	LastErrorMessage   string
}

// Webhook returns the webhook that is set; ok is false when none is.
func (s *Server) Webhook() (info WebhookInfo, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookInfoLocked()
}

func (s *Server) webhookInfoLocked() (WebhookInfo, bool) {
	wh := s.webhook
	if wh == nil {
		return WebhookInfo{PendingUpdateCount: len(s.updates)}, false
	}
	return WebhookInfo{
		URL: wh.url, SecretToken: wh.secret, MaxConnections: wh.maxConnections,
		AllowedUpdates: slices.Clone(wh.allowed), PendingUpdateCount: len(s.updates),
		LastErrorDate: wh.lastErrorDate, LastErrorMessage: wh.lastErrorMessage,
	}, true
}

// WaitWebhook blocks until a webhook is set, or ctx ends.
func (s *Server) WaitWebhook(ctx context.Context) (WebhookInfo, error) {
	for {
		s.mu.Lock()
		info, ok := s.webhookInfoLocked()
		wake := s.changed
		s.mu.Unlock()
		if ok {
			return info, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return WebhookInfo{}, fmt.Errorf("wait for a webhook: %w", ctx.Err())
		}
	}
}

// WaitPending blocks until at most n updates wait for confirmation (by a
// getUpdates offset or a webhook's 2xx answer), or ctx ends.
func (s *Server) WaitPending(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		pending := len(s.updates)
		wake := s.changed
		s.mu.Unlock()
		if pending <= n {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("wait for at most %d pending updates (have %d): %w", n, pending, ctx.Err())
		}
	}
}

// SetOnWebhookPost sets the hook called, without the server's lock, once
// the whole body of a webhook request carrying the update has been handed
// to the connection, before its answer is read: the bot is receiving it.
// A crash test may kill the bot there. nil removes the hook.
func (s *Server) SetOnWebhookPost(hook func(updateID int64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onWebhookPost = hook
}

// SetOnWebhookAnswer sets the hook called, without the server's lock,
// with the status of the bot's answer to a webhook request, before the
// server acts on it. Returning lost = true makes the server behave as if
// the answer never arrived: the update stays pending and is posted again,
// as when a connection breaks after the bot committed. nil removes the
// hook.
func (s *Server) SetOnWebhookAnswer(hook func(updateID int64, status int) (lost bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onWebhookAnswer = hook
}

// setWebhook sets (or with an empty url removes) the webhook. Pending
// updates are kept unless drop_pending_updates; a waiting getUpdates ends
// with 409.
func (s *Server) setWebhook(_ context.Context, p params) outcome {
	raw := p.str("url")
	if raw == "" {
		return s.removeWebhook(p.bool("drop_pending_updates"))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return outcome{err: badRequest("bad webhook: invalid webhook URL specified")}
	}
	// Telegram wants https; an http URL is taken, as a local Bot API
	// server does, so tests need no certificates.
	if u.Scheme != "https" && u.Scheme != "http" {
		return outcome{err: badRequest("bad webhook: An HTTPS URL must be provided for webhook")}
	}
	secret := p.str("secret_token")
	if secret != "" && !secretTokenShape.MatchString(secret) {
		return outcome{err: badRequest("secret token contains unallowed characters")}
	}
	maxConns := 40
	if n, ok := p.int64("max_connections"); ok {
		maxConns = int(min(max(n, 1), 100))
	}
	var allowed []string
	setAllowed := p.has("allowed_updates")
	if setAllowed {
		if err := json.Unmarshal([]byte(p.str("allowed_updates")), &allowed); err != nil {
			return outcome{err: badRequest("can't parse allowed_updates JSON array")}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.poller != nil {
		s.poller.killedBy = terminatedByWebhookDescription
		close(s.poller.kill)
		s.poller = nil
	}
	if p.bool("drop_pending_updates") {
		s.updates = nil
	}
	if setAllowed {
		s.setAllowedLocked(allowed)
	}
	old := s.webhook
	description := "Webhook was set"
	if old != nil && old.url == raw && old.secret == secret && old.maxConnections == maxConns {
		description = "Webhook is already set"
	}
	if old != nil {
		old.cancel()
		if !setAllowed {
			allowed = old.allowed
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	wh := &webhookState{
		url: raw, secret: secret, maxConnections: maxConns, allowed: allowed,
		inflight: make(map[int64]bool), cancel: cancel,
	}
	if old != nil && old.url == raw {
		wh.lastErrorDate, wh.lastErrorMessage = old.lastErrorDate, old.lastErrorMessage
	}
	s.webhook = wh
	if !s.isClosed() {
		s.pushers.Add(1)
		go s.pushLoop(ctx, wh)
	}
	s.notifyLocked()
	return outcome{result: true, description: description}
}

// removeWebhook is deleteWebhook, and setWebhook with an empty url.
func (s *Server) removeWebhook(drop bool) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	if drop {
		s.updates = nil
	}
	description := "Webhook is already deleted"
	if s.webhook != nil {
		s.webhook.cancel()
		s.webhook = nil
		description = "Webhook was deleted"
	}
	s.notifyLocked()
	return outcome{result: true, description: description}
}

func (s *Server) deleteWebhook(_ context.Context, p params) outcome {
	return s.removeWebhook(p.bool("drop_pending_updates"))
}

func (s *Server) getWebhookInfo(context.Context, params) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.webhookInfoLocked()
	out := apiWebhookInfo{PendingUpdateCount: info.PendingUpdateCount}
	if ok {
		out.URL, out.MaxConnections, out.AllowedUpdates = info.URL, info.MaxConnections, info.AllowedUpdates
		out.LastErrorMessage = info.LastErrorMessage
		if !info.LastErrorDate.IsZero() {
			out.LastErrorDate = info.LastErrorDate.Unix()
		}
	}
	return outcome{result: out}
}

// stopWebhookLocked stops the deliveries of the webhook, if any; Close
// calls it. The caller holds s.mu.
func (s *Server) stopWebhookLocked() {
	if s.webhook != nil {
		s.webhook.cancel()
	}
}

// pushLoop posts wh's pending updates, in update_id order, with up to
// maxConnections requests in flight, until wh is replaced or removed (ctx
// ends). Its workers end with it; Close waits for them all.
func (s *Server) pushLoop(ctx context.Context, wh *webhookState) {
	defer s.pushers.Done()
	var workers sync.WaitGroup
	defer workers.Wait()
	for {
		s.mu.Lock()
		if ctx.Err() != nil || s.webhook != wh {
			s.mu.Unlock()
			return
		}
		var next *queuedUpdate
		if len(wh.inflight) < wh.maxConnections {
			for i := range s.updates {
				if !wh.inflight[s.updates[i].id] {
					u := s.updates[i]
					next = &u
					break
				}
			}
		}
		if next != nil {
			wh.inflight[next.id] = true
			s.mu.Unlock()
			workers.Go(func() { s.deliver(ctx, wh, *next) })
			continue
		}
		wake := s.changed
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
		}
	}
}

// deliver posts one update until the webhook answers 2xx (the update is
// then confirmed) or ctx ends, backing off between attempts.
func (s *Server) deliver(ctx context.Context, wh *webhookState, u queuedUpdate) {
	defer func() {
		s.mu.Lock()
		delete(wh.inflight, u.id)
		s.notifyLocked()
		s.mu.Unlock()
	}()
	wait := webhookRetryMin
	for {
		status, err := s.post(ctx, wh, u)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			s.mu.Lock()
			hook := s.onWebhookAnswer
			s.mu.Unlock()
			if hook != nil && hook(u.id, status) {
				err = errConnReset()
			}
		}
		if err == nil && status >= 200 && status < 300 {
			s.mu.Lock()
			s.confirmOneLocked(u.id)
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		wh.lastErrorDate = s.now()
		wh.lastErrorMessage = webhookErrorMessage(status, err)
		s.notifyLocked()
		s.mu.Unlock()
		if !sleepContext(ctx, wait) {
			return
		}
		wait = min(wait*2, webhookRetryMax)
	}
}

// confirmOneLocked forgets one update, acknowledged by the webhook. The
// caller holds s.mu.
func (s *Server) confirmOneLocked(id int64) {
	i := slices.IndexFunc(s.updates, func(q queuedUpdate) bool { return q.id == id })
	if i < 0 {
		return // dropped meanwhile
	}
	s.updates = slices.Delete(s.updates, i, i+1)
	s.confirmed = max(s.confirmed, id)
	s.notifyLocked()
}

// post makes one webhook request and returns the answer's status.
func (s *Server) post(ctx context.Context, wh *webhookState, u queuedUpdate) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	body := &postBody{r: bytes.NewReader(u.raw), onEOF: func() {
		s.mu.Lock()
		hook := s.onWebhookPost
		s.mu.Unlock()
		if hook != nil {
			hook(u.id)
		}
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.url, body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(len(u.raw))
	req.GetBody = nil
	req.Header.Set("Content-Type", "application/json")
	if wh.secret != "" {
		req.Header.Set(SecretHeader, wh.secret)
	}
	resp, err := s.webhookClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// postBody calls onEOF once the request's body has been read to its end.
type postBody struct {
	r     io.Reader
	onEOF func()
	once  sync.Once
}

func (b *postBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.once.Do(b.onEOF)
	}
	return n, err
}

// webhookErrorMessage words a failed delivery as getWebhookInfo's
// last_error_message does.
func webhookErrorMessage(status int, err error) string {
	switch {
	case err == nil:
		return fmt.Sprintf("Wrong response from the webhook: %d %s", status, http.StatusText(status))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "Connection reset by peer"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "Read timeout expired"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "Failed to resolve host: " + dns.Err
	}
	return "Connection failed"
}

// newWebhookClient is the HTTP client that posts to webhooks: through rt,
// or straight to the URL (no proxy from the environment), not following
// redirects, as Telegram does not.
func newWebhookClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		rt = t
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
