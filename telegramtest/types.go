package telegramtest

import (
	"slices"
	"time"
)

// User is a Telegram account: a person or a bot.
type User struct {
	ID           int64
	FirstName    string
	LastName     string
	Username     string
	LanguageCode string
	IsBot        bool
}

// Chat is a conversation the bot takes part in.
type Chat struct {
	ID int64
	// Type is "private", "group" or "supergroup".
	Type  string
	Title string
}

// Entity is a formatted or detected span of a message's text, in Telegram's
// terms: Offset and Length count UTF-16 code units of the plain text.
type Entity struct {
	// Type is the Bot API entity type: "bold", "italic", "underline",
	// "strikethrough", "spoiler", "code", "pre", "text_link",
	// "text_mention", "blockquote", "expandable_blockquote",
	// "custom_emoji", "bot_command", "mention", "hashtag" or "url".
	Type   string
	Offset int
	Length int
	// URL is the target of a text_link.
	URL string
	// Language is the programming language of a pre block.
	Language string
	// UserID is the user a text_mention points to.
	UserID int64
	// CustomEmojiID identifies the emoji of a custom_emoji entity.
	CustomEmojiID string
}

// Button is one inline keyboard button.
type Button struct {
	Text         string
	CallbackData string
	URL          string
}

// Message is a message in an emulated chat, sent by the bot or by a user,
// in its current state (after edits; deleted messages stay, flagged).
type Message struct {
	ID     int
	ChatID int64
	From   User
	// SenderChat is the chat a message was sent on behalf of (anonymous
	// group administrators), or nil.
	SenderChat *Chat
	Date       time.Time
	// EditDate is the time of the last edit, zero if never edited.
	EditDate time.Time

	// Text is the plain text after entity parsing; Entities are its
	// formatting and detected entities.
	Text     string
	Entities []Entity
	// HTML is the text or caption exactly as the bot sent it, when it used
	// parse_mode HTML.
	HTML string
	// Caption and CaptionEntities describe a photo's or document's caption.
	Caption         string
	CaptionEntities []Entity

	// ReplyToID is the id of the message this one replies to, or 0.
	ReplyToID int

	// Keyboard is the inline keyboard attached to the message.
	Keyboard [][]Button
	// ForceReply, Placeholder and RemoveKeyboard record the other kinds
	// of reply_markup a bot can send with a message.
	ForceReply     bool
	Placeholder    string
	RemoveKeyboard bool

	// PhotoFileID is the file_id of the largest size of an attached photo.
	PhotoFileID string
	// DocumentFileID and DocumentName describe an attached document.
	DocumentFileID string
	DocumentName   string
	// FileSize is the size in bytes of the attached photo or document, as
	// uploaded.
	FileSize int
	// StickerFileID is the file_id of an attached sticker.
	StickerFileID string

	// ParseMode, DisableNotification and DisableWebPagePreview record the
	// options the bot sent the message with.
	ParseMode             string
	DisableNotification   bool
	DisableWebPagePreview bool

	// MigrateToChatID and MigrateFromChatID are set on the service
	// messages announcing a group's upgrade to a supergroup.
	MigrateToChatID   int64
	MigrateFromChatID int64

	// Edited counts the edits applied to the message.
	Edited  int
	Deleted bool
	FromBot bool
}

// CallbackAnswer is the bot's answerCallbackQuery for a button press.
type CallbackAnswer struct {
	QueryID   string
	Text      string
	ShowAlert bool
	URL       string
	CacheTime int
	// At is when the answer arrived, by the server's clock.
	At time.Time
}

// BotCommand is one entry of the bot's command menu.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// clone returns a deep copy of m, so callers cannot alias the server's
// state.
func (m *Message) clone() Message {
	c := *m
	if m.SenderChat != nil {
		sc := *m.SenderChat
		c.SenderChat = &sc
	}
	c.Entities = slices.Clone(m.Entities)
	c.CaptionEntities = slices.Clone(m.CaptionEntities)
	c.Keyboard = cloneKeyboard(m.Keyboard)
	return c
}

func cloneKeyboard(k [][]Button) [][]Button {
	if k == nil {
		return nil
	}
	out := make([][]Button, len(k))
	for i, row := range k {
		out[i] = slices.Clone(row)
	}
	return out
}
