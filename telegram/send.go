package telegram

import (
	"context"
	"encoding/json"
	"fmt"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"danvan/delivery"
	"danvan/store"
)

// Do performs one outbox action in chatID and returns the id of the
// message it created or edited (0 for deletions and callback answers).
// Errors are *delivery.Error values classified by kind.
func (c *Client) Do(ctx context.Context, chatID int64, a store.Action) (int, error) {
	cfg, err := chattable(chatID, a)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	k := c.newCall(ctx)
	resp, err := k.api.Request(cfg)
	if err != nil {
		return 0, c.classify(k, resp, err)
	}
	switch a.Kind {
	case store.ActSend, store.ActPhoto, store.ActDocument, store.ActEditText, store.ActEditMarkup:
		var m struct {
			MessageID int `json:"message_id"`
		}
		// Edits of inline messages answer "true"; there is no id then.
		if json.Unmarshal(resp.Result, &m) == nil {
			return m.MessageID, nil
		}
	}
	return 0, nil
}

// chattable translates an action into the library's request config.
func chattable(chatID int64, a store.Action) (tgbotapi.Chattable, error) {
	parseMode := tgbotapi.ModeHTML
	if a.Plain {
		parseMode = ""
	}
	switch a.Kind {
	case store.ActSend:
		m := tgbotapi.NewMessage(chatID, a.Text)
		m.ParseMode = parseMode
		m.DisableWebPagePreview = a.DisablePreview
		m.DisableNotification = a.Silent
		m.ReplyToMessageID = a.ReplyTo
		m.AllowSendingWithoutReply = a.ReplyTo != 0
		m.ReplyMarkup = markup(a)
		return m, nil
	case store.ActPhoto:
		p := tgbotapi.NewPhoto(chatID, file(a))
		p.Caption, p.ParseMode = a.Text, parseMode
		p.DisableNotification = a.Silent
		p.ReplyToMessageID, p.AllowSendingWithoutReply = a.ReplyTo, a.ReplyTo != 0
		p.ReplyMarkup = markup(a)
		return p, nil
	case store.ActDocument:
		d := tgbotapi.NewDocument(chatID, file(a))
		d.Caption, d.ParseMode = a.Text, parseMode
		d.DisableNotification = a.Silent
		d.ReplyToMessageID, d.AllowSendingWithoutReply = a.ReplyTo, a.ReplyTo != 0
		d.ReplyMarkup = markup(a)
		return d, nil
	case store.ActEditText:
		e := tgbotapi.NewEditMessageText(chatID, a.MessageID, a.Text)
		e.ParseMode = parseMode
		e.DisableWebPagePreview = a.DisablePreview
		if len(a.Buttons) > 0 {
			kb := inlineKeyboard(a.Buttons)
			e.ReplyMarkup = &kb
		}
		return e, nil
	case store.ActEditMarkup:
		return tgbotapi.NewEditMessageReplyMarkup(chatID, a.MessageID, inlineKeyboard(a.Buttons)), nil
	case store.ActDelete:
		return tgbotapi.NewDeleteMessage(chatID, a.MessageID), nil
	case store.ActAnswer:
		if a.Alert {
			return tgbotapi.NewCallbackWithAlert(a.CallbackID, a.Text), nil
		}
		return tgbotapi.NewCallback(a.CallbackID, a.Text), nil
	}
	// Retrying cannot help a row this danvan does not know how to send
	// (written by a newer version, or corrupt): it would block its chat.
	return nil, &delivery.Error{Kind: delivery.Rejected, Description: fmt.Sprintf("unknown action kind %q: cannot be sent", a.Kind)}
}

func file(a store.Action) tgbotapi.RequestFileData {
	if a.FileID != "" {
		return tgbotapi.FileID(a.FileID)
	}
	return tgbotapi.FileBytes{Name: a.FileName, Bytes: a.FileData}
}

func markup(a store.Action) any {
	switch {
	case len(a.Buttons) > 0:
		return inlineKeyboard(a.Buttons)
	case a.ForceReply:
		return tgbotapi.ForceReply{ForceReply: true, InputFieldPlaceholder: a.Placeholder}
	}
	return nil
}

func inlineKeyboard(rows [][]store.Button) tgbotapi.InlineKeyboardMarkup {
	kb := tgbotapi.InlineKeyboardMarkup{InlineKeyboard: make([][]tgbotapi.InlineKeyboardButton, 0, len(rows))}
	for _, row := range rows {
		out := make([]tgbotapi.InlineKeyboardButton, 0, len(row))
		for _, b := range row {
			switch {
			case b.URL != "":
				out = append(out, tgbotapi.NewInlineKeyboardButtonURL(b.Text, b.URL))
			default:
				out = append(out, tgbotapi.NewInlineKeyboardButtonData(b.Text, b.Data))
			}
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, out)
	}
	return kb
}

// ChatMember answers what the person is in the chat: "creator",
// "administrator", "member", "restricted", "left" or "kicked".
func (c *Client) ChatMember(ctx context.Context, chatID, userID int64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	k := c.newCall(ctx)
	resp, err := k.api.Request(tgbotapi.GetChatMemberConfig{ChatConfigWithUser: tgbotapi.ChatConfigWithUser{ChatID: chatID, UserID: userID}})
	if err != nil {
		return "", c.classify(k, resp, err)
	}
	var m tgbotapi.ChatMember
	if err := json.Unmarshal(resp.Result, &m); err != nil {
		return "", fmt.Errorf("decode getChatMember: %w", err)
	}
	return m.Status, nil
}
