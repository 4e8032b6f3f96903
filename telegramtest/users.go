package telegramtest

import (
	"fmt"
)

// groupAnonymousBot is the sender Telegram shows for anonymous group
// administrators.
func groupAnonymousBot() User {
	return User{ID: GroupAnonymousBotID, FirstName: "Group", Username: "GroupAnonymousBot", IsBot: true}
}

// senderChatLocked checks that from may write in c and records them. The
// caller holds s.mu.
func (s *Server) senderChatLocked(from User, chat Chat) *chatState {
	c := s.mustChatLocked(chat.ID)
	if c.info.Type == "private" && from.ID != c.info.ID {
		panic(fmt.Sprintf("telegramtest: user %d cannot write in the private chat of user %d", from.ID, c.info.ID))
	}
	s.userLocked(from)
	if c.isGroup() && from.ID != GroupAnonymousBotID {
		if _, ok := c.members[from.ID]; !ok {
			c.members[from.ID] = StatusMember
		}
	}
	return c
}

// userText normalises a text typed in a client; Telegram detects its bot
// commands, mentions, hashtags and URLs.
func userText(text string) (string, []Entity) {
	plain, ents, empty := normalizeText(text, nil)
	if empty {
		panic("telegramtest: a client cannot send an empty text message")
	}
	return plain, ents
}

// injectLocked stores a user's message and enqueues it as an update of
// kind "message". The caller holds s.mu.
func (s *Server) injectLocked(c *chatState, m *Message) Message {
	c.add(m)
	s.enqueueLocked("message", s.wireMessageLocked(m, true))
	s.notifyLocked()
	return m.clone()
}

// SendText makes from send text in chat and enqueues the message update.
// Entities are those a client produces: a text starting with "/" gets a
// bot_command entity for its first word (with any @botname suffix), and
// mentions, hashtags and URLs are marked too.
func (s *Server) SendText(from User, chat Chat, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.senderChatLocked(from, chat)
	plain, ents := userText(text)
	return s.injectLocked(c, &Message{From: from, Date: s.now(), Text: plain, Entities: ents})
}

// ReplyText makes from reply with text to message replyToMessageID in chat.
// The update's reply_to_message carries the whole original message.
func (s *Server) ReplyText(from User, chat Chat, replyToMessageID int, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.senderChatLocked(from, chat)
	if r := c.message(replyToMessageID); r == nil || r.Deleted {
		panic(fmt.Sprintf("telegramtest: ReplyText: chat %d has no message %d", chat.ID, replyToMessageID))
	}
	plain, ents := userText(text)
	return s.injectLocked(c, &Message{From: from, Date: s.now(), Text: plain, Entities: ents, ReplyToID: replyToMessageID})
}

// SendPhoto makes from send a photo (a 1280×960 picture in four sizes)
// with caption in chat.
func (s *Server) SendPhoto(from User, chat Chat, caption string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.senderChatLocked(from, chat)
	capText, capEnts, _ := normalizeText(caption, nil)
	const size = 180_000
	f := s.newFileLocked("photo", "", size, 1280, 960)
	return s.injectLocked(c, &Message{
		From:            from,
		Date:            s.now(),
		Caption:         capText,
		CaptionEntities: capEnts,
		PhotoFileID:     f.fileID,
		FileSize:        size,
	})
}

// SendSticker makes from send a sticker in chat.
func (s *Server) SendSticker(from User, chat Chat) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.senderChatLocked(from, chat)
	const size = 24_000
	f := s.newFileLocked("sticker", "", size, 512, 512)
	f.emoji = "👍"
	return s.injectLocked(c, &Message{From: from, Date: s.now(), StickerFileID: f.fileID, FileSize: size})
}

// SendAs posts text in chat on behalf of senderChat, as an anonymous group
// administrator does: from is GroupAnonymousBot and sender_chat is the
// group.
func (s *Server) SendAs(senderChat Chat, chat Chat, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.senderChatLocked(groupAnonymousBot(), chat)
	sc := s.mustChatLocked(senderChat.ID).info
	plain, ents := userText(text)
	return s.injectLocked(c, &Message{From: groupAnonymousBot(), SenderChat: &sc, Date: s.now(), Text: plain, Entities: ents})
}

// Edit makes from edit their text message messageID in chat to newText and
// enqueues an edited_message update. It panics if from did not send that
// text message.
func (s *Server) Edit(from User, chat Chat, messageID int, newText string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.senderChatLocked(from, chat)
	m := c.message(messageID)
	if m == nil || m.Deleted || m.FromBot || m.From.ID != from.ID || m.Text == "" {
		panic(fmt.Sprintf("telegramtest: Edit: user %d has no text message %d in chat %d", from.ID, messageID, chat.ID))
	}
	m.Text, m.Entities = userText(newText)
	m.Edited++
	m.EditDate = s.now()
	s.enqueueLocked("edited_message", s.wireMessageLocked(m, true))
	s.notifyLocked()
	return m.clone()
}

// MyChatMember changes the bot's own status in chat to newStatus, as when
// from adds the bot to a group ("member", "administrator"), removes it
// ("left", "kicked"), or, in a private chat, blocks ("kicked") or unblocks
// ("member") it, and enqueues the my_chat_member update. It returns the
// update_id (0 if allowed_updates filters the kind out).
func (s *Server) MyChatMember(from User, chat Chat, newStatus string) (updateID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustChatLocked(chat.ID)
	s.userLocked(from)
	var old string
	if c.isGroup() {
		old = c.botStatus
		c.botStatus = newStatus
	} else {
		st := s.users[c.info.ID]
		old = StatusMember
		if st.blocked {
			old = StatusKicked
		}
		st.blocked = newStatus == StatusKicked || newStatus == StatusLeft
	}
	upd := apiChatMemberUpdated{
		Chat:          s.wireChatLocked(c.info.ID),
		From:          wireUser(from),
		Date:          s.now().Unix(),
		OldChatMember: wireMember(s.bot, old),
		NewChatMember: wireMember(s.bot, newStatus),
	}
	id := s.enqueueLocked("my_chat_member", upd)
	s.notifyLocked()
	return id
}
