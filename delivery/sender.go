// Package delivery sends the outbox. Handlers and scheduled jobs write
// outbox rows in their transactions; the Sender, woken by those commits,
// sends every row through the messenger adapter as fast as Telegram's
// limits allow, keeps each chat's messages in order, puts replies to people
// ahead of bulk fan-out, retries what failed for a while, and removes a row
// only after the messenger accepted it — recording the message id against
// the row's origin. A row is therefore delivered at least once, even across
// crashes, with at most Workers duplicates per crash.
//
// One dispatcher goroutine owns an in-memory index of the outbox (each
// chat's pending rows, and a heap of chats by when they may send next); it
// hands rows to a fixed pool of workers. Workers read the row, send it,
// make the outcome durable and report back, before taking another. The
// outcomes of workers that finish together are committed in one
// transaction (group commit), so fsync does not cap the rate.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"danvan/clock"
	"danvan/store"
)

// Options configure a Sender.
type Options struct {
	Store  *store.Store
	Client Client
	Clock  clock.Clock
	Log    *slog.Logger
	Limits Limits
	// Workers is the number of sends in flight at most (default 16):
	// enough to reach 30 messages a second when a request takes 300 ms.
	Workers int
	// Grace lets sends in flight at shutdown finish (default 2 s), so a
	// message Telegram accepted is acknowledged, not sent again next start.
	Grace   time.Duration
	Metrics *Metrics
}

// Sender sends the outbox.
type Sender struct {
	o      Options
	wake   chan struct{}
	global *rate.Limiter
	// slowedUntil is when the global rate, halved after 429s in several
	// chats at once, returns to normal.
	slowedUntil time.Time
	floods      []flood
	// globalDue is when the global limiter next has a token, as computed
	// when the dispatcher went to sleep for it (zero: not waiting).
	globalDue  time.Time
	lastLoaded uint64
	loadFailed bool
	lastSweep  time.Time
	idx        *index
	inFlight   int
	stats      *stats
	records    chan record
}

// record is an outcome waiting to be committed with others.
type record struct {
	fn   func(*store.Tx) error
	done chan error
}

type flood struct {
	at   time.Time
	chat int64
}

// NewSender returns a sender; start it with Run.
func NewSender(o Options) *Sender {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.Grace <= 0 {
		o.Grace = 2 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return &Sender{
		o:       o,
		wake:    make(chan struct{}, 1),
		global:  newLimiter(o.Limits.GlobalPerSecond, time.Second),
		idx:     newIndex(o.Limits),
		stats:   &stats{},
		records: make(chan record, o.Workers),
	}
}

// Wake tells the sender that new rows were committed. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// job is a row handed to a worker; result is what became of it.
type job struct {
	row  uint64
	chat int64 // 0 for a callback answer
}

type outcome int

const (
	settled     outcome = iota // sent, failed, expired or gone: done with the row
	retry                      // temporary failure: try the row again at notBefore
	rateLimited                // 429: hold the chat until notBefore
	unreachable                // the chat's rows were dropped
	migrated                   // the row (and the chat's others) now go to migrateTo
	storeFailed                // the outcome could not be recorded; try again later
)

type result struct {
	job
	outcome   outcome
	notBefore time.Time
	migrateTo int64
	// dropped are the rows settled with an unreachable chat.
	dropped []uint64
}

// Run sends until ctx is cancelled, then lets sends in flight finish
// (within Grace) and returns. It owns the dispatcher (this goroutine) and
// the workers.
func (s *Sender) Run(ctx context.Context) error {
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	go func() { // ends with Run: cancelSends ends sendCtx
		select {
		case <-ctx.Done():
			clock.Sleep(s.o.Clock, s.o.Grace, sendCtx.Done())
			cancelSends()
		case <-sendCtx.Done():
		}
	}()

	jobs := make(chan job)
	results := make(chan result, s.o.Workers)
	var workers, recorder sync.WaitGroup
	recorder.Go(s.commitLoop)
	for range s.o.Workers {
		workers.Go(func() {
			for j := range jobs {
				results <- s.perform(ctx, sendCtx, j)
			}
		})
	}
	defer func() {
		close(jobs)
		go func() { workers.Wait(); close(results) }()
		for range results { // drain: nothing is dispatched any more
		}
		close(s.records)
		recorder.Wait()
	}()

	s.reload(ctx)
	for ctx.Err() == nil {
		next := s.dispatch(ctx, jobs)
		if s.loadFailed {
			next = minTime(next, s.o.Clock.Now().Add(5*time.Second))
		}
		s.stats.publish(s.idx)
		s.wait(ctx, next, results)
	}
	return nil
}

// wait sleeps until a commit wakes the sender, a worker reports, next
// arrives (zero: no timer) or ctx ends, and handles what woke it.
func (s *Sender) wait(ctx context.Context, next time.Time, results <-chan result) {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := s.o.Clock.NewTimer(next.Sub(s.o.Clock.Now()))
		defer t.Stop()
		timer = t.C()
	}
	select {
	case <-ctx.Done():
	case <-s.wake:
		s.reload(ctx)
	case r := <-results:
		s.settle(r)
	case <-timer:
		if s.loadFailed {
			s.reload(ctx)
		}
	}
}

// reload loads new rows; after a failure it is tried again in 5 s.
func (s *Sender) reload(ctx context.Context) {
	err := s.load(ctx)
	s.loadFailed = err != nil && ctx.Err() == nil
	if s.loadFailed {
		s.o.Log.Error("reading the outbox failed; trying again in 5s", "err", err)
	}
}

// load adds the rows committed since the last load to the index. Rows are
// appended with increasing ids, so the ones not yet seen are exactly those
// above the last id loaded. A row that does not decode is passed over, so
// it cannot hold back the rows after it, and recorded as failed.
func (s *Sender) load(ctx context.Context) error {
	now := s.o.Clock.Now()
	for {
		var page store.OutboxPage
		// migratedFrom maps a supergroup with new rows to the group it
		// was, when this sender has not seen it before.
		migratedFrom := map[int64]int64{}
		err := s.o.Store.View(ctx, func(tx *store.Tx) error {
			page = tx.PendingOutboxPage(s.lastLoaded, 1000)
			for _, r := range page.Rows {
				if _, seen := migratedFrom[r.ChatID]; seen || s.idx.known(r.ChatID) {
					continue
				}
				migratedFrom[r.ChatID] = 0
				if c, err := tx.Chat(r.ChatID); err == nil && c.MigratedFrom != 0 {
					migratedFrom[r.ChatID] = c.MigratedFrom
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		// A group that became a supergroup: the rows still held for the
		// group go first, ahead of the supergroup's newer ones.
		for to, from := range migratedFrom {
			if from != 0 && s.idx.known(from) {
				s.idx.migrate(s.idx.chat(from), to, now)
			}
		}
		for _, r := range page.Rows {
			s.idx.add(r, now)
		}
		s.lastLoaded = page.Last
		if len(page.Broken) > 0 {
			s.failBroken(ctx, page.Broken, now)
		}
		if !page.More {
			return nil
		}
	}
}

// failBroken records rows that do not decode as failed and removes them.
// Each is logged once, by id: its content may be anyone's message. If the
// record cannot be made, the rows stay in the store but are not loaded
// again until the next start, which tries again.
func (s *Sender) failBroken(ctx context.Context, ids []uint64, now time.Time) {
	for _, id := range ids {
		s.o.Log.Error("an outbox row does not decode; it is recorded as failed and not sent", "row", id)
	}
	err := s.o.Store.Update(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			if err := tx.FailBrokenOutbox(id, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		s.o.Log.Error("recording outbox rows that do not decode failed", "rows", len(ids), "err", err)
	}
}

// dispatch hands every row that may go now to a free worker: callback
// answers first, then interactive rows, then bulk ones, each class in the
// order its chats become ready. It returns when it should look again
// (zero: when woken).
func (s *Sender) dispatch(ctx context.Context, jobs chan<- job) time.Time {
	now := s.o.Clock.Now()
	s.restoreGlobal(now)
	if now.Sub(s.lastSweep) > time.Minute {
		s.idx.sweep(now)
		s.lastSweep = now
	}
	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	waiting := s.idx.answers[:0]
	for _, a := range s.idx.answers {
		if s.inFlight < s.o.Workers && !a.notBefore.After(now) {
			s.send(ctx, jobs, job{row: a.id})
			continue
		}
		waiting = append(waiting, a)
		if a.notBefore.After(now) {
			later(a.notBefore)
		}
	}
	s.idx.answers = waiting
	for class := range classes {
		// Bulk leaves a few workers free, so a reply or an answer never
		// waits for slow bulk sends to finish.
		free := s.o.Workers
		if class == classBulk {
			free -= reservedWorkers
		}
		for s.inFlight < free {
			if g := readyAt(s.global, now); g.After(now) {
				s.globalDue = g
				later(g) // the global limit holds every chat back
				break
			}
			c, ready := s.idx.next(class, now)
			if c == nil {
				later(ready)
				break
			}
			head, _ := c.head()
			if !head.expired(now) {
				take(s.global, s.globalSlot(now))
				take(c.lim, now)
				if c.glim != nil {
					take(c.glim, now)
				}
			}
			c.busy = true
			s.send(ctx, jobs, job{row: head.id, chat: c.id})
		}
	}
	if !s.slowedUntil.IsZero() {
		later(s.slowedUntil)
	}
	return next
}

// reservedWorkers are kept from bulk for interactive rows and answers.
const reservedWorkers = 2

// catchUp is how late the dispatcher may be for a global token and still
// use it at its due time. A timer firing a little late would otherwise
// push every later message back by as much. It stays below the margin the
// windows are stretched by (2 ms a second), so windows hold: N+1 messages
// are always at least N×interval − catchUp > 1 s apart.
const catchUp = time.Millisecond

// globalSlot is the time to take the global token at: its due time if the
// dispatcher woke for it a little late, else now.
func (s *Sender) globalSlot(now time.Time) time.Time {
	due := s.globalDue
	s.globalDue = time.Time{}
	if !due.IsZero() && due.Before(now) && now.Sub(due) <= catchUp {
		return due
	}
	return now
}

func (s *Sender) send(ctx context.Context, jobs chan<- job, j job) {
	select {
	case jobs <- j:
		s.inFlight++
	case <-ctx.Done():
	}
}

// settle applies a worker's result to the index.
func (s *Sender) settle(r result) {
	s.inFlight--
	now := s.o.Clock.Now()
	if r.chat == 0 { // a callback answer
		if r.outcome == settled || r.outcome == unreachable {
			s.idx.depth[0]--
			return
		}
		// Answer again later; the answer is useless once the client gave
		// up, which Telegram then says with a 400 that settles it.
		s.idx.answers = append(s.idx.answers, pending{id: r.row, notBefore: r.notBefore})
		return
	}
	c := s.idx.chat(r.chat)
	c.busy = false
	switch r.outcome {
	case settled:
		s.idx.finish(c, r.row)
	case retry, storeFailed:
		s.idx.hold(c, r.row, r.notBefore)
	case rateLimited:
		c.notBefore = r.notBefore
		s.noteFlood(now, c.id, r.notBefore)
	case unreachable:
		// Exactly the rows the store dropped: one committed since is for
		// a person who wrote again, and is sent.
		for _, id := range r.dropped {
			s.idx.finish(c, id)
		}
	case migrated:
		s.idx.hold(c, r.row, time.Time{})
		s.idx.migrate(c, r.migrateTo, now)
	}
	s.idx.schedule(c, now)
}

// noteFlood slows the global rate to half when several chats hit 429
// within a second: Telegram is telling us the bot as a whole is too fast.
func (s *Sender) noteFlood(now time.Time, chat int64, until time.Time) {
	kept := s.floods[:0]
	for _, f := range s.floods {
		if now.Sub(f.at) < time.Second && f.chat != chat {
			kept = append(kept, f)
		}
	}
	s.floods = append(kept, flood{at: now, chat: chat})
	if len(s.floods) < 3 || s.global.Limit() == rate.Inf {
		return
	}
	base := rate.Every(interval(s.o.Limits.GlobalPerSecond, time.Second))
	if s.slowedUntil.IsZero() {
		s.o.Log.Warn("429s in several chats at once; halving the global rate for a while", "chats", len(s.floods))
		s.global.SetLimitAt(now, base/2)
	}
	s.slowedUntil = maxTime(now.Add(30*time.Second), until)
}

func (s *Sender) restoreGlobal(now time.Time) {
	if !s.slowedUntil.IsZero() && !now.Before(s.slowedUntil) {
		s.global.SetLimitAt(now, rate.Every(interval(s.o.Limits.GlobalPerSecond, time.Second)))
		s.slowedUntil = time.Time{}
		s.o.Log.Info("global rate back to normal")
	}
}

// perform sends one row and makes its outcome durable before returning.
func (s *Sender) perform(ctx, sendCtx context.Context, j job) result {
	res := result{job: j, outcome: settled}
	var r store.OutboxRow
	var action store.Action
	err := s.o.Store.View(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		var err error
		if r, err = tx.OutboxRow(j.row); err != nil {
			return err
		}
		action, err = tx.RowAction(r)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return res // settled elsewhere (its chat was dropped meanwhile)
	}
	if errors.Is(err, store.ErrBrokenRow) {
		// It decoded when it was loaded and broke since: it can never be sent.
		s.o.Log.Error("an outbox row does not decode; it is recorded as failed and not sent", "row", j.row)
		now := s.o.Clock.Now()
		return s.record(ctx, res, func(tx *store.Tx) error { return tx.FailBrokenOutbox(j.row, now) })
	}
	if err != nil {
		return s.storeFailure(res, err)
	}
	if j.chat != 0 && r.ChatID != j.chat {
		// The store moved the row to a supergroup (MigrateChat) since it
		// was indexed: requeue it there, behind nothing it should follow.
		res.outcome, res.migrateTo = migrated, r.ChatID
		return res
	}
	now := s.o.Clock.Now()
	if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return s.record(ctx, res, func(tx *store.Tx) error {
			return unlessWithdrawn(tx, r.ID, func() error {
				return tx.FailOutbox(r, store.DeliveryExpired, "expired before it could be sent", now, false)
			})
		})
	}

	if action.Kind == store.ActChatMember {
		return s.query(ctx, sendCtx, res, r, action)
	}
	messageID, sendErr := s.o.Client.Do(sendCtx, r.ChatID, action)
	now = s.o.Clock.Now()
	if sendErr == nil {
		return s.record(ctx, res, func(tx *store.Tx) error {
			switch gone, err := withdrawn(tx, r.ID); {
			case err != nil:
				return err
			case gone:
				return s.takeBack(tx, r, action, messageID, now)
			}
			return tx.AckOutbox(r, messageID, now)
		})
	}
	e := Classify(sendErr)
	tried := r // as stored: settling counts this attempt itself
	r.Attempts++
	r.LastError = e.Error()
	switch e.Kind {
	case RateLimited:
		// Never sooner than Telegram said.
		res.outcome, res.notBefore = rateLimited, now.Add(max(e.RetryAfter, time.Second))
		r.NotBefore = res.notBefore
		s.o.Metrics.floodWaits.Inc()
		s.o.Metrics.retried.WithLabelValues("rate_limited").Inc()
	case Migrated:
		s.o.Log.Info("a group became a supergroup; its messages go there now", "chat_id", r.ChatID, "new_chat_id", e.MigrateTo)
		s.o.Metrics.retried.WithLabelValues("migrated").Inc()
		res.outcome, res.migrateTo = migrated, e.MigrateTo
		return s.record(ctx, res, func(tx *store.Tx) error {
			if err := unlessWithdrawn(tx, r.ID, func() error { return tx.RescheduleOutbox(r) }); err != nil {
				return err
			}
			_, err := tx.MigrateChat(tried.ChatID, e.MigrateTo, now)
			return err
		})
	case Unreachable:
		// Logged once per chat: its other rows are dropped right here.
		s.o.Log.Warn("chat unreachable; its messages are dropped until it writes again", "chat_id", r.ChatID, "reason", e.Description)
		if j.chat == 0 { // a callback answer says nothing about the chat
			return s.record(ctx, res, func(tx *store.Tx) error {
				return unlessWithdrawn(tx, r.ID, func() error {
					return tx.FailOutbox(tried, store.DeliveryUnreachable, e.Description, now, true)
				})
			})
		}
		res.outcome = unreachable
		var dropped []uint64
		res = s.record(ctx, res, func(tx *store.Tx) error {
			dropped = nil
			// A row withdrawn meanwhile (its person erased) or the goodbye
			// to an erased person: nothing more to record about the chat.
			if gone, err := withdrawn(tx, r.ID); err != nil || gone {
				return err
			}
			if err := tx.FailOutbox(tried, store.DeliveryUnreachable, e.Description, now, true); err != nil {
				return err
			}
			if r.Forget {
				return nil
			}
			var err error
			dropped, err = tx.MarkUnreachable(r.ChatID, e.Description, now)
			return err
		})
		res.dropped = append(dropped, r.ID)
		return res
	case Rejected:
		s.o.Log.Warn("message rejected; skipped", "chat_id", r.ChatID, "kind", r.Action.Kind, "reason", e.Description)
		return s.record(ctx, res, func(tx *store.Tx) error {
			return unlessWithdrawn(tx, r.ID, func() error {
				return tx.FailOutbox(tried, store.DeliveryFailed, e.Description, now, true)
			})
		})
	default:
		if ctx.Err() != nil {
			res.outcome, res.notBefore = retry, now
			return res // shutting down: the row stays for the next start
		}
		// A proxy's Retry-After, if any, is a floor (capped when read).
		res.outcome, res.notBefore = retry, now.Add(max(retryDelay(r.Attempts), e.RetryAfter))
		r.NotBefore = res.notBefore
		s.o.Metrics.retried.WithLabelValues("temporary").Inc()
		s.o.Log.Debug("send failed; will retry", "chat_id", r.ChatID, "attempts", r.Attempts, "err", e)
	}
	return s.record(ctx, res, func(tx *store.Tx) error {
		return unlessWithdrawn(tx, r.ID, func() error { return tx.RescheduleOutbox(r) })
	})
}

// query asks the messenger a question for the bot (ActChatMember). A
// temporary failure is tried again like a send; any other failure is
// answered with "" so the asker can say it could not find out.
func (s *Sender) query(ctx, sendCtx context.Context, res result, r store.OutboxRow, a store.Action) result {
	status, err := s.o.Client.ChatMember(sendCtx, r.ChatID, a.UserID)
	now := s.o.Clock.Now()
	if err != nil {
		if e := Classify(err); (e.Kind == Temporary || e.Kind == RateLimited) && ctx.Err() == nil {
			r.Attempts++
			res.outcome, res.notBefore = retry, now.Add(max(retryDelay(r.Attempts), e.RetryAfter))
			r.NotBefore, r.LastError = res.notBefore, e.Error()
			return s.record(ctx, res, func(tx *store.Tx) error {
				return unlessWithdrawn(tx, r.ID, func() error { return tx.RescheduleOutbox(r) })
			})
		}
		status = ""
	}
	return s.record(ctx, res, func(tx *store.Tx) error {
		return unlessWithdrawn(tx, r.ID, func() error { return tx.AnswerQuery(r, status, now) })
	})
}

// withdrawn reports whether the row left the outbox while a worker was
// sending it: a recall cancelled it, or an erasure settled it. Whoever
// withdrew it recorded its outcome; a late outcome must not overwrite that
// record, nor write back a chat id an erasure removed.
func withdrawn(tx *store.Tx, rowID uint64) (bool, error) {
	_, err := tx.OutboxRow(rowID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return false, err
}

// unlessWithdrawn records a row's outcome with fn, unless the row was
// withdrawn while it was being sent.
func unlessWithdrawn(tx *store.Tx, rowID uint64, fn func() error) error {
	gone, err := withdrawn(tx, rowID)
	if err != nil || gone {
		return err
	}
	return fn()
}

// takeBackWindow is how long Telegram lets a bot delete its messages.
const takeBackWindow = 48 * time.Hour

// takeBack deletes a message that went out although its row was withdrawn
// while it was in flight: a recalled announcement must not stay with the
// few people whose copy Telegram was accepting at that moment. The
// deletion leaves no record, like the withdrawn row's own chat.
func (s *Sender) takeBack(tx *store.Tx, r store.OutboxRow, a store.Action, messageID int, now time.Time) error {
	if messageID == 0 || (a.Kind != store.ActSend && a.Kind != store.ActPhoto && a.Kind != store.ActDocument) {
		return nil // an edit or a deletion: nothing new to take back
	}
	if _, err := tx.Enqueue(store.OutboxRow{
		ChatID: r.ChatID, Priority: r.Priority, Origin: r.Origin, Created: now, ExpiresAt: now.Add(takeBackWindow),
		Action: store.Action{Kind: store.ActDelete, MessageID: messageID}, Forget: true,
	}); err != nil {
		return fmt.Errorf("take back message %d in %d: %w", messageID, r.ChatID, err)
	}
	tx.OnCommit(func() {
		s.o.Log.Info("a message withdrawn while it was being sent went out; deleting it", "chat_id", r.ChatID, "row", r.ID)
		s.Wake()
	})
	return nil
}

// record makes a row's outcome durable before the worker takes another
// row. Outcomes of workers that finish together share one transaction.
func (s *Sender) record(ctx context.Context, res result, fn func(*store.Tx) error) result {
	done := make(chan error, 1)
	s.records <- record{fn: fn, done: done}
	if err := <-done; err != nil {
		return s.storeFailure(res, err)
	}
	return res
}

// commitLoop commits the records waiting, all in one transaction: the first
// record starts a commit at once, and those arriving during its fsync go
// into the next. If a shared transaction fails, each record is tried on its
// own, so one bad record cannot fail the others; a record's function must
// therefore change nothing outside its transaction.
func (s *Sender) commitLoop() {
	ctx := context.Background()
	for first := range s.records {
		batch := []record{first}
	gather:
		for len(batch) < 256 {
			select {
			case r, ok := <-s.records:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}
		err := s.o.Store.Update(ctx, func(tx *store.Tx) error {
			for _, r := range batch {
				if err := r.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && len(batch) > 1 {
			for _, r := range batch {
				r.done <- s.o.Store.Update(ctx, r.fn)
			}
			continue
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (s *Sender) storeFailure(res result, err error) result {
	s.o.Log.Error("recording a delivery failed; the row will be tried again", "row", res.row, "err", err)
	res.outcome, res.notBefore = storeFailed, s.o.Clock.Now().Add(5*time.Second)
	return res
}

// retryDelay is exponential backoff with jitter: between half and all of
// 1 s after the first failure, doubling to at most 5 minutes.
func retryDelay(attempts int) time.Duration {
	ceiling := time.Second << min(max(attempts-1, 0), 9)
	ceiling = min(ceiling, 5*time.Minute)
	return ceiling/2 + rand.N(ceiling/2+1)
}

// minTime is the earlier of two times, zero meaning "never".
func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
