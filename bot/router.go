package bot

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"danvan/messages"
	"danvan/store"
)

// Permission says who may use a command, a button or a dialogue step. Every
// handler declares one when it is registered; the one authorization function
// (authorize) decides.
type Permission int

// Permissions. The zero value is "not declared" and is refused at
// registration.
const (
	// Anyone may use it, including a group's anonymous admin.
	Anyone Permission = iota + 1
	// Person requires a real person: not an anonymous admin, a channel or
	// one of Telegram's service accounts.
	Person
	// Admin requires an admin (named in the configuration or granted).
	Admin
	// Head requires an admin or the head of a unit. Applied to a unit, it
	// requires an admin or a head of that unit or of a unit above it.
	Head
	// Member requires an admin or someone in a unit. Applied to a unit, it
	// requires an admin, someone in that unit, or a head above it.
	Member
)

func (p Permission) String() string {
	switch p {
	case Anyone:
		return "anyone"
	case Person:
		return "person"
	case Admin:
		return "admin"
	case Head:
		return "head"
	case Member:
		return "member"
	}
	return fmt.Sprintf("permission(%d)", int(p))
}

// authorize is the one function that decides whether the sender of c may do
// something that requires p, on unit (0: on no unit in particular — the
// router's check before a handler knows its target). When refused, need
// names what was missing, for the refusal message.
func (b *Bot) authorize(c *Context, p Permission, unit uint64) (ok bool, need string) {
	if p == Anyone {
		return true, ""
	}
	if c.Sender == nil {
		return false, "person" // anonymous admins, channels, service accounts
	}
	me := c.Sender.ID
	switch p {
	case Person:
		return true, ""
	case Admin:
		return c.IsAdmin(), "admin"
	case Head:
		switch {
		case c.IsAdmin():
			return true, ""
		case unit == 0:
			return c.Tx.IsHead(me), "head"
		}
		return c.Tx.HeadsOver(me, unit), "head"
	case Member:
		switch {
		case c.IsAdmin():
			return true, ""
		case unit == 0:
			return len(c.Tx.UserUnits(me)) > 0, "member"
		}
		return c.Tx.RoleIn(me, unit) != "" || c.Tx.HeadsOver(me, unit), "member"
	}
	return false, "unknown"
}

// Can reports whether the sender may do what p allows on the unit; a
// handler asks it once it knows its target.
func (c *Context) Can(p Permission, unit uint64) bool {
	ok, _ := c.bot.authorize(c, p, unit)
	return ok
}

// Refuse answers that the sender may not do what p allows, saying who may.
func (c *Context) Refuse(p Permission, unit uint64) error {
	_, need := c.bot.authorize(c, p, unit)
	c.handler += ":refused"
	if c.Callback != nil {
		return c.Answer(c.P.Text(messages.Notice{Name: "refused"}), true)
	}
	return c.Reply(messages.Refused{Need: need})
}

// Target says which unit a command's permission applies to, once the
// command knows its unit (the first argument: a code or a name).
type Target int

// Targets.
const (
	// NoTarget: the permission applies as such (Head means "a head of
	// some unit"); a handler that acts on several units checks each.
	NoTarget Target = iota
	// TargetUnit: the permission applies to the unit named.
	TargetUnit
	// TargetParent: the permission applies to the named unit's parent —
	// removing a unit takes rights over the unit above it; a top-level
	// unit takes an admin.
	TargetParent
)

// Command is a slash command with a Vietnamese name and an English alias.
type Command struct {
	// Name is the Vietnamese name ("trogiup"); it also keys the command's
	// description and example in messages. Alias is the English name
	// ("help"); empty when both languages use Name.
	Name, Alias string
	Perm        Permission
	// On is the unit the permission applies to once it is known.
	On Target
	// Private commands are refused in groups with a link to the private
	// chat; InGroup ones are answered in private with how to use them.
	Private bool
	InGroup bool
	// Menu puts the command in the client's command menu.
	Menu   bool
	Handle func(c *Context) error
}

// CallbackHandler acts on presses of the keyboards made for it.
type CallbackHandler struct {
	Name string
	Perm Permission
	// PermFor, if set, picks the permission from the keyboard's
	// server-side data (a paged list needs the list's own permission).
	PermFor func(data string) Permission
	Handle  func(c *Context, payload string) error
}

// Wizard is a multi-step dialogue. Its state lives in the store
// (store.Conversation), so it survives restarts; typed answers go to
// OnText, button presses to callback handlers made with the conversation's
// id, and /huy or any new command abandons it.
type Wizard struct {
	Name   string
	Perm   Permission
	OnText func(c *Context, conv *store.Conversation) error
}

// StartHook handles "/start <payload>" (invite codes, claim links). It
// reports whether the payload was its own.
type StartHook func(c *Context, payload string) (handled bool, err error)

var commandName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// HandleCommand registers a command. It fails when the command declares no
// permission or clashes with another, so a mistake stops start-up.
func (b *Bot) HandleCommand(cmd Command) error {
	if cmd.Perm == 0 {
		return fmt.Errorf("command /%s declares no permission", cmd.Name)
	}
	if cmd.Handle == nil {
		return fmt.Errorf("command /%s has no handler", cmd.Name)
	}
	for _, name := range cmd.names() {
		if !commandName.MatchString(name) {
			return fmt.Errorf("command name %q: want 1-32 of a-z, 0-9, _", name)
		}
		if _, dup := b.byName[name]; dup {
			return fmt.Errorf("command /%s registered twice", name)
		}
	}
	if cmd.Menu {
		for _, m := range []messages.Message{messages.CommandDesc{Command: cmd.Name}, messages.CommandExample{Command: cmd.Name}} {
			if !b.msgs.Has(m.Key()) {
				return fmt.Errorf("command /%s: no %q text in every language", cmd.Name, m.Key())
			}
		}
	}
	c := cmd
	b.commands = append(b.commands, &c)
	for _, name := range c.names() {
		b.byName[name] = &c
	}
	return nil
}

func (cmd *Command) names() []string {
	if cmd.Alias == "" || cmd.Alias == cmd.Name {
		return []string{cmd.Name}
	}
	return []string{cmd.Name, cmd.Alias}
}

// NameIn returns the command's name in lang.
func (cmd *Command) NameIn(lang messages.Lang) string {
	if lang == messages.En && cmd.Alias != "" {
		return cmd.Alias
	}
	return cmd.Name
}

// HandleCallback registers a callback handler.
func (b *Bot) HandleCallback(h CallbackHandler) error {
	if h.Perm == 0 {
		return fmt.Errorf("callback %q declares no permission", h.Name)
	}
	if h.Handle == nil || h.Name == "" {
		return fmt.Errorf("callback %q has no name or handler", h.Name)
	}
	if _, dup := b.callbacks[h.Name]; dup {
		return fmt.Errorf("callback %q registered twice", h.Name)
	}
	b.callbacks[h.Name] = &h
	return nil
}

// HandleWizard registers a multi-step dialogue.
func (b *Bot) HandleWizard(w Wizard) error {
	if w.Perm == 0 {
		return fmt.Errorf("wizard %q declares no permission", w.Name)
	}
	if w.OnText == nil || w.Name == "" {
		return fmt.Errorf("wizard %q has no name or text handler", w.Name)
	}
	if _, dup := b.wizards[w.Name]; dup {
		return fmt.Errorf("wizard %q registered twice", w.Name)
	}
	b.wizards[w.Name] = &w
	return nil
}

// OnStart registers a hook for "/start <payload>".
func (b *Bot) OnStart(h StartHook) { b.starts = append(b.starts, h) }

// route decides what the update is and who handles it. It records the
// handler's name on c for the journal.
func (b *Bot) route(c *Context) error {
	if err := b.see(c); err != nil {
		return err
	}
	u := c.Update
	switch {
	case u.Callback != nil:
		return b.routeCallback(c)
	case u.Message != nil:
		return b.routeMessage(c)
	case u.Edited != nil:
		// An edit is not a new request; in a private chat, a command
		// corrected by editing gets told to send it again.
		if u.Edited.Command != "" && c.Chat.Kind == store.ChatPrivate {
			c.handler = "edited:hint"
			return c.Reply(messages.EditedCommand{})
		}
		c.handler = "ignored:edited"
	case u.MemberChange != nil:
		return b.memberChange(c)
	default:
		c.handler = "ignored:kind"
	}
	return nil
}

// see keeps the user and chat registries current and picks up the
// person's stored language.
func (b *Bot) see(c *Context) error {
	if c.Chat.ID != 0 {
		chat, err := c.Tx.SeeChat(c.Chat, c.Now)
		if err != nil {
			return err
		}
		c.Chat = chat
	}
	if c.Sender != nil {
		u, err := c.Tx.SeeUser(c.User, c.Now)
		if err != nil {
			return err
		}
		c.User = u
		c.SetLanguage(b.language(u))
	}
	return nil
}

func (b *Bot) routeMessage(c *Context) error {
	m := c.Message
	switch {
	case m.MigrateToChatID != 0: // in the group: it became this supergroup
		c.handler = "migrate"
		_, err := c.Tx.MigrateChat(m.Chat.ID, m.MigrateToChatID, c.Now)
		return err
	case m.MigrateFromChatID != 0: // in the supergroup: it was this group
		c.handler = "migrate"
		_, err := c.Tx.MigrateChat(m.MigrateFromChatID, m.Chat.ID, c.Now)
		return err
	case m.Kind == KindService:
		c.handler = "ignored:service"
		return nil
	}
	if m.Command != "" {
		return b.routeCommand(c)
	}
	conv, active, err := b.activeConversation(c)
	if err != nil {
		return err
	}
	if active && (c.Chat.Kind == store.ChatPrivate || b.repliesToBot(m)) {
		return b.continueConversation(c, conv)
	}
	if c.Chat.Kind != store.ChatPrivate {
		c.handler = "ignored:chatter"
		return nil
	}
	c.handler = "hint"
	what := m.Kind
	if what != KindText && what != KindSticker && what != KindPhoto {
		what = KindOther
	}
	return c.Reply(messages.Hint{What: what})
}

func (b *Bot) repliesToBot(m *Message) bool {
	return m.ReplyTo != nil && m.ReplyTo.From != nil && m.ReplyTo.From.ID == b.Identity().ID
}

func (b *Bot) routeCommand(c *Context) error {
	m := c.Message
	me := b.Identity().Username
	addressed := m.CommandTarget != ""
	if addressed && !strings.EqualFold(m.CommandTarget, me) {
		c.handler = "ignored:other_bot"
		return nil
	}
	cmd, known := b.byName[m.Command]
	if !known {
		if c.Chat.Kind != store.ChatPrivate && !addressed {
			// "/foo" in a group may be meant for another bot.
			c.handler = "ignored:unknown_command"
			return nil
		}
		c.handler = "unknown_command"
		return c.Reply(messages.UnknownCommand{Command: m.Command})
	}
	c.handler = "command:" + cmd.Name
	c.Args = strings.TrimSpace(m.Args)
	// Any command abandons the dialogue in progress; /huy says so itself.
	if cmd.Name != cmdCancel && c.Sender != nil {
		if err := c.Tx.EndConversation(c.Sender.ID); err != nil {
			return err
		}
	}
	if ok, need := b.authorize(c, cmd.Perm, 0); !ok {
		c.handler += ":refused"
		return c.Reply(messages.Refused{Need: need})
	}
	if cmd.Private && c.Chat.Kind != store.ChatPrivate {
		c.handler += ":private_only"
		return c.Reply(messages.PrivateOnly{BotUsername: me})
	}
	if cmd.InGroup && c.Chat.Kind == store.ChatPrivate {
		c.handler += ":group_only"
		return c.Reply(messages.GroupOnly{})
	}
	return cmd.Handle(c)
}

// routeCallback authorizes a button press, checks its one-time token and
// hands it to the handler the keyboard was made for. Every press is
// answered exactly once.
func (b *Bot) routeCallback(c *Context) error {
	cb := c.Callback
	c.handler = "callback"
	notice := func(name string) error {
		return c.Answer(c.P.Text(messages.Notice{Name: name}), false)
	}
	code, payload, ok := strings.Cut(cb.Data, ":")
	if !ok || len(code) != tokenLen {
		c.handler = "callback:malformed"
		return notice("expired")
	}
	tok, err := c.Tx.Token(code)
	if errors.Is(err, store.ErrNotFound) {
		c.handler = "callback:unknown"
		return notice("expired")
	}
	if err != nil {
		return err
	}
	h, ok := b.callbacks[tok.Handler]
	if !ok {
		c.handler = "callback:unknown"
		return notice("expired")
	}
	c.handler = "callback:" + h.Name
	c.KeyboardData = tok.Data
	perm := h.Perm
	if h.PermFor != nil {
		perm = h.PermFor(tok.Data)
	}
	// Authorize first: a refused press leaves the token valid for the
	// person it belongs to.
	if ok, _ := b.authorize(c, perm, 0); !ok || (tok.UserID != 0 && (c.Sender == nil || c.Sender.ID != tok.UserID)) ||
		(c.Message != nil && tok.ChatID != 0 && c.Message.Chat.ID != tok.ChatID) {
		c.handler += ":refused"
		return notice("refused")
	}
	if !tok.Used.IsZero() {
		c.handler += ":used"
		return notice("done")
	}
	if !c.Now.Before(tok.Expires) {
		c.handler += ":expired"
		return notice("expired")
	}
	if tok.Conversation != 0 {
		conv, active, err := b.activeConversation(c)
		if err != nil {
			return err
		}
		if !active || conv.ID != tok.Conversation {
			c.handler += ":expired"
			return notice("expired")
		}
		c.dialogueStep = true
	}
	if err := c.Tx.UseToken(code, c.Now); err != nil {
		return err
	}
	if err := h.Handle(c, payload); err != nil {
		return err
	}
	return c.Answer("", false)
}
