// Package places is the official directory of Vietnam's administrative
// units after the 1 July 2025 reorganization: 34 provinces and centrally run
// cities, and their communes, wards and special zones (two tiers, no
// districts).
//
// The data is vn-admin-units-2026.csv, embedded in the binary; see
// DATA-LICENSE.md for where it comes from. The package never assumes how many
// levels there are: a place's parent is whatever the file says, and a place
// with no parent is a province.
package places

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"danvan/names"
)

// adminUnitsCSV is the official list; it is never written to.
//
//go:embed vn-admin-units-2026.csv
var adminUnitsCSV string

// header is the exact first line of the data file: code, full name, short
// name, kind and parent code.
const header = "ma,ten_day_du,ten,loai_hanh_chinh,ma_tinh"

// A Place is one administrative unit.
type Place struct {
	// Code is the official code: two digits for a province, five for a
	// commune, ward or special zone.
	Code string
	// Name is the full official name, such as "Xã Thái Bình".
	Name string
	// Short is the name without its kind, such as "Thái Bình".
	Short string
	// Kind is the kind of unit: "Tỉnh", "Thành phố", "Xã", "Phường" or
	// "Đặc khu".
	Kind string
	// Parent is the code of the unit this one belongs to, the province for
	// a commune, or "" for a province.
	Parent string
}

// A Directory holds every place of the data file. It is immutable once
// loaded, so one Directory can be shared by any number of goroutines.
type Directory struct {
	places   []Place          // in file order
	byCode   map[string]int   // code → index in places
	children map[string][]int // parent code → indexes, in file order
	root     []string         // index → code of the place's province
	depth    []int            // index → number of ancestors, 0 for a province
	short    []string         // index → names.Fold(Short)
	full     []string         // index → names.Fold(Name)
}

// Load parses the embedded data file into a new Directory; most callers want
// the shared [Default] instead. It fails if the file is malformed: a wrong
// header or field count, an empty code, name or kind, a duplicate code, or a
// parent code that is missing or leads back to the place itself.
func Load() (*Directory, error) {
	return parse(strings.NewReader(adminUnitsCSV))
}

// defaultDirectory loads the embedded data once, on first use.
var defaultDirectory = sync.OnceValue(func() *Directory {
	return mustParse(strings.NewReader(adminUnitsCSV))
})

// Default returns the directory of the embedded data, loaded on the first
// call and shared afterwards. It panics if the embedded file is malformed,
// which is a build error that the package's tests catch.
func Default() *Directory {
	return defaultDirectory()
}

// mustParse is parse for data built into the binary, where an error is a
// build error rather than something a caller can handle.
func mustParse(r io.Reader) *Directory {
	d, err := parse(r)
	if err != nil {
		panic(fmt.Sprintf("places: embedded data is broken: %v", err))
	}
	return d
}

// parse reads a directory in the format of the embedded file; tests feed it
// broken files.
func parse(r io.Reader) (*Directory, error) {
	cr := csv.NewReader(r)
	columns := strings.Split(header, ",")
	cr.FieldsPerRecord = len(columns)
	first, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read places header: %w", err)
	}
	if got := strings.Join(first, ","); got != header {
		return nil, fmt.Errorf("read places header: got %q, want %q", got, header)
	}
	d := &Directory{
		byCode:   make(map[string]int),
		children: make(map[string][]int),
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read places: %w", err)
		}
		line, _ := cr.FieldPos(0)
		p := Place{Code: rec[0], Name: rec[1], Short: rec[2], Kind: rec[3], Parent: rec[4]}
		for i, field := range rec[:4] {
			if field == "" {
				return nil, fmt.Errorf("read places: line %d: empty %s", line, columns[i])
			}
		}
		if _, dup := d.byCode[p.Code]; dup {
			return nil, fmt.Errorf("read places: line %d: duplicate code %q", line, p.Code)
		}
		d.byCode[p.Code] = len(d.places)
		d.places = append(d.places, p)
	}
	if len(d.places) == 0 {
		return nil, errors.New("read places: no places")
	}
	d.root = make([]string, len(d.places))
	d.depth = make([]int, len(d.places))
	d.short = make([]string, len(d.places))
	d.full = make([]string, len(d.places))
	for i, p := range d.places {
		root, depth, err := d.findRoot(p)
		if err != nil {
			return nil, fmt.Errorf("read places: %w", err)
		}
		d.root[i], d.depth[i] = root, depth
		d.short[i] = names.Fold(p.Short)
		d.full[i] = names.Fold(p.Name)
		d.children[p.Parent] = append(d.children[p.Parent], i)
	}
	return d, nil
}

// findRoot returns the code of p's top-level ancestor and how many
// ancestors p has, or an error if a parent is missing or the chain loops.
func (d *Directory) findRoot(p Place) (string, int, error) {
	start := p.Code
	depth := 0
	for ; p.Parent != ""; depth++ {
		if depth == len(d.places) {
			return "", 0, fmt.Errorf("place %q: parent chain loops", start)
		}
		i, ok := d.byCode[p.Parent]
		if !ok {
			return "", 0, fmt.Errorf("place %q: unknown parent %q", p.Code, p.Parent)
		}
		p = d.places[i]
	}
	return p.Code, depth, nil
}

// Lookup returns the place with the given code and whether it exists.
func (d *Directory) Lookup(code string) (Place, bool) {
	i, ok := d.byCode[code]
	if !ok {
		return Place{}, false
	}
	return d.places[i], true
}

// Provinces returns the top-level places, the ones with no parent, in file
// order. The slice is the caller's to keep or change.
func (d *Directory) Provinces() []Place {
	return d.pick(d.children[""])
}

// Communes returns the places whose parent is provinceCode, in file order,
// or nil if there are none. The slice is the caller's to keep or change.
func (d *Directory) Communes(provinceCode string) []Place {
	if provinceCode == "" {
		return nil
	}
	return d.pick(d.children[provinceCode])
}

func (d *Directory) pick(indexes []int) []Place {
	if len(indexes) == 0 {
		return nil
	}
	out := make([]Place, len(indexes))
	for j, i := range indexes {
		out[j] = d.places[i]
	}
	return out
}

// Path returns the short names from the place up to its province, joined by
// " › ", such as "Thái Bình › Tuyên Quang" for a commune or "Tuyên Quang" for
// a province; "" if the code is unknown. It tells apart places that share a
// name.
func (d *Directory) Path(code string) string {
	var parts []string
	for code != "" {
		i, ok := d.byCode[code]
		if !ok {
			break
		}
		parts = append(parts, d.places[i].Short)
		code = d.places[i].Parent
	}
	return strings.Join(parts, " › ")
}
