package bot

import (
	"errors"
	"regexp"
	"strings"

	"danvan/messages"
	"danvan/store"
)

// Core command names.
const (
	cmdStart    = "start"
	cmdHelp     = "trogiup"
	cmdID       = "id"
	cmdCancel   = "huy"
	cmdLanguage = "ngonngu"

	wizardLanguage   = "language"
	callbackLanguage = "language"
)

// registerCore registers the commands every user has.
func (b *Bot) registerCore() error {
	for _, cmd := range []Command{
		{Name: cmdStart, Perm: Anyone, Menu: true, Handle: b.start},
		{Name: cmdHelp, Alias: "help", Perm: Anyone, Menu: true, Handle: b.help},
		{Name: cmdID, Perm: Anyone, Menu: true, Handle: b.id},
		{Name: cmdCancel, Alias: "cancel", Perm: Person, Menu: true, Handle: b.cancel},
		{Name: cmdLanguage, Alias: "language", Perm: Person, Menu: true, Handle: b.chooseLanguage},
	} {
		if err := b.HandleCommand(cmd); err != nil {
			return err
		}
	}
	if err := b.HandleWizard(Wizard{Name: wizardLanguage, Perm: Person, OnText: b.languageTyped}); err != nil {
		return err
	}
	if err := b.HandleCallback(CallbackHandler{Name: callbackPage, Perm: Anyone, PermFor: b.listPerm, Handle: b.turnPage}); err != nil {
		return err
	}
	return b.HandleCallback(CallbackHandler{Name: callbackLanguage, Perm: Person, Handle: b.languagePressed})
}

// startPayload is what a deep link may carry.
var startPayload = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// start welcomes the person, or hands a deep-link payload to the hooks.
func (b *Bot) start(c *Context) error {
	if c.Args != "" {
		if !startPayload.MatchString(c.Args) {
			return c.Reply(messages.BadStartCode{})
		}
		for _, hook := range b.starts {
			handled, err := hook(c, c.Args)
			if err != nil || handled {
				return err
			}
		}
		return c.Reply(messages.BadStartCode{})
	}
	name := c.User.DisplayName()
	if c.Sender == nil {
		name = c.Chat.Title
	}
	return c.Reply(messages.Welcome{Name: name, IsAdmin: c.IsAdmin(), Commands: b.allowedCommands(c, false)})
}

// help lists what this person may do here, with an example each.
func (b *Bot) help(c *Context) error {
	return c.Reply(messages.Help{
		IsAdmin: c.IsAdmin(), Commands: b.allowedCommands(c, true), BotUsername: b.Identity().Username,
	})
}

// allowedCommands lists the menu commands the sender may use, named in
// their language. The list follows from the same authorize function that
// guards the commands, so help can never promise what is refused.
func (b *Bot) allowedCommands(c *Context, withExamples bool) []messages.CommandHelp {
	var out []messages.CommandHelp
	for _, cmd := range b.commands {
		// In a group, commands that work only in a private chat are left
		// out; group commands stay in private help, their description
		// says where they work.
		if !cmd.Menu || (cmd.Private && c.InGroup()) {
			continue
		}
		if ok, _ := b.authorize(c, cmd.Perm, 0); !ok {
			continue
		}
		h := messages.CommandHelp{
			Name: cmd.NameIn(c.Lang),
			Desc: c.P.Text(messages.CommandDesc{Command: cmd.Name}),
		}
		if withExamples {
			h.Example = c.P.Text(messages.CommandExample{Command: cmd.Name})
			if other := cmd.NameIn(otherLang(c.Lang)); other != h.Name {
				h.Alias = other
			}
		}
		out = append(out, h)
	}
	return out
}

// MenuEntry is one command in the client's command menu.
type MenuEntry struct {
	Command     string
	Description string
}

// Menu returns the command menu for lang: Vietnamese names for Vietnamese
// (and the default), English aliases for English.
func (b *Bot) Menu(lang messages.Lang) []MenuEntry { return b.MenuFor(lang, false) }

// MenuFor is Menu for group chats when inGroups: without the commands that
// work only in a private chat.
func (b *Bot) MenuFor(lang messages.Lang, inGroups bool) []MenuEntry {
	p := b.msgs.For(lang)
	var out []MenuEntry
	for _, cmd := range b.commands {
		if cmd.Menu && !(inGroups && cmd.Private) {
			out = append(out, MenuEntry{Command: cmd.NameIn(lang), Description: p.Text(messages.CommandDesc{Command: cmd.Name})})
		}
	}
	return out
}

func otherLang(l messages.Lang) messages.Lang {
	if l == messages.En {
		return messages.Vi
	}
	return messages.En
}

// id shows the numeric ids an admin needs; an anonymous group admin gets
// the group's id only.
func (b *Bot) id(c *Context) error {
	m := messages.YourID{ChatID: c.Chat.ID, InGroup: c.InGroup()}
	if c.Sender != nil {
		m.UserID = c.Sender.ID
	}
	return c.Reply(m)
}

// cancel abandons the sender's dialogue, whichever chat it runs in.
func (b *Bot) cancel(c *Context) error {
	// Questions waiting for this person's press here go too: a Xác nhận
	// pressed after /huy must not act.
	withdrawn, err := c.Tx.WithdrawDecisions(c.Sender.ID, c.Chat.ID, c.Now)
	if err != nil {
		return err
	}
	conv, err := c.Tx.Conversation(c.Sender.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return b.cancelledDecisions(c, withdrawn)
	case err != nil:
		return err
	}
	if err := c.EndConversation(); err != nil {
		return err
	}
	if !c.Now.Before(conv.Expires) {
		return b.cancelledDecisions(c, withdrawn) // it had already timed out
	}
	return c.Reply(messages.Cancelled{Title: c.P.Text(messages.ConversationTitle{Name: conv.Name})})
}

// cancelledDecisions answers /huy when no dialogue was going on.
func (b *Bot) cancelledDecisions(c *Context, withdrawn int) error {
	if withdrawn == 0 {
		return c.Reply(messages.NothingToCancel{})
	}
	return c.Reply(messages.Cancelled{Title: c.P.Text(messages.ConversationTitle{Name: "decision"})})
}

// chooseLanguage sets the language from the argument, or starts the tiny
// wizard that asks with two buttons.
func (b *Bot) chooseLanguage(c *Context) error {
	if c.Args != "" {
		lang, ok := messages.ParseLang(c.Args)
		if !ok {
			return c.Reply(messages.BadLanguage{Arg: c.Args})
		}
		return b.setLanguage(c, lang, false)
	}
	conv, err := c.StartConversation(wizardLanguage, "choose", nil)
	if err != nil {
		return err
	}
	keyboard, err := c.Keyboard(callbackLanguage, KeyboardOptions{Conversation: conv.ID},
		[]Key{
			{Text: c.P.Text(messages.Button{Name: "lang_vi"}), Payload: string(messages.Vi)},
			{Text: c.P.Text(messages.Button{Name: "lang_en"}), Payload: string(messages.En)},
		})
	if err != nil {
		return err
	}
	return c.Reply(messages.ChooseLanguage{Current: c.Lang}, keyboard...)
}

// languagePressed applies the pressed language and turns the question into
// the confirmation.
func (b *Bot) languagePressed(c *Context, payload string) error {
	lang, ok := messages.ParseLang(payload)
	if !ok {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	return b.setLanguage(c, lang, true)
}

// languageTyped accepts "vi" or "en" typed instead of pressed.
func (b *Bot) languageTyped(c *Context, conv *store.Conversation) error {
	lang, ok := messages.ParseLang(strings.TrimSpace(c.Message.Text))
	if !ok {
		return c.Reply(messages.ChooseLanguageAgain{})
	}
	return b.setLanguage(c, lang, false)
}

func (b *Bot) setLanguage(c *Context, lang messages.Lang, edit bool) error {
	c.User.Language = string(lang)
	if err := c.Tx.PutUser(c.User); err != nil {
		return err
	}
	if err := c.EndConversation(); err != nil {
		return err
	}
	c.SetLanguage(lang)
	text := c.P.HTML(messages.LanguageSet{})
	if edit {
		if err := c.EditHTML(text); err != nil {
			return err
		}
		return c.Answer(c.P.Text(messages.Notice{Name: "saved"}), false)
	}
	return c.ReplyHTML(text)
}
