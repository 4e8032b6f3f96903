package bot

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"danvan/messages"
	"danvan/names"
	"danvan/store"
)

// /donvi [từ khóa]: the units under the person's own (admins: all), or a
// search; /suadonvi <đơn vị>: change name, kind, parent or place;
// /xoadonvi <đơn vị>: delete a unit with no units under it and no people.

func (b *Bot) listUnits(c *Context) error {
	if c.Args == "" && !c.IsAdmin() && len(c.Tx.UserUnits(c.Sender.ID)) == 0 {
		return c.Reply(messages.NoUnits{})
	}
	return c.ReplyList(listUnits, c.Args)
}

// unitItems lists units for /donvi: a search when arg is set, else the
// trees under the person's units (admins: every tree), as an indented
// outline.
func (b *Bot) unitItems(c *Context, arg string) (string, []string, error) {
	if arg != "" {
		matches := c.Tx.SearchUnits(arg, 200)
		var items []string
		for _, m := range matches {
			u, err := c.Tx.Unit(m.ID)
			if err != nil {
				return "", nil, err
			}
			items = append(items, c.P.Item(b.unitLine(c.Tx, c.P, u, 0)))
		}
		return c.P.HTML(messages.UnitListHeader{Mode: "search", Query: arg, Count: len(items)}), items, nil
	}
	var roots []uint64
	mode := "mine"
	if c.IsAdmin() {
		mode = "all"
		top, err := c.Tx.Children(0)
		if err != nil {
			return "", nil, err
		}
		for _, u := range top {
			roots = append(roots, u.ID)
		}
	} else {
		mine := map[uint64]bool{}
		for _, m := range c.Tx.UserUnits(c.Sender.ID) {
			mine[m.UnitID] = true
		}
		// A unit under another of the person's units is shown in that tree.
		for id := range mine {
			covered := false
			for _, a := range c.Tx.Ancestors(id) {
				covered = covered || mine[a]
			}
			if !covered {
				roots = append(roots, id)
			}
		}
		slices.Sort(roots)
	}
	var items []string
	var walk func(id uint64, depth int) error
	walk = func(id uint64, depth int) error {
		u, err := c.Tx.Unit(id)
		if err != nil {
			return err
		}
		items = append(items, c.P.Item(b.unitLine(c.Tx, c.P, u, depth)))
		children, err := c.Tx.Children(id)
		if err != nil {
			return err
		}
		for _, ch := range children {
			if err := walk(ch.ID, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, id := range roots {
		if err := walk(id, 0); err != nil {
			return "", nil, err
		}
	}
	return c.P.HTML(messages.UnitListHeader{Mode: mode, Count: len(items)}), items, nil
}

// unitLine describes a unit in a list.
func (b *Bot) unitLine(tx *store.Tx, p messages.Printer, u store.Unit, depth int) messages.UnitLine {
	line := messages.UnitLine{
		Depth: depth, Name: u.Name, Code: u.Code, Kind: p.Text(messages.UnitKind{Kind: u.Kind}),
		Path: b.placePath(tx, u.Place),
	}
	line.Heads, line.Members = tx.MemberCounts(u.ID)
	for _, l := range tx.UnitLinks(u.ID) {
		if !l.Broken {
			line.Groups++
		}
	}
	return line
}

// editUnit starts changing a unit: "/suadonvi <đơn vị> [| <mục> | <giá trị>]".
func (b *Bot) editUnit(c *Context) error {
	fs := fields(c.Args)
	u, ok, err := b.unitArg(c, field(fs, 0), then(cmdEditUnit, ""))
	if err != nil || !ok {
		return err
	}
	conv, err := c.StartConversation(wizardEditUnit, "field", map[string]string{"unit": strconv.FormatUint(u.ID, 10)})
	if err != nil {
		return err
	}
	if f := fieldName(field(fs, 1)); f != "" {
		conv.Step, conv.Data["field"] = "value", f
		if v := field(fs, 2); v != "" {
			return b.applyEdit(c, &conv, v)
		}
		return b.askEditValue(c, &conv, u)
	}
	if err := c.SaveConversation(&conv); err != nil {
		return err
	}
	o := KeyboardOptions{Conversation: conv.ID}
	keyboard, err := c.Keyboard(callbackEditUnit, o,
		[]Key{{Text: c.P.Text(messages.Button{Name: "field_name"}), Payload: "field:name"}, {Text: c.P.Text(messages.Button{Name: "field_kind"}), Payload: "field:kind"}},
		[]Key{{Text: c.P.Text(messages.Button{Name: "field_parent"}), Payload: "field:parent"}, {Text: c.P.Text(messages.Button{Name: "field_place"}), Payload: "field:place"}})
	if err != nil {
		return err
	}
	return c.Reply(messages.ChooseField{Name: u.Name}, keyboard...)
}

// fieldName reads a field named in either language.
func fieldName(s string) string {
	switch names.Fold(s) {
	case "ten", "name":
		return "name"
	case "loai", "kind":
		return "kind"
	case "cap tren", "captren", "don vi cap tren", "parent":
		return "parent"
	case "dia ban", "diaban", "place":
		return "place"
	}
	return ""
}

func (b *Bot) editedUnit(c *Context, conv *store.Conversation) (store.Unit, error) {
	id, _ := strconv.ParseUint(conv.Data["unit"], 10, 64)
	return c.Tx.Unit(id)
}

// askEditValue asks for the new value of the chosen field.
func (b *Bot) askEditValue(c *Context, conv *store.Conversation, u store.Unit) error {
	if err := c.SaveConversation(conv); err != nil {
		return err
	}
	o := KeyboardOptions{Conversation: conv.ID}
	switch f := conv.Data["field"]; f {
	case "kind":
		var rows [][]Key
		for _, k := range store.UnitKinds() {
			rows = append(rows, []Key{{Text: c.P.Text(messages.UnitKind{Kind: k}), Payload: "kind:" + k}})
		}
		keyboard, err := c.Keyboard(callbackEditUnit, o, rows...)
		if err != nil {
			return err
		}
		return c.Reply(messages.AskUnitKind{Name: u.Name}, keyboard...)
	default:
		current := u.Name
		switch f {
		case "parent":
			current = "—"
			if p, err := c.Tx.Unit(u.Parent); err == nil {
				current = p.Name
			}
		case "place":
			current = b.placePath(c.Tx, u.Place)
			if current == "" {
				current = "—"
			}
		}
		return c.Reply(messages.AskNewValue{Field: f, Current: current})
	}
}

func (b *Bot) editUnitTyped(c *Context, conv *store.Conversation) error {
	if conv.Step == "value" {
		return b.applyEdit(c, conv, c.Message.Text)
	}
	u, err := b.editedUnit(c, conv)
	if err != nil {
		return c.EndConversation()
	}
	if f := fieldName(c.Message.Text); f != "" {
		conv.Step, conv.Data["field"] = "value", f
		return b.askEditValue(c, conv, u)
	}
	return c.Reply(messages.ChooseField{Name: u.Name})
}

// editUnitPressed takes "field:<f>", "kind:<k>", "parent:<id>",
// "place:<code>".
func (b *Bot) editUnitPressed(c *Context, payload string) error {
	conv, active, err := b.activeConversation(c)
	if err != nil || !active || conv.Name != wizardEditUnit {
		return err
	}
	u, err := b.editedUnit(c, &conv)
	if err != nil {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	if err := c.ClearKeyboard(); err != nil {
		return err
	}
	kind, value, _ := strings.Cut(payload, ":")
	switch kind {
	case "field":
		conv.Step, conv.Data["field"] = "value", value
		return b.askEditValue(c, &conv, u)
	case "kind", "parent", "place":
		conv.Data["field"] = kind
		return b.applyEdit(c, &conv, value)
	}
	return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
}

// applyEdit checks and applies a new value, ending the dialogue when done.
// A value given by a button is a kind, a unit id or a place code.
func (b *Bot) applyEdit(c *Context, conv *store.Conversation, value string) error {
	u, err := b.editedUnit(c, conv)
	if err != nil {
		return err
	}
	if !c.Can(Head, u.ID) {
		return c.Refuse(Head, u.ID)
	}
	value = names.Clean(value)
	f := conv.Data["field"]
	var shown string
	switch f {
	case "name":
		if n := utf8.RuneCountInString(value); n < 2 || n > 120 {
			if err := c.Reply(messages.BadLength{What: "unit_name", Min: 2, Max: 120, Got: n}); err != nil {
				return err
			}
			return b.askEditValue(c, conv, u)
		}
		u.Name, shown = value, value
	case "kind":
		kind, ok := b.kindFromText(value)
		if !ok {
			return c.Reply(messages.BadKind{Kind: value, Kinds: b.kindOptions(c.P)})
		}
		u.Kind, shown = kind, c.P.Text(messages.UnitKind{Kind: kind})
	case "parent":
		var parent store.Unit
		if id, err := strconv.ParseUint(value, 10, 64); err == nil && c.Callback != nil {
			parent, err = c.Tx.Unit(id)
			if err != nil {
				return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
			}
		} else if isNone(value) {
			if !c.IsAdmin() {
				return c.Reply(messages.Refused{Need: "top_level"})
			}
		} else {
			found, err := findUnits(c.Tx, value)
			switch {
			case err != nil:
				return err
			case len(found) == 0:
				return c.Reply(messages.UnitNotFound{Query: value})
			case len(found) > 1:
				var rows [][]Key
				for _, p := range found {
					rows = append(rows, []Key{{Text: b.unitLabel(c.Tx, p), Payload: "parent:" + strconv.FormatUint(p.ID, 10)}})
				}
				keyboard, err := c.Keyboard(callbackEditUnit, KeyboardOptions{Conversation: conv.ID}, rows...)
				if err != nil {
					return err
				}
				return c.Reply(messages.ChooseUnit{Query: value}, keyboard...)
			}
			parent = found[0]
		}
		if parent.ID != 0 && !c.Can(Head, parent.ID) {
			return c.Refuse(Head, parent.ID)
		}
		// Taking a unit away from its parent needs rights over that
		// parent, as deleting it does.
		if u.Parent != 0 && !c.Can(Head, u.Parent) {
			return c.Refuse(Head, u.Parent)
		}
		u.Parent, shown = parent.ID, parent.Name
		if parent.ID == 0 {
			shown = "—"
		}
	case "place":
		code, candidates, err := b.findPlace(c, value)
		if err != nil {
			return err
		}
		if code == "" {
			if len(candidates) == 0 {
				return c.Reply(messages.PlaceNotFound{Query: value})
			}
			keyboard, err := b.placeKeyboard(c, callbackEditUnit, KeyboardOptions{Conversation: conv.ID}, candidates, false)
			if err != nil {
				return err
			}
			return c.Reply(messages.ChoosePlace{Query: value}, keyboard...)
		}
		u.Place, shown = code, b.placePath(c.Tx, code)
	default:
		return c.EndConversation()
	}
	err = c.Tx.UpdateUnit(u)
	if errors.Is(err, store.ErrCycle) {
		if err := c.EndConversation(); err != nil {
			return err
		}
		return c.Reply(messages.MoveRefused{Name: u.Name})
	}
	if err != nil {
		return err
	}
	if err := c.EndConversation(); err != nil {
		return err
	}
	if err := c.Audit(store.AuditUnitEdit, unitTarget(u), f+" = "+shown, 0); err != nil {
		return err
	}
	return c.Reply(messages.UnitUpdated{Name: u.Name, Code: u.Code, Field: f, Value: shown})
}

// deleteUnit asks to confirm deleting a unit. Deleting needs the rights
// over its parent (a head of the unit itself cannot remove it), or an
// admin for a top-level unit.
func (b *Bot) deleteUnit(c *Context) error {
	u, ok, err := b.unitArg(c, c.Args, then(cmdDeleteUnit, ""))
	if err != nil || !ok {
		return err
	}
	// Say now what stands in the way, rather than after Xác nhận.
	if children, _ := c.Tx.Children(u.ID); len(children) > 0 || len(c.Tx.Members(u.ID)) > 0 {
		return c.Reply(messages.DeleteRefused{Name: u.Name, Children: len(children), Members: len(c.Tx.Members(u.ID))})
	}
	return c.Confirm(callbackDeleteUnit, strconv.FormatUint(u.ID, 10), messages.ConfirmDeleteUnit{Name: u.Name, Code: u.Code})
}

// mayDelete checks the sender's rights to delete u, answering if refused.
func (b *Bot) mayDelete(c *Context, u store.Unit) (bool, error) {
	if u.Parent == 0 {
		if !c.IsAdmin() {
			return false, c.Refuse(Admin, 0)
		}
		return true, nil
	}
	if !c.Can(Head, u.Parent) {
		return false, c.Refuse(Head, u.Parent)
	}
	return true, nil
}

// deleteUnitConfirmed deletes after Xác nhận, refusing a unit with units
// under it or people in it.
func (b *Bot) deleteUnitConfirmed(c *Context, payload string) error {
	yes, err := c.Confirmed(payload)
	if err != nil || !yes {
		return err
	}
	id, _ := strconv.ParseUint(c.KeyboardData, 10, 64)
	u, err := c.Tx.Unit(id)
	if errors.Is(err, store.ErrNotFound) {
		return c.EditHTML(c.P.HTML(messages.Dismissed{}))
	}
	if err != nil {
		return err
	}
	if ok, err := b.mayDelete(c, u); err != nil || !ok {
		return err
	}
	switch err := c.Tx.DeleteUnit(u.ID); {
	case errors.Is(err, store.ErrHasChildren), errors.Is(err, store.ErrHasMembers):
		children, _ := c.Tx.Children(u.ID)
		return c.EditHTML(c.P.HTML(messages.DeleteRefused{Name: u.Name, Children: len(children), Members: len(c.Tx.Members(u.ID))}))
	case err != nil:
		return err
	}
	if err := c.Audit(store.AuditUnitDelete, unitTarget(u), "", 0); err != nil {
		return err
	}
	return c.EditHTML(c.P.HTML(messages.UnitDeleted{Name: u.Name, Code: u.Code}))
}
