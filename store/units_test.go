package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

var unitTime = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// mustUpdate runs fn in a write transaction that must commit.
func mustUpdate(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// mustView runs fn in a read transaction.
func mustView(t *testing.T, s *Store, fn func(tx *Tx)) {
	t.Helper()
	if err := s.View(ctx, func(tx *Tx) error { fn(tx); return nil }); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// tree is a three-level unit tree:
//
//	08-MTTQ  Ủy ban MTTQ tỉnh Tuyên Quang
//	├── 02494-MTTQ  Ủy ban MTTQ xã Thái Bình
//	│   └── 02494-PHUNU  Hội LHPN xã Thái Bình
//	└── 02545-MTTQ  Ủy ban MTTQ xã Tân Trào
type tree struct{ province, thaiBinh, phuNu, tanTrao Unit }

func addTree(t *testing.T, s *Store) tree {
	t.Helper()
	var tr tree
	mustUpdate(t, s, func(tx *Tx) error {
		add := func(code, name, kind string, parent uint64, place string) Unit {
			u, err := tx.AddUnit(Unit{Code: code, Name: name, Kind: kind, Parent: parent, Place: place, Created: unitTime})
			if err != nil {
				t.Fatalf("AddUnit %s: %v", code, err)
			}
			return u
		}
		tr.province = add("08-MTTQ", "Ủy ban MTTQ tỉnh Tuyên Quang", KindMTTQ, 0, "08")
		tr.thaiBinh = add("02494-MTTQ", "Ủy ban MTTQ xã Thái Bình", KindMTTQ, tr.province.ID, "02494")
		tr.phuNu = add("02494-PHUNU", "Hội LHPN xã Thái Bình", KindPhuNu, tr.thaiBinh.ID, "02494")
		tr.tanTrao = add("02545-MTTQ", "Ủy ban MTTQ xã Tân Trào", KindMTTQ, tr.province.ID, "02545")
		return nil
	})
	return tr
}

func ids(units []Unit) []uint64 {
	out := make([]uint64, 0, len(units))
	for _, u := range units {
		out = append(out, u.ID)
	}
	return out
}

func matchIDs(ms []UnitMatch) []uint64 {
	out := make([]uint64, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// nameKeysOf returns the folded names the search index holds for the unit.
func nameKeysOf(tx *Tx, unitID uint64) []string {
	var out []string
	c := tx.bucket(bucketUnitNames).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if binary.BigEndian.Uint64(k[len(k)-8:]) == unitID {
			out = append(out, string(k[:len(k)-9]))
		}
	}
	return out
}

// childKeysOf returns the parents the child index files the unit under.
func childKeysOf(tx *Tx, unitID uint64) []uint64 {
	var out []uint64
	c := tx.bucket(bucketUnitChildren).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if binary.BigEndian.Uint64(k[8:]) == unitID {
			out = append(out, binary.BigEndian.Uint64(k[:8]))
		}
	}
	return out
}

func TestAddUnit(t *testing.T) {
	s := open(t)
	tr := addTree(t, s)
	if tr.province.ID == 0 || tr.thaiBinh.ID == 0 || tr.province.ID == tr.thaiBinh.ID {
		t.Fatalf("got ids %d and %d, want two distinct non-zero ids", tr.province.ID, tr.thaiBinh.ID)
	}
	mustView(t, s, func(tx *Tx) {
		got, err := tx.Unit(tr.phuNu.ID)
		if err != nil {
			t.Fatalf("Unit(%d): %v", tr.phuNu.ID, err)
		}
		if got != tr.phuNu {
			t.Errorf("stored unit: got %+v, want %+v", got, tr.phuNu)
		}
	})

	tests := []struct {
		name    string
		unit    Unit
		wantErr error // nil: any error
	}{
		{"duplicate code", Unit{Code: "08-MTTQ", Name: "Khác", Kind: KindMTTQ}, ErrDuplicateCode},
		{"duplicate code in other case", Unit{Code: " 08-mttq ", Name: "Khác", Kind: KindMTTQ}, ErrDuplicateCode},
		{"unknown parent", Unit{Code: "X-1", Name: "Khác", Kind: KindMTTQ, Parent: 999}, ErrNotFound},
		{"invalid kind", Unit{Code: "X-2", Name: "Khác", Kind: "hoiphu"}, nil},
		{"kind in upper case", Unit{Code: "X-3", Name: "Khác", Kind: "MTTQ"}, nil},
		{"no code", Unit{Name: "Khác", Kind: KindMTTQ}, nil},
		{"no name", Unit{Code: "X-4", Kind: KindMTTQ}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			// Commit whatever AddUnit did: a refusal must leave nothing behind.
			mustUpdate(t, s, func(tx *Tx) error {
				_, err = tx.AddUnit(tt.unit)
				return nil
			})
			switch {
			case err == nil:
				t.Fatalf("AddUnit(%+v): got no error, want a refusal", tt.unit)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("AddUnit(%+v): got %v, want %v", tt.unit, err, tt.wantErr)
			}
			mustView(t, s, func(tx *Tx) {
				if got := tx.UnitCount(); got != 4 {
					t.Errorf("got %d units, want 4", got)
				}
				if got := tx.bucket(bucketUnitNames).Stats().KeyN; got != 4 {
					t.Errorf("got %d name index entries, want 4", got)
				}
				if tt.wantErr != ErrDuplicateCode && tt.unit.Code != "" {
					if _, err := tx.UnitByCode(tt.unit.Code); !errors.Is(err, ErrNotFound) {
						t.Errorf("UnitByCode(%q): got %v, want ErrNotFound", tt.unit.Code, err)
					}
				}
			})
		})
	}
}

func TestUnitByCode(t *testing.T) {
	s := open(t)
	tr := addTree(t, s)
	tests := []struct {
		code    string
		wantID  uint64
		wantErr error
	}{
		{"02494-MTTQ", tr.thaiBinh.ID, nil},
		{"02494-mttq", tr.thaiBinh.ID, nil},
		{" 02494-Phunu ", tr.phuNu.ID, nil},
		{"02494", 0, ErrNotFound},
		{"", 0, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			mustView(t, s, func(tx *Tx) {
				u, err := tx.UnitByCode(tt.code)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("UnitByCode(%q): got error %v, want %v", tt.code, err, tt.wantErr)
				}
				if u.ID != tt.wantID {
					t.Errorf("UnitByCode(%q): got id %d, want %d", tt.code, u.ID, tt.wantID)
				}
			})
		})
	}
}

func TestTree(t *testing.T) {
	s := open(t)
	tr := addTree(t, s)
	mustView(t, s, func(tx *Tx) {
		children := func(id uint64) []uint64 {
			us, err := tx.Children(id)
			if err != nil {
				t.Fatalf("Children(%d): %v", id, err)
			}
			return ids(us)
		}
		tests := []struct {
			name      string
			got, want []uint64
		}{
			{"top level", children(0), []uint64{tr.province.ID}},
			{"children of the province", children(tr.province.ID), []uint64{tr.thaiBinh.ID, tr.tanTrao.ID}},
			{"children of a commune", children(tr.thaiBinh.ID), []uint64{tr.phuNu.ID}},
			{"children of a leaf", children(tr.phuNu.ID), nil},
			{"subtree of the province", tx.Subtree(tr.province.ID), []uint64{tr.province.ID, tr.thaiBinh.ID, tr.tanTrao.ID, tr.phuNu.ID}},
			{"subtree of a commune", tx.Subtree(tr.thaiBinh.ID), []uint64{tr.thaiBinh.ID, tr.phuNu.ID}},
			{"subtree of a leaf", tx.Subtree(tr.tanTrao.ID), []uint64{tr.tanTrao.ID}},
			{"ancestors of a leaf", tx.Ancestors(tr.phuNu.ID), []uint64{tr.thaiBinh.ID, tr.province.ID}},
			{"ancestors of a commune", tx.Ancestors(tr.tanTrao.ID), []uint64{tr.province.ID}},
			{"ancestors of the top", tx.Ancestors(tr.province.ID), nil},
			{"ancestors of no unit", tx.Ancestors(999), nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if !slices.Equal(tt.got, tt.want) {
					t.Errorf("got %v, want %v", tt.got, tt.want)
				}
			})
		}
	})
}

func TestUpdateUnitRenameReindexesSearch(t *testing.T) {
	s := open(t)
	tr := addTree(t, s)
	renamed := tr.phuNu
	renamed.Name = "Hội Liên hiệp Phụ nữ xã Mỹ Bằng"
	renamed.Code = "OTHER" // a code never changes
	mustUpdate(t, s, func(tx *Tx) error { return tx.UpdateUnit(renamed) })
	mustView(t, s, func(tx *Tx) {
		if got := matchIDs(tx.SearchUnits("hoi lhpn", 10)); slices.Contains(got, tr.phuNu.ID) {
			t.Errorf(`search "hoi lhpn": got %v, want the renamed unit %d gone`, got, tr.phuNu.ID)
		}
		if got := matchIDs(tx.SearchUnits("my bang", 10)); !slices.Equal(got, []uint64{tr.phuNu.ID}) {
			t.Errorf(`search "my bang": got %v, want [%d]`, got, tr.phuNu.ID)
		}
		if got, want := nameKeysOf(tx, tr.phuNu.ID), []string{"hoi lien hiep phu nu xa my bang"}; !slices.Equal(got, want) {
			t.Errorf("name index entries: got %q, want %q", got, want)
		}
		u, err := tx.Unit(tr.phuNu.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Code != "02494-PHUNU" || u.Name != renamed.Name || !u.Created.Equal(unitTime) {
			t.Errorf("got %+v, want code 02494-PHUNU, the new name and the old creation time", u)
		}
		if _, err := tx.UnitByCode("OTHER"); !errors.Is(err, ErrNotFound) {
			t.Errorf(`UnitByCode("OTHER"): got %v, want ErrNotFound`, err)
		}
	})
}

func TestUpdateUnitRefusesCycles(t *testing.T) {
	s := open(t)
	tr := addTree(t, s)
	tests := []struct {
		name   string
		unit   Unit
		parent uint64
	}{
		{"under itself", tr.thaiBinh, tr.thaiBinh.ID},
		{"under its child", tr.thaiBinh, tr.phuNu.ID},
		{"under its grandchild", tr.province, tr.phuNu.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			moved := tt.unit
			moved.Parent = tt.parent
			moved.Name = "Tên mới"
			var err error
			// Commit whatever UpdateUnit did: a refusal must change nothing.
			mustUpdate(t, s, func(tx *Tx) error {
				err = tx.UpdateUnit(moved)
				return nil
			})
			if !errors.Is(err, ErrCycle) {
				t.Fatalf("UpdateUnit: got %v, want ErrCycle", err)
			}
			mustView(t, s, func(tx *Tx) {
				for _, want := range []Unit{tr.province, tr.thaiBinh, tr.phuNu, tr.tanTrao} {
					got, err := tx.Unit(want.ID)
					if err != nil || got != want {
						t.Errorf("unit %s: got %+v (%v), want %+v", want.Code, got, err, want)
					}
					if got, wantParents := childKeysOf(tx, want.ID), []uint64{want.Parent}; !slices.Equal(got, wantParents) {
						t.Errorf("unit %s filed under %v, want %v", want.Code, got, wantParents)
					}
				}
				if got := tx.Subtree(tr.province.ID); len(got) != 4 {
					t.Errorf("province subtree: got %v, want 4 units", got)
				}
			})
		})
	}
}

func TestUpdateUnitMoves(t *testing.T) {
	s := open(t)
	tr := addTree(t, s)
	moved := tr.phuNu
	moved.Parent = tr.tanTrao.ID
	mustUpdate(t, s, func(tx *Tx) error { return tx.UpdateUnit(moved) })
	mustView(t, s, func(tx *Tx) {
		from, _ := tx.Children(tr.thaiBinh.ID)
		if got := ids(from); len(got) != 0 {
			t.Errorf("children of the old parent: got %v, want none", got)
		}
		to, _ := tx.Children(tr.tanTrao.ID)
		if got := ids(to); !slices.Equal(got, []uint64{tr.phuNu.ID}) {
			t.Errorf("children of the new parent: got %v, want [%d]", got, tr.phuNu.ID)
		}
		if got, want := tx.Ancestors(tr.phuNu.ID), []uint64{tr.tanTrao.ID, tr.province.ID}; !slices.Equal(got, want) {
			t.Errorf("ancestors: got %v, want %v", got, want)
		}
	})

	// To the top level and back.
	moved.Parent = 0
	mustUpdate(t, s, func(tx *Tx) error { return tx.UpdateUnit(moved) })
	mustView(t, s, func(tx *Tx) {
		top, _ := tx.Children(0)
		if got := ids(top); !slices.Equal(got, []uint64{tr.province.ID, tr.phuNu.ID}) {
			t.Errorf("top level: got %v, want [%d %d]", got, tr.province.ID, tr.phuNu.ID)
		}
	})

	// An unknown parent is refused and changes nothing.
	moved.Parent = 999
	var err error
	mustUpdate(t, s, func(tx *Tx) error { err = tx.UpdateUnit(moved); return nil })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("move under an unknown parent: got %v, want ErrNotFound", err)
	}
	mustView(t, s, func(tx *Tx) {
		if got := childKeysOf(tx, tr.phuNu.ID); !slices.Equal(got, []uint64{0}) {
			t.Errorf("after a refused move the unit is filed under %v, want [0]", got)
		}
	})
}

func TestDeleteUnit(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(tx *Tx, tr tree) error
		target  func(tr tree) Unit
		wantErr error
	}{
		{
			name:    "has children",
			target:  func(tr tree) Unit { return tr.thaiBinh },
			wantErr: ErrHasChildren,
		},
		{
			name: "has a member",
			prepare: func(tx *Tx, tr tree) error {
				return tx.AddMember(tr.phuNu.ID, 42, RoleMember, unitTime)
			},
			target:  func(tr tree) Unit { return tr.phuNu },
			wantErr: ErrHasMembers,
		},
		{
			name: "has a head",
			prepare: func(tx *Tx, tr tree) error {
				return tx.AddMember(tr.tanTrao.ID, 42, RoleHead, unitTime)
			},
			target:  func(tr tree) Unit { return tr.tanTrao },
			wantErr: ErrHasMembers,
		},
		{
			name:   "a leaf",
			target: func(tr tree) Unit { return tr.phuNu },
		},
		{
			name: "a leaf whose people left",
			prepare: func(tx *Tx, tr tree) error {
				if err := tx.AddMember(tr.phuNu.ID, 42, RoleMember, unitTime); err != nil {
					return err
				}
				_, err := tx.RemoveMember(tr.phuNu.ID, 42)
				return err
			},
			target: func(tr tree) Unit { return tr.phuNu },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			tr := addTree(t, s)
			target := tt.target(tr)
			mustUpdate(t, s, func(tx *Tx) error {
				for i, unit := range []uint64{target.ID, target.ID, tr.province.ID} {
					inv := Invite{Code: fmt.Sprintf("inv%d", i), UnitID: unit, Role: RoleMember, MaxUses: 5, Created: unitTime, Expires: unitTime.Add(time.Hour)}
					if err := tx.PutInvite(inv); err != nil {
						return err
					}
				}
				if tt.prepare != nil {
					return tt.prepare(tx, tr)
				}
				return nil
			})
			var err error
			mustUpdate(t, s, func(tx *Tx) error { err = tx.DeleteUnit(target.ID); return nil })
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DeleteUnit(%s): got %v, want %v", target.Code, err, tt.wantErr)
				}
				mustView(t, s, func(tx *Tx) {
					if got, err := tx.Unit(target.ID); err != nil || got != target {
						t.Errorf("after a refused delete: got %+v (%v), want %+v", got, err, target)
					}
					if got := tx.UnitCount(); got != 4 {
						t.Errorf("got %d units, want 4", got)
					}
					if got := len(tx.UnitInvites(target.ID)); got != 2 {
						t.Errorf("got %d invites of the unit, want 2", got)
					}
				})
				return
			}
			if err != nil {
				t.Fatalf("DeleteUnit(%s): %v", target.Code, err)
			}
			mustView(t, s, func(tx *Tx) {
				if _, err := tx.Unit(target.ID); !errors.Is(err, ErrNotFound) {
					t.Errorf("Unit: got %v, want ErrNotFound", err)
				}
				if _, err := tx.UnitByCode(target.Code); !errors.Is(err, ErrNotFound) {
					t.Errorf("UnitByCode: got %v, want ErrNotFound", err)
				}
				if got := tx.UnitCount(); got != 3 {
					t.Errorf("got %d units, want 3", got)
				}
				if got := childKeysOf(tx, target.ID); len(got) != 0 {
					t.Errorf("child index still files the unit under %v", got)
				}
				if got := nameKeysOf(tx, target.ID); len(got) != 0 {
					t.Errorf("name index still holds %q", got)
				}
				if got := matchIDs(tx.SearchUnits(target.Name, 10)); slices.Contains(got, target.ID) {
					t.Errorf("search for the deleted name: got %v", got)
				}
				if got := tx.UnitInvites(target.ID); len(got) != 0 {
					t.Errorf("invites of the deleted unit: got %+v, want none", got)
				}
				for _, code := range []string{"inv0", "inv1"} {
					if _, err := tx.Invite(code); !errors.Is(err, ErrNotFound) {
						t.Errorf("Invite(%s): got %v, want ErrNotFound", code, err)
					}
				}
				if _, err := tx.Invite("inv2"); err != nil {
					t.Errorf("another unit's invite: got %v, want it kept", err)
				}
			})
			// The code is free again.
			mustUpdate(t, s, func(tx *Tx) error {
				_, err := tx.AddUnit(Unit{Code: target.Code, Name: target.Name, Kind: target.Kind, Parent: target.Parent})
				return err
			})
		})
	}
}

func TestSearchUnits(t *testing.T) {
	s := open(t)
	byName := map[string]uint64{}
	mustUpdate(t, s, func(tx *Tx) error {
		for i, name := range []string{
			"Ủy ban MTTQ xã Thái Bình",
			"Hội LHPN xã Thái Bình",
			"Đoàn Thanh niên xã Thái Bình",
			"Thái Bình",
			"Thái Bình Đông",
			"Công đoàn cơ sở xã Tân Trào",
			"Hội Nông dân xã Hàm Yên",
			"Chi bộ thôn Thái Bình Hạ",
		} {
			u, err := tx.AddUnit(Unit{Code: fmt.Sprintf("U%d", i), Name: name, Kind: KindKhac})
			if err != nil {
				return err
			}
			byName[name] = u.ID
		}
		return nil
	})
	id := func(names ...string) []uint64 {
		var out []uint64
		for _, n := range names {
			out = append(out, byName[n])
		}
		return out
	}
	tests := []struct {
		name  string
		query string
		limit int
		want  []uint64
	}{
		{"no case, no diacritics", "hoi lhpn xa thai binh", 10, id("Hội LHPN xã Thái Bình")},
		{"with diacritics, lower case", "đoàn", 10, id("Đoàn Thanh niên xã Thái Bình", "Công đoàn cơ sở xã Tân Trào")},
		{"upper case without diacritics", "DOAN", 10, id("Đoàn Thanh niên xã Thái Bình", "Công đoàn cơ sở xã Tân Trào")},
		{"decomposed input", "\u0110oa\u0300n Thanh nie\u0302n", 10, id("Đoàn Thanh niên xã Thái Bình")},
		{"stray spaces", "  hội   nông dân ", 10, id("Hội Nông dân xã Hàm Yên")},
		{
			// exact, then prefix, then word prefix (ties by folded name)
			"ranking", "thai binh", 10,
			id("Thái Bình", "Thái Bình Đông", "Chi bộ thôn Thái Bình Hạ", "Đoàn Thanh niên xã Thái Bình", "Hội LHPN xã Thái Bình", "Ủy ban MTTQ xã Thái Bình"),
		},
		{"limit keeps the best", "thai binh", 2, id("Thái Bình", "Thái Bình Đông")},
		{"limit zero", "thai binh", 0, nil},
		{"negative limit", "thai binh", -1, nil},
		{"no match", "quang", 10, nil},
		{"empty query", "", 10, nil},
		{"only spaces", "   ", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustView(t, s, func(tx *Tx) {
				got := tx.SearchUnits(tt.query, tt.limit)
				if !slices.Equal(matchIDs(got), tt.want) {
					t.Errorf("SearchUnits(%q, %d): got %v, want %v", tt.query, tt.limit, matchIDs(got), tt.want)
				}
				for i := 1; i < len(got); i++ {
					if got[i].Rank > got[i-1].Rank {
						t.Errorf("result %d ranks %d above result %d's %d", i, got[i].Rank, i-1, got[i-1].Rank)
					}
				}
			})
		})
	}
}

func TestMembers(t *testing.T) {
	s := open(t)
	tr := addTree(t, s)
	const (
		lan  = int64(1)
		hoa  = int64(2)
		minh = int64(3)
		nam  = int64(4)
	)
	t0 := unitTime
	mustUpdate(t, s, func(tx *Tx) error {
		for _, m := range []struct {
			unit uint64
			user int64
			role string
			at   time.Time
		}{
			{tr.thaiBinh.ID, hoa, RoleMember, t0},
			{tr.thaiBinh.ID, lan, RoleHead, t0.Add(time.Hour)},
			{tr.thaiBinh.ID, lan, RoleMember, t0.Add(2 * time.Hour)}, // a head stays a head
			{tr.thaiBinh.ID, minh, RoleMember, t0.Add(3 * time.Hour)},
			{tr.thaiBinh.ID, minh, RoleHead, t0.Add(4 * time.Hour)}, // promoted
			{tr.province.ID, nam, RoleHead, t0},
			{tr.phuNu.ID, hoa, RoleMember, t0},
			{tr.tanTrao.ID, hoa, RoleHead, t0},
		} {
			if err := tx.AddMember(m.unit, m.user, m.role, m.at); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx *Tx) {
		var got []string
		for _, m := range tx.Members(tr.thaiBinh.ID) {
			got = append(got, fmt.Sprintf("%d:%s@%s", m.UserID, m.Role, m.Joined.Format("15h")))
		}
		// Heads first, then by when they joined; Minh keeps the time he
		// first joined.
		want := []string{"1:head@09h", "3:head@11h", "2:member@08h"}
		if !slices.Equal(got, want) {
			t.Errorf("Members: got %v, want %v", got, want)
		}
	})

	mustView(t, s, func(tx *Tx) {
		roles := []struct {
			user int64
			unit uint64
			want string
		}{
			{lan, tr.thaiBinh.ID, RoleHead},
			{minh, tr.thaiBinh.ID, RoleHead},
			{hoa, tr.thaiBinh.ID, RoleMember},
			{hoa, tr.tanTrao.ID, RoleHead},
			{lan, tr.province.ID, ""},
			{nam, tr.thaiBinh.ID, ""}, // heads the province, is not in the commune
		}
		for _, r := range roles {
			if got := tx.RoleIn(r.user, r.unit); got != r.want {
				t.Errorf("RoleIn(%d, %d): got %q, want %q", r.user, r.unit, got, r.want)
			}
		}

		var units []string
		for _, m := range tx.UserUnits(hoa) {
			units = append(units, fmt.Sprintf("%d:%s", m.UnitID, m.Role))
		}
		want := []string{
			fmt.Sprintf("%d:member", tr.thaiBinh.ID),
			fmt.Sprintf("%d:member", tr.phuNu.ID),
			fmt.Sprintf("%d:head", tr.tanTrao.ID),
		}
		if !slices.Equal(units, want) {
			t.Errorf("UserUnits(hoa): got %v, want %v", units, want)
		}

		over := []struct {
			name string
			user int64
			unit uint64
			want bool
		}{
			{"head of the unit", lan, tr.thaiBinh.ID, true},
			{"head of the parent", lan, tr.phuNu.ID, true},
			{"head of the grandparent", nam, tr.phuNu.ID, true},
			{"head of a sibling", hoa, tr.thaiBinh.ID, false},
			{"head of a sibling's parent's sibling", hoa, tr.phuNu.ID, false},
			{"head of a unit below", lan, tr.province.ID, false},
			{"a member only", hoa, tr.phuNu.ID, false},
			{"nobody", 99, tr.phuNu.ID, false},
		}
		for _, o := range over {
			if got := tx.HeadsOver(o.user, o.unit); got != o.want {
				t.Errorf("HeadsOver %s: got %v, want %v", o.name, got, o.want)
			}
		}

		heads := map[int64]bool{lan: true, hoa: true, minh: true, nam: true, 99: false}
		for user, want := range heads {
			if got := tx.IsHead(user); got != want {
				t.Errorf("IsHead(%d): got %v, want %v", user, got, want)
			}
		}
	})

	var removed, again bool
	mustUpdate(t, s, func(tx *Tx) error {
		var err error
		if removed, err = tx.RemoveMember(tr.tanTrao.ID, hoa); err != nil {
			return err
		}
		again, err = tx.RemoveMember(tr.tanTrao.ID, hoa)
		return err
	})
	if !removed || again {
		t.Errorf("RemoveMember twice: got %v then %v, want true then false", removed, again)
	}
	mustView(t, s, func(tx *Tx) {
		if got := tx.Members(tr.tanTrao.ID); len(got) != 0 {
			t.Errorf("Members after removal: got %+v, want none", got)
		}
		if got := tx.RoleIn(hoa, tr.tanTrao.ID); got != "" {
			t.Errorf("RoleIn after removal: got %q, want none", got)
		}
		if tx.IsHead(hoa) {
			t.Error("IsHead after removal from the only unit headed: got true, want false")
		}
		if got := len(tx.UserUnits(hoa)); got != 2 {
			t.Errorf("UserUnits after removal: got %d units, want 2", got)
		}
	})

	errs := []struct {
		name string
		unit uint64
		role string
	}{
		{"unknown role", tr.phuNu.ID, "chair"},
		{"unknown unit", 999, RoleMember},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			var err error
			mustUpdate(t, s, func(tx *Tx) error { err = tx.AddMember(e.unit, 77, e.role, t0); return nil })
			if err == nil {
				t.Fatal("AddMember: got no error, want a refusal")
			}
			mustView(t, s, func(tx *Tx) {
				if got := tx.UserUnits(77); len(got) != 0 {
					t.Errorf("UserUnits after a refusal: got %+v, want none", got)
				}
			})
		})
	}
}

func TestInviteUsable(t *testing.T) {
	expires := unitTime.Add(72 * time.Hour)
	base := Invite{Code: "abc", UnitID: 1, Role: RoleMember, MaxUses: 3, Uses: 0, Created: unitTime, Expires: expires}
	tests := []struct {
		name string
		edit func(*Invite)
		at   time.Time
		want error
	}{
		{"fresh", nil, unitTime, nil},
		{"a nanosecond before it expires", nil, expires.Add(-time.Nanosecond), nil},
		{"exactly at expiry", nil, expires, ErrInviteExpired},
		{"after expiry", nil, expires.Add(time.Hour), ErrInviteExpired},
		{"one use left", func(i *Invite) { i.Uses = 2 }, unitTime, nil},
		{"used up", func(i *Invite) { i.Uses = 3 }, unitTime, ErrInviteUsed},
		{"revoked", func(i *Invite) { i.Revoked = unitTime }, unitTime, ErrInviteRevoked},
		{"revoked wins over expired", func(i *Invite) { i.Revoked = unitTime }, expires, ErrInviteRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := base
			if tt.edit != nil {
				tt.edit(&inv)
			}
			if got := inv.Usable(tt.at); got != tt.want {
				t.Errorf("Usable: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUseInvite(t *testing.T) {
	s := open(t)
	expires := unitTime.Add(time.Hour)
	mustUpdate(t, s, func(tx *Tx) error {
		return tx.PutInvite(Invite{Code: "two", UnitID: 1, Role: RoleMember, MaxUses: 2, Created: unitTime, Expires: expires})
	})
	steps := []struct {
		code     string
		at       time.Time
		wantErr  error
		wantUses int
	}{
		{"two", unitTime, nil, 1},
		{"two", unitTime.Add(time.Minute), nil, 2},
		{"two", unitTime.Add(2 * time.Minute), ErrInviteUsed, 2},
		{"nope", unitTime, ErrNotFound, 2},
	}
	for i, st := range steps {
		var got Invite
		var err error
		mustUpdate(t, s, func(tx *Tx) error { got, err = tx.UseInvite(st.code, st.at); return nil })
		if !errors.Is(err, st.wantErr) {
			t.Errorf("use %d of %q: got %v, want %v", i+1, st.code, err, st.wantErr)
		}
		if err == nil && got.Uses != st.wantUses {
			t.Errorf("use %d: returned %d uses, want %d", i+1, got.Uses, st.wantUses)
		}
		mustView(t, s, func(tx *Tx) {
			stored, err := tx.Invite("two")
			if err != nil || stored.Uses != st.wantUses {
				t.Errorf("after use %d: stored %d uses (%v), want %d", i+1, stored.Uses, err, st.wantUses)
			}
		})
	}

	mustUpdate(t, s, func(tx *Tx) error {
		return tx.PutInvite(Invite{Code: "late", UnitID: 1, Role: RoleHead, MaxUses: 1, Created: unitTime, Expires: expires})
	})
	var err error
	mustUpdate(t, s, func(tx *Tx) error { _, err = tx.UseInvite("late", expires); return nil })
	if !errors.Is(err, ErrInviteExpired) {
		t.Errorf("use at expiry: got %v, want ErrInviteExpired", err)
	}
	mustView(t, s, func(tx *Tx) {
		if inv, _ := tx.Invite("late"); inv.Uses != 0 {
			t.Errorf("an expired invite was counted: got %d uses, want 0", inv.Uses)
		}
	})
}

func TestUnitInvites(t *testing.T) {
	s := open(t)
	// Units 1 and 11: the cheap text filter must not mix them up. Codes
	// sort against their age, so key order cannot pass for newest first.
	mustUpdate(t, s, func(tx *Tx) error {
		for _, inv := range []Invite{
			{Code: "c-oldest", UnitID: 1, Created: unitTime},
			{Code: "a-newest", UnitID: 1, Created: unitTime.Add(2 * time.Hour), Revoked: unitTime.Add(3 * time.Hour)},
			{Code: "b-middle", UnitID: 1, Created: unitTime.Add(time.Hour), Uses: 5, MaxUses: 5},
			{Code: "d-eleven", UnitID: 11, Created: unitTime},
			{Code: "e-two", UnitID: 2, Created: unitTime},
		} {
			inv.Role, inv.Expires = RoleMember, unitTime.Add(time.Minute)
			if err := tx.PutInvite(inv); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		unit uint64
		want []string
	}{
		{1, []string{"a-newest", "b-middle", "c-oldest"}},
		{11, []string{"d-eleven"}},
		{2, []string{"e-two"}},
		{3, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.unit), func(t *testing.T) {
			mustView(t, s, func(tx *Tx) {
				var got []string
				for _, inv := range tx.UnitInvites(tt.unit) {
					got = append(got, inv.Code)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("UnitInvites(%d): got %v, want %v", tt.unit, got, tt.want)
				}
			})
		})
	}
}

func TestEnsureVillage(t *testing.T) {
	s := open(t)
	first := unitTime
	later := unitTime.Add(time.Hour)
	tests := []struct {
		name         string
		commune      string
		village      string
		at           time.Time
		wantCode     string
		wantName     string
		wantCommune  string
		wantCreated  time.Time
		wantVillages int
	}{
		{"new", "02494", "Thôn  3 ", first, "02494/thôn 3", "Thôn 3", "02494", first, 1},
		{"same, other spelling", "02494", "thôn 3", later, "02494/thôn 3", "Thôn 3", "02494", first, 1},
		{"same, no diacritics and upper case", "02494", "THON\t3", later, "02494/thôn 3", "Thôn 3", "02494", first, 1},
		{"same, spaces round the commune", " 02494 ", "Thôn 3", later, "02494/thôn 3", "Thôn 3", "02494", first, 1},
		{"same name, other commune", "02545", "Thôn 3", later, "02545/thôn 3", "Thôn 3", "02545", later, 2},
		{"other name", "02494", "Thôn Đồng Mới", later, "02494/thôn đồng mới", "Thôn Đồng Mới", "02494", later, 3},
		{"other tones, other village", "02494", "Thôn Đông Mới", later, "02494/thôn đông mới", "Thôn Đông Mới", "02494", later, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v Village
			mustUpdate(t, s, func(tx *Tx) error {
				var err error
				v, err = tx.EnsureVillage(tt.commune, tt.village, tt.at)
				return err
			})
			if v.Code != tt.wantCode || v.Name != tt.wantName || v.Commune != tt.wantCommune || !v.Created.Equal(tt.wantCreated) {
				t.Errorf("EnsureVillage(%q, %q): got %+v, want code %q, name %q, commune %q, created %v", tt.commune, tt.village, v, tt.wantCode, tt.wantName, tt.wantCommune, tt.wantCreated)
			}
			// A name typed without tone marks finds the village; its own
			// code would be another one.
			if got := VillageCode(tt.commune, tt.village); got != tt.wantCode && tt.name != "same, no diacritics and upper case" {
				t.Errorf("VillageCode(%q, %q): got %q, want %q", tt.commune, tt.village, got, tt.wantCode)
			}
			mustView(t, s, func(tx *Tx) {
				stored, err := tx.Village(tt.wantCode)
				if err != nil || stored != v {
					t.Errorf("Village(%q): got %+v (%v), want %+v", tt.wantCode, stored, err, v)
				}
				if got := tx.bucket(bucketVillages).Stats().KeyN; got != tt.wantVillages {
					t.Errorf("got %d villages, want %d", got, tt.wantVillages)
				}
			})
		})
	}

	var err error
	mustUpdate(t, s, func(tx *Tx) error { _, err = tx.EnsureVillage("02494", " \u200b ", later); return nil })
	if err == nil {
		t.Error("EnsureVillage with a blank name: got no error, want a refusal")
	}
	mustView(t, s, func(tx *Tx) {
		if _, err := tx.Village("02494/thon 9"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Village of an unknown code: got %v, want ErrNotFound", err)
		}
	})
}

func importRows(t *testing.T, s *Store, rows []ImportRow) ImportSummary {
	t.Helper()
	var sum ImportSummary
	mustUpdate(t, s, func(tx *Tx) error {
		var problems []ImportProblem
		var err error
		sum, problems, err = tx.ImportUnits(rows, unitTime)
		if err != nil {
			return fmt.Errorf("%w: %+v", err, problems)
		}
		return nil
	})
	return sum
}

func TestImportUnits(t *testing.T) {
	s := open(t)
	rows := []ImportRow{
		// The child comes first, and its place is left to be inherited.
		{Line: 2, Code: "02494-PHUNU", Name: "Hội LHPN xã Thái Bình", Kind: KindPhuNu, ParentCode: "02494-mttq"},
		{Line: 3, Code: "02494-MTTQ", Name: "Ủy ban MTTQ xã Thái Bình", Kind: KindMTTQ, ParentCode: "08-MTTQ", Place: "02494"},
		{Line: 4, Code: "08-MTTQ", Name: "Ủy ban MTTQ tỉnh Tuyên Quang", Kind: KindMTTQ, Place: "08"},
		{Line: 5, Code: "02494-T1", Name: "Ban công tác Mặt trận thôn Đồng Mới", Kind: KindMTTQ, ParentCode: "02494-MTTQ", Place: "02494/Thôn  Đồng Mới"},
		{Line: 6, Code: "02494-T1-PHUNU", Name: "Chi hội Phụ nữ thôn Đồng Mới", Kind: KindPhuNu, ParentCode: "02494-T1"},
	}
	if got, want := importRows(t, s, rows), (ImportSummary{Created: 5}); got != want {
		t.Fatalf("first import: got %+v, want %+v", got, want)
	}
	mustView(t, s, func(tx *Tx) {
		get := func(code string) Unit {
			u, err := tx.UnitByCode(code)
			if err != nil {
				t.Fatalf("UnitByCode(%s): %v", code, err)
			}
			return u
		}
		province, commune, phuNu, village, villagePhuNu := get("08-MTTQ"), get("02494-MTTQ"), get("02494-PHUNU"), get("02494-T1"), get("02494-T1-PHUNU")
		checks := []struct {
			unit       Unit
			wantParent uint64
			wantPlace  string
		}{
			{province, 0, "08"},
			{commune, province.ID, "02494"},
			{phuNu, commune.ID, "02494"},
			{village, commune.ID, "02494/thôn đồng mới"},
			{villagePhuNu, village.ID, "02494/thôn đồng mới"},
		}
		for _, c := range checks {
			if c.unit.Parent != c.wantParent || c.unit.Place != c.wantPlace {
				t.Errorf("%s: got parent %d, place %q, want parent %d, place %q", c.unit.Code, c.unit.Parent, c.unit.Place, c.wantParent, c.wantPlace)
			}
		}
		v, err := tx.Village("02494/thôn đồng mới")
		if err != nil || v.Name != "Thôn Đồng Mới" || v.Commune != "02494" {
			t.Errorf("village: got %+v (%v), want Thôn Đồng Mới in 02494", v, err)
		}
	})

	if got, want := importRows(t, s, rows), (ImportSummary{Unchanged: 5}); got != want {
		t.Errorf("second import: got %+v, want %+v", got, want)
	}

	changed := slices.Clone(rows)
	changed[0].Name = "Hội Liên hiệp Phụ nữ xã Thái Bình"
	changed[1].Place = "02545" // the commune's place, inherited by its PHUNU
	changed[3].Place = "02494/thôn đồng mới"
	if got, want := importRows(t, s, changed), (ImportSummary{Updated: 2, Unchanged: 3}); got != want {
		t.Errorf("import with a new name and place: got %+v, want %+v", got, want)
	}
	mustView(t, s, func(tx *Tx) {
		u, _ := tx.UnitByCode("02494-PHUNU")
		if u.Name != "Hội Liên hiệp Phụ nữ xã Thái Bình" || u.Place != "02545" {
			t.Errorf("updated unit: got %+v, want the new name and place 02545", u)
		}
		if got := matchIDs(tx.SearchUnits("hoi lien hiep phu nu", 10)); !slices.Equal(got, []uint64{u.ID}) {
			t.Errorf("search for the new name: got %v, want [%d]", got, u.ID)
		}
		if got := tx.UnitCount(); got != 5 {
			t.Errorf("got %d units, want 5", got)
		}
		if got := tx.bucket(bucketVillages).Stats().KeyN; got != 1 {
			t.Errorf("got %d villages, want 1", got)
		}
	})

	// A file may hang new units under units already in the store, and
	// move a unit to the top level.
	more := []ImportRow{
		{Line: 2, Code: "02494-NONGDAN", Name: "Hội Nông dân xã Thái Bình", Kind: KindNongDan, ParentCode: "02494-MTTQ"},
		{Line: 3, Code: "02494-PHUNU", Name: "Hội Liên hiệp Phụ nữ xã Thái Bình", Kind: KindPhuNu, Place: "02494"},
	}
	if got, want := importRows(t, s, more), (ImportSummary{Created: 1, Updated: 1}); got != want {
		t.Errorf("import under stored units: got %+v, want %+v", got, want)
	}
	mustView(t, s, func(tx *Tx) {
		commune, _ := tx.UnitByCode("02494-MTTQ")
		nongDan, _ := tx.UnitByCode("02494-NONGDAN")
		phuNu, _ := tx.UnitByCode("02494-PHUNU")
		if nongDan.Parent != commune.ID || nongDan.Place != "02545" {
			t.Errorf("new unit under a stored one: got parent %d, place %q, want %d, 02545", nongDan.Parent, nongDan.Place, commune.ID)
		}
		if phuNu.Parent != 0 {
			t.Errorf("unit moved to the top level: got parent %d, want 0", phuNu.Parent)
		}
	})
}

func TestImportUnitsProblems(t *testing.T) {
	row := func(line int, code, name, kind, parent string) ImportRow {
		return ImportRow{Line: line, Code: code, Name: name, Kind: kind, ParentCode: parent}
	}
	tests := []struct {
		name   string
		stored []ImportRow // imported first, successfully
		rows   []ImportRow
		want   []ImportProblem
	}{
		{
			name: "missing code",
			rows: []ImportRow{row(2, "A", "Tên", KindMTTQ, ""), row(3, "", "Tên", KindMTTQ, "A")},
			want: []ImportProblem{{Line: 3, Problem: "missing_code"}},
		},
		{
			name: "missing name",
			rows: []ImportRow{row(2, "A", "", KindMTTQ, "")},
			want: []ImportProblem{{Line: 2, Problem: "missing_name", Value: "A"}},
		},
		{
			name: "bad kind",
			rows: []ImportRow{row(2, "A", "Tên", "hoiphu", "")},
			want: []ImportProblem{{Line: 2, Problem: "bad_kind", Value: "hoiphu"}},
		},
		{
			name: "missing name and bad kind on one line",
			rows: []ImportRow{row(2, "A", "", "", "")},
			want: []ImportProblem{{Line: 2, Problem: "missing_name", Value: "A"}, {Line: 2, Problem: "bad_kind", Value: ""}},
		},
		{
			name: "duplicate code in another case",
			rows: []ImportRow{row(2, "A-1", "Một", KindMTTQ, ""), row(3, "B", "Hai", KindMTTQ, ""), row(4, "a-1", "Ba", KindMTTQ, "")},
			want: []ImportProblem{{Line: 4, Problem: "duplicate_code", Value: "a-1", Other: 2}},
		},
		{
			name: "unknown parent",
			rows: []ImportRow{row(2, "A", "Tên", KindMTTQ, "99-MTTQ")},
			want: []ImportProblem{{Line: 2, Problem: "unknown_parent", Value: "99-MTTQ"}},
		},
		{
			name: "under itself",
			rows: []ImportRow{row(2, "A", "Tên", KindMTTQ, "a")},
			want: []ImportProblem{{Line: 2, Problem: "cycle", Value: "A"}},
		},
		{
			name: "a loop of three, and a unit hanging below it",
			rows: []ImportRow{
				row(2, "A", "Một", KindMTTQ, "C"), row(3, "B", "Hai", KindMTTQ, "A"),
				row(4, "C", "Ba", KindMTTQ, "B"), row(5, "D", "Bốn", KindMTTQ, "C"),
			},
			want: []ImportProblem{{Line: 2, Problem: "cycle", Value: "A"}, {Line: 3, Problem: "cycle", Value: "B"}, {Line: 4, Problem: "cycle", Value: "C"}},
		},
		{
			name:   "under its own descendant in the store",
			stored: []ImportRow{row(2, "TOP", "Trên", KindMTTQ, ""), row(3, "MID", "Giữa", KindMTTQ, "TOP"), row(4, "LOW", "Dưới", KindMTTQ, "MID")},
			rows:   []ImportRow{row(2, "NEW", "Mới", KindMTTQ, "TOP"), row(3, "TOP", "Trên", KindMTTQ, "LOW")},
			want:   []ImportProblem{{Line: 3, Problem: "cycle", Value: "TOP"}},
		},
		{
			name: "every problem with its line",
			rows: []ImportRow{
				row(2, "A", "Một", KindMTTQ, ""),
				row(3, "", "", "", ""),
				row(4, "B", "", KindPhuNu, "A"),
				row(5, "C", "Ba", "phu nu", "A"),
				row(6, "a", "Bốn", KindMTTQ, ""),
				row(7, "E", "Năm", KindCCB, "ZZ"),
				row(8, "F", "Sáu", KindCCB, "G"),
				row(9, "G", "Bảy", KindCCB, "F"),
			},
			want: []ImportProblem{
				{Line: 3, Problem: "missing_code"},
				{Line: 4, Problem: "missing_name", Value: "B"},
				{Line: 5, Problem: "bad_kind", Value: "phu nu"},
				{Line: 6, Problem: "duplicate_code", Value: "a", Other: 2},
				{Line: 7, Problem: "unknown_parent", Value: "ZZ"},
				{Line: 8, Problem: "cycle", Value: "F"},
				{Line: 9, Problem: "cycle", Value: "G"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if tt.stored != nil {
				importRows(t, s, tt.stored)
			}
			var got []ImportProblem
			var sum ImportSummary
			err := s.Update(ctx, func(tx *Tx) error {
				var err error
				sum, got, err = tx.ImportUnits(tt.rows, unitTime)
				return err
			})
			if !errors.Is(err, ErrImport) {
				t.Fatalf("ImportUnits: got %v, want ErrImport", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\ngot  %+v\nwant %+v", got, tt.want)
			}
			if sum != (ImportSummary{}) {
				t.Errorf("summary of a refused import: got %+v, want zero", sum)
			}
			mustView(t, s, func(tx *Tx) {
				if got, want := tx.UnitCount(), len(tt.stored); got != want {
					t.Errorf("got %d units after a refused import, want %d", got, want)
				}
				if top, err := tx.UnitByCode("TOP"); err == nil && top.Parent != 0 {
					t.Errorf("TOP moved under %d", top.Parent)
				}
			})
		})
	}
}

func TestImportUnitsRefusalWritesNothing(t *testing.T) {
	// Even a caller that commits after ErrImport finds nothing written:
	// the lines are checked before anything is.
	s := open(t)
	rows := []ImportRow{
		{Line: 2, Code: "A", Name: "Một", Kind: KindMTTQ, Place: "02494/Thôn Mới"},
		{Line: 3, Code: "B", Name: "Hai", Kind: "x", ParentCode: "A"},
	}
	var err error
	mustUpdate(t, s, func(tx *Tx) error { _, _, err = tx.ImportUnits(rows, unitTime); return nil })
	if !errors.Is(err, ErrImport) {
		t.Fatalf("ImportUnits: got %v, want ErrImport", err)
	}
	mustView(t, s, func(tx *Tx) {
		if n := tx.UnitCount(); n != 0 {
			t.Errorf("got %d units, want 0", n)
		}
		if n := tx.bucket(bucketVillages).Stats().KeyN; n != 0 {
			t.Errorf("got %d villages, want 0", n)
		}
		if k, _ := tx.bucket(bucketUnitCodes).Cursor().First(); k != nil {
			t.Errorf("code index holds %q, want nothing", k)
		}
	})
}
