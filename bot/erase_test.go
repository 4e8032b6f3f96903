package bot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"danvan/names"
	"danvan/store"
)

// The person erased, and another who must not be.
const (
	xuyenID = 937151302469
	yenID   = 815263740011
)

// needle is one form in which a person may be stored.
type needle struct {
	form string
	b    []byte
}

// personNeedles are every form of a person's id the store could hold —
// decimal text, 8-byte big- and little-endian, varint and uvarint — and
// their names as typed and folded.
func personNeedles(id int64, texts ...string) []needle {
	be := binary.BigEndian.AppendUint64(nil, uint64(id))
	le := binary.LittleEndian.AppendUint64(nil, uint64(id))
	out := []needle{
		{"decimal id", []byte(strconv.FormatInt(id, 10))},
		{"big-endian id", be},
		{"little-endian id", le},
		{"uvarint id", binary.AppendUvarint(nil, uint64(id))},
		{"varint id", binary.AppendVarint(nil, id)},
	}
	for _, s := range texts {
		out = append(out, needle{"text " + strconv.Quote(s), []byte(s)})
		if f := names.Fold(s); f != s {
			out = append(out, needle{"folded " + strconv.Quote(f), []byte(f)})
		}
	}
	return out
}

// scanStore walks every bucket, nested ones too, and returns where each
// needle was found: bucket names, keys and values.
func scanStore(t *testing.T, h *harness, needles []needle) []string {
	t.Helper()
	var hits []string
	err := h.store.Walk(func(path []string, k, v []byte) error {
		where := strings.Join(path, "/")
		if where == "" {
			where = "(bucket name)"
		}
		for _, n := range needles {
			for _, p := range path {
				if bytes.Contains([]byte(p), n.b) {
					hits = append(hits, fmt.Sprintf("%s in the bucket name %q", n.form, p))
				}
			}
			if bytes.Contains(k, n.b) {
				hits = append(hits, fmt.Sprintf("%s in %s key %q", n.form, where, k))
			}
			if bytes.Contains(v, n.b) {
				hits = append(hits, fmt.Sprintf("%s in %s key %q value %q", n.form, where, k, v))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// eraseWorld fills the store through every feature for Xuyến (and Yên),
// leaving some rows unsent, as a busy bot would have them.
type eraseWorld struct {
	h          *harness
	tr         tree
	x, y       *User
	xChat      Chat
	yChat      Chat
	groupX     Chat
	groupX2    Chat
	keep       map[uint64]bool // rows left unsent on purpose
	fullName   string
	yFullName  string
	xAuditSeqs []uint64
}

// flush sends every pending row except those kept.
func (w *eraseWorld) flush() {
	w.h.t.Helper()
	for i, r := range w.h.simPending() {
		if !w.keep[r.ID] {
			w.h.simAck(r, 8000+int(r.ID)+i)
		}
	}
}

// keepWhere keeps the pending rows that match.
func (w *eraseWorld) keepWhere(what string, match func(store.OutboxRow) bool) {
	w.h.t.Helper()
	n := 0
	for _, r := range w.h.simPending() {
		if !w.keep[r.ID] && match(r) {
			w.keep[r.ID] = true
			n++
		}
	}
	if n == 0 {
		w.h.t.Fatalf("nothing to keep unsent: %s", what)
	}
}

// announce has the head send an announcement and confirm it.
func (w *eraseWorld) announce(by *User, chat Chat, args string) {
	w.h.t.Helper()
	h := w.h
	h.apply(h.text(by, chat, "/thongbao "+args))
	var q store.OutboxRow
	for _, r := range h.simPending() {
		if !w.keep[r.ID] && len(r.Action.Buttons) > 0 {
			q = r
		}
	}
	if q.ID == 0 {
		h.t.Fatalf("/thongbao %s: no confirmation", args)
	}
	w.flush()
	h.apply(h.press(by, chat, 9500, q.Action.Buttons[0][0].Data))
}

func buildEraseWorld(t *testing.T) *eraseWorld {
	h := newHarness(t)
	w := &eraseWorld{
		h: h, tr: buildTree(t, h), keep: map[uint64]bool{},
		x:        &User{ID: xuyenID, FirstName: "Xuyến", LastName: "Trịnh", Username: "xuyen_tt_2026", LanguageCode: "vi"},
		y:        &User{ID: yenID, FirstName: "Yên", LastName: "Đặng", Username: "yen_dv_2026", LanguageCode: "vi"},
		fullName: "Trịnh Thị Xuyến", yFullName: "Đặng Văn Yên",
		groupX:  Chat{ID: -100661, Kind: store.ChatSupergroup, Title: "Chi hội Phụ nữ thôn Xuân"},
		groupX2: Chat{ID: -100662, Kind: store.ChatSupergroup, Title: "Tổ dân phố 5"},
	}
	w.xChat = Chat{ID: xuyenID, Kind: store.ChatPrivate, Title: "Xuyến Trịnh"}
	w.yChat = Chat{ID: yenID, Kind: store.ChatPrivate, Title: "Yên Đặng"}
	x, y, head, admin := w.x, w.y, person(headU, "vi"), person(adminID, "vi")
	tr := w.tr

	// Links the head makes before anything is left unsent.
	joinUnit := invite(t, h, head, tr.unit.Code)
	headChild := invite(t, h, head, tr.child.Code+" truong")
	joinChild := invite(t, h, head, tr.child.Code)

	// Xuyến writes, joins U with her name and position: the head's notice
	// stays unsent.
	h.apply(h.text(x, w.xChat, "/start"))
	h.apply(h.text(x, w.xChat, "/start "+joinUnit))
	h.apply(h.text(x, w.xChat, w.fullName))
	h.apply(h.text(x, w.xChat, "Cán bộ Mặt trận"))
	w.keepWhere("the join notice", func(r store.OutboxRow) bool {
		return r.ChatID == headU && strings.Contains(r.Action.Text, "<b>Trịnh Thị Xuyến</b> (Cán bộ Mặt trận) đã tham gia")
	})
	w.flush()
	// She becomes the head of the child unit.
	h.apply(h.text(x, w.xChat, "/start "+headChild))
	w.flush()
	if h.role(xuyenID, tr.child.ID) != store.RoleHead {
		t.Fatal("Xuyến is not the child unit's head")
	}
	// Yên joins the child unit: Xuyến, its head, is told (unsent).
	h.apply(h.text(y, w.yChat, "/start "+joinChild))
	h.apply(h.text(y, w.yChat, w.yFullName))
	var skip string
	for _, r := range h.simPending() {
		if r.ChatID == yenID && len(r.Action.Buttons) > 0 {
			skip = r.Action.Buttons[0][0].Data
		}
	}
	w.flush()
	h.apply(h.press(y, w.yChat, 9400, skip))
	w.keepWhere("Yên's join notice to Xuyến", func(r store.OutboxRow) bool {
		return r.ChatID == xuyenID && strings.Contains(r.Action.Text, "Đặng Văn Yên")
	})
	w.flush()

	// The admin makes Xuyến an admin (the reply, naming her, unsent); she
	// makes Yên one.
	h.apply(h.text(admin, private(adminID), "/capquyen "+strconv.Itoa(xuyenID)))
	w.keepWhere("the grant's reply", func(r store.OutboxRow) bool {
		return r.ChatID == adminID && strings.Contains(r.Action.Text, "Trịnh Thị Xuyến")
	})
	h.apply(h.text(x, w.xChat, "/capquyen "+strconv.Itoa(yenID)))
	// She creates a unit and an invite.
	h.apply(h.text(x, w.xChat, "/themdonvi Chi hội Phụ nữ thôn Xuân | phunu | "+tr.child.Code))
	h.apply(h.text(x, w.xChat, "/moi "+tr.child.Code))
	w.flush()

	// She links a group (the confirmation unsent), and asks for another
	// (Telegram has not answered yet).
	h.apply(h.text(x, w.groupX, "/lienket "+tr.child.Code))
	h.simAnswer(h.simQuery(), "administrator")
	w.keepWhere("the link's confirmation", func(r store.OutboxRow) bool {
		return r.ChatID == w.groupX.ID && strings.Contains(r.Action.Text, "Đã liên kết")
	})
	h.apply(h.text(x, w.groupX2, "/lienket "+tr.child.Code))
	w.keepWhere("the unanswered query", func(r store.OutboxRow) bool { return r.Action.Kind == store.ActChatMember })

	// She announces to her unit: the group has it, Yên's copy waits.
	w.announce(x, w.xChat, tr.child.Code+" | Họp chi hội thôn Xuân")
	w.keepWhere("Yên's copy of Xuyến's announcement", func(r store.OutboxRow) bool { return r.FanOut != 0 && r.ChatID == yenID })
	w.flush()

	// The head announces three times: Xuyến receives the first; she is
	// unreachable for the second, whose report names her (unsent); her
	// copy of the third, which names her, waits.
	w.announce(head, private(headU), tr.unit.Code+" | Thông báo số 1")
	w.flush()
	w.flush() // the report
	w.announce(head, private(headU), tr.unit.Code+" | Thông báo số 2")
	h.simBlocked(xuyenID)
	w.flush()
	w.keepWhere("the report naming Xuyến", func(r store.OutboxRow) bool {
		return r.ChatID == headU && strings.Contains(r.Action.Text, "liên hệ trực tiếp: Trịnh Thị Xuyến")
	})
	h.apply(h.text(x, w.xChat, "/id")) // she is back
	w.flush()
	w.announce(head, private(headU), tr.unit.Code+" | Chúc mừng Trịnh Thị Xuyến (@xuyen_tt_2026) nhận giấy khen")
	w.keepWhere("copies of the third announcement", func(r store.OutboxRow) bool {
		return r.FanOut != 0 && (r.ChatID == xuyenID || r.ChatID == yenID || r.ChatID == w.groupX.ID)
	})
	w.flush()
	w.flush() // nothing: the third is not finished

	// A roster and the audit log that show her, unsent.
	h.apply(h.text(head, private(headU), "/thanhvien "+tr.unit.Code))
	w.keepWhere("the roster", func(r store.OutboxRow) bool {
		return r.ChatID == headU && strings.Contains(r.Action.Text, "<code>937151302469</code>")
	})
	h.apply(h.text(admin, private(adminID), "/nhatky"))
	w.keepWhere("the audit log page", func(r store.OutboxRow) bool {
		return r.ChatID == adminID && strings.Contains(r.Action.Text, "Nhật ký")
	})

	// Her keyboards: a confirmation in private and in the group, a wizard.
	h.apply(h.text(x, w.xChat, "/thongbao "+tr.child.Code+" | Nhắc họp"))
	h.apply(h.text(x, w.groupX, "/thongbao "+tr.child.Code+" | Nhắc họp trong nhóm"))
	h.apply(h.text(x, w.xChat, "/ngonngu"))
	w.flush()

	for _, e := range h.simAudit() {
		if e.ActorID == xuyenID {
			w.xAuditSeqs = append(w.xAuditSeqs, e.Seq)
		}
	}
	if len(w.xAuditSeqs) != 5 {
		t.Fatalf("Xuyến has %d audit entries, want 5 (grant, unit, invite, link, announcement)", len(w.xAuditSeqs))
	}
	return w
}

// erase has Xuyến erase her data and sends the goodbye.
func (w *eraseWorld) erase(t *testing.T) string {
	t.Helper()
	h := w.h
	h.apply(h.text(w.x, w.xChat, "/xoadulieu"))
	var q store.OutboxRow
	for _, r := range h.simPending() {
		if r.ChatID == xuyenID && len(r.Action.Buttons) > 0 {
			q = r
		}
	}
	if len(q.Action.Buttons) != 1 || q.Action.Buttons[0][0].Text != "Xóa dữ liệu" || q.Action.Buttons[0][1].Text != "Hủy" ||
		!strings.Contains(q.Action.Text, "Quyền quản trị của anh/chị cũng bị thu hồi") {
		t.Fatalf("question %+v, want Xóa dữ liệu / Hủy, telling an admin she loses the rights", q.Action)
	}
	w.flush()
	h.apply(h.press(w.x, w.xChat, 9600, q.Action.Buttons[0][0].Data))
	var goodbye []store.OutboxRow
	for _, r := range h.simPending() {
		if r.ChatID == xuyenID {
			goodbye = append(goodbye, r)
		}
	}
	if len(goodbye) != 2 || goodbye[0].Action.Kind != store.ActEditText || goodbye[0].Action.MessageID != 9600 ||
		!strings.Contains(goodbye[0].Action.Text, "Đã xóa dữ liệu của anh/chị") || goodbye[1].Action.Kind != store.ActAnswer {
		t.Fatalf("after Xóa dữ liệu: %+v, want the goodbye edit and the answer", goodbye)
	}
	for _, r := range goodbye {
		if !r.Forget {
			t.Errorf("row %+v will leave a record", r)
		}
		h.simAck(r, 9600)
	}
	var pseudonym string
	for _, e := range h.simAudit() {
		if e.Seq == w.xAuditSeqs[0] {
			pseudonym = e.ActorName
		}
	}
	return pseudonym
}

func TestErasureLeavesNoTrace(t *testing.T) {
	w := buildEraseWorld(t)
	h := w.h
	xNeedles := personNeedles(xuyenID, w.fullName, w.x.Username)
	if hits := scanStore(t, h, xNeedles); len(hits) < 10 {
		t.Fatalf("before erasure only %d traces of Xuyến: the scan finds nothing", len(hits))
	}
	auditBefore := len(h.simAudit())

	pseudonym := w.erase(t)
	if !regexp.MustCompile(`^Người dùng #\d+ \(đã xóa dữ liệu\)$`).MatchString(pseudonym) {
		t.Fatalf("Xuyến's audit entries are by %q, want a pseudonym", pseudonym)
	}

	check := func(when string) {
		t.Helper()
		for _, hit := range scanStore(t, h, xNeedles) {
			t.Errorf("%s: %s", when, hit)
		}
		if hits := scanStore(t, h, personNeedles(yenID, w.yFullName, w.y.Username)); len(hits) == 0 {
			t.Errorf("%s: Yên's data is gone too", when)
		}
	}
	check("after erasure")

	// What was waiting for others still goes, without her.
	rows := h.simPending()
	for _, want := range []struct {
		chat int64
		text string
	}{
		{headU, "<b>" + pseudonym + "</b> (Cán bộ Mặt trận) đã tham gia"},
		{headU, "liên hệ trực tiếp: " + pseudonym},
		{adminID, "Đã cấp quyền quản trị cho <b>" + pseudonym + "</b> (<code>" + pseudonym + "</code>)"},
		{w.groupX.ID, "Đã liên kết"},
	} {
		if _, ok := rowTo(rows, want.chat, want.text); !ok {
			t.Errorf("no pending row for %d with %q", want.chat, want.text)
		}
	}
	for _, r := range rows {
		if r.ChatID == xuyenID || r.Action.UserID == xuyenID {
			t.Errorf("a row for Xuyến is still queued: %+v", r)
		}
	}

	// The audit log keeps her entries under the pseudonym.
	entries := h.simAudit()
	if len(entries) != auditBefore {
		t.Errorf("%d audit entries after erasure, want %d", len(entries), auditBefore)
	}
	bySeq := map[uint64]store.AuditEntry{}
	for _, e := range entries {
		bySeq[e.Seq] = e
	}
	for _, seq := range w.xAuditSeqs {
		if e := bySeq[seq]; e.ActorID != 0 || e.ActorName != pseudonym {
			t.Errorf("entry %d: %+v, want it kept under %q", seq, e, pseudonym)
		}
	}
	var granted bool
	for _, e := range entries {
		if e.Action == store.AuditAdminGrant && e.ActorID == adminID && e.SubjectID == 0 && e.Target == pseudonym+" — "+pseudonym {
			granted = true
		}
	}
	if !granted {
		t.Errorf("the grant to Xuyến is not kept under the pseudonym: %+v", entries)
	}

	// Everything left is sent: the head's third announcement finishes and
	// is reported; nothing is sent to Xuyến, not even her own report.
	for range 3 {
		for _, r := range h.simPending() {
			if r.Action.Kind == store.ActChatMember {
				t.Errorf("a query about Xuyến was sent after erasure: %+v", r)
			}
			if r.ChatID == xuyenID {
				t.Errorf("a row for Xuyến after erasure: %+v", r)
			}
			h.simAck(r, 9700)
		}
	}
	if rows := h.simPending(); len(rows) != 0 {
		t.Errorf("still pending: %+v", rows)
	}
	h.store.View(ctx, func(tx *store.Tx) error {
		for id := uint64(1); id <= 4; id++ {
			if f, err := tx.FanOut(id); err != nil || f.Finished.IsZero() || f.Settled() != f.Total {
				t.Errorf("fan-out %d: %+v, %v; want it finished, its report sent", id, f, err)
			}
		}
		return nil
	})
	check("after everything was sent")

	// Yên keeps what is hers.
	h.store.View(ctx, func(tx *store.Tx) error {
		if u, err := tx.User(yenID); err != nil || u.FullName != w.yFullName {
			t.Errorf("Yên's record: %+v, %v", u, err)
		}
		if !tx.IsStoredAdmin(yenID) || tx.RoleIn(yenID, w.tr.child.ID) != store.RoleMember {
			t.Errorf("Yên lost her rights or membership")
		}
		if tx.IsStoredAdmin(xuyenID) || len(tx.UserUnits(xuyenID)) != 0 {
			t.Errorf("Xuyến is still an admin or in a unit")
		}
		for _, l := range tx.ChatLinks(w.groupX.ID) {
			if l.LinkedBy != 0 {
				t.Errorf("link %+v still names who linked it", l)
			}
		}
		return nil
	})

	// She writes again: a new person.
	x := person(xuyenID, "vi")
	for _, tt := range []struct{ text, want, not string }{
		{"/start", "Xin chào Người Dùng", "quản trị viên</b>"},
		{"/donvi", "Anh/chị chưa thuộc đơn vị nào", ""},
		{"/nhatky", "chỉ dành cho quản trị viên", "Nhật ký"},
	} {
		h.apply(h.text(x, private(xuyenID), tt.text))
		r := h.one()
		if !strings.Contains(r.Action.Text, tt.want) || tt.not != "" && strings.Contains(r.Action.Text, tt.not) {
			t.Errorf("%s after erasure: %q, want %q", tt.text, r.Action.Text, tt.want)
		}
	}
}

func TestEraseCancelledKeepsEverything(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	who := person(memberU, "vi")
	h.apply(h.text(who, private(memberU), "/xoadulieu"))
	q := h.one()
	h.apply(h.press(who, private(memberU), 9000, q.Action.Buttons[0][1].Data))
	if r := lastSent(t, h.outbox()); !strings.Contains(r.Action.Text, "Đã hủy") {
		t.Errorf("Hủy: %q", r.Action.Text)
	}
	if h.role(memberU, tr.unit.ID) != store.RoleMember {
		t.Error("Hủy erased the membership")
	}
	h.apply(h.text(who, group, "/xoadulieu"))
	if r := h.one(); r.ChatID != group.ID || !strings.Contains(r.Action.Text, "tin nhắn riêng") {
		t.Errorf("/xoadulieu in a group: %q, want it refused there", r.Action.Text)
	}
}

// TestErasureKeepsOthersText checks that a short Telegram name is not
// scrubbed out of text that is not about the person: the province keeps
// its name in the audit log.
func TestErasureKeepsOthersText(t *testing.T) {
	h := newHarness(t)
	buildTree(t, h)
	binh := &User{ID: 6020, FirstName: "Bình", LanguageCode: "vi"}
	admin := person(adminID, "vi")
	h.apply(h.text(binh, private(binh.ID), "/start"))
	h.apply(h.text(admin, private(adminID), "/capquyen 6020"))
	h.apply(h.text(admin, private(adminID), "/suadonvi 02494-MTTQ | tên | Ủy ban MTTQ xã Thái Bình mới"))
	h.apply(h.text(admin, private(adminID), "/moi 02494-MTTQ"))
	h.outbox()
	h.apply(h.text(binh, private(binh.ID), "/xoadulieu"))
	q := h.one()
	h.apply(h.press(binh, private(binh.ID), 9000, q.Action.Buttons[0][0].Data))
	h.outbox()
	for _, e := range h.simAudit() {
		if e.Action == store.AuditAdminGrant {
			if strings.Contains(e.Target, "Bình") || strings.Contains(e.Target, "6020") {
				t.Errorf("grant entry %+v still names the person", e)
			}
			continue
		}
		if !strings.Contains(e.Target, "Thái Bình") {
			t.Errorf("entry %+v: the unit's name was scrubbed with the person's", e)
		}
	}
}
