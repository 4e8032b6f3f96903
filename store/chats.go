package store

import (
	"errors"
	"fmt"
	"time"
)

// Chat kinds.
const (
	ChatPrivate    = "private"
	ChatGroup      = "group"
	ChatSupergroup = "supergroup"
	ChatChannel    = "channel"
)

// Chat is an entry in the registry of chats the bot talks to: one
// registry for every feature, so facts about a chat (unreachable, later a
// group's new supergroup id) are kept in one place.
type Chat struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title,omitempty"`
	// Unreachable is set when Telegram refused to deliver to the chat (the
	// user blocked the bot, the bot left the group); cleared when the chat
	// writes again.
	Unreachable   bool      `json:"unreachable,omitempty"`
	UnreachableAt time.Time `json:"unreachable_at,omitzero"`
	Reason        string    `json:"reason,omitempty"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
}

// IsGroup reports whether the chat is a group or supergroup.
func (c Chat) IsGroup() bool { return c.Kind == ChatGroup || c.Kind == ChatSupergroup }

// Chat returns the registry entry for the chat.
func (tx *Tx) Chat(chatID int64) (Chat, error) {
	var c Chat
	if err := getJSON(tx.bucket(bucketChats), id(chatID), &c); err != nil {
		return c, fmt.Errorf("chat %d: %w", chatID, err)
	}
	return c, nil
}

// PutChat stores a registry entry.
func (tx *Tx) PutChat(c Chat) error {
	if err := putJSON(tx.bucket(bucketChats), id(c.ID), c); err != nil {
		return fmt.Errorf("save chat %d: %w", c.ID, err)
	}
	return nil
}

// SeeChat records that a message came from the chat at time at: it is
// registered if new, its title refreshed, and it is reachable again. Like
// SeeUser it avoids writing when nothing changed.
func (tx *Tx) SeeChat(seen Chat, at time.Time) (Chat, error) {
	c, err := tx.Chat(seen.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		c = Chat{ID: seen.ID, FirstSeen: at}
	case err != nil:
		return c, err
	}
	changed := c.Kind != seen.Kind || c.Title != seen.Title || c.Unreachable ||
		c.LastSeen.IsZero() || at.Sub(c.LastSeen) > time.Minute
	if !changed {
		return c, nil
	}
	c.Kind, c.Title = seen.Kind, seen.Title
	c.Unreachable, c.UnreachableAt, c.Reason = false, time.Time{}, ""
	c.LastSeen = at
	return c, tx.PutChat(c)
}

// MarkUnreachable records that the messenger refused to deliver to the
// chat (blocked, kicked, not found); SeeChat clears it when the chat
// writes again.
func (tx *Tx) MarkUnreachable(chatID int64, reason string, at time.Time) error {
	c, err := tx.Chat(chatID)
	switch {
	case errors.Is(err, ErrNotFound):
		c = Chat{ID: chatID, FirstSeen: at}
	case err != nil:
		return err
	}
	c.Unreachable, c.UnreachableAt, c.Reason = true, at, reason
	return tx.PutChat(c)
}
