package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Link connects a group chat to a unit: the unit's announcements (and
// later its reminders) go to the group too.
type Link struct {
	UnitID   uint64    `json:"unit_id"`
	ChatID   int64     `json:"chat_id"`
	Title    string    `json:"title,omitempty"`
	LinkedBy int64     `json:"linked_by,omitempty"`
	Linked   time.Time `json:"linked"`
	// Broken is set when the bot was removed from the group; the link
	// comes back if the bot is added again.
	Broken   bool      `json:"broken,omitempty"`
	BrokenAt time.Time `json:"broken_at,omitzero"`
}

func linkKey(unitID uint64, chatID int64) []byte { return pairKey(unitID, uint64(chatID)) }

// LinkGroup links the group to the unit (again, if it was broken).
func (tx *Tx) LinkGroup(l Link) error {
	if _, err := tx.Unit(l.UnitID); err != nil {
		return err
	}
	l.Broken, l.BrokenAt = false, time.Time{}
	if err := putJSON(tx.bucket(bucketLinks), linkKey(l.UnitID, l.ChatID), l); err != nil {
		return fmt.Errorf("link group: %w", err)
	}
	return tx.bucket(bucketChatLinks).Put(pairKey(uint64(l.ChatID), l.UnitID), nil)
}

// UnlinkGroup removes a link; it reports whether there was one.
func (tx *Tx) UnlinkGroup(unitID uint64, chatID int64) (bool, error) {
	key := linkKey(unitID, chatID)
	if tx.bucket(bucketLinks).Get(key) == nil {
		return false, nil
	}
	if err := tx.bucket(bucketLinks).Delete(key); err != nil {
		return false, err
	}
	return true, tx.bucket(bucketChatLinks).Delete(pairKey(uint64(chatID), unitID))
}

// UnitLinks returns the groups linked to the unit.
func (tx *Tx) UnitLinks(unitID uint64) []Link {
	prefix := u64(unitID)
	var out []Link
	c := tx.bucket(bucketLinks).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var l Link
		if json.Unmarshal(v, &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// ChatLinks returns the units the group is linked to.
func (tx *Tx) ChatLinks(chatID int64) []Link {
	prefix := u64(uint64(chatID))
	var out []Link
	c := tx.bucket(bucketChatLinks).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		var l Link
		if getJSON(tx.bucket(bucketLinks), linkKey(binary.BigEndian.Uint64(k[8:]), chatID), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// SetLinksBroken marks the group's links broken (the bot was removed) or
// whole again (it was added back), and returns them.
func (tx *Tx) SetLinksBroken(chatID int64, broken bool, at time.Time) ([]Link, error) {
	links := tx.ChatLinks(chatID)
	for i := range links {
		if links[i].Broken == broken {
			continue // keep when it broke
		}
		links[i].Broken = broken
		links[i].BrokenAt = time.Time{}
		if broken {
			links[i].BrokenAt = at
		}
		if err := putJSON(tx.bucket(bucketLinks), linkKey(links[i].UnitID, chatID), links[i]); err != nil {
			return nil, err
		}
	}
	return links, nil
}

// moveLinks re-points a group's links to the supergroup it became.
func (tx *Tx) moveLinks(oldID, newID int64) error {
	for _, l := range tx.ChatLinks(oldID) {
		if _, err := tx.UnlinkGroup(l.UnitID, oldID); err != nil {
			return err
		}
		l.ChatID = newID
		broken, at := l.Broken, l.BrokenAt
		if err := tx.LinkGroup(l); err != nil {
			return err
		}
		if broken {
			l.Broken, l.BrokenAt = broken, at
			if err := putJSON(tx.bucket(bucketLinks), linkKey(l.UnitID, newID), l); err != nil {
				return err
			}
		}
	}
	return nil
}
