package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"danvan/bot"
)

// allowedUpdates are the update kinds danvan handles.
const allowedUpdates = `["message","edited_message","callback_query","my_chat_member"]`

// GetUpdates long-polls for updates with ids ≥ offset. It decodes each
// update on its own: one the library cannot decode comes back marked
// Undecodable with its id, so the loop can record and skip it. A 409
// Conflict (another getUpdates, or a webhook is set) wraps
// bot.ErrConflict.
func (c *Client) GetUpdates(ctx context.Context, offset int64, limit int, timeout time.Duration) ([]bot.Update, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+c.timeout)
	defer cancel()
	params := tgbotapi.Params{"allowed_updates": allowedUpdates}
	params.AddNonZero64("offset", offset)
	params.AddNonZero("limit", limit)
	params.AddNonZero("timeout", int(timeout/time.Second))
	k := c.newCall(ctx)
	resp, err := k.api.MakeRequest("getUpdates", params)
	if err != nil {
		e := c.classify(k, resp, err)
		if e.Code == http.StatusConflict {
			return nil, fmt.Errorf("%w: %w", bot.ErrConflict, e)
		}
		return nil, e
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(resp.Result, &raws); err != nil {
		return nil, fmt.Errorf("decode getUpdates page: %w", err)
	}
	updates := make([]bot.Update, 0, len(raws))
	for _, raw := range raws {
		u, err := c.decodeUpdate(raw)
		if err != nil {
			return nil, err
		}
		updates = append(updates, u)
	}
	return updates, nil
}

// decodeUpdate decodes one update, from a getUpdates page or a webhook
// request. One the library cannot decode comes back marked Undecodable
// with its id (and a warning logged); without an id it is an error.
func (c *Client) decodeUpdate(raw []byte) (bot.Update, error) {
	var u tgbotapi.Update
	if err := json.Unmarshal(raw, &u); err != nil {
		var head struct {
			UpdateID int64 `json:"update_id"`
		}
		if json.Unmarshal(raw, &head) != nil || head.UpdateID == 0 {
			return bot.Update{}, fmt.Errorf("decode update without an id: %w", err)
		}
		c.log.Warn("cannot decode update", "update_id", head.UpdateID, "err", err)
		return bot.Update{ID: head.UpdateID, Undecodable: true}, nil
	}
	return convertUpdate(u), nil
}

func convertUpdate(u tgbotapi.Update) bot.Update {
	out := bot.Update{ID: int64(u.UpdateID)}
	switch {
	case u.Message != nil:
		out.Message = convertMessage(u.Message)
	case u.EditedMessage != nil:
		out.Edited = convertMessage(u.EditedMessage)
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		out.Callback = &bot.Callback{ID: q.ID, Data: q.Data}
		if q.From != nil {
			out.Callback.From = convertUser(q.From)
		}
		if q.Message != nil {
			out.Callback.Message = convertMessage(q.Message)
		}
	case u.MyChatMember != nil:
		m := u.MyChatMember
		out.MemberChange = &bot.MemberChange{
			Chat: convertChat(&m.Chat), From: convertUser(&m.From),
			OldStatus: m.OldChatMember.Status, NewStatus: m.NewChatMember.Status,
			Date: time.Unix(int64(m.Date), 0),
		}
	}
	return out
}

func convertUser(u *tgbotapi.User) bot.User {
	return bot.User{
		ID: u.ID, FirstName: u.FirstName, LastName: u.LastName, Username: u.UserName,
		LanguageCode: u.LanguageCode, IsBot: u.IsBot,
	}
}

func convertChat(c *tgbotapi.Chat) bot.Chat {
	title := c.Title
	if title == "" {
		title = strings.TrimSpace(c.FirstName + " " + c.LastName)
	}
	return bot.Chat{ID: c.ID, Kind: c.Type, Title: title}
}

func convertMessage(m *tgbotapi.Message) *bot.Message {
	out := &bot.Message{ID: m.MessageID, Date: time.Unix(int64(m.Date), 0), Kind: bot.KindOther}
	if m.Chat != nil {
		out.Chat = convertChat(m.Chat)
	}
	if m.From != nil {
		u := convertUser(m.From)
		out.From = &u
	}
	if m.SenderChat != nil {
		sc := convertChat(m.SenderChat)
		out.SenderChat = &sc
	}
	out.Text = m.Text
	entities := m.Entities
	if m.Text == "" {
		out.Text, entities = m.Caption, m.CaptionEntities
	}
	switch {
	case len(m.Photo) > 0:
		out.Kind = bot.KindPhoto
		out.FileID = m.Photo[len(m.Photo)-1].FileID
	case m.Document != nil:
		out.Kind, out.FileID, out.FileName = bot.KindDocument, m.Document.FileID, m.Document.FileName
	case m.Sticker != nil:
		out.Kind = bot.KindSticker
	case m.Text != "":
		out.Kind = bot.KindText
	case m.MigrateToChatID != 0 || m.MigrateFromChatID != 0 || m.NewChatMembers != nil ||
		m.LeftChatMember != nil || m.GroupChatCreated || m.SuperGroupChatCreated || m.NewChatTitle != "":
		out.Kind = bot.KindService
	}
	out.MigrateToChatID, out.MigrateFromChatID = m.MigrateToChatID, m.MigrateFromChatID
	out.Command, out.CommandTarget, out.Args = parseCommand(out.Text, entities)
	if r := m.ReplyToMessage; r != nil {
		out.ReplyTo = &bot.Message{ID: r.MessageID, Date: time.Unix(int64(r.Date), 0)}
		if r.Chat != nil {
			out.ReplyTo.Chat = convertChat(r.Chat)
		}
		if r.From != nil {
			u := convertUser(r.From)
			out.ReplyTo.From = &u
		}
		// What a command replies to may be what it acts on (a photo to
		// announce): its kind, file and caption.
		switch {
		case len(r.Photo) > 0:
			out.ReplyTo.Kind, out.ReplyTo.FileID = bot.KindPhoto, r.Photo[len(r.Photo)-1].FileID
		case r.Document != nil:
			out.ReplyTo.Kind, out.ReplyTo.FileID, out.ReplyTo.FileName = bot.KindDocument, r.Document.FileID, r.Document.FileName
		case r.Text != "":
			out.ReplyTo.Kind = bot.KindText
		}
		out.ReplyTo.Text = r.Text
		if r.Text == "" {
			out.ReplyTo.Text = r.Caption
		}
	}
	return out
}

// parseCommand reads a bot_command entity at the start of the text:
// "/Help@Danvan_Bot args" → ("help", "Danvan_Bot", "args"). Telegram
// reports entity offsets in UTF-16 code units.
func parseCommand(text string, entities []tgbotapi.MessageEntity) (name, target, args string) {
	if len(entities) == 0 || entities[0].Type != "bot_command" || entities[0].Offset != 0 {
		return "", "", ""
	}
	units := utf16.Encode([]rune(text))
	n := min(entities[0].Length, len(units))
	cmd := string(utf16.Decode(units[:n]))
	rest := string(utf16.Decode(units[n:]))
	cmd = strings.TrimPrefix(cmd, "/")
	name, target, _ = strings.Cut(cmd, "@")
	return strings.ToLower(name), target, strings.TrimSpace(rest)
}
