package bot

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"danvan/store"
)

// auditPeople have distinct names, so an entry's actor shows.
var (
	auditAdmin   = &User{ID: adminID, FirstName: "Ngọc", LastName: "Trần Bảo", LanguageCode: "vi"}
	auditHead    = &User{ID: headU, FirstName: "Hùng", LastName: "Thái Văn", LanguageCode: "vi"}
	auditSibling = &User{ID: headS, FirstName: "Sơn", LastName: "Hà Minh", LanguageCode: "vi"}
)

// TestEveryAuditedActionLeavesOneEntry performs each audited action
// through the bot and checks it adds exactly one entry saying who did
// what to what, and when.
func TestEveryAuditedActionLeavesOneEntry(t *testing.T) {
	h := newHarnessWith(t, func(o *Options) { o.Admins = nil })
	tr := buildTree(t, h)
	var console bytes.Buffer
	if err := h.bot.OfferClaim(&console); err != nil {
		t.Fatal(err)
	}
	claim := regexp.MustCompile(`start=(a_[a-z2-7]+)`).FindStringSubmatch(console.String())
	if claim == nil {
		t.Fatalf("no claim link in %q", console.String())
	}
	adminChat, headChat := private(adminID), private(headU)
	var inviteCode, recallData string

	steps := []struct {
		name    string
		do      func(t *testing.T)
		action  string
		actor   *User
		target  string
		detail  string
		subject int64
	}{
		{"claim link", func(t *testing.T) {
			h.apply(h.text(auditAdmin, adminChat, "/start "+claim[1]))
			h.outbox()
		}, store.AuditAdminGrant, auditAdmin, "111 — Ngọc Trần Bảo", "claim", adminID},
		{"grant", func(t *testing.T) {
			h.apply(h.text(auditAdmin, adminChat, "/capquyen "+fmt.Sprint(headP)))
			h.outbox()
		}, store.AuditAdminGrant, auditAdmin, "4003 — Người 4003", "", headP},
		{"revoke", func(t *testing.T) {
			h.apply(h.text(auditAdmin, adminChat, "/thuhoiquyen "+fmt.Sprint(headP)))
			h.outbox()
		}, store.AuditAdminRevoke, auditAdmin, "4003 — Người 4003", "", headP},
		{"create a unit", func(t *testing.T) {
			h.apply(h.text(auditHead, headChat, "/themdonvi Chi hội Phụ nữ thôn 3 | phunu | 02494-PHUNU"))
			if r := h.one(); !strings.Contains(r.Action.Text, "Đã tạo đơn vị") {
				t.Fatalf("create: %q", r.Action.Text)
			}
		}, store.AuditUnitCreate, auditHead, "02494-PHUNU-2 — Chi hội Phụ nữ thôn 3", "Hội LHPN xã Thái Bình", 0},
		{"rename a unit", func(t *testing.T) {
			h.apply(h.text(auditHead, headChat, "/suadonvi 02494-PHUNU-2 | tên | Chi hội Phụ nữ thôn Ba"))
			h.outbox()
		}, store.AuditUnitEdit, auditHead, "02494-PHUNU-2 — Chi hội Phụ nữ thôn Ba", "name = Chi hội Phụ nữ thôn Ba", 0},
		{"move a unit", func(t *testing.T) {
			h.apply(h.text(auditHead, headChat, "/suadonvi 02494-PHUNU-2 | cấp trên | 02494-MTTQ"))
			h.outbox()
		}, store.AuditUnitEdit, auditHead, "02494-PHUNU-2 — Chi hội Phụ nữ thôn Ba", "parent = Ủy ban MTTQ xã Thái Bình", 0},
		{"delete a unit", func(t *testing.T) {
			h.apply(h.text(auditHead, headChat, "/xoadonvi 02494-PHUNU-2"))
			q := h.one()
			h.apply(h.press(auditHead, headChat, 9000, q.Action.Buttons[0][0].Data))
			h.outbox()
		}, store.AuditUnitDelete, auditHead, "02494-PHUNU-2 — Chi hội Phụ nữ thôn Ba", "", 0},
		{"create an invite", func(t *testing.T) {
			inviteCode = invite(t, h, auditHead, tr.unit.Code)
		}, store.AuditInviteCreate, auditHead, "02494-MTTQ — Ủy ban MTTQ xã Thái Bình", store.RoleMember, 0},
		{"revoke an invite", func(t *testing.T) {
			h.apply(h.text(auditHead, headChat, "/huymoi "+inviteCode))
			h.outbox()
		}, store.AuditInviteRevoke, auditHead, "02494-MTTQ — Ủy ban MTTQ xã Thái Bình", store.RoleMember, 0},
		{"link a group", func(t *testing.T) {
			h.simLink(auditHead, group, tr.unit.Code)
		}, store.AuditGroupLink, auditHead, "02494-MTTQ — Ủy ban MTTQ xã Thái Bình", group.Title, 0},
		{"unlink a group", func(t *testing.T) {
			h.apply(h.text(auditHead, group, "/huylienket "+tr.unit.Code))
			h.outbox()
		}, store.AuditGroupUnlink, auditHead, "02494-MTTQ — Ủy ban MTTQ xã Thái Bình", group.Title, 0},
		{"send an announcement", func(t *testing.T) {
			h.apply(h.text(auditHead, headChat, "/thongbao 02494-MTTQ | Họp giao ban"))
			q := h.one()
			h.apply(h.press(auditHead, headChat, 9000, q.Action.Buttons[0][0].Data))
			for _, r := range h.outbox() {
				if r.Action.Kind == store.ActEditText {
					recallData = r.Action.Buttons[0][0].Data
				}
			}
			h.outbox() // the report
		}, store.AuditAnnounceSend, auditHead, "02494-MTTQ — Ủy ban MTTQ xã Thái Bình", "1/0", 0},
		{"recall the announcement", func(t *testing.T) {
			h.apply(h.press(auditHead, headChat, 9001, recallData))
			h.outbox()
		}, store.AuditAnnounceRecall, auditHead, "02494-MTTQ — Ủy ban MTTQ xã Thái Bình", "1/0", 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			h.clock.Advance(time.Minute)
			before := len(h.simAudit())
			s.do(t)
			added := h.simAudit()[before:]
			if len(added) != 1 {
				t.Fatalf("got %d audit entries, want 1: %+v", len(added), added)
			}
			e := added[0]
			name := s.actor.FirstName + " " + s.actor.LastName
			if e.Action != s.action || e.ActorID != s.actor.ID || e.ActorName != name || e.Target != s.target ||
				e.Detail != s.detail || e.SubjectID != s.subject || !e.At.Equal(h.clock.Now()) {
				t.Errorf("got %+v, want %s by %d (%s) on %q (%q), subject %d, at %v",
					e, s.action, s.actor.ID, name, s.target, s.detail, s.subject, h.clock.Now())
			}
		})
	}

	// The log shows each detail in the reader's language.
	h.outbox() // the recall's report
	h.apply(h.text(auditAdmin, adminChat, "/nhatky"))
	log := h.one().Action.Text
	for _, want := range []string{
		"(1 người, 0 nhóm)", "(1 bản đã gửi, 0 bản chưa gửi)", "(cấp trên: Ủy ban MTTQ xã Thái Bình)",
		"(tên: Chi hội Phụ nữ thôn Ba)", "(thành viên)", "(qua đường liên kết nhận quyền)", "(" + group.Title + ")",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("/nhatky lacks %q:\n%s", want, log)
		}
	}

	// Refused or idle attempts leave no trace.
	var spare store.Unit
	h.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		spare, err = tx.AddUnit(store.Unit{Code: "02494-CCB", Name: "Hội Cựu chiến binh xã Thái Bình", Kind: store.KindCCB, Parent: tr.unit.ID})
		return err
	})
	refused := []struct {
		name string
		do   func()
	}{
		{"grant by a non-admin", func() { h.apply(h.text(auditSibling, private(headS), "/capquyen 5555")) }},
		{"grant to an admin", func() { h.apply(h.text(auditAdmin, adminChat, "/capquyen 111")) }},
		{"revoke from a non-admin", func() { h.apply(h.text(auditAdmin, adminChat, "/thuhoiquyen 5556")) }},
		{"revoke one's own rights", func() { h.apply(h.text(auditAdmin, adminChat, "/thuhoiquyen 111")) }},
		{"create under a sibling", func() {
			h.apply(h.text(auditSibling, private(headS), "/themdonvi Chi hội X | phunu | "+tr.unit.Code))
		}},
		{"create with a taken code", func() {
			h.apply(h.text(auditHead, headChat, "/themdonvi Chi hội X | phunu | 02494-MTTQ | | 02494-PHUNU"))
		}},
		{"edit by a sibling's head", func() {
			h.apply(h.text(auditSibling, private(headS), "/suadonvi "+tr.child.Code+" | tên | X"))
		}},
		{"move under its own child", func() {
			h.apply(h.text(auditAdmin, adminChat, "/suadonvi 08-MTTQ | cap tren | "+tr.child.Code))
		}},
		{"delete one's own unit", func() { h.apply(h.text(auditHead, headChat, "/xoadonvi "+tr.unit.Code)) }},
		{"delete, then Hủy", func() {
			h.apply(h.text(auditHead, headChat, "/xoadonvi "+spare.Code))
			q := h.one()
			h.apply(h.press(auditHead, headChat, 9000, q.Action.Buttons[0][1].Data))
		}},
		{"invite by a sibling's head", func() { h.apply(h.text(auditSibling, private(headS), "/moi "+tr.unit.Code)) }},
		{"revoke an unknown invite", func() { h.apply(h.text(auditHead, headChat, "/huymoi i_aaaaaaaaaaaaaaaa")) }},
		{"revoke a revoked invite", func() { h.apply(h.text(auditHead, headChat, "/huymoi "+inviteCode)) }},
		{"link by a sibling's head", func() { h.apply(h.text(auditSibling, group, "/lienket "+tr.unit.Code)) }},
		{"link without group rights", func() {
			h.apply(h.text(auditHead, group, "/lienket "+tr.unit.Code))
			h.simAnswer(h.simQuery(), "member")
		}},
		{"unlink what is not linked", func() { h.apply(h.text(auditHead, group, "/huylienket "+tr.unit.Code)) }},
		{"announce by a member", func() {
			h.apply(h.text(person(memberU, "vi"), private(memberU), "/thongbao 02494-MTTQ | Họp"))
		}},
		{"announce, then Hủy", func() {
			h.apply(h.text(auditHead, headChat, "/thongbao 02494-MTTQ | Họp"))
			q := h.one()
			h.apply(h.press(auditHead, headChat, 9000, q.Action.Buttons[0][1].Data))
		}},
		{"recall again", func() { h.apply(h.press(auditHead, headChat, 9001, recallData)) }},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			before := h.simAudit()
			r.do()
			h.outbox()
			if after := h.simAudit(); len(after) != len(before) {
				t.Errorf("got %d new audit entries, want none: %+v", len(after)-len(before), after[len(before):])
			}
		})
	}
}

func TestAuditLogIsPagedNewestFirst(t *testing.T) {
	h := newHarness(t)
	admin := person(adminID, "vi")
	chat := private(adminID)
	// 70 entries: a grant and a revoke for 35 people.
	for i := range 35 {
		h.clock.Advance(time.Minute)
		h.apply(h.text(admin, chat, fmt.Sprintf("/capquyen %d", 5600+i)))
		h.apply(h.text(admin, chat, fmt.Sprintf("/thuhoiquyen %d", 5600+i)))
	}
	h.outbox()
	if n := len(h.simAudit()); n != 70 {
		t.Fatalf("%d audit entries, want 70", n)
	}

	h.apply(h.text(admin, chat, "/nhatky"))
	first := h.one()
	page1 := first.Action.Text
	if !strings.Contains(page1, "<b>Nhật ký thao tác</b> (70 mục mới nhất)") || !strings.Contains(page1, "Trang 1/2") {
		t.Fatalf("first page %q, want 70 entries on 2 pages", page1)
	}
	newest := "<b>Người Dùng</b> (<code>111</code>): thu hồi quyền quản trị 5634 — 5634"
	if !strings.HasPrefix(strings.SplitN(page1, "\n", 3)[1], "• ") || !strings.Contains(strings.SplitN(page1, "\n", 3)[1], newest) {
		t.Errorf("first line of page 1: %q, want the newest entry %q", strings.SplitN(page1, "\n", 3)[1], newest)
	}
	if i, j := strings.Index(page1, "quyền quản trị 5634"), strings.Index(page1, "quyền quản trị 5633"); i < 0 || j < 0 || i > j {
		t.Errorf("page 1 is not newest first")
	}
	kb := first.Action.Buttons
	if len(kb) != 1 || len(kb[0]) != 1 || kb[0][0].Text != "▶" {
		t.Fatalf("keyboard %+v, want ▶", kb)
	}
	h.apply(h.press(admin, chat, 9000, kb[0][0].Data))
	rows := h.outbox()
	if len(rows) != 2 || rows[0].Action.Kind != store.ActEditText {
		t.Fatalf("▶: %+v, want the page turned", rows)
	}
	page2 := rows[0].Action.Text
	if !strings.Contains(page2, "Trang 2/2") || !strings.Contains(page2, "cấp quyền quản trị 5600 — 5600") {
		t.Errorf("page 2 %q, want the oldest entries", page2)
	}
	lines1, lines2 := strings.Count(page1, "\n• "), strings.Count(page2, "\n• ")
	if lines1+lines2 != 70 {
		t.Errorf("the pages show %d + %d entries, want 70", lines1, lines2)
	}
	// Every entry of page 2 is older than every entry of page 1.
	id := regexp.MustCompile(`quyền quản trị (56\d\d) `)
	lowest1, highest2 := 9999, 0
	for _, m := range id.FindAllStringSubmatch(page1, -1) {
		var n int
		fmt.Sscan(m[1], &n)
		lowest1 = min(lowest1, n)
	}
	for _, m := range id.FindAllStringSubmatch(page2, -1) {
		var n int
		fmt.Sscan(m[1], &n)
		highest2 = max(highest2, n)
	}
	if highest2 > lowest1 {
		t.Errorf("page 2 holds %d, newer than page 1's %d", highest2, lowest1)
	}

	tests := []struct {
		name  string
		by    *User
		text  string
		want  string
		lines int // entries shown, -1 when refused
	}{
		{"a number", admin, "/nhatky 5", "(5 mục mới nhất)", 5},
		{"English alias", admin, "/audit 2", "(2 mục mới nhất)", 2},
		{"not a number", admin, "/nhatky abc", "“abc” không phải số dương. Ví dụ: <code>/nhatky 50</code>", -1},
		{"zero", admin, "/nhatky 0", "“0” không phải số dương", -1},
		{"negative", admin, "/nhatky -3", "“-3” không phải số dương", -1},
		{"a head", person(headU, "vi"), "/nhatky", "chỉ dành cho quản trị viên", -1},
		{"a stranger", person(strangerID, "vi"), "/nhatky 5", "chỉ dành cho quản trị viên", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.apply(h.text(tt.by, private(tt.by.ID), tt.text))
			r := h.one()
			if !strings.Contains(r.Action.Text, tt.want) {
				t.Errorf("%s: %q, want %q", tt.text, r.Action.Text, tt.want)
			}
			if got := strings.Count(r.Action.Text, "\n• "); tt.lines >= 0 && got != tt.lines || tt.lines < 0 && got != 0 {
				t.Errorf("%s shows %d entries, want %d", tt.text, got, max(tt.lines, 0))
			}
		})
	}
}
