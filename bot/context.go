package bot

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strconv"
	"time"

	"danvan/messages"
	"danvan/store"
)

// Context is what a handler gets: the update, the store transaction it runs
// in, who sent it and in which language to answer. Replies written through
// it become outbox rows in the same transaction.
type Context struct {
	Tx     *store.Tx
	Now    time.Time
	Update Update
	// Message is the message being handled: the update's message, or the
	// bot's message that carried a pressed button.
	Message  *Message
	Callback *Callback
	// Sender is the person who wrote or pressed (nil for anonymous admins,
	// channels and service accounts); User is their stored record.
	Sender *User
	User   store.User
	Chat   store.Chat
	// Lang is the reply language; P renders messages in it.
	Lang messages.Lang
	P    messages.Printer
	// Args is the command's text after its name, trimmed.
	Args string
	// KeyboardData is the server-side data of the pressed keyboard.
	KeyboardData string
	// Carry is what a command asked to keep while the person chose a unit
	// (see then).
	Carry string

	bot     *Bot
	handler string
	// dialogueStep is set when the update was routed to the sender's
	// dialogue: a typed answer, or a press of a keyboard tied to it.
	dialogueStep bool
	answered     bool
	enqueued     bool
	// forget marks the rows enqueued from here on to leave no record once
	// sent: the person's data has just been erased.
	forget bool
}

func (b *Bot) newContext(tx *store.Tx, now time.Time, u Update) *Context {
	c := &Context{Tx: tx, Now: now, Update: u, bot: b, Lang: b.lang}
	switch {
	case u.Message != nil:
		c.Message = u.Message
	case u.Edited != nil:
		c.Message = u.Edited
	case u.Callback != nil:
		c.Callback = u.Callback
		c.Message = u.Callback.Message
		from := u.Callback.From
		c.Sender = &from
	}
	if c.Message != nil {
		c.Chat = store.Chat{ID: c.Message.Chat.ID, Kind: c.Message.Chat.Kind, Title: c.Message.Chat.Title}
		if u.Callback == nil {
			c.Sender = c.Message.person()
		}
	}
	if c.Sender != nil && c.Sender.IsBot {
		c.Sender = nil
	}
	if c.Sender != nil {
		c.User = store.User{ID: c.Sender.ID, FirstName: c.Sender.FirstName, LastName: c.Sender.LastName,
			Username: c.Sender.Username, ClientLanguage: c.Sender.LanguageCode}
		c.Lang = b.language(c.User)
	}
	c.P = b.msgs.For(c.Lang)
	return c
}

// Bot returns the bot the handler runs in.
func (c *Context) Bot() *Bot { return c.bot }

// IsAdmin reports whether the sender is an admin.
func (c *Context) IsAdmin() bool { return c.Sender != nil && c.bot.isAdmin(c.Tx, c.Sender.ID) }

// InGroup reports whether the update came from a group chat.
func (c *Context) InGroup() bool { return c.Chat.IsGroup() }

// SetLanguage switches the context (and the printer) to lang, e.g. right
// after the person chose it.
func (c *Context) SetLanguage(lang messages.Lang) {
	c.Lang = lang
	c.P = c.bot.msgs.For(lang)
}

// origin names the update as the cause of the rows it enqueues.
func (c *Context) origin() string { return "update:" + strconv.FormatInt(c.Update.ID, 10) }

// Enqueue writes an outbox row for chatID. Handlers normally use Reply and
// friends; Enqueue is for messages to other chats.
func (c *Context) Enqueue(chatID int64, priority int, a store.Action) error {
	return c.enqueue(store.OutboxRow{ChatID: chatID, Priority: priority, Action: a})
}

// enqueue writes a row caused by this update.
func (c *Context) enqueue(r store.OutboxRow) error {
	r.Origin, r.Created, r.Forget = c.origin(), c.Now, c.forget
	if _, err := c.Tx.Enqueue(r); err != nil {
		return err
	}
	c.enqueued = true
	return nil
}

// Reply answers in the chat the update came from, threaded under the
// message it answers, as HTML.
func (c *Context) Reply(m messages.Message, keyboard ...[]store.Button) error {
	return c.ReplyHTML(c.P.HTML(m), keyboard...)
}

// ReplyHTML is Reply with an already rendered text.
func (c *Context) ReplyHTML(text string, keyboard ...[]store.Button) error {
	if c.Message == nil {
		return fmt.Errorf("reply to update %d: no chat to reply in", c.Update.ID)
	}
	a := store.Action{Kind: store.ActSend, Text: text, Buttons: keyboard}
	if c.Callback == nil {
		a.ReplyTo = c.Message.ID
	}
	return c.Enqueue(c.Message.Chat.ID, store.PriorityInteractive, a)
}

// ReplyAction answers with a prepared action (a force-reply, say),
// threaded under the message it answers.
func (c *Context) ReplyAction(a store.Action) error {
	if c.Message == nil {
		return fmt.Errorf("reply to update %d: no chat to reply in", c.Update.ID)
	}
	if c.Callback == nil {
		a.ReplyTo = c.Message.ID
	}
	return c.Enqueue(c.Message.Chat.ID, store.PriorityInteractive, a)
}

// EditHTML replaces the text (and keyboard) of the bot's message that
// carried the pressed button.
func (c *Context) EditHTML(text string, keyboard ...[]store.Button) error {
	if c.Callback == nil || c.Message == nil {
		return fmt.Errorf("edit for update %d: not a button press on a message", c.Update.ID)
	}
	return c.Enqueue(c.Message.Chat.ID, store.PriorityInteractive, store.Action{
		Kind: store.ActEditText, MessageID: c.Message.ID, Text: text, Buttons: keyboard,
	})
}

// Answer answers the button press with a short notice (empty: none). A
// press is answered once; the router answers for handlers that do not.
func (c *Context) Answer(notice string, alert bool) error {
	if c.Callback == nil || c.answered {
		return nil
	}
	c.answered = true
	chatID := c.Chat.ID
	if chatID == 0 {
		chatID = c.Callback.From.ID
	}
	// Telegram takes an answer only for about 15 seconds after the press;
	// later it is useless, and would only be refused.
	return c.enqueue(store.OutboxRow{
		ChatID: chatID, Priority: store.PriorityInteractive, ExpiresAt: c.Now.Add(answerWindow),
		Action: store.Action{Kind: store.ActAnswer, CallbackID: c.Callback.ID, Text: notice, Alert: alert},
	})
}

// answerWindow is how long Telegram accepts an answer to a button press.
const answerWindow = 15 * time.Second

// apologize tells the person that their update could not be handled, in
// their stored language (the failed handler's changes, including any
// registry update, were rolled back).
func (c *Context) apologize(dialogueStep bool) error {
	if c.Sender != nil {
		if u, err := c.Tx.User(c.Sender.ID); err == nil {
			c.SetLanguage(c.bot.language(u))
		}
		// The dialogue this update was a step of would fail the same
		// way on every next message: it ends with the apology. A failed
		// command or another button leaves the dialogue alone.
		if dialogueStep {
			if err := c.EndConversation(); err != nil {
				return err
			}
		}
	}
	switch {
	case c.Callback != nil:
		return c.Answer(c.P.Text(messages.Notice{Name: "error"}), false)
	case c.Message != nil && (c.Chat.Kind == store.ChatPrivate || c.Message.Command != ""):
		return c.Reply(messages.Apology{})
	}
	return nil
}

// Key is a button before it gets its token: a label and the payload its
// handler receives.
type Key struct {
	Text    string
	Payload string
}

// maxPayload keeps token, separator and payload within Telegram's 64 bytes
// of callback_data.
const maxPayload = 64 - tokenLen - 1

const tokenLen = 12

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// KeyboardOptions describe who may press a keyboard and for how long.
type KeyboardOptions struct {
	// Anyone lets anybody who passes the handler's permission press it;
	// otherwise only the person the keyboard was made for may.
	Anyone bool
	// Conversation ties the keyboard to the sender's current dialogue.
	Conversation uint64
	// TTL is how long the keyboard stays valid (default 7 days; for a
	// decision, [bot] conversation_timeout).
	TTL time.Duration
	// Decision marks a question to its person — confirm or cancel, which
	// unit — that /huy withdraws, and that lasts as long as a dialogue.
	Decision bool
	// Data is kept with the token on the server and handed to the handler
	// as Context.KeyboardData when a button is pressed.
	Data string
}

// Keyboard makes an inline keyboard whose presses go to the named callback
// handler. All its buttons share one one-time token: the first accepted
// press uses it up.
func (c *Context) Keyboard(handler string, o KeyboardOptions, rows ...[]Key) ([][]store.Button, error) {
	if _, ok := c.bot.callbacks[handler]; !ok {
		return nil, fmt.Errorf("keyboard for unregistered callback handler %q", handler)
	}
	raw := make([]byte, tokenLen*5/8)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("keyboard token: %w", err)
	}
	switch {
	case o.TTL > 0:
	case o.Decision:
		o.TTL = c.bot.convTTL
	default:
		o.TTL = 7 * 24 * time.Hour
	}
	t := store.Token{
		Code: tokenEncoding.EncodeToString(raw), Handler: handler, ChatID: c.Chat.ID,
		Conversation: o.Conversation, Data: o.Data, Decision: o.Decision, Created: c.Now, Expires: c.Now.Add(o.TTL),
	}
	if !o.Anyone && c.Sender != nil {
		t.UserID = c.Sender.ID
	}
	if err := c.Tx.PutToken(t); err != nil {
		return nil, err
	}
	out := make([][]store.Button, 0, len(rows))
	for _, row := range rows {
		buttons := make([]store.Button, 0, len(row))
		for _, k := range row {
			if len(k.Payload) > maxPayload {
				return nil, fmt.Errorf("keyboard payload of %d bytes exceeds %d", len(k.Payload), maxPayload)
			}
			buttons = append(buttons, store.Button{Text: k.Text, Data: t.Code + ":" + k.Payload})
		}
		out = append(out, buttons)
	}
	return out, nil
}
