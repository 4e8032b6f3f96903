package bot

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"danvan/messages"
	"danvan/store"
)

// audienceTree adds to the tree a subtree under unit U whose people
// overlap, and groups linked in several ways:
//
//	02494-MTTQ  U: headU (the sender), memberU, paoID
//	├── 02494-PHUNU: headU, paoID, hoaID; group g1 (also linked to U), g3 (broken)
//	└── 02494-NONGDAN: paoID (head), lanID; group g2
//	02545-MTTQ  S (sibling, outside): headS, outsiderID; group gS
//
// Lò Văn Páo is in three units of the subtree and gets one copy; g1 is
// linked twice and counts once.
type audienceTree struct {
	tree
	nongdan store.Unit
	// people and groups are who the announcement for U must reach.
	people, groups []int64
}

const (
	paoID      = 4101
	hoaID      = 4102
	lanID      = 4103
	outsiderID = 4104

	g1 = -100901
	g2 = -100902
	g3 = -100903
	gS = -100904
)

func buildAudience(t *testing.T, h *harness) audienceTree {
	t.Helper()
	a := audienceTree{tree: buildTree(t, h)}
	err := h.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		a.nongdan, err = tx.AddUnit(store.Unit{Code: "02494-NONGDAN", Name: "Hội Nông dân xã Thái Bình", Kind: store.KindNongDan, Parent: a.unit.ID, Place: "02494"})
		if err != nil {
			return err
		}
		for _, p := range []struct {
			id   int64
			name string
		}{{paoID, "Lò Văn Páo"}, {hoaID, "Nguyễn Thị Hoa"}, {lanID, "Hoàng Thị Lan"}, {outsiderID, "Ma Văn Khánh"}} {
			if err := tx.PutUser(store.User{ID: p.id, FirstName: "tg", FullName: p.name}); err != nil {
				return err
			}
		}
		for _, m := range []struct {
			unit uint64
			user int64
			role string
		}{
			{a.unit.ID, paoID, store.RoleMember}, {a.child.ID, paoID, store.RoleMember}, {a.nongdan.ID, paoID, store.RoleHead},
			{a.child.ID, headU, store.RoleMember}, {a.child.ID, hoaID, store.RoleMember}, {a.nongdan.ID, lanID, store.RoleMember},
			{a.sibling.ID, outsiderID, store.RoleMember},
		} {
			if err := tx.AddMember(m.unit, m.user, m.role, h.clock.Now()); err != nil {
				return err
			}
		}
		for _, l := range []struct {
			unit uint64
			chat int64
		}{{a.unit.ID, g1}, {a.child.ID, g1}, {a.nongdan.ID, g2}, {a.child.ID, g3}, {a.sibling.ID, gS}} {
			if _, err := tx.SeeChat(store.Chat{ID: l.chat, Kind: store.ChatSupergroup, Title: fmt.Sprintf("Nhóm %d", -l.chat)}, h.clock.Now()); err != nil {
				return err
			}
			if err := tx.LinkGroup(store.Link{UnitID: l.unit, ChatID: l.chat, LinkedBy: adminID, Linked: h.clock.Now()}); err != nil {
				return err
			}
		}
		_, err = tx.SetLinksBroken(g3, true, h.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a.people = []int64{memberU, paoID, hoaID, lanID}
	a.groups = []int64{g2, g1}
	return a
}

// perMinute estimates a minute per message, so the figure shows.
func perMinute(o *Options) {
	o.Estimate = func(n int) time.Duration { return time.Duration(n) * time.Minute }
}

// fanOutRows returns the pending copies of fan-outs, and their chats sorted.
func fanOutRows(rows []store.OutboxRow) ([]store.OutboxRow, []int64) {
	var copies []store.OutboxRow
	var chats []int64
	for _, r := range rows {
		if r.FanOut != 0 {
			copies = append(copies, r)
			chats = append(chats, r.ChatID)
		}
	}
	slices.Sort(chats)
	return copies, chats
}

func sortedIDs(ids ...[]int64) []int64 {
	var out []int64
	for _, s := range ids {
		out = append(out, s...)
	}
	slices.Sort(out)
	return out
}

// announceAndConfirm sends "/thongbao" as the head of U and presses
// Xác nhận; it returns the confirmation row and the rows of the press,
// left pending.
func announceAndConfirm(t *testing.T, h *harness, text string) (confirm store.OutboxRow, press []store.OutboxRow) {
	t.Helper()
	head := person(headU, "vi")
	h.apply(h.text(head, private(headU), "/thongbao 02494-MTTQ | "+text))
	confirm = h.one()
	if len(confirm.Action.Buttons) != 1 || len(confirm.Action.Buttons[0]) != 2 {
		t.Fatalf("confirmation %+v, want Xác nhận / Hủy", confirm.Action)
	}
	h.apply(h.press(head, private(headU), 9000, confirm.Action.Buttons[0][0].Data))
	return confirm, h.simPending()
}

func TestAnnouncementConfirmationCountsEachOnce(t *testing.T) {
	h := newHarnessWith(t, perMinute)
	a := buildAudience(t, h)
	head := person(headU, "vi")
	h.apply(h.text(head, private(headU), "/thongbao 02494-MTTQ | Họp giao ban"))
	q := h.one()
	want := "Gửi thông báo của <b>Ủy ban MTTQ xã Thái Bình</b> tới <b>4</b> người và <b>2</b> nhóm? Thời gian gửi ước tính: 6 phút."
	if !strings.Contains(q.Action.Text, want) || !strings.Contains(q.Action.Text, "<blockquote>Họp giao ban</blockquote>") {
		t.Errorf("confirmation %q, want %q with the preview", q.Action.Text, want)
	}
	if b := q.Action.Buttons; len(b) != 1 || len(b[0]) != 2 || b[0][0].Text != "Xác nhận" || b[0][1].Text != "Hủy" {
		t.Errorf("buttons %+v, want Xác nhận / Hủy", b)
	}
	if rows := h.simPending(); len(rows) != 0 {
		t.Errorf("rows before Xác nhận: %+v", rows)
	}

	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
	rows := h.simPending()
	copies, chats := fanOutRows(rows)
	if want := sortedIDs(a.people, a.groups); !slices.Equal(chats, want) {
		t.Errorf("copies went to %v, want %v", chats, want)
	}
	edit, ok := rowTo(rows, headU, "Đang gửi thông báo của <b>Ủy ban MTTQ xã Thái Bình</b> tới 4 người và 2 nhóm (ước tính 6 phút)")
	if !ok || edit.Action.Kind != store.ActEditText || edit.Action.MessageID != 9000 {
		t.Fatalf("after Xác nhận: %+v, want the confirmation edited to “Đang gửi”", rows)
	}
	if b := edit.Action.Buttons; len(b) != 1 || len(b[0]) != 1 || b[0][0].Text != "Thu hồi" {
		t.Errorf("keyboard %+v, want a Thu hồi button", b)
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		act, err := tx.RowAction(copies[0])
		if err != nil || act.Kind != store.ActSend || act.Text != "📢 <b>Ủy ban MTTQ xã Thái Bình</b>\nHọp giao ban" {
			t.Errorf("copy action %+v, %v; want the announcement under the unit's name", act, err)
		}
		f, err := tx.FanOut(copies[0].FanOut)
		if err != nil || f.Total != 6 || f.ReportTo != headU {
			t.Errorf("fan-out %+v, %v; want 6 copies reported to the head", f, err)
		}
		return nil
	})
	h.outbox()
	h.outbox() // the delivery report

	// The button works once.
	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
	r := h.one()
	if r.Action.Kind != store.ActAnswer || !strings.Contains(r.Action.Text, "đã được xử lý") {
		t.Errorf("second press: %+v, want “đã được xử lý”", r.Action)
	}
	var fanOuts int
	h.store.View(ctx, func(tx *store.Tx) error {
		for id := uint64(1); id < 10; id++ {
			if _, err := tx.FanOut(id); err == nil {
				fanOuts++
			}
		}
		return nil
	})
	if fanOuts != 1 {
		t.Errorf("%d fan-outs, want 1", fanOuts)
	}
}

func TestAnnouncementCancelled(t *testing.T) {
	h := newHarness(t)
	buildAudience(t, h)
	head := person(headU, "vi")
	h.apply(h.text(head, private(headU), "/thongbao 02494-MTTQ | Họp giao ban"))
	q := h.one()
	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][1].Data))
	rows := h.outbox()
	if r, ok := rowTo(rows, headU, "Đã hủy"); !ok || r.Action.Kind != store.ActEditText {
		t.Errorf("Hủy: %+v, want the question edited to “Đã hủy”", rows)
	}
	if copies, _ := fanOutRows(rows); len(copies) != 0 {
		t.Errorf("Hủy sent %d copies", len(copies))
	}
	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
	if rows := h.outbox(); len(rows) != 1 || !strings.Contains(rows[0].Action.Text, "đã được xử lý") {
		t.Errorf("Xác nhận after Hủy: %+v, want “đã được xử lý” and nothing sent", rows)
	}
	for _, e := range h.simAudit() {
		if e.Action == store.AuditAnnounceSend {
			t.Errorf("a cancelled announcement was audited: %+v", e)
		}
	}
}

func TestAnnouncementReportNamesTheUnreachable(t *testing.T) {
	h := newHarness(t)
	a := buildAudience(t, h)
	_, rows := announceAndConfirm(t, h, "Họp giao ban")
	copies, _ := fanOutRows(rows)
	for _, r := range rows {
		if r.FanOut == 0 {
			h.simAck(r, 1)
		}
	}
	for i, r := range copies {
		switch r.ChatID {
		case paoID, lanID:
			h.simBlocked(r.ChatID)
		default:
			h.simAck(r, 7000+i)
		}
		if i < len(copies)-1 {
			if got := h.simPending(); len(got) != len(copies)-i-1 {
				t.Fatalf("report before the last copy was settled: %+v", got)
			}
		}
	}
	report := h.one()
	if report.ChatID != headU {
		t.Fatalf("report went to %d, want the sender %d", report.ChatID, headU)
	}
	for _, want := range []string{
		"tới " + fmt.Sprint(len(a.people)+len(a.groups)) + " người nhận", "✅ 4 đã nhận", "📵 2 không liên lạc được",
		"vui lòng liên hệ trực tiếp: Lò Văn Páo, Hoàng Thị Lan.",
	} {
		if !strings.Contains(report.Action.Text, want) {
			t.Errorf("report %q, want %q", report.Action.Text, want)
		}
	}
	if strings.Contains(report.Action.Text, "gửi lỗi") {
		t.Errorf("report %q counts failures that did not happen", report.Action.Text)
	}
}

func TestAnnouncementOfAPhoto(t *testing.T) {
	tests := []struct {
		name     string
		kind     string
		caption  int // characters typed after "|"
		wantKind string
		refused  bool
	}{
		{"photo with a short caption", KindPhoto, 40, store.ActPhoto, false},
		{"photo with a caption just fitting", KindPhoto, 980, store.ActPhoto, false},
		{"photo with a caption too long", KindPhoto, 1100, "", true},
		{"document", KindDocument, 40, store.ActDocument, false},
		{"text of the same length as the long caption", KindText, 1100, store.ActSend, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			buildAudience(t, h)
			head := person(headU, "vi")
			caption := strings.Repeat("ả", tt.caption)
			u := h.text(head, private(headU), "/thongbao 02494-MTTQ | "+caption)
			if tt.kind != KindText {
				u.Message.ReplyTo = &Message{ID: 77, Chat: private(headU), From: head, Kind: tt.kind, FileID: "AgACAgIAAxkBAAIBQ2", FileName: "ke-hoach.pdf"}
			}
			h.apply(u)
			q := h.one()
			body := h.bot.msgs.For(messages.Vi).HTML(messages.Announcement{Unit: "Ủy ban MTTQ xã Thái Bình", Text: caption})
			if tt.refused {
				want := fmt.Sprintf("Nội dung dài %s ký tự, vượt giới hạn 1.024 ký tự", thousands(messages.VisibleLength(body)))
				if !strings.Contains(q.Action.Text, want) || len(q.Action.Buttons) != 0 {
					t.Errorf("reply %q, want %q and no buttons", q.Action.Text, want)
				}
				return
			}
			h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
			copies, _ := fanOutRows(h.simPending())
			if len(copies) != 6 {
				t.Fatalf("%d copies, want 6", len(copies))
			}
			h.store.View(ctx, func(tx *store.Tx) error {
				act, err := tx.RowAction(copies[0])
				if err != nil || act.Kind != tt.wantKind || act.Text != body {
					t.Errorf("action %+v, %v; want %s with the text", act, err, tt.wantKind)
				}
				if tt.kind != KindText && act.FileID != "AgACAgIAAxkBAAIBQ2" {
					t.Errorf("file id %q, want the replied-to file's", act.FileID)
				}
				return nil
			})
		})
	}
}

// thousands writes n the Vietnamese way: 1.100.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if len(s) > 3 {
		return s[:len(s)-3] + "." + s[len(s)-3:]
	}
	return s
}

func TestAnnouncementRecall(t *testing.T) {
	h := newHarness(t)
	buildAudience(t, h)
	head := person(headU, "vi")
	_, rows := announceAndConfirm(t, h, "Họp giao ban")
	var recall string
	for _, r := range rows {
		if r.Action.Kind == store.ActEditText {
			recall = r.Action.Buttons[0][0].Data
		}
		if r.FanOut == 0 {
			h.simAck(r, 1)
		}
	}
	copies, _ := fanOutRows(rows)
	// Four copies are sent (one of them twice, after an unconfirmed
	// attempt), two still wait.
	type sent struct {
		chat int64
		msg  int
	}
	var want []sent
	for i, r := range copies[:4] {
		h.simAck(r, 7000+i)
		want = append(want, sent{r.ChatID, 7000 + i})
	}
	h.simAck(copies[0], 7100)
	want = append(want, sent{copies[0].ChatID, 7100})
	waiting := copies[4:]

	// Someone else pressing Thu hồi — even a head above — is refused.
	for _, other := range []int64{headP, adminID, memberU} {
		h.apply(h.press(person(other, "vi"), private(headU), 9001, recall))
		if r := h.simReplies(); len(r) != 1 {
			t.Errorf("recall pressed by %d: %+v, want one answer", other, r)
		} else if r := r[0]; r.Action.Kind != store.ActAnswer || !strings.Contains(r.Action.Text, "không có quyền") {
			t.Errorf("recall pressed by %d: %+v, want a refusal", other, r.Action)
		}
	}
	if got := len(h.simPending()); got != len(waiting) {
		t.Fatalf("after refused recalls %d rows pending, want the %d copies", got, len(waiting))
	}

	h.apply(h.press(head, private(headU), 9001, recall))
	rows = h.simPending()
	edit, ok := rowTo(rows, headU, "Đang thu hồi thông báo: xóa 5 tin đã gửi, hủy 2 tin chưa gửi.")
	if !ok || edit.Action.Kind != store.ActEditText || edit.Action.MessageID != 9001 {
		t.Errorf("after Thu hồi: %+v, want the message edited to say what is recalled", rows)
	}
	var got []sent
	var deletions []store.OutboxRow
	for _, r := range rows {
		for _, w := range waiting {
			if r.ID == w.ID {
				t.Errorf("copy %d for %d was not cancelled", r.ID, r.ChatID)
			}
		}
		if r.FanOut == 0 {
			continue
		}
		act := r.Action
		if act.Kind != store.ActDelete {
			t.Errorf("recall row %+v, want a deletion", r)
			continue
		}
		got = append(got, sent{r.ChatID, act.MessageID})
		deletions = append(deletions, r)
	}
	order := func(a, b sent) int { return a.msg - b.msg }
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Errorf("deletions %v, want %v", got, want)
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		for _, w := range waiting {
			if d, err := tx.Delivery(w.ID); err != nil || d.Status != store.DeliveryRecalled {
				t.Errorf("cancelled copy %d: %+v, %v; want recorded as recalled", w.ID, d, err)
			}
		}
		return nil
	})
	var recalls []store.AuditEntry
	for _, e := range h.simAudit() {
		if e.Action == store.AuditAnnounceRecall {
			recalls = append(recalls, e)
		}
	}
	if len(recalls) != 1 || recalls[0].ActorID != headU || !strings.Contains(recalls[0].Target, "02494-MTTQ") {
		t.Errorf("audit %+v, want one announce.recall by the head", recalls)
	}
	for _, r := range rows {
		if r.FanOut == 0 {
			h.simAck(r, 0)
		}
	}

	// The deletions done, the head is told how many went.
	for i, r := range deletions {
		if i == 1 {
			// One copy was deleted by its reader already.
			h.store.Update(ctx, func(tx *store.Tx) error {
				return tx.FailOutbox(r, store.DeliveryFailed, "Bad Request: message to delete not found", h.clock.Now(), true)
			})
			continue
		}
		h.simAck(r, 0)
	}
	var report store.OutboxRow
	for _, r := range h.outbox() {
		if strings.Contains(r.Action.Text, "Đã thu hồi") {
			report = r
		}
	}
	if report.ChatID != headU || !strings.Contains(report.Action.Text, "Đã thu hồi thông báo: xóa 4 tin, 1 tin không xóa được") {
		t.Errorf("recall report %+v, want “xóa 4 tin, 1 tin không xóa được” to the head", report)
	}

	// The recall button works once.
	h.apply(h.press(head, private(headU), 9001, recall))
	if r := h.one(); !strings.Contains(r.Action.Text, "đã được xử lý") {
		t.Errorf("second recall: %+v", r.Action)
	}
}

func TestAnnouncementRecallAfterAllSent(t *testing.T) {
	h := newHarness(t)
	buildAudience(t, h)
	_, rows := announceAndConfirm(t, h, "Họp giao ban")
	var recall string
	for i, r := range rows {
		if r.Action.Kind == store.ActEditText {
			recall = r.Action.Buttons[0][0].Data
		}
		h.simAck(r, 7000+i)
	}
	h.outbox() // the delivery report
	h.apply(h.press(person(headU, "vi"), private(headU), 9001, recall))
	rows = h.simPending()
	if _, ok := rowTo(rows, headU, "xóa 6 tin đã gửi."); !ok {
		t.Errorf("after Thu hồi: %+v, want 6 deletions and nothing cancelled", rows)
	}
	for _, r := range rows {
		h.simAck(r, 0)
	}
	if r := h.one(); r.ChatID != headU || !strings.Contains(r.Action.Text, "Đã thu hồi thông báo: xóa 6 tin.") {
		t.Errorf("report %+v", r)
	}
}

func TestAnnouncementRefused(t *testing.T) {
	tests := []struct {
		name string
		by   int64
		want string
	}{
		{"head of a sibling", headS, "Chỉ trưởng đơn vị"},
		{"member of the unit", memberU, "Chỉ trưởng đơn vị"},
		{"head of a unit below", paoID, "Chỉ trưởng đơn vị"},
		{"stranger", strangerID, "Chỉ trưởng đơn vị"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			buildAudience(t, h)
			u := h.text(person(tt.by, "vi"), private(tt.by), "/thongbao 02494-MTTQ | Họp giao ban")
			h.apply(u)
			rows := h.outbox()
			if len(rows) != 1 || len(rows[0].Action.Buttons) != 0 || !strings.Contains(rows[0].Action.Text, tt.want) {
				t.Errorf("got %+v, want one refusal containing %q", rows, tt.want)
			}
			if handler := h.journalHandler(u.ID); !strings.HasSuffix(handler, ":refused") {
				t.Errorf("journal %q, want refused", handler)
			}
			if a := h.simAudit(); len(a) != 0 {
				t.Errorf("audit %+v after a refusal", a)
			}
		})
	}
	// A confirmation made for the head, pressed by someone else.
	h := newHarness(t)
	buildAudience(t, h)
	h.apply(h.text(person(headU, "vi"), private(headU), "/thongbao 02494-MTTQ | Họp giao ban"))
	q := h.one()
	h.apply(h.press(person(headP, "vi"), private(headU), 9000, q.Action.Buttons[0][0].Data))
	if rows := h.outbox(); len(rows) != 1 || !strings.Contains(rows[0].Action.Text, "không có quyền") {
		t.Errorf("another's Xác nhận: %+v, want a refusal and nothing sent", rows)
	}
}
