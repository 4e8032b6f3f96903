// Package telegram is danvan's only door to the Telegram Bot API. It
// translates Telegram's updates into bot.Update and danvan's store.Action
// into Bot API calls, using github.com/go-telegram-bot-api/telegram-bot-api/v5
// for the wire format only: the client is built by hand (no getMe at
// construction), every request carries its own context and timeout, updates
// are fetched with getUpdates and decoded one by one, and the bot token is
// scrubbed from every error before it leaves this package.
package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"danvan/bot"
	"danvan/delivery"
)

// Options configure a Client.
type Options struct {
	Token string
	// Endpoint is a format with two %s: token, then method.
	Endpoint string
	// Proxy is an http, https or socks5 URL; empty honours HTTPS_PROXY and
	// NO_PROXY.
	Proxy string
	// RequestTimeout bounds every request except long polls, which get
	// their poll timeout plus RequestTimeout.
	RequestTimeout time.Duration
	// MaxConns is the number of idle connections kept to the API host
	// (default 32, above the number of requests in flight at once).
	MaxConns int
	// Transport replaces the HTTP transport (tests use an in-memory one).
	Transport http.RoundTripper
	Log       *slog.Logger
}

// Client talks to the Bot API.
type Client struct {
	api     tgbotapi.BotAPI // a template, copied per request
	token   string
	http    *http.Client
	timeout time.Duration
	log     *slog.Logger
	// endpoint is Options.Endpoint.
	endpoint string
	// proxy is the transport's choice of proxy (nil: a transport given in
	// Options, which chooses for itself).
	proxy func(*http.Request) (*url.URL, error)
}

var setLoggerOnce sync.Once

// New returns a client. It makes no request: call GetMe (with retries) to
// check the token and learn the bot's name.
func New(o Options) (*Client, error) {
	if o.Token == "" {
		return nil, errors.New("telegram: empty token")
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 32
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	rt := o.Transport
	var proxy func(*http.Request) (*url.URL, error)
	if rt == nil {
		t, err := transport(o.Proxy, o.MaxConns)
		if err != nil {
			return nil, err
		}
		rt, proxy = t, t.Proxy
	}
	c := &Client{
		token:    o.Token,
		http:     &http.Client{Transport: rt},
		timeout:  o.RequestTimeout,
		log:      o.Log,
		endpoint: o.Endpoint,
		proxy:    proxy,
	}
	c.api = tgbotapi.BotAPI{Token: o.Token, Buffer: 100}
	c.api.SetAPIEndpoint(o.Endpoint)
	// The library logs through a package-level logger; only Debug mode (never
	// enabled here) uses it for request contents. Route it through slog at
	// debug level, scrubbed, once per process.
	setLoggerOnce.Do(func() { _ = tgbotapi.SetLogger(libraryLogger{log: o.Log, token: o.Token}) })
	return c, nil
}

// transport builds the HTTP transport: a configured proxy, else the
// environment's HTTPS_PROXY / NO_PROXY; enough idle connections for every
// sender worker.
func transport(proxy string, conns int) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	if proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("telegram: bad proxy URL")
		}
		switch u.Scheme {
		case "http", "https", "socks5", "socks5h":
		default:
			return nil, fmt.Errorf("telegram: proxy scheme %q not supported (http, https, socks5)", u.Scheme)
		}
		t.Proxy = http.ProxyURL(u)
	}
	t.MaxIdleConns = conns * 2
	t.MaxIdleConnsPerHost = conns
	t.MaxConnsPerHost = 0
	t.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t, nil
}

// call is one request: a copy of the library client whose HTTPClient
// carries this request's context and records what the library never
// exposes: the HTTP status, the answer's Date header with the local time it
// arrived (for doctor's clock check), and its Retry-After header.
type call struct {
	api        tgbotapi.BotAPI
	status     int
	date       string
	received   time.Time
	retryAfter string
	// failed is why no answer came (the HTTP client's error).
	failed error
}

func (c *Client) newCall(ctx context.Context) *call {
	k := &call{api: c.api}
	k.api.Client = doer{ctx: ctx, http: c.http, call: k}
	return k
}

type doer struct {
	ctx  context.Context
	http *http.Client
	call *call
}

func (d doer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.http.Do(req.WithContext(d.ctx))
	if err != nil {
		d.call.failed = err
		return nil, err
	}
	d.call.status, d.call.date, d.call.received = resp.StatusCode, resp.Header.Get("Date"), time.Now()
	d.call.retryAfter = resp.Header.Get("Retry-After")
	return resp, nil
}

// maxRetryAfter caps a Retry-After header: a proxy's word is not
// Telegram's, and an absurd value must not park a row for good.
const maxRetryAfter = time.Hour

// retryAfterHeader is the wait the answer's Retry-After header asks for
// (seconds or an HTTP date), or 0.
func (k *call) retryAfterHeader() time.Duration {
	v := strings.TrimSpace(k.retryAfter)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(n, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(k.received)
	}
	return min(max(d, 0), maxRetryAfter)
}

// redact removes the token from an error's text.
func (c *Client) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := scrub(msg, c.token)
	if clean == msg {
		return err
	}
	return redactedError{msg: clean, err: err}
}

// scrub removes the token from s in every form an error may print it,
// longest first: as is, URL-escaped, and quoted the way %q and url.Error
// quote a URL with a control character in it (a token read with its
// trailing newline). The secret half after ':' goes too, in the same forms:
// a URL parser may quote just the part after a colon ("invalid port
// \":SECRET\" after host"). Last, anything shaped like a bot token goes.
func scrub(s, token string) string {
	_, secret, _ := strings.Cut(token, ":")
	forms := []string{token, url.PathEscape(token), url.QueryEscape(token), quoted(token), quotedASCII(token)}
	forms = append(forms, secret, url.PathEscape(secret), quoted(secret), quotedASCII(secret), strings.TrimSpace(secret))
	for _, form := range forms {
		if form != "" {
			s = strings.ReplaceAll(s, form, "<token>")
		}
	}
	return tokenShape.ReplaceAllString(s, "<token>")
}

// quoted is s as strconv.Quote writes it, without the quotes.
func quoted(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// quotedASCII is s as strconv.QuoteToASCII (%+q) writes it, without the
// quotes.
func quotedASCII(s string) string {
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

// redactedError keeps the original error for errors.Is (timeouts,
// cancellation) but prints without the token.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }

// Is lets errors.Is see context errors without exposing the original text
// through Unwrap.
func (e redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// Timeout reports whether the original error was a timeout.
func (e redactedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

// classify turns the library's answer into a delivery.Error by kind: an
// answer that is not a Bot API error is temporary; a Bot API error is
// classified by its error_code and parameters, then the description's
// start.
func (c *Client) classify(k *call, resp *tgbotapi.APIResponse, err error) *delivery.Error {
	var apiErr *tgbotapi.Error
	code := 0
	if errors.As(err, &apiErr) {
		code = apiErr.Code
		if code == 0 && resp != nil {
			code = resp.ErrorCode // uploads leave Error.Code empty
		}
	}
	if code == 0 {
		// Only Telegram's own error_code says anything about the chat or
		// the request. Transport errors, timeouts, answers that are not
		// JSON (a proxy's HTML 502 page) and JSON that is not a Bot API
		// answer (a gateway's 403 {"message":"Forbidden"}, a 200 null) are
		// all worth retrying, and their HTTP status says nothing about the
		// chat: a gateway's 403 must not mark it unreachable.
		if apiErr != nil {
			err = fmt.Errorf("HTTP %d answer is not from the Bot API (a proxy or gateway in the way?)", k.status)
		}
		return &delivery.Error{Kind: delivery.Temporary, Status: k.status, RetryAfter: k.retryAfterHeader(), Err: c.redact(err)}
	}
	e := &delivery.Error{
		Status: k.status, Code: code, Description: scrub(apiErr.Message, c.token),
		RetryAfter: time.Duration(apiErr.RetryAfter) * time.Second, MigrateTo: apiErr.MigrateToChatID,
	}
	desc := apiErr.Message
	switch {
	case code == http.StatusTooManyRequests || apiErr.RetryAfter > 0:
		e.Kind = delivery.RateLimited
	case apiErr.MigrateToChatID != 0:
		e.Kind = delivery.Migrated
	case code == http.StatusForbidden, strings.HasPrefix(desc, "Bad Request: chat not found"):
		e.Kind = delivery.Unreachable
	case code >= 500, code == http.StatusUnauthorized, code == http.StatusConflict:
		e.Kind = delivery.Temporary
	default:
		e.Kind = delivery.Rejected
	}
	return e
}

// GetMe checks the token and returns who the bot is. A refused token is
// bot.ErrUnauthorized.
func (c *Client) GetMe(ctx context.Context) (bot.Identity, error) {
	me, _, err := c.getMe(ctx)
	return me, err
}

func (c *Client) getMe(ctx context.Context) (bot.Identity, *call, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	k := c.newCall(ctx)
	resp, err := k.api.MakeRequest("getMe", nil)
	if err != nil {
		e := c.classify(k, resp, err)
		if e.Code == http.StatusUnauthorized {
			return bot.Identity{}, k, fmt.Errorf("%w (401 Unauthorized): check telegram.token / DANVAN_TELEGRAM_TOKEN: %w", bot.ErrUnauthorized, e)
		}
		return bot.Identity{}, k, e
	}
	var u tgbotapi.User
	if err := json.Unmarshal(resp.Result, &u); err != nil {
		return bot.Identity{}, k, fmt.Errorf("decode getMe: %w", err)
	}
	return bot.Identity{ID: u.ID, Username: u.UserName, Name: strings.TrimSpace(u.FirstName + " " + u.LastName)}, k, nil
}

// DeleteWebhook removes a webhook so that getUpdates works; pending
// updates are kept.
func (c *Client) DeleteWebhook(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	k := c.newCall(ctx)
	resp, err := k.api.MakeRequest("deleteWebhook", tgbotapi.Params{"drop_pending_updates": "false"})
	if err != nil {
		return c.classify(k, resp, err)
	}
	return nil
}

// SetCommands registers the command menu for a scope (bot.MenuEverywhere,
// bot.MenuGroups) and a language ("" = default).
func (c *Client) SetCommands(ctx context.Context, scope, language string, entries []bot.MenuEntry) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmds := make([]tgbotapi.BotCommand, 0, len(entries))
	for _, e := range entries {
		cmds = append(cmds, tgbotapi.BotCommand{Command: e.Command, Description: e.Description})
	}
	s := tgbotapi.NewBotCommandScopeDefault()
	if scope == bot.MenuGroups {
		s = tgbotapi.NewBotCommandScopeAllGroupChats()
	}
	cfg := tgbotapi.NewSetMyCommandsWithScopeAndLanguage(s, language, cmds...)
	k := c.newCall(ctx)
	resp, err := k.api.Request(cfg)
	if err != nil {
		return c.classify(k, resp, err)
	}
	return nil
}

// libraryLogger receives the library's own log lines.
type libraryLogger struct {
	log   *slog.Logger
	token string
}

func (l libraryLogger) Println(v ...any) {
	l.print(strings.TrimSpace(fmt.Sprintln(v...)))
}

func (l libraryLogger) Printf(format string, v ...any) { l.print(fmt.Sprintf(format, v...)) }

// tokenShape matches any bot token: scrub's last resort, and the library's
// log lines may come from a client other than the one that set the logger.
var tokenShape = regexp.MustCompile(`[0-9]{5,}:[A-Za-z0-9_-]{20,}`)

func (l libraryLogger) print(s string) {
	l.log.Debug("telegram library", "msg", scrub(s, l.token))
}
