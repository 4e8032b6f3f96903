package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Conversation is a person's current multi-step dialogue (a wizard). A
// person has at most one; starting another replaces it.
type Conversation struct {
	// ID is unique over the store's life, so a keyboard of an abandoned
	// conversation can never act on a newer one.
	ID     uint64 `json:"id"`
	UserID int64  `json:"user_id"`
	ChatID int64  `json:"chat_id"`
	// Name names the wizard; Step names where it is.
	Name    string            `json:"name"`
	Step    string            `json:"step"`
	Data    map[string]string `json:"data,omitempty"`
	Started time.Time         `json:"started"`
	Expires time.Time         `json:"expires"`
}

// Conversation returns the person's current conversation (expired or not).
func (tx *Tx) Conversation(userID int64) (Conversation, error) {
	var c Conversation
	if err := getJSON(tx.bucket(bucketConversations), id(userID), &c); err != nil {
		return c, fmt.Errorf("conversation of user %d: %w", userID, err)
	}
	return c, nil
}

// StartConversation stores c as the person's conversation, replacing any
// other, and gives it a fresh id.
func (tx *Tx) StartConversation(c Conversation) (Conversation, error) {
	seq, err := tx.bucket(bucketConversations).NextSequence()
	if err != nil {
		return c, fmt.Errorf("start conversation: %w", err)
	}
	c.ID = seq
	return c, tx.PutConversation(c)
}

// PutConversation saves a conversation's progress.
func (tx *Tx) PutConversation(c Conversation) error {
	if err := putJSON(tx.bucket(bucketConversations), id(c.UserID), c); err != nil {
		return fmt.Errorf("save conversation of user %d: %w", c.UserID, err)
	}
	return nil
}

// EndConversation removes the person's conversation, if any.
func (tx *Tx) EndConversation(userID int64) error {
	return tx.bucket(bucketConversations).Delete(id(userID))
}

// ExpiredConversations returns the conversations whose time ran out by now.
func (tx *Tx) ExpiredConversations(now time.Time) ([]Conversation, error) {
	var out []Conversation
	c := tx.bucket(bucketConversations).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var conv Conversation
		if err := json.Unmarshal(v, &conv); err != nil {
			return nil, fmt.Errorf("conversation of user %d: %w", int64(binary.BigEndian.Uint64(k)), err)
		}
		if !conv.Expires.After(now) {
			out = append(out, conv)
		}
	}
	return out, nil
}

// Token is the one-time token an inline keyboard carries in its
// callback_data. The first accepted press uses it up inside the handler's
// transaction: one keyboard, one decision.
type Token struct {
	Code string `json:"code"`
	// UserID is the person the keyboard was made for; 0 lets anyone who
	// passes the handler's permission press it.
	UserID int64 `json:"user_id,omitempty"`
	ChatID int64 `json:"chat_id"`
	// Handler names the registered callback handler that acts on a press.
	Handler string `json:"handler"`
	// Conversation, if not 0, ties the keyboard to one conversation: once
	// that conversation ends, the keyboard is expired.
	Conversation uint64 `json:"conversation,omitempty"`
	// Data is state the keyboard carries on the server side, so that
	// forged callback_data cannot change it (e.g. which list is paged).
	Data string `json:"data,omitempty"`
	// Decision marks a question put to its person (confirm or cancel,
	// which unit): /huy withdraws it like a dialogue.
	Decision bool      `json:"decision,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	Used     time.Time `json:"used,omitzero"`
}

// PutToken stores a new keyboard token.
func (tx *Tx) PutToken(t Token) error {
	if err := putJSON(tx.bucket(bucketTokens), []byte(t.Code), t); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	return nil
}

// Token returns the keyboard token with this code.
func (tx *Tx) Token(code string) (Token, error) {
	var t Token
	if err := getJSON(tx.bucket(bucketTokens), []byte(code), &t); err != nil {
		return t, fmt.Errorf("token: %w", err)
	}
	return t, nil
}

// WithdrawDecisions uses up, at time at, every decision keyboard made for
// the user in the chat that is still open, and returns how many there
// were. It reads every token: a person's /huy is rare, and the tokens
// bucket is pruned.
func (tx *Tx) WithdrawDecisions(userID, chatID int64, at time.Time) (int, error) {
	var open []Token
	err := tx.bucket(bucketTokens).ForEach(func(_, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return nil // not a decision anyone can make
		}
		if t.Decision && t.UserID == userID && t.ChatID == chatID && t.Used.IsZero() && at.Before(t.Expires) {
			open = append(open, t)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, t := range open {
		t.Used = at
		if err := tx.PutToken(t); err != nil {
			return 0, err
		}
	}
	return len(open), nil
}

// UseToken marks the token used at time at.
func (tx *Tx) UseToken(code string, at time.Time) error {
	t, err := tx.Token(code)
	if err != nil {
		return err
	}
	t.Used = at
	return tx.PutToken(t)
}
