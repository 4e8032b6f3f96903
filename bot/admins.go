package bot

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"danvan/messages"
	"danvan/store"
)

// Admins: /capquyen and /thuhoiquyen by numeric id (never by username),
// and the first-run claim link that makes the first person an admin when
// nobody is.

const (
	cmdGrant  = "capquyen"
	cmdRevoke = "thuhoiquyen"

	// claimPrefix starts the first-run claim link's payload.
	claimPrefix = "a_"
)

func (b *Bot) registerAdmins() error {
	for _, cmd := range []Command{
		{Name: cmdGrant, Alias: "grant", Perm: Admin, Menu: true, Handle: b.grant},
		{Name: cmdRevoke, Alias: "revoke", Perm: Admin, Menu: true, Handle: b.revoke},
	} {
		if err := b.HandleCommand(cmd); err != nil {
			return err
		}
	}
	b.OnStart(b.claimAdmin)
	return nil
}

// userArg reads a numeric user id, answering when it is missing or bad.
func userArg(c *Context) (int64, bool, error) {
	arg := strings.TrimSpace(c.Args)
	if arg == "" {
		return 0, false, c.Reply(messages.AskUserID{Command: c.Message.Command})
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, false, c.Reply(messages.BadUserID{Arg: arg})
	}
	return id, true, nil
}

func (b *Bot) personName(tx *store.Tx, userID int64) string {
	if u, err := tx.User(userID); err == nil {
		return u.DisplayName()
	}
	return strconv.FormatInt(userID, 10)
}

func (b *Bot) grant(c *Context) error {
	id, ok, err := userArg(c)
	if err != nil || !ok {
		return err
	}
	change := "granted"
	if b.admins[id] || c.Tx.IsStoredAdmin(id) {
		change = "already"
	} else if _, err := c.Tx.GrantAdmin(id, c.Sender.ID, c.Now); err != nil {
		return err
	} else if err := c.Audit(store.AuditAdminGrant, strconv.FormatInt(id, 10)+" — "+b.personName(c.Tx, id), "", id); err != nil {
		return err
	}
	return c.Reply(messages.AdminChange{Change: change, Name: b.personName(c.Tx, id), UserID: id})
}

func (b *Bot) revoke(c *Context) error {
	id, ok, err := userArg(c)
	if err != nil || !ok {
		return err
	}
	change := "revoked"
	switch {
	case b.admins[id]:
		change = "config"
	case id == c.Sender.ID:
		change = "self"
	default:
		revoked, err := c.Tx.RevokeAdmin(id)
		if err != nil {
			return err
		}
		if !revoked {
			change = "not_admin"
		} else if err := c.Audit(store.AuditAdminRevoke, strconv.FormatInt(id, 10)+" — "+b.personName(c.Tx, id), "", id); err != nil {
			return err
		}
	}
	return c.Reply(messages.AdminChange{Change: change, Name: b.personName(c.Tx, id), UserID: id})
}

// OfferClaim prints, to console only, a one-time link that makes its
// first user an admin — when the configuration names no admin and none
// was granted. The code lives in memory: a restart voids it.
func (b *Bot) OfferClaim(console io.Writer) error {
	if len(b.admins) > 0 {
		return nil
	}
	var exists bool
	if err := b.store.View(context.Background(), func(tx *store.Tx) error { exists = tx.HasStoredAdmins(); return nil }); err != nil {
		return err
	}
	if exists {
		return nil
	}
	code, err := randomCode(claimPrefix)
	if err != nil {
		return err
	}
	b.claim.Store(&code)
	_, err = fmt.Fprintf(console, "\nChưa có quản trị viên. Mở đường liên kết sau (một lần) để trở thành quản trị viên đầu tiên:\n"+
		"No admin yet. Open this link (once) to become the first admin:\n  %s\n\n", b.deepLink(code))
	return err
}

// claimAdmin handles "/start a_…": the first person to open the claim
// link becomes an admin, and the code is void.
func (b *Bot) claimAdmin(c *Context, payload string) (bool, error) {
	if !strings.HasPrefix(payload, claimPrefix) {
		return false, nil
	}
	code := b.claim.Load()
	if code == nil || *code != payload || c.Sender == nil || c.Tx.HasStoredAdmins() {
		return true, c.Reply(messages.InviteInvalid{Reason: "unknown"})
	}
	if _, err := c.Tx.GrantAdmin(c.Sender.ID, c.Sender.ID, c.Now); err != nil {
		return true, err
	}
	if err := c.Audit(store.AuditAdminGrant, strconv.FormatInt(c.Sender.ID, 10)+" — "+c.User.DisplayName(), "claim", c.Sender.ID); err != nil {
		return true, err
	}
	c.Tx.OnCommit(func() { b.claim.CompareAndSwap(code, nil) })
	return true, c.Reply(messages.AdminClaimed{})
}
