package bot

import (
	"strconv"
	"strings"
	"testing"

	"danvan/store"
)

// A several-line announcement whose unit is asked for afterwards keeps all
// its lines: the command waiting for the unit holds them intact.
func TestMultiLineAnnouncementThroughTheUnitQuestion(t *testing.T) {
	h := newHarness(t)
	buildAudience(t, h)
	head := person(headU, "vi")
	text := "Kính mời dự họp giao ban\nLúc 8 giờ, thứ Hai\nTại hội trường UBND xã"
	h.apply(h.text(head, private(headU), "/thongbao | "+text))
	if q := h.one(); !strings.Contains(q.Action.Text, "Vui lòng nhập tên hoặc mã đơn vị") {
		t.Fatalf("reply %q, want the question which unit", q.Action.Text)
	}
	h.apply(h.text(head, private(headU), "02494-MTTQ"))
	q := h.one()
	if len(q.Action.Buttons) != 1 || !strings.Contains(q.Action.Text, "Lúc 8 giờ, thứ Hai") {
		t.Fatalf("reply %q, want the confirmation quoting every line", q.Action.Text)
	}
	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
	copies, _ := fanOutRows(h.simPending())
	if len(copies) == 0 {
		t.Fatal("nothing sent")
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		act, err := tx.RowAction(copies[0])
		if err != nil || !strings.HasSuffix(act.Text, text) {
			t.Errorf("copy %q, %v; want it to end with the three lines", act.Text, err)
		}
		return nil
	})
}

// The same through the buttons offered for an ambiguous name, and a
// dialogue or keyboard opened before the data was JSON still works.
func TestPendingCommandData(t *testing.T) {
	for _, tt := range []struct{ data, command, rest, carry string }{
		{then("thongbao", "| a\nb", `{"kind":"send"}`), "thongbao", "| a\nb", `{"kind":"send"}`},
		{then("suadonvi", ""), "suadonvi", "", ""},
		{"thongbao\n| một dòng\n{\"kind\":\"photo\"}", "thongbao", "| một dòng", `{"kind":"photo"}`},
		{"xoadonvi\n", "xoadonvi", "", ""},
	} {
		p := parseThen(tt.data)
		if p.Command != tt.command || p.Rest != tt.rest || p.Carry != tt.carry {
			t.Errorf("parseThen(%q) = %+v, want %q %q %q", tt.data, p, tt.command, tt.rest, tt.carry)
		}
	}
}

// /huy withdraws a confirmation waiting for its person: a Xác nhận pressed
// afterwards does nothing.
func TestCancelWithdrawsAConfirmation(t *testing.T) {
	h := newHarness(t)
	buildAudience(t, h)
	head := person(headU, "vi")
	h.apply(h.text(head, private(headU), "/thongbao 02494-MTTQ | Họp giao ban"))
	q := h.one()
	h.apply(h.text(head, private(headU), "/huy"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Đã hủy") || !strings.Contains(r.Action.Text, "Chờ xác nhận") {
		t.Errorf("/huy: %q, want the confirmation cancelled", r.Action.Text)
	}
	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
	rows := h.outbox()
	if copies, _ := fanOutRows(rows); len(copies) != 0 {
		t.Errorf("Xác nhận after /huy sent %d copies", len(copies))
	}
	if len(rows) != 1 || rows[0].Action.Kind != store.ActAnswer {
		t.Errorf("Xác nhận after /huy: %+v, want only an answer to the press", rows)
	}
	// With nothing open, /huy says so.
	h.apply(h.text(head, private(headU), "/huy"))
	if r := h.one(); !strings.Contains(r.Action.Text, "không có thao tác nào") {
		t.Errorf("second /huy: %q, want nothing to cancel", r.Action.Text)
	}
}

// A confirmation lasts as long as a dialogue would wait, not a week.
func TestConfirmationExpiresWithTheConversationTimeout(t *testing.T) {
	h := newHarness(t)
	buildAudience(t, h)
	head := person(headU, "vi")
	h.apply(h.text(head, private(headU), "/thongbao 02494-MTTQ | Họp giao ban"))
	q := h.one()
	h.clock.Advance(h.bot.convTTL + 1)
	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
	rows := h.outbox()
	if copies, _ := fanOutRows(rows); len(copies) != 0 {
		t.Errorf("a confirmation pressed after the timeout sent %d copies", len(copies))
	}
}

// The command as the caption of a photo sends the photo.
func TestAnnouncementAsAPhotoCaption(t *testing.T) {
	h := newHarness(t)
	buildAudience(t, h)
	head := person(headU, "vi")
	u := h.text(head, private(headU), "/thongbao 02494-MTTQ | Ảnh hội nghị")
	u.Message.Kind, u.Message.FileID = KindPhoto, "AgACAgIAAxkBAAIBQ3"
	h.apply(u)
	q := h.one()
	if !strings.Contains(q.Action.Text, "Kèm theo ảnh.") {
		t.Errorf("confirmation %q, want it to say the photo goes along", q.Action.Text)
	}
	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
	copies, _ := fanOutRows(h.simPending())
	if len(copies) == 0 {
		t.Fatal("nothing sent")
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		act, err := tx.RowAction(copies[0])
		if err != nil || act.Kind != store.ActPhoto || act.FileID != "AgACAgIAAxkBAAIBQ3" || !strings.Contains(act.Text, "Ảnh hội nghị") {
			t.Errorf("copy %+v, %v; want the photo with its caption", act, err)
		}
		return nil
	})
}

// A dialogue step that fails ends the dialogue with the apology: the next
// message is not fed to the same failing step again.
func TestFailedDialogueStepEndsTheDialogue(t *testing.T) {
	h := newHarness(t, func(b *Bot) error {
		if err := b.HandleWizard(Wizard{Name: "boomwiz", Perm: Person, OnText: func(c *Context, _ *store.Conversation) error {
			panic("step bug")
		}}); err != nil {
			return err
		}
		return b.HandleCommand(Command{Name: "boomstart", Perm: Person, Handle: func(c *Context) error {
			if _, err := c.StartConversation("boomwiz", "step", nil); err != nil {
				return err
			}
			return c.ReplyHTML("Nhập gì đó:")
		}})
	})
	p := person(userID, "vi")
	h.apply(h.text(p, private(userID), "/boomstart"))
	h.one()
	h.apply(h.text(p, private(userID), "một"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Xin lỗi") {
		t.Fatalf("failed step: %q, want the apology", r.Action.Text)
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		if conv, err := tx.Conversation(userID); err == nil {
			t.Errorf("the dialogue goes on after its step failed: %+v", conv)
		}
		return nil
	})
	h.apply(h.text(p, private(userID), "hai"))
	if r := h.one(); strings.Contains(r.Action.Text, "Xin lỗi") {
		t.Errorf("the next message failed again: %q", r.Action.Text)
	}
}

// A roster page turned after the person lost access is answered as an
// expired button, not with an apology.
func TestRosterPageAfterLeaving(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	err := h.store.Update(ctx, func(tx *store.Tx) error {
		for i := range 150 {
			id := int64(50000 + i)
			if err := tx.PutUser(store.User{ID: id, FirstName: "tg", FullName: "Nguyễn Văn Thành viên số " + strconv.Itoa(i)}); err != nil {
				return err
			}
			if err := tx.AddMember(tr.unit.ID, id, store.RoleMember, h.clock.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	member := person(memberU, "vi")
	h.apply(h.text(member, private(memberU), "/thanhvien "+tr.unit.Code))
	page := h.one()
	if len(page.Action.Buttons) != 1 {
		t.Fatalf("roster %q without page buttons", page.Action.Text)
	}
	// Still a member elsewhere, so the button's own permission passes.
	h.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.AddMember(tr.sibling.ID, memberU, store.RoleMember, h.clock.Now()); err != nil {
			return err
		}
		_, err := tx.RemoveMember(tr.unit.ID, memberU)
		return err
	})
	h.apply(h.press(member, private(memberU), 9000, page.Action.Buttons[0][0].Data))
	r := h.one()
	if r.Action.Kind != store.ActAnswer || strings.Contains(r.Action.Text, "Xin lỗi") {
		t.Errorf("page turn after leaving: %+v, want the press answered as expired", r.Action)
	}
	if !strings.Contains(r.Action.Text, "hết hạn") {
		t.Errorf("page turn after leaving: %q, want “hết hạn”", r.Action.Text)
	}
}

// Added to a channel, the bot posts nothing there: no one can link a
// channel, and its readers would see the hint.
func TestAddedToAChannelSaysNothing(t *testing.T) {
	h := newHarness(t)
	channel := Chat{ID: -1009990001, Kind: store.ChatChannel, Title: "Bản tin Dân vận"}
	h.apply(h.simMemberChange(channel, person(adminID, "vi"), "left", "administrator"))
	if rows := h.outbox(); len(rows) != 0 {
		t.Errorf("the bot wrote to the channel: %+v", rows)
	}
	group := Chat{ID: -1009990002, Kind: store.ChatSupergroup, Title: "Chi hội"}
	h.apply(h.simMemberChange(group, person(adminID, "vi"), "left", "member"))
	if rows := h.outbox(); len(rows) != 1 {
		t.Errorf("added to a group: %d messages, want the greeting", len(rows))
	}
}

func TestCodeWordOfAVillage(t *testing.T) {
	for name, want := range map[string]string{
		"Thôn Đồng Mới": "THONDONGMOI", "Tổ dân phố số 12 Phường Minh Xuân": "TODANPHOSO12", "Bản Nà Hang": "BANNAHANG", "—": "THON",
	} {
		got := codeWord(name)
		if got != want || !unitCode.MatchString("02494-"+got+"-PHUNU-99") {
			t.Errorf("codeWord(%q) = %q, want %q in a valid code", name, got, want)
		}
	}
}

// A failed command does not end a dialogue it was not a step of.
func TestFailedCommandLeavesTheDialogue(t *testing.T) {
	h := newHarness(t, func(b *Bot) error {
		if err := b.HandleWizard(Wizard{Name: "askwiz", Perm: Person, OnText: func(c *Context, _ *store.Conversation) error {
			return c.ReplyHTML("đã nhận")
		}}); err != nil {
			return err
		}
		if err := b.HandleCommand(Command{Name: "askstart", Perm: Person, Handle: func(c *Context) error {
			if _, err := c.StartConversation("askwiz", "step", nil); err != nil {
				return err
			}
			return c.ReplyHTML("Nhập gì đó:")
		}}); err != nil {
			return err
		}
		return b.HandleCommand(Command{Name: "boomcmd", Perm: Anyone, Handle: func(c *Context) error { panic("command bug") }})
	})
	p := person(userID, "vi")
	h.apply(h.text(p, private(userID), "/askstart"))
	h.one()
	h.apply(h.text(p, private(userID), "/boomcmd"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Xin lỗi") {
		t.Fatalf("failed command: %q, want the apology", r.Action.Text)
	}
	h.apply(h.text(p, private(userID), "một"))
	if r := h.one(); r.Action.Text != "đã nhận" {
		t.Errorf("the dialogue after a failed command: %q, want it still going", r.Action.Text)
	}
}

// A unit's name that is too long is refused saying why, then asked again.
func TestTooLongUnitNameSaysWhy(t *testing.T) {
	h := newHarness(t)
	buildTree(t, h)
	admin := person(adminID, "vi")
	h.apply(h.text(admin, private(adminID), "/themdonvi"))
	h.one()
	h.apply(h.text(admin, private(adminID), strings.Repeat("Hội ", 40)))
	rows := h.outbox()
	if len(rows) != 2 || !strings.Contains(rows[0].Action.Text, "Tên đơn vị cần từ 2 đến 120 ký tự; anh/chị đã nhập 159 ký tự. Vui lòng viết gọn lại.") {
		t.Errorf("replies %+v, want why, then the question again", rows)
	}
}

// An invite's unknown role word is said to be the problem, not the unit.
func TestInviteWithAnUnknownRole(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	head := person(headU, "vi")
	h.apply(h.text(head, private(headU), "/moi "+tr.unit.Code+" giamdoc"))
	r := h.one()
	if !strings.Contains(r.Action.Text, "“giamdoc” cũng không phải vai trò") || !strings.Contains(r.Action.Text, "/moi "+tr.unit.Code+" thanhvien") {
		t.Errorf("reply %q, want the role word named and an example", r.Action.Text)
	}
}

// Help in a group leaves out the commands that work only in a private
// chat; in private it lists them.
func TestHelpInAGroupOmitsPrivateCommands(t *testing.T) {
	h := newHarness(t)
	admin := person(adminID, "vi")
	h.apply(h.text(admin, group, "/trogiup"))
	if r := h.one(); strings.Contains(r.Action.Text, "/themdonvi") || strings.Contains(r.Action.Text, "/xoadulieu") || !strings.Contains(r.Action.Text, "/thongbao") {
		t.Errorf("group help %q, want no private-only command, the others listed", r.Action.Text)
	}
	h.apply(h.text(admin, private(adminID), "/trogiup"))
	if r := h.one(); !strings.Contains(r.Action.Text, "/themdonvi") {
		t.Errorf("private help %q, want /themdonvi", r.Action.Text)
	}
}

// A command corrected by editing is not run; in private the person is
// told to send it again, in a group nothing is said.
func TestEditedCommand(t *testing.T) {
	h := newHarness(t)
	p := person(userID, "vi")
	u := h.text(p, private(userID), "/id")
	u.Edited, u.Message = u.Message, nil
	h.apply(u)
	if r := h.one(); !strings.Contains(r.Action.Text, "gửi lại lệnh thành một tin nhắn mới") {
		t.Errorf("edited command: %q, want the hint", r.Action.Text)
	}
	g := h.text(p, group, "/id")
	g.Edited, g.Message = g.Message, nil
	h.apply(g)
	if rows := h.outbox(); len(rows) != 0 {
		t.Errorf("edited command in a group: %+v, want silence", rows)
	}
	plain := h.text(p, private(userID), "xin chào")
	plain.Edited, plain.Message = plain.Message, nil
	h.apply(plain)
	if rows := h.outbox(); len(rows) != 0 {
		t.Errorf("edited text: %+v, want silence", rows)
	}
}

// An organization created under no Ủy ban MTTQ gets a note; under one, or
// a unit of another kind, none.
func TestOrganizationOutsideTheFrontIsNoted(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	admin := person(adminID, "vi")
	h.apply(h.text(admin, private(adminID), "/themdonvi Hội LHPN tỉnh Tuyên Quang | phunu | - | 08"))
	if r := lastSent(t, h.outbox()); !strings.Contains(r.Action.Text, "Đã tạo đơn vị") || !strings.Contains(r.Action.Text, "không nằm dưới Ủy ban MTTQ nào") {
		t.Errorf("top-level Hội LHPN: %q, want the note", r.Action.Text)
	}
	h.apply(h.text(admin, private(adminID), "/themdonvi Hội Nông dân xã Thái Bình | nongdan | "+tr.unit.Code))
	if r := lastSent(t, h.outbox()); !strings.Contains(r.Action.Text, "Đã tạo đơn vị") || strings.Contains(r.Action.Text, "Lưu ý") {
		t.Errorf("under the MTTQ: %q, want no note", r.Action.Text)
	}
	h.apply(h.text(admin, private(adminID), "/themdonvi Ban Dân vận Tỉnh ủy | bandanvan | - | 08"))
	if r := lastSent(t, h.outbox()); !strings.Contains(r.Action.Text, "Đã tạo đơn vị") || strings.Contains(r.Action.Text, "Lưu ý") {
		t.Errorf("a Ban Dân vận: %q, want no note", r.Action.Text)
	}
}
