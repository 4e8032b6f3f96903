package bot

import (
	"context"
	"errors"
	"fmt"

	"danvan/messages"
	"danvan/store"
)

// StartConversation begins the named wizard for the sender in this chat,
// replacing any dialogue they had. Its keyboards should be made with
// KeyboardOptions{Conversation: conv.ID}.
func (c *Context) StartConversation(wizard, step string, data map[string]string) (store.Conversation, error) {
	if _, ok := c.bot.wizards[wizard]; !ok {
		return store.Conversation{}, fmt.Errorf("start unregistered wizard %q", wizard)
	}
	if c.Sender == nil {
		return store.Conversation{}, errors.New("start conversation: no person to talk to")
	}
	return c.Tx.StartConversation(store.Conversation{
		UserID: c.Sender.ID, ChatID: c.Chat.ID, Name: wizard, Step: step, Data: data,
		Started: c.Now, Expires: c.Now.Add(c.bot.convTTL),
	})
}

// SaveConversation stores the dialogue's progress and restarts its timeout.
func (c *Context) SaveConversation(conv *store.Conversation) error {
	conv.Expires = c.Now.Add(c.bot.convTTL)
	return c.Tx.PutConversation(*conv)
}

// EndConversation finishes the sender's dialogue.
func (c *Context) EndConversation() error {
	if c.Sender == nil {
		return nil
	}
	return c.Tx.EndConversation(c.Sender.ID)
}

// activeConversation returns the sender's dialogue if it is alive and
// belongs to this chat.
func (b *Bot) activeConversation(c *Context) (store.Conversation, bool, error) {
	if c.Sender == nil {
		return store.Conversation{}, false, nil
	}
	conv, err := c.Tx.Conversation(c.Sender.ID)
	if errors.Is(err, store.ErrNotFound) {
		return conv, false, nil
	}
	if err != nil {
		return conv, false, err
	}
	if !c.Now.Before(conv.Expires) || conv.ChatID != c.Chat.ID {
		return conv, false, nil
	}
	return conv, true, nil
}

// continueConversation hands a typed answer to the dialogue's wizard.
func (b *Bot) continueConversation(c *Context, conv store.Conversation) error {
	w, ok := b.wizards[conv.Name]
	if !ok {
		// A wizard removed in a newer version: forget the dialogue.
		c.handler = "wizard:unknown"
		return c.Tx.EndConversation(conv.UserID)
	}
	c.handler = "wizard:" + w.Name
	c.dialogueStep = true
	if ok, need := b.authorize(c, w.Perm, 0); !ok {
		c.handler += ":refused"
		return c.Reply(messages.Refused{Need: need})
	}
	return w.OnText(c, &conv)
}

// ExpireConversations ends every dialogue whose time ran out by now and
// tells each person, in their language, that it was cancelled. The
// scheduler's housekeeping job calls it.
func (b *Bot) ExpireConversations(ctx context.Context) error {
	now := b.clock.Now()
	return b.store.Update(ctx, func(tx *store.Tx) error {
		expired, err := tx.ExpiredConversations(now)
		if err != nil {
			return err
		}
		for _, conv := range expired {
			if err := tx.EndConversation(conv.UserID); err != nil {
				return err
			}
			lang := b.lang
			if u, err := tx.User(conv.UserID); err == nil {
				lang = b.language(u)
			}
			p := b.msgs.For(lang)
			text := p.HTML(messages.ConversationExpired{
				Title:   p.Text(messages.ConversationTitle{Name: conv.Name}),
				Timeout: b.convTTL,
			})
			if _, err := tx.Enqueue(store.OutboxRow{
				ChatID: conv.ChatID, Priority: store.PriorityInteractive,
				Origin: fmt.Sprintf("conversation:%d", conv.ID), Created: now,
				Action: store.Action{Kind: store.ActSend, Text: text},
			}); err != nil {
				return err
			}
		}
		if len(expired) > 0 {
			tx.OnCommit(b.wake)
		}
		return nil
	})
}
