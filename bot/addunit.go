package bot

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"danvan/messages"
	"danvan/names"
	"danvan/store"
)

// /themdonvi <tên> | <loại> [| <đơn vị cấp trên>] [| <địa bàn>] [| <mã>]:
// what is missing is asked for step by step; the conversation's data holds
// what is known so far:
//
//	name, kind   the new unit's name and kind
//	parent       the parent unit's id, "0" for a top-level unit
//	place        a place code, "-" to take the parent's (or none)
//	code         the code asked for, "" to generate one
//	asked        "1" once a step was asked interactively: then the place is
//	             asked too, with a Skip button

// unitCode is what a unit code may be: letters, digits and - _ . /, at
// most 32, so it reads well in commands and fits in buttons.
var unitCode = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./-]{0,31}$`)

func (b *Bot) addUnit(c *Context) error {
	fs := fields(c.Args)
	data := map[string]string{"name": field(fs, 0), "code": field(fs, 4)}
	if code := data["code"]; code != "" {
		if !unitCode.MatchString(code) {
			return c.Reply(messages.BadCode{Code: code})
		}
		if _, err := c.Tx.UnitByCode(code); err == nil {
			return c.Reply(messages.CodeTaken{Code: code})
		}
	}
	conv, err := c.StartConversation(wizardAddUnit, "", data)
	if err != nil {
		return err
	}
	// Every field given on the command line is checked as if typed.
	for i, step := range []string{"name", "kind", "parent", "place"} {
		v := field(fs, i)
		if v == "" {
			continue
		}
		conv.Step = step
		done, err := b.addUnitValue(c, &conv, v)
		if err != nil || !done {
			return err
		}
	}
	return b.addUnitNext(c, &conv)
}

// addUnitTyped takes a typed answer to the current step.
func (b *Bot) addUnitTyped(c *Context, conv *store.Conversation) error {
	conv.Data["asked"] = "1"
	done, err := b.addUnitValue(c, conv, c.Message.Text)
	if err != nil || !done {
		return err
	}
	return b.addUnitNext(c, conv)
}

// addUnitPressed takes a button: "kind:<kind>", "parent:<id>", "top",
// "place:<code>" or "skip".
func (b *Bot) addUnitPressed(c *Context, payload string) error {
	conv, active, err := b.activeConversation(c)
	if err != nil || !active || conv.Name != wizardAddUnit {
		return err
	}
	kind, value, _ := strings.Cut(payload, ":")
	switch {
	case kind == "kind" && conv.Step == "kind" && store.ValidUnitKind(value):
		conv.Data["kind"] = value
	case kind == "parent" && conv.Step == "parent":
		id, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
		}
		if ok, err := b.setParent(c, &conv, id); err != nil || !ok {
			return err
		}
	case kind == "top" && conv.Step == "parent":
		if ok, err := b.setParent(c, &conv, 0); err != nil || !ok {
			return err
		}
	case kind == "place" && conv.Step == "place":
		if _, ok := b.places.Lookup(value); !ok {
			return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
		}
		conv.Data["place"] = value
	case kind == "skip" && conv.Step == "place":
		conv.Data["place"] = "-"
	default:
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	if err := c.ClearKeyboard(); err != nil {
		return err
	}
	return b.addUnitNext(c, &conv)
}

// addUnitValue checks a value for the current step and stores it. When the
// value is not good it has answered (and keeps asking), and returns false.
func (b *Bot) addUnitValue(c *Context, conv *store.Conversation, text string) (bool, error) {
	text = names.Clean(text)
	switch conv.Step {
	case "name":
		if n := utf8.RuneCountInString(text); n < 2 || n > 120 {
			if err := c.Reply(messages.BadLength{What: "unit_name", Min: 2, Max: 120, Got: n}); err != nil {
				return false, err
			}
			return false, b.addUnitAsk(c, conv)
		}
		conv.Data["name"] = text
	case "kind":
		kind, ok := b.kindFromText(text)
		if !ok {
			if err := c.Reply(messages.BadKind{Kind: text, Kinds: b.kindOptions(c.P)}); err != nil {
				return false, err
			}
			return false, b.addUnitAsk(c, conv)
		}
		conv.Data["kind"] = kind
	case "parent":
		if isNone(text) {
			return b.setParent(c, conv, 0)
		}
		found, err := findUnits(c.Tx, text)
		switch {
		case err != nil:
			return false, err
		case len(found) == 0:
			if err := c.SaveConversation(conv); err != nil {
				return false, err
			}
			return false, c.Reply(messages.UnitNotFound{Query: text})
		case len(found) > 1:
			if err := c.SaveConversation(conv); err != nil {
				return false, err
			}
			var rows [][]Key
			for _, u := range found {
				rows = append(rows, []Key{{Text: b.unitLabel(c.Tx, u), Payload: "parent:" + strconv.FormatUint(u.ID, 10)}})
			}
			keyboard, err := c.Keyboard(callbackAddUnit, KeyboardOptions{Conversation: conv.ID}, rows...)
			if err != nil {
				return false, err
			}
			return false, c.Reply(messages.ChooseUnit{Query: text}, keyboard...)
		}
		return b.setParent(c, conv, found[0].ID)
	case "place":
		if isNone(text) {
			conv.Data["place"] = "-"
			return true, nil
		}
		code, candidates, err := b.findPlace(c, text)
		if err != nil {
			return false, err
		}
		if code == "" {
			if err := c.SaveConversation(conv); err != nil {
				return false, err
			}
			if len(candidates) == 0 {
				return false, c.Reply(messages.PlaceNotFound{Query: text})
			}
			keyboard, err := b.placeKeyboard(c, callbackAddUnit, KeyboardOptions{Conversation: conv.ID}, candidates, true)
			if err != nil {
				return false, err
			}
			return false, c.Reply(messages.ChoosePlace{Query: text}, keyboard...)
		}
		conv.Data["place"] = code
	}
	return true, nil
}

// isNone accepts "-", "không", "none" for an empty answer.
func isNone(text string) bool {
	switch names.Fold(text) {
	case "-", "khong", "khong co", "none", "bo qua", "skip":
		return true
	}
	return false
}

// setParent checks that the sender may create a unit under parent (0: at
// the top, admins only) and stores it.
func (b *Bot) setParent(c *Context, conv *store.Conversation, parent uint64) (bool, error) {
	if parent == 0 {
		if !c.IsAdmin() {
			if err := c.SaveConversation(conv); err != nil {
				return false, err
			}
			c.handler += ":refused"
			return false, c.Reply(messages.Refused{Need: "top_level"})
		}
	} else if !c.Can(Head, parent) {
		if err := c.EndConversation(); err != nil {
			return false, err
		}
		return false, c.Refuse(Head, parent)
	}
	conv.Data["parent"] = strconv.FormatUint(parent, 10)
	return true, nil
}

// addUnitNext asks for the first missing field, or creates the unit.
func (b *Bot) addUnitNext(c *Context, conv *store.Conversation) error {
	for _, step := range []string{"name", "kind", "parent", "place"} {
		if conv.Data[step] != "" || (step == "place" && conv.Data["asked"] == "") {
			continue
		}
		conv.Step = step
		conv.Data["asked"] = "1"
		return b.addUnitAsk(c, conv)
	}
	return b.createUnit(c, conv)
}

// addUnitAsk asks for the current step.
func (b *Bot) addUnitAsk(c *Context, conv *store.Conversation) error {
	if err := c.SaveConversation(conv); err != nil {
		return err
	}
	name := conv.Data["name"]
	o := KeyboardOptions{Conversation: conv.ID}
	switch conv.Step {
	case "name":
		return c.Reply(messages.AskUnitName{})
	case "kind":
		var rows [][]Key
		var row []Key
		for _, k := range store.UnitKinds() {
			row = append(row, Key{Text: c.P.Text(messages.UnitKind{Kind: k}), Payload: "kind:" + k})
			if len(row) == 3 {
				rows, row = append(rows, row), nil
			}
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
		keyboard, err := c.Keyboard(callbackAddUnit, o, rows...)
		if err != nil {
			return err
		}
		return c.Reply(messages.AskUnitKind{Name: name}, keyboard...)
	case "parent":
		var rows [][]Key
		for _, m := range c.Tx.UserUnits(c.Sender.ID) {
			if m.Role != store.RoleHead || len(rows) == maxChoices {
				continue
			}
			if u, err := c.Tx.Unit(m.UnitID); err == nil {
				rows = append(rows, []Key{{Text: u.Name, Payload: "parent:" + strconv.FormatUint(u.ID, 10)}})
			}
		}
		admin := c.IsAdmin()
		if admin {
			rows = append(rows, []Key{{Text: c.P.Text(messages.Button{Name: "top_level"}), Payload: "top"}})
		}
		keyboard, err := c.Keyboard(callbackAddUnit, o, rows...)
		if err != nil {
			return err
		}
		return c.Reply(messages.AskParent{Name: name, CanBeTop: admin}, keyboard...)
	case "place":
		var parentPlace string
		if id, _ := strconv.ParseUint(conv.Data["parent"], 10, 64); id != 0 {
			if p, err := c.Tx.Unit(id); err == nil {
				parentPlace = b.placePath(c.Tx, p.Place)
			}
		}
		keyboard, err := c.Keyboard(callbackAddUnit, o, []Key{{Text: c.P.Text(messages.Button{Name: "skip"}), Payload: "skip"}})
		if err != nil {
			return err
		}
		return c.Reply(messages.AskPlace{Name: name, ParentPlace: parentPlace}, keyboard...)
	}
	return nil
}

// createUnit saves the unit and ends the dialogue with a reply that
// carries no buttons.
func (b *Bot) createUnit(c *Context, conv *store.Conversation) error {
	d := conv.Data
	parent, _ := strconv.ParseUint(d["parent"], 10, 64)
	// The dialogue may have lasted: check the rights again as they are now.
	if parent == 0 && !c.IsAdmin() || parent != 0 && !c.Can(Head, parent) {
		if err := c.EndConversation(); err != nil {
			return err
		}
		return c.Refuse(Head, parent)
	}
	u := store.Unit{Name: d["name"], Kind: d["kind"], Parent: parent, Created: c.Now, CreatedBy: c.Sender.ID}
	var parentName string
	if parent != 0 {
		p, err := c.Tx.Unit(parent)
		if err != nil {
			return err
		}
		parentName, u.Place = p.Name, p.Place
	}
	if place := d["place"]; place != "" && place != "-" {
		u.Place = place
	}
	u.Code = d["code"]
	if u.Code == "" {
		u.Code = newCode(c.Tx, u.Place, u.Kind)
	}
	created, err := c.Tx.AddUnit(u)
	if errors.Is(err, store.ErrDuplicateCode) {
		if err := c.EndConversation(); err != nil {
			return err
		}
		return c.Reply(messages.CodeTaken{Code: u.Code})
	}
	if err != nil {
		return err
	}
	if err := c.EndConversation(); err != nil {
		return err
	}
	if err := c.Audit(store.AuditUnitCreate, unitTarget(created), parentName, 0); err != nil {
		return err
	}
	return c.Reply(messages.UnitCreated{
		Name: created.Name, Code: created.Code, Kind: c.P.Text(messages.UnitKind{Kind: created.Kind}),
		Parent: parentName, Place: b.placePath(c.Tx, created.Place), OutsideFront: outsideFront(c.Tx, created),
	})
}

// frontOrganizations are the kinds that sit under the Front since 2025.
var frontOrganizations = []string{store.KindPhuNu, store.KindNongDan, store.KindDoanThanhNien, store.KindCCB, store.KindCongDoan}

// outsideFront reports whether u is one of the Front's organizations with
// no Ủy ban MTTQ among the units above it.
func outsideFront(tx *store.Tx, u store.Unit) bool {
	if !slices.Contains(frontOrganizations, u.Kind) {
		return false
	}
	for _, id := range tx.Ancestors(u.ID) {
		if a, err := tx.Unit(id); err == nil && a.Kind == store.KindMTTQ {
			return false
		}
	}
	return true
}
