package places

import (
	"encoding/csv"
	"os"
	"strings"
	"testing"

	"danvan/names"
)

// TestSampleUnits checks samples/units-tuyenquang.csv, the tree that
// `danvan import-units` is demonstrated with, against the official directory.
func TestSampleUnits(t *testing.T) {
	const (
		path     = "../samples/units-tuyenquang.csv"
		header   = "ma,ten,loai,ma_cap_tren,dia_ban"
		province = "08"
	)
	kinds := map[string]bool{
		"mttq": true, "phunu": true, "nongdan": true, "doanthanhnien": true, "ccb": true,
		"congdoan": true, "chibo": true, "bandanvan": true, "khac": true,
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open sample: %v", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	records, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	if len(records) < 2 {
		t.Fatalf("got %d rows, want a header and units", len(records))
	}
	if got := strings.Join(records[0], ","); got != header {
		t.Fatalf("got header %q, want %q", got, header)
	}

	type unit struct{ code, name, kind, parent, place string }
	var units []unit
	byCode := map[string]unit{}
	for _, rec := range records[1:] {
		u := unit{rec[0], rec[1], rec[2], rec[3], rec[4]}
		for _, field := range rec {
			if names.Clean(field) != field {
				t.Errorf("unit %q: field %q is not clean, want %q", u.code, field, names.Clean(field))
			}
		}
		if u.code == "" || u.name == "" {
			t.Errorf("got unit %+v, want a code and a name", u)
		}
		if _, dup := byCode[u.code]; dup {
			t.Errorf("code %q appears twice, want codes unique", u.code)
		}
		byCode[u.code] = u
		units = append(units, u)
		if !kinds[u.kind] {
			t.Errorf("unit %q: got kind %q, want one of %v", u.code, u.kind, kinds)
		}
	}

	d := Default()
	inProvince := func(code string) bool {
		p, ok := d.Lookup(code)
		for ok && p.Parent != "" {
			p, ok = d.Lookup(p.Parent)
		}
		return ok && p.Code == province
	}
	// place returns the unit's own place or, when empty, the one it inherits.
	place := func(u unit) string {
		for seen := 0; u.place == "" && u.parent != "" && seen < len(units); seen++ {
			u = byCode[u.parent]
		}
		return u.place
	}
	communes := map[string]bool{}
	for _, u := range units {
		if u.parent != "" {
			if _, ok := byCode[u.parent]; !ok {
				t.Errorf("unit %q: parent %q is not in the file", u.code, u.parent)
			}
		}
		if u.place == "" {
			if u.parent == "" {
				t.Errorf("unit %q: got no place and no parent to inherit one from", u.code)
			}
			continue
		}
		code, village, isVillage := strings.Cut(u.place, "/")
		if !inProvince(code) {
			t.Errorf("unit %q: place %q is not an official code in Tuyên Quang", u.code, code)
		}
		if !isVillage {
			if p, _ := d.Lookup(code); p.Parent == province {
				communes[code] = true
			}
			continue
		}
		if village == "" {
			t.Errorf("unit %q: place %q has no village name", u.code, u.place)
		}
		if p, _ := d.Lookup(code); p.Parent != province {
			t.Errorf("unit %q: village %q is not in a commune of Tuyên Quang", u.code, u.place)
		}
		if got := place(byCode[u.parent]); got != code {
			t.Errorf("unit %q: village in %q but its parent is in %q, want the same commune", u.code, code, got)
		}
	}
	if len(communes) != 12 {
		t.Errorf("got %d communes with a Front committee, want 12", len(communes))
	}
	for _, top := range []string{"08-BDV", "08-MTTQ"} {
		if u, ok := byCode[top]; !ok || u.parent != "" || u.place != province {
			t.Errorf("got %s = %+v, want a top-level unit in %s", top, u, province)
		}
	}
}
