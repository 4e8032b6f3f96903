package delivery

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Limits are Telegram's flood limits: at most GlobalPerSecond messages in
// any window [t, t+1 s) over all chats, ChatPerSecond in one chat, and
// GroupPerMinute in [t, t+1 min) in one group. A zero field lifts that
// limit (for benchmarks).
type Limits struct {
	GlobalPerSecond int
	ChatPerSecond   int
	GroupPerMinute  int
}

// DefaultLimits are the limits of Telegram's bot FAQ.
var DefaultLimits = Limits{GlobalPerSecond: 30, ChatPerSecond: 1, GroupPerMinute: 20}

// margin stretches every window a little, so that rounding in the
// limiter's arithmetic and the dispatcher's catch-up for a late timer (see
// catchUp) can never squeeze N+1 messages into one window as the sender
// dispatches them. It costs 0.2% of throughput. Requests that take
// different times on the network can still arrive closer together than
// they left; Telegram then answers 429 and the sender waits as told.
const margin = 1.002

// newLimiter returns a token bucket that lets at most n events through in
// any half-open window of the given length: burst 1, one token every
// window/n (stretched by margin). A larger burst would let n events at the
// end of one window be followed by n more at the start of the next.
func newLimiter(n int, window time.Duration) *rate.Limiter {
	if n <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Every(interval(n, window)), 1)
}

func interval(n int, window time.Duration) time.Duration {
	return time.Duration(math.Ceil(float64(window) * margin / float64(n)))
}

// readyAt returns when lim has a token: now if it has one.
func readyAt(lim *rate.Limiter, now time.Time) time.Time {
	if lim.Limit() == rate.Inf {
		return now
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1-1e-9 {
		return now
	}
	wait := time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))
	return now.Add(wait + time.Microsecond) // never a zero wait that would spin
}

// take uses one token at now; the caller checked readyAt.
func take(lim *rate.Limiter, now time.Time) {
	lim.ReserveN(now, 1)
}

// Estimate is how long sending n messages to distinct chats takes at the
// limits, after queued messages already waiting, when nothing fails: the
// global limit spaces them evenly (one message per chat never waits for a
// chat's or a group's own limit).
func Estimate(l Limits, n, queued int) time.Duration {
	if n <= 0 || l.GlobalPerSecond <= 0 {
		return 0
	}
	return time.Duration(queued+n-1) * interval(l.GlobalPerSecond, time.Second)
}

// Estimate is how long n more messages will take, behind what is queued.
func (s *Sender) Estimate(n int) time.Duration {
	interactive, bulk := s.depth()
	return Estimate(s.o.Limits, n, interactive+bulk)
}
