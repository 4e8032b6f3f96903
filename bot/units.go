package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"danvan/messages"
	"danvan/names"
	"danvan/places"
	"danvan/store"
)

// The organization tree: /themdonvi, /donvi, /suadonvi, /xoadonvi. A unit
// is named by its code or its name; a name several units share gets
// buttons showing where each one is.

const (
	cmdAddUnit    = "themdonvi"
	cmdUnits      = "donvi"
	cmdEditUnit   = "suadonvi"
	cmdDeleteUnit = "xoadonvi"

	wizardAddUnit  = "addunit"
	wizardEditUnit = "editunit"
	wizardPickUnit = "pickunit"

	callbackAddUnit    = "addunit"
	callbackEditUnit   = "editunit"
	callbackPickUnit   = "pickunit"
	callbackDeleteUnit = "deleteunit"

	listUnits = "units"

	// maxChoices caps the buttons offered for an ambiguous name.
	maxChoices = 8
)

func (b *Bot) registerUnits() error {
	for _, cmd := range []Command{
		// The unit /themdonvi's permission applies to is the new unit's parent.
		{Name: cmdAddUnit, Alias: "addunit", Perm: Head, On: TargetUnit, Private: true, Menu: true, Handle: b.addUnit},
		{Name: cmdUnits, Alias: "units", Perm: Person, Menu: true, Handle: b.listUnits},
		{Name: cmdEditUnit, Alias: "editunit", Perm: Head, On: TargetUnit, Private: true, Menu: true, Handle: b.editUnit},
		{Name: cmdDeleteUnit, Alias: "deleteunit", Perm: Head, On: TargetParent, Menu: true, Handle: b.deleteUnit},
	} {
		if err := b.HandleCommand(cmd); err != nil {
			return err
		}
	}
	for _, w := range []Wizard{
		{Name: wizardAddUnit, Perm: Head, OnText: b.addUnitTyped},
		{Name: wizardEditUnit, Perm: Head, OnText: b.editUnitTyped},
		{Name: wizardPickUnit, Perm: Person, OnText: b.pickUnitTyped},
	} {
		if err := b.HandleWizard(w); err != nil {
			return err
		}
	}
	for _, h := range []CallbackHandler{
		{Name: callbackAddUnit, Perm: Head, Handle: b.addUnitPressed},
		{Name: callbackEditUnit, Perm: Head, Handle: b.editUnitPressed},
		{Name: callbackPickUnit, Perm: Person, Handle: b.unitPicked},
		{Name: callbackDeleteUnit, Perm: Head, Handle: b.deleteUnitConfirmed},
	} {
		if err := b.HandleCallback(h); err != nil {
			return err
		}
	}
	return b.HandleList(List{Name: listUnits, Perm: Person, Items: b.unitItems})
}

// fields splits "a | b | c" into trimmed, cleaned fields.
func fields(args string) []string {
	if strings.TrimSpace(args) == "" {
		return nil
	}
	parts := strings.Split(args, "|")
	for i, p := range parts {
		parts[i] = names.Clean(p)
	}
	return parts
}

func field(fs []string, i int) string {
	if i < len(fs) {
		return fs[i]
	}
	return ""
}

// findUnits resolves a unit's code or name: a code, or a name only one unit
// has exactly, gives one unit; otherwise the best matches (none: unknown).
func findUnits(tx *store.Tx, query string) ([]store.Unit, error) {
	query = names.Clean(query)
	if query == "" {
		return nil, nil
	}
	if u, err := tx.UnitByCode(query); err == nil {
		return []store.Unit{u}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	matches := tx.SearchUnits(query, maxChoices)
	var exact []store.UnitMatch
	for _, m := range matches {
		if m.Rank == names.RankExact {
			exact = append(exact, m)
		}
	}
	if len(exact) == 1 {
		matches = exact
	}
	out := make([]store.Unit, 0, len(matches))
	for _, m := range matches {
		u, err := tx.Unit(m.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// unitLabel is a unit's button label: its name and where it is, so three
// units with one name can be told apart.
func (b *Bot) unitLabel(tx *store.Tx, u store.Unit) string {
	label := u.Name
	if path := b.placePath(tx, u.Place); path != "" {
		label += " · " + path
	} else if u.Parent != 0 {
		if p, err := tx.Unit(u.Parent); err == nil {
			label += " · " + p.Name
		}
	}
	return label
}

// placePath is where a place is: "Thái Bình › Tuyên Quang", or for a
// village "Thôn 3 › Thái Bình › Tuyên Quang".
func (b *Bot) placePath(tx *store.Tx, code string) string {
	if code == "" {
		return ""
	}
	if commune, _, ok := strings.Cut(code, "/"); ok {
		v, err := tx.Village(code)
		if err != nil {
			return b.places.Path(commune)
		}
		return v.Name + " › " + b.places.Path(commune)
	}
	return b.places.Path(code)
}

// unitArg finds the unit a command names in query and checks the
// command's permission on it (its declared target), with the one
// authorization function. When it cannot decide or refuses, it has
// already answered — asked for a name, offered buttons, said no unit
// matches, or refused — and returns ok false. A button press runs the
// command again with the chosen unit's code in place of query (then).
func (b *Bot) unitArg(c *Context, query, then string) (store.Unit, bool, error) {
	u, ok, err := b.findUnitArg(c, query, then)
	if err != nil || !ok {
		return u, ok, err
	}
	command := parseThen(then).Command
	cmd := b.byName[command]
	if cmd == nil {
		// Fail closed: the permission to check is the command's.
		return u, false, fmt.Errorf("unit argument for unregistered command %q", command)
	}
	target := u.ID
	switch {
	case cmd.On == NoTarget:
		return u, true, nil
	case cmd.On == TargetParent && u.Parent == 0:
		if !c.Can(Admin, 0) {
			return u, false, c.Refuse(Admin, 0)
		}
		return u, true, nil
	case cmd.On == TargetParent:
		target = u.Parent
	}
	if !c.Can(cmd.Perm, target) {
		return u, false, c.Refuse(cmd.Perm, target)
	}
	return u, true, nil
}

func (b *Bot) findUnitArg(c *Context, query, then string) (store.Unit, bool, error) {
	if names.Clean(query) == "" {
		if _, err := c.StartConversation(wizardPickUnit, "unit", map[string]string{"then": then}); err != nil {
			return store.Unit{}, false, err
		}
		// In a group only replies reach the bot: open one for the person.
		return store.Unit{}, false, c.ReplyAction(store.Action{
			Kind: store.ActSend, Text: c.P.HTML(messages.AskWhichUnit{Command: parseThen(then).Command}), ForceReply: c.InGroup(),
		})
	}
	found, err := findUnits(c.Tx, query)
	switch {
	case err != nil:
		return store.Unit{}, false, err
	case len(found) == 1:
		return found[0], true, nil
	case len(found) == 0:
		return store.Unit{}, false, c.Reply(messages.UnitNotFound{Query: query})
	}
	var rows [][]Key
	for _, u := range found {
		rows = append(rows, []Key{{Text: b.unitLabel(c.Tx, u), Payload: strconv.FormatUint(u.ID, 10)}})
	}
	keyboard, err := c.Keyboard(callbackPickUnit, KeyboardOptions{Data: then, Decision: true}, rows...)
	if err != nil {
		return store.Unit{}, false, err
	}
	return store.Unit{}, false, c.Reply(messages.ChooseUnit{Query: query}, keyboard...)
}

// pending is what to do with a unit once it is chosen: run Command with
// "<code> <Rest>", handing Carry to it again as Context.Carry (what the
// first message had besides its text, such as the photo an announcement
// replied to). Rest may hold several lines.
type pending struct {
	Command string `json:"c"`
	Rest    string `json:"r,omitempty"`
	Carry   string `json:"k,omitempty"`
}

// then encodes a pending command for a dialogue's or a keyboard's data.
func then(command, rest string, carry ...string) string {
	p := pending{Command: command, Rest: rest}
	if len(carry) > 0 {
		p.Carry = carry[0]
	}
	data, _ := json.Marshal(p) // strings only: cannot fail
	return string(data)
}

// parseThen decodes then's data, and the lines "command\nrest\ncarry"
// that dialogues and keyboards opened before it held.
func parseThen(s string) pending {
	var p pending
	if json.Unmarshal([]byte(s), &p) == nil && p.Command != "" {
		return p
	}
	p = pending{}
	p.Command, p.Rest, _ = strings.Cut(s, "\n")
	p.Rest, p.Carry, _ = strings.Cut(p.Rest, "\n")
	return p
}

// unitPicked runs the command waiting for a unit, with the chosen one.
func (b *Bot) unitPicked(c *Context, payload string) error {
	id, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	u, err := c.Tx.Unit(id)
	if errors.Is(err, store.ErrNotFound) {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	if err != nil {
		return err
	}
	if err := c.ClearKeyboard(); err != nil {
		return err
	}
	return b.runWithUnit(c, c.KeyboardData, u)
}

// pickUnitTyped takes a unit's name typed after a command asked for one.
func (b *Bot) pickUnitTyped(c *Context, conv *store.Conversation) error {
	if err := c.EndConversation(); err != nil {
		return err
	}
	then := conv.Data["then"]
	u, ok, err := b.unitArg(c, c.Message.Text, then)
	if !ok || err != nil {
		return err
	}
	return b.runWithUnit(c, then, u)
}

// runWithUnit runs a command again with the unit's code as its first
// argument.
func (b *Bot) runWithUnit(c *Context, then string, u store.Unit) error {
	p := parseThen(then)
	rest := p.Rest
	c.Carry = p.Carry
	cmd, ok := b.byName[p.Command]
	if !ok {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	if ok, need := b.authorize(c, cmd.Perm, 0); !ok {
		c.handler += ":refused"
		return c.Reply(messages.Refused{Need: need})
	}
	c.Args = strings.TrimSpace(u.Code + " " + rest)
	c.handler = "command:" + cmd.Name + ":picked"
	return cmd.Handle(c)
}

// kindFromText accepts a kind's code or its name in either language.
func (b *Bot) kindFromText(text string) (string, bool) {
	q := names.Fold(text)
	for _, k := range store.UnitKinds() {
		if q == k {
			return k, true
		}
		for _, lang := range messages.Langs() {
			if names.Fold(b.msgs.For(lang).Text(messages.UnitKind{Kind: k})) == q {
				return k, true
			}
		}
	}
	return "", false
}

func (b *Bot) kindOptions(p messages.Printer) []messages.KindOption {
	var out []messages.KindOption
	for _, k := range store.UnitKinds() {
		out = append(out, messages.KindOption{Code: k, Name: p.Text(messages.UnitKind{Kind: k})})
	}
	return out
}

// findPlace resolves a place: an official code, a name, or
// "<commune code>/<village name>" (the village is created if new). When it
// cannot decide it returns the candidates.
func (b *Bot) findPlace(c *Context, query string) (code string, candidates []places.Place, err error) {
	query = names.Clean(query)
	if commune, village, ok := strings.Cut(query, "/"); ok {
		commune = strings.TrimSpace(commune)
		if p, known := b.places.Lookup(commune); !known || p.Parent == "" {
			return "", nil, nil
		}
		if names.Clean(village) == "" {
			return "", nil, nil
		}
		v, err := c.Tx.EnsureVillage(commune, village, c.Now)
		if err != nil {
			return "", nil, err
		}
		return v.Code, nil, nil
	}
	if p, ok := b.places.Lookup(query); ok {
		return p.Code, nil, nil
	}
	found := b.places.Search(query, maxChoices)
	q := names.Fold(query)
	var exact []places.Place
	for _, p := range found {
		if names.Fold(p.Short) == q || names.Fold(p.Name) == q {
			exact = append(exact, p)
		}
	}
	if len(exact) == 1 {
		return exact[0].Code, nil, nil
	}
	if len(found) == 1 {
		return found[0].Code, nil, nil
	}
	return "", found, nil
}

// placeKeyboard offers candidate places as buttons for the handler.
func (b *Bot) placeKeyboard(c *Context, handler string, o KeyboardOptions, candidates []places.Place, skip bool) ([][]store.Button, error) {
	var rows [][]Key
	for _, p := range candidates {
		label := p.Name
		if p.Parent != "" {
			label += " · " + b.places.Path(p.Parent)
		}
		rows = append(rows, []Key{{Text: label, Payload: "place:" + p.Code}})
	}
	if skip {
		rows = append(rows, []Key{{Text: c.P.Text(messages.Button{Name: "skip"}), Payload: "skip"}})
	}
	return c.Keyboard(handler, o, rows...)
}

// kindSuffix is the part of a generated code that names the kind.
var kindSuffix = map[string]string{
	store.KindMTTQ: "MTTQ", store.KindPhuNu: "PHUNU", store.KindNongDan: "NONGDAN",
	store.KindDoanThanhNien: "DOAN", store.KindCCB: "CCB", store.KindCongDoan: "CONGDOAN",
	store.KindChiBo: "CHIBO", store.KindBanDanVan: "BDV", store.KindKhac: "KHAC",
}

// newCode makes an unused code from the place and kind: "02290-PHUNU",
// then "02290-PHUNU-2".
// codeWord is a village's name as a code's part: without diacritics or
// spaces, upper-case, at most 12 characters ("Thôn Đồng Mới" → THONDONGMOI),
// so that a generated code is easy to type and stays a valid one.
func codeWord(name string) string {
	var b strings.Builder
	for _, r := range names.Fold(name) {
		if b.Len() == 12 {
			break
		}
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	if b.Len() == 0 {
		return "THON"
	}
	return b.String()
}

func newCode(tx *store.Tx, place, kind string) string {
	base := "DV"
	if place != "" {
		commune, village, isVillage := strings.Cut(place, "/")
		base = commune
		if isVillage {
			base += "-" + codeWord(village)
		}
	}
	base += "-" + kindSuffix[kind]
	code := base
	for n := 2; ; n++ {
		if _, err := tx.UnitByCode(code); errors.Is(err, store.ErrNotFound) {
			return code
		}
		code = fmt.Sprintf("%s-%d", base, n)
	}
}
