package bot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"danvan/messages"
	"danvan/store"
)

// Group chats: /lienket links the group it is sent in to a unit, so the
// unit's announcements (and later reminders) go there too; /huylienket
// unlinks. The person must have rights over the unit and be an
// administrator of the group, which only Telegram knows: the handler asks
// with a query row, and the answer completes the link in its own
// transaction (queryAnswered).

const (
	cmdLink   = "lienket"
	cmdUnlink = "huylienket"

	// linkQuery starts the origin of a getChatMember query for a link:
	// "link:<unit id>:<user id>".
	linkQuery = "link:"
)

func (b *Bot) registerGroups() error {
	for _, cmd := range []Command{
		{Name: cmdLink, Alias: "link", Perm: Head, On: TargetUnit, InGroup: true, Menu: true, Handle: b.link},
		{Name: cmdUnlink, Alias: "unlink", Perm: Head, On: TargetUnit, InGroup: true, Menu: true, Handle: b.unlink},
	} {
		if err := b.HandleCommand(cmd); err != nil {
			return err
		}
	}
	return nil
}

// link asks Telegram whether the sender administers this group; the
// answer (queryAnswered) makes the link.
func (b *Bot) link(c *Context) error {
	u, ok, err := b.unitArg(c, c.Args, then(cmdLink, ""))
	if err != nil || !ok {
		return err
	}
	// The row keeps its own origin (c.enqueue would name the update):
	// the origin is how the answer finds its way back to queryAnswered.
	if _, err := c.Tx.Enqueue(store.OutboxRow{
		ChatID: c.Chat.ID, Priority: store.PriorityInteractive, Created: c.Now,
		Action: store.Action{Kind: store.ActChatMember, UserID: c.Sender.ID, ReplyTo: c.Message.ID},
		Origin: fmt.Sprintf("%s%d:%d:%d", linkQuery, u.ID, c.Sender.ID, c.Message.ID),
	}); err != nil {
		return err
	}
	c.enqueued = true
	return nil
}

// QueryAnswered receives the answer to a query the bot asked. The store
// calls it in the transaction that settles the query.
func (b *Bot) QueryAnswered(tx *store.Tx, r store.OutboxRow, answer string) error {
	rest, ok := strings.CutPrefix(r.Origin, linkQuery)
	if !ok {
		return nil
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return nil
	}
	unitID, _ := strconv.ParseUint(parts[0], 10, 64)
	userID, _ := strconv.ParseInt(parts[1], 10, 64)
	replyTo, _ := strconv.Atoi(parts[2])
	lang := b.lang
	u, err := tx.User(userID)
	if err == nil {
		lang = b.language(u)
	}
	p := b.msgs.For(lang)
	reply := func(m messages.Message) error {
		_, err := tx.Enqueue(store.OutboxRow{
			ChatID: r.ChatID, Priority: store.PriorityInteractive, Origin: r.Origin, Created: r.Created,
			Action: store.Action{Kind: store.ActSend, Text: p.HTML(m), ReplyTo: replyTo},
		})
		tx.OnCommit(b.wake)
		return err
	}
	unit, err := tx.Unit(unitID)
	if err != nil {
		return reply(messages.UnitNotFound{Query: parts[0]})
	}
	switch answer {
	case "creator", "administrator":
	case "":
		return reply(messages.LinkRefused{Reason: "unknown"})
	default:
		return reply(messages.LinkRefused{Reason: "not_admin"})
	}
	chat, _ := tx.Chat(r.ChatID)
	if err := tx.LinkGroup(store.Link{UnitID: unit.ID, ChatID: r.ChatID, Title: chat.Title, LinkedBy: userID, Linked: r.Created}); err != nil {
		return err
	}
	if err := tx.Audit(store.AuditEntry{
		At: r.Created, ActorID: userID, ActorName: u.DisplayName(), Action: store.AuditGroupLink,
		Target: unitTarget(unit), Detail: chat.Title,
	}); err != nil {
		return err
	}
	return reply(messages.GroupLinked{Unit: unit.Name, Group: chat.Title})
}

// unitTarget names a unit in the audit log.
func unitTarget(u store.Unit) string { return u.Code + " — " + u.Name }

// unlink removes the group's link to the unit.
func (b *Bot) unlink(c *Context) error {
	u, ok, err := b.unitArg(c, c.Args, then(cmdUnlink, ""))
	if err != nil || !ok {
		return err
	}
	removed, err := c.Tx.UnlinkGroup(u.ID, c.Chat.ID)
	if err != nil {
		return err
	}
	if !removed {
		return c.Reply(messages.GroupUnlinked{Unit: u.Name, WasNot: true})
	}
	if err := c.Audit(store.AuditGroupUnlink, unitTarget(u), c.Chat.Title, 0); err != nil {
		return err
	}
	return c.Reply(messages.GroupUnlinked{Unit: u.Name})
}

// memberChange follows the bot's own membership: removed from a linked
// group, its links break and the units' heads are told; added to a group,
// it says how to link it (and mends broken links); blocked or unblocked by
// a person, their chat becomes unreachable or reachable.
func (b *Bot) memberChange(c *Context) error {
	m := c.Update.MemberChange
	gone := m.NewStatus == "left" || m.NewStatus == "kicked"
	if m.Chat.Kind == store.ChatPrivate {
		c.handler = "member_change:private"
		if gone {
			// Someone the registry does not know — never met, or whose
			// data was erased — leaves nothing to record.
			if _, err := c.Tx.Chat(m.Chat.ID); errors.Is(err, store.ErrNotFound) {
				return nil
			}
			_, err := c.Tx.MarkUnreachable(m.Chat.ID, "Forbidden: bot was blocked by the user", c.Now)
			return err
		}
		_, err := c.Tx.SeeChat(store.Chat{ID: m.Chat.ID, Kind: m.Chat.Kind}, c.Now)
		return err
	}
	if gone {
		c.handler = "member_change:removed"
		links := c.Tx.ChatLinks(m.Chat.ID)
		if _, err := c.Tx.SetLinksBroken(m.Chat.ID, true, c.Now); err != nil {
			return err
		}
		for _, l := range links {
			if l.Broken {
				continue // the heads were told when it broke ("left", then "kicked")
			}
			if err := b.tellHeads(c, l.UnitID, func(p messages.Printer, u store.Unit) string {
				return p.HTML(messages.GroupLost{Unit: u.Name, Group: m.Chat.Title})
			}); err != nil {
				return err
			}
		}
		return nil
	}
	c.handler = "member_change:added"
	if _, err := c.Tx.SeeChat(store.Chat{ID: m.Chat.ID, Kind: m.Chat.Kind, Title: m.Chat.Title}, c.Now); err != nil {
		return err
	}
	links := c.Tx.ChatLinks(m.Chat.ID)
	if _, err := c.Tx.SetLinksBroken(m.Chat.ID, false, c.Now); err != nil {
		return err
	}
	var units []string
	mended := false
	for _, l := range links {
		mended = mended || l.Broken
		if u, err := c.Tx.Unit(l.UnitID); err == nil {
			units = append(units, u.Name)
		}
	}
	// A channel has no conversation to greet: /lienket cannot work there.
	if m.Chat.Kind == store.ChatChannel {
		c.handler = "member_change:channel"
		return nil
	}
	// Promoted or demoted while in the group: nothing to say.
	if inGroup(m.OldStatus) && !mended {
		c.handler = "member_change:status"
		return nil
	}
	return c.Enqueue(m.Chat.ID, store.PriorityInteractive, store.Action{
		Kind: store.ActSend, Text: c.P.HTML(messages.BotAdded{BotUsername: b.Identity().Username, Units: units}),
	})
}

// inGroup reports whether a chat member status means the bot was in the
// group.
func inGroup(status string) bool {
	return status == "member" || status == "administrator" || status == "creator"
}

// tellHeads sends each head of the unit (or of the nearest unit above with
// heads) a message in their language.
func (b *Bot) tellHeads(c *Context, unitID uint64, text func(messages.Printer, store.Unit) string) error {
	u, err := c.Tx.Unit(unitID)
	if err != nil {
		return nil
	}
	for _, headID := range headsFor(c.Tx, unitID, 0) {
		lang := b.lang
		if hu, err := c.Tx.User(headID); err == nil {
			lang = b.language(hu)
		}
		if err := c.Enqueue(headID, store.PriorityInteractive, store.Action{Kind: store.ActSend, Text: text(b.msgs.For(lang), u)}); err != nil {
			return err
		}
	}
	return nil
}

// headsFor returns the heads of the unit, or of the nearest unit above it
// that has heads, leaving out one person (0: nobody).
func headsFor(tx *store.Tx, unitID uint64, except int64) []int64 {
	var heads []int64
	for _, id := range append([]uint64{unitID}, tx.Ancestors(unitID)...) {
		for _, m := range tx.Members(id) {
			if m.Role == store.RoleHead && m.UserID != except {
				heads = append(heads, m.UserID)
			}
		}
		if len(heads) > 0 {
			break
		}
	}
	return heads
}

// Audit records a consequential action by the sender.
func (c *Context) Audit(action, target, detail string, subject int64) error {
	e := store.AuditEntry{At: c.Now, Action: action, Target: target, Detail: detail, SubjectID: subject}
	if c.Sender != nil {
		e.ActorID, e.ActorName = c.Sender.ID, c.User.DisplayName()
	}
	return c.Tx.Audit(e)
}
