package bot

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"danvan/store"
)

// The tests of groups, announcements, the audit log and erasure play the
// sender themselves with the sim* helpers below: they take rows from the
// outbox and settle each the way Telegram would have answered.

// simPending returns the rows waiting in the outbox, leaving them there.
func (h *harness) simPending() []store.OutboxRow {
	h.t.Helper()
	var rows []store.OutboxRow
	err := h.store.View(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.PendingOutbox(0, 100000)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return rows
}

// simReplies acknowledges and returns the pending rows that are not
// fan-out copies, leaving the copies waiting.
func (h *harness) simReplies() []store.OutboxRow {
	h.t.Helper()
	var rows []store.OutboxRow
	for _, r := range h.simPending() {
		if r.FanOut == 0 {
			h.simAck(r, 9000+len(rows))
			rows = append(rows, r)
		}
	}
	return rows
}

// simAnswer answers a getChatMember query row as Telegram would: the
// person's status in the group, or "" when it could not say.
func (h *harness) simAnswer(r store.OutboxRow, status string) {
	h.t.Helper()
	if err := h.store.Update(ctx, func(tx *store.Tx) error { return tx.AnswerQuery(r, status, h.clock.Now()) }); err != nil {
		h.t.Fatalf("answer query row %d: %v", r.ID, err)
	}
}

// simAck records that Telegram accepted the row as message msgID.
func (h *harness) simAck(r store.OutboxRow, msgID int) {
	h.t.Helper()
	if err := h.store.Update(ctx, func(tx *store.Tx) error { return tx.AckOutbox(r, msgID, h.clock.Now()) }); err != nil {
		h.t.Fatalf("ack row %d: %v", r.ID, err)
	}
}

// simBlocked records that Telegram refused to deliver to the chat.
func (h *harness) simBlocked(chatID int64) {
	h.t.Helper()
	err := h.store.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.MarkUnreachable(chatID, "Forbidden: bot was blocked by the user", h.clock.Now())
		return err
	})
	if err != nil {
		h.t.Fatalf("mark %d unreachable: %v", chatID, err)
	}
}

// simQuery returns the one pending getChatMember query row, failing the
// test when there is not exactly one.
func (h *harness) simQuery() store.OutboxRow {
	h.t.Helper()
	var queries []store.OutboxRow
	for _, r := range h.simPending() {
		if r.Action.Kind == store.ActChatMember {
			queries = append(queries, r)
		}
	}
	if len(queries) != 1 {
		h.t.Fatalf("got %d getChatMember queries, want 1: %+v", len(queries), queries)
	}
	return queries[0]
}

// simLink links the group to the unit through the bot: /lienket, the
// query answered "administrator", every row sent.
func (h *harness) simLink(by *User, chat Chat, code string) {
	h.t.Helper()
	h.apply(h.text(by, chat, "/lienket "+code))
	h.simAnswer(h.simQuery(), "administrator")
	rows := h.outbox()
	if !slices.ContainsFunc(rows, func(r store.OutboxRow) bool { return strings.Contains(r.Action.Text, "Đã liên kết") }) {
		h.t.Fatalf("/lienket %s in %q: %+v, want it linked", code, chat.Title, rows)
	}
}

// simMemberChange builds a my_chat_member update: the bot's status in the
// chat went from old to new.
func (h *harness) simMemberChange(chat Chat, by *User, old, new string) Update {
	h.next++
	return Update{ID: h.next, MemberChange: &MemberChange{
		Chat: chat, From: *by, OldStatus: old, NewStatus: new, Date: h.clock.Now(),
	}}
}

// simAudit returns the whole audit log, oldest first.
func (h *harness) simAudit() []store.AuditEntry {
	h.t.Helper()
	var entries []store.AuditEntry
	err := h.store.View(ctx, func(tx *store.Tx) error {
		var err error
		entries, err = tx.AuditLog(0, 1<<30)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	slices.Reverse(entries)
	return entries
}

// simLinks returns the links of a unit and of a chat.
func (h *harness) simLinks(unitID uint64, chatID int64) (unitLinks, chatLinks []store.Link) {
	h.store.View(ctx, func(tx *store.Tx) error {
		unitLinks, chatLinks = tx.UnitLinks(unitID), tx.ChatLinks(chatID)
		return nil
	})
	return unitLinks, chatLinks
}

// rowTo returns the first row for the chat whose text contains want.
func rowTo(rows []store.OutboxRow, chatID int64, want string) (store.OutboxRow, bool) {
	for _, r := range rows {
		if r.ChatID == chatID && strings.Contains(r.Action.Text, want) {
			return r, true
		}
	}
	return store.OutboxRow{}, false
}

func TestLinkGroupAsksTelegramFirst(t *testing.T) {
	tests := []struct {
		name    string
		by      int64
		status  string // what getChatMember answers
		linked  bool
		wantMsg string
	}{
		{"head, group administrator", headU, "administrator", true, "Đã liên kết nhóm <b>Chi hội Phụ nữ thôn 3</b> với <b>Ủy ban MTTQ xã Thái Bình</b>"},
		{"head above, group creator", headP, "creator", true, "Đã liên kết nhóm"},
		{"admin, group administrator", adminID, "administrator", true, "Đã liên kết nhóm"},
		{"head, plain group member", headU, "member", false, "Chỉ quản trị viên của nhóm này mới liên kết được"},
		{"admin, plain group member", adminID, "member", false, "Chỉ quản trị viên của nhóm này mới liên kết được"},
		{"head, Telegram could not say", headU, "", false, "Chưa kiểm tra được quyền của anh/chị trong nhóm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tr := buildTree(t, h)
			by := person(tt.by, "vi")
			cmd := h.text(by, group, "/lienket "+tr.unit.Code)
			h.apply(cmd)

			q := h.simQuery()
			if q.ChatID != group.ID || q.Action.UserID != tt.by {
				t.Errorf("query row asks about %d in chat %d, want %d in the group %d", q.Action.UserID, q.ChatID, tt.by, group.ID)
			}
			if rows := h.simPending(); len(rows) != 1 {
				t.Errorf("got %d rows before the answer, want only the query: %+v", len(rows), rows)
			}
			if ul, cl := h.simLinks(tr.unit.ID, group.ID); len(ul)+len(cl) != 0 {
				t.Fatalf("linked before Telegram answered: %+v %+v", ul, cl)
			}

			h.simAnswer(q, tt.status)
			rows := h.outbox()
			r, ok := rowTo(rows, group.ID, tt.wantMsg)
			if !ok {
				t.Fatalf("after the answer %q: %+v, want a reply in the group containing %q", tt.status, rows, tt.wantMsg)
			}
			if r.Action.ReplyTo != cmd.Message.ID {
				t.Errorf("reply threaded under %d, want the command %d", r.Action.ReplyTo, cmd.Message.ID)
			}
			if len(rows) != 1 {
				t.Errorf("got %d rows after the answer, want 1: %+v", len(rows), rows)
			}

			ul, cl := h.simLinks(tr.unit.ID, group.ID)
			var entries []store.AuditEntry
			for _, e := range h.simAudit() {
				if e.Action == store.AuditGroupLink {
					entries = append(entries, e)
				}
			}
			if !tt.linked {
				if len(ul)+len(cl) != 0 || len(entries) != 0 {
					t.Errorf("got links %+v %+v and audit %+v, want none", ul, cl, entries)
				}
				return
			}
			if len(ul) != 1 || ul[0].ChatID != group.ID || ul[0].Title != group.Title || ul[0].LinkedBy != tt.by || ul[0].Broken {
				t.Errorf("unit links %+v, want the group linked by %d", ul, tt.by)
			}
			if len(cl) != 1 || cl[0].UnitID != tr.unit.ID {
				t.Errorf("chat links %+v, want unit %d", cl, tr.unit.ID)
			}
			if len(entries) != 1 || entries[0].ActorID != tt.by || entries[0].ActorName != "Người Dùng" ||
				!strings.Contains(entries[0].Target, tr.unit.Code) || entries[0].Detail != group.Title {
				t.Errorf("audit %+v, want one group.link by %d on %s", entries, tt.by, tr.unit.Code)
			}
		})
	}
}

func TestLinkGroupRefusedBeforeAsking(t *testing.T) {
	tests := []struct {
		name string
		by   int64
		chat func(int64) Chat
		want string
	}{
		{"head of a sibling", headS, func(int64) Chat { return group }, "Chỉ trưởng đơn vị"},
		{"member of the unit", memberU, func(int64) Chat { return group }, "Chỉ trưởng đơn vị"},
		{"stranger", strangerID, func(int64) Chat { return group }, "Chỉ trưởng đơn vị"},
		{"head in a private chat", headU, private, "Lệnh này dùng trong nhóm cần liên kết"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tr := buildTree(t, h)
			chat := tt.chat(tt.by)
			h.apply(h.text(person(tt.by, "vi"), chat, "/lienket "+tr.unit.Code))
			rows := h.outbox()
			if len(rows) != 1 || rows[0].Action.Kind != store.ActSend || rows[0].ChatID != chat.ID || !strings.Contains(rows[0].Action.Text, tt.want) {
				t.Fatalf("got %+v, want one reply containing %q and no query", rows, tt.want)
			}
			if ul, cl := h.simLinks(tr.unit.ID, chat.ID); len(ul)+len(cl) != 0 {
				t.Errorf("links %+v %+v, want none", ul, cl)
			}
			if a := h.simAudit(); len(a) != 0 {
				t.Errorf("audit %+v, want nothing", a)
			}
		})
	}
}

func TestUnlinkGroupAndUnitsShowLinks(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	head := person(headU, "vi")
	h.simLink(head, group, tr.unit.Code)

	h.apply(h.text(head, private(headU), "/donvi"))
	if r := h.one(); !strings.Contains(r.Action.Text, "Ủy ban MTTQ xã Thái Bình</b> (<code>02494-MTTQ</code>)") ||
		!strings.Contains(r.Action.Text, "1 nhóm liên kết") || strings.Count(r.Action.Text, "nhóm liên kết") != 1 {
		t.Errorf("/donvi after linking: %q, want “1 nhóm liên kết” on the unit only", r.Action.Text)
	}

	steps := []struct {
		text      string
		want      string
		linked    bool
		auditRows int
	}{
		{"/huylienket " + tr.unit.Code, "Đã hủy liên kết nhóm này với <b>Ủy ban MTTQ xã Thái Bình</b>", false, 2},
		{"/huylienket " + tr.unit.Code, "Nhóm này chưa liên kết với <b>Ủy ban MTTQ xã Thái Bình</b>", false, 2},
	}
	for i, s := range steps {
		t.Run(fmt.Sprintf("step %d", i+1), func(t *testing.T) {
			h.apply(h.text(head, group, s.text))
			if r := h.one(); r.ChatID != group.ID || !strings.Contains(r.Action.Text, s.want) {
				t.Errorf("%s: %+v, want %q in the group", s.text, r, s.want)
			}
			if ul, cl := h.simLinks(tr.unit.ID, group.ID); (len(ul) > 0 || len(cl) > 0) != s.linked {
				t.Errorf("links %+v %+v, want linked=%v", ul, cl, s.linked)
			}
			a := h.simAudit()
			if len(a) != s.auditRows {
				t.Fatalf("got %d audit entries, want %d: %+v", len(a), s.auditRows, a)
			}
			last := a[len(a)-1]
			if last.Action != store.AuditGroupUnlink || last.ActorID != headU || last.Detail != group.Title {
				t.Errorf("last audit entry %+v, want group.unlink by %d", last, headU)
			}
		})
	}

	h.apply(h.text(head, private(headU), "/donvi"))
	if r := h.one(); strings.Contains(r.Action.Text, "nhóm liên kết") {
		t.Errorf("/donvi after unlinking: %q, want no linked group", r.Action.Text)
	}
}

func TestBotRemovedFromLinkedGroup(t *testing.T) {
	h := newHarness(t)
	tr := buildTree(t, h)
	head := person(headU, "vi")
	// The group is linked to the unit and to its child, which has no heads
	// of its own: the unit's head hears about both.
	h.simLink(head, group, tr.unit.Code)
	h.simLink(head, group, tr.child.Code)
	owner := person(strangerID, "vi")

	h.apply(h.simMemberChange(group, owner, "member", "kicked"))
	_, cl := h.simLinks(tr.unit.ID, group.ID)
	if len(cl) != 2 {
		t.Fatalf("chat links %+v, want 2", cl)
	}
	for _, l := range cl {
		if !l.Broken || l.BrokenAt.IsZero() {
			t.Errorf("link to unit %d after the bot was removed: %+v, want broken", l.UnitID, l)
		}
	}
	rows := h.outbox()
	for _, unit := range []string{tr.unit.Name, tr.child.Name} {
		want := "Bot đã bị xóa khỏi nhóm <b>Chi hội Phụ nữ thôn 3</b>, nên thông báo của <b>" + unit + "</b>"
		if _, ok := rowTo(rows, headU, want); !ok {
			t.Errorf("the head was not told %q: %+v", want, rows)
		}
	}
	if len(rows) != 2 {
		t.Errorf("got %d rows, want the two notices to the head: %+v", len(rows), rows)
	}
	for _, r := range rows {
		if r.ChatID == group.ID {
			t.Errorf("a message for the group the bot left: %+v", r)
		}
	}
	// Banned after it left: the heads were told already.
	h.apply(h.simMemberChange(group, owner, "left", "kicked"))
	if rows := h.outbox(); len(rows) != 0 {
		t.Errorf("second removal: %+v, want the heads told only once", rows)
	}

	// /donvi no longer counts it, and an announcement leaves it out.
	h.apply(h.text(head, private(headU), "/donvi"))
	if r := h.one(); strings.Contains(r.Action.Text, "nhóm liên kết") {
		t.Errorf("/donvi counts a broken link: %q", r.Action.Text)
	}
	h.apply(h.text(head, private(headU), "/thongbao "+tr.unit.Code+" | Họp giao ban"))
	q := h.one()
	if !strings.Contains(q.Action.Text, "tới <b>1</b> người?") {
		t.Fatalf("confirmation %q, want 1 person and no group", q.Action.Text)
	}
	h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
	for _, r := range h.outbox() {
		if r.FanOut != 0 && r.ChatID != memberU {
			t.Errorf("announcement copy to %d, want only the member %d", r.ChatID, memberU)
		}
	}
	h.outbox() // the report

	// Added back: the links are whole again and the group is told which.
	h.apply(h.simMemberChange(group, owner, "left", "member"))
	_, cl = h.simLinks(tr.unit.ID, group.ID)
	for _, l := range cl {
		if l.Broken || !l.BrokenAt.IsZero() {
			t.Errorf("link to unit %d after the bot came back: %+v, want whole", l.UnitID, l)
		}
	}
	r := h.one()
	if r.ChatID != group.ID || !strings.Contains(r.Action.Text, "<b>Ủy ban MTTQ xã Thái Bình</b>, <b>Hội LHPN xã Thái Bình</b> đã được khôi phục") {
		t.Errorf("greeting %+v, want the restored units named in the group", r)
	}
	h.apply(h.text(head, private(headU), "/donvi"))
	if r := h.one(); strings.Count(r.Action.Text, "1 nhóm liên kết") != 2 {
		t.Errorf("/donvi after the bot came back: %q, want both units linked", r.Action.Text)
	}
}

func TestBotAddedToGroups(t *testing.T) {
	other := Chat{ID: -100888, Kind: store.ChatSupergroup, Title: "Tổ dân phố 5"}
	owner := person(strangerID, "vi")
	tests := []struct {
		name     string
		old, new string
		want     string // "" for no message
	}{
		{"added as member", "left", "member", "<code>/lienket@danvan_test_bot &lt;mã đơn vị&gt;</code>"},
		{"added as administrator", "left", "administrator", "/lienket@danvan_test_bot"},
		{"kicked earlier, added again", "kicked", "member", "/lienket@danvan_test_bot"},
		{"promoted to administrator", "member", "administrator", ""},
		{"demoted to member", "administrator", "member", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.apply(h.simMemberChange(other, owner, tt.old, tt.new))
			rows := h.outbox()
			if tt.want == "" {
				if len(rows) != 0 {
					t.Errorf("got %+v, want no greeting when the bot was already in the group", rows)
				}
			} else if len(rows) != 1 || rows[0].ChatID != other.ID || !strings.Contains(rows[0].Action.Text, tt.want) {
				t.Errorf("got %+v, want a greeting in the group containing %q", rows, tt.want)
			}
			h.store.View(ctx, func(tx *store.Tx) error {
				if c, err := tx.Chat(other.ID); err != nil || c.Title != other.Title || c.Kind != store.ChatSupergroup {
					t.Errorf("registry %+v, %v; want the group recorded", c, err)
				}
				return nil
			})
		})
	}
}

func TestPersonBlocksAndUnblocksTheBot(t *testing.T) {
	h := newHarness(t)
	who := person(userID, "vi")
	h.apply(h.text(who, private(userID), "/id"))
	h.outbox()
	reachable := func() (bool, int) {
		var c store.Chat
		var n int
		h.store.View(ctx, func(tx *store.Tx) error { c, _ = tx.Chat(userID); n = tx.CountUnreachable(); return nil })
		return !c.Unreachable, n
	}
	steps := []struct {
		status        string
		wantReachable bool
		wantCount     int
	}{
		{"kicked", false, 1},
		{"member", true, 0},
		{"kicked", false, 1},
	}
	for _, s := range steps {
		h.apply(h.simMemberChange(private(userID), who, "", s.status))
		if got, n := reachable(); got != s.wantReachable || n != s.wantCount {
			t.Errorf("after %q: reachable %v (count %d), want %v (%d)", s.status, got, n, s.wantReachable, s.wantCount)
		}
		if rows := h.outbox(); len(rows) != 0 {
			t.Errorf("after %q: %+v, want nothing sent", s.status, rows)
		}
	}
	// A message for a chat that blocked the bot is settled at once.
	h.store.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Enqueue(store.OutboxRow{ChatID: userID, Action: store.Action{Kind: store.ActSend, Text: "x"}, Created: h.clock.Now()})
		return err
	})
	if rows := h.simPending(); len(rows) != 0 {
		t.Errorf("pending for a blocked chat: %+v", rows)
	}
}

func TestSupergroupMigrationKeepsLinks(t *testing.T) {
	old := Chat{ID: -555, Kind: store.ChatGroup, Title: "Chi đoàn thôn 2"}
	const newID = -100555
	tests := []struct {
		name    string
		migrate func(h *harness)
	}{
		{"service message in the old group", func(h *harness) {
			u := h.text(person(userID, "vi"), old, "")
			u.Message.Kind, u.Message.MigrateToChatID = KindService, newID
			h.apply(u)
		}},
		{"service message in the supergroup", func(h *harness) {
			u := h.text(person(userID, "vi"), Chat{ID: newID, Kind: store.ChatSupergroup, Title: old.Title}, "")
			u.Message.Kind, u.Message.MigrateFromChatID = KindService, old.ID
			h.apply(u)
		}},
		{"error answer to a send", func(h *harness) {
			// What the sender does on "400: group chat was upgraded".
			err := h.store.Update(ctx, func(tx *store.Tx) error {
				_, err := tx.MigrateChat(old.ID, newID, h.clock.Now())
				return err
			})
			if err != nil {
				h.t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tr := buildTree(t, h)
			head := person(headU, "vi")
			h.simLink(head, old, tr.unit.Code)
			h.simLink(head, old, tr.child.Code)
			// A reply waits for the old group.
			h.apply(h.text(head, old, "/id"))

			tt.migrate(h)

			for _, unit := range []store.Unit{tr.unit, tr.child} {
				ul, cl := h.simLinks(unit.ID, old.ID)
				if len(cl) != 0 {
					t.Errorf("the old group still has links: %+v", cl)
				}
				if len(ul) != 1 || ul[0].ChatID != newID || ul[0].LinkedBy != headU || ul[0].Title != old.Title {
					t.Errorf("links of %s: %+v, want the supergroup", unit.Code, ul)
				}
			}
			if _, cl := h.simLinks(tr.unit.ID, newID); len(cl) != 2 {
				t.Errorf("the supergroup has links %+v, want both units", cl)
			}
			rows := h.simPending()
			if len(rows) != 1 || rows[0].ChatID != newID || !strings.Contains(rows[0].Action.Text, "-555") {
				t.Errorf("pending %+v, want the /id reply moved to the supergroup", rows)
			}
			h.outbox()

			// An announcement reaches the supergroup once.
			h.apply(h.text(head, private(headU), "/thongbao "+tr.unit.Code+" | Họp chi đoàn"))
			q := h.one()
			if !strings.Contains(q.Action.Text, "<b>1</b> người và <b>1</b> nhóm") {
				t.Errorf("confirmation %q, want 1 person and 1 group", q.Action.Text)
			}
			h.apply(h.press(head, private(headU), 9000, q.Action.Buttons[0][0].Data))
			var chats []int64
			for _, r := range h.outbox() {
				if r.FanOut != 0 {
					chats = append(chats, r.ChatID)
				}
			}
			slices.Sort(chats)
			if want := []int64{newID, memberU}; !slices.Equal(chats, want) {
				t.Errorf("announcement went to %v, want %v", chats, want)
			}
		})
	}
}
