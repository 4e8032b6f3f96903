package telegramtest

import (
	"context"
	"reflect"
	"strings"
	"time"
)

// deleteWindow is how long after its date a message can still be deleted.
const deleteWindow = 48 * time.Hour

const notModifiedDescription = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

// editTargetLocked finds the message an edit names. The caller holds s.mu.
func (s *Server) editTargetLocked(p params) (*chatState, *Message, *apiError) {
	if p.has("inline_message_id") {
		return nil, nil, badRequest("telegramtest: inline messages are not emulated")
	}
	c, aerr := s.botChatLocked(p)
	if aerr != nil {
		return nil, nil, aerr
	}
	m := c.message(p.int("message_id"))
	if m == nil || m.Deleted {
		return nil, nil, badRequest("message to edit not found")
	}
	if !m.FromBot {
		return nil, nil, badRequest("message can't be edited")
	}
	return c, m, nil
}

// editKeyboard returns the inline keyboard an edit leaves on the message:
// the one given, or none, as Telegram removes the keyboard when an edit
// omits reply_markup.
func editKeyboard(p params) ([][]Button, *apiError) {
	mk, aerr := parseMarkup(p)
	if aerr != nil {
		return nil, aerr
	}
	if mk.forceReply || mk.removeKeyboard {
		return nil, badRequest("inline keyboard expected")
	}
	return mk.keyboard, nil
}

func sameKeyboard(a, b [][]Button) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func sameEntities(a, b []Entity) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// applyEditLocked finishes an edit made at the time at, counts it for the
// flood limits under method and builds the answer. The caller holds s.mu.
func (s *Server) applyEditLocked(method string, c *chatState, m *Message, at time.Time) outcome {
	m.Edited++
	m.EditDate = at
	s.countLocked(method, c, m.ID, at)
	s.notifyLocked()
	return outcome{
		result:    s.wireMessageLocked(m, true),
		accepted:  true,
		chatID:    c.info.ID,
		messageID: m.ID,
	}
}

func (s *Server) editMessageText(_ context.Context, p params) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, m, aerr := s.editTargetLocked(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	at, aerr := s.admitLocked(c)
	if aerr != nil {
		return outcome{err: aerr}
	}
	raw := p.str("text")
	if raw == "" {
		return outcome{err: badRequest("message text is empty")}
	}
	text, ents, empty, aerr := formatInput(raw, p.str("parse_mode"))
	if aerr != nil {
		return outcome{err: aerr}
	}
	if empty {
		return outcome{err: badRequest("message text is empty")}
	}
	if utf16Len(text) > maxTextLength {
		return outcome{err: badRequest("message is too long")}
	}
	kb, aerr := editKeyboard(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	if m.Text == "" {
		return outcome{err: badRequest("there is no text in the message to edit")}
	}
	if text == m.Text && sameEntities(ents, m.Entities) && sameKeyboard(kb, m.Keyboard) {
		return outcome{err: badRequest(notModifiedDescription)}
	}
	m.Text, m.Entities, m.Keyboard = text, ents, kb
	m.ParseMode = p.str("parse_mode")
	m.HTML = ""
	if strings.EqualFold(m.ParseMode, "html") {
		m.HTML = raw
	}
	m.DisableWebPagePreview = p.bool("disable_web_page_preview")
	return s.applyEditLocked("editMessageText", c, m, at)
}

func (s *Server) editMessageReplyMarkup(_ context.Context, p params) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, m, aerr := s.editTargetLocked(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	at, aerr := s.admitLocked(c)
	if aerr != nil {
		return outcome{err: aerr}
	}
	kb, aerr := editKeyboard(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	if sameKeyboard(kb, m.Keyboard) {
		return outcome{err: badRequest(notModifiedDescription)}
	}
	m.Keyboard = kb
	return s.applyEditLocked("editMessageReplyMarkup", c, m, at)
}

// deleteMessage follows the Bot API's rules: any message younger than 48
// hours that is the bot's own, or incoming in a private chat, or anyone's
// in a group where the bot is an administrator.
func (s *Server) deleteMessage(_ context.Context, p params) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.botChatLocked(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	m := c.message(p.int("message_id"))
	if m == nil || m.Deleted {
		return outcome{err: badRequest("message to delete not found")}
	}
	if s.now().Sub(m.Date) >= deleteWindow {
		return outcome{err: badRequest("message can't be deleted")}
	}
	if !m.FromBot && c.isGroup() && c.botStatus != StatusAdministrator && c.botStatus != StatusCreator {
		return outcome{err: badRequest("message can't be deleted")}
	}
	m.Deleted = true
	s.notifyLocked()
	return outcome{result: true, accepted: true, chatID: c.info.ID, messageID: m.ID}
}
