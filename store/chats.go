package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
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
	// MigratedTo is the supergroup this group became; messages for the
	// group go there.
	MigratedTo int64 `json:"migrated_to,omitempty"`
	// MigratedFrom is the group this supergroup was: the sender moves
	// what it still holds for that group here before anything newer.
	MigratedFrom int64     `json:"migrated_from,omitempty"`
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
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
	if c.Unreachable {
		if err := tx.countUnreachable(-1); err != nil {
			return c, err
		}
	}
	c.Kind, c.Title = seen.Kind, seen.Title
	c.Unreachable, c.UnreachableAt, c.Reason = false, time.Time{}, ""
	c.LastSeen = at
	return c, tx.PutChat(c)
}

// MarkUnreachable records that the messenger refused to deliver to the
// chat (blocked, kicked, not found) and drops the chat's pending rows with
// that reason; it returns their ids. Until the chat writes again
// (SeeChat), rows for it are recorded as unreachable as soon as they are
// enqueued.
func (tx *Tx) MarkUnreachable(chatID int64, reason string, at time.Time) ([]uint64, error) {
	c, err := tx.Chat(chatID)
	switch {
	case errors.Is(err, ErrNotFound):
		c = Chat{ID: chatID, FirstSeen: at}
	case err != nil:
		return nil, err
	}
	if !c.Unreachable {
		if err := tx.countUnreachable(+1); err != nil {
			return nil, err
		}
	}
	c.Unreachable, c.UnreachableAt, c.Reason = true, at, reason
	if err := tx.PutChat(c); err != nil {
		return nil, err
	}
	return tx.DropChatOutbox(chatID, DeliveryUnreachable, reason, at)
}

// countUnreachable moves the count of unreachable chats by delta.
func (tx *Tx) countUnreachable(delta int) error {
	n := int(tx.CountUnreachable()) + delta
	return tx.bucket(bucketMeta).Put(keyUnreachable, u64(uint64(max(n, 0))))
}

// MigrateChat records that group oldID became supergroup newID: the
// registry points the group to the supergroup, which inherits its entry,
// the group's pending rows move there in order, and so do its open
// keyboards and dialogues (the group's messages, buttons included, now
// live in the supergroup). It returns how many rows moved.
func (tx *Tx) MigrateChat(oldID, newID int64, at time.Time) (int, error) {
	old, err := tx.Chat(oldID)
	switch {
	case errors.Is(err, ErrNotFound):
		old = Chat{ID: oldID, Kind: ChatGroup, FirstSeen: at, LastSeen: at}
	case err != nil:
		return 0, err
	}
	if existing, err := tx.Chat(newID); errors.Is(err, ErrNotFound) {
		moved := old
		moved.ID, moved.Kind, moved.MigratedTo, moved.MigratedFrom = newID, ChatSupergroup, 0, oldID
		if err := tx.PutChat(moved); err != nil {
			return 0, err
		}
	} else if err != nil {
		return 0, err
	} else if existing.MigratedFrom != oldID {
		existing.MigratedFrom = oldID
		if err := tx.PutChat(existing); err != nil {
			return 0, err
		}
	}
	old.MigratedTo = newID
	if err := tx.PutChat(old); err != nil {
		return 0, err
	}
	if err := tx.moveLinks(oldID, newID); err != nil {
		return 0, err
	}
	if err := tx.moveChatState(oldID, newID); err != nil {
		return 0, err
	}
	rows := tx.chatRows(oldID)
	outbox, index := tx.bucket(bucketOutbox), tx.bucket(bucketOutboxChats)
	for _, rowID := range rows {
		r, err := tx.OutboxRow(rowID)
		if errors.Is(err, ErrBrokenRow) {
			// It could not be sent to either chat: settled as failed.
			if err := tx.FailBrokenOutbox(rowID, at); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		r.ChatID = newID
		if err := putJSON(outbox, u64(rowID), r); err != nil {
			return 0, err
		}
		if err := index.Delete(chatRowKey(oldID, rowID)); err != nil {
			return 0, err
		}
		if err := index.Put(chatRowKey(newID, rowID), nil); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// Chats calls fn for every registry entry until fn returns false.
func (tx *Tx) Chats(fn func(Chat) bool) error {
	c := tx.bucket(bucketChats).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var chat Chat
		if err := json.Unmarshal(v, &chat); err != nil {
			return fmt.Errorf("chat %d: %w", int64(binary.BigEndian.Uint64(k)), err)
		}
		if !fn(chat) {
			break
		}
	}
	return nil
}

// CountUnreachable returns how many chats are marked unreachable.
func (tx *Tx) CountUnreachable() int {
	v := tx.bucket(bucketMeta).Get(keyUnreachable)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// moveChatState moves the keyboard tokens and dialogues of chat oldID to
// newID. Both buckets are read whole: a migration is rare, and both are
// pruned or short-lived. A record that does not decode is left as it is:
// it could not be used in either chat.
func (tx *Tx) moveChatState(oldID, newID int64) error {
	if err := moveChatRecords(tx.bucket(bucketTokens), oldID, newID, func(t *Token) *int64 { return &t.ChatID }); err != nil {
		return fmt.Errorf("move keyboards: %w", err)
	}
	if err := moveChatRecords(tx.bucket(bucketConversations), oldID, newID, func(c *Conversation) *int64 { return &c.ChatID }); err != nil {
		return fmt.Errorf("move dialogues: %w", err)
	}
	return nil
}

// moveChatRecords rewrites every record of b whose chat (chat returns a
// pointer to it) is oldID to newID, skipping records that do not decode.
func moveChatRecords[T any](b *bolt.Bucket, oldID, newID int64, chat func(*T) *int64) error {
	var keys [][]byte
	var values []*T
	err := b.ForEach(func(k, v []byte) error {
		if v == nil {
			return nil
		}
		rec := new(T)
		if json.Unmarshal(v, rec) != nil || *chat(rec) != oldID {
			return nil
		}
		*chat(rec) = newID
		keys, values = append(keys, bytes.Clone(k)), append(values, rec)
		return nil
	})
	if err != nil {
		return err
	}
	for i, k := range keys {
		if err := putJSON(b, k, values[i]); err != nil {
			return err
		}
	}
	return nil
}
