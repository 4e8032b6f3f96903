package telegramtest

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// answerWindow is how long after a press Telegram accepts its answer.
const answerWindow = 15 * time.Second

// firstQueryID is where callback query ids start; Telegram's are large
// decimal numbers.
const firstQueryID = 4_300_000_000_000_000_000

const queryTooOldDescription = "query is too old and response timeout expired or query ID is invalid"

// callbackQuery is a button press waiting for, or having, its answer.
type callbackQuery struct {
	id        string
	chatID    int64
	messageID int
	data      string
	pressed   time.Time
	answered  bool
	answer    CallbackAnswer
}

// Press makes from press the inline button carrying data on the bot's
// message messageID in chat, enqueueing a callback_query update with the
// message as it currently is, and returns the query id. It panics if the
// message does not exist or has no such button, since no client could press
// it; PressForged skips that check.
func (s *Server) Press(from User, chat Chat, messageID int, data string) (queryID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustChatLocked(chat.ID)
	m := c.message(messageID)
	if m == nil || m.Deleted || !m.FromBot {
		panic(fmt.Sprintf("telegramtest: Press: chat %d has no bot message %d to press a button on", chat.ID, messageID))
	}
	found := false
	for _, row := range m.Keyboard {
		for _, b := range row {
			found = found || (b.CallbackData == data && b.URL == "")
		}
	}
	if !found {
		panic(fmt.Sprintf("telegramtest: Press: message %d in chat %d has no button with callback_data %q", messageID, chat.ID, data))
	}
	return s.pressLocked(from, c, m, data)
}

// PressForged enqueues a callback_query with arbitrary data, as a modified
// client could send, for the message messageID in chat whether or not it
// exists or carries such a button. It returns the query id.
func (s *Server) PressForged(from User, chat Chat, messageID int, data string) (queryID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustChatLocked(chat.ID)
	return s.pressLocked(from, c, c.message(messageID), data)
}

// pressLocked records a press and enqueues its update. The caller holds
// s.mu.
func (s *Server) pressLocked(from User, c *chatState, m *Message, data string) string {
	s.userLocked(from)
	s.nextQuery++
	id := strconv.FormatUint(uint64(firstQueryID)+uint64(s.nextQuery), 10)
	q := &callbackQuery{id: id, chatID: c.info.ID, data: data, pressed: s.now()}
	wire := apiCallbackQuery{
		ID:           id,
		From:         wireUser(from),
		ChatInstance: strconv.FormatInt(c.info.ID*7919+s.bot.ID, 10),
		Data:         data,
	}
	if m != nil && !m.Deleted {
		q.messageID = m.ID
		wire.Message = s.wireMessageLocked(m, true)
	}
	s.queries[id] = q
	s.enqueueLocked("callback_query", wire)
	s.notifyLocked()
	return id
}

func (s *Server) answerCallbackQuery(_ context.Context, p params) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := p.str("callback_query_id")
	q, ok := s.queries[id]
	now := s.now()
	if !ok || q.answered || now.Sub(q.pressed) > answerWindow {
		return outcome{err: badRequest(queryTooOldDescription)}
	}
	q.answered = true
	q.answer = CallbackAnswer{
		QueryID:   id,
		Text:      p.str("text"),
		ShowAlert: p.bool("show_alert"),
		URL:       p.str("url"),
		CacheTime: p.int("cache_time"),
		At:        now,
	}
	s.notifyLocked()
	return outcome{result: true}
}

// CallbackAnswer returns the bot's answer to a press, if it answered.
func (s *Server) CallbackAnswer(queryID string) (CallbackAnswer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queries[queryID]
	if !ok || !q.answered {
		return CallbackAnswer{}, false
	}
	return q.answer, true
}

// WaitCallbackAnswer blocks until the bot answers the press queryID, or ctx
// ends.
func (s *Server) WaitCallbackAnswer(ctx context.Context, queryID string) (CallbackAnswer, error) {
	for {
		s.mu.Lock()
		q, ok := s.queries[queryID]
		if !ok {
			s.mu.Unlock()
			return CallbackAnswer{}, fmt.Errorf("wait for callback answer: unknown query id %q", queryID)
		}
		answer, answered := q.answer, q.answered
		wake := s.changed
		s.mu.Unlock()
		if answered {
			return answer, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return CallbackAnswer{}, fmt.Errorf("wait for callback answer %s: %w", queryID, ctx.Err())
		}
	}
}
