package telegramtest

import (
	"net/http"
	"testing"
	"time"
)

func TestEditMessageText(t *testing.T) {
	clock := newTestClock()
	s := New(Options{Now: clock.Now})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	kb := keyboardJSON([]Button{{Text: "OK", CallbackData: "ok"}})
	sent := c.send(vals("chat_id", "1001", "text", "<b>Draft</b>", "parse_mode", "HTML", "reply_markup", kb))
	id := sent.MessageID
	userMsg := s.SendText(alice, chat, "mine")

	tests := []struct {
		name string
		kv   []string
		desc string // "" for success
	}{
		{"same text and keyboard", []string{"message_id", "1", "text", "<b>Draft</b>", "parse_mode", "HTML", "reply_markup", kb}, "Bad Request: " + notModifiedDescription},
		{"same plain text without formatting", []string{"message_id", "1", "text", "Draft", "reply_markup", kb}, ""},
		{"again the same", []string{"message_id", "1", "text", "Draft", "reply_markup", kb}, "Bad Request: " + notModifiedDescription},
		{"dropping the keyboard is a change", []string{"message_id", "1", "text", "Draft"}, ""},
		{"missing message", []string{"message_id", "42", "text", "x"}, "Bad Request: message to edit not found"},
		{"someone else's message", []string{"message_id", "2", "text", "x"}, "Bad Request: message can't be edited"},
		{"empty text", []string{"message_id", "1", "text", ""}, "Bad Request: message text is empty"},
		{"bad HTML", []string{"message_id", "1", "text", "<b>x", "parse_mode", "HTML"}, `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(time.Minute)
			a := c.call("editMessageText", vals(append([]string{"chat_id", "1001"}, tt.kv...)...))
			if tt.desc != "" {
				a.wantError(t, http.StatusBadRequest, tt.desc)
				return
			}
			var m tgMessage
			a.wantOK(t, &m)
			if m.EditDate != clock.Now().Unix() {
				t.Errorf("edit_date: got %d, want %d", m.EditDate, clock.Now().Unix())
			}
		})
	}
	got, _ := s.Message(1001, id)
	if got.Text != "Draft" || got.Entities != nil || got.Keyboard != nil || got.Edited != 2 {
		t.Errorf("after edits: got %+v, want plain Draft without keyboard, edited twice", got)
	}
	if got, _ := s.Message(1001, userMsg.ID); got.Text != "mine" {
		t.Errorf("user's message: got %q, want it untouched", got.Text)
	}
}

func TestEditMessageReplyMarkup(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	s.Private(userAlice())
	kb := keyboardJSON([]Button{{Text: "OK", CallbackData: "ok"}})
	c.send(vals("chat_id", "1001", "text", "pick", "reply_markup", kb))

	c.call("editMessageReplyMarkup", vals("chat_id", "1001", "message_id", "1", "reply_markup", kb)).
		wantError(t, http.StatusBadRequest, "Bad Request: "+notModifiedDescription)
	var m tgMessage
	c.call("editMessageReplyMarkup", vals("chat_id", "1001", "message_id", "1")).wantOK(t, &m)
	if m.ReplyMarkup != nil {
		t.Errorf("reply_markup: got %+v, want none", m.ReplyMarkup)
	}
	c.call("editMessageReplyMarkup", vals("chat_id", "1001", "message_id", "1")).
		wantError(t, http.StatusBadRequest, "Bad Request: "+notModifiedDescription)
	c.call("editMessageReplyMarkup", vals("chat_id", "1001", "message_id", "7", "reply_markup", kb)).
		wantError(t, http.StatusBadRequest, "Bad Request: message to edit not found")
}

func TestDeleteMessage(t *testing.T) {
	clock := newTestClock()
	s := New(Options{Now: clock.Now})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	group := s.Group(-600, "Team")
	admins := s.Group(-700, "Admins")
	s.SetMember(admins.ID, s.Bot().ID, StatusAdministrator)

	old := c.send(vals("chat_id", "1001", "text", "old")).MessageID
	clock.Advance(47 * time.Hour)
	recent := c.send(vals("chat_id", "1001", "text", "recent")).MessageID
	clock.Advance(time.Hour) // "old" is now 48 hours old
	incoming := s.SendText(alice, chat, "private incoming").ID
	inGroup := s.SendText(alice, group, "group message").ID
	inAdmins := s.SendText(alice, admins, "admins message").ID

	tests := []struct {
		name    string
		chatID  string
		message int
		desc    string // "" for success
	}{
		{"missing", "1001", 99, "Bad Request: message to delete not found"},
		{"48 hours old", "1001", old, "Bad Request: message can't be deleted"},
		{"own recent", "1001", recent, ""},
		{"twice", "1001", recent, "Bad Request: message to delete not found"},
		{"incoming in private", "1001", incoming, ""},
		{"someone else's in a group", "-600", inGroup, "Bad Request: message can't be deleted"},
		{"anyone's where the bot is admin", "-700", inAdmins, ""},
		{"unknown chat", "-999", 1, "Bad Request: chat not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := c.call("deleteMessage", vals("chat_id", tt.chatID, "message_id", itoa(tt.message)))
			if tt.desc != "" {
				a.wantError(t, http.StatusBadRequest, tt.desc)
				return
			}
			var ok bool
			a.wantOK(t, &ok)
			if !ok {
				t.Errorf("result: got false, want true")
			}
		})
	}

	msgs := s.BotMessages(1001)
	if len(msgs) != 2 || msgs[0].Deleted || !msgs[1].Deleted {
		t.Errorf("BotMessages: got %+v, want old kept and recent flagged deleted", msgs)
	}
	c.call("editMessageText", vals("chat_id", "1001", "message_id", itoa(recent), "text", "x")).
		wantError(t, http.StatusBadRequest, "Bad Request: message to edit not found")
}
