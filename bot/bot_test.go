package bot

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"danvan/clock"
	"danvan/messages"
	"danvan/store"
)

var ctx = context.Background()

const (
	botID      = 5000
	adminID    = 111
	userID     = 222
	strangerID = 333
)

type harness struct {
	t     *testing.T
	bot   *Bot
	store *store.Store
	clock *clock.Fake
	next  int64
}

func newHarness(t *testing.T, register ...func(*Bot) error) *harness {
	t.Helper()
	return newHarnessWith(t, func(*Options) {}, register...)
}

// newHarnessWith lets a test change the bot's options.
func newHarnessWith(t *testing.T, change func(*Options), register ...func(*Bot) error) *harness {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := messages.Load(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC))
	o := Options{Store: st, Messages: cat, Clock: clk, Admins: []int64{adminID}}
	change(&o)
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	b.SetIdentity(Identity{ID: botID, Username: "danvan_test_bot"})
	for _, r := range register {
		if err := r(b); err != nil {
			t.Fatal(err)
		}
	}
	return &harness{t: t, bot: b, store: st, clock: clk, next: 1000}
}

func person(id int64, lang string) *User {
	return &User{ID: id, FirstName: "Người", LastName: "Dùng", LanguageCode: lang}
}

func private(id int64) Chat { return Chat{ID: id, Kind: store.ChatPrivate} }

var group = Chat{ID: -100777, Kind: store.ChatSupergroup, Title: "Chi hội Phụ nữ thôn 3"}

// text builds a message update the way the adapter would.
func (h *harness) text(from *User, chat Chat, text string) Update {
	h.next++
	m := &Message{ID: int(h.next), Chat: chat, From: from, Kind: KindText, Text: text, Date: h.clock.Now()}
	if strings.HasPrefix(text, "/") {
		first, rest, _ := strings.Cut(text, " ")
		name, target, _ := strings.Cut(strings.TrimPrefix(first, "/"), "@")
		m.Command, m.CommandTarget, m.Args = strings.ToLower(name), target, rest
	}
	return Update{ID: h.next, Message: m}
}

func (h *harness) press(from *User, chat Chat, messageID int, data string) Update {
	h.next++
	return Update{ID: h.next, Callback: &Callback{
		ID: "q" + strings.Repeat("x", int(h.next%3)) + string(rune('a'+h.next%26)), From: *from, Data: data,
		Message: &Message{ID: messageID, Chat: chat, From: &User{ID: botID, IsBot: true}},
	}}
}

func (h *harness) apply(updates ...Update) {
	h.t.Helper()
	if err := h.bot.Apply(ctx, updates); err != nil {
		h.t.Fatalf("Apply: %v", err)
	}
}

// outbox returns and removes every pending row, as a sender would.
func (h *harness) outbox() []store.OutboxRow {
	h.t.Helper()
	var rows []store.OutboxRow
	err := h.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.PendingOutbox(0, 1000)
		if err != nil {
			return err
		}
		for i, r := range rows {
			if err := tx.AckOutbox(r, 9000+i, h.clock.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return rows
}

func (h *harness) one() store.OutboxRow {
	h.t.Helper()
	rows := h.outbox()
	if len(rows) != 1 {
		h.t.Fatalf("got %d outbox rows, want 1: %+v", len(rows), rows)
	}
	return rows[0]
}

func TestStartRepliesOnceThreaded(t *testing.T) {
	h := newHarness(t)
	u := h.text(person(userID, "vi"), private(userID), "/start")
	h.apply(u)
	r := h.one()
	if r.ChatID != userID || r.Action.ReplyTo != u.Message.ID || r.Priority != store.PriorityInteractive {
		t.Errorf("row %+v: want a threaded interactive reply to the user", r)
	}
	if !strings.Contains(r.Action.Text, "Xin chào Người Dùng") || !strings.Contains(r.Action.Text, "/trogiup") {
		t.Errorf("welcome text %q", r.Action.Text)
	}
	if strings.Contains(r.Action.Text, "quản trị viên</b>") {
		t.Errorf("a non-admin was told they are an admin: %q", r.Action.Text)
	}
}

func TestStartForAdminAndEnglishClient(t *testing.T) {
	h := newHarness(t)
	h.apply(h.text(person(adminID, "en-US"), private(adminID), "/start"))
	r := h.one()
	if !strings.Contains(r.Action.Text, "You are an <b>admin</b>") || !strings.Contains(r.Action.Text, "/help") {
		t.Errorf("admin welcome in English: %q", r.Action.Text)
	}
}

func TestApplyIsExactlyOnce(t *testing.T) {
	h := newHarness(t)
	u := h.text(person(userID, "vi"), private(userID), "/id")
	h.apply(u)
	h.apply(u) // the same update again, e.g. redelivered after a crash
	if rows := h.outbox(); len(rows) != 1 {
		t.Fatalf("got %d replies to one update applied twice, want 1", len(rows))
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		n := 0
		tx.Journal(func(e store.JournalEntry) bool {
			if e.UpdateID == u.ID {
				n++
			}
			return true
		})
		if n != 1 {
			t.Errorf("journal has %d entries for the update, want 1", n)
		}
		if got := tx.Offset(); got != u.ID+1 {
			t.Errorf("offset %d, want %d", got, u.ID+1)
		}
		return nil
	})
}

func TestPoisonUpdateIsSkippedWithAnApology(t *testing.T) {
	h := newHarness(t, func(b *Bot) error {
		return b.HandleCommand(Command{Name: "boom", Perm: Anyone, Handle: func(c *Context) error {
			if err := c.ReplyHTML("half-done"); err != nil {
				return err
			}
			panic("handler bug")
		}})
	})
	good1 := h.text(person(userID, "vi"), private(userID), "/id")
	bad := h.text(person(strangerID, "vi"), private(strangerID), "/boom")
	good2 := h.text(person(adminID, "vi"), private(adminID), "/id")
	h.apply(good1, bad, good2)
	rows := h.outbox()
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3 (two answers and one apology): %+v", len(rows), rows)
	}
	for _, r := range rows {
		if r.Action.Text == "half-done" {
			t.Error("the failed handler's partial reply was committed")
		}
		if r.ChatID == strangerID && !strings.Contains(r.Action.Text, "Xin lỗi") {
			t.Errorf("apology text %q", r.Action.Text)
		}
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		rec, err := tx.UpdateRecordOf(bad.ID)
		if err != nil || rec.Outcome != store.OutcomeFailed || !strings.Contains(rec.Reason, "panic in command:boom") ||
			!strings.Contains(rec.Reason, "bot_test.go") || strings.Contains(rec.Reason, "handler bug") {
			t.Errorf("record of the poison update: %+v, %v", rec, err)
		}
		if tx.Offset() != good2.ID+1 {
			t.Errorf("offset %d, want past the page", tx.Offset())
		}
		return nil
	})
}

func TestUndecodableUpdateIsRecordedAndSkipped(t *testing.T) {
	h := newHarness(t)
	h.apply(Update{ID: 77, Undecodable: true}, h.text(person(userID, "vi"), private(userID), "/id"))
	if rows := h.outbox(); len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		if rec, err := tx.UpdateRecordOf(77); err != nil || rec.Outcome != store.OutcomeUndecodable {
			t.Errorf("record %+v, %v; want undecodable", rec, err)
		}
		return nil
	})
}

func TestRegistrationNeedsAPermission(t *testing.T) {
	h := newHarness(t)
	noop := func(*Context) error { return nil }
	if err := h.bot.HandleCommand(Command{Name: "x", Handle: noop}); err == nil {
		t.Error("a command without a permission was registered")
	}
	if err := h.bot.HandleCallback(CallbackHandler{Name: "x", Handle: func(*Context, string) error { return nil }}); err == nil {
		t.Error("a callback without a permission was registered")
	}
	if err := h.bot.HandleWizard(Wizard{Name: "x", OnText: func(*Context, *store.Conversation) error { return nil }}); err == nil {
		t.Error("a wizard without a permission was registered")
	}
	if err := h.bot.HandleCommand(Command{Name: "start", Perm: Anyone, Handle: noop}); err == nil {
		t.Error("a duplicate command was registered")
	}
	if err := h.bot.HandleCommand(Command{Name: "Bad-Name", Perm: Anyone, Handle: noop}); err == nil {
		t.Error("an invalid command name was registered")
	}
}

func TestGroupRules(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	tests := []struct {
		text      string
		wantReply bool
	}{
		{"xin chào cả nhà", false},
		{"/id@other_bot", false},
		{"/foo", false},
		{"/id", true},
		{"/id@danvan_test_bot", true},
		{"/ID@Danvan_Test_Bot", true},
		{"/foo@danvan_test_bot", true},
	}
	for _, tt := range tests {
		h.apply(h.text(from, group, tt.text))
		rows := h.outbox()
		if got := len(rows) == 1; got != tt.wantReply {
			t.Errorf("%q in a group: replied %v, want %v (%d rows)", tt.text, got, tt.wantReply, len(rows))
		}
		if len(rows) == 1 && rows[0].ChatID != group.ID {
			t.Errorf("%q answered in chat %d, want the group", tt.text, rows[0].ChatID)
		}
	}
}

func TestAnonymousAdminIsNotAPerson(t *testing.T) {
	h := newHarness(t)
	anonymous := func(text string) Update {
		u := h.text(&User{ID: groupAnonymousBotID, FirstName: "Group", IsBot: true}, group, text)
		u.Message.SenderChat = &group
		return u
	}
	h.apply(anonymous("/ngonngu en"))
	if r := h.one(); r.ChatID != group.ID || !strings.Contains(r.Action.Text, "ẩn danh") {
		t.Errorf("anonymous /ngonngu: %+v, want a refusal in the group", r)
	}
	// /id still gives the group's id, which is what an admin needs, but
	// not GroupAnonymousBot's as if it were a person's.
	h.apply(anonymous("/id"))
	r := h.one()
	if !strings.Contains(r.Action.Text, "-100777") || strings.Contains(r.Action.Text, "1087968824") {
		t.Errorf("anonymous /id: %q, want the group id only", r.Action.Text)
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		if _, err := tx.User(groupAnonymousBotID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GroupAnonymousBot was registered as a person: %v", err)
		}
		return nil
	})
}

func TestCancelFromAnotherChat(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	languageKeyboard(t, h, from)
	h.apply(h.text(from, group, "/huy"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Đã hủy") {
		t.Errorf("/huy in a group for a private dialogue: %q, want it cancelled", r.Action.Text)
	}
}

func TestPrivateUnknownAndHints(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	h.apply(h.text(from, private(userID), "/khongco"))
	if r := h.one(); !strings.Contains(r.Action.Text, "/khongco") || !strings.Contains(r.Action.Text, "/trogiup") {
		t.Errorf("unknown command reply %q", r.Action.Text)
	}
	h.apply(h.text(from, private(userID), "chào bot"))
	if r := h.one(); !strings.Contains(r.Action.Text, "/trogiup") {
		t.Errorf("hint %q", r.Action.Text)
	}
	sticker := h.text(from, private(userID), "")
	sticker.Message.Kind = KindSticker
	h.apply(sticker)
	if r := h.one(); !strings.Contains(r.Action.Text, "loại tin nhắn") {
		t.Errorf("sticker hint %q", r.Action.Text)
	}
}

// languageKeyboard starts the language wizard and returns the callback
// data of the "English" button and the id of the keyboard's message.
func languageKeyboard(t *testing.T, h *harness, from *User) (en, vi string) {
	t.Helper()
	h.apply(h.text(from, private(from.ID), "/ngonngu"))
	r := h.one()
	if len(r.Action.Buttons) != 1 || len(r.Action.Buttons[0]) != 2 {
		t.Fatalf("keyboard %+v, want two buttons", r.Action.Buttons)
	}
	return r.Action.Buttons[0][1].Data, r.Action.Buttons[0][0].Data
}

func TestLanguageButtonsWorkOnce(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	en, vi := languageKeyboard(t, h, from)
	if len(en) > 64 {
		t.Fatalf("callback data %d bytes", len(en))
	}
	h.apply(h.press(from, private(userID), 9000, en))
	rows := h.outbox()
	if len(rows) != 2 || rows[0].Action.Kind != store.ActEditText || rows[1].Action.Kind != store.ActAnswer {
		t.Fatalf("first press: %+v, want an edit and an answer", rows)
	}
	if !strings.Contains(rows[0].Action.Text, "English") || rows[0].Action.MessageID != 9000 {
		t.Errorf("edit %+v", rows[0].Action)
	}
	// A second press on the same keyboard does nothing.
	h.apply(h.press(from, private(userID), 9000, vi))
	r := h.one()
	if r.Action.Kind != store.ActAnswer || r.Action.Text != "This was already handled." {
		t.Errorf("second press: %+v, want 'already handled' in the new language", r.Action)
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		u, _ := tx.User(userID)
		if u.Language != "en" {
			t.Errorf("language %q, want en", u.Language)
		}
		return nil
	})
}

func TestRefusedPressLeavesTheTokenForItsOwner(t *testing.T) {
	h := newHarness(t)
	owner := person(userID, "vi")
	en, _ := languageKeyboard(t, h, owner)
	// Someone else presses (in a shared view, or with forged data).
	h.apply(h.press(person(strangerID, "vi"), private(userID), 9000, en))
	if r := h.one(); r.Action.Kind != store.ActAnswer || !strings.Contains(r.Action.Text, "không có quyền") {
		t.Errorf("stranger's press: %+v, want a refusal", r.Action)
	}
	h.apply(h.press(owner, private(userID), 9000, en))
	if rows := h.outbox(); len(rows) != 2 || rows[0].Action.Kind != store.ActEditText {
		t.Errorf("owner's press after a refused one: %+v, want it to work", rows)
	}
}

func TestForgedCallbackDataChangesNothing(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	for _, data := range []string{"", "zzzzzzzzzzzz:en", "short:en", "no-separator"} {
		h.apply(h.press(from, private(userID), 1, data))
		if r := h.one(); r.Action.Kind != store.ActAnswer || !strings.Contains(r.Action.Text, "hết hạn") {
			t.Errorf("forged %q: %+v, want 'expired'", data, r.Action)
		}
	}
}

func TestCancelAbandonsTheWizard(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	en, _ := languageKeyboard(t, h, from)
	h.apply(h.text(from, private(userID), "/huy"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Đã hủy thao tác “Chọn ngôn ngữ”") {
		t.Errorf("cancel reply %q", r.Action.Text)
	}
	h.apply(h.press(from, private(userID), 9000, en))
	if r := h.one(); !strings.Contains(r.Action.Text, "hết hạn") {
		t.Errorf("press on an abandoned wizard: %q, want expired", r.Action.Text)
	}
	h.apply(h.text(from, private(userID), "/huy"))
	if r := h.one(); !strings.Contains(r.Action.Text, "không có thao tác") {
		t.Errorf("second cancel %q", r.Action.Text)
	}
}

func TestAnyCommandAbandonsTheWizard(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	en, _ := languageKeyboard(t, h, from)
	h.apply(h.text(from, private(userID), "/id"))
	h.outbox()
	h.apply(h.press(from, private(userID), 9000, en))
	if r := h.one(); !strings.Contains(r.Action.Text, "hết hạn") {
		t.Errorf("press after another command: %q, want expired", r.Action.Text)
	}
}

func TestWizardTakesTypedAnswers(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	languageKeyboard(t, h, from)
	h.apply(h.text(from, private(userID), "tiếng Pháp"))
	if r := h.one(); !strings.Contains(r.Action.Text, "bấm một nút") {
		t.Errorf("re-ask %q", r.Action.Text)
	}
	h.apply(h.text(from, private(userID), "EN"))
	if r := h.one(); r.Action.Text != "Replies are now in English." {
		t.Errorf("typed choice %q", r.Action.Text)
	}
}

func TestConversationTimesOut(t *testing.T) {
	h := newHarness(t)
	from := person(userID, "vi")
	en, _ := languageKeyboard(t, h, from)
	h.clock.Advance(29 * time.Minute)
	if err := h.bot.ExpireConversations(ctx); err != nil {
		t.Fatal(err)
	}
	if rows := h.outbox(); len(rows) != 0 {
		t.Fatalf("expired early: %+v", rows)
	}
	h.clock.Advance(time.Minute)
	if err := h.bot.ExpireConversations(ctx); err != nil {
		t.Fatal(err)
	}
	if r := h.one(); r.ChatID != userID || !strings.Contains(r.Action.Text, "30 phút") {
		t.Errorf("timeout notice %+v", r)
	}
	h.apply(h.press(from, private(userID), 9000, en))
	if r := h.one(); !strings.Contains(r.Action.Text, "hết hạn") {
		t.Errorf("press after timeout %q", r.Action.Text)
	}
	h.apply(h.text(from, private(userID), "en"))
	if r := h.one(); !strings.Contains(r.Action.Text, "/trogiup") {
		t.Errorf("text after timeout should get the hint, got %q", r.Action.Text)
	}
}

func TestStartPayloadGoesToHooks(t *testing.T) {
	h := newHarness(t)
	var got string
	h.bot.OnStart(func(c *Context, payload string) (bool, error) {
		got = payload
		return payload == "invite_ok", c.ReplyHTML("joined")
	})
	h.apply(h.text(person(userID, "vi"), private(userID), "/start invite_ok"))
	if r := h.one(); r.Action.Text != "joined" || got != "invite_ok" {
		t.Errorf("hook reply %q, payload %q", r.Action.Text, got)
	}
	h.apply(h.text(person(userID, "vi"), private(userID), "/start bad<payload>"))
	if r := h.one(); !strings.Contains(r.Action.Text, "không hợp lệ") {
		t.Errorf("bad payload %q", r.Action.Text)
	}
}

func TestMenuCommandNeedsItsTexts(t *testing.T) {
	h := newHarness(t)
	err := h.bot.HandleCommand(Command{Name: "khongcochu", Perm: Anyone, Menu: true, Handle: func(*Context) error { return nil }})
	if err == nil {
		t.Error("a menu command without a description was registered")
	}
}

func TestHelpFollowsAuthorization(t *testing.T) {
	h := newHarness(t)
	// Until the units issue brings admin commands, make /ngonngu one.
	h.bot.byName[cmdLanguage].Perm = Admin
	h.apply(h.text(person(userID, "vi"), private(userID), "/trogiup"))
	if r := h.one(); strings.Contains(r.Action.Text, "/ngonngu") {
		t.Errorf("help shows an admin command to a member: %q", r.Action.Text)
	}
	h.apply(h.text(person(adminID, "vi"), private(adminID), "/trogiup"))
	if r := h.one(); !strings.Contains(r.Action.Text, "/ngonngu") {
		t.Errorf("help hides an admin command from an admin: %q", r.Action.Text)
	}
	h.apply(h.text(person(userID, "vi"), private(userID), "/ngonngu"))
	if r := h.one(); !strings.Contains(r.Action.Text, "quản trị viên") {
		t.Errorf("refusal %q should say who may", r.Action.Text)
	}
}

func TestStoreErrorAppliesNothing(t *testing.T) {
	h := newHarness(t)
	h.store.Close()
	err := h.bot.Apply(ctx, []Update{h.text(person(userID, "vi"), private(userID), "/id")})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Apply on a closed store: %v, want an error", err)
	}
}

func TestPagedListTurnsInPlace(t *testing.T) {
	h := newHarness(t, func(b *Bot) error {
		if err := b.HandleList(List{Name: "communes", Perm: Person, Items: func(c *Context, arg string) (string, []string, error) {
			var items []string
			for i := range 400 {
				items = append(items, fmt.Sprintf("<b>Xã số %d</b> — %s, Mặt trận Tổ quốc và các đoàn thể", i, arg))
			}
			return "<b>Danh sách xã</b>", items, nil
		}}); err != nil {
			return err
		}
		return b.HandleCommand(Command{Name: "dsxa", Perm: Person, Handle: func(c *Context) error {
			return c.ReplyList("communes", c.Args)
		}})
	})
	from := person(userID, "vi")
	h.apply(h.text(from, private(userID), "/dsxa Tuyên Quang"))
	first := h.one()
	if n := messages.VisibleLength(first.Action.Text); n > messages.MaxText {
		t.Fatalf("first page is %d characters", n)
	}
	if !strings.Contains(first.Action.Text, "Trang 1/") || !strings.Contains(first.Action.Text, "Xã số 0</b> — Tuyên Quang") {
		t.Errorf("first page %q", first.Action.Text[:200])
	}
	if len(first.Action.Buttons) != 1 || len(first.Action.Buttons[0]) != 1 || first.Action.Buttons[0][0].Text != "▶" {
		t.Fatalf("first page keyboard %+v, want only ▶", first.Action.Buttons)
	}
	pages := 0
	fmt.Sscanf(first.Action.Text[strings.LastIndex(first.Action.Text, "Trang 1/")+len("Trang 1/"):], "%d", &pages)
	if pages < 3 {
		t.Fatalf("400 items on %d pages, want several", pages)
	}
	seen := strings.Count(first.Action.Text, "Xã số")
	data := first.Action.Buttons[0][0].Data
	for page := 2; page <= pages; page++ {
		h.apply(h.press(from, private(userID), 9000, data))
		rows := h.outbox()
		if len(rows) != 2 || rows[0].Action.Kind != store.ActEditText {
			t.Fatalf("page %d: %+v, want an edit and an answer", page, rows)
		}
		text := rows[0].Action.Text
		if n := messages.VisibleLength(text); n > messages.MaxText {
			t.Errorf("page %d is %d characters", page, n)
		}
		if !strings.Contains(text, fmt.Sprintf("Trang %d/%d", page, pages)) {
			t.Errorf("page %d footer missing", page)
		}
		seen += strings.Count(text, "Xã số")
		kb := rows[0].Action.Buttons
		if page < pages {
			data = kb[0][len(kb[0])-1].Data
		} else if len(kb[0]) != 1 || kb[0][0].Text != "◀" {
			t.Errorf("last page keyboard %+v, want only ◀", kb)
		}
	}
	if seen != 400 {
		t.Errorf("the pages show %d items, want 400", seen)
	}
	// The turned-away keyboard is used up.
	h.apply(h.press(from, private(userID), 9000, first.Action.Buttons[0][0].Data))
	if r := h.one(); r.Action.Kind != store.ActAnswer || !strings.Contains(r.Action.Text, "đã được xử lý") {
		t.Errorf("old keyboard: %+v", r.Action)
	}
}

func TestListWithoutPermissionIsRefusedAtRegistration(t *testing.T) {
	h := newHarness(t)
	if err := h.bot.HandleList(List{Name: "x", Items: func(*Context, string) (string, []string, error) { return "", nil, nil }}); err == nil {
		t.Error("a list without a permission was registered")
	}
}

func TestRefusedListPressLeavesTheToken(t *testing.T) {
	h := newHarness(t, func(b *Bot) error {
		if err := b.HandleList(List{Name: "secret", Perm: Admin, Items: func(c *Context, arg string) (string, []string, error) {
			items := make([]string, 300)
			for i := range items {
				items[i] = fmt.Sprintf("Mục số %d của danh sách dành cho quản trị viên", i)
			}
			return "Danh sách", items, nil
		}}); err != nil {
			return err
		}
		return b.HandleCommand(Command{Name: "bimat", Perm: Admin, Handle: func(c *Context) error { return c.ReplyList("secret", "") }})
	})
	admin := person(adminID, "vi")
	h.apply(h.text(admin, group, "/bimat"))
	next := h.one().Action.Buttons[0][0].Data
	// Anyone's press is refused first by the keyboard's owner check; make
	// the keyboard open to all to test the list's own permission.
	h.store.Update(ctx, func(tx *store.Tx) error {
		code, _, _ := strings.Cut(next, ":")
		tok, err := tx.Token(code)
		tok.UserID = 0
		tx.PutToken(tok)
		return err
	})
	h.apply(h.press(person(userID, "vi"), group, 9000, next))
	if r := h.one(); r.Action.Kind != store.ActAnswer || !strings.Contains(r.Action.Text, "không có quyền") {
		t.Errorf("member's press on an admin list: %+v, want a refusal", r.Action)
	}
	h.apply(h.press(admin, group, 9000, next))
	if rows := h.outbox(); len(rows) != 2 || rows[0].Action.Kind != store.ActEditText {
		t.Errorf("admin's press after a refused one: %+v, want the next page", rows)
	}
}

func TestFanOutReportNamesTheUnreachable(t *testing.T) {
	var f store.FanOut
	h := newHarness(t, func(b *Bot) error {
		b.store.OnFanOutDone(b.FanOutDone)
		return b.HandleCommand(Command{Name: "guithu", Perm: Admin, Handle: func(c *Context) error {
			var err error
			f, err = c.FanOut("test", "Họp", []int64{userID, strangerID, userID, group.ID}, store.Action{Kind: store.ActSend, Text: "Họp"}, time.Time{})
			return err
		}})
	})
	// The people are known to the bot; the stranger will have blocked it.
	h.apply(h.text(&User{ID: strangerID, FirstName: "Lò", LastName: "Văn Páo"}, private(strangerID), "/id"))
	h.apply(h.text(person(userID, "vi"), private(userID), "/id"))
	h.outbox()
	h.apply(h.text(person(adminID, "en"), private(adminID), "/guithu"))
	if f.Total != 3 {
		t.Fatalf("fan-out of %d, want 3 distinct chats", f.Total)
	}
	var rows []store.OutboxRow
	h.store.View(ctx, func(tx *store.Tx) error { rows, _ = tx.PendingOutbox(0, 100); return nil })
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	err := h.store.Update(ctx, func(tx *store.Tx) error {
		for _, r := range rows {
			if r.Priority != store.PriorityBulk {
				t.Errorf("fan-out row %d has priority %d, want bulk", r.ID, r.Priority)
			}
			if r.ChatID == strangerID {
				if _, err := tx.MarkUnreachable(strangerID, "Forbidden: bot was blocked by the user", h.clock.Now()); err != nil {
					return err
				}
				continue
			}
			if err := tx.AckOutbox(r, 1, h.clock.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := h.one()
	if r.ChatID != adminID || !strings.Contains(r.Action.Text, "Finished sending") ||
		!strings.Contains(r.Action.Text, "2 received") || !strings.Contains(r.Action.Text, "Lò Văn Páo") {
		t.Errorf("report %+v, want it in English to the admin, naming Lò Văn Páo", r)
	}
}

func TestMigrationServiceMessageMovesTheGroup(t *testing.T) {
	h := newHarness(t)
	old := Chat{ID: -555, Kind: store.ChatGroup, Title: "Chi đoàn thôn 2"}
	// A reply is waiting for the group when it becomes a supergroup.
	h.apply(h.text(person(userID, "vi"), old, "/id"))
	u := h.text(person(userID, "vi"), old, "")
	u.Message.Kind, u.Message.MigrateToChatID = KindService, -100555
	h.apply(u)
	h.store.View(ctx, func(tx *store.Tx) error {
		c, err := tx.Chat(-555)
		if err != nil || c.MigratedTo != -100555 {
			t.Errorf("old group %+v, %v; want it pointing to the supergroup", c, err)
		}
		rows, _ := tx.PendingOutbox(0, 10)
		if len(rows) != 1 || rows[0].ChatID != -100555 {
			t.Errorf("pending rows %+v, want the reply moved to the supergroup", rows)
		}
		return nil
	})
	// The same news from the supergroup's side changes nothing more.
	v := h.text(person(userID, "vi"), Chat{ID: -100555, Kind: store.ChatSupergroup, Title: "Chi đoàn thôn 2"}, "")
	v.Message.Kind, v.Message.MigrateFromChatID = KindService, -555
	h.apply(v)
	if rows := h.outbox(); len(rows) != 1 || rows[0].ChatID != -100555 {
		t.Errorf("after both service messages: %+v, want one row for the supergroup", rows)
	}
}
