package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"danvan/config"
	"danvan/store"
	"danvan/telegramtest"
)

// testBot is the real app wired to the emulator over loopback HTTP.
type testBot struct {
	app  *app
	emu  *telegramtest.Server
	cfg  *config.Config
	logs *syncBuffer
	stop func()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testConfig(t *testing.T, emuURL, token string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Telegram.Token = token
	cfg.Telegram.APIEndpoint = telegramtest.Endpoint(emuURL)
	cfg.Store.Path = filepath.Join(t.TempDir(), "danvan.db")
	cfg.Bot.Admins = []int64{adminUser.ID}
	cfg.Log.Level = "debug"
	// Behaviour, not pacing, is tested here: the limits have their own
	// virtual-time tests in delivery/.
	cfg.Telegram.Limits.GlobalPerSecond, cfg.Telegram.Limits.ChatPerSecond = 1000, 1000
	return &cfg
}

func startTestBot(t *testing.T) *testBot {
	t.Helper()
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	tb := &testBot{emu: emu, cfg: testConfig(t, srv.URL, emu.Token()), logs: &syncBuffer{}}
	tb.start(t)
	return tb
}

func (tb *testBot) start(t *testing.T) {
	t.Helper()
	tb.run(t, appOptions{})
	tb.waitPolling(t)
}

// run builds the app with opts and runs it until tb.stop (or the test's
// end).
func (tb *testBot) run(t *testing.T, opts appOptions) {
	t.Helper()
	a, err := newApp(tb.cfg, newLogger(tb.cfg, tb.logs), opts)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	tb.app = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	var once sync.Once
	tb.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("app.run: %v", err)
			}
		})
	}
	t.Cleanup(tb.stop)
}

// waitPolling waits until the bot long-polls the emulator.
func (tb *testBot) waitPolling(t *testing.T) {
	t.Helper()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := tb.emu.WaitPolling(wctx); err != nil {
		t.Fatalf("bot never started polling: %v\n%s", err, tb.logs)
	}
}

var (
	adminUser = telegramtest.User{ID: 1001, FirstName: "Lan", LastName: "Nguyễn", LanguageCode: "vi"}
	viUser    = telegramtest.User{ID: 2002, FirstName: "Hoa", LastName: "Trần", LanguageCode: "vi"}
	enUser    = telegramtest.User{ID: 3003, FirstName: "Anna", LanguageCode: "en"}
)

// ask sends text and returns the bot's next message in the chat.
func (tb *testBot) ask(t *testing.T, from telegramtest.User, chat telegramtest.Chat, text string) telegramtest.Message {
	t.Helper()
	before := len(tb.emu.BotMessages(chat.ID))
	sent := tb.emu.SendText(from, chat, text)
	msgs := tb.wait(t, chat.ID, before+1)
	got := msgs[before]
	if got.ReplyToID != sent.ID {
		t.Errorf("%q: reply threaded to %d, want %d", text, got.ReplyToID, sent.ID)
	}
	return got
}

func (tb *testBot) wait(t *testing.T, chatID int64, n int) []telegramtest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := tb.emu.WaitBotMessages(ctx, chatID, n)
	if err != nil {
		t.Fatalf("waiting for %d bot messages in %d: %v (have %d)\nlogs:\n%s", n, chatID, err, len(tb.emu.BotMessages(chatID)), tb.logs)
	}
	return msgs
}

// idle waits until the bot has consumed every update and sent everything.
func (tb *testBot) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for tb.emu.Pending() > 0 {
		if err := tb.emu.WaitPolling(ctx); err != nil {
			t.Fatalf("bot did not catch up: %v", err)
		}
	}
	if err := tb.emu.WaitPolling(ctx); err != nil {
		t.Fatal(err)
	}
	// Everything sent is acknowledged before the outbox is empty.
	tb.stop()
}

func TestEndToEndPrivateChat(t *testing.T) {
	tb := startTestBot(t)
	tests := []struct {
		user  telegramtest.User
		text  string
		wants []string
	}{
		{viUser, "/start", []string{"Xin chào Hoa Trần", "Trợ lý Dân vận", "/trogiup"}},
		{enUser, "/start", []string{"Hello, Anna", "Mass Mobilization Assistant", "/help"}},
		{adminUser, "/start", []string{"quản trị viên"}},
		{viUser, "/trogiup", []string{"Các lệnh anh/chị có thể dùng", "/ngonngu (/language)", "Ví dụ"}},
		{enUser, "/help", []string{"Commands you can use", "/language (/ngonngu)", "Example"}},
		{viUser, "/id", []string{"2002"}},
		{enUser, "/id", []string{"Your user id: 3003"}},
		{viUser, "/huy", []string{"không có thao tác"}},
		{enUser, "/cancel", []string{"nothing in progress"}},
		{viUser, "/lenhla", []string{"Bot chưa hiểu lệnh /lenhla", "/trogiup"}},
		{enUser, "/nosuch", []string{"The bot doesn't know the command /nosuch", "/help"}},
		{viUser, "xin chào", []string{"/trogiup"}},
		{enUser, "hello", []string{"/help"}},
	}
	for _, tt := range tests {
		got := tb.ask(t, tt.user, tb.emu.Private(tt.user), tt.text)
		for _, want := range tt.wants {
			if !strings.Contains(got.Text, want) {
				t.Errorf("%s %q: reply %q lacks %q", tt.user.FirstName, tt.text, got.Text, want)
			}
		}
	}
	// A sticker gets a hint too, never silence.
	chat := tb.emu.Private(viUser)
	before := len(tb.emu.BotMessages(chat.ID))
	tb.emu.SendSticker(viUser, chat)
	if got := tb.wait(t, chat.ID, before+1)[before]; !strings.Contains(got.Text, "/trogiup") {
		t.Errorf("sticker: reply %q", got.Text)
	}

	// The command menu is registered in both languages before polling.
	for _, lang := range []string{"", "vi", "en"} {
		want := "trogiup"
		if lang == "en" {
			want = "help"
		}
		var found bool
		for _, c := range tb.emu.Commands("default", lang) {
			found = found || c.Command == want
		}
		if !found {
			t.Errorf("menu for language %q lacks /%s: %+v", lang, want, tb.emu.Commands("default", lang))
		}
	}
	// Groups get their own menu, without the commands that work only in a
	// private chat.
	var inGroups []string
	for _, c := range tb.emu.Commands("all_group_chats", "vi") {
		inGroups = append(inGroups, c.Command)
	}
	if !slices.Contains(inGroups, "thongbao") || !slices.Contains(inGroups, "lienket") || slices.Contains(inGroups, "themdonvi") || slices.Contains(inGroups, "xoadulieu") {
		t.Errorf("group menu %v, want /thongbao and /lienket without /themdonvi or /xoadulieu", inGroups)
	}
}

func TestEndToEndLanguageButtons(t *testing.T) {
	tb := startTestBot(t)
	chat := tb.emu.Private(viUser)
	q := tb.ask(t, viUser, chat, "/ngonngu")
	if len(q.Keyboard) != 1 || len(q.Keyboard[0]) != 2 {
		t.Fatalf("keyboard %+v, want two buttons", q.Keyboard)
	}
	if q.Keyboard[0][0].Text != "Tiếng Việt" || q.Keyboard[0][1].Text != "English" {
		t.Errorf("button labels %+v", q.Keyboard[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := tb.emu.Press(viUser, chat, q.ID, q.Keyboard[0][1].CallbackData)
	ans, err := tb.emu.WaitCallbackAnswer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Text != "Saved." {
		t.Errorf("answer %q, want Saved.", ans.Text)
	}

	// The same keyboard pressed again (from a client that has not seen the
	// edit yet): answered, nothing changes.
	id = tb.emu.PressForged(viUser, chat, q.ID, q.Keyboard[0][0].CallbackData)
	if ans, err = tb.emu.WaitCallbackAnswer(ctx, id); err != nil || ans.Text != "This was already handled." {
		t.Errorf("second press: %q, %v", ans.Text, err)
	}
	if got := tb.ask(t, viUser, chat, "/id"); !strings.Contains(got.Text, "Your user id") {
		t.Errorf("after choosing English, /id answered %q", got.Text)
	}
	// The chat's messages go in order, so the edit came before that reply.
	edited, _ := tb.emu.Message(chat.ID, q.ID)
	if edited.Text != "Replies are now in English." || len(edited.Keyboard) != 0 {
		t.Errorf("question after the press: %q with keyboard %v", edited.Text, edited.Keyboard)
	}
	// Back with the argument form.
	if got := tb.ask(t, viUser, chat, "/language vi"); got.Text != "Đã chuyển sang tiếng Việt." {
		t.Errorf("/language vi: %q", got.Text)
	}
	if got := tb.ask(t, viUser, chat, "/ngonngu fr"); !strings.Contains(got.Text, "“fr”") {
		t.Errorf("/ngonngu fr: %q", got.Text)
	}

	// A wizard abandoned with /huy (and /cancel in English): its buttons
	// are expired and change nothing.
	for _, tt := range []struct {
		user            telegramtest.User
		cancel, expired string
	}{
		{viUser, "/huy", "Nút này đã hết hạn."},
		{enUser, "/cancel", "This button has expired."},
	} {
		chat := tb.emu.Private(tt.user)
		q := tb.ask(t, tt.user, chat, "/ngonngu")
		if got := tb.ask(t, tt.user, chat, tt.cancel); !strings.Contains(got.Text, "“") {
			t.Errorf("%s during the wizard: %q, want it named as cancelled", tt.cancel, got.Text)
		}
		id := tb.emu.Press(tt.user, chat, q.ID, q.Keyboard[0][1].CallbackData)
		if ans, err := tb.emu.WaitCallbackAnswer(ctx, id); err != nil || ans.Text != tt.expired {
			t.Errorf("press after %s: %q, %v; want %q", tt.cancel, ans.Text, err, tt.expired)
		}
	}
	if got := tb.ask(t, viUser, chat, "/trogiup"); !strings.Contains(got.Text, "Các lệnh") {
		t.Errorf("the expired press changed the language: /trogiup answered %q", got.Text)
	}
}

func TestEndToEndGroup(t *testing.T) {
	tb := startTestBot(t)
	group := tb.emu.Supergroup(-1001234, "Chi hội Phụ nữ thôn 3")
	tb.emu.SendText(viUser, group, "Chào cả nhà, mai họp nhé")
	tb.emu.SendText(viUser, group, "/id@some_other_bot")
	tb.emu.SendText(viUser, group, "/lenhla")
	tb.emu.SendText(enUser, group, "See you at the meeting")
	tb.emu.SendText(enUser, group, "/help@some_other_bot")
	tb.emu.SendText(enUser, group, "/unknown")
	got := tb.ask(t, viUser, group, "/id@"+tb.emu.Bot().Username)
	if !strings.Contains(got.Text, "-1001234") {
		t.Errorf("/id in the group: %q", got.Text)
	}
	got = tb.ask(t, enUser, group, "/help")
	if !strings.Contains(got.Text, "Commands you can use") {
		t.Errorf("/help in the group: %q", got.Text)
	}
	tb.emu.SendAs(group, group, "/ngonngu en")
	msgs := tb.wait(t, group.ID, 3)
	if !strings.Contains(msgs[2].Text, "ẩn danh") {
		t.Errorf("anonymous admin's /ngonngu: %q, want a refusal", msgs[2].Text)
	}
	tb.idle(t)
	if n := len(tb.emu.BotMessages(group.ID)); n != 3 {
		for _, m := range tb.emu.BotMessages(group.ID) {
			t.Logf("bot said: %q", m.Text)
		}
		t.Errorf("bot sent %d messages in the group, want 3 (chatter and other bots' commands ignored)", n)
	}
}

func TestEndToEndStoreRecordsDeliveries(t *testing.T) {
	tb := startTestBot(t)
	chat := tb.emu.Private(viUser)
	got := tb.ask(t, viUser, chat, "/id")
	tb.idle(t)
	st, err := store.Open(tb.cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.View(context.Background(), func(tx *store.Tx) error {
		if n := tx.OutboxLen(); n != 0 {
			t.Errorf("outbox has %d rows after everything was sent", n)
		}
		var found bool
		tx.Journal(func(e store.JournalEntry) bool {
			if e.Handler == "command:id" {
				ds, err := tx.DeliveriesByOrigin("update:" + strconv.FormatInt(e.UpdateID, 10))
				if err != nil || len(ds) != 1 || len(ds[0].MessageIDs) != 1 || ds[0].MessageIDs[0] != got.ID {
					t.Errorf("delivery of the /id reply: %+v, %v; want message id %d", ds, err, got.ID)
				}
				found = true
			}
			return true
		})
		if !found {
			t.Error("journal has no command:id entry")
		}
		return nil
	})
}

// TestStartAnsweredDuringBigFanOut runs the whole bot in virtual time at
// Telegram's real limits: while a 10,000-chat announcement goes out (five
// and a half minutes at 30 a second), a person's /start is answered within
// two seconds — even a person whose own copy of the announcement is still
// waiting.
func TestStartAnsweredDuringBigFanOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := telegramtest.New(telegramtest.Options{Limits: telegramtest.Limits{GlobalPerSecond: 30, ChatPerSecond: 1, GroupPerMinute: 20}})
		defer emu.Close()
		cfg := testConfig(t, "http://telegram.test", emu.Token())
		cfg.Telegram.Limits = config.Default().Telegram.Limits
		a, err := newApp(cfg, newLogger(cfg, io.Discard), appOptions{Transport: emu.Transport()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.run(ctx) }()
		defer func() { cancel(); <-done }()

		chats := make([]int64, 10000)
		for i := range chats {
			chats[i] = emu.Private(telegramtest.User{ID: int64(900000 + i), FirstName: "Hội viên"}).ID
		}
		if err := a.store.Update(context.Background(), func(tx *store.Tx) error {
			_, err := tx.StartFanOut(store.FanOutSpec{
				Origin: "announcement", Chats: chats, Priority: store.PriorityBulk,
				Action: store.Action{Kind: store.ActSend, Text: "Thông báo: họp giao ban sáng thứ Hai"},
			}, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		a.sender.Wake()
		time.Sleep(10 * time.Second)

		for _, user := range []telegramtest.User{
			{ID: 42, FirstName: "Minh", LanguageCode: "vi"},         // not in the fan-out
			{ID: chats[9999], FirstName: "Hoa", LanguageCode: "vi"}, // last in the fan-out
		} {
			chat := emu.Private(user)
			before := len(emu.BotMessages(chat.ID))
			sent := emu.SendText(user, chat, "/start")
			wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
			msgs, err := emu.WaitBotMessages(wctx, chat.ID, before+1)
			wcancel()
			if err != nil {
				t.Fatal(err)
			}
			reply := msgs[before]
			if !strings.Contains(reply.Text, "Xin chào") {
				t.Errorf("user %d: first reply %q, want the welcome", user.ID, reply.Text)
			}
			if took := reply.Date.Sub(sent.Date); took > 2*time.Second {
				t.Errorf("user %d: /start answered after %v during the fan-out, want within 2s", user.ID, took)
			}
		}
		if n := len(emu.SendLog()); n > 400 {
			t.Errorf("%d messages sent in the first ten seconds: the limits were not kept", n)
		}
	})
}

func TestMetricsAndHealth(t *testing.T) {
	tb := startTestBot(t)
	srv := httptest.NewServer(tb.app.monitorHandler())
	defer srv.Close()
	for i := range 3 {
		tb.ask(t, viUser, tb.emu.Private(viUser), fmt.Sprintf("/id %d", i))
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("/healthz: %d %q, want 200 ok", resp.StatusCode, body)
	}
	// Every send is acknowledged once the bot has stopped.
	tb.idle(t)
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`danvan_updates_total{outcome="applied"} 3`,
		`danvan_messages_sent_total 3`,
		`danvan_messages_failed_total{reason="unreachable"} 0`,
		`danvan_messages_retried_total{reason="rate_limited"} 0`,
		`danvan_outbox_depth{priority="bulk"} 0`,
		`danvan_outbox_oldest_seconds 0`,
		`danvan_unreachable_chats 0`,
		`danvan_flood_waits_total 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A stopped bot is not healthy.
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("/healthz with the store closed: %d, want 503", resp.StatusCode)
	}
}

// TestEndToEndUnitsAndInvites drives the units wizard and an invite
// through the emulator: buttons, edits that remove keyboards, deep links.
func TestEndToEndUnitsAndInvites(t *testing.T) {
	tb := startTestBot(t)
	admin := tb.emu.Private(adminUser)
	q := tb.ask(t, adminUser, admin, "/themdonvi Hội LHPN xã Thái Bình")
	if len(q.Keyboard) == 0 {
		t.Fatalf("kind question without buttons: %q", q.Text)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := len(tb.emu.BotMessages(admin.ID))
	id := tb.emu.Press(adminUser, admin, q.ID, q.Keyboard[0][1].CallbackData) // Hội LHPN
	if _, err := tb.emu.WaitCallbackAnswer(ctx, id); err != nil {
		t.Fatal(err)
	}
	parentQ := tb.wait(t, admin.ID, before+1)[before]
	if !strings.Contains(parentQ.Text, "cấp trên") {
		t.Fatalf("parent question: %q", parentQ.Text)
	}
	if m, _ := tb.emu.Message(admin.ID, q.ID); len(m.Keyboard) != 0 {
		t.Errorf("the kind buttons stayed after the press: %+v", m.Keyboard)
	}
	before = len(tb.emu.BotMessages(admin.ID))
	id = tb.emu.Press(adminUser, admin, parentQ.ID, parentQ.Keyboard[len(parentQ.Keyboard)-1][0].CallbackData) // top level
	if _, err := tb.emu.WaitCallbackAnswer(ctx, id); err != nil {
		t.Fatal(err)
	}
	placeQ := tb.wait(t, admin.ID, before+1)[before]
	done := tb.ask(t, adminUser, admin, "02494")
	if !strings.Contains(done.Text, "Đã tạo đơn vị") || !strings.Contains(done.Text, "02494-PHUNU") {
		t.Fatalf("created: %q (place question %q)", done.Text, placeQ.Text)
	}
	link := tb.ask(t, adminUser, admin, "/moi 02494-PHUNU")
	m := regexp.MustCompile(`start=(i_[a-z2-7]+)`).FindStringSubmatch(link.Text)
	if m == nil {
		t.Fatalf("invite: %q", link.Text)
	}
	joiner := telegramtest.User{ID: 8008, FirstName: "Páo", LanguageCode: "vi"}
	chat := tb.emu.Private(joiner)
	if got := tb.ask(t, joiner, chat, "/start "+m[1]); !strings.Contains(got.Text, "họ và tên") {
		t.Fatalf("join: %q", got.Text)
	}
	posQ := tb.ask(t, joiner, chat, "Lò Văn Páo")
	before = len(tb.emu.BotMessages(chat.ID))
	id = tb.emu.Press(joiner, chat, posQ.ID, posQ.Keyboard[0][0].CallbackData) // Bỏ qua
	if _, err := tb.emu.WaitCallbackAnswer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if saved := tb.wait(t, chat.ID, before+1)[before]; !strings.Contains(saved.Text, "Lò Văn Páo") {
		t.Errorf("saved: %q", saved.Text)
	}
	roster := tb.ask(t, adminUser, admin, "/thanhvien 02494-PHUNU")
	if !strings.Contains(roster.Text, "Lò Văn Páo") || !strings.Contains(roster.Text, "1 thành viên") {
		t.Errorf("roster: %q", roster.Text)
	}
}
