package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// queuedUpdate is an update waiting for its confirmation, already encoded
// as the JSON object getUpdates returns.
type queuedUpdate struct {
	id   int64
	kind string
	raw  json.RawMessage
}

// poller is a getUpdates request waiting for updates.
type poller struct {
	// kill is closed when another getUpdates or a setWebhook takes over;
	// killedBy is the 409's description, set before.
	kill     chan struct{}
	killedBy string
}

const conflictDescription = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"

// updateKinds are the update fields the emulator recognises in raw updates,
// in the order a raw update's kind is looked for.
func updateKinds() []string {
	return []string{
		"message", "edited_message", "channel_post", "edited_channel_post",
		"callback_query", "inline_query", "chosen_inline_result",
		"my_chat_member", "chat_member", "chat_join_request",
		"message_reaction", "message_reaction_count",
		"shipping_query", "pre_checkout_query", "poll", "poll_answer",
	}
}

// allowsLocked reports whether updates of kind are currently wanted: those
// named by the last non-empty allowed_updates, or by default every kind but
// chat_member and reactions. The caller holds s.mu.
func (s *Server) allowsLocked(kind string) bool {
	if kind == "" {
		return true
	}
	if s.allowed == nil {
		switch kind {
		case "chat_member", "message_reaction", "message_reaction_count":
			return false
		}
		return true
	}
	return s.allowed[kind]
}

// enqueueLocked adds an update of kind carrying payload and returns its
// update_id, or 0 when allowed_updates filters the kind out (Telegram never
// creates such updates). The caller holds s.mu.
func (s *Server) enqueueLocked(kind string, payload any) int64 {
	if !s.allowsLocked(kind) {
		return 0
	}
	id := s.nextUpdateID
	raw, err := json.Marshal(map[string]any{"update_id": id, kind: payload})
	if err != nil {
		panic(fmt.Sprintf("telegramtest: encode %s update: %v", kind, err))
	}
	s.nextUpdateID++
	s.updates = append(s.updates, queuedUpdate{id: id, kind: kind, raw: raw})
	s.notifyLocked()
	return id
}

// InjectRaw enqueues an update whose body is the JSON object raw with a
// fresh update_id merged in, whatever else it holds; it is meant for
// updates the bot cannot decode. It panics if raw is not a JSON object.
func (s *Server) InjectRaw(raw string) (updateID int64) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		panic(fmt.Sprintf("telegramtest: InjectRaw needs a JSON object: %v", err))
	}
	if obj == nil {
		obj = make(map[string]json.RawMessage)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextUpdateID
	s.nextUpdateID++
	obj["update_id"] = json.RawMessage(fmt.Sprint(id))
	body, err := json.Marshal(obj)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: InjectRaw: %v", err))
	}
	kind := ""
	for _, k := range updateKinds() {
		if _, ok := obj[k]; ok {
			kind = k
			break
		}
	}
	s.updates = append(s.updates, queuedUpdate{id: id, kind: kind, raw: body})
	s.notifyLocked()
	return id
}

// confirmLocked forgets the updates an offset confirms: those below it, or
// for a negative offset all but the last -offset ones. The caller holds
// s.mu.
func (s *Server) confirmLocked(offset int64) {
	keep := 0
	if offset < 0 {
		keep = max(0, len(s.updates)-int(-offset))
	} else {
		for keep < len(s.updates) && s.updates[keep].id < offset {
			keep++
		}
	}
	if keep == 0 {
		return
	}
	s.confirmed = max(s.confirmed, s.updates[keep-1].id)
	s.updates = append([]queuedUpdate(nil), s.updates[keep:]...)
	s.notifyLocked()
}

// batchLocked returns the first limit queued updates as a JSON array and
// their ids. The caller holds s.mu.
func (s *Server) batchLocked(limit int) (json.RawMessage, []int64) {
	n := min(limit, len(s.updates))
	var buf bytes.Buffer
	ids := make([]int64, 0, n)
	buf.WriteByte('[')
	for i, u := range s.updates[:n] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(u.raw)
		ids = append(ids, u.id)
	}
	buf.WriteByte(']')
	return buf.Bytes(), ids
}

// getUpdates answers with the queued updates, long-polling up to timeout
// seconds when there are none. A newer getUpdates ends a waiting one with
// 409 Conflict.
func (s *Server) getUpdates(ctx context.Context, p params) outcome {
	limit := 100
	if n, ok := p.int64("limit"); ok {
		limit = int(min(max(n, 1), 100))
	}
	var timeout time.Duration
	if n, ok := p.int64("timeout"); ok && n > 0 {
		timeout = time.Duration(n) * time.Second
	}
	var allowed []string
	setAllowed := p.has("allowed_updates")
	if setAllowed {
		if err := json.Unmarshal([]byte(p.str("allowed_updates")), &allowed); err != nil {
			return outcome{err: badRequest("can't parse allowed_updates JSON array")}
		}
	}
	offset, hasOffset := p.int64("offset")

	me := &poller{kill: make(chan struct{})}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()

	s.mu.Lock()
	if s.webhook != nil {
		s.mu.Unlock()
		return outcome{err: &apiError{code: http.StatusConflict, description: webhookActiveDescription}}
	}
	if s.poller != nil {
		s.poller.killedBy = conflictDescription
		close(s.poller.kill)
		s.poller = nil
	}
	if hasOffset {
		s.confirmLocked(offset)
	}
	if setAllowed {
		s.setAllowedLocked(allowed)
	}
	for {
		if len(s.updates) > 0 || timeout == 0 || s.isClosed() {
			if s.poller == me {
				s.poller = nil
			}
			result, ids := s.batchLocked(limit)
			s.mu.Unlock()
			return outcome{result: result, delivered: ids}
		}
		if timer == nil {
			timer = time.NewTimer(timeout)
		}
		if s.poller != me {
			s.poller = me
			s.notifyLocked() // WaitPolling watches for this
		}
		wake := s.changed
		s.mu.Unlock()

		select {
		case <-wake:
		case <-me.kill:
			return outcome{err: s.killedError(me)}
		case <-timer.C:
			timeout = 0
		case <-s.closed:
		case <-ctx.Done():
			s.mu.Lock()
			if s.poller == me {
				s.poller = nil
				s.notifyLocked()
			}
			s.mu.Unlock()
			return outcome{noAnswer: true}
		}

		s.mu.Lock()
		select {
		case <-me.kill:
			s.mu.Unlock()
			return outcome{err: s.killedError(me)}
		default:
		}
	}
}

// WaitPolling blocks until a getUpdates request is waiting for updates (the
// bot is idle, long-polling), or ctx ends.
func (s *Server) WaitPolling(ctx context.Context) error {
	for {
		s.mu.Lock()
		waiting := s.poller != nil
		wake := s.changed
		s.mu.Unlock()
		if waiting {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("wait for a long poll: %w", ctx.Err())
		}
	}
}

func (s *Server) getMe(context.Context, params) outcome {
	me := apiMe{apiUser: wireUser(s.bot), CanJoinGroups: true}
	return outcome{result: me}
}

// killedError is the 409 that ends a long poll another request took
// over.
func (s *Server) killedError(p *poller) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &apiError{code: http.StatusConflict, description: p.killedBy}
}

// setAllowedLocked records allowed_updates (empty: Telegram's default
// set). The caller holds s.mu.
func (s *Server) setAllowedLocked(allowed []string) {
	if len(allowed) == 0 {
		s.allowed = nil
		return
	}
	s.allowed = make(map[string]bool, len(allowed))
	for _, k := range allowed {
		s.allowed[k] = true
	}
}
