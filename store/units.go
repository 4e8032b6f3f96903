package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"danvan/names"
)

// Unit kinds: the organizations of the Front and its member organizations.
const (
	KindMTTQ          = "mttq"          // Ủy ban Mặt trận Tổ quốc
	KindPhuNu         = "phunu"         // Hội Liên hiệp Phụ nữ
	KindNongDan       = "nongdan"       // Hội Nông dân
	KindDoanThanhNien = "doanthanhnien" // Đoàn Thanh niên
	KindCCB           = "ccb"           // Hội Cựu chiến binh
	KindCongDoan      = "congdoan"      // Công đoàn
	KindChiBo         = "chibo"         // Chi bộ
	KindBanDanVan     = "bandanvan"     // Ban Dân vận
	KindKhac          = "khac"          // other
)

// UnitKinds returns every unit kind, in the order menus show them.
func UnitKinds() []string {
	return []string{KindMTTQ, KindPhuNu, KindNongDan, KindDoanThanhNien, KindCCB, KindCongDoan, KindChiBo, KindBanDanVan, KindKhac}
}

// ValidUnitKind reports whether kind is one of UnitKinds.
func ValidUnitKind(kind string) bool { return slices.Contains(UnitKinds(), kind) }

// Roles in a unit.
const (
	RoleHead   = "head"   // chair or deputy: directs the unit and everything under it
	RoleMember = "member" // đoàn viên, hội viên
)

// Unit is an organization node: it directs the units under it (its
// subtree) and sits on a place.
type Unit struct {
	ID   uint64 `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Parent is the unit that directs this one; 0 for a top-level unit.
	Parent uint64 `json:"parent,omitempty"`
	// Place is an official place code ("08", "02290") or a village's
	// ("02290/thon 3"); "" for none.
	Place     string    `json:"place,omitempty"`
	Created   time.Time `json:"created"`
	CreatedBy int64     `json:"created_by,omitempty"`
}

// Membership is a person's role in a unit.
type Membership struct {
	UnitID uint64    `json:"unit_id"`
	UserID int64     `json:"user_id"`
	Role   string    `json:"role"`
	Joined time.Time `json:"joined"`
}

// Errors of the unit model, wrapped with context.
var (
	ErrDuplicateCode = errors.New("a unit with this code exists")
	ErrCycle         = errors.New("a unit cannot be placed under itself or a unit below it")
	ErrHasChildren   = errors.New("the unit has units under it")
	ErrHasMembers    = errors.New("the unit has heads or members")
)

// codeKey is the index key of a unit code: codes match ignoring case.
func codeKey(code string) []byte { return []byte(strings.ToUpper(strings.TrimSpace(code))) }

// pairKey is two 8-byte ids.
func pairKey(a, b uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	return k
}

// AddUnit creates a unit. Code must be unused and the parent, if any, must
// exist; the new unit's id is returned in the copy.
func (tx *Tx) AddUnit(u Unit) (Unit, error) {
	if u.Code == "" || u.Name == "" || !ValidUnitKind(u.Kind) {
		return u, fmt.Errorf("add unit %q: code, name and a valid kind are required", u.Code)
	}
	if tx.bucket(bucketUnitCodes).Get(codeKey(u.Code)) != nil {
		return u, fmt.Errorf("add unit %q: %w", u.Code, ErrDuplicateCode)
	}
	if u.Parent != 0 {
		if _, err := tx.Unit(u.Parent); err != nil {
			return u, fmt.Errorf("add unit %q: parent: %w", u.Code, err)
		}
	}
	seq, err := tx.bucket(bucketUnits).NextSequence()
	if err != nil {
		return u, fmt.Errorf("add unit %q: %w", u.Code, err)
	}
	u.ID = seq
	if err := tx.putUnit(u); err != nil {
		return u, fmt.Errorf("add unit %q: %w", u.Code, err)
	}
	if err := tx.bucket(bucketUnitCodes).Put(codeKey(u.Code), u64(u.ID)); err != nil {
		return u, err
	}
	return u, nil
}

// putUnit stores the unit and its child and name index entries.
func (tx *Tx) putUnit(u Unit) error {
	if err := putJSON(tx.bucket(bucketUnits), u64(u.ID), u); err != nil {
		return err
	}
	if err := tx.bucket(bucketUnitChildren).Put(pairKey(u.Parent, u.ID), nil); err != nil {
		return err
	}
	return tx.bucket(bucketUnitNames).Put(nameKey(names.Fold(u.Name), u.ID), nil)
}

func nameKey(folded string, unitID uint64) []byte {
	k := make([]byte, 0, len(folded)+9)
	k = append(k, folded...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, unitID)
}

// UpdateUnit saves changes to a unit's name, kind, parent or place (not
// its code). Moving a unit under itself or one of its descendants is
// refused with ErrCycle.
func (tx *Tx) UpdateUnit(u Unit) error {
	old, err := tx.Unit(u.ID)
	if err != nil {
		return err
	}
	if !ValidUnitKind(u.Kind) || u.Name == "" {
		return fmt.Errorf("update unit %s: a name and a valid kind are required", old.Code)
	}
	if u.Parent != old.Parent && u.Parent != 0 {
		if _, err := tx.Unit(u.Parent); err != nil {
			return fmt.Errorf("update unit %s: parent: %w", old.Code, err)
		}
		if u.Parent == u.ID || slices.Contains(tx.Ancestors(u.Parent), u.ID) {
			return fmt.Errorf("update unit %s: %w", old.Code, ErrCycle)
		}
	}
	u.Code, u.Created, u.CreatedBy = old.Code, old.Created, old.CreatedBy
	if err := tx.bucket(bucketUnitChildren).Delete(pairKey(old.Parent, old.ID)); err != nil {
		return err
	}
	if err := tx.bucket(bucketUnitNames).Delete(nameKey(names.Fold(old.Name), old.ID)); err != nil {
		return err
	}
	return tx.putUnit(u)
}

// DeleteUnit removes a unit that has no units under it and no people; its
// invites and group links go with it.
func (tx *Tx) DeleteUnit(unitID uint64) error {
	u, err := tx.Unit(unitID)
	if err != nil {
		return err
	}
	if len(tx.childIDs(unitID)) > 0 {
		return fmt.Errorf("delete unit %s: %w", u.Code, ErrHasChildren)
	}
	if len(tx.Members(unitID)) > 0 {
		return fmt.Errorf("delete unit %s: %w", u.Code, ErrHasMembers)
	}
	for _, l := range tx.UnitLinks(unitID) {
		if _, err := tx.UnlinkGroup(unitID, l.ChatID); err != nil {
			return err
		}
	}
	for _, inv := range tx.UnitInvites(unitID) {
		if err := tx.bucket(bucketInvites).Delete([]byte(inv.Code)); err != nil {
			return err
		}
	}
	for _, del := range []struct {
		bucket []byte
		key    []byte
	}{
		{bucketUnits, u64(unitID)},
		{bucketUnitCodes, codeKey(u.Code)},
		{bucketUnitChildren, pairKey(u.Parent, unitID)},
		{bucketUnitNames, nameKey(names.Fold(u.Name), unitID)},
	} {
		if err := tx.bucket(del.bucket).Delete(del.key); err != nil {
			return err
		}
	}
	return nil
}

// Unit returns the unit with this id.
func (tx *Tx) Unit(unitID uint64) (Unit, error) {
	var u Unit
	if err := getJSON(tx.bucket(bucketUnits), u64(unitID), &u); err != nil {
		return u, fmt.Errorf("unit %d: %w", unitID, err)
	}
	return u, nil
}

// UnitByCode returns the unit with this code (case-insensitive).
func (tx *Tx) UnitByCode(code string) (Unit, error) {
	v := tx.bucket(bucketUnitCodes).Get(codeKey(code))
	if v == nil {
		return Unit{}, fmt.Errorf("unit code %q: %w", code, ErrNotFound)
	}
	return tx.Unit(binary.BigEndian.Uint64(v))
}

// childIDs returns the ids of the units directly under parentID (0: the
// top-level units), in creation order.
func (tx *Tx) childIDs(parentID uint64) []uint64 {
	prefix := u64(parentID)
	var ids []uint64
	c := tx.bucket(bucketUnitChildren).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, binary.BigEndian.Uint64(k[8:]))
	}
	return ids
}

// Children returns the units directly under parentID (0: top level).
func (tx *Tx) Children(parentID uint64) ([]Unit, error) {
	var out []Unit
	for _, id := range tx.childIDs(parentID) {
		u, err := tx.Unit(id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// Subtree returns the ids of the unit and every unit under it, parents
// before children.
func (tx *Tx) Subtree(unitID uint64) []uint64 {
	out := []uint64{unitID}
	for i := 0; i < len(out); i++ {
		out = append(out, tx.childIDs(out[i])...)
	}
	return out
}

// Ancestors returns the ids of the units above unitID, nearest first.
func (tx *Tx) Ancestors(unitID uint64) []uint64 {
	var out []uint64
	seen := map[uint64]bool{unitID: true}
	for id := unitID; ; {
		u, err := tx.Unit(id)
		if err != nil || u.Parent == 0 || seen[u.Parent] {
			return out
		}
		out = append(out, u.Parent)
		seen[u.Parent] = true
		id = u.Parent
	}
}

// UnitCount returns the number of units.
func (tx *Tx) UnitCount() int {
	n := 0
	c := tx.bucket(bucketUnits).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// UnitMatch is a unit found by SearchUnits, with its rank.
type UnitMatch struct {
	ID   uint64
	Rank int
}

// SearchUnits finds units whose name matches the query, ignoring case and
// diacritics (names.Match). It reads only the name index (no unit
// records); best rank first, ties by name; at most limit (none if limit
// is zero or negative).
func (tx *Tx) SearchUnits(query string, limit int) []UnitMatch {
	q := names.Fold(query)
	limit = max(limit, 0) // a negative capacity would panic below
	type hit struct {
		UnitMatch
		name string
	}
	// Every match contains each query word somewhere, so most names are
	// ruled out on the index key's bytes, without copying them.
	var words [][]byte
	for _, w := range strings.Fields(q) {
		words = append(words, []byte(w))
	}
	var hits []hit
	c := tx.bucket(bucketUnitNames).Cursor()
next:
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		key := k[:len(k)-9]
		for _, w := range words {
			if !bytes.Contains(key, w) {
				continue next
			}
		}
		name := string(key)
		if rank := names.Match(name, q); rank > 0 {
			hits = append(hits, hit{UnitMatch{ID: binary.BigEndian.Uint64(k[len(k)-8:]), Rank: rank}, name})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int {
		if a.Rank != b.Rank {
			return b.Rank - a.Rank
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]UnitMatch, 0, min(len(hits), limit))
	for _, h := range hits[:min(len(hits), limit)] {
		out = append(out, h.UnitMatch)
	}
	return out
}

// AddMember makes the person a head or member of the unit (a head who
// joins as a member stays a head).
func (tx *Tx) AddMember(unitID uint64, userID int64, role string, at time.Time) error {
	if role != RoleHead && role != RoleMember {
		return fmt.Errorf("add member: unknown role %q", role)
	}
	if _, err := tx.Unit(unitID); err != nil {
		return err
	}
	key := pairKey(unitID, uint64(userID))
	var m Membership
	if err := getJSON(tx.bucket(bucketMembers), key, &m); err == nil {
		if m.Role == RoleHead || m.Role == role {
			return nil
		}
	} else {
		m = Membership{UnitID: unitID, UserID: userID, Joined: at}
	}
	m.Role = role
	if err := putJSON(tx.bucket(bucketMembers), key, m); err != nil {
		return err
	}
	return tx.bucket(bucketUserUnits).Put(pairKey(uint64(userID), unitID), []byte(role))
}

// RemoveMember takes the person out of the unit; it reports whether they
// were in it.
func (tx *Tx) RemoveMember(unitID uint64, userID int64) (bool, error) {
	key := pairKey(unitID, uint64(userID))
	if tx.bucket(bucketMembers).Get(key) == nil {
		return false, nil
	}
	if err := tx.bucket(bucketMembers).Delete(key); err != nil {
		return false, err
	}
	return true, tx.bucket(bucketUserUnits).Delete(pairKey(uint64(userID), unitID))
}

// Members returns the unit's heads and members, heads first, then by the
// time they joined.
func (tx *Tx) Members(unitID uint64) []Membership {
	prefix := u64(unitID)
	var out []Membership
	c := tx.bucket(bucketMembers).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var m Membership
		if json.Unmarshal(v, &m) == nil {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b Membership) int {
		if a.Role != b.Role {
			if a.Role == RoleHead {
				return -1
			}
			return 1
		}
		return a.Joined.Compare(b.Joined)
	})
	return out
}

// MemberCounts counts the unit's heads and members without decoding
// each membership.
func (tx *Tx) MemberCounts(unitID uint64) (heads, members int) {
	prefix := u64(unitID)
	head := []byte(`"role":"head"`)
	c := tx.bucket(bucketMembers).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if bytes.Contains(v, head) {
			heads++
		} else {
			members++
		}
	}
	return heads, members
}

// UserUnits returns the units the person belongs to, with their role.
func (tx *Tx) UserUnits(userID int64) []Membership {
	prefix := u64(uint64(userID))
	var out []Membership
	c := tx.bucket(bucketUserUnits).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		out = append(out, Membership{UnitID: binary.BigEndian.Uint64(k[8:]), UserID: userID, Role: string(v)})
	}
	return out
}

// RoleIn returns the person's own role in the unit ("" if none).
func (tx *Tx) RoleIn(userID int64, unitID uint64) string {
	return string(tx.bucket(bucketUserUnits).Get(pairKey(uint64(userID), unitID)))
}

// HeadsOver reports whether the person heads the unit or a unit above it.
func (tx *Tx) HeadsOver(userID int64, unitID uint64) bool {
	for _, id := range append([]uint64{unitID}, tx.Ancestors(unitID)...) {
		if tx.RoleIn(userID, id) == RoleHead {
			return true
		}
	}
	return false
}

// IsHead reports whether the person heads any unit.
func (tx *Tx) IsHead(userID int64) bool {
	for _, m := range tx.UserUnits(userID) {
		if m.Role == RoleHead {
			return true
		}
	}
	return false
}
