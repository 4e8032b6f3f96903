package bot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"danvan/messages"
	"danvan/store"
)

// List is a list that may be too long for one message (units, members,
// the audit log). It is shown a page at a time, each page within
// Telegram's 4,096 characters, with ◀ ▶ buttons that turn the page in
// place. Items is called again on every turn, so a page is never stale.
type List struct {
	Name string
	Perm Permission
	// Items returns the header and the items (one HTML line each) for arg.
	Items func(c *Context, arg string) (header string, items []string, err error)
}

const callbackPage = "page"

// errListGone is returned by a list's Items when the list may no longer
// be shown to this person (the unit is gone, or their access is): a page
// turn is then answered as an expired button, not with an apology.
var errListGone = errors.New("the list is gone or no longer allowed")

// pageRoom leaves space on each page for the "Trang 2/5" footer.
const pageRoom = messages.MaxText - 64

// HandleList registers a paged list.
func (b *Bot) HandleList(l List) error {
	if l.Perm == 0 {
		return fmt.Errorf("list %q declares no permission", l.Name)
	}
	if l.Name == "" || l.Items == nil || strings.Contains(l.Name, "\n") {
		return fmt.Errorf("list %q has no name or items", l.Name)
	}
	if _, dup := b.lists[l.Name]; dup {
		return fmt.Errorf("list %q registered twice", l.Name)
	}
	b.lists[l.Name] = &l
	return nil
}

// ReplyList answers with the first page of the named list.
func (c *Context) ReplyList(name, arg string) error {
	text, keyboard, err := c.listPage(name, arg, 0)
	if err != nil {
		return err
	}
	return c.ReplyHTML(text, keyboard...)
}

// listPage renders one page (0-based; out-of-range pages are clamped) and
// its ◀ ▶ keyboard.
func (c *Context) listPage(name, arg string, page int) (string, [][]store.Button, error) {
	l, ok := c.bot.lists[name]
	if !ok {
		return "", nil, fmt.Errorf("unregistered list %q", name)
	}
	header, items, err := l.Items(c, arg)
	if err != nil {
		return "", nil, err
	}
	pages := messages.Paginate(header, items, "", pageRoom)
	page = max(0, min(page, len(pages)-1))
	text := pages[page]
	if len(pages) == 1 {
		return text, nil, nil
	}
	text += "\n" + c.P.HTML(messages.PageOf{Page: page + 1, Pages: len(pages)})
	var row []Key
	if page > 0 {
		row = append(row, Key{Text: c.P.Text(messages.Button{Name: "prev"}), Payload: strconv.Itoa(page - 1)})
	}
	if page < len(pages)-1 {
		row = append(row, Key{Text: c.P.Text(messages.Button{Name: "next"}), Payload: strconv.Itoa(page + 1)})
	}
	keyboard, err := c.Keyboard(callbackPage, KeyboardOptions{Data: name + "\n" + arg}, row)
	return text, keyboard, err
}

// listPerm is the permission a press on a list's ◀ ▶ needs: the list's own.
func (b *Bot) listPerm(data string) Permission {
	name, _, _ := strings.Cut(data, "\n")
	if l, ok := b.lists[name]; ok {
		return l.Perm
	}
	return Anyone // an unknown list is answered "expired"
}

// turnPage handles ◀ ▶: it edits the list's message to the chosen page.
func (b *Bot) turnPage(c *Context, payload string) error {
	name, arg, _ := strings.Cut(c.KeyboardData, "\n")
	_, ok := b.lists[name]
	page, err := strconv.Atoi(payload)
	if !ok || err != nil {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	text, keyboard, err := c.listPage(name, arg, page)
	if errors.Is(err, errListGone) {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	if err != nil {
		return err
	}
	return c.EditHTML(text, keyboard...)
}
