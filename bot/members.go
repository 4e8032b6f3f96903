package bot

import (
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"danvan/messages"
	"danvan/names"
	"danvan/store"
)

// People in units: invite links (/moi, /huymoi), joining with
// "/start <code>" and giving one's full name and position, rosters
// (/thanhvien), removing someone (/xoathanhvien) and leaving (/roidonvi).

const (
	cmdInvite       = "moi"
	cmdRevokeInvite = "huymoi"
	cmdMembers      = "thanhvien"
	cmdRemoveMember = "xoathanhvien"
	cmdLeave        = "roidonvi"

	wizardProfile = "profile"

	callbackRevokeInvite = "revokeinvite"
	callbackProfile      = "profile"
	callbackLeave        = "leave"

	listMembers = "members"

	// invitePrefix starts every invite's deep-link payload.
	invitePrefix = "i_"
)

type inviteSettings struct {
	ttl        time.Duration
	memberUses int
}

func (b *Bot) registerMembers() error {
	for _, cmd := range []Command{
		{Name: cmdInvite, Alias: "invite", Perm: Head, On: TargetUnit, Menu: true, Handle: b.invite},
		{Name: cmdRevokeInvite, Alias: "revokeinvite", Perm: Head, Menu: true, Handle: b.revokeInvite},
		{Name: cmdMembers, Alias: "members", Perm: Member, On: TargetUnit, Menu: true, Handle: b.members},
		{Name: cmdRemoveMember, Alias: "removemember", Perm: Head, On: TargetUnit, Menu: true, Handle: b.removeMember},
		{Name: cmdLeave, Alias: "leave", Perm: Member, On: TargetUnit, Menu: true, Handle: b.leave},
	} {
		if err := b.HandleCommand(cmd); err != nil {
			return err
		}
	}
	if err := b.HandleWizard(Wizard{Name: wizardProfile, Perm: Person, OnText: b.profileTyped}); err != nil {
		return err
	}
	for _, h := range []CallbackHandler{
		{Name: callbackRevokeInvite, Perm: Head, Handle: b.revokeInvitePressed},
		{Name: callbackProfile, Perm: Person, Handle: b.profilePressed},
		{Name: callbackLeave, Perm: Member, Handle: b.leaveConfirmed},
	} {
		if err := b.HandleCallback(h); err != nil {
			return err
		}
	}
	b.OnStart(b.joinByInvite)
	return b.HandleList(List{Name: listMembers, Perm: Member, Items: b.memberItems})
}

// randomCode makes a deep-link payload: prefix and 16 random letters and
// digits (80 bits), well within Telegram's 64 characters of A-Za-z0-9_-.
func randomCode(prefix string) (string, error) {
	raw := make([]byte, 10)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return prefix + tokenEncoding.EncodeToString(raw), nil
}

// deepLink is the t.me link that opens the bot with /start payload.
func (b *Bot) deepLink(payload string) string {
	return "https://t.me/" + b.Identity().Username + "?start=" + payload
}

// invite makes a link: "/moi <đơn vị> [truong|thanhvien]".
func (b *Bot) invite(c *Context) error {
	query, head := c.Args, false
	if i := strings.LastIndexByte(query, ' '); i >= 0 {
		switch names.Fold(query[i+1:]) {
		case "truong", "head":
			query, head = query[:i], true
		case "thanhvien", "member":
			query = query[:i]
		default:
			// "/moi 08-PHUNU giamdoc": the unit is found without the last
			// word, which is then a role the bot does not know.
			if found, err := findUnits(c.Tx, query); err == nil && len(found) == 0 {
				if before, err := findUnits(c.Tx, query[:i]); err == nil && len(before) == 1 {
					return c.Reply(messages.BadRole{Word: query[i+1:], Unit: before[0].Code})
				}
			}
		}
	}
	rest := ""
	if head {
		rest = "truong"
	}
	if head && c.InGroup() {
		// A head link works once: posted in a group, whoever opens it
		// first would become the head.
		return c.Reply(messages.PrivateOnly{BotUsername: b.Identity().Username})
	}
	u, ok, err := b.unitArg(c, query, then(cmdInvite, rest))
	if err != nil || !ok {
		return err
	}
	code, err := randomCode(invitePrefix)
	if err != nil {
		return err
	}
	inv := store.Invite{
		Code: code, UnitID: u.ID, Role: store.RoleMember, MaxUses: b.invites.memberUses,
		CreatedBy: c.Sender.ID, Created: c.Now, Expires: c.Now.Add(b.invites.ttl),
	}
	if head {
		inv.Role, inv.MaxUses = store.RoleHead, 1
	}
	if err := c.Tx.PutInvite(inv); err != nil {
		return err
	}
	if err := c.Audit(store.AuditInviteCreate, unitTarget(u), inv.Role, 0); err != nil {
		return err
	}
	return c.Reply(messages.InviteCreated{Unit: u.Name, Head: head, Link: b.deepLink(code), Expires: inv.Expires, Uses: inv.MaxUses})
}

// revokeInvite revokes the link given (its code or the whole link), or
// offers the sender's units' valid links as buttons.
func (b *Bot) revokeInvite(c *Context) error {
	if arg := strings.TrimSpace(c.Args); arg != "" {
		code := arg
		if i := strings.LastIndex(arg, "start="); i >= 0 {
			code = arg[i+len("start="):]
		}
		return b.revokeCode(c, code)
	}
	units := map[uint64]string{}
	for _, u := range b.unitsHeaded(c) {
		units[u.ID] = u.Name
	}
	var rows [][]Key
	err := c.Tx.Invites(func(inv store.Invite) bool {
		if name, ok := units[inv.UnitID]; ok && inv.Usable(c.Now) == nil {
			rows = append(rows, []Key{{
				Text:    c.P.Text(messages.InviteLabel{Unit: name, Head: inv.Role == store.RoleHead, Expires: inv.Expires}),
				Payload: inv.Code,
			}})
		}
		return len(rows) < maxChoices
	})
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return c.Reply(messages.ChooseInvite{})
	}
	keyboard, err := c.Keyboard(callbackRevokeInvite, KeyboardOptions{Decision: true}, rows...)
	if err != nil {
		return err
	}
	return c.Reply(messages.ChooseInvite{Count: len(rows)}, keyboard...)
}

// unitsHeaded returns the units whose links the sender may manage: all
// for an admin, else the units they head and those under them.
func (b *Bot) unitsHeaded(c *Context) []store.Unit {
	var ids []uint64
	if c.IsAdmin() {
		top, _ := c.Tx.Children(0)
		for _, u := range top {
			ids = append(ids, c.Tx.Subtree(u.ID)...)
		}
	} else {
		for _, m := range c.Tx.UserUnits(c.Sender.ID) {
			if m.Role == store.RoleHead {
				ids = append(ids, c.Tx.Subtree(m.UnitID)...)
			}
		}
	}
	var out []store.Unit
	seen := map[uint64]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if u, err := c.Tx.Unit(id); err == nil {
			out = append(out, u)
		}
	}
	return out
}

func (b *Bot) revokeInvitePressed(c *Context, payload string) error {
	return b.revokeCode(c, payload)
}

// revokeCode revokes an invite the sender may manage.
func (b *Bot) revokeCode(c *Context, code string) error {
	inv, err := c.Tx.Invite(code)
	if errors.Is(err, store.ErrNotFound) {
		return b.say(c, messages.InviteInvalid{Reason: "unknown"})
	}
	if err != nil {
		return err
	}
	if !c.Can(Head, inv.UnitID) {
		return c.Refuse(Head, inv.UnitID)
	}
	u, err := c.Tx.Unit(inv.UnitID)
	if err != nil {
		return err
	}
	if inv.Revoked.IsZero() {
		inv.Revoked = c.Now
		if err := c.Tx.PutInvite(inv); err != nil {
			return err
		}
		if err := c.Audit(store.AuditInviteRevoke, unitTarget(u), inv.Role, 0); err != nil {
			return err
		}
	}
	return b.say(c, messages.InviteRevoked{Unit: u.Name})
}

// say answers a command with a reply, or a button press by editing its
// message.
func (b *Bot) say(c *Context, m messages.Message) error {
	if c.Callback != nil {
		return c.EditHTML(c.P.HTML(m))
	}
	return c.Reply(m)
}

// joinByInvite handles "/start i_…": the person joins the unit, then gives
// their full name and position if they have not yet.
func (b *Bot) joinByInvite(c *Context, payload string) (bool, error) {
	if !strings.HasPrefix(payload, invitePrefix) {
		return false, nil
	}
	if c.Sender == nil {
		return true, c.Reply(messages.Refused{Need: "person"})
	}
	inv, err := c.Tx.Invite(payload)
	if errors.Is(err, store.ErrNotFound) {
		return true, c.Reply(messages.InviteInvalid{Reason: "unknown"})
	}
	if err != nil {
		return true, err
	}
	u, err := c.Tx.Unit(inv.UnitID)
	if errors.Is(err, store.ErrNotFound) {
		return true, c.Reply(messages.InviteInvalid{Reason: "unknown"})
	}
	if err != nil {
		return true, err
	}
	role := c.Tx.RoleIn(c.Sender.ID, u.ID)
	if role == store.RoleHead || role == inv.Role {
		return true, c.Reply(messages.Joined{Unit: u.Name, Head: role == store.RoleHead, Already: true})
	}
	if _, err := c.Tx.UseInvite(payload, c.Now); err != nil {
		reason := "unknown"
		switch {
		case errors.Is(err, store.ErrInviteExpired):
			reason = "expired"
		case errors.Is(err, store.ErrInviteUsed):
			reason = "used"
		case errors.Is(err, store.ErrInviteRevoked):
			reason = "revoked"
		}
		return true, c.Reply(messages.InviteInvalid{Reason: reason})
	}
	if err := c.Tx.AddMember(u.ID, c.Sender.ID, inv.Role, c.Now); err != nil {
		return true, err
	}
	head := inv.Role == store.RoleHead
	askName := c.User.FullName == ""
	needPosition := head && c.User.Position == ""
	if askName || needPosition {
		step := "name"
		if !askName {
			step = "position"
		}
		conv, err := c.StartConversation(wizardProfile, step, map[string]string{
			"unit": strconv.FormatUint(u.ID, 10), "role": inv.Role,
		})
		if err != nil {
			return true, err
		}
		if !askName {
			return true, b.askPosition(c, &conv)
		}
		return true, c.Reply(messages.Joined{Unit: u.Name, Head: head, AskName: true})
	}
	if err := b.announceJoin(c, u, head); err != nil {
		return true, err
	}
	return true, c.Reply(messages.Joined{Unit: u.Name, Head: head})
}

// profileTyped takes the full name, then the position.
func (b *Bot) profileTyped(c *Context, conv *store.Conversation) error {
	text := names.Clean(c.Message.Text)
	switch conv.Step {
	case "name":
		if n := utf8.RuneCountInString(text); n < 2 || n > 80 {
			return c.Reply(messages.BadFullName{})
		}
		c.User.FullName = text
		if err := c.Tx.PutUser(c.User); err != nil {
			return err
		}
		conv.Step = "position"
		return b.askPosition(c, conv)
	case "position":
		if n := utf8.RuneCountInString(text); n < 2 || n > 120 {
			if err := c.Reply(messages.BadLength{What: "position", Min: 2, Max: 120, Got: n}); err != nil {
				return err
			}
			return b.askPosition(c, conv)
		}
		c.User.Position = text
		if err := c.Tx.PutUser(c.User); err != nil {
			return err
		}
		return b.profileDone(c, conv)
	}
	return c.EndConversation()
}

// askPosition asks for the position; a member may skip it.
func (b *Bot) askPosition(c *Context, conv *store.Conversation) error {
	if err := c.SaveConversation(conv); err != nil {
		return err
	}
	ask := messages.AskPosition{Name: c.User.FullName, Required: conv.Data["role"] == store.RoleHead}
	if ask.Required {
		return c.Reply(ask)
	}
	keyboard, err := c.Keyboard(callbackProfile, KeyboardOptions{Conversation: conv.ID}, []Key{{Text: c.P.Text(messages.Button{Name: "skip"}), Payload: "skip"}})
	if err != nil {
		return err
	}
	return c.Reply(ask, keyboard...)
}

// profilePressed is "Bỏ qua" for a member's position.
func (b *Bot) profilePressed(c *Context, payload string) error {
	conv, active, err := b.activeConversation(c)
	if err != nil || !active || conv.Name != wizardProfile || conv.Data["role"] == store.RoleHead {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	if err := c.ClearKeyboard(); err != nil {
		return err
	}
	return b.profileDone(c, &conv)
}

// profileDone ends the dialogue and tells the unit's heads who joined.
func (b *Bot) profileDone(c *Context, conv *store.Conversation) error {
	if err := c.EndConversation(); err != nil {
		return err
	}
	id, _ := strconv.ParseUint(conv.Data["unit"], 10, 64)
	if u, err := c.Tx.Unit(id); err == nil {
		if err := b.announceJoin(c, u, conv.Data["role"] == store.RoleHead); err != nil {
			return err
		}
	}
	return c.Reply(messages.ProfileSaved{FullName: c.User.FullName, Position: c.User.Position})
}

// announceJoin tells the unit's other heads, each in their language; a
// unit without heads has its news go to the nearest unit above that has.
func (b *Bot) announceJoin(c *Context, u store.Unit, head bool) error {
	for _, headID := range headsFor(c.Tx, u.ID, c.Sender.ID) {
		lang := b.lang
		if hu, err := c.Tx.User(headID); err == nil {
			lang = b.language(hu)
		}
		text := b.msgs.For(lang).HTML(messages.NewMemberNotice{
			Name: c.User.DisplayName(), Position: c.User.Position, Unit: u.Name, Head: head,
		})
		// A village link brings many members: their notices do not ring.
		if err := c.Enqueue(headID, store.PriorityInteractive, store.Action{Kind: store.ActSend, Text: text, Silent: !head}); err != nil {
			return err
		}
	}
	return nil
}

// members lists a unit's heads and members: "/thanhvien <đơn vị>".
func (b *Bot) members(c *Context) error {
	u, ok, err := b.unitArg(c, c.Args, then(cmdMembers, ""))
	if err != nil || !ok {
		return err
	}
	return c.ReplyList(listMembers, strconv.FormatUint(u.ID, 10))
}

// memberItems is a unit's roster, heads first.
func (b *Bot) memberItems(c *Context, arg string) (string, []string, error) {
	id, _ := strconv.ParseUint(arg, 10, 64)
	u, err := c.Tx.Unit(id)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, errListGone
	}
	if err != nil {
		return "", nil, err
	}
	if !c.Can(Member, u.ID) {
		return "", nil, errListGone // allowed when shown; not any more
	}
	var items []string
	var heads, members int
	for _, m := range c.Tx.Members(u.ID) {
		line := messages.MemberLine{UserID: m.UserID, Head: m.Role == store.RoleHead, Name: strconv.FormatInt(m.UserID, 10)}
		if p, err := c.Tx.User(m.UserID); err == nil {
			line.Name, line.Position = p.DisplayName(), p.Position
		}
		if line.Head {
			heads++
		} else {
			members++
		}
		items = append(items, c.P.Item(line))
	}
	return c.P.HTML(messages.MemberListHeader{Unit: u.Name, Heads: heads, Members: members}), items, nil
}

// removeMember takes someone out: "/xoathanhvien <đơn vị> | <user id>".
func (b *Bot) removeMember(c *Context) error {
	fs := fields(c.Args)
	u, ok, err := b.unitArg(c, field(fs, 0), then(cmdRemoveMember, "| "+field(fs, 1)))
	if err != nil || !ok {
		return err
	}
	arg := field(fs, 1)
	if arg == "" {
		return c.Reply(messages.AskUserID{Command: cmdRemoveMember + " " + u.Code + " |"})
	}
	userID, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || userID <= 0 {
		return c.Reply(messages.BadUserID{Arg: arg})
	}
	removed, err := c.Tx.RemoveMember(u.ID, userID)
	if err != nil {
		return err
	}
	if !removed {
		return c.Reply(messages.NotAMember{Unit: u.Name, UserID: userID})
	}
	name := strconv.FormatInt(userID, 10)
	if p, err := c.Tx.User(userID); err == nil {
		name = p.DisplayName()
	}
	return c.Reply(messages.MemberRemoved{Name: name, Unit: u.Name})
}

// leave asks to confirm leaving a unit: "/roidonvi <đơn vị>".
func (b *Bot) leave(c *Context) error {
	u, ok, err := b.unitArg(c, c.Args, then(cmdLeave, ""))
	if err != nil || !ok {
		return err
	}
	if c.Tx.RoleIn(c.Sender.ID, u.ID) == "" {
		return c.Reply(messages.NotAMember{Unit: u.Name, UserID: c.Sender.ID, Self: true})
	}
	return c.Confirm(callbackLeave, strconv.FormatUint(u.ID, 10), messages.ConfirmLeave{Unit: u.Name})
}

func (b *Bot) leaveConfirmed(c *Context, payload string) error {
	yes, err := c.Confirmed(payload)
	if err != nil || !yes {
		return err
	}
	id, _ := strconv.ParseUint(c.KeyboardData, 10, 64)
	u, err := c.Tx.Unit(id)
	if err != nil {
		return c.EditHTML(c.P.HTML(messages.Dismissed{}))
	}
	if _, err := c.Tx.RemoveMember(u.ID, c.Sender.ID); err != nil {
		return err
	}
	return c.EditHTML(c.P.HTML(messages.LeftUnit{Unit: u.Name}))
}
