package telegramtest

import (
	"fmt"
	"net/http"
	"time"
)

// Lengths of the flood-limit windows.
const (
	secondWindow = time.Second
	minuteWindow = time.Minute
)

// Limits are flood limits in the shape of Telegram's: at most GlobalPerSecond
// counted requests in any window [t, t+1s) over all chats, at most
// ChatPerSecond in any [t, t+1s) to one chat, and at most GroupPerMinute in
// any [t, t+60s) to one group or supergroup. Equivalently, a request at time
// τ breaks a limit of N when the N-th previous counted request of the same
// scope was later than τ minus the window.
//
// Counted requests are the sending and editing methods: sendMessage,
// sendPhoto, sendDocument, sendChatAction, editMessageText and
// editMessageReplyMarkup. Only requests the server applied count; answers
// to callbacks, deletions, getUpdates and the other methods never do. The
// limits are checked once the chat is resolved (so "chat not found" and
// 403s come first) and before the content is: a request over a limit gets
// 429, is not applied and is not counted, and neither is one that then
// fails with 400.
//
// A zero field leaves that limit unenforced, so the zero Limits enforces
// nothing. Telegram's own published figures are 30, 1 and 20.
type Limits struct {
	GlobalPerSecond int
	ChatPerSecond   int
	GroupPerMinute  int
}

// SentRecord is one counted request the server accepted, as SendLog lists
// it.
type SentRecord struct {
	// Method is the canonical method name, such as "sendMessage".
	Method string
	// ChatID is the chat the request wrote to.
	ChatID int64
	// MessageID is the message sent or edited (0 for sendChatAction).
	MessageID int
	// At is the server's clock (Options.Now) when the request was accepted.
	At time.Time
}

// sentEntry is a SendLog record together with what the limits need to know
// about its chat when the request was made.
type sentEntry struct {
	SentRecord
	group bool
}

// window holds the times of the recent counted requests of one scope,
// oldest first: a deque that drops times from the front as they age out.
type window struct {
	times []time.Time
	head  int // times[:head] are dropped
}

func (w *window) len() int { return len(w.times) - w.head }

// prune drops the times that can no longer matter at `at`: those at or
// before at - span. Times are assumed not to decrease.
func (w *window) prune(at time.Time, span time.Duration) {
	cutoff := at.Add(-span)
	for w.head < len(w.times) && !w.times[w.head].After(cutoff) {
		w.head++
	}
	switch {
	case w.head == len(w.times):
		w.times, w.head = w.times[:0], 0
	case w.head > 64 && w.head > len(w.times)/2:
		n := copy(w.times, w.times[w.head:])
		w.times, w.head = w.times[:n], 0
	}
}

// wait returns how long after `at` a request must wait so that at most n-1
// requests of the window remain within span of it, or 0. The caller has
// pruned w at `at`; n <= 0 means no limit.
func (w *window) wait(n int, at time.Time, span time.Duration) time.Duration {
	if n <= 0 || w.len() < n {
		return 0
	}
	nth := w.times[len(w.times)-n] // the n-th previous request
	return nth.Add(span).Sub(at)
}

// floodWindows tracks every scope the limits apply to.
type floodWindows struct {
	global window
	chats  map[int64]*window // the last second, per chat
	groups map[int64]*window // the last minute, per group or supergroup

	// sweepAt is the number of tracked chats at which idle windows are
	// next swept out, so that chats written to once do not stay forever.
	sweepAt int
}

func newFloodWindows() *floodWindows {
	return &floodWindows{chats: make(map[int64]*window), groups: make(map[int64]*window)}
}

// wait returns how long a counted request to chatID at `at` must wait to
// keep within l, or 0 when it may go now.
func (f *floodWindows) wait(l Limits, chatID int64, group bool, at time.Time) time.Duration {
	f.sweep(at)
	f.global.prune(at, secondWindow)
	d := f.global.wait(l.GlobalPerSecond, at, secondWindow)
	if w := f.chats[chatID]; w != nil {
		w.prune(at, secondWindow)
		d = max(d, w.wait(l.ChatPerSecond, at, secondWindow))
	}
	if w := f.groups[chatID]; group && w != nil {
		w.prune(at, minuteWindow)
		d = max(d, w.wait(l.GroupPerMinute, at, minuteWindow))
	}
	return d
}

// add counts a request to chatID at `at`.
func (f *floodWindows) add(chatID int64, group bool, at time.Time) {
	f.global.times = append(f.global.times, at)
	addTo(f.chats, chatID, at)
	if group {
		addTo(f.groups, chatID, at)
	}
}

func addTo(m map[int64]*window, id int64, at time.Time) {
	w := m[id]
	if w == nil {
		w = &window{}
		m[id] = w
	}
	w.times = append(w.times, at)
}

// sweep forgets the windows of chats with no request left in them, each
// time the number of tracked chats has doubled since the last sweep; the
// cost is amortised over the requests that added those chats.
func (f *floodWindows) sweep(at time.Time) {
	if len(f.chats)+len(f.groups) < f.sweepAt {
		return
	}
	for id, w := range f.chats {
		if w.prune(at, secondWindow); w.len() == 0 {
			delete(f.chats, id)
		}
	}
	for id, w := range f.groups {
		if w.prune(at, minuteWindow); w.len() == 0 {
			delete(f.groups, id)
		}
	}
	f.sweepAt = 2*(len(f.chats)+len(f.groups)) + 64
}

// retryAfter is wait in whole seconds, rounded up, at least 1: what
// Telegram puts in retry_after.
func retryAfter(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

func tooManyRequests(retry int) *apiError {
	return &apiError{
		code:        http.StatusTooManyRequests,
		description: fmt.Sprintf("Too Many Requests: retry after %d", retry),
		retryAfter:  retry,
	}
}

// SetLimits replaces the flood limits enforced from the next request on.
// Requests accepted before still occupy their windows, so a tightened limit
// applies to them at once. SetLimits(Limits{}) turns enforcement off;
// SendLog and Violations keep working.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// admitLocked reads the clock once for a counted request to c and checks it
// against the limits. It returns the time to stamp the request with, or the
// 429 answer. The caller holds s.mu from admitLocked until it has applied
// the request and called countLocked (or given up on it), so that two
// concurrent requests cannot both take the last free slot.
func (s *Server) admitLocked(c *chatState) (time.Time, *apiError) {
	now := s.now()
	if wait := s.flood.wait(s.limits, c.info.ID, c.isGroup(), now); wait > 0 {
		s.floodErrors++
		return time.Time{}, tooManyRequests(retryAfter(wait))
	}
	return now, nil
}

// countLocked records a counted request that admitLocked let through and
// that has been applied. The caller holds s.mu.
func (s *Server) countLocked(method string, c *chatState, messageID int, at time.Time) {
	group := c.isGroup()
	s.flood.add(c.info.ID, group, at)
	s.sendLog = append(s.sendLog, sentEntry{
		SentRecord: SentRecord{Method: method, ChatID: c.info.ID, MessageID: messageID, At: at},
		group:      group,
	})
}

// SendLog returns every counted request the server accepted, in the order
// it accepted them, whatever limits were enforced at the time.
func (s *Server) SendLog() []SentRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentRecord, len(s.sendLog))
	for i, e := range s.sendLog {
		out[i] = e.SentRecord
	}
	return out
}

// FloodErrors returns how many requests the enforced limits answered with
// 429. 429s made by SetFault hooks are not included.
func (s *Server) FloodErrors() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.floodErrors
}

// Violations judges SendLog against l, whatever limits were enforced, and
// returns how many records broke at least one of l's windows. Every
// accepted request counts in the windows of the ones after it, as it did on
// the wire, so a burst over the limit in an otherwise full stream makes
// every record of the stream after it a violation until a gap lets the
// windows drain.
func (s *Server) Violations(l Limits) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := newFloodWindows()
	n := 0
	for _, e := range s.sendLog {
		if f.wait(l, e.ChatID, e.group, e.At) > 0 {
			n++
		}
		f.add(e.ChatID, e.group, e.At)
	}
	return n
}
