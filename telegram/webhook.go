package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/prometheus/client_golang/prometheus"

	"danvan/bot"
	"danvan/monitor"
)

// SecretHeader carries setWebhook's secret_token in every webhook request.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// MaxWebhookBody bounds a webhook request's body; an update is a few
// kilobytes.
const MaxWebhookBody = 1 << 20

// SetWebhook makes Telegram post updates to w.URL with w.Secret in
// SecretHeader, for the update kinds danvan handles. Pending updates are
// kept (never drop_pending_updates). The library's WebhookConfig has no
// secret_token, hence the raw request. A refused token is
// bot.ErrUnauthorized; no error carries the token or the secret.
func (c *Client) SetWebhook(ctx context.Context, w bot.Webhook) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	params := tgbotapi.Params{
		"url":                  w.URL,
		"secret_token":         w.Secret,
		"allowed_updates":      allowedUpdates,
		"drop_pending_updates": "false",
	}
	params.AddNonZero("max_connections", w.MaxConnections)
	k := c.newCall(ctx)
	resp, err := k.api.MakeRequest("setWebhook", params)
	if err != nil {
		e := c.classify(k, resp, err)
		e.Description = scrubSecret(e.Description, w.Secret)
		if e.Err != nil {
			e.Err = secretRedacted{msg: scrubSecret(e.Err.Error(), w.Secret), err: e.Err}
		}
		if e.Code == http.StatusUnauthorized {
			return fmt.Errorf("%w (401 Unauthorized): check telegram.token / DANVAN_TELEGRAM_TOKEN: %w", bot.ErrUnauthorized, e)
		}
		return e
	}
	return nil
}

// scrubSecret removes the webhook secret from s.
func scrubSecret(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "<secret>")
}

// secretRedacted prints without the secret but keeps the original for
// errors.Is.
type secretRedacted struct {
	msg string
	err error
}

func (e secretRedacted) Error() string { return e.msg }

func (e secretRedacted) Is(target error) bool { return errors.Is(e.err, target) }

// GetWebhookInfo says which webhook Telegram posts to (URL empty: none),
// how many updates wait, and the last delivery error Telegram met.
func (c *Client) GetWebhookInfo(ctx context.Context) (bot.WebhookInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	k := c.newCall(ctx)
	resp, err := k.api.MakeRequest("getWebhookInfo", nil)
	if err != nil {
		e := c.classify(k, resp, err)
		if e.Code == http.StatusUnauthorized {
			return bot.WebhookInfo{}, fmt.Errorf("%w (401 Unauthorized): check telegram.token / DANVAN_TELEGRAM_TOKEN: %w", bot.ErrUnauthorized, e)
		}
		return bot.WebhookInfo{}, e
	}
	var w struct {
		URL              string `json:"url"`
		Pending          int    `json:"pending_update_count"`
		LastErrorDate    int64  `json:"last_error_date"`
		LastErrorMessage string `json:"last_error_message"`
		MaxConnections   int    `json:"max_connections"`
	}
	if err := json.Unmarshal(resp.Result, &w); err != nil {
		return bot.WebhookInfo{}, fmt.Errorf("decode getWebhookInfo: %w", err)
	}
	info := bot.WebhookInfo{
		URL: w.URL, PendingUpdateCount: w.Pending, LastErrorMessage: w.LastErrorMessage, MaxConnections: w.MaxConnections,
	}
	if w.LastErrorDate != 0 {
		info.LastErrorDate = time.Unix(w.LastErrorDate, 0)
	}
	return info, nil
}

// WebhookOptions configure the webhook handler.
type WebhookOptions struct {
	// PublicURL is the URL given to setWebhook; its path is the only one
	// served ("/" when it has none).
	PublicURL string
	// Secret is compared, in constant time, with SecretHeader.
	Secret string
	// Receive applies an update and returns once it is committed.
	// bot.ErrNotReady makes the answer 503, any other error 500: Telegram
	// posts the update again.
	Receive func(ctx context.Context, u bot.Update) error
	// Log receives rejected requests (no secret, no content).
	Log *slog.Logger
	// Registerer gets danvan_webhook_requests_total (nil: not
	// registered).
	Registerer prometheus.Registerer
}

// webhookHandler receives Telegram's webhook requests.
type webhookHandler struct {
	path     string
	secret   [sha256.Size]byte
	receive  func(ctx context.Context, u bot.Update) error
	decode   func(raw []byte) (bot.Update, error)
	log      *slog.Logger
	requests *prometheus.CounterVec
	// warnedSecret makes the first request with a wrong secret a warning,
	// the rest debug lines (the counter has them all).
	warnedSecret atomic.Bool
}

// Webhook request results, the label of danvan_webhook_requests_total.
var webhookResults = []string{
	"applied", "unauthorized", "not_found", "method_not_allowed",
	"too_large", "bad_request", "not_ready", "failed",
}

// NewWebhookHandler returns the handler for Telegram's webhook requests:
// only POST (else 405) to exactly the path of PublicURL (else 404),
// carrying the secret (else 401, nothing applied), with a JSON update of
// at most MaxWebhookBody bytes (else 413; 400 when it has no update_id).
// The answer, 200, comes only after the update's transaction committed;
// an update the library cannot decode is recorded and skipped, like in
// polling. The client's decoder is used, so warnings go to its log.
func (c *Client) NewWebhookHandler(o WebhookOptions) (http.Handler, error) {
	u, err := url.Parse(o.PublicURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("telegram: webhook public URL is not a URL with a host")
	}
	if o.Secret == "" || o.Receive == nil {
		return nil, errors.New("telegram: webhook needs a secret and a receiver")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &webhookHandler{
		path:    u.Path,
		secret:  sha256.Sum256([]byte(o.Secret)),
		receive: o.Receive,
		decode:  c.decodeUpdate,
		log:     o.Log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "danvan_webhook_requests_total",
			Help: "Webhook requests, by result (applied, unauthorized, not_found, method_not_allowed, too_large, bad_request, not_ready, failed).",
		}, []string{"result"}),
	}
	if h.path == "" {
		h.path = "/"
	}
	for _, r := range webhookResults {
		h.requests.WithLabelValues(r)
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(h.requests); err != nil {
			return nil, fmt.Errorf("telegram: register webhook metrics: %w", err)
		}
	}
	return h, nil
}

// secretMatches compares the header with the secret in constant time:
// both are hashed first, so not even the length leaks.
func (h *webhookHandler) secretMatches(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], h.secret[:]) == 1
}

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	result, status := h.serve(r)
	h.requests.WithLabelValues(result).Inc()
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(http.StatusText(status))+1))
	w.WriteHeader(status)
	fmt.Fprintln(w, http.StatusText(status))
}

// serve handles one request and says how it ended: the metric's result
// and the HTTP status.
func (h *webhookHandler) serve(r *http.Request) (result string, status int) {
	if r.URL.Path != h.path {
		return "not_found", http.StatusNotFound
	}
	if r.Method != http.MethodPost {
		return "method_not_allowed", http.StatusMethodNotAllowed
	}
	if !h.secretMatches(r.Header.Get(SecretHeader)) {
		attrs := []any{"remote", r.RemoteAddr, "has_header", r.Header.Get(SecretHeader) != ""}
		if h.warnedSecret.CompareAndSwap(false, true) {
			h.log.Warn("webhook request without the right secret token refused (more are counted in danvan_webhook_requests_total{result=\"unauthorized\"})", attrs...)
		} else {
			h.log.Debug("webhook request without the right secret token refused", attrs...)
		}
		return "unauthorized", http.StatusUnauthorized
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxWebhookBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.log.Warn("webhook request too large", "limit_bytes", MaxWebhookBody)
		return "too_large", http.StatusRequestEntityTooLarge
	case err != nil:
		return "bad_request", http.StatusBadRequest
	}
	u, err := h.decode(body)
	if err == nil && u.ID == 0 {
		err = errors.New("no update_id")
	}
	if err != nil {
		h.log.Warn("webhook request is not an update", "err", err)
		return "bad_request", http.StatusBadRequest
	}
	switch err := h.receive(r.Context(), u); {
	case err == nil:
		return "applied", http.StatusOK
	case errors.Is(err, bot.ErrNotReady):
		return "not_ready", http.StatusServiceUnavailable
	default:
		// The receiver has logged it; Telegram posts the update again.
		return "failed", http.StatusInternalServerError
	}
}

// ServeWebhook serves h on ln until ctx is cancelled, then gives requests
// in flight two seconds to finish. Timeouts keep slow or idle clients
// from holding connections: an update is small and is answered once
// committed.
func ServeWebhook(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return monitor.RunServer(ctx, srv, ln, 2*time.Second)
}
