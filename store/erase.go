package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Erasure is what erasing a person needs to know: who, the names and
// username to scrub from text kept for others, and the pseudonym that
// takes their place in records that must stay (the audit log).
type Erasure struct {
	UserID int64
	// Names are the person's distinctive names — a full name, "@username"
	// (and their HTML-escaped forms) — taken out of any text kept for
	// others. Own adds every other name they go by (a one-word Telegram
	// name), taken out only of records about them.
	Names     []string
	Own       []string
	Pseudonym string
	At        time.Time
}

// scrubOwn replaces every name of the person, and their id, in text about
// them.
func (e Erasure) scrubOwn(text string) (string, bool) {
	changed := false
	for _, n := range append(append(slices.Clone(e.Names), e.Own...), strconv.FormatInt(e.UserID, 10)) {
		var ok bool
		text, ok = replaceWord(text, n, e.Pseudonym)
		changed = changed || ok
	}
	return text, changed
}

// scrub replaces the person's names and id in text with the pseudonym.
// Only whole words are replaced: a person called "Bình" leaves "Thái
// Bình" alone, and id 4004 leaves 14004 alone.
func (e Erasure) scrub(text string) (string, bool) {
	changed := false
	for _, n := range append(e.Names, strconv.FormatInt(e.UserID, 10)) {
		var ok bool
		text, ok = replaceWord(text, n, e.Pseudonym)
		changed = changed || ok
	}
	return text, changed
}

// scrubID replaces only the person's id in text.
func (e Erasure) scrubID(text string) (string, bool) {
	return replaceWord(text, strconv.FormatInt(e.UserID, 10), e.Pseudonym)
}

// replaceWord replaces each occurrence of word in text that is not part
// of a longer word.
func replaceWord(text, word, with string) (string, bool) {
	if word == "" || !strings.Contains(text, word) {
		return text, false
	}
	first, _ := utf8.DecodeRuneInString(word)
	last, _ := utf8.DecodeLastRuneInString(word)
	var b strings.Builder
	changed := false
	for {
		i := strings.Index(text, word)
		if i < 0 {
			break
		}
		before, _ := utf8.DecodeLastRuneInString(text[:i])
		after, _ := utf8.DecodeRuneInString(text[i+len(word):])
		if i > 0 && isWordRune(first) && isWordRune(before) ||
			i+len(word) < len(text) && isWordRune(last) && isWordRune(after) {
			// Part of a longer word: keep its first rune, look further.
			_, size := utf8.DecodeRuneInString(text[i:])
			b.WriteString(text[:i+size])
			text = text[i+size:]
			continue
		}
		b.WriteString(text[:i])
		b.WriteString(with)
		text = text[i+len(word):]
		changed = true
	}
	b.WriteString(text)
	return b.String(), changed
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// eraser removes or pseudonymizes one person's data in the buckets it
// names. A feature that keeps personal data adds its eraser here; a
// bucket that holds none goes in noPersonalData. TestErasersCoverEveryBucket
// fails for a bucket in neither, and the erasure test scans every bucket's
// bytes, so a forgotten field shows too.
type eraser struct {
	erase   func(tx *Tx, e Erasure) error
	buckets [][]byte
}

var erasers = []eraser{
	{eraseUser, [][]byte{bucketUsers, bucketAdmins}},
	{eraseChat, [][]byte{bucketChats}},
	{eraseConversations, [][]byte{bucketConversations, bucketTokens}},
	{eraseMemberships, [][]byte{bucketMembers, bucketUserUnits, bucketUnits}},
	{eraseInvites, [][]byte{bucketInvites}},
	{eraseLinks, [][]byte{bucketLinks}},
	// Fan-outs before the outbox: dropping a copy for the person may
	// finish a fan-out, whose report must neither go to nor name them.
	{eraseFanOuts, [][]byte{bucketFanOuts, bucketFanOutActions, bucketFanOutMisses}},
	{eraseOutbox, [][]byte{bucketOutbox, bucketOutboxChats, bucketDeliveries, bucketOrigins}},
	{eraseAudit, [][]byte{bucketAudit}},
}

// noPersonalData lists the buckets that never hold a person's data: ids
// of updates, counters, the unit tree's indexes, places and group links
// (keyed by group chat and unit).
var noPersonalData = [][]byte{
	bucketMeta, bucketUpdates, bucketJournal, bucketJobs, bucketUnitCodes,
	bucketUnitChildren, bucketUnitNames, bucketVillages, bucketChatLinks,
}

// ErasePerson removes the person's data from every record that keeps it,
// and returns the pseudonym that stands for them in the records that must
// stay ("Người dùng #12 (đã xóa dữ liệu)"). Erasure overrides any retention period.
func (tx *Tx) ErasePerson(userID int64, names, own []string, pseudonym func(n uint64) string, at time.Time) (string, error) {
	n, err := tx.bucket(bucketMeta).NextSequence()
	if err != nil {
		return "", err
	}
	e := Erasure{UserID: userID, Pseudonym: pseudonym(n), At: at}
	add := func(list *[]string, name string) {
		if name = strings.TrimSpace(name); name != "" {
			*list = append(*list, name)
			if escaped := html.EscapeString(name); escaped != name {
				*list = append(*list, escaped)
			}
		}
	}
	for _, name := range names {
		add(&e.Names, name)
	}
	for _, name := range own {
		add(&e.Own, name)
	}
	for _, er := range erasers {
		if err := er.erase(tx, e); err != nil {
			return "", fmt.Errorf("erase user: %w", err)
		}
	}
	return e.Pseudonym, nil
}

// eachJSON calls fn with every value of b decoded into a fresh T; fn
// returns the value to write back (nil: keep) or delete true.
func eachJSON[T any](b *bolt.Bucket, fn func(k []byte, v *T) (rewrite bool, del bool)) error {
	type change struct {
		k   []byte
		v   *T
		del bool
	}
	var changes []change
	c := b.Cursor()
	for k, raw := c.First(); k != nil; k, raw = c.Next() {
		if raw == nil {
			continue // a nested bucket
		}
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			return err
		}
		rewrite, del := fn(k, v)
		if rewrite || del {
			changes = append(changes, change{bytes.Clone(k), v, del})
		}
	}
	for _, ch := range changes {
		if ch.del {
			if err := b.Delete(ch.k); err != nil {
				return err
			}
			continue
		}
		if err := putJSON(b, ch.k, ch.v); err != nil {
			return err
		}
	}
	return nil
}

// deletePrefix removes every key of b that starts with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func eraseUser(tx *Tx, e Erasure) error {
	if err := tx.bucket(bucketUsers).Delete(id(e.UserID)); err != nil {
		return err
	}
	if err := tx.bucket(bucketAdmins).Delete(id(e.UserID)); err != nil {
		return err
	}
	return eachJSON(tx.bucket(bucketAdmins), func(_ []byte, a *Admin) (bool, bool) {
		if a.GrantedBy != e.UserID {
			return false, false
		}
		a.GrantedBy = 0
		return true, false
	})
}

func eraseChat(tx *Tx, e Erasure) error {
	c, err := tx.Chat(e.UserID)
	if err == nil && c.Unreachable {
		if err := tx.countUnreachable(-1); err != nil {
			return err
		}
	}
	return tx.bucket(bucketChats).Delete(id(e.UserID))
}

func eraseConversations(tx *Tx, e Erasure) error {
	if err := tx.bucket(bucketConversations).Delete(id(e.UserID)); err != nil {
		return err
	}
	// Others' keyboards go on; the text they keep (an announcement's
	// draft naming the person) is scrubbed.
	return eachJSON(tx.bucket(bucketTokens), func(_ []byte, t *Token) (bool, bool) {
		if t.UserID == e.UserID || t.ChatID == e.UserID {
			return false, true
		}
		data, changed := e.scrub(t.Data)
		t.Data = data
		return changed, false
	})
}

func eraseMemberships(tx *Tx, e Erasure) error {
	for _, m := range tx.UserUnits(e.UserID) {
		if _, err := tx.RemoveMember(m.UnitID, e.UserID); err != nil {
			return err
		}
	}
	return eachJSON(tx.bucket(bucketUnits), func(_ []byte, u *Unit) (bool, bool) {
		if u.CreatedBy != e.UserID {
			return false, false
		}
		u.CreatedBy = 0
		return true, false
	})
}

func eraseInvites(tx *Tx, e Erasure) error {
	return eachJSON(tx.bucket(bucketInvites), func(_ []byte, inv *Invite) (bool, bool) {
		return false, inv.CreatedBy == e.UserID
	})
}

func eraseLinks(tx *Tx, e Erasure) error {
	return eachJSON(tx.bucket(bucketLinks), func(_ []byte, l *Link) (bool, bool) {
		if l.LinkedBy != e.UserID {
			return false, false
		}
		l.LinkedBy = 0
		return true, false
	})
}

// eraseOutbox drops what waits to be sent to the person or asks about
// them and every record of what was, and scrubs their names and id from
// text waiting for others. A dropped copy of a fan-out counts as failed,
// so the fan-out still finishes and its originator gets the report.
func eraseOutbox(tx *Tx, e Erasure) error {
	// A row that does not decode cannot be scrubbed, and may be the
	// person's: it is settled as failed (its value gone) first.
	if err := tx.failBrokenRows(e.At); err != nil {
		return err
	}
	var dropped []OutboxRow
	if err := eachJSON(tx.bucket(bucketOutbox), func(k []byte, r *OutboxRow) (bool, bool) {
		if r.ChatID == e.UserID || r.Action.UserID == e.UserID {
			r.ID = binary.BigEndian.Uint64(k)
			dropped = append(dropped, *r)
			return false, true
		}
		text, changed := e.scrub(r.Action.Text)
		r.Action.Text = text
		if originMentions(r.Origin, e.UserID) {
			r.Origin, changed = "erased", true
		}
		return changed, false
	}); err != nil {
		return err
	}
	for _, r := range dropped {
		if err := tx.bucket(bucketOutboxChats).Delete(chatRowKey(r.ChatID, r.ID)); err != nil {
			return err
		}
	}
	if err := deletePrefix(tx.bucket(bucketOutboxChats), id(e.UserID)); err != nil {
		return err
	}
	for _, r := range dropped {
		if r.FanOut == 0 {
			continue
		}
		if err := tx.tallyFanOut(r, DeliveryFailed, e.At); err != nil {
			return err
		}
	}
	// Deliveries to the person go; so do their origin index entries.
	var origins [][]byte
	if err := eachJSON(tx.bucket(bucketDeliveries), func(k []byte, d *Delivery) (bool, bool) {
		mine := d.ChatID == e.UserID || originMentions(d.Origin, e.UserID)
		if mine && d.Origin != "" {
			origins = append(origins, originKey(d.Origin, binary.BigEndian.Uint64(k)))
		}
		return false, mine
	}); err != nil {
		return err
	}
	for _, k := range origins {
		if err := tx.bucket(bucketOrigins).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// originMentions reports whether an origin names the person by id, as a
// group-link query's does ("link:<unit>:<user>:<message>").
func originMentions(origin string, userID int64) bool {
	want := strconv.FormatInt(userID, 10)
	for _, part := range strings.FieldsFunc(origin, func(r rune) bool { return r == ':' }) {
		if part == want {
			return true
		}
	}
	return false
}

func eraseFanOuts(tx *Tx, e Erasure) error {
	if err := eachJSON(tx.bucket(bucketFanOuts), func(_ []byte, f *FanOut) (bool, bool) {
		title, changed := e.scrub(f.Title)
		f.Title = title
		if f.ReportTo == e.UserID {
			f.ReportTo = 0
			changed = true
		}
		return changed, false
	}); err != nil {
		return err
	}
	if err := eachJSON(tx.bucket(bucketFanOutActions), func(_ []byte, a *Action) (bool, bool) {
		text, changed := e.scrub(a.Text)
		a.Text = text
		return changed, false
	}); err != nil {
		return err
	}
	// The misses are keyed by fan-out and chat: drop the person's.
	var keys [][]byte
	c := tx.bucket(bucketFanOutMisses).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k[8:])) == e.UserID {
			keys = append(keys, bytes.Clone(k))
		}
	}
	for _, k := range keys {
		if err := tx.bucket(bucketFanOutMisses).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// eraseAudit keeps every entry but turns the person into the pseudonym.
// Their names are scrubbed only from the entries about them (as actor or
// subject): others' entries may hold the same words as a place's name.
func eraseAudit(tx *Tx, e Erasure) error {
	return eachJSON(tx.bucket(bucketAudit), func(_ []byte, a *AuditEntry) (bool, bool) {
		changed := false
		about := a.ActorID == e.UserID || a.SubjectID == e.UserID
		if a.ActorID == e.UserID {
			a.ActorID, a.ActorName, changed = 0, e.Pseudonym, true
		}
		if a.SubjectID == e.UserID {
			a.SubjectID, changed = 0, true
		}
		scrub := e.scrubID
		if about {
			scrub = e.scrubOwn
		}
		for _, f := range []*string{&a.Target, &a.Detail, &a.ActorName} {
			if text, ok := scrub(*f); ok {
				*f, changed = text, true
			}
		}
		return changed, false
	})
}

// Walk calls fn for every key and value of every bucket, nested ones too
// (path names the buckets), for checks such as the erasure test.
func (s *Store) Walk(fn func(path []string, k, v []byte) error) error {
	return s.db.View(func(btx *bolt.Tx) error {
		var walk func(path []string, b *bolt.Bucket) error
		walk = func(path []string, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					if nested := b.Bucket(k); nested != nil {
						return walk(append(path, string(k)), nested)
					}
				}
				return fn(path, k, v)
			})
		}
		return btx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if err := fn(nil, name, nil); err != nil {
				return err
			}
			return walk([]string{string(name)}, b)
		})
	})
}
