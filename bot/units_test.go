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

// tree builds, through the store, a small organization tree:
//
//	08-MTTQ (province)
//	├── 02494-MTTQ  Ủy ban MTTQ xã Thái Bình   ← unit U, headed by headU
//	│   └── 02494-PHUNU Hội LHPN xã Thái Bình
//	└── 02545-MTTQ  Ủy ban MTTQ xã Tân Trào    ← sibling S, headed by headS
//
// The province MTTQ is headed by headP; memberU is a member of U.
type tree struct {
	province, unit, child, sibling store.Unit
}

const (
	headU   = 4001
	headS   = 4002
	headP   = 4003
	memberU = 4004
)

func buildTree(t *testing.T, h *harness) tree {
	t.Helper()
	var tr tree
	err := h.store.Update(ctx, func(tx *store.Tx) error {
		add := func(code, name, kind string, parent uint64, place string) store.Unit {
			u, err := tx.AddUnit(store.Unit{Code: code, Name: name, Kind: kind, Parent: parent, Place: place})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		tr.province = add("08-MTTQ", "Ủy ban MTTQ tỉnh Tuyên Quang", store.KindMTTQ, 0, "08")
		tr.unit = add("02494-MTTQ", "Ủy ban MTTQ xã Thái Bình", store.KindMTTQ, tr.province.ID, "02494")
		tr.child = add("02494-PHUNU", "Hội LHPN xã Thái Bình", store.KindPhuNu, tr.unit.ID, "02494")
		tr.sibling = add("02545-MTTQ", "Ủy ban MTTQ xã Tân Trào", store.KindMTTQ, tr.province.ID, "02545")
		for _, m := range []struct {
			unit uint64
			user int64
			role string
		}{
			{tr.unit.ID, headU, store.RoleHead}, {tr.sibling.ID, headS, store.RoleHead},
			{tr.province.ID, headP, store.RoleHead}, {tr.unit.ID, memberU, store.RoleMember},
		} {
			if err := tx.AddMember(m.unit, m.user, m.role, h.clock.Now()); err != nil {
				return err
			}
			if err := tx.PutUser(store.User{ID: m.user, FirstName: fmt.Sprintf("Người %d", m.user)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// journalHandler returns the handler the journal recorded for an update.
func (h *harness) journalHandler(updateID int64) string {
	var handler string
	h.store.View(ctx, func(tx *store.Tx) error {
		return tx.Journal(func(e store.JournalEntry) bool {
			if e.UpdateID == updateID {
				handler = e.Handler
			}
			return true
		})
	})
	return handler
}

func (h *harness) unitByCode(t *testing.T, code string) (store.Unit, bool) {
	t.Helper()
	var u store.Unit
	var found bool
	h.store.View(ctx, func(tx *store.Tx) error {
		var err error
		u, err = tx.UnitByCode(code)
		found = err == nil
		return nil
	})
	return u, found
}

func TestAddUnitWizardAsAdmin(t *testing.T) {
	h := newHarness(t)
	admin := person(adminID, "vi")
	chat := private(adminID)
	h.apply(h.text(admin, chat, "/themdonvi"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Nhập tên đơn vị") {
		t.Fatalf("first step: %q", r.Action.Text)
	}
	h.apply(h.text(admin, chat, "Ủy ban MTTQ tỉnh Tuyên Quang"))
	kinds := h.one()
	if len(kinds.Action.Buttons) < 3 || !strings.Contains(kinds.Action.Text, "thuộc loại nào") {
		t.Fatalf("kind step: %+v", kinds.Action)
	}
	h.apply(h.press(admin, chat, 9000, kinds.Action.Buttons[0][0].Data)) // Mặt trận Tổ quốc
	parent := lastSent(t, h.outbox())
	last := parent.Action.Buttons[len(parent.Action.Buttons)-1][0]
	if last.Text != "Không có (đơn vị gốc)" {
		t.Fatalf("parent step offers %+v, want the top-level button for an admin", parent.Action.Buttons)
	}
	h.apply(h.press(admin, chat, 9001, last.Data))
	place := lastSent(t, h.outbox())
	if !strings.Contains(place.Action.Text, "địa bàn nào") || place.Action.Buttons[0][0].Text != "Bỏ qua" {
		t.Fatalf("place step: %+v", place.Action)
	}
	h.apply(h.text(admin, chat, "tuyen quang")) // a province and a commune in Lâm Đồng
	choice := h.one()
	if len(choice.Action.Buttons) != 3 || choice.Action.Buttons[0][0].Text != "Tỉnh Tuyên Quang" {
		t.Fatalf("ambiguous place: %+v", choice.Action.Buttons)
	}
	h.apply(h.press(admin, chat, 9002, choice.Action.Buttons[0][0].Data))
	done := lastSent(t, h.outbox())
	if !strings.Contains(done.Action.Text, "Đã tạo đơn vị <b>Ủy ban MTTQ tỉnh Tuyên Quang</b>") || len(done.Action.Buttons) != 0 {
		t.Fatalf("done: %+v, want the confirmation without buttons", done.Action)
	}
	u, ok := h.unitByCode(t, "08-MTTQ")
	if !ok || u.Parent != 0 || u.Place != "08" || u.Kind != store.KindMTTQ {
		t.Errorf("stored unit %+v (found %v), want a top-level MTTQ in 08 with a generated code", u, ok)
	}

	// All fields at once: no question asked.
	h.apply(h.text(admin, chat, "/themdonvi Hội LHPN xã Thái Bình | phunu | 08-MTTQ | 02494"))
	if r := h.one(); !strings.Contains(r.Action.Text, "02494-PHUNU") || !strings.Contains(r.Action.Text, "Thái Bình › Tuyên Quang") {
		t.Errorf("one-shot: %q", r.Action.Text)
	}
	// A code given, and a village created by name.
	h.apply(h.text(admin, chat, "/themdonvi Ban công tác Mặt trận thôn Đồng Mới | mttq | 08-MTTQ | 02494/Thôn Đồng Mới | TDM-MTTQ"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Thôn Đồng Mới › Thái Bình › Tuyên Quang") {
		t.Errorf("village: %q", r.Action.Text)
	}
	// The same code again is refused.
	h.apply(h.text(admin, chat, "/themdonvi Khác | khac | 08-MTTQ | | TDM-MTTQ"))
	if r := h.one(); !strings.Contains(r.Action.Text, "đã được dùng") {
		t.Errorf("duplicate code: %q", r.Action.Text)
	}
}

func TestAddUnitAsHead(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	head := person(headU, "vi")
	chat := private(headU)
	// Under a unit the head directs: allowed, place from the parent.
	h.apply(h.text(head, chat, "/themdonvi Chi hội Phụ nữ thôn 3 | phunu | 02494-PHUNU"))
	r := h.one()
	if !strings.Contains(r.Action.Text, "Đã tạo đơn vị") {
		t.Fatalf("head creating under own subtree: %q", r.Action.Text)
	}
	// Under a sibling unit: refused, and nothing created.
	u := h.text(head, chat, "/themdonvi Chi hội X | phunu | "+tr.sibling.Code)
	h.apply(u)
	if r := h.one(); !strings.Contains(r.Action.Text, "Chỉ trưởng đơn vị") {
		t.Errorf("head creating under a sibling: %q, want a refusal", r.Action.Text)
	}
	if got := h.journalHandler(u.ID); !strings.HasSuffix(got, ":refused") {
		t.Errorf("journal: %q, want a refusal", got)
	}
	// A top-level unit: admins only; the wizard asks again.
	h.apply(h.text(head, chat, "/themdonvi Ban Y | khac | không"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Chỉ quản trị viên mới được tạo đơn vị gốc") {
		t.Errorf("head creating a top-level unit: %q", r.Action.Text)
	}
	var count int
	h.store.View(ctx, func(tx *store.Tx) error { count = tx.UnitCount(); return nil })
	if count != 5 {
		t.Errorf("%d units, want 5 (the tree and one created)", count)
	}
	// A stranger cannot start at all.
	h.apply(h.text(person(strangerID, "vi"), private(strangerID), "/themdonvi"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Chỉ trưởng đơn vị") {
		t.Errorf("stranger: %q", r.Action.Text)
	}
}

func TestUnitsListAndSearch(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	_ = tr
	// The head sees the tree under their unit, indented, with counts.
	h.apply(h.text(person(headU, "vi"), private(headU), "/donvi"))
	r := h.one()
	if !strings.Contains(r.Action.Text, "Ủy ban MTTQ xã Thái Bình") || !strings.Contains(r.Action.Text, "\u00a0\u00a0\u00a0\u00a0• <b>Hội LHPN xã Thái Bình") ||
		strings.Contains(r.Action.Text, "Tân Trào") || !strings.Contains(r.Action.Text, "1 trưởng, 1 thành viên") {
		t.Errorf("head's /donvi: %q", r.Action.Text)
	}
	// Search ignores case and diacritics, including đ and decomposed input.
	for _, q := range []string{"thai binh", "THÁI BÌNH", "Tha\u0301i Bi\u0300nh", "ủy ban mttq xã tân trào"} {
		h.apply(h.text(person(strangerID, "vi"), private(strangerID), "/donvi "+q))
		r := h.one()
		if !strings.Contains(r.Action.Text, "Đơn vị khớp với") || !(strings.Contains(r.Action.Text, "Thái Bình") || strings.Contains(r.Action.Text, "Tân Trào")) {
			t.Errorf("search %q: %q", q, r.Action.Text)
		}
	}
	h.store.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.AddUnit(store.Unit{Code: "DOAN-1", Name: "Đoàn Thanh niên xã Thái Bình", Kind: store.KindDoanThanhNien, Parent: tr.unit.ID})
		return err
	})
	for _, q := range []string{"doan", "ĐOÀN", "Đoa\u0300n"} {
		h.apply(h.text(person(strangerID, "vi"), private(strangerID), "/donvi "+q))
		if r := h.one(); !strings.Contains(r.Action.Text, "Đoàn Thanh niên xã Thái Bình") {
			t.Errorf("search %q: %q", q, r.Action.Text)
		}
	}
	// Someone in no unit is told how to find one.
	h.apply(h.text(person(strangerID, "vi"), private(strangerID), "/donvi"))
	if r := h.one(); !strings.Contains(r.Action.Text, "chưa thuộc đơn vị nào") {
		t.Errorf("stranger's /donvi: %q", r.Action.Text)
	}
}

func TestAmbiguousNamesShowPaths(t *testing.T) {
	h := newHarness(t)
	// Three communes are called Thái Bình; each has its MTTQ.
	var places []string
	for _, p := range h.bot.places.Search("thai binh", 10) {
		if p.Short == "Thái Bình" && p.Parent != "" {
			places = append(places, p.Code)
		}
	}
	if len(places) < 3 {
		t.Fatalf("only %d communes called Thái Bình", len(places))
	}
	h.store.Update(ctx, func(tx *store.Tx) error {
		for i, code := range places {
			if _, err := tx.AddUnit(store.Unit{Code: fmt.Sprintf("TB-%d", i), Name: "Ủy ban MTTQ xã Thái Bình", Kind: store.KindMTTQ, Place: code}); err != nil {
				return err
			}
		}
		return nil
	})
	admin := person(adminID, "vi")
	h.apply(h.text(admin, private(adminID), "/thanhvien Ủy ban MTTQ xã Thái Bình"))
	r := h.one()
	if !strings.Contains(r.Action.Text, "Có nhiều đơn vị khớp") || len(r.Action.Buttons) != len(places) {
		t.Fatalf("ambiguous name: %+v", r.Action)
	}
	labels := map[string]bool{}
	for _, row := range r.Action.Buttons {
		labels[row[0].Text] = true
		if !strings.Contains(row[0].Text, "Thái Bình › ") {
			t.Errorf("button %q does not show where the unit is", row[0].Text)
		}
	}
	if len(labels) != len(places) {
		t.Errorf("buttons %v are not distinct", labels)
	}
	// Choosing one runs the command on it.
	h.apply(h.press(admin, private(adminID), 9000, r.Action.Buttons[1][0].Data))
	if last := lastSent(t, h.outbox()); !strings.Contains(last.Action.Text, "Ủy ban MTTQ xã Thái Bình</b>: 0 trưởng") {
		t.Errorf("after choosing: %+v", last)
	}
}

var linkPayload = regexp.MustCompile(`start=(i_[a-z2-7]+)`)

// invite asks for an invite link and returns its payload.
func invite(t *testing.T, h *harness, by *User, args string) string {
	t.Helper()
	h.apply(h.text(by, private(by.ID), "/moi "+args))
	r := h.one()
	m := linkPayload.FindStringSubmatch(r.Action.Text)
	if m == nil {
		t.Fatalf("/moi %s: %q has no link", args, r.Action.Text)
	}
	if len(m[1]) > 64 {
		t.Fatalf("payload %q is over 64 characters", m[1])
	}
	return m[1]
}

func (h *harness) role(userID int64, unit uint64) string {
	var role string
	h.store.View(ctx, func(tx *store.Tx) error { role = tx.RoleIn(userID, unit); return nil })
	return role
}

func TestInviteLifecycle(t *testing.T) {
	h := newHarnessWith(t, func(o *Options) { o.MemberInviteUses = 2 })
	tr := buildTree(t, h)
	head := person(headU, "vi")

	// A member link, reusable up to its limit, with name and optional position.
	code := invite(t, h, head, tr.child.Code)
	joiner := &User{ID: 6001, FirstName: "páo", LanguageCode: "vi"}
	h.apply(h.text(joiner, private(joiner.ID), "/start "+code))
	if r := h.one(); !strings.Contains(r.Action.Text, "Chào mừng anh/chị tham gia <b>Hội LHPN xã Thái Bình</b>") || !strings.Contains(r.Action.Text, "họ và tên") {
		t.Fatalf("join: %q", r.Action.Text)
	}
	if got := h.role(joiner.ID, tr.child.ID); got != store.RoleMember {
		t.Fatalf("role after joining %q, want member", got)
	}
	h.apply(h.text(joiner, private(joiner.ID), "A"))
	if r := h.one(); !strings.Contains(r.Action.Text, "từ 2 đến 80") {
		t.Errorf("too short a name: %q", r.Action.Text)
	}
	h.apply(h.text(joiner, private(joiner.ID), "Lò  Văn Páo"))
	pos := h.one()
	if !strings.Contains(pos.Action.Text, "Chức vụ") || len(pos.Action.Buttons) != 1 {
		t.Fatalf("position step: %+v, want a Skip button for a member", pos.Action)
	}
	h.apply(h.press(joiner, private(joiner.ID), 9000, pos.Action.Buttons[0][0].Data))
	rows := h.outbox()
	var saved, notice bool
	for _, r := range rows {
		saved = saved || (r.ChatID == joiner.ID && strings.Contains(r.Action.Text, "Đã lưu: <b>Lò Văn Páo</b>"))
		notice = notice || (r.ChatID == headU && strings.Contains(r.Action.Text, "<b>Lò Văn Páo</b> đã tham gia <b>Hội LHPN xã Thái Bình</b>"))
	}
	if !saved || !notice {
		t.Errorf("after the profile: %+v; want the confirmation and the head told", rows)
	}
	second := &User{ID: 6002, FirstName: "Hoa"}
	h.apply(h.text(second, private(second.ID), "/start "+code))
	h.outbox()
	third := &User{ID: 6003, FirstName: "Lan"}
	h.apply(h.text(third, private(third.ID), "/start "+code))
	if r := h.one(); !strings.Contains(r.Action.Text, "dùng hết lượt") || h.role(third.ID, tr.child.ID) != "" {
		t.Errorf("third use of a 2-use link: %q, role %q", r.Action.Text, h.role(third.ID, tr.child.ID))
	}

	// A head link works once and needs a position.
	headCode := invite(t, h, head, tr.child.Code+" truong")
	newHead := &User{ID: 6010, FirstName: "Hoa"}
	h.apply(h.text(newHead, private(newHead.ID), "/start "+headCode))
	h.outbox()
	h.apply(h.text(newHead, private(newHead.ID), "Nguyễn Thị Hoa"))
	if r := h.one(); len(r.Action.Buttons) != 0 {
		t.Errorf("a head was offered to skip the position: %+v", r.Action)
	}
	h.apply(h.text(newHead, private(newHead.ID), "Chủ tịch Hội LHPN xã"))
	h.outbox()
	if got := h.role(newHead.ID, tr.child.ID); got != store.RoleHead {
		t.Errorf("role %q, want head", got)
	}
	other := &User{ID: 6011, FirstName: "Minh"}
	h.apply(h.text(other, private(other.ID), "/start "+headCode))
	if r := h.one(); !strings.Contains(r.Action.Text, "dùng hết lượt") || h.role(other.ID, tr.child.ID) != "" {
		t.Errorf("second use of a head link: %q", r.Action.Text)
	}

	// Revoked at once.
	revoked := invite(t, h, head, tr.child.Code)
	h.apply(h.text(head, private(headU), "/huymoi https://t.me/danvan_test_bot?start="+revoked))
	if r := h.one(); !strings.Contains(r.Action.Text, "Đã thu hồi") {
		t.Errorf("revoke: %q", r.Action.Text)
	}
	h.apply(h.text(other, private(other.ID), "/start "+revoked))
	if r := h.one(); !strings.Contains(r.Action.Text, "bị thu hồi") || h.role(other.ID, tr.child.ID) != "" {
		t.Errorf("revoked link: %q", r.Action.Text)
	}

	// Expired on the clock.
	late := invite(t, h, head, tr.child.Code)
	h.clock.Advance(7*24*time.Hour + time.Second)
	h.apply(h.text(other, private(other.ID), "/start "+late))
	if r := h.one(); !strings.Contains(r.Action.Text, "hết hạn") || h.role(other.ID, tr.child.ID) != "" {
		t.Errorf("expired link: %q", r.Action.Text)
	}

	// Unknown or malformed codes.
	for _, payload := range []string{"i_aaaaaaaaaaaaaaaa", "i_", "../etc"} {
		h.apply(h.text(other, private(other.ID), "/start "+payload))
		if r := h.one(); !strings.Contains(r.Action.Text, "không hợp lệ") {
			t.Errorf("payload %q: %q", payload, r.Action.Text)
		}
	}
	if got := h.role(other.ID, tr.child.ID); got != "" {
		t.Errorf("after bad links the person has role %q", got)
	}

	// A head of a sibling may not invite into this unit.
	h.apply(h.text(person(headS, "vi"), private(headS), "/moi "+tr.child.Code))
	if r := h.one(); strings.Contains(r.Action.Text, "start=") {
		t.Errorf("a sibling's head got a link: %q", r.Action.Text)
	}
}

func TestClaimLinkMakesTheFirstAdmin(t *testing.T) {
	h := newHarnessWith(t, func(o *Options) { o.Admins = nil })
	var console bytes.Buffer
	if err := h.bot.OfferClaim(&console); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`start=(a_[a-z2-7]+)`).FindStringSubmatch(console.String())
	if m == nil {
		t.Fatalf("console: %q, want a claim link", console.String())
	}
	first := person(7001, "vi")
	h.apply(h.text(first, private(first.ID), "/start "+m[1]))
	if r := h.one(); !strings.Contains(r.Action.Text, "quản trị viên</b> đầu tiên") {
		t.Fatalf("claim: %q", r.Action.Text)
	}
	second := person(7002, "vi")
	h.apply(h.text(second, private(second.ID), "/start "+m[1]))
	if r := h.one(); !strings.Contains(r.Action.Text, "không hợp lệ") {
		t.Errorf("second claim: %q", r.Action.Text)
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		if !tx.IsStoredAdmin(first.ID) || tx.IsStoredAdmin(second.ID) {
			t.Error("wrong admins after the claim")
		}
		return nil
	})
	// Once an admin exists, no link is printed.
	console.Reset()
	if err := h.bot.OfferClaim(&console); err != nil || console.Len() != 0 {
		t.Errorf("with an admin: %q, %v; want nothing printed", console.String(), err)
	}
}

func TestGrantAndRevoke(t *testing.T) {
	h := newHarness(t)
	admin := person(adminID, "vi")
	chat := private(adminID)
	for _, tt := range []struct{ cmd, want string }{
		{"/capquyen 5555", "Đã cấp quyền quản trị"},
		{"/capquyen 5555", "đã là quản trị viên"},
		{"/thuhoiquyen " + fmt.Sprint(adminID), "theo tệp cấu hình"},
		{"/thuhoiquyen 5555", "Đã thu hồi quyền quản trị"},
		{"/thuhoiquyen 5555", "không phải quản trị viên"},
		{"/capquyen @hoa", "không phải mã người dùng"},
		{"/capquyen", "cần mã người dùng"},
	} {
		h.apply(h.text(admin, chat, tt.cmd))
		if r := h.one(); !strings.Contains(r.Action.Text, tt.want) {
			t.Errorf("%s: %q, want %q", tt.cmd, r.Action.Text, tt.want)
		}
	}
	h.apply(h.text(person(headU, "vi"), private(headU), "/capquyen 5555"))
	if r := h.one(); !strings.Contains(r.Action.Text, "chỉ dành cho quản trị viên") {
		t.Errorf("a non-admin granting: %q", r.Action.Text)
	}
}

func TestDeleteUnit(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	// The head of the unit itself may not delete it; a head above may,
	// after confirming; a unit with people is refused.
	h.apply(h.text(person(headU, "vi"), private(headU), "/xoadonvi "+tr.unit.Code))
	if r := h.one(); !strings.Contains(r.Action.Text, "Chỉ trưởng đơn vị") {
		t.Errorf("deleting own unit: %q", r.Action.Text)
	}
	h.apply(h.text(person(headP, "vi"), private(headP), "/xoadonvi "+tr.unit.Code))
	if r := h.one(); !strings.Contains(r.Action.Text, "Không xóa được") || !strings.Contains(r.Action.Text, "1 đơn vị trực thuộc") || len(r.Action.Buttons) != 0 {
		t.Errorf("deleting a unit with children and people: %+v, want the reason at once", r.Action)
	}
	// An empty unit goes after Xác nhận; pressing it twice does nothing more.
	h.store.Update(ctx, func(tx *store.Tx) error { _, err := tx.RemoveMember(tr.sibling.ID, headS); return err })
	h.apply(h.text(person(headP, "vi"), private(headP), "/xoadonvi "+tr.sibling.Code))
	q := h.one()
	if len(q.Action.Buttons) != 1 || q.Action.Buttons[0][0].Text != "Xác nhận" || q.Action.Buttons[0][1].Text != "Hủy" {
		t.Fatalf("confirmation: %+v", q.Action)
	}
	h.apply(h.press(person(headP, "vi"), private(headP), 9001, q.Action.Buttons[0][0].Data))
	if rows := h.outbox(); !strings.Contains(rows[0].Action.Text, "Đã xóa đơn vị") {
		t.Errorf("delete: %+v", rows)
	}
	if _, ok := h.unitByCode(t, tr.sibling.Code); ok {
		t.Error("the unit is still there")
	}
	h.apply(h.press(person(headP, "vi"), private(headP), 9001, q.Action.Buttons[0][0].Data))
	if r := h.one(); r.Action.Kind != store.ActAnswer || !strings.Contains(r.Action.Text, "đã được xử lý") {
		t.Errorf("second press: %+v", r.Action)
	}
}

func TestEditUnit(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	head := person(headU, "vi")
	chat := private(headU)
	h.apply(h.text(head, chat, "/suadonvi "+tr.child.Code+" | tên | Hội LHPN xã Thái Bình (mới)"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Đã cập nhật") {
		t.Fatalf("rename: %q", r.Action.Text)
	}
	if u, _ := h.unitByCode(t, tr.child.Code); u.Name != "Hội LHPN xã Thái Bình (mới)" {
		t.Errorf("name %q", u.Name)
	}
	// Moving the province MTTQ under its own child is refused.
	h.apply(h.text(person(adminID, "vi"), private(adminID), "/suadonvi 08-MTTQ | cap tren | "+tr.child.Code))
	if r := h.one(); !strings.Contains(r.Action.Text, "Không thể chuyển") {
		t.Errorf("cycle: %q", r.Action.Text)
	}
	// The wizard: choose the field with a button, then type.
	h.apply(h.text(head, chat, "/suadonvi "+tr.child.Code))
	q := h.one()
	if len(q.Action.Buttons) != 2 {
		t.Fatalf("fields: %+v", q.Action)
	}
	h.apply(h.press(head, chat, 9000, q.Action.Buttons[1][1].Data)) // Địa bàn
	h.outbox()
	h.apply(h.text(head, chat, "02494/Thôn Cầu Trôi"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Thôn Cầu Trôi › Thái Bình › Tuyên Quang") {
		t.Errorf("place: %q", r.Action.Text)
	}
	// A head of a sibling may not edit it.
	h.apply(h.text(person(headS, "vi"), private(headS), "/suadonvi "+tr.child.Code+" | tên | X"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Chỉ trưởng đơn vị") {
		t.Errorf("sibling head editing: %q", r.Action.Text)
	}
}

// TestRoleTable runs every registered command against every persona, in a
// private chat and in a group, and checks the router and handlers allow
// exactly what the command's declared permission and target allow.
func TestRoleTable(t *testing.T) {
	personas := []struct {
		name string
		user *User
		anon bool
	}{
		{"admin", person(adminID, "vi"), false},
		{"head of this unit", person(headU, "vi"), false},
		{"head of a sibling", person(headS, "vi"), false},
		{"head of the parent", person(headP, "vi"), false},
		{"member", person(memberU, "vi"), false},
		{"stranger", person(strangerID, "vi"), false},
		{"anonymous admin", &User{ID: groupAnonymousBotID, FirstName: "Group", IsBot: true}, true},
	}
	// who may use each command on unit U (the tree's 02494-MTTQ), written
	// out by hand: a wrong declaration at registration fails here.
	const (
		all     = "admin,head of this unit,head of a sibling,head of the parent,member,stranger,anonymous admin"
		people  = "admin,head of this unit,head of a sibling,head of the parent,member,stranger"
		headsOf = "admin,head of this unit,head of the parent"
	)
	who := map[string]string{
		cmdStart: all, cmdHelp: all, cmdID: all, cmdCancel: people, cmdLanguage: people, cmdUnits: people,
		cmdAddUnit: headsOf, cmdEditUnit: headsOf, cmdDeleteUnit: "admin,head of the parent",
		cmdInvite: headsOf, cmdRevokeInvite: "admin,head of this unit,head of a sibling,head of the parent",
		cmdMembers: headsOf + ",member", cmdRemoveMember: headsOf, cmdLeave: headsOf + ",member",
		cmdGrant: "admin", cmdRevoke: "admin", cmdLink: headsOf, cmdUnlink: headsOf,
		cmdAnnounce: headsOf, cmdAuditLog: "admin", cmdErase: people,
	}
	// allowed is the expected outcome, from the declaration.
	allowed := func(cmd *Command, persona string) bool {
		switch cmd.Perm {
		case Anyone:
			return true
		case Person:
			return persona != "anonymous admin"
		case Admin:
			return persona == "admin"
		case Head:
			switch cmd.On {
			case NoTarget:
				return strings.HasPrefix(persona, "head") || persona == "admin"
			case TargetUnit:
				return persona == "admin" || persona == "head of this unit" || persona == "head of the parent"
			case TargetParent:
				return persona == "admin" || persona == "head of the parent"
			}
		case Member:
			switch cmd.On {
			case NoTarget:
				return persona != "stranger" && persona != "anonymous admin"
			case TargetUnit:
				return persona == "admin" || persona == "head of this unit" || persona == "head of the parent" || persona == "member"
			}
		}
		t.Fatalf("no expectation for /%s (%v on %v)", cmd.Name, cmd.Perm, cmd.On)
		return false
	}
	for _, chatKind := range []string{store.ChatPrivate, store.ChatSupergroup} {
		for _, cmd := range (&Bot{}).registeredFor(t) {
			for _, p := range personas {
				t.Run(fmt.Sprintf("%s/%s/%s", chatKind, cmd.Name, p.name), func(t *testing.T) {
					h := newHarness(t)
					tr := buildTree(t, h)
					args := map[string]string{
						cmdEditUnit: tr.unit.Code, cmdDeleteUnit: tr.unit.Code, cmdInvite: tr.unit.Code,
						cmdMembers: tr.unit.Code, cmdRemoveMember: tr.unit.Code + " | " + fmt.Sprint(memberU),
						cmdLeave: tr.unit.Code, cmdGrant: "5555", cmdRevoke: "5555", cmdUnits: "thai binh",
						cmdAddUnit: "Chi hội | phunu | " + tr.unit.Code, cmdLanguage: "vi",
						cmdLink: tr.unit.Code, cmdUnlink: tr.unit.Code, cmdAnnounce: tr.unit.Code + " | Họp giao ban",
					}[cmd.Name]
					chat := private(p.user.ID)
					if chatKind != store.ChatPrivate {
						chat = group
					}
					u := h.text(p.user, chat, strings.TrimSpace("/"+cmd.Name+" "+args))
					if p.anon {
						u.Message.SenderChat = &group
					}
					list, ok := who[cmd.Name]
					if !ok {
						t.Fatalf("/%s has no expectation in the role table", cmd.Name)
					}
					if byHand := strings.Contains(","+list+",", ","+p.name+","); byHand != allowed(cmd, p.name) {
						t.Fatalf("/%s for %s: declared permission (%v on %v) disagrees with the table", cmd.Name, p.name, cmd.Perm, cmd.On)
					}
					want := allowed(cmd, p.name)
					if cmd.Private && chatKind != store.ChatPrivate || cmd.InGroup && chatKind == store.ChatPrivate {
						// In a group it only says "use it privately", to those
						// who pass the first check.
						want = allowed(&Command{Perm: cmd.Perm}, p.name)
					}
					var before int
					h.store.View(ctx, func(tx *store.Tx) error { before = tx.UnitCount(); return nil })
					h.apply(u)
					handler := h.journalHandler(u.ID)
					refused := strings.HasSuffix(handler, ":refused")
					if refused == want {
						t.Errorf("/%s %s by %s: handler %q; want allowed=%v", cmd.Name, args, p.name, handler, want)
					}
					var after int
					h.store.View(ctx, func(tx *store.Tx) error { after = tx.UnitCount(); return nil })
					if refused && after != before {
						t.Errorf("/%s by %s was refused but the units changed: %d → %d", cmd.Name, p.name, before, after)
					}
				})
			}
		}
	}
}

// registeredFor returns the commands a fresh bot registers.
func (*Bot) registeredFor(t *testing.T) []*Command {
	t.Helper()
	return newHarness(t).bot.commands
}

func TestForgedCallbacksAreRefused(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	// A sibling's head gets a unit picker for their own query, then forges
	// the payload to name another unit: the command is refused on it.
	h.store.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.AddUnit(store.Unit{Code: "TT-2", Name: "Ủy ban MTTQ xã Tân Trào", Kind: store.KindMTTQ, Parent: tr.province.ID})
		return err
	})
	sib := person(headS, "vi")
	h.apply(h.text(sib, private(headS), "/moi Ủy ban MTTQ xã Tân Trào"))
	pick := h.one()
	if len(pick.Action.Buttons) < 2 {
		t.Fatalf("picker: %+v", pick.Action)
	}
	code, _, _ := strings.Cut(pick.Action.Buttons[0][0].Data, ":")
	forged := fmt.Sprintf("%s:%d", code, tr.unit.ID)
	u := h.press(sib, private(headS), 9000, forged)
	h.apply(u)
	rows := h.outbox()
	for _, r := range rows {
		if strings.Contains(r.Action.Text, "start=") {
			t.Fatalf("a forged pick produced an invite: %+v", rows)
		}
	}
	if handler := h.journalHandler(u.ID); !strings.HasSuffix(handler, ":refused") {
		t.Errorf("forged pick: handler %q, want refused", handler)
	}
	// Another user's wizard keyboard: refused, and the owner can still use it.
	admin := person(adminID, "vi")
	h.apply(h.text(admin, private(adminID), "/themdonvi Ban X"))
	kinds := h.one()
	h.apply(h.press(sib, private(adminID), 9001, kinds.Action.Buttons[0][0].Data))
	if r := h.one(); r.Action.Kind != store.ActAnswer || !strings.Contains(r.Action.Text, "không có quyền") {
		t.Errorf("press on another's wizard: %+v", r.Action)
	}
	h.apply(h.press(admin, private(adminID), 9001, kinds.Action.Buttons[0][0].Data))
	if last := lastSent(t, h.outbox()); !strings.Contains(last.Action.Text, "cấp trên") {
		t.Errorf("owner's press afterwards: %+v", last)
	}
}

// lastSent returns the last new message among rows.
func lastSent(t *testing.T, rows []store.OutboxRow) store.OutboxRow {
	t.Helper()
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].Action.Kind == store.ActSend || rows[i].Action.Kind == store.ActEditText {
			return rows[i]
		}
	}
	t.Fatalf("no message among %+v", rows)
	return store.OutboxRow{}
}

// TestEveryCallbackRefusesOthersPresses enumerates the registered
// callback handlers: a keyboard made for one person, pressed by another
// (a forwarded message, a group, or forged data), is refused, and the
// token stays valid for its owner.
func TestEveryCallbackRefusesOthersPresses(t *testing.T) {
	h := newHarness(t)
	buildTree(t, h)
	for name := range h.bot.callbacks {
		t.Run(name, func(t *testing.T) {
			code := "tok" + fmt.Sprintf("%09d", len(name))[:9]
			h.store.Update(ctx, func(tx *store.Tx) error {
				return tx.PutToken(store.Token{Code: code, UserID: headU, ChatID: group.ID, Handler: name, Created: h.clock.Now(), Expires: h.clock.Now().Add(time.Hour)})
			})
			for _, p := range []*User{person(strangerID, "vi"), person(headS, "vi"), person(adminID, "vi")} {
				u := h.press(p, group, 9000, code+":x")
				h.apply(u)
				if handler := h.journalHandler(u.ID); !strings.HasSuffix(handler, ":refused") {
					t.Errorf("%s pressing %d's %s keyboard: handler %q, want refused", p.FirstName, headU, name, handler)
				}
			}
			h.outbox()
			h.store.View(ctx, func(tx *store.Tx) error {
				if tok, _ := tx.Token(code); !tok.Used.IsZero() {
					t.Errorf("a refused press used the %s token", name)
				}
				return nil
			})
		})
	}
}
