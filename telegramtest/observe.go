package telegramtest

import (
	"context"
	"fmt"
)

// Messages returns every message of a chat, from both sides, in order and
// in their current state; deleted ones are included, flagged Deleted. It
// returns nil for an unknown chat.
func (s *Server) Messages(chatID int64) []Message {
	return s.messages(chatID, false)
}

// BotMessages returns the bot's messages in a chat, deleted ones included.
func (s *Server) BotMessages(chatID int64) []Message {
	return s.messages(chatID, true)
}

// Message returns one message of a chat by id.
func (s *Server) Message(chatID int64, messageID int) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok {
		return Message{}, false
	}
	m := c.message(messageID)
	if m == nil {
		return Message{}, false
	}
	return m.clone(), true
}

func (s *Server) messages(chatID int64, botOnly bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(chatID, botOnly)
}

func (s *Server) messagesLocked(chatID int64, botOnly bool) []Message {
	c, ok := s.chats[chatID]
	if !ok {
		return nil
	}
	var out []Message
	for _, m := range c.messages {
		if !botOnly || m.FromBot {
			out = append(out, m.clone())
		}
	}
	return out
}

// WaitBotMessages blocks until the bot has sent at least n messages in the
// chat (deleted ones count), then returns all of them; or it returns the
// ones so far with an error when ctx ends.
func (s *Server) WaitBotMessages(ctx context.Context, chatID int64, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		msgs := s.messagesLocked(chatID, true)
		wake := s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return msgs, fmt.Errorf("wait for %d bot messages in chat %d (got %d): %w", n, chatID, len(msgs), ctx.Err())
		}
	}
}

// Pending returns how many updates wait for confirmation.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// Confirmed returns the highest update_id a getUpdates offset has
// confirmed, or 0.
func (s *Server) Confirmed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed
}

// Requests returns how many requests for a method (its canonical name, such
// as "sendMessage") the server received, whatever their outcome.
func (s *Server) Requests(method string) int {
	canonical, _ := lookupMethod(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[canonical]
}

// Sent returns how many messages the bot has sent successfully, in all
// chats.
func (s *Server) Sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}
