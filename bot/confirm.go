package bot

import (
	"danvan/messages"
	"danvan/store"
)

// ClearKeyboard removes the keyboard from the message whose button was
// pressed, so a decision cannot be pressed again.
func (c *Context) ClearKeyboard() error {
	if c.Callback == nil || c.Message == nil {
		return nil
	}
	return c.Enqueue(c.Chat.ID, store.PriorityInteractive, store.Action{Kind: store.ActEditMarkup, MessageID: c.Message.ID})
}

// Confirm asks before something consequential: the reply to the command is
// the question, with Xác nhận / Hủy (Confirm / Cancel) buttons whose press
// goes to handler with data kept on the server. The keyboard works once,
// for as long as a dialogue would wait, and /huy withdraws it.
func (c *Context) Confirm(handler, data string, question messages.Message) error {
	keyboard, err := c.Keyboard(handler, KeyboardOptions{Data: data, Decision: true},
		[]Key{{Text: c.P.Text(messages.Button{Name: "confirm"}), Payload: "yes"}, {Text: c.P.Text(messages.Button{Name: "cancel"}), Payload: "no"}})
	if err != nil {
		return err
	}
	return c.Reply(question, keyboard...)
}

// Confirmed reads a confirmation press: true for Xác nhận. For Hủy it has
// already turned the question into "Đã hủy".
func (c *Context) Confirmed(payload string) (bool, error) {
	if payload == "yes" {
		return true, nil
	}
	return false, c.EditHTML(c.P.HTML(messages.Dismissed{}))
}
