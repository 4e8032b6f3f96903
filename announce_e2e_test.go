package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"danvan/config"
	"danvan/store"
	"danvan/telegramtest"
)

// End-to-end tests of announcements (/thongbao) and group links
// (/lienket): the whole bot against the emulator, in virtual time at
// Telegram's limits, over loopback, and as the real binary killed
// mid-fan-out.

// headUser heads the unit tree the tests announce to.
var headUser = telegramtest.User{ID: 600001, FirstName: "Hùng", LastName: "Lê", LanguageCode: "vi"}

// prepareStore fills a store file before the bot opens it.
func prepareStore(t *testing.T, path string, fill func(tx *store.Tx) error) {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(context.Background(), fill); err != nil {
		st.Close()
		t.Fatalf("preparing the store: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// addPeople stores the people and adds them to the unit with the role.
func addPeople(tx *store.Tx, unitID uint64, role string, people ...telegramtest.User) error {
	for _, p := range people {
		if err := tx.PutUser(store.User{ID: p.ID, FirstName: p.FirstName, LastName: p.LastName,
			ClientLanguage: p.LanguageCode, FirstSeen: time.Now(), LastSeen: time.Now()}); err != nil {
			return err
		}
		if err := tx.AddMember(unitID, p.ID, role, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// linkGroup registers the group in the store and links it to the units.
func linkGroup(tx *store.Tx, g telegramtest.Chat, units ...uint64) error {
	if err := tx.PutChat(store.Chat{ID: g.ID, Kind: g.Type, Title: g.Title, FirstSeen: time.Now(), LastSeen: time.Now()}); err != nil {
		return err
	}
	for _, u := range units {
		if err := tx.LinkGroup(store.Link{UnitID: u, ChatID: g.ID, Title: g.Title, LinkedBy: headUser.ID, Linked: time.Now()}); err != nil {
			return err
		}
	}
	return nil
}

func person(id int64, i int) telegramtest.User {
	return telegramtest.User{ID: id, FirstName: fmt.Sprintf("Hội viên %d", i), LastName: "Nguyễn", LanguageCode: "vi"}
}

// announcementText is what a recipient's client shows for an
// announcement of the unit.
func announcementText(unit, text string) string { return "📢 " + unit + "\n" + text }

// TestAnnouncementToTwoThousandInVirtualTime announces to a five-unit
// subtree of 2,000 people, many in several units, and a group linked
// twice, with the whole bot in a synctest bubble at Telegram's limits
// (which the emulator enforces too): the confirmation counts each person
// and the group once and leaves the sender out; every recipient gets one
// copy, as fast as the limits allow and without a 429; a second press of
// the confirmation sends nothing; the sender gets the report; the recall
// deletes every copy and says how many.
func TestAnnouncementToTwoThousandInVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limits := telegramtest.Limits{GlobalPerSecond: 30, ChatPerSecond: 1, GroupPerMinute: 20}
		emu := telegramtest.New(telegramtest.Options{Limits: limits})
		defer emu.Close()
		cfg := testConfig(t, "http://telegram.test", emu.Token())
		cfg.Telegram.Limits = config.Default().Telegram.Limits
		if l := cfg.Telegram.Limits; l.GlobalPerSecond != limits.GlobalPerSecond || l.ChatPerSecond != limits.ChatPerSecond || l.GroupPerMinute != limits.GroupPerMinute {
			t.Fatalf("default limits %+v, want Telegram's %+v", l, limits)
		}
		cfg.Log.Level = "info"

		// The tree: the commune's Front committee (H heads it), four
		// organizations under it and a village branch under the women's
		// union. People 0…1999 are spread over the five units below the
		// root; the first 300 are in a second unit too, the first 100 in a
		// third and in the root itself. H is also a member of one unit;
		// person 0 heads the farmers' union. A neighbouring commune's
		// people must hear nothing.
		const people = 2000
		const unitName = "Ủy ban MTTQ xã Thái Bình"
		members := make([]telegramtest.User, people)
		for i := range members {
			members[i] = person(int64(700000+i), i)
		}
		outsiders := make([]telegramtest.User, 10)
		for i := range outsiders {
			outsiders[i] = person(int64(800000+i), 10000+i)
		}
		group := emu.Supergroup(-1009001, "Ban công tác Mặt trận xã Thái Bình")
		lostGroup := emu.Supergroup(-1009002, "Nhóm cũ của Hội CCB") // its link is broken
		otherGroup := emu.Supergroup(-1009003, "Nhóm xã Thái Đô")    // linked outside the subtree
		prepareStore(t, cfg.Store.Path, func(tx *store.Tx) error {
			root, err := tx.AddUnit(store.Unit{Code: "TB-MTTQ", Name: unitName, Kind: store.KindMTTQ})
			if err != nil {
				return err
			}
			var units []uint64
			for _, u := range []store.Unit{
				{Code: "TB-PHUNU", Name: "Hội LHPN xã Thái Bình", Kind: store.KindPhuNu, Parent: root.ID},
				{Code: "TB-ND", Name: "Hội Nông dân xã Thái Bình", Kind: store.KindNongDan, Parent: root.ID},
				{Code: "TB-DTN", Name: "Đoàn Thanh niên xã Thái Bình", Kind: store.KindDoanThanhNien, Parent: root.ID},
				{Code: "TB-CCB", Name: "Hội CCB xã Thái Bình", Kind: store.KindCCB, Parent: root.ID},
			} {
				u, err := tx.AddUnit(u)
				if err != nil {
					return err
				}
				units = append(units, u.ID)
			}
			branch, err := tx.AddUnit(store.Unit{Code: "TB-PHUNU-T3", Name: "Chi hội Phụ nữ thôn 3", Kind: store.KindPhuNu, Parent: units[0]})
			if err != nil {
				return err
			}
			units = append(units, branch.ID)
			if err := addPeople(tx, root.ID, store.RoleHead, headUser); err != nil {
				return err
			}
			if err := addPeople(tx, units[0], store.RoleMember, headUser); err != nil {
				return err
			}
			if err := addPeople(tx, units[1], store.RoleHead, members[0]); err != nil {
				return err
			}
			for i, m := range members {
				in := []uint64{units[i%len(units)]}
				if i < 300 {
					in = append(in, units[(i+1)%len(units)])
				}
				if i < 100 {
					in = append(in, units[(i+2)%len(units)], root.ID)
				}
				for _, u := range in {
					if err := addPeople(tx, u, store.RoleMember, m); err != nil {
						return err
					}
				}
			}
			other, err := tx.AddUnit(store.Unit{Code: "TD-MTTQ", Name: "Ủy ban MTTQ xã Thái Đô", Kind: store.KindMTTQ})
			if err != nil {
				return err
			}
			if err := addPeople(tx, other.ID, store.RoleMember, outsiders...); err != nil {
				return err
			}
			if err := linkGroup(tx, group, root.ID, branch.ID); err != nil {
				return err
			}
			if err := linkGroup(tx, otherGroup, other.ID); err != nil {
				return err
			}
			if err := linkGroup(tx, lostGroup, units[3]); err != nil {
				return err
			}
			_, err = tx.SetLinksBroken(lostGroup.ID, true, time.Now())
			return err
		})
		hchat := emu.Private(headUser)
		for _, u := range slices.Concat(members, outsiders) {
			emu.Private(u)
		}

		logs := &syncBuffer{}
		a, err := newApp(cfg, newLogger(cfg, logs), appOptions{Transport: emu.Transport()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.run(ctx) }()
		defer func() { cancel(); <-done }()

		wait := func(chatID int64, n int) []telegramtest.Message {
			t.Helper()
			wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer wcancel()
			msgs, err := emu.WaitBotMessages(wctx, chatID, n)
			if err != nil {
				t.Fatalf("waiting for %d bot messages in %d: %v (have %d)\n%s", n, chatID, err, len(msgs), tail(logs.String(), 4000))
			}
			return msgs
		}
		answer := func(queryID string) telegramtest.CallbackAnswer {
			t.Helper()
			wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
			defer wcancel()
			ans, err := emu.WaitCallbackAnswer(wctx, queryID)
			if err != nil {
				t.Fatalf("press %s never answered: %v", queryID, err)
			}
			return ans
		}

		// The confirmation: 2,000 people without H, the group once.
		cmd := emu.SendText(headUser, hchat, "/thongbao TB-MTTQ | Họp giao ban")
		conf := wait(hchat.ID, 1)[0]
		if conf.ReplyToID != cmd.ID {
			t.Errorf("confirmation threaded to %d, want %d", conf.ReplyToID, cmd.ID)
		}
		for _, want := range []string{"tới 2.000 người và 1 nhóm?", "Họp giao ban"} {
			if !strings.Contains(conf.Text, want) {
				t.Errorf("confirmation %q lacks %q", conf.Text, want)
			}
		}
		if len(conf.Keyboard) != 1 || len(conf.Keyboard[0]) != 2 || conf.Keyboard[0][0].Text != "Xác nhận" || conf.Keyboard[0][1].Text != "Hủy" {
			t.Fatalf("confirmation keyboard %+v, want Xác nhận / Hủy", conf.Keyboard)
		}
		confirmData := conf.Keyboard[0][0].CallbackData

		pressed := time.Now()
		if ans := answer(emu.Press(headUser, hchat, conf.ID, confirmData)); ans.At.Sub(pressed) > time.Second {
			t.Errorf("Xác nhận answered after %v", ans.At.Sub(pressed))
		}
		// While the fan-out runs, the same keyboard pressed again (a
		// client that has not seen the edit): answered at once, and
		// nothing more is sent (every recipient is counted below).
		time.Sleep(10 * time.Second)
		again := time.Now()
		ans := answer(emu.PressForged(headUser, hchat, conf.ID, confirmData))
		if ans.Text != "Yêu cầu này đã được xử lý." {
			t.Errorf("second Xác nhận answered %q, want it named as handled", ans.Text)
		}
		if d := ans.At.Sub(again); d > time.Second {
			t.Errorf("second Xác nhận answered after %v during the fan-out", d)
		}

		// Every recipient gets the announcement.
		recipients := []int64{group.ID}
		for _, m := range members {
			recipients = append(recipients, m.ID)
		}
		want := announcementText(unitName, "Họp giao ban")
		copies := make(map[int64]telegramtest.Message, len(recipients))
		for _, id := range recipients {
			m := wait(id, 1)[0]
			if m.Text != want {
				t.Fatalf("chat %d got %q, want %q", id, m.Text, want)
			}
			copies[id] = m
		}
		msgs := wait(hchat.ID, 2)
		report := msgs[1]
		for _, want := range []string{"tới 2.001 người nhận", "✅ 2.001 đã nhận"} {
			if !strings.Contains(report.Text, want) {
				t.Errorf("report %q lacks %q", report.Text, want)
			}
		}
		if strings.Contains(report.Text, "lỗi") || strings.Contains(report.Text, "không liên lạc") {
			t.Errorf("report %q names failures", report.Text)
		}

		// Exactly one copy each, none for H, the outsiders or the groups
		// that are not linked (or no longer) to the subtree.
		time.Sleep(time.Minute)
		for _, id := range recipients {
			if n := len(emu.BotMessages(id)); n != 1 {
				t.Errorf("chat %d has %d bot messages, want one announcement", id, n)
			}
		}
		for _, m := range emu.BotMessages(hchat.ID) {
			if strings.HasPrefix(m.Text, "📢") {
				t.Errorf("the sender got a copy of the announcement: %q", m.Text)
			}
		}
		for _, c := range []telegramtest.Chat{lostGroup, otherGroup} {
			if n := len(emu.BotMessages(c.ID)); n != 0 {
				t.Errorf("group %q got %d messages, want none", c.Title, n)
			}
		}
		for _, u := range outsiders {
			if n := len(emu.BotMessages(u.ID)); n != 0 {
				t.Errorf("outsider %d got %d messages, want none", u.ID, n)
			}
		}

		// Pacing: no 429, no window broken, and the fan-out took what the
		// limits make the least. A window [t, t+1s) takes 30 counted
		// requests, so the n counted from the press to the last copy need
		// at least ⌊(n−1)/30⌋ s.
		if n := emu.FloodErrors(); n != 0 {
			t.Errorf("%d requests answered 429", n)
		}
		if n := emu.Violations(limits); n != 0 {
			t.Errorf("%d requests broke Telegram's limits", n)
		}
		var last time.Time
		isCopy := make(map[int64]int, len(copies))
		for id, m := range copies {
			isCopy[id] = m.ID
		}
		for _, r := range emu.SendLog() {
			if id, ok := isCopy[r.ChatID]; ok && r.MessageID == id && r.At.After(last) {
				last = r.At
			}
		}
		counted := 0
		for _, r := range emu.SendLog() {
			if !r.At.Before(pressed) && !r.At.After(last) {
				counted++
			}
		}
		least := time.Duration((counted-1)/limits.GlobalPerSecond) * time.Second
		took := last.Sub(pressed)
		ratio := float64(took) / float64(least)
		t.Logf("%d counted requests from the press to the last copy in %v of virtual time; the limits allow %v at best (ratio %.4f)", counted, took, least, ratio)
		if ratio > 1.02 || ratio < 1 {
			t.Errorf("the fan-out took %v, want within 2%% of %v (ratio %.4f)", took, least, ratio)
		}
		// The confirmation's estimate is right to the second it shows.
		if est, ok := estimateIn(conf.Text); !ok || est > took || took-est >= time.Second {
			t.Errorf("confirmation %q estimates %v (found %v), want the %v it took, to the second", conf.Text, est, ok, took)
		}

		// Recall (well within 48 hours): every copy is deleted, and H is
		// told how many.
		sending, _ := emu.Message(hchat.ID, conf.ID)
		if !strings.Contains(sending.Text, "Đang gửi thông báo") || len(sending.Keyboard) != 1 || len(sending.Keyboard[0]) != 1 || sending.Keyboard[0][0].Text != "Thu hồi" {
			t.Fatalf("after Xác nhận the confirmation reads %q with keyboard %+v, want a Thu hồi button", sending.Text, sending.Keyboard)
		}
		recallData := sending.Keyboard[0][0].CallbackData
		if since := time.Since(pressed); since >= 48*time.Hour {
			t.Fatalf("recalling %v after sending, past Telegram's 48 hours", since)
		}
		answer(emu.Press(headUser, hchat, conf.ID, recallData))
		recalled := wait(hchat.ID, 3)[2]
		if want := "Đã thu hồi thông báo: xóa 2.001 tin."; recalled.Text != want {
			t.Errorf("recall report %q, want %q", recalled.Text, want)
		}
		for id, m := range copies {
			if got, _ := emu.Message(id, m.ID); !got.Deleted {
				t.Errorf("chat %d: the announcement is still there after the recall", id)
			}
		}
		if edited, _ := emu.Message(hchat.ID, conf.ID); !strings.Contains(edited.Text, "Đang thu hồi thông báo: xóa 2.001 tin đã gửi") || len(edited.Keyboard) != 0 {
			t.Errorf("after Thu hồi the message reads %q with keyboard %+v", edited.Text, edited.Keyboard)
		}
		// The recall button works once too.
		if ans := answer(emu.PressForged(headUser, hchat, conf.ID, recallData)); ans.Text != "Yêu cầu này đã được xử lý." {
			t.Errorf("second Thu hồi answered %q", ans.Text)
		}
		sent := emu.Sent()
		time.Sleep(time.Minute)
		if n := emu.Sent(); n != sent {
			t.Errorf("%d more messages sent after everything was done", n-sent)
		}
		if n := len(emu.BotMessages(hchat.ID)); n != 3 {
			t.Errorf("H has %d bot messages, want the confirmation and two reports", n)
		}
		if n := emu.Violations(limits) + emu.FloodErrors(); n != 0 {
			t.Errorf("the recall broke the limits %d times", n)
		}
	})
}

// estimateIn reads the estimate "ước tính: 1 phút 7 giây" of a
// confirmation.
func estimateIn(text string) (time.Duration, bool) {
	_, rest, ok := strings.Cut(text, "ước tính: ")
	if !ok {
		return 0, false
	}
	var d time.Duration
	fields := strings.Fields(strings.TrimRight(strings.SplitN(rest, "\n", 2)[0], ".)"))
	for i := 0; i+1 < len(fields); i += 2 {
		var n int
		if _, err := fmt.Sscan(fields[i], &n); err != nil {
			return 0, false
		}
		switch strings.TrimRight(fields[i+1], ".),") {
		case "giờ":
			d += time.Duration(n) * time.Hour
		case "phút":
			d += time.Duration(n) * time.Minute
		case "giây":
			d += time.Duration(n) * time.Second
		default:
			return 0, false
		}
	}
	return d, d > 0
}

// tail is the end of a long log.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestGroupLinkThroughEmulator links groups with /lienket@bot: the link
// is made only when Telegram says the person administers the group (a
// unit head or an admin of the bot), and the unit's announcement then
// reaches the linked groups and no other.
func TestGroupLinkThroughEmulator(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	tb := &testBot{emu: emu, cfg: testConfig(t, srv.URL, emu.Token()), logs: &syncBuffer{}}
	const unitName = "Hội LHPN xã Thái Bình"
	member := person(700001, 1)
	var unitID uint64
	prepareStore(t, tb.cfg.Store.Path, func(tx *store.Tx) error {
		u, err := tx.AddUnit(store.Unit{Code: "TB-PHUNU", Name: unitName, Kind: store.KindPhuNu})
		if err != nil {
			return err
		}
		unitID = u.ID
		if err := addPeople(tx, u.ID, store.RoleHead, headUser); err != nil {
			return err
		}
		return addPeople(tx, u.ID, store.RoleMember, member)
	})
	tb.start(t)
	hchat := emu.Private(headUser)
	emu.Private(member)
	emu.Private(adminUser)
	command := "/lienket@" + emu.Bot().Username + " TB-PHUNU"

	tests := []struct {
		name   string
		user   telegramtest.User
		group  telegramtest.Chat
		status string
		reply  string
		linked bool
	}{
		{"head who administers the group", headUser, emu.Supergroup(-1005001, "Chi hội Phụ nữ thôn 3"),
			telegramtest.StatusAdministrator, "Đã liên kết nhóm Chi hội Phụ nữ thôn 3 với " + unitName, true},
		{"head who is a plain member", headUser, emu.Supergroup(-1005002, "Bà con thôn 3"),
			telegramtest.StatusMember, "Chỉ quản trị viên của nhóm này mới liên kết được", false},
		{"admin who created the group", adminUser, emu.Group(-5003, "Tổ phụ nữ tự quản"),
			telegramtest.StatusCreator, "Đã liên kết nhóm Tổ phụ nữ tự quản", true},
		{"admin who is a plain member", adminUser, emu.Supergroup(-1005004, "Chợ phiên thôn 3"),
			telegramtest.StatusMember, "Chỉ quản trị viên của nhóm này mới liên kết được", false},
		{"member who administers the group", member, emu.Supergroup(-1005005, "Nhóm của hội viên"),
			telegramtest.StatusAdministrator, "Chỉ trưởng đơn vị, trưởng đơn vị cấp trên hoặc quản trị viên", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu.SetMember(tt.group.ID, tt.user.ID, tt.status)
			got := tb.ask(t, tt.user, tt.group, command)
			if !strings.Contains(got.Text, tt.reply) {
				t.Errorf("reply %q, want %q", got.Text, tt.reply)
			}
			var links []store.Link
			tb.app.store.View(context.Background(), func(tx *store.Tx) error {
				links = tx.ChatLinks(tt.group.ID)
				return nil
			})
			switch {
			case tt.linked && (len(links) != 1 || links[0].UnitID != unitID || links[0].LinkedBy != tt.user.ID || links[0].Title != tt.group.Title):
				t.Errorf("links of the group: %+v, want one to unit %d by %d", links, unitID, tt.user.ID)
			case !tt.linked && len(links) != 0:
				t.Errorf("links of the group: %+v, want none", links)
			}
		})
	}

	// The announcement reaches the member and the two linked groups.
	conf := tb.ask(t, headUser, hchat, "/thongbao TB-PHUNU | Mời chị em dự họp chi hội tối thứ Sáu")
	if !strings.Contains(conf.Text, "tới 1 người và 2 nhóm?") || len(conf.Keyboard) == 0 {
		t.Fatalf("confirmation %q with %+v, want 1 person and 2 groups", conf.Text, conf.Keyboard)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := emu.WaitCallbackAnswer(ctx, emu.Press(headUser, hchat, conf.ID, conf.Keyboard[0][0].CallbackData)); err != nil {
		t.Fatal(err)
	}
	want := announcementText(unitName, "Mời chị em dự họp chi hội tối thứ Sáu")
	for _, tt := range tests {
		msgs := tb.emu.BotMessages(tt.group.ID)
		if tt.linked {
			msgs = tb.wait(t, tt.group.ID, 2)
		}
		if n := len(msgs); tt.linked && (n != 2 || msgs[1].Text != want) {
			t.Errorf("%s: group got %d messages (last %q), want the announcement after the link", tt.name, n, msgs[n-1].Text)
		}
	}
	if m := tb.wait(t, member.ID, 1)[0]; m.Text != want {
		t.Errorf("member got %q", m.Text)
	}
	if report := tb.wait(t, hchat.ID, 2)[1]; !strings.Contains(report.Text, "✅ 3 đã nhận") {
		t.Errorf("report %q, want 3 received", report.Text)
	}
	tb.idle(t)
	for _, tt := range tests {
		if n := len(emu.BotMessages(tt.group.ID)); !tt.linked && n != 1 {
			t.Errorf("%s: group got %d messages, want only the refusal", tt.name, n)
		}
	}
}

// TestAnnouncementSurvivesSIGKILL kills the real binary with SIGKILL
// while a 5,000-member announcement is going out, right after the
// emulator accepted the 1,000th copy, and starts it again: it takes the
// fan-out up from the outbox, every member gets the announcement, at most
// one copy per send that was in flight is repeated, and the head gets the
// report.
func TestAnnouncementSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the binary")
	}
	const members, killAfter = 5000, 1000
	emu, url := newEmulator(t)
	path := filepath.Join(t.TempDir(), "announce.db")
	people := make([]telegramtest.User, members)
	for i := range people {
		people[i] = person(int64(1_000_000+i), i)
	}
	prepareStore(t, path, func(tx *store.Tx) error {
		u, err := tx.AddUnit(store.Unit{Code: "TB-MTTQ", Name: "Ủy ban MTTQ xã Thái Bình", Kind: store.KindMTTQ})
		if err != nil {
			return err
		}
		if err := addPeople(tx, u.ID, store.RoleHead, headUser); err != nil {
			return err
		}
		return addPeople(tx, u.ID, store.RoleMember, people...)
	})
	hchat := emu.Private(headUser)
	for _, p := range people {
		emu.Private(p)
	}
	env := childEnv(url, emu.Token(), path, "DANVAN_TELEGRAM_POLL_TIMEOUT=1s")

	var (
		mu      sync.Mutex
		current *child
		copies  int
		killed  = make(chan struct{}, 1)
	)
	emu.SetOnAccepted(func(method string, chatID int64, _ int) {
		if method != "sendMessage" || chatID == headUser.ID {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		copies++
		if copies == killAfter && current != nil {
			// The bot never learns that this copy (and the others in
			// flight) went out.
			current.cmd.Process.Kill()
			<-current.done
			current = nil
			killed <- struct{}{}
		}
	})
	start := func() *child {
		c := startChild(t, env, "run")
		mu.Lock()
		current = c
		mu.Unlock()
		waitPolling(t, emu, c)
		return c
	}
	first := start()

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	emu.SendText(headUser, hchat, "/thongbao TB-MTTQ | Họp giao ban sáng thứ Hai")
	msgs, err := emu.WaitBotMessages(ctx, hchat.ID, 1)
	if err != nil {
		t.Fatalf("no confirmation: %v\n%s", err, first.stderr)
	}
	conf := msgs[0]
	if !strings.Contains(conf.Text, "tới 5.000 người?") || len(conf.Keyboard) == 0 {
		t.Fatalf("confirmation %q with %+v", conf.Text, conf.Keyboard)
	}
	emu.Press(headUser, hchat, conf.ID, conf.Keyboard[0][0].CallbackData)
	select {
	case <-killed:
	case <-ctx.Done():
		t.Fatalf("the bot was never killed: %d copies sent\n%s", copies, first.stderr)
	}
	last := start()

	want := announcementText("Ủy ban MTTQ xã Thái Bình", "Họp giao ban sáng thứ Hai")
	for _, p := range people {
		msgs, err := emu.WaitBotMessages(ctx, p.ID, 1)
		if err != nil {
			t.Fatalf("member %d never got the announcement: %v\n%s", p.ID, err, last.stderr)
		}
		for _, m := range msgs {
			if m.Text != want {
				t.Errorf("member %d got %q", p.ID, m.Text)
			}
		}
	}
	msgs, err = emu.WaitBotMessages(ctx, hchat.ID, 2)
	if err != nil {
		t.Fatalf("no report: %v\n%s", err, last.stderr)
	}
	if !strings.Contains(msgs[1].Text, "✅ 5.000 đã nhận") {
		t.Errorf("report %q, want all 5.000 received", msgs[1].Text)
	}
	last.cmd.Process.Signal(syscall.SIGTERM)
	if code := last.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM\n%s", code, last.stderr)
	}
	// Counted once the bot has stopped, so a late duplicate is seen too.
	total := 0
	for _, p := range people {
		total += len(emu.BotMessages(p.ID))
	}
	duplicates := total - members
	t.Logf("killed after copy %d; %d copies in all, %d duplicates", killAfter, total, duplicates)
	if duplicates > 16 {
		t.Errorf("%d duplicate copies after one SIGKILL, want at most 16", duplicates)
	}
}

// TestAnnouncementRecallWhileACopyIsInFlight presses Thu hồi while
// Telegram is accepting copies of the announcement: the bot learns they
// went out only after the recall cancelled them as unsent, and must still
// take them back. Every copy that reached a member is deleted in the end.
func TestAnnouncementRecallWhileACopyIsInFlight(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	tb := &testBot{emu: emu, cfg: testConfig(t, srv.URL, emu.Token()), logs: &syncBuffer{}}
	const unitName = "Hội LHPN xã Thái Bình"
	people := make([]telegramtest.User, 40)
	for i := range people {
		people[i] = person(int64(710000+i), i)
	}
	prepareStore(t, tb.cfg.Store.Path, func(tx *store.Tx) error {
		u, err := tx.AddUnit(store.Unit{Code: "TB-PHUNU", Name: unitName, Kind: store.KindPhuNu})
		if err != nil {
			return err
		}
		if err := addPeople(tx, u.ID, store.RoleHead, headUser); err != nil {
			return err
		}
		return addPeople(tx, u.ID, store.RoleMember, people...)
	})
	tb.start(t)
	hchat := emu.Private(headUser)
	for _, p := range people {
		emu.Private(p)
	}
	conf := tb.ask(t, headUser, hchat, "/thongbao TB-PHUNU | Họp chi hội tối thứ Sáu")
	if len(conf.Keyboard) == 0 {
		t.Fatalf("confirmation %q without buttons", conf.Text)
	}

	// The first copy Telegram accepts is held until the recall has been
	// handled, and so are those accepted meanwhile (they wait for the
	// once): their answers reach the bot after the recall committed.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var (
		once     sync.Once
		held     = make(chan int64, 1)
		recalled = make(chan error, 1)
	)
	emu.SetOnAccepted(func(method string, chatID int64, _ int) {
		if method != "sendMessage" || chatID == headUser.ID {
			return
		}
		once.Do(func() {
			held <- chatID
			recalled <- func() error {
				for {
					m, _ := emu.Message(hchat.ID, conf.ID)
					if len(m.Keyboard) == 1 && m.Keyboard[0][0].Text == "Thu hồi" {
						_, err := emu.WaitCallbackAnswer(ctx, emu.Press(headUser, hchat, conf.ID, m.Keyboard[0][0].CallbackData))
						return err
					}
					select {
					case <-ctx.Done():
						return fmt.Errorf("no Thu hồi button: %q %+v", m.Text, m.Keyboard)
					case <-time.After(time.Millisecond):
					}
				}
			}()
		})
	})
	if _, err := emu.WaitCallbackAnswer(ctx, emu.Press(headUser, hchat, conf.ID, conf.Keyboard[0][0].CallbackData)); err != nil {
		t.Fatal(err)
	}
	victim := <-held
	if err := <-recalled; err != nil {
		t.Fatal(err)
	}
	// The recall is reported at once (nothing had been acknowledged yet);
	// the copies that went out meanwhile are deleted after it.
	for n := 1; ; n++ {
		if msgs := tb.wait(t, hchat.ID, n); strings.Contains(msgs[n-1].Text, "Đã thu hồi") {
			break
		}
	}
	kept := func() (n int) {
		for _, p := range people {
			for _, m := range emu.BotMessages(p.ID) {
				if !m.Deleted {
					n++
				}
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); kept() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	tb.idle(t)
	if m, _ := emu.Message(hchat.ID, conf.ID); !strings.Contains(m.Text, "hủy") {
		t.Errorf("after Thu hồi: %q, want copies cancelled as unsent", m.Text)
	}
	sent := 0
	for _, p := range people {
		for _, m := range emu.BotMessages(p.ID) {
			sent++
			if !m.Deleted {
				t.Errorf("member %d (held copy: %v) still has the recalled announcement", p.ID, p.ID == victim)
			}
		}
	}
	if sent == 0 {
		t.Error("no copy went out: the recall was not raced")
	}
	t.Logf("%d copies went out around the recall; the first held was to %d", sent, victim)
}
