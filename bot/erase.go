package bot

import (
	"strings"

	"danvan/messages"
)

// /xoadulieu: after a confirmation, a person's data is erased — see
// store.Tx.ErasePerson for what goes — and they get a goodbye whose own
// delivery record is forgotten once it is sent.

const (
	cmdErase      = "xoadulieu"
	callbackErase = "erase"
)

func (b *Bot) registerErasure() error {
	if err := b.HandleCommand(Command{Name: cmdErase, Alias: "deletemydata", Perm: Person, Private: true, Menu: true, Handle: b.askErase}); err != nil {
		return err
	}
	return b.HandleCallback(CallbackHandler{Name: callbackErase, Perm: Person, Handle: b.erase})
}

func (b *Bot) askErase(c *Context) error {
	keyboard, err := c.Keyboard(callbackErase, KeyboardOptions{Decision: true}, []Key{
		{Text: c.P.Text(messages.Button{Name: "erase"}), Payload: "yes"},
		{Text: c.P.Text(messages.Button{Name: "cancel"}), Payload: "no"},
	})
	if err != nil {
		return err
	}
	return c.Reply(messages.ConfirmErase{Admin: c.Tx.IsStoredAdmin(c.Sender.ID)}, keyboard...)
}

func (b *Bot) erase(c *Context, payload string) error {
	yes, err := c.Confirmed(payload)
	if err != nil || !yes {
		return err
	}
	u := c.User
	// Only names of two words or more, and the username, are taken out of
	// text kept for others: a one-word name ("Bình") is also part of
	// place names ("Thái Bình") and ordinary words.
	var names []string
	for _, n := range []string{u.FullName, u.FirstName + " " + u.LastName} {
		if len(strings.Fields(n)) >= 2 {
			names = append(names, n)
		}
	}
	if u.Username != "" {
		names = append(names, "@"+u.Username, u.Username)
	}
	pseudonym := func(n uint64) string {
		return b.msgs.For(b.lang).Text(messages.Pseudonym{N: n})
	}
	own := []string{u.FirstName, u.LastName, u.DisplayName()}
	if _, err := c.Tx.ErasePerson(c.Sender.ID, names, own, pseudonym, c.Now); err != nil {
		return err
	}
	c.forget = true
	return c.EditHTML(c.P.HTML(messages.Erased{}))
}
