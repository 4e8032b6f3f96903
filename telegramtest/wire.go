package telegramtest

// The api* types are the Bot API's JSON objects, with Telegram's field
// names. They are built from the server's state whenever an answer or an
// update is encoded.

type apiResponse struct {
	OK          bool           `json:"ok"`
	Result      any            `json:"result,omitempty"`
	ErrorCode   int            `json:"error_code,omitempty"`
	Description string         `json:"description,omitempty"`
	Parameters  *apiRespParams `json:"parameters,omitempty"`
}

type apiRespParams struct {
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	RetryAfter      int   `json:"retry_after,omitempty"`
}

type apiUser struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

type apiMe struct {
	apiUser
	CanJoinGroups           bool `json:"can_join_groups"`
	CanReadAllGroupMessages bool `json:"can_read_all_group_messages"`
	SupportsInlineQueries   bool `json:"supports_inline_queries"`
}

type apiChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
}

type apiEntity struct {
	Type          string   `json:"type"`
	Offset        int      `json:"offset"`
	Length        int      `json:"length"`
	URL           string   `json:"url,omitempty"`
	User          *apiUser `json:"user,omitempty"`
	Language      string   `json:"language,omitempty"`
	CustomEmojiID string   `json:"custom_emoji_id,omitempty"`
}

type apiPhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int    `json:"file_size,omitempty"`
}

type apiDocument struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int    `json:"file_size,omitempty"`
}

type apiSticker struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Type         string `json:"type"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	IsAnimated   bool   `json:"is_animated"`
	IsVideo      bool   `json:"is_video"`
	Emoji        string `json:"emoji,omitempty"`
	FileSize     int    `json:"file_size,omitempty"`
}

type apiButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

type apiInlineMarkup struct {
	InlineKeyboard [][]apiButton `json:"inline_keyboard"`
}

type apiMessage struct {
	MessageID         int              `json:"message_id"`
	From              *apiUser         `json:"from,omitempty"`
	SenderChat        *apiChat         `json:"sender_chat,omitempty"`
	Date              int64            `json:"date"`
	Chat              apiChat          `json:"chat"`
	EditDate          int64            `json:"edit_date,omitempty"`
	ReplyToMessage    *apiMessage      `json:"reply_to_message,omitempty"`
	Text              string           `json:"text,omitempty"`
	Entities          []apiEntity      `json:"entities,omitempty"`
	Photo             []apiPhotoSize   `json:"photo,omitempty"`
	Document          *apiDocument     `json:"document,omitempty"`
	Sticker           *apiSticker      `json:"sticker,omitempty"`
	Caption           string           `json:"caption,omitempty"`
	CaptionEntities   []apiEntity      `json:"caption_entities,omitempty"`
	MigrateToChatID   int64            `json:"migrate_to_chat_id,omitempty"`
	MigrateFromChatID int64            `json:"migrate_from_chat_id,omitempty"`
	ReplyMarkup       *apiInlineMarkup `json:"reply_markup,omitempty"`
}

type apiCallbackQuery struct {
	ID           string      `json:"id"`
	From         apiUser     `json:"from"`
	Message      *apiMessage `json:"message,omitempty"`
	ChatInstance string      `json:"chat_instance"`
	Data         string      `json:"data,omitempty"`
}

type apiChatMember struct {
	Status string  `json:"status"`
	User   apiUser `json:"user"`
	// Administrators and creators.
	IsAnonymous *bool `json:"is_anonymous,omitempty"`
	// Administrators only.
	CanBeEdited         *bool `json:"can_be_edited,omitempty"`
	CanManageChat       *bool `json:"can_manage_chat,omitempty"`
	CanDeleteMessages   *bool `json:"can_delete_messages,omitempty"`
	CanRestrictMembers  *bool `json:"can_restrict_members,omitempty"`
	CanPromoteMembers   *bool `json:"can_promote_members,omitempty"`
	CanChangeInfo       *bool `json:"can_change_info,omitempty"`
	CanInviteUsers      *bool `json:"can_invite_users,omitempty"`
	CanPinMessages      *bool `json:"can_pin_messages,omitempty"`
	CanManageVideoChats *bool `json:"can_manage_video_chats,omitempty"`
	// Restricted and kicked members.
	UntilDate *int64 `json:"until_date,omitempty"`
}

type apiChatMemberUpdated struct {
	Chat          apiChat       `json:"chat"`
	From          apiUser       `json:"from"`
	Date          int64         `json:"date"`
	OldChatMember apiChatMember `json:"old_chat_member"`
	NewChatMember apiChatMember `json:"new_chat_member"`
}

type apiWebhookInfo struct {
	URL                  string   `json:"url"`
	HasCustomCertificate bool     `json:"has_custom_certificate"`
	PendingUpdateCount   int      `json:"pending_update_count"`
	LastErrorDate        int64    `json:"last_error_date,omitempty"`
	LastErrorMessage     string   `json:"last_error_message,omitempty"`
	MaxConnections       int      `json:"max_connections,omitempty"`
	AllowedUpdates       []string `json:"allowed_updates,omitempty"`
}

func wireUser(u User) apiUser {
	return apiUser{
		ID:           u.ID,
		IsBot:        u.IsBot,
		FirstName:    u.FirstName,
		LastName:     u.LastName,
		Username:     u.Username,
		LanguageCode: u.LanguageCode,
	}
}

// wireChatLocked encodes chat id as Telegram shows it inside messages. The
// caller holds s.mu.
func (s *Server) wireChatLocked(id int64) apiChat {
	c, ok := s.chats[id]
	if !ok {
		return apiChat{ID: id, Type: "private"}
	}
	out := apiChat{ID: id, Type: c.info.Type, Title: c.info.Title}
	if c.info.Type == "private" {
		if u, ok := s.users[id]; ok {
			out.FirstName = u.user.FirstName
			out.LastName = u.user.LastName
			out.Username = u.user.Username
		}
		out.Title = ""
	}
	return out
}

// wireEntitiesLocked encodes entities. The caller holds s.mu.
func (s *Server) wireEntitiesLocked(ents []Entity) []apiEntity {
	if len(ents) == 0 {
		return nil
	}
	out := make([]apiEntity, 0, len(ents))
	for _, e := range ents {
		a := apiEntity{
			Type:          e.Type,
			Offset:        e.Offset,
			Length:        e.Length,
			URL:           e.URL,
			Language:      e.Language,
			CustomEmojiID: e.CustomEmojiID,
		}
		if e.Type == "text_mention" {
			u := User{ID: e.UserID, FirstName: "User"}
			if st, ok := s.users[e.UserID]; ok {
				u = st.user
			}
			wu := wireUser(u)
			wu.LanguageCode = ""
			a.User = &wu
		}
		out = append(out, a)
	}
	return out
}

func wireKeyboard(k [][]Button) *apiInlineMarkup {
	if len(k) == 0 {
		return nil
	}
	m := &apiInlineMarkup{InlineKeyboard: make([][]apiButton, len(k))}
	for i, row := range k {
		m.InlineKeyboard[i] = make([]apiButton, len(row))
		for j, b := range row {
			m.InlineKeyboard[i][j] = apiButton(b)
		}
	}
	return m
}

// wireMessageLocked encodes m as the Bot API shows it. withReply includes
// the replied-to message (itself without a further reply_to_message, as
// Telegram does). The caller holds s.mu.
func (s *Server) wireMessageLocked(m *Message, withReply bool) *apiMessage {
	out := &apiMessage{
		MessageID:         m.ID,
		Date:              m.Date.Unix(),
		Chat:              s.wireChatLocked(m.ChatID),
		Text:              m.Text,
		Entities:          s.wireEntitiesLocked(m.Entities),
		Caption:           m.Caption,
		CaptionEntities:   s.wireEntitiesLocked(m.CaptionEntities),
		MigrateToChatID:   m.MigrateToChatID,
		MigrateFromChatID: m.MigrateFromChatID,
		ReplyMarkup:       wireKeyboard(m.Keyboard),
	}
	from := wireUser(m.From)
	if m.FromBot {
		from = wireUser(s.bot)
	}
	out.From = &from
	if m.SenderChat != nil {
		sc := s.wireChatLocked(m.SenderChat.ID)
		out.SenderChat = &sc
	}
	if !m.EditDate.IsZero() {
		out.EditDate = m.EditDate.Unix()
	}
	if withReply && m.ReplyToID != 0 {
		if c, ok := s.chats[m.ChatID]; ok {
			if r := c.message(m.ReplyToID); r != nil && !r.Deleted {
				out.ReplyToMessage = s.wireMessageLocked(r, false)
			}
		}
	}
	if m.PhotoFileID != "" {
		if f, ok := s.files[m.PhotoFileID]; ok {
			out.Photo = append([]apiPhotoSize(nil), f.sizes...)
		}
	}
	if m.DocumentFileID != "" {
		if f, ok := s.files[m.DocumentFileID]; ok {
			out.Document = &apiDocument{
				FileID:       f.fileID,
				FileUniqueID: f.uniqueID,
				FileName:     f.name,
				MimeType:     f.mimeType,
				FileSize:     f.size,
			}
		}
	}
	if m.StickerFileID != "" {
		if f, ok := s.files[m.StickerFileID]; ok {
			out.Sticker = &apiSticker{
				FileID:       f.fileID,
				FileUniqueID: f.uniqueID,
				Type:         "regular",
				Width:        f.width,
				Height:       f.height,
				Emoji:        f.emoji,
				FileSize:     f.size,
			}
		}
	}
	return out
}
