package bot

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"danvan/messages"
	"danvan/store"
)

// Announcements (tuyên truyền): "/thongbao <đơn vị> | <nội dung>" — or the
// same as a reply to a photo or document — goes to every head and member
// of the unit's subtree and to its linked groups, each once, through the
// delivery fan-out. The first reply is the confirmation with the number of
// recipients and the time it will take; for 48 hours a "Thu hồi" button
// deletes the sent copies.

const (
	cmdAnnounce = "thongbao"
	cmdAuditLog = "nhatky"

	callbackAnnounce = "announce"
	callbackRecall   = "recall"

	listAudit = "audit"

	kindAnnouncement = "announcement"
	kindRecall       = "recall"

	// recallWindow is how long Telegram lets a bot delete its messages.
	recallWindow = 48 * time.Hour
)

func (b *Bot) registerAnnouncements() error {
	for _, cmd := range []Command{
		{Name: cmdAnnounce, Alias: "announce", Perm: Head, On: TargetUnit, Menu: true, Handle: b.announce},
		{Name: cmdAuditLog, Alias: "audit", Perm: Admin, Private: true, Menu: true, Handle: b.auditLog},
	} {
		if err := b.HandleCommand(cmd); err != nil {
			return err
		}
	}
	for _, h := range []CallbackHandler{
		{Name: callbackAnnounce, Perm: Head, Handle: b.announceConfirmed},
		{Name: callbackRecall, Perm: Head, Handle: b.recall},
	} {
		if err := b.HandleCallback(h); err != nil {
			return err
		}
	}
	return b.HandleList(List{Name: listAudit, Perm: Admin, Items: b.auditItems})
}

// draft is an announcement waiting for Xác nhận, kept with the keyboard
// on the server.
type draft struct {
	Unit     uint64 `json:"unit"`
	Text     string `json:"text"`
	Kind     string `json:"kind"` // store.ActSend, ActPhoto or ActDocument
	FileID   string `json:"file_id,omitempty"`
	FileName string `json:"file_name,omitempty"`
}

func (b *Bot) announce(c *Context) error {
	query, text, _ := strings.Cut(c.Args, "|")
	text = strings.TrimSpace(text)
	var d draft
	switch r := c.Message.ReplyTo; {
	case c.Carry != "":
		// Back from choosing the unit: the photo or file comes along.
		if err := json.Unmarshal([]byte(c.Carry), &d); err != nil {
			return err
		}
	case c.Callback == nil && (c.Message.Kind == KindPhoto || c.Message.Kind == KindDocument):
		// The command is the caption of a photo or document: that goes.
		d.Kind, d.FileID, d.FileName = store.ActPhoto, c.Message.FileID, c.Message.FileName
		if c.Message.Kind == KindDocument {
			d.Kind = store.ActDocument
		}
	case r != nil && c.Callback == nil && (r.Kind == KindPhoto || r.Kind == KindDocument):
		// A reply to a photo or document sends that, the text its caption.
		d.Kind, d.FileID, d.FileName = store.ActPhoto, r.FileID, r.FileName
		if r.Kind == KindDocument {
			d.Kind = store.ActDocument
		}
		if text == "" {
			text = r.Text
		}
	default:
		d.Kind = store.ActSend
	}
	carry, err := json.Marshal(d)
	if err != nil {
		return err
	}
	u, ok, err := b.unitArg(c, query, then(cmdAnnounce, "| "+text, string(carry)))
	if err != nil || !ok {
		return err
	}
	d.Unit, d.Text = u.ID, text
	if d.Text == "" && d.FileID == "" {
		return c.Reply(messages.AskAnnouncement{Unit: u.Name})
	}
	body := b.announcementBody(c.P, u, d)
	limit := messages.MaxText
	if d.FileID != "" {
		limit = messages.MaxCaption
	}
	if n := messages.VisibleLength(body); n > limit {
		return c.Reply(messages.AnnouncementTooLong{Length: n, Limit: limit})
	}
	people, groups := b.audience(c.Tx, u.ID, c.Sender.ID)
	if people+groups == 0 {
		return c.Reply(messages.NobodyToTell{Unit: u.Name})
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	confirm := messages.ConfirmAnnouncement{
		Unit: u.Name, People: people, Groups: groups, Takes: c.Estimate(people + groups), Preview: preview(d.Text),
	}
	switch d.Kind {
	case store.ActPhoto:
		confirm.Attachment = "photo"
	case store.ActDocument:
		confirm.Attachment, confirm.FileName = "document", d.FileName
	}
	return c.Confirm(callbackAnnounce, string(data), confirm)
}

// announcementBody is what recipients read: the unit's name, then the text.
func (b *Bot) announcementBody(p messages.Printer, u store.Unit, d draft) string {
	return p.HTML(messages.Announcement{Unit: u.Name, Text: d.Text})
}

// recipients are the chats an announcement for the unit goes to: every
// head and member of its subtree and every linked group that works, each
// once, without the sender.
func (b *Bot) recipients(tx *store.Tx, unitID uint64, sender int64) (people, groups []int64) {
	seen := map[int64]bool{sender: true}
	for _, id := range tx.Subtree(unitID) {
		for _, m := range tx.Members(id) {
			if !seen[m.UserID] {
				seen[m.UserID] = true
				people = append(people, m.UserID)
			}
		}
		for _, l := range tx.UnitLinks(id) {
			if !l.Broken && !seen[l.ChatID] {
				seen[l.ChatID] = true
				groups = append(groups, l.ChatID)
			}
		}
	}
	return people, groups
}

func (b *Bot) audience(tx *store.Tx, unitID uint64, sender int64) (people, groups int) {
	p, g := b.recipients(tx, unitID, sender)
	return len(p), len(g)
}

// announceConfirmed sends the announcement after Xác nhận: the
// recipients are counted again, as they are now.
func (b *Bot) announceConfirmed(c *Context, payload string) error {
	yes, err := c.Confirmed(payload)
	if err != nil || !yes {
		return err
	}
	var d draft
	if err := json.Unmarshal([]byte(c.KeyboardData), &d); err != nil {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	u, err := c.Tx.Unit(d.Unit)
	if err != nil {
		return c.EditHTML(c.P.HTML(messages.Dismissed{}))
	}
	if !c.Can(Head, u.ID) {
		return c.Refuse(Head, u.ID)
	}
	people, groups := b.recipients(c.Tx, u.ID, c.Sender.ID)
	chats := append(people, groups...)
	a := store.Action{Kind: d.Kind, Text: b.announcementBody(c.P, u, d), FileID: d.FileID, FileName: d.FileName}
	f, err := c.FanOut(kindAnnouncement, u.Name+": "+preview40(d.Text), chats, a, time.Time{})
	if err != nil {
		return err
	}
	if err := c.Audit(store.AuditAnnounceSend, unitTarget(u), fmt.Sprintf("%d/%d", len(people), len(groups)), 0); err != nil {
		return err
	}
	keyboard, err := c.Keyboard(callbackRecall, KeyboardOptions{TTL: recallWindow, Data: fmt.Sprintf("%d:%d", f.ID, u.ID)},
		[]Key{{Text: c.P.Text(messages.Button{Name: "recall"}), Payload: "recall"}})
	if err != nil {
		return err
	}
	return c.EditHTML(c.P.HTML(messages.AnnouncementSending{
		Unit: u.Name, People: len(people), Groups: len(groups), Takes: c.Estimate(len(chats)),
	}), keyboard...)
}

// recall deletes the copies already sent and cancels those not sent yet;
// the deletions are a fan-out of their own, whose report says how many
// were removed.
func (b *Bot) recall(c *Context, payload string) error {
	fanOut, unit, ok := strings.Cut(c.KeyboardData, ":")
	fanOutID, err1 := strconv.ParseUint(fanOut, 10, 64)
	unitID, err2 := strconv.ParseUint(unit, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	if !c.Can(Head, unitID) {
		return c.Refuse(Head, unitID)
	}
	f, err := c.Tx.FanOut(fanOutID)
	if err != nil {
		return c.Answer(c.P.Text(messages.Notice{Name: "expired"}), false)
	}
	cancelled, err := c.Tx.CancelFanOut(f.ID, "recalled before it was sent", c.Now)
	if err != nil {
		return err
	}
	deliveries, err := c.Tx.DeliveriesByOrigin(f.Origin)
	if err != nil {
		return err
	}
	var copies []store.Copy
	for _, d := range deliveries {
		if d.Status != store.DeliverySent || d.Kind == store.ActAnswer || d.Kind == store.ActEditText || d.Kind == store.ActEditMarkup {
			continue
		}
		for _, id := range d.MessageIDs {
			copies = append(copies, store.Copy{ChatID: d.ChatID, Action: store.Action{Kind: store.ActDelete, MessageID: id}})
		}
	}
	if _, err := c.Tx.StartFanOut(store.FanOutSpec{
		Origin: c.origin(), Kind: kindRecall, ReportTo: c.Sender.ID, Copies: copies, Priority: store.PriorityBulk,
		ExpiresAt: f.Created.Add(recallWindow),
	}, c.Now); err != nil {
		return err
	}
	c.enqueued = true
	if u, err := c.Tx.Unit(unitID); err == nil {
		if err := c.Audit(store.AuditAnnounceRecall, unitTarget(u), fmt.Sprintf("%d/%d", len(copies), cancelled), 0); err != nil {
			return err
		}
	}
	return c.EditHTML(c.P.HTML(messages.RecallStarted{Sent: len(copies), Cancelled: cancelled}))
}

// auditLog shows the newest entries of the audit log: "/nhatky [n]".
func (b *Bot) auditLog(c *Context) error {
	n := 100
	if c.Args != "" {
		v, err := strconv.Atoi(strings.TrimSpace(c.Args))
		if err != nil || v < 1 {
			return c.Reply(messages.BadCount{Arg: c.Args})
		}
		n = min(v, 5000)
	}
	return c.ReplyList(listAudit, strconv.Itoa(n))
}

func (b *Bot) auditItems(c *Context, arg string) (string, []string, error) {
	n, _ := strconv.Atoi(arg)
	entries, err := c.Tx.AuditLog(0, n)
	if err != nil {
		return "", nil, err
	}
	items := make([]string, 0, len(entries))
	for _, e := range entries {
		items = append(items, c.P.Item(messages.AuditLine{
			At: e.At, Actor: e.ActorName, ActorID: e.ActorID,
			Action: c.P.Text(messages.AuditAction{Action: e.Action}), Target: e.Target, Detail: c.P.Text(messages.NewAuditDetail(e.Action, e.Detail)),
		}))
	}
	return c.P.HTML(messages.AuditHeader{Count: len(items)}), items, nil
}

// recallReport is the report of a recall fan-out.
func recallReport(f store.FanOut) messages.Message {
	return messages.RecallReport{Removed: f.Sent, Failed: f.Failed + f.Unreachable + f.Expired}
}

// preview40 is the first words of an announcement, for its report.
func preview40(text string) string {
	r := []rune(strings.Join(strings.Fields(text), " "))
	if len(r) <= 40 {
		return string(r)
	}
	return string(r[:40]) + "…"
}

// preview is the start of an announcement for its confirmation, short
// enough that the question always fits one message.
func preview(text string) string {
	const max = 300
	r := []rune(text)
	if len(r) <= max {
		return text
	}
	return string(r[:max]) + "…"
}
