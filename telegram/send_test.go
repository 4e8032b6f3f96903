package telegram

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"danvan/delivery"
	"danvan/store"
	"danvan/telegramtest"
)

// TestDo performs each kind of action and checks the chat as the emulator
// holds it afterwards.
func TestDo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	img := pngBytes(t)
	keyboard := [][]store.Button{
		{{Text: "Có", Data: "yes:1"}, {Text: "Không", Data: "no:1"}},
		{{Text: "Bản đồ", URL: "https://example.org/map"}},
	}
	emuKeyboard := [][]telegramtest.Button{
		{{Text: "Có", CallbackData: "yes:1"}, {Text: "Không", CallbackData: "no:1"}},
		{{Text: "Bản đồ", URL: "https://example.org/map"}},
	}

	type env struct {
		chat telegramtest.Chat
		user telegramtest.User
	}
	// send puts a first bot message in the chat, for edits and replies.
	send := func(t *testing.T, e env, a store.Action) int {
		t.Helper()
		id, err := f.client.Do(ctx, e.chat.ID, a)
		if err != nil {
			t.Fatalf("setup send: %v", err)
		}
		return id
	}
	tests := []struct {
		name string
		// prepare returns the action under test.
		prepare func(t *testing.T, e env) store.Action
		// wantID is false for actions that create or change no message.
		wantID bool
		check  func(t *testing.T, e env, got telegramtest.Message)
	}{
		{
			name: "send HTML",
			prepare: func(t *testing.T, e env) store.Action {
				return store.Action{Kind: store.ActSend, Text: "<b>Xin chào</b> &amp; hẹn gặp", Silent: true, DisablePreview: true}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.Text != "Xin chào & hẹn gặp" || m.ParseMode != "HTML" || m.HTML != "<b>Xin chào</b> &amp; hẹn gặp" {
					t.Errorf("got text %q parse mode %q html %q, want the HTML parsed", m.Text, m.ParseMode, m.HTML)
				}
				if len(m.Entities) != 1 || m.Entities[0] != (telegramtest.Entity{Type: "bold", Offset: 0, Length: 8}) {
					t.Errorf("got entities %+v, want one bold over Xin chào", m.Entities)
				}
				if !m.DisableNotification || !m.DisableWebPagePreview || m.Keyboard != nil || m.ReplyToID != 0 {
					t.Errorf("got %+v, want silent, no preview, no keyboard, no reply", m)
				}
			},
		},
		{
			name: "send plain",
			prepare: func(t *testing.T, e env) store.Action {
				return store.Action{Kind: store.ActSend, Text: "a <b> & c", Plain: true}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.Text != "a <b> & c" || m.ParseMode != "" || m.DisableNotification {
					t.Errorf("got text %q parse mode %q, want the text verbatim without parse mode", m.Text, m.ParseMode)
				}
			},
		},
		{
			name: "send with keyboard",
			prepare: func(t *testing.T, e env) store.Action {
				return store.Action{Kind: store.ActSend, Text: "Chọn", Buttons: keyboard}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if !reflect.DeepEqual(m.Keyboard, emuKeyboard) {
					t.Errorf("got keyboard %+v, want %+v", m.Keyboard, emuKeyboard)
				}
			},
		},
		{
			name: "send replying",
			prepare: func(t *testing.T, e env) store.Action {
				mine := f.emu.SendText(e.user, e.chat, "câu hỏi")
				return store.Action{Kind: store.ActSend, Text: "trả lời", ReplyTo: mine.ID}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.ReplyToID != 1 || m.Text != "trả lời" {
					t.Errorf("got reply to %d text %q, want reply to 1", m.ReplyToID, m.Text)
				}
			},
		},
		{
			name: "send replying to a missing message",
			prepare: func(t *testing.T, e env) store.Action {
				return store.Action{Kind: store.ActSend, Text: "vẫn gửi", ReplyTo: 9999}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.Text != "vẫn gửi" || m.ReplyToID != 0 {
					t.Errorf("got text %q reply to %d, want sent without reply", m.Text, m.ReplyToID)
				}
			},
		},
		{
			name: "send with force reply",
			prepare: func(t *testing.T, e env) store.Action {
				return store.Action{Kind: store.ActSend, Text: "Địa chỉ?", ForceReply: true, Placeholder: "Số nhà, đường"}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if !m.ForceReply || m.Placeholder != "Số nhà, đường" || m.Keyboard != nil {
					t.Errorf("got force reply %v placeholder %q, want force reply with placeholder", m.ForceReply, m.Placeholder)
				}
			},
		},
		{
			name: "photo upload",
			prepare: func(t *testing.T, e env) store.Action {
				return store.Action{Kind: store.ActPhoto, Text: "<i>Ảnh</i> mới", FileName: "anh.png", FileData: img, Buttons: keyboard}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.PhotoFileID == "" || m.FileSize != len(img) || m.Caption != "Ảnh mới" || !reflect.DeepEqual(m.Keyboard, emuKeyboard) {
					t.Errorf("got photo %q size %d caption %q keyboard %v, want the uploaded %d bytes with caption and keyboard", m.PhotoFileID, m.FileSize, m.Caption, m.Keyboard, len(img))
				}
			},
		},
		{
			name: "photo by file id",
			prepare: func(t *testing.T, e env) store.Action {
				theirs := f.emu.SendPhoto(e.user, e.chat, "")
				return store.Action{Kind: store.ActPhoto, FileID: theirs.PhotoFileID, Text: "lại", ReplyTo: theirs.ID}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				theirs := f.emu.Messages(e.chat.ID)[0]
				if m.PhotoFileID != theirs.PhotoFileID || m.Caption != "lại" || m.ReplyToID != theirs.ID {
					t.Errorf("got photo %q caption %q reply %d, want %q, lại, %d", m.PhotoFileID, m.Caption, m.ReplyToID, theirs.PhotoFileID, theirs.ID)
				}
			},
		},
		{
			name: "document upload",
			prepare: func(t *testing.T, e env) store.Action {
				return store.Action{Kind: store.ActDocument, Text: "Báo cáo", FileName: "bao-cao.csv", FileData: []byte("a,b\n1,2\n"), Silent: true}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.DocumentFileID == "" || m.DocumentName != "bao-cao.csv" || m.FileSize != 8 || m.Caption != "Báo cáo" || !m.DisableNotification {
					t.Errorf("got document %q %q size %d caption %q, want bao-cao.csv of 8 bytes", m.DocumentFileID, m.DocumentName, m.FileSize, m.Caption)
				}
			},
		},
		{
			name: "document by file id",
			prepare: func(t *testing.T, e env) store.Action {
				first := send(t, e, store.Action{Kind: store.ActDocument, FileName: "a.txt", FileData: []byte("xyz")})
				m, _ := f.emu.Message(e.chat.ID, first)
				return store.Action{Kind: store.ActDocument, FileID: m.DocumentFileID}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				first := f.emu.BotMessages(e.chat.ID)[0]
				if m.DocumentFileID != first.DocumentFileID || m.DocumentName != "a.txt" || m.ID == first.ID {
					t.Errorf("got document %q %q, want a second message with %q", m.DocumentFileID, m.DocumentName, first.DocumentFileID)
				}
			},
		},
		{
			name: "edit text removing the keyboard",
			prepare: func(t *testing.T, e env) store.Action {
				id := send(t, e, store.Action{Kind: store.ActSend, Text: "Chọn", Buttons: keyboard})
				return store.Action{Kind: store.ActEditText, MessageID: id, Text: "Đã chọn <b>Có</b>"}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.Text != "Đã chọn Có" || m.Keyboard != nil || m.Edited != 1 || len(f.emu.BotMessages(e.chat.ID)) != 1 {
					t.Errorf("got text %q keyboard %v edits %d, want the one message edited without keyboard", m.Text, m.Keyboard, m.Edited)
				}
			},
		},
		{
			name: "edit text keeping a keyboard",
			prepare: func(t *testing.T, e env) store.Action {
				id := send(t, e, store.Action{Kind: store.ActSend, Text: "Trang 1", Buttons: [][]store.Button{{{Text: "›", Data: "p:2"}}}})
				return store.Action{Kind: store.ActEditText, MessageID: id, Text: "Trang 2", Buttons: keyboard}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.Text != "Trang 2" || !reflect.DeepEqual(m.Keyboard, emuKeyboard) {
					t.Errorf("got text %q keyboard %v, want Trang 2 with the new keyboard", m.Text, m.Keyboard)
				}
			},
		},
		{
			name: "edit markup",
			prepare: func(t *testing.T, e env) store.Action {
				id := send(t, e, store.Action{Kind: store.ActSend, Text: "Giữ nguyên", Buttons: [][]store.Button{{{Text: "x", Data: "x"}}}})
				return store.Action{Kind: store.ActEditMarkup, MessageID: id, Buttons: keyboard}
			},
			wantID: true,
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if m.Text != "Giữ nguyên" || !reflect.DeepEqual(m.Keyboard, emuKeyboard) || m.Edited != 1 {
					t.Errorf("got text %q keyboard %v, want the text kept and the keyboard replaced", m.Text, m.Keyboard)
				}
			},
		},
		{
			name: "delete",
			prepare: func(t *testing.T, e env) store.Action {
				id := send(t, e, store.Action{Kind: store.ActSend, Text: "tạm"})
				return store.Action{Kind: store.ActDelete, MessageID: id}
			},
			check: func(t *testing.T, e env, m telegramtest.Message) {
				if !m.Deleted {
					t.Errorf("got %+v, want the message deleted", m)
				}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := telegramtest.User{ID: int64(5000 + i), FirstName: "U"}
			e := env{chat: f.emu.Private(user), user: user}
			a := tt.prepare(t, e)
			id, err := f.client.Do(ctx, e.chat.ID, a)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			msgs := f.emu.BotMessages(e.chat.ID)
			if len(msgs) == 0 {
				t.Fatal("got no bot message, want one")
			}
			last := msgs[len(msgs)-1]
			switch {
			case tt.wantID && id != last.ID:
				t.Errorf("got id %d, want the emulator's %d", id, last.ID)
			case !tt.wantID && id != 0:
				t.Errorf("got id %d, want 0", id)
			}
			tt.check(t, e, last)
		})
	}
}

func TestDoAnswersPresses(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		alert bool
	}{
		{"notice", "Đã ghi nhận", false},
		{"alert", "Hết hạn đăng ký", true},
		{"silent", "", false},
	}
	f := newFixture(t)
	ctx := context.Background()
	chat := f.emu.Private(alice)
	msg, err := f.client.Do(ctx, chat.ID, store.Action{Kind: store.ActSend, Text: "Chọn", Buttons: [][]store.Button{{{Text: "Có", Data: "yes"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := f.emu.Press(alice, chat, msg, "yes")
			id, err := f.client.Do(ctx, chat.ID, store.Action{Kind: store.ActAnswer, CallbackID: q, Text: tt.text, Alert: tt.alert})
			if err != nil || id != 0 {
				t.Fatalf("got %d, %v; want 0, nil", id, err)
			}
			got, ok := f.emu.CallbackAnswer(q)
			if !ok || got.Text != tt.text || got.ShowAlert != tt.alert {
				t.Errorf("got answer %+v (%v), want text %q alert %v", got, ok, tt.text, tt.alert)
			}
		})
	}
	if n := len(f.emu.BotMessages(chat.ID)); n != 1 {
		t.Errorf("got %d bot messages, want 1: answers send no message", n)
	}
}

// TestDoUnknownKind: a row this danvan cannot translate (an unknown or
// empty kind) is rejected for good, without a request; retried as
// temporary, it would block its chat forever.
func TestDoUnknownKind(t *testing.T) {
	f := newFixture(t)
	chat := f.emu.Private(alice)
	for _, kind := range []string{"dance", ""} {
		_, err := f.client.Do(context.Background(), chat.ID, store.Action{Kind: kind, Text: "x"})
		if err == nil {
			t.Fatalf("kind %q: got no error, want one", kind)
		}
		e := checkError(t, err, wantErr{kind: delivery.Rejected, desc: "unknown action kind"})
		if !strings.Contains(e.Description, fmt.Sprintf("%q", kind)) {
			t.Errorf("got description %q, want it to name the kind %q", e.Description, kind)
		}
		if got := delivery.Classify(err).Kind; got != delivery.Rejected {
			t.Errorf("kind %q: the sender classifies it %v, want rejected", kind, got)
		}
	}
	if n := f.emu.Requests("sendMessage"); n != 0 {
		t.Errorf("got %d requests, want none", n)
	}
}
