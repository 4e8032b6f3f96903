package telegramtest

import (
	"net/http"
	"reflect"
	"testing"
)

func TestGetChatMember(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice, bob := userAlice(), userBob()
	s.Private(alice)
	g := s.Supergroup(-1001500, "Phòng họp")
	s.SetMember(g.ID, alice.ID, StatusCreator)
	s.SetMember(g.ID, bob.ID, StatusAdministrator)
	s.SetMember(g.ID, 1003, StatusMember)
	s.SetMember(g.ID, 1004, StatusKicked)
	s.Private(User{ID: 1005, FirstName: "Eve"})

	type member struct {
		Status string `json:"status"`
		User   struct {
			ID        int64  `json:"id"`
			FirstName string `json:"first_name"`
			IsBot     bool   `json:"is_bot"`
		} `json:"user"`
		CanDeleteMessages *bool `json:"can_delete_messages"`
	}
	tests := []struct {
		name   string
		chatID string
		userID string
		status string
		desc   string
	}{
		{"creator", "-1001500", "1001", StatusCreator, ""},
		{"administrator", "-1001500", "1002", StatusAdministrator, ""},
		{"member", "-1001500", "1003", StatusMember, ""},
		{"kicked", "-1001500", "1004", StatusKicked, ""},
		{"known user, not in the group", "-1001500", "1005", StatusLeft, ""},
		{"the bot", "-1001500", itoa(DefaultBotID), StatusMember, ""},
		{"private chat", "1001", "1001", StatusMember, ""},
		{"unknown user", "-1001500", "99999", "", "Bad Request: user not found"},
		{"unknown chat", "-42", "1001", "", "Bad Request: chat not found"},
		{"no user id", "-1001500", "", "", "Bad Request: invalid user_id specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := c.call("getChatMember", vals("chat_id", tt.chatID, "user_id", tt.userID))
			if tt.desc != "" {
				a.wantError(t, http.StatusBadRequest, tt.desc)
				return
			}
			var m member
			a.wantOK(t, &m)
			if m.Status != tt.status || itoa(int(m.User.ID)) != tt.userID {
				t.Errorf("got %+v, want status %s for user %s", m, tt.status, tt.userID)
			}
			if tt.status == StatusAdministrator && (m.CanDeleteMessages == nil || !*m.CanDeleteMessages) {
				t.Errorf("administrator rights: got %+v, want can_delete_messages", m.CanDeleteMessages)
			}
		})
	}
	if got := s.Requests("getChatMember"); got != len(tests) {
		t.Errorf("Requests(getChatMember): got %d, want %d", got, len(tests))
	}
}

func TestUserSideUpdates(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	g := s.Group(-800, "Nhóm")
	bot := c.send(vals("chat_id", "1001", "text", "Chào bạn"))

	cmd := s.SendText(alice, chat, "/start@danvan_test_bot abc")
	reply := s.ReplyText(alice, chat, bot.MessageID, "trả lời")
	photo := s.SendPhoto(alice, chat, "ảnh")
	sticker := s.SendSticker(alice, chat)
	anon := s.SendAs(g, g, "thông báo")
	edited := s.Edit(alice, chat, cmd.ID, "/help")
	memberID := s.MyChatMember(alice, g, StatusKicked)

	if want := []Entity{{Type: "bot_command", Offset: 0, Length: 22}}; !reflect.DeepEqual(cmd.Entities, want) {
		t.Errorf("SendText entities: got %+v, want %+v", cmd.Entities, want)
	}
	if cmd.ID != 2 || reply.ReplyToID != bot.MessageID || photo.PhotoFileID == "" || sticker.StickerFileID == "" {
		t.Errorf("injected messages: got %+v %+v %+v %+v", cmd, reply, photo, sticker)
	}
	if anon.From.ID != GroupAnonymousBotID || anon.SenderChat == nil || anon.SenderChat.ID != g.ID {
		t.Errorf("SendAs: got from %d sender_chat %+v, want GroupAnonymousBot on behalf of the group", anon.From.ID, anon.SenderChat)
	}
	if edited.Text != "/help" || edited.Edited != 1 {
		t.Errorf("Edit: got %+v, want /help edited once", edited)
	}

	ups := c.updates(nil)
	if len(ups) != 7 {
		t.Fatalf("got %d updates, want 7", len(ups))
	}
	if m := ups[0].Message; m == nil || m.Text != "/start@danvan_test_bot abc" || m.From.LanguageCode != "vi" || len(m.Entities) != 1 {
		t.Errorf("command update: got %+v", m)
	}
	if m := ups[1].Message; m == nil || m.ReplyToMessage == nil || m.ReplyToMessage.Text != "Chào bạn" || !m.ReplyToMessage.From.IsBot {
		t.Errorf("reply update: got %+v, want the bot's message inside", m)
	}
	if m := ups[2].Message; m == nil || len(m.Photo) == 0 || m.Caption != "ảnh" {
		t.Errorf("photo update: got %+v", m)
	}
	if m := ups[3].Message; m == nil || m.Sticker == nil {
		t.Errorf("sticker update: got %+v", m)
	}
	if m := ups[4].Message; m == nil || m.SenderChat == nil || m.SenderChat.ID != g.ID || m.From.ID != GroupAnonymousBotID {
		t.Errorf("anonymous admin update: got %+v", m)
	}
	if m := ups[5].EditedMessage; m == nil || m.Text != "/help" || m.EditDate == 0 {
		t.Errorf("edited_message update: got %+v", m)
	}
	if u := ups[6]; u.UpdateID != memberID || u.MyChatMember == nil || u.MyChatMember.OldChatMember.Status != StatusMember ||
		u.MyChatMember.NewChatMember.Status != StatusKicked || u.MyChatMember.NewChatMember.User.ID != DefaultBotID {
		t.Errorf("my_chat_member update: got %+v", u.MyChatMember)
	}
	c.call("sendMessage", vals("chat_id", "-800", "text", "hi")).
		wantError(t, http.StatusForbidden, "Forbidden: bot was kicked from the group chat")

	if got := len(s.Messages(1001)); got != 5 {
		t.Errorf("Messages: got %d, want 5 (bot, command, reply, photo, sticker)", got)
	}
}

func TestMigrate(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice := userAlice()
	g := s.Group(-900, "Old")
	sg := s.Migrate(alice, g, -1001900)
	ups := c.updates(nil)
	if len(ups) != 2 || ups[0].Message.MigrateToChatID != sg.ID || ups[1].Message.MigrateFromChatID != g.ID || ups[1].Message.Chat.Type != "supergroup" {
		t.Fatalf("got %+v, want the two migration service messages", ups)
	}
	c.call("sendMessage", vals("chat_id", "-1001900", "text", "moved")).wantOK(t, nil)
}
