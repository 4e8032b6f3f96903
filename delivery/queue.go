package delivery

import (
	"container/heap"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"danvan/store"
)

// The sender's in-memory index of the outbox: each chat's pending rows in
// order, and the chats that could send ordered by when they can. The store
// holds the rows themselves; a worker reads its row just before sending.

// pending is what the index keeps of an outbox row.
type pending struct {
	id        uint64
	priority  int
	created   time.Time
	notBefore time.Time
	expiresAt time.Time
}

// class is the index of the row's priority: 0 interactive, 1 bulk.
func (p pending) class() int {
	if p.priority <= store.PriorityInteractive {
		return classInteractive
	}
	return classBulk
}

func (p pending) expired(now time.Time) bool {
	return !p.expiresAt.IsZero() && !now.Before(p.expiresAt)
}

func pendingOf(r store.OutboxRow) pending {
	return pending{id: r.ID, priority: r.Priority, created: r.Created, notBefore: r.NotBefore, expiresAt: r.ExpiresAt}
}

// chatQueue is one chat's pending rows, sent one at a time: interactive
// rows first, each priority in id order. A reply to what a person just did
// thus overtakes an announcement still waiting in the same chat, while the
// messages of one flow keep their order.
type chatQueue struct {
	id   int64
	rows [2][]pending // by priority: interactive, bulk
	// busy is set while a worker sends the head row.
	busy bool
	// notBefore holds the whole chat back (after a 429 for it).
	notBefore time.Time
	// lim enforces the per-chat limit, glim the per-group one (nil for a
	// private chat).
	lim, glim *rate.Limiter
	// ready is when the head row may go; index its place in a heap (-1:
	// in none), class which heap.
	ready time.Time
	index int
	class int
}

// head is the row to send next.
func (c *chatQueue) head() (pending, bool) {
	for _, rows := range c.rows {
		if len(rows) > 0 {
			return rows[0], true
		}
	}
	return pending{}, false
}

// empty reports whether the chat has nothing queued.
func (c *chatQueue) empty() bool { return len(c.rows[0]) == 0 && len(c.rows[1]) == 0 }

// isGroup reports whether a chat id is a group's: private chats have the
// user's positive id, groups and supergroups negative ids.
func isGroup(chatID int64) bool { return chatID < 0 }

// readyAt is when the head row may be sent: after every hold and when the
// chat's limiters have a token. An expired head may go at once, to be
// recorded as expired.
func (c *chatQueue) readyAt(now time.Time) time.Time {
	head, _ := c.head()
	if head.expired(now) {
		return now
	}
	t := now
	for _, hold := range []time.Time{c.notBefore, head.notBefore, readyAt(c.lim, now)} {
		if hold.After(t) {
			t = hold
		}
	}
	if c.glim != nil {
		if g := readyAt(c.glim, now); g.After(t) {
			t = g
		}
	}
	return t
}

// idle reports whether the chat's limiters are full again, so forgetting
// the chat loses nothing.
func (c *chatQueue) idle(now time.Time) bool {
	return c.empty() && !c.busy && !readyAt(c.lim, now).After(now) &&
		(c.glim == nil || !readyAt(c.glim, now).After(now)) && !c.notBefore.After(now)
}

// chatHeap orders chats by when they can send, then by their head row's
// age, so that among ready chats the oldest message goes first.
type chatHeap []*chatQueue

func (h chatHeap) Len() int { return len(h) }
func (h chatHeap) Less(i, j int) bool {
	if !h[i].ready.Equal(h[j].ready) {
		return h[i].ready.Before(h[j].ready)
	}
	a, _ := h[i].head()
	b, _ := h[j].head()
	return a.id < b.id
}
func (h chatHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *chatHeap) Push(x any) {
	c := x.(*chatQueue)
	c.index = len(*h)
	*h = append(*h, c)
}
func (h *chatHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.index = -1
	return c
}

// Heap classes, served in this order.
const (
	classInteractive = iota
	classBulk
	classes
)

// index is the dispatcher's view of the outbox. It is owned by the
// dispatcher goroutine alone.
type index struct {
	chats map[int64]*chatQueue
	heaps [classes]chatHeap
	// answers are callback answers: they wait for nothing — not for a
	// chat's earlier messages, not for the limits (Telegram does not count
	// them) — because a button's spinner times out.
	answers []pending
	limits  Limits
	// depth counts queued rows by class, for the metrics.
	depth [classes]int
}

func newIndex(l Limits) *index {
	return &index{chats: make(map[int64]*chatQueue), limits: l}
}

func (x *index) chat(id int64) *chatQueue {
	c, ok := x.chats[id]
	if !ok {
		c = &chatQueue{id: id, index: -1, lim: newLimiter(x.limits.ChatPerSecond, time.Second)}
		if isGroup(id) {
			c.glim = newLimiter(x.limits.GroupPerMinute, time.Minute)
		}
		x.chats[id] = c
	}
	return c
}

// add puts a freshly loaded row in its chat's queue.
// known reports whether the chat has rows queued here.
func (x *index) known(id int64) bool {
	c, ok := x.chats[id]
	if !ok {
		return false
	}
	for _, rows := range c.rows {
		if len(rows) > 0 {
			return true
		}
	}
	return false
}

func (x *index) add(r store.OutboxRow, now time.Time) {
	p := pendingOf(r)
	x.depth[p.class()]++
	// Queries and button answers are not messages: no order, no limits.
	if r.Action.Kind == store.ActAnswer || r.Action.Kind == store.ActChatMember {
		x.answers = append(x.answers, p)
		return
	}
	c := x.chat(r.ChatID)
	if p.notBefore.After(now) && strings.HasPrefix(r.LastError, RateLimited.String()) {
		// Loaded after a restart: Telegram's retry_after holds the whole
		// chat, not only this row.
		c.notBefore = maxTime(c.notBefore, p.notBefore)
	}
	head, had := c.head()
	c.rows[p.class()] = append(c.rows[p.class()], p)
	if !c.busy && (!had || p.class() < head.class()) {
		x.schedule(c, now)
	}
}

// schedule (re)places an idle chat with rows in the heap of its head row.
func (x *index) schedule(c *chatQueue, now time.Time) {
	if c.index >= 0 {
		heap.Remove(&x.heaps[c.class], c.index)
	}
	head, ok := c.head()
	if !ok || c.busy {
		return
	}
	c.ready = c.readyAt(now)
	c.class = head.class()
	heap.Push(&x.heaps[c.class], c)
}

// next returns the chat whose head row should go now in class, or nil,
// with the time the class's first chat will be ready (zero if empty).
func (x *index) next(class int, now time.Time) (*chatQueue, time.Time) {
	h := x.heaps[class]
	if len(h) == 0 {
		return nil, time.Time{}
	}
	if h[0].ready.After(now) {
		return nil, h[0].ready
	}
	return heap.Pop(&x.heaps[class]).(*chatQueue), time.Time{}
}

// find returns where a row is in its chat's queues (normally the head: the
// row in flight), or -1.
func (c *chatQueue) find(rowID uint64) (class, i int) {
	for class, rows := range c.rows {
		for i, p := range rows {
			if p.id == rowID {
				return class, i
			}
		}
	}
	return 0, -1
}

// finish removes a settled row.
func (x *index) finish(c *chatQueue, rowID uint64) {
	if class, i := c.find(rowID); i >= 0 {
		x.depth[class]--
		c.rows[class] = append(c.rows[class][:i], c.rows[class][i+1:]...)
	}
}

// hold keeps a row queued, to be tried again at notBefore.
func (x *index) hold(c *chatQueue, rowID uint64, notBefore time.Time) {
	if class, i := c.find(rowID); i >= 0 {
		c.rows[class][i].notBefore = notBefore
	}
}

// migrate moves a chat's rows to the supergroup it became, merged in id
// order with rows already queued there. (A row the supergroup has in
// flight is found by id when it settles, wherever the merge put it.)
func (x *index) migrate(c *chatQueue, to int64, now time.Time) {
	dst := x.chat(to)
	for class := range c.rows {
		dst.rows[class] = mergeByID(c.rows[class], dst.rows[class])
		c.rows[class] = nil
	}
	x.schedule(dst, now)
}

// mergeByID merges two id-ordered lists.
func mergeByID(a, b []pending) []pending {
	merged := make([]pending, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || (i < len(a) && a[i].id < b[j].id) {
			merged = append(merged, a[i])
			i++
		} else {
			merged = append(merged, b[j])
			j++
		}
	}
	return merged
}

// sweep forgets chats that have nothing queued and full limiters.
func (x *index) sweep(now time.Time) {
	for id, c := range x.chats {
		if c.idle(now) && c.index < 0 {
			delete(x.chats, id)
		}
	}
}
