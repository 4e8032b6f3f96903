package bot

import "time"

// Update is one event from the messenger, in danvan's own terms. Exactly one
// of its pointers is set, unless Undecodable.
type Update struct {
	ID           int64
	Message      *Message
	Edited       *Message
	Callback     *Callback
	MemberChange *MemberChange
	// Undecodable marks an update the adapter could not decode; only ID is
	// known. It is recorded and skipped so it never blocks the loop.
	Undecodable bool
}

// User is the sender of a message or a button press.
type User struct {
	ID           int64
	FirstName    string
	LastName     string
	Username     string
	LanguageCode string
	IsBot        bool
}

// Chat is where a message was written.
type Chat struct {
	ID    int64
	Kind  string // store.ChatPrivate, ChatGroup, ChatSupergroup, ChatChannel
	Title string
}

// Message kinds.
const (
	KindText     = "text"
	KindPhoto    = "photo"
	KindDocument = "document"
	KindSticker  = "sticker"
	KindService  = "service" // joins, migrations and other service messages
	KindOther    = "other"
)

// Message is a message someone wrote (or, inside a Callback, the bot's
// message that carried the button).
type Message struct {
	ID   int
	Chat Chat
	// From is nil for channel posts.
	From *User
	// SenderChat is set when a group's anonymous admin or a channel wrote.
	SenderChat *Chat
	Date       time.Time
	Kind       string
	// Text is the text, or the caption of a photo or document.
	Text string
	// Command is the command's name, lower-cased, without "/" or "@bot"
	// ("" when the message is not a command); CommandTarget is the bot
	// named after "@" ("" when none); Args is the rest of the text.
	Command       string
	CommandTarget string
	Args          string
	// ReplyTo is the message this one answers, if any: its ID, sender,
	// chat, kind, text or caption and file (not its own reply or command).
	ReplyTo *Message
	// FileID names an attached photo (the largest size) or document.
	FileID   string
	FileName string
	// MigrateToChatID and MigrateFromChatID announce a group's upgrade to a
	// supergroup.
	MigrateToChatID   int64
	MigrateFromChatID int64
}

// Callback is a press of an inline-keyboard button.
type Callback struct {
	ID   string
	From User
	// Message is the bot's message that carried the button (nil when the
	// client did not send it, e.g. for very old messages).
	Message *Message
	Data    string
}

// MemberChange reports the bot's own membership changing in a chat: added
// to a group, removed, or blocked by a user.
type MemberChange struct {
	Chat      Chat
	From      User
	OldStatus string
	NewStatus string
	Date      time.Time
}

// Identity is who the bot is, as the messenger says (getMe).
type Identity struct {
	ID       int64
	Username string
	Name     string
}

// Telegram's service senders: never people with a role.
const (
	groupAnonymousBotID = 1087968824
	telegramServiceID   = 777000
	channelBotID        = 136817688
)

// person returns the message's sender when it is a real person, and nil
// for anonymous group admins, channels, Telegram's service accounts and bots.
func (m *Message) person() *User {
	if m.From == nil || m.SenderChat != nil || m.From.IsBot {
		return nil
	}
	switch m.From.ID {
	case groupAnonymousBotID, telegramServiceID, channelBotID:
		return nil
	}
	return m.From
}
