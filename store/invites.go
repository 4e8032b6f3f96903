package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Invite is a deep-link code that makes whoever opens it a head or member
// of a unit: single use for heads, reusable for members up to MaxUses.
type Invite struct {
	Code      string    `json:"code"`
	UnitID    uint64    `json:"unit_id"`
	Role      string    `json:"role"`
	MaxUses   int       `json:"max_uses"`
	Uses      int       `json:"uses"`
	CreatedBy int64     `json:"created_by"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Revoked   time.Time `json:"revoked,omitzero"`
}

// Why an invite cannot be used.
var (
	ErrInviteExpired = errors.New("the invite has expired")
	ErrInviteUsed    = errors.New("the invite has been used up")
	ErrInviteRevoked = errors.New("the invite was revoked")
)

// Usable says why the invite cannot be used at time at, or nil.
func (inv Invite) Usable(at time.Time) error {
	switch {
	case !inv.Revoked.IsZero():
		return ErrInviteRevoked
	case !at.Before(inv.Expires):
		return ErrInviteExpired
	case inv.Uses >= inv.MaxUses:
		return ErrInviteUsed
	}
	return nil
}

// PutInvite stores an invite.
func (tx *Tx) PutInvite(inv Invite) error {
	if err := putJSON(tx.bucket(bucketInvites), []byte(inv.Code), inv); err != nil {
		return fmt.Errorf("save invite: %w", err)
	}
	return nil
}

// Invite returns the invite with this code.
func (tx *Tx) Invite(code string) (Invite, error) {
	var inv Invite
	if err := getJSON(tx.bucket(bucketInvites), []byte(code), &inv); err != nil {
		return inv, fmt.Errorf("invite: %w", err)
	}
	return inv, nil
}

// UseInvite counts one use of the invite at time at and returns it, or
// says why it cannot be used (ErrNotFound, ErrInviteExpired, …).
func (tx *Tx) UseInvite(code string, at time.Time) (Invite, error) {
	inv, err := tx.Invite(code)
	if err != nil {
		return inv, err
	}
	if err := inv.Usable(at); err != nil {
		return inv, err
	}
	inv.Uses++
	return inv, tx.PutInvite(inv)
}

// UnitInvites returns every invite of the unit — usable, expired, used up
// or revoked — newest first.
func (tx *Tx) UnitInvites(unitID uint64) []Invite {
	var out []Invite
	c := tx.bucket(bucketInvites).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !bytes.Contains(v, []byte(fmt.Sprintf(`"unit_id":%d,`, unitID))) {
			continue // a cheap filter before decoding
		}
		var inv Invite
		if json.Unmarshal(v, &inv) == nil && inv.UnitID == unitID {
			out = append(out, inv)
		}
	}
	// Keys are random codes, so their order says nothing about age.
	slices.SortStableFunc(out, func(a, b Invite) int { return b.Created.Compare(a.Created) })
	return out
}

// Invites calls fn for every invite until fn returns false.
func (tx *Tx) Invites(fn func(Invite) bool) error {
	c := tx.bucket(bucketInvites).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var inv Invite
		if err := json.Unmarshal(v, &inv); err != nil {
			return fmt.Errorf("invite: %w", err)
		}
		if !fn(inv) {
			return nil
		}
	}
	return nil
}
