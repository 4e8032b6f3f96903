package bot

import (
	"errors"
	"fmt"
	"time"

	"danvan/messages"
	"danvan/store"
)

// maxReportNames caps the people a fan-out report names; the rest are
// counted.
const maxReportNames = 50

// FanOut sends one message to many chats (duplicates removed) as bulk,
// in this transaction. When the last copy is settled, the sender of this
// update is told how it went (see FanOutDone). kind names the feature.
// Estimate says how long it will take.
func (c *Context) FanOut(kind, title string, chats []int64, a store.Action, expires time.Time) (store.FanOut, error) {
	spec := store.FanOutSpec{
		Origin: c.origin(), Kind: kind, Title: title, Chats: chats, Action: a,
		Priority: store.PriorityBulk, ExpiresAt: expires,
	}
	if c.Sender != nil {
		spec.ReportTo = c.Sender.ID
	}
	f, err := c.Tx.StartFanOut(spec, c.Now)
	if err != nil {
		return f, fmt.Errorf("fan-out %s to %d chats: %w", kind, len(chats), err)
	}
	c.enqueued = true
	return f, nil
}

// FanOutDone tells a fan-out's originator how it went: sent, failed,
// unreachable (named, so a head can phone them) and expired. The store
// calls it inside the transaction that settled the last copy.
func (b *Bot) FanOutDone(tx *store.Tx, f store.FanOut) error {
	if f.ReportTo == 0 {
		return nil
	}
	lang := b.lang
	if u, err := tx.User(f.ReportTo); err == nil {
		lang = b.language(u)
	}
	p := b.msgs.For(lang)
	if f.Kind == kindRecall {
		return b.report(tx, f, p.HTML(recallReport(f)))
	}
	report := messages.FanOutReport{
		Title: f.Title, Total: f.Total, Sent: f.Sent, Failed: f.Failed, Unreachable: f.Unreachable,
		Expired: f.Expired, Recalled: f.Recalled, Took: f.Finished.Sub(f.Created),
	}
	report.More = max(f.Unreachable-maxReportNames, 0)
	for _, chatID := range tx.FanOutMisses(f.ID, maxReportNames) {
		name, err := b.chatName(tx, chatID)
		if err != nil {
			return err
		}
		report.Names = append(report.Names, name)
	}
	return b.report(tx, f, p.HTML(report))
}

// report sends a fan-out's report to its originator.
func (b *Bot) report(tx *store.Tx, f store.FanOut, text string) error {
	_, err := tx.Enqueue(store.OutboxRow{
		ChatID: f.ReportTo, Priority: store.PriorityInteractive, Created: f.Finished,
		Origin: fmt.Sprintf("fanout:%d", f.ID),
		Action: store.Action{Kind: store.ActSend, Text: text},
	})
	if err != nil {
		return err
	}
	tx.OnCommit(b.wake)
	return nil
}

// chatName names a chat for people: the person's name, or the group's title.
func (b *Bot) chatName(tx *store.Tx, chatID int64) (string, error) {
	if u, err := tx.User(chatID); err == nil {
		return u.DisplayName(), nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if c, err := tx.Chat(chatID); err == nil && c.Title != "" {
		return c.Title, nil
	}
	return fmt.Sprintf("#%d", chatID), nil
}

// Estimate is how long delivering to n more chats will take at Telegram's
// limits, counting what is already queued ahead of it.
func (c *Context) Estimate(n int) time.Duration { return c.bot.estimate(n) }
