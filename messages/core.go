package messages

import "time"

// CommandHelp describes one command the reader may use.
type CommandHelp struct {
	// Name is the command in the reader's language, Alias the other one.
	Name, Alias string
	Desc        string
	Example     string
}

// Welcome answers /start: what the bot does and what this person may do.
type Welcome struct {
	Name     string
	IsAdmin  bool
	Commands []CommandHelp
}

func (Welcome) Key() string { return "welcome" }

// Help answers /trogiup: the commands this person may use, with examples.
type Help struct {
	IsAdmin     bool
	Commands    []CommandHelp
	BotUsername string
}

func (Help) Key() string { return "help" }

// YourID answers /id.
type YourID struct {
	UserID  int64
	ChatID  int64
	InGroup bool
}

func (YourID) Key() string { return "your_id" }

// Cancelled confirms that /huy abandoned a conversation.
type Cancelled struct{ Title string }

func (Cancelled) Key() string { return "cancelled" }

// NothingToCancel answers /huy outside a conversation.
type NothingToCancel struct{}

func (NothingToCancel) Key() string { return "nothing_to_cancel" }

// UnknownCommand answers a command the bot does not have.
type UnknownCommand struct{ Command string }

func (UnknownCommand) Key() string { return "unknown_command" }

// Hint answers a private message the bot cannot use outside a conversation.
type Hint struct {
	// What the person sent: "text", "sticker", "photo", "other".
	What string
}

func (Hint) Key() string { return "hint" }

// Apology is sent when the bot failed to handle a message.
type Apology struct{}

func (Apology) Key() string { return "apology" }

// Refused says that this person may not do this, and who may.
type Refused struct {
	// Need names the permission: "admin", "person", "private".
	Need string
}

func (Refused) Key() string { return "refused" }

// PrivateOnly asks the person to use a command in a private chat.
type PrivateOnly struct{ BotUsername string }

func (PrivateOnly) Key() string { return "private_only" }

// BadStartCode answers /start with a code nobody recognised.
type BadStartCode struct{}

func (BadStartCode) Key() string { return "bad_start_code" }

// ConversationExpired tells the person their dialogue timed out.
type ConversationExpired struct {
	Title   string
	Timeout time.Duration
}

func (ConversationExpired) Key() string { return "conversation_expired" }

// ChooseLanguage asks for a language with buttons.
type ChooseLanguage struct{ Current Lang }

func (ChooseLanguage) Key() string { return "choose_language" }

// ChooseLanguageAgain re-asks when the person typed something else.
type ChooseLanguageAgain struct{}

func (ChooseLanguageAgain) Key() string { return "choose_language_again" }

// LanguageSet confirms the new language (rendered in that language).
type LanguageSet struct{}

func (LanguageSet) Key() string { return "language_set" }

// BadLanguage answers /ngonngu with an unknown language.
type BadLanguage struct{ Arg string }

func (BadLanguage) Key() string { return "bad_language" }

// PageOf is the footer of a paged list: "Trang 2/5".
type PageOf struct{ Page, Pages int }

func (PageOf) Key() string { return "page_of" }

// Plain-text messages: buttons, notices shown on a button press, command
// descriptions for the client's menu and conversation titles.

// Button is the label of a standard button: "confirm", "cancel", "prev",
// "next", "skip", "lang_vi", "lang_en".
type Button struct{ Name string }

func (b Button) Key() string { return "button." + b.Name }

// Notice is the short text shown on a button press: "done" (already
// handled), "expired", "refused", "saved", "error".
type Notice struct{ Name string }

func (n Notice) Key() string { return "notice." + n.Name }

// CommandDesc is a command's one-line description in the client's menu.
type CommandDesc struct{ Command string }

func (c CommandDesc) Key() string { return "cmd." + c.Command }

// CommandExample is a command's example in the help.
type CommandExample struct{ Command string }

func (c CommandExample) Key() string { return "example." + c.Command }

// EditedCommand answers a command corrected by editing the message: the
// bot acts on new messages only.
type EditedCommand struct{}

func (EditedCommand) Key() string { return "edited_command" }

// ConversationTitle names a wizard in messages about it.
type ConversationTitle struct{ Name string }

func (c ConversationTitle) Key() string { return "conv." + c.Name }

// FanOutReport tells the originator of a fan-out how it went.
type FanOutReport struct {
	// Title says what was sent.
	Title                                               string
	Total, Sent, Failed, Unreachable, Expired, Recalled int
	Took                                                time.Duration
	// Names are the people (or groups) that could not be reached; More
	// counts those beyond the list.
	Names []string
	More  int
}

func (FanOutReport) Key() string { return "fanout_report" }
