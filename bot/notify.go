package bot

import (
	"errors"
	"slices"
	"time"

	"danvan/messages"
	"danvan/store"
)

// NotifyAdmins tells every admin — named in the configuration or granted
// in chat — m in their own language, in their private chat, within tx:
// news from the bot's own work, such as a failed scheduled backup. origin
// names what is telling (e.g. "backup").
func (b *Bot) NotifyAdmins(tx *store.Tx, origin string, at time.Time, m messages.Message) error {
	ids := tx.StoredAdmins()
	for id := range b.admins {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		lang := b.lang
		if u, err := tx.User(id); err == nil {
			lang = b.language(u)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.Enqueue(store.OutboxRow{
			ChatID: id, Priority: store.PriorityInteractive, Origin: origin, Created: at,
			Action: store.Action{Kind: store.ActSend, Text: b.msgs.For(lang).HTML(m)},
		}); err != nil {
			return err
		}
	}
	if len(ids) > 0 {
		tx.OnCommit(b.wake)
	}
	return nil
}
