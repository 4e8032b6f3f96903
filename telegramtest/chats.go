package telegramtest

import (
	"context"
	"fmt"
)

// Chat member statuses, as getChatMember reports them.
const (
	StatusCreator       = "creator"
	StatusAdministrator = "administrator"
	StatusMember        = "member"
	StatusRestricted    = "restricted"
	StatusLeft          = "left"
	StatusKicked        = "kicked"
)

// userState is what the server knows about a user.
type userState struct {
	user User
	// opened is set once the user started the bot: only then may the bot
	// write to them.
	opened      bool
	blocked     bool
	deactivated bool
}

// chatState is one chat and its history.
type chatState struct {
	info Chat
	// messages holds every message, message_id i at index i-1.
	messages []*Message
	// members maps user ids to their status (groups only).
	members map[int64]string
	// botStatus is the bot's own status in a group.
	botStatus string
	// migratedTo is the supergroup a group was upgraded to, or 0.
	migratedTo int64
}

func (c *chatState) message(id int) *Message {
	if id < 1 || id > len(c.messages) {
		return nil
	}
	return c.messages[id-1]
}

// add appends m, giving it the next message_id of the chat.
func (c *chatState) add(m *Message) {
	m.ID = len(c.messages) + 1
	m.ChatID = c.info.ID
	c.messages = append(c.messages, m)
}

func (c *chatState) isGroup() bool {
	return c.info.Type == "group" || c.info.Type == "supergroup"
}

// groupWord is how Telegram names the chat's type in error descriptions.
func (c *chatState) groupWord() string {
	if c.info.Type == "supergroup" {
		return "supergroup chat"
	}
	return "group chat"
}

// Private registers u as a user who has opened the bot, creating their
// private chat (its id is the user's id), and returns that chat. Calling it
// again updates the user's profile.
func (s *Server) Private(u User) Chat {
	if u.ID <= 0 {
		panic(fmt.Sprintf("telegramtest: Private needs a positive user id, got %d", u.ID))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.userLocked(u)
	st.opened = true
	c, ok := s.chats[u.ID]
	if !ok {
		c = &chatState{info: Chat{ID: u.ID, Type: "private"}}
		s.chats[u.ID] = c
	}
	s.notifyLocked()
	return c.info
}

// Group registers a basic group with the bot as a member and returns it.
// Group ids are negative.
func (s *Server) Group(id int64, title string) Chat {
	return s.addGroup(id, title, "group")
}

// Supergroup registers a supergroup with the bot as a member and returns
// it. Supergroup ids are negative, conventionally -100….
func (s *Server) Supergroup(id int64, title string) Chat {
	return s.addGroup(id, title, "supergroup")
}

func (s *Server) addGroup(id int64, title, typ string) Chat {
	if id >= 0 {
		panic(fmt.Sprintf("telegramtest: %s ids are negative, got %d", typ, id))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[id]
	if !ok {
		c = &chatState{members: make(map[int64]string), botStatus: StatusMember}
		s.chats[id] = c
	}
	c.info = Chat{ID: id, Type: typ, Title: title}
	s.notifyLocked()
	return c.info
}

// SetMember sets a user's status in a group: "creator", "administrator",
// "member", "restricted", "left" or "kicked". With the bot's own id it sets
// the bot's status, without an update (see MyChatMember for that). A user
// the server has not seen yet is registered with a placeholder name.
func (s *Server) SetMember(chatID, userID int64, status string) {
	switch status {
	case StatusCreator, StatusAdministrator, StatusMember, StatusRestricted, StatusLeft, StatusKicked:
	default:
		panic(fmt.Sprintf("telegramtest: unknown chat member status %q", status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustChatLocked(chatID)
	if !c.isGroup() {
		panic(fmt.Sprintf("telegramtest: SetMember needs a group, chat %d is %s", chatID, c.info.Type))
	}
	if userID == s.bot.ID {
		c.botStatus = status
	} else {
		if _, ok := s.users[userID]; !ok {
			s.users[userID] = &userState{user: User{ID: userID, FirstName: fmt.Sprintf("User %d", userID)}}
		}
		c.members[userID] = status
	}
	s.notifyLocked()
}

// Block makes the user block the bot: sending to them fails with 403
// "bot was blocked by the user". It enqueues no update; MyChatMember with
// "kicked" in the private chat does both.
func (s *Server) Block(userID int64) { s.setBlocked(userID, true) }

// Unblock undoes Block.
func (s *Server) Unblock(userID int64) { s.setBlocked(userID, false) }

func (s *Server) setBlocked(userID int64, blocked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.users[userID]
	if !ok {
		st = &userState{user: User{ID: userID, FirstName: fmt.Sprintf("User %d", userID)}}
		s.users[userID] = st
	}
	st.blocked = blocked
	s.notifyLocked()
}

// Deactivate deletes the user's account: sending to them fails with 403
// "user is deactivated".
func (s *Server) Deactivate(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.users[userID]
	if !ok {
		st = &userState{user: User{ID: userID}}
		s.users[userID] = st
	}
	st.deactivated = true
	s.notifyLocked()
}

// Migrate upgrades a basic group to a supergroup with id supergroupID, as
// Telegram does when a group grows: the bot's requests to the old group
// fail with 400 and migrate_to_chat_id, and two service messages arrive,
// one in each chat. by is the user who upgraded it. It returns the
// supergroup.
func (s *Server) Migrate(by User, group Chat, supergroupID int64) Chat {
	if supergroupID >= 0 {
		panic(fmt.Sprintf("telegramtest: supergroup ids are negative, got %d", supergroupID))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.mustChatLocked(group.ID)
	if old.info.Type != "group" {
		panic(fmt.Sprintf("telegramtest: only a basic group can migrate, chat %d is %s", group.ID, old.info.Type))
	}
	sg := &chatState{
		info:      Chat{ID: supergroupID, Type: "supergroup", Title: old.info.Title},
		members:   make(map[int64]string, len(old.members)),
		botStatus: old.botStatus,
	}
	for id, st := range old.members {
		sg.members[id] = st
	}
	s.chats[supergroupID] = sg
	old.migratedTo = supergroupID
	s.userLocked(by)
	now := s.now()
	m1 := &Message{From: by, Date: now, MigrateToChatID: supergroupID}
	old.add(m1)
	s.enqueueLocked("message", s.wireMessageLocked(m1, false))
	m2 := &Message{From: by, Date: now, MigrateFromChatID: group.ID}
	sg.add(m2)
	s.enqueueLocked("message", s.wireMessageLocked(m2, false))
	s.notifyLocked()
	return sg.info
}

// userLocked records u (updating a known user's profile) and returns its
// state. The caller holds s.mu.
func (s *Server) userLocked(u User) *userState {
	st, ok := s.users[u.ID]
	if !ok {
		st = &userState{}
		s.users[u.ID] = st
	}
	st.user = u
	return st
}

// mustChatLocked returns a registered chat or panics: helpers are only
// given chats the test created. The caller holds s.mu.
func (s *Server) mustChatLocked(id int64) *chatState {
	c, ok := s.chats[id]
	if !ok {
		panic(fmt.Sprintf("telegramtest: chat %d is not registered; create it with Private, Group or Supergroup", id))
	}
	return c
}

// botChatLocked returns the chat the bot addresses with chat_id, or the
// error Telegram gives when the bot may not write there. The caller holds
// s.mu.
func (s *Server) botChatLocked(p params) (*chatState, *apiError) {
	id, ok := p.int64("chat_id")
	if !ok {
		if p.str("chat_id") == "" {
			return nil, badRequest("chat_id is empty")
		}
		return nil, badRequest("chat not found")
	}
	c, ok := s.chats[id]
	if !ok {
		if st, known := s.users[id]; known && id > 0 {
			if st.deactivated {
				return nil, forbidden("user is deactivated")
			}
			return nil, forbidden("bot can't initiate conversation with a user")
		}
		return nil, badRequest("chat not found")
	}
	if c.migratedTo != 0 {
		e := badRequest("group chat was upgraded to a supergroup chat")
		e.migrateTo = c.migratedTo
		return nil, e
	}
	switch {
	case c.info.Type == "private":
		st := s.users[id]
		switch {
		case st == nil:
		case st.deactivated:
			return nil, forbidden("user is deactivated")
		case st.blocked:
			return nil, forbidden("bot was blocked by the user")
		}
	case c.botStatus == StatusKicked:
		return nil, forbidden("bot was kicked from the " + c.groupWord())
	case c.botStatus == StatusLeft:
		return nil, forbidden("bot is not a member of the " + c.groupWord())
	}
	return c, nil
}

func (s *Server) getChatMember(_ context.Context, p params) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := p.int64("chat_id")
	c, found := s.chats[id]
	if !ok || !found {
		return outcome{err: badRequest("chat not found")}
	}
	if c.migratedTo != 0 {
		e := badRequest("group chat was upgraded to a supergroup chat")
		e.migrateTo = c.migratedTo
		return outcome{err: e}
	}
	if c.isGroup() && c.botStatus == StatusKicked {
		return outcome{err: forbidden("bot was kicked from the " + c.groupWord())}
	}
	userID, ok := p.int64("user_id")
	if !ok || userID <= 0 {
		return outcome{err: badRequest("invalid user_id specified")}
	}
	var user User
	var status string
	switch {
	case userID == s.bot.ID:
		user = s.bot
		status = StatusMember
		if c.isGroup() {
			status = c.botStatus
		}
	case !c.isGroup():
		st, known := s.users[userID]
		if !known || userID != c.info.ID {
			return outcome{err: badRequest("user not found")}
		}
		user, status = st.user, StatusMember
	default:
		st, known := s.users[userID]
		if !known {
			return outcome{err: badRequest("user not found")}
		}
		user = st.user
		status = c.members[userID]
		if status == "" {
			status = StatusLeft
		}
	}
	return outcome{result: wireMember(user, status)}
}

// wireMember encodes a ChatMember of the given status.
func wireMember(u User, status string) apiChatMember {
	wu := wireUser(u)
	wu.LanguageCode = ""
	m := apiChatMember{Status: status, User: wu}
	f, t := false, true
	var zero int64
	switch status {
	case StatusCreator:
		m.IsAnonymous = &f
	case StatusAdministrator:
		m.IsAnonymous = &f
		m.CanBeEdited = &f
		m.CanManageChat = &t
		m.CanDeleteMessages = &t
		m.CanRestrictMembers = &t
		m.CanPromoteMembers = &f
		m.CanChangeInfo = &t
		m.CanInviteUsers = &t
		m.CanPinMessages = &t
		m.CanManageVideoChats = &t
	case StatusRestricted, StatusKicked:
		m.UntilDate = &zero
	}
	return m
}
