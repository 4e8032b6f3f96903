package telegram

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"danvan/bot"
	"danvan/store"
	"danvan/telegramtest"
)

func TestGetUpdatesDecodes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	private := f.emu.Private(alice)
	group := f.emu.Group(-2001, "Tổ dân phố 5")
	f.emu.SetMember(group.ID, alice.ID, telegramtest.StatusMember)

	// The bot's own message with a button, for the press and the reply.
	botMsg, err := f.client.Do(ctx, private.ID, store.Action{Kind: store.ActSend, Text: "Chọn", Buttons: [][]store.Button{{{Text: "Có", Data: "yes:1"}}}})
	if err != nil {
		t.Fatalf("send: %v", err)
	}

	command := f.emu.SendText(alice, private, "/Help@Other_Bot now please")
	queryID := f.emu.Press(alice, private, botMsg, "yes:1")
	reply := f.emu.ReplyText(alice, private, botMsg, "đồng ý")
	photo := f.emu.SendPhoto(alice, private, "ảnh <b>hiện trường</b>")
	badID := f.emu.InjectRaw(`{"message": {"message_id": "not-a-number"}}`)
	anon := f.emu.SendAs(group, group, "/start thông báo")
	sticker := f.emu.SendSticker(alice, private)
	badType := f.emu.InjectRaw(`{"callback_query": {"id": "q", "from": {"id": "alice"}}}`)
	edited := f.emu.Edit(alice, private, command.ID, "/help again")
	f.emu.MyChatMember(alice, group, telegramtest.StatusAdministrator)

	got, err := f.client.GetUpdates(ctx, 0, 100, 0)
	if err != nil {
		t.Fatalf("GetUpdates: %v", err)
	}
	checks := []struct {
		name  string
		check func(t *testing.T, u bot.Update)
	}{
		{"command", func(t *testing.T, u bot.Update) {
			m := u.Message
			if m == nil || m.ID != command.ID || m.Kind != bot.KindText {
				t.Fatalf("got %+v, want text message %d", m, command.ID)
			}
			if m.Command != "help" || m.CommandTarget != "Other_Bot" || m.Args != "now please" {
				t.Errorf("got command %q target %q args %q, want help, Other_Bot, now please", m.Command, m.CommandTarget, m.Args)
			}
			if m.From == nil || *m.From != (bot.User{ID: alice.ID, FirstName: "Alice", LastName: "Nguyễn", Username: "alice", LanguageCode: "vi"}) {
				t.Errorf("got from %+v, want alice", m.From)
			}
			if m.Chat != (bot.Chat{ID: alice.ID, Kind: "private", Title: "Alice Nguyễn"}) {
				t.Errorf("got chat %+v, want alice's private chat titled by her name", m.Chat)
			}
			if !m.Date.Equal(command.Date.Truncate(time.Second)) {
				t.Errorf("got date %v, want %v", m.Date, command.Date)
			}
		}},
		{"press", func(t *testing.T, u bot.Update) {
			c := u.Callback
			if c == nil || c.ID != queryID || c.Data != "yes:1" || c.From.ID != alice.ID {
				t.Fatalf("got %+v, want press %s of yes:1 by alice", c, queryID)
			}
			if c.Message == nil || c.Message.ID != botMsg || c.Message.From == nil || c.Message.From.ID != telegramtest.DefaultBotID {
				t.Errorf("got pressed message %+v, want the bot's message %d", c.Message, botMsg)
			}
		}},
		{"reply", func(t *testing.T, u bot.Update) {
			m := u.Message
			if m == nil || m.ID != reply.ID || m.Text != "đồng ý" {
				t.Fatalf("got %+v, want reply %d", m, reply.ID)
			}
			if m.ReplyTo == nil || m.ReplyTo.ID != botMsg || m.ReplyTo.From == nil || m.ReplyTo.From.ID != telegramtest.DefaultBotID || !m.ReplyTo.From.IsBot {
				t.Errorf("got reply-to %+v, want bot message %d from the bot", m.ReplyTo, botMsg)
			}
			if m.Command != "" {
				t.Errorf("got command %q, want none", m.Command)
			}
		}},
		{"photo", func(t *testing.T, u bot.Update) {
			m := u.Message
			if m == nil || m.Kind != bot.KindPhoto || m.FileID != photo.PhotoFileID || m.FileID == "" {
				t.Fatalf("got %+v, want photo with file %q", m, photo.PhotoFileID)
			}
			if m.Text != "ảnh <b>hiện trường</b>" {
				t.Errorf("got text %q, want the caption", m.Text)
			}
		}},
		{"undecodable id", func(t *testing.T, u bot.Update) {
			if u != (bot.Update{ID: badID, Undecodable: true}) {
				t.Errorf("got %+v, want only id %d, undecodable", u, badID)
			}
		}},
		{"anonymous admin", func(t *testing.T, u bot.Update) {
			m := u.Message
			if m == nil || m.SenderChat == nil || *m.SenderChat != (bot.Chat{ID: group.ID, Kind: "group", Title: "Tổ dân phố 5"}) {
				t.Fatalf("got %+v, want sender_chat the group", m)
			}
			if m.From == nil || m.From.ID != telegramtest.GroupAnonymousBotID || m.ID != anon.ID {
				t.Errorf("got from %+v, want GroupAnonymousBot", m.From)
			}
			if m.Command != "start" || m.Args != "thông báo" {
				t.Errorf("got command %q args %q, want start, thông báo", m.Command, m.Args)
			}
		}},
		{"sticker", func(t *testing.T, u bot.Update) {
			if m := u.Message; m == nil || m.ID != sticker.ID || m.Kind != bot.KindSticker {
				t.Errorf("got %+v, want sticker %d", m, sticker.ID)
			}
		}},
		{"undecodable type", func(t *testing.T, u bot.Update) {
			if u != (bot.Update{ID: badType, Undecodable: true}) {
				t.Errorf("got %+v, want only id %d, undecodable", u, badType)
			}
		}},
		{"edited", func(t *testing.T, u bot.Update) {
			m := u.Edited
			if u.Message != nil || m == nil || m.ID != edited.ID || m.Command != "help" || m.Args != "again" {
				t.Errorf("got %+v, want edited message %d /help again", u, edited.ID)
			}
		}},
		{"bot promoted", func(t *testing.T, u bot.Update) {
			c := u.MemberChange
			if c == nil || c.Chat.ID != group.ID || c.From.ID != alice.ID || c.OldStatus != telegramtest.StatusMember || c.NewStatus != telegramtest.StatusAdministrator {
				t.Errorf("got %+v, want alice promoting the bot in the group", c)
			}
		}},
	}
	if len(got) != len(checks) {
		t.Fatalf("got %d updates, want %d: %+v", len(got), len(checks), got)
	}
	for i, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if i > 0 && got[i].ID != got[i-1].ID+1 {
				t.Errorf("got id %d after %d, want consecutive ids", got[i].ID, got[i-1].ID)
			}
			c.check(t, got[i])
		})
	}
	if logs := f.logs.String(); !strings.Contains(logs, "cannot decode update") || !strings.Contains(logs, "update_id="+strconv.FormatInt(badID, 10)) {
		t.Errorf("got log %q, want a warning naming update %d", logs, badID)
	}

	// Offsets confirm: asking from the sixth update drops the first five
	// for good, and the rest come again until confirmed.
	from := got[5].ID
	for _, offset := range []int64{from, 0} {
		again, err := f.client.GetUpdates(ctx, offset, 100, 0)
		if err != nil {
			t.Fatalf("GetUpdates(%d): %v", offset, err)
		}
		if len(again) != len(got)-5 || again[0].ID != from {
			t.Errorf("GetUpdates(%d): got %d updates from %d, want %d from %d", offset, len(again), again[0].ID, len(got)-5, from)
		}
	}
	if got, want := f.emu.Confirmed(), from-1; got != want {
		t.Errorf("emulator confirmed up to %d, want %d", got, want)
	}
	last := got[len(got)-1].ID
	rest, err := f.client.GetUpdates(ctx, last+1, 100, 0)
	if err != nil || len(rest) != 0 || f.emu.Pending() != 0 {
		t.Errorf("after confirming all: got %+v, %v, %d pending; want none", rest, err, f.emu.Pending())
	}
	limited, err := f.client.GetUpdates(ctx, 0, 1, 0)
	if err != nil || len(limited) != 0 {
		t.Errorf("with nothing pending: got %+v, %v; want none", limited, err)
	}
}

func TestParseCommand(t *testing.T) {
	cmd := func(offset, length int) []tgbotapi.MessageEntity {
		return []tgbotapi.MessageEntity{{Type: "bot_command", Offset: offset, Length: length}}
	}
	tests := []struct {
		name               string
		text               string
		entities           []tgbotapi.MessageEntity
		command, target, a string
	}{
		{"vietnamese and emoji after", "/start xin chào 😀", cmd(0, 6), "start", "", "xin chào 😀"},
		{"upper case with target", "/Help@Other_Bot chào bạn", cmd(0, 15), "help", "Other_Bot", "chào bạn"},
		{"emoji right after the command", "/start😀😀 x", cmd(0, 6), "start", "", "😀😀 x"},
		// The entity counts UTF-16 units: 😀 is two of them, so a length
		// of 5 ends after "y" (counted in runes it would swallow the space
		// and "r").
		{"astral character inside", "/x😀y rest", cmd(0, 5), "x😀y", "", "rest"},
		{"command alone", "/trogiup", cmd(0, 8), "trogiup", "", ""},
		{"entity longer than the text", "/ok", cmd(0, 10), "ok", "", ""},
		{"emoji before the command", "😀 /start now", cmd(3, 6), "", "", ""},
		{"no entities", "/start", nil, "", "", ""},
		{"other entity first", "#tag /start", []tgbotapi.MessageEntity{{Type: "hashtag", Offset: 0, Length: 4}}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, target, args := parseCommand(tt.text, tt.entities)
			if c != tt.command || target != tt.target || args != tt.a {
				t.Errorf("got (%q, %q, %q), want (%q, %q, %q)", c, target, args, tt.command, tt.target, tt.a)
			}
		})
	}
}

// TestCommandFromEmulator checks the same parsing on entities the
// emulator computes as a Telegram client would.
func TestCommandFromEmulator(t *testing.T) {
	tests := []struct {
		text, command, target, args string
	}{
		{"/start xin chào 😀", "start", "", "xin chào 😀"},
		{"/BaoCao@danvan_test_bot Đường 😀 hỏng", "baocao", "danvan_test_bot", "Đường 😀 hỏng"},
		{"chào /start", "", "", ""},
	}
	f := newFixture(t)
	chat := f.emu.Private(alice)
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			sent := f.emu.SendText(alice, chat, tt.text)
			ups, err := f.client.GetUpdates(context.Background(), f.emu.Confirmed()+1, 100, 0)
			if err != nil || len(ups) != 1 || ups[0].Message == nil || ups[0].Message.ID != sent.ID {
				t.Fatalf("got %+v, %v; want message %d", ups, err, sent.ID)
			}
			m := ups[0].Message
			if m.Command != tt.command || m.CommandTarget != tt.target || m.Args != tt.args {
				t.Errorf("got (%q, %q, %q), want (%q, %q, %q)", m.Command, m.CommandTarget, m.Args, tt.command, tt.target, tt.args)
			}
			if _, err := f.client.GetUpdates(context.Background(), ups[0].ID+1, 1, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLongPoll runs in virtual time: a long poll waits for its full
// timeout (the request timeout does not cut it short) and returns as soon
// as an update arrives.
func TestLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := telegramtest.New(telegramtest.Options{Token: testToken})
		defer emu.Close()
		c, err := New(Options{Token: testToken, Endpoint: telegramtest.Endpoint("http://telegram.test"), Transport: emu.Transport(), RequestTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		chat := emu.Private(alice)

		start := time.Now()
		ups, err := c.GetUpdates(ctx, 0, 100, 10*time.Second)
		if err != nil || len(ups) != 0 {
			t.Fatalf("empty poll: got %+v, %v; want no updates", ups, err)
		}
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("empty poll took %v, want 10s", got)
		}

		start = time.Now()
		go func() {
			time.Sleep(4 * time.Second)
			emu.SendText(alice, chat, "đây")
		}()
		ups, err = c.GetUpdates(ctx, 0, 100, 10*time.Second)
		if err != nil || len(ups) != 1 || ups[0].Message.Text != "đây" {
			t.Fatalf("poll: got %+v, %v; want the message", ups, err)
		}
		if got := time.Since(start); got != 4*time.Second {
			t.Errorf("poll answered after %v, want 4s", got)
		}
	})
}
