package telegramtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestSendMessageErrors(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	alice, bob := userAlice(), userBob()
	carol := User{ID: 1003, FirstName: "Carol"}
	dave := User{ID: 1004, FirstName: "Dave"}
	s.Private(alice)
	s.Private(carol)
	s.Block(carol.ID)
	s.Private(dave)
	s.Deactivate(dave.ID)
	s.Group(-200, "Kicked")
	s.SetMember(-200, bob.ID, StatusMember) // bob is known, but never opened the bot
	s.SetMember(-200, s.Bot().ID, StatusKicked)
	s.Supergroup(-1001300, "Left")
	s.SetMember(-1001300, s.Bot().ID, StatusLeft)
	s.Group(-300, "Old")
	s.Migrate(alice, Chat{ID: -300}, -1001400)

	long := strings.Repeat("a", 65)
	tests := []struct {
		name string
		kv   []string
		code int
		desc string
	}{
		{"unknown chat", []string{"chat_id", "424242", "text", "hi"}, 400, "Bad Request: chat not found"},
		{"user never opened the bot", []string{"chat_id", "1002", "text", "hi"}, 403, "Forbidden: bot can't initiate conversation with a user"},
		{"blocked", []string{"chat_id", "1003", "text", "hi"}, 403, "Forbidden: bot was blocked by the user"},
		{"deactivated", []string{"chat_id", "1004", "text", "hi"}, 403, "Forbidden: user is deactivated"},
		{"kicked from a group", []string{"chat_id", "-200", "text", "hi"}, 403, "Forbidden: bot was kicked from the group chat"},
		{"left a supergroup", []string{"chat_id", "-1001300", "text", "hi"}, 403, "Forbidden: bot is not a member of the supergroup chat"},
		{"no text", []string{"chat_id", "1001"}, 400, "Bad Request: message text is empty"},
		{"whitespace text", []string{"chat_id", "1001", "text", " \n "}, 400, "Bad Request: message text is empty"},
		{"tags around nothing", []string{"chat_id", "1001", "text", "<b> </b>", "parse_mode", "HTML"}, 400, "Bad Request: message text is empty"},
		{"too long", []string{"chat_id", "1001", "text", strings.Repeat("a", 4097)}, 400, "Bad Request: message is too long"},
		{"empty callback_data", []string{"chat_id", "1001", "text", "hi", "reply_markup", keyboardJSON([]Button{{Text: "A"}})}, 400, "Bad Request: BUTTON_DATA_INVALID"},
		{"callback_data over 64 bytes", []string{"chat_id", "1001", "text", "hi", "reply_markup", keyboardJSON([]Button{{Text: "A", CallbackData: long}})}, 400, "Bad Request: BUTTON_DATA_INVALID"},
		{"button without action", []string{"chat_id", "1001", "text", "hi", "reply_markup", `{"inline_keyboard":[[{"text":"A"}]]}`}, 400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"},
		{"bad button URL", []string{"chat_id", "1001", "text", "hi", "reply_markup", keyboardJSON([]Button{{Text: "A", URL: "javascript:alert(1)"}})}, 400, "Bad Request: BUTTON_URL_INVALID"},
		{"bad markup JSON", []string{"chat_id", "1001", "text", "hi", "reply_markup", "{"}, 400, "Bad Request: can't parse reply keyboard markup JSON object"},
		{"reply to a missing message", []string{"chat_id", "1001", "text", "hi", "reply_to_message_id", "99"}, 400, "Bad Request: message to be replied not found"},
		{"unknown parse_mode", []string{"chat_id", "1001", "text", "hi", "parse_mode", "Fancy"}, 400, "Bad Request: unsupported parse_mode"},
		{"unclosed tag", []string{"chat_id", "1001", "text", "<b>hi", "parse_mode", "HTML"}, 400, `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`},
		{"unsupported tag", []string{"chat_id", "1001", "text", "a <x>b</x>", "parse_mode", "HTML"}, 400, `Bad Request: can't parse entities: Unsupported start tag "x" at byte offset 2`},
		{"unexpected end tag", []string{"chat_id", "1001", "text", "a</b>", "parse_mode", "HTML"}, 400, "Bad Request: can't parse entities: Unexpected end tag at byte offset 1"},
		{"unclosed start tag", []string{"chat_id", "1001", "text", "a <b", "parse_mode", "HTML"}, 400, "Bad Request: can't parse entities: Unclosed start tag at byte offset 2"},
		{"unmatched end tag", []string{"chat_id", "1001", "text", "<b>a</i>", "parse_mode", "HTML"}, 400, `Bad Request: can't parse entities: Unmatched end tag at byte offset 4, expected "</b>", found "</i>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.call("sendMessage", vals(tt.kv...)).wantError(t, tt.code, tt.desc)
		})
	}
	t.Run("upgraded group", func(t *testing.T) {
		a := c.call("sendMessage", vals("chat_id", "-300", "text", "hi"))
		a.wantError(t, 400, "Bad Request: group chat was upgraded to a supergroup chat")
		if a.Parameters == nil || a.Parameters.MigrateToChatID != -1001400 {
			t.Errorf("parameters: got %+v, want migrate_to_chat_id -1001400", a.Parameters)
		}
	})
	if got := len(s.BotMessages(alice.ID)); got != 0 {
		t.Errorf("bot messages after failed sends: got %d, want 0", got)
	}
	if got := s.Sent(); got != 0 {
		t.Errorf("Sent: got %d, want 0", got)
	}
}

func TestSendMessageLengthCountsParsedUTF16(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	s.Private(userAlice())
	tests := []struct {
		name      string
		text      string
		parseMode string
		ok        bool
	}{
		{"4096 bold characters", strings.Repeat("<b>x</b>", 4096), "HTML", true},
		{"4097 bold characters", strings.Repeat("<b>x</b>", 4097), "HTML", false},
		{"4096 plain characters", strings.Repeat("x", 4096), "", true},
		{"trailing newlines are trimmed first", strings.Repeat("x", 4096) + "\n\n", "", true},
		{"2048 emoji are 4096 UTF-16 units", strings.Repeat("\U0001F600", 2048), "", true},
		{"2049 emoji are too many", strings.Repeat("\U0001F600", 2049), "", false},
		{"escaped characters count once", strings.Repeat("&lt;", 4096), "HTML", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := c.call("sendMessage", vals("chat_id", "1001", "text", tt.text, "parse_mode", tt.parseMode))
			if !tt.ok {
				a.wantError(t, 400, "Bad Request: message is too long")
				return
			}
			var m tgMessage
			a.wantOK(t, &m)
			if tt.parseMode != "" && strings.HasPrefix(tt.text, "<b>") {
				want := []tgEntity{{Type: "bold", Offset: 0, Length: 4096}}
				if !reflect.DeepEqual(m.Entities, want) {
					t.Errorf("entities: got %+v, want %+v", m.Entities, want)
				}
			}
		})
	}
}

func TestSendMessageResult(t *testing.T) {
	clock := newTestClock()
	s := New(Options{Now: clock.Now})
	c := newHTTPServer(t, s)
	alice := userAlice()
	chat := s.Private(alice)
	s.Group(-500, "Team")

	kb := keyboardJSON([]Button{{Text: "Yes", CallbackData: "yes"}, {Text: "Site", URL: "https://example.com"}})
	m1 := c.send(vals("chat_id", "1001", "text", "Xin ch\u00e0o <b>Vi\u1ec7t Nam</b> \U0001F1FB\U0001F1F3", "parse_mode", "HTML", "reply_markup", kb))
	if m1.MessageID != 1 {
		t.Errorf("first message_id: got %d, want 1", m1.MessageID)
	}
	if m1.From == nil || m1.From.ID != DefaultBotID || !m1.From.IsBot || m1.From.Username != DefaultBotUsername {
		t.Errorf("from: got %+v, want the bot", m1.From)
	}
	if m1.Chat.ID != alice.ID || m1.Chat.Type != "private" || m1.Chat.FirstName != "Alice" {
		t.Errorf("chat: got %+v, want Alice's private chat", m1.Chat)
	}
	if got, want := m1.Date, clock.Now().Unix(); got != want {
		t.Errorf("date: got %d, want %d", got, want)
	}
	if got, want := m1.Text, "Xin ch\u00e0o Vi\u1ec7t Nam \U0001F1FB\U0001F1F3"; got != want {
		t.Errorf("text: got %q, want %q", got, want)
	}
	if got, want := m1.Entities, []tgEntity{{Type: "bold", Offset: 9, Length: 8}}; !reflect.DeepEqual(got, want) {
		t.Errorf("entities: got %+v, want %+v", got, want)
	}
	if m1.ReplyMarkup == nil || len(m1.ReplyMarkup.InlineKeyboard) != 1 || m1.ReplyMarkup.InlineKeyboard[0][1].URL != "https://example.com" {
		t.Errorf("reply_markup: got %+v, want the keyboard", m1.ReplyMarkup)
	}

	user := s.SendText(alice, chat, "a question")
	if user.ID != 2 {
		t.Errorf("user message id: got %d, want 2", user.ID)
	}
	m3 := c.send(vals("chat_id", "1001", "text", "an answer", "reply_to_message_id", "2"))
	if m3.MessageID != 3 {
		t.Errorf("third message_id: got %d, want 3", m3.MessageID)
	}
	if r := m3.ReplyToMessage; r == nil || r.MessageID != 2 || r.Text != "a question" || r.From == nil || r.From.ID != alice.ID {
		t.Errorf("reply_to_message: got %+v, want Alice's question", r)
	}
	if g := c.send(vals("chat_id", "-500", "text", "hello team")); g.MessageID != 1 || g.Chat.Title != "Team" {
		t.Errorf("group message: got id %d chat %+v, want id 1 in Team", g.MessageID, g.Chat)
	}

	msgs := s.Messages(alice.ID)
	if len(msgs) != 3 || !msgs[0].FromBot || msgs[1].FromBot || msgs[2].ReplyToID != 2 {
		t.Fatalf("Messages: got %+v, want bot, user, bot reply", msgs)
	}
	want := [][]Button{{{Text: "Yes", CallbackData: "yes"}, {Text: "Site", URL: "https://example.com"}}}
	if !reflect.DeepEqual(msgs[0].Keyboard, want) {
		t.Errorf("Keyboard: got %+v, want %+v", msgs[0].Keyboard, want)
	}
	if got, want := msgs[0].HTML, "Xin ch\u00e0o <b>Vi\u1ec7t Nam</b> \U0001F1FB\U0001F1F3"; got != want {
		t.Errorf("HTML: got %q, want %q", got, want)
	}
	if got := s.Sent(); got != 3 {
		t.Errorf("Sent: got %d, want 3", got)
	}
	if got := s.Requests("sendMessage"); got != 3 {
		t.Errorf("Requests(sendMessage): got %d, want 3", got)
	}
}

func TestSendMessageOptions(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	s.Private(userAlice())

	t.Run("JSON body", func(t *testing.T) {
		var m tgMessage
		c.callJSON("sendMessage", map[string]any{
			"chat_id":      1001,
			"text":         "<i>hi</i>",
			"parse_mode":   "HTML",
			"reply_markup": map[string]any{"inline_keyboard": [][]map[string]string{{{"text": "A", "callback_data": "a"}}}},
		}).wantOK(t, &m)
		if len(m.Entities) != 1 || m.Entities[0].Type != "italic" || m.ReplyMarkup == nil {
			t.Errorf("got %+v, want italic text with a keyboard", m)
		}
	})
	t.Run("reply without the replied message", func(t *testing.T) {
		m := c.send(vals("chat_id", "1001", "text", "hi", "reply_to_message_id", "99", "allow_sending_without_reply", "true"))
		if m.ReplyToMessage != nil {
			t.Errorf("reply_to_message: got %+v, want none", m.ReplyToMessage)
		}
	})
	t.Run("force reply", func(t *testing.T) {
		m := c.send(vals("chat_id", "1001", "text", "Your name?", "reply_markup", `{"force_reply":true,"input_field_placeholder":"Nguyễn Văn A"}`))
		if m.ReplyMarkup != nil {
			t.Errorf("reply_markup in message: got %+v, want none (only inline keyboards show)", m.ReplyMarkup)
		}
		got, _ := s.Message(1001, m.MessageID)
		if !got.ForceReply || got.Placeholder != "Nguyễn Văn A" {
			t.Errorf("stored: got ForceReply %v Placeholder %q, want true %q", got.ForceReply, got.Placeholder, "Nguyễn Văn A")
		}
	})
	t.Run("remove keyboard and flags", func(t *testing.T) {
		m := c.send(vals("chat_id", "1001", "text", "done", "reply_markup", `{"remove_keyboard":true}`, "disable_notification", "true", "disable_web_page_preview", "true"))
		got, _ := s.Message(1001, m.MessageID)
		if !got.RemoveKeyboard || !got.DisableNotification || !got.DisableWebPagePreview {
			t.Errorf("stored: got %+v, want RemoveKeyboard, DisableNotification, DisableWebPagePreview", got)
		}
	})
}

func TestSendPhotoAndDocument(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	s.Private(userAlice())
	img := pngBytes(t, 1600, 1200)

	var photo tgMessage
	c.upload("sendPhoto", map[string]string{"chat_id": "1001", "caption": "<b>Biểu đồ</b> tuần", "parse_mode": "HTML"}, "photo", "chart.png", img).wantOK(t, &photo)
	var sizes []string
	for _, p := range photo.Photo {
		sizes = append(sizes, fmt.Sprintf("%dx%d", p.Width, p.Height))
	}
	if got, want := strings.Join(sizes, " "), "90x67 320x240 800x600 1280x960"; got != want {
		t.Errorf("photo sizes: got %s, want %s", got, want)
	}
	if photo.Caption != "Biểu đồ tuần" || len(photo.CaptionEntities) != 1 || photo.CaptionEntities[0].Length != 7 {
		t.Errorf("caption: got %q %+v, want bold Biểu đồ", photo.Caption, photo.CaptionEntities)
	}
	stored, _ := s.Message(1001, photo.MessageID)
	largest := photo.Photo[len(photo.Photo)-1].FileID
	if stored.PhotoFileID != largest || stored.FileSize != len(img) {
		t.Errorf("stored photo: got %q size %d, want %q size %d", stored.PhotoFileID, stored.FileSize, largest, len(img))
	}

	var again tgMessage
	c.call("sendPhoto", vals("chat_id", "1001", "photo", largest)).wantOK(t, &again)
	if got := again.Photo[len(again.Photo)-1].FileID; got != largest {
		t.Errorf("photo sent by file_id: got %q, want %q", got, largest)
	}

	var doc tgMessage
	c.upload("sendDocument", map[string]string{"chat_id": "1001"}, "document", "report.csv", []byte("a,b\n1,2\n")).wantOK(t, &doc)
	if doc.Document == nil || doc.Document.FileName != "report.csv" || doc.Document.MimeType != "text/csv" || doc.Document.FileSize != 8 {
		t.Errorf("document: got %+v, want report.csv text/csv 8 bytes", doc.Document)
	}
	if stored, _ := s.Message(1001, doc.MessageID); stored.DocumentName != "report.csv" || stored.FileSize != 8 || stored.DocumentFileID != doc.Document.FileID {
		t.Errorf("stored document: got %+v", stored)
	}
	if doc.Document.FileID == largest {
		t.Errorf("document file_id: got the photo's, want a fresh one")
	}

	tests := []struct {
		name string
		send func() answer
		desc string
	}{
		{"caption too long", func() answer {
			return c.call("sendPhoto", vals("chat_id", "1001", "photo", largest, "caption", strings.Repeat("c", 1025)))
		}, "Bad Request: message caption is too long"},
		{"not an image", func() answer {
			return c.upload("sendPhoto", map[string]string{"chat_id": "1001"}, "photo", "x.png", []byte("not a picture"))
		}, "Bad Request: IMAGE_PROCESS_FAILED"},
		{"empty file", func() answer {
			return c.upload("sendDocument", map[string]string{"chat_id": "1001"}, "document", "empty.txt", nil)
		}, "Bad Request: file must be non-empty"},
		{"unknown file_id", func() answer {
			return c.call("sendPhoto", vals("chat_id", "1001", "photo", "AgACnope"))
		}, "Bad Request: wrong file identifier/HTTP URL specified"},
		{"no photo", func() answer {
			return c.call("sendPhoto", vals("chat_id", "1001"))
		}, "Bad Request: there is no photo in the request"},
		{"photo as a document", func() answer {
			return c.call("sendDocument", vals("chat_id", "1001", "document", largest))
		}, "Bad Request: type of file mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.send().wantError(t, http.StatusBadRequest, tt.desc)
		})
	}
	t.Run("caption of 1024 characters", func(t *testing.T) {
		c.call("sendPhoto", vals("chat_id", "1001", "photo", largest, "caption", strings.Repeat("\u1ec7", 1024))).wantOK(t, nil)
	})
}

func TestWaitBotMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		c := newMemClient(t, s)
		s.Private(userAlice())
		go func() {
			for i := range 2 {
				time.Sleep(time.Second)
				c.send(vals("chat_id", "1001", "text", fmt.Sprint("message ", i)))
			}
		}()
		msgs, err := s.WaitBotMessages(context.Background(), 1001, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2 || msgs[1].Text != "message 1" {
			t.Errorf("got %+v, want the two messages", msgs)
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		msgs, err = s.WaitBotMessages(ctx, 1001, 3)
		if !errors.Is(err, context.DeadlineExceeded) || len(msgs) != 2 {
			t.Errorf("waiting for a third: got %d messages, error %v; want 2 and a deadline error", len(msgs), err)
		}
	})
}

func TestSendChatAction(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	s.Private(userAlice())
	tests := []struct {
		name, chatID, action string
		code                 int
		desc                 string
	}{
		{"typing", "1001", "typing", 200, ""},
		{"unknown action", "1001", "dancing", 400, "Bad Request: wrong parameter action in request"},
		{"unknown chat", "1009", "typing", 400, "Bad Request: chat not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := c.call("sendChatAction", vals("chat_id", tt.chatID, "action", tt.action))
			if tt.code != 200 {
				a.wantError(t, tt.code, tt.desc)
				return
			}
			a.wantOK(t, nil)
		})
	}
}
