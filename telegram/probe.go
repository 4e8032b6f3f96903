package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"danvan/bot"
)

// Probe is what one getMe tells `danvan doctor`: where the Bot API is and
// through which proxy, whether it answered, who the bot is, and the
// server's clock. Nothing in it carries the token.
type Probe struct {
	// Host is the API endpoint's host (with its port, if any).
	Host string
	// Proxy is the proxy the request goes through, as scheme://host:port
	// without credentials; "" when it goes direct, or when a transport
	// given in Options chooses for itself.
	Proxy string
	// Status is the HTTP status of the answer; 0 when none came, and
	// Reason then says why in the system's words, without the URL.
	Status int
	Reason string
	// Identity is the bot, when getMe succeeded.
	Identity bot.Identity
	// Date is the answer's Date header (zero: none, or unreadable);
	// Received is when the answer arrived, by the local clock.
	Date, Received time.Time
}

// Probe asks getMe once. err is nil when the token works, wraps
// bot.ErrUnauthorized when Telegram refused the token, and is the
// request's failure otherwise; the Probe holds what was learnt in every
// case.
func (c *Client) Probe(ctx context.Context) (Probe, error) {
	var p Probe
	endpoint := c.endpoint
	if endpoint == "" {
		endpoint = tgbotapi.APIEndpoint
	}
	if u, err := url.Parse(fmt.Sprintf(endpoint, c.token, "getMe")); err == nil {
		p.Host = scrub(u.Host, c.token)
		if c.proxy != nil {
			if proxy, err := c.proxy(&http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}}); err == nil && proxy != nil {
				p.Proxy = proxy.Scheme + "://" + proxy.Host
			}
		}
	}
	me, k, err := c.getMe(ctx)
	p.Identity, p.Status, p.Received = me, k.status, k.received
	if t, perr := http.ParseTime(k.date); perr == nil {
		p.Date = t
	}
	if k.status == 0 && k.failed != nil {
		p.Reason = c.failure(k.failed)
	}
	return p, err
}

// failure says why a request got no answer, without the URL (and so
// without the token): "dial tcp 10.0.0.1:443: connect: connection
// refused", "proxyconnect tcp: …", "no answer within 10s".
func (c *Client) failure(err error) string {
	var timeout interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &timeout) && timeout.Timeout()) {
		return fmt.Sprintf("no answer within %s", c.timeout)
	}
	var u *url.Error
	if errors.As(err, &u) {
		err = u.Err
	}
	return scrub(err.Error(), c.token)
}
