package store

import (
	"errors"
	"slices"
	"strings"
	"time"

	"danvan/names"
)

// ImportRow is one line of a unit file: create the unit, or update the one
// with this code.
type ImportRow struct {
	Line       int
	Code       string
	Name       string
	Kind       string
	ParentCode string
	// Place is an official code, a village ("02290/Thôn 3", created if
	// new), or "" for the parent's place. The caller has checked that the
	// codes exist in the directory.
	Place string
	// KeepParent and KeepPlace are set when the file has no such column:
	// an existing unit keeps its parent or place.
	KeepParent, KeepPlace bool
}

// ImportProblem is what is wrong with a line: Problem is one of
// "missing_code", "missing_name", "bad_kind", "duplicate_code" (Other is
// the first line with the code), "unknown_parent", "cycle"; Value is what
// the line said.
type ImportProblem struct {
	Line    int
	Problem string
	Value   string
	Other   int
}

// ImportSummary counts what an import did.
type ImportSummary struct{ Created, Updated, Unchanged int }

// ErrImport is returned (with the problems) when a file has bad lines;
// nothing of it is written.
var ErrImport = errors.New("the file has problems")

// ImportUnits creates or updates units by code, in one transaction: a
// child may come before its parent in the file, and importing the same
// file twice changes nothing the second time. If any line is bad it
// returns every problem and ErrImport, and the caller must not commit.
func (tx *Tx) ImportUnits(rows []ImportRow, at time.Time) (ImportSummary, []ImportProblem, error) {
	var problems []ImportProblem
	report := func(line int, problem, value string) {
		problems = append(problems, ImportProblem{Line: line, Problem: problem, Value: value})
	}
	byCode := make(map[string]ImportRow, len(rows))
	for _, r := range rows {
		if r.Code == "" {
			report(r.Line, "missing_code", "")
			continue
		}
		// Both can be wrong on one line: report each.
		if r.Name == "" {
			report(r.Line, "missing_name", r.Code)
		}
		if !ValidUnitKind(r.Kind) {
			report(r.Line, "bad_kind", r.Kind)
		}
		key := string(codeKey(r.Code))
		if first, dup := byCode[key]; dup {
			problems = append(problems, ImportProblem{Line: r.Line, Problem: "duplicate_code", Value: r.Code, Other: first.Line})
			continue
		}
		byCode[key] = r
	}
	for _, r := range rows {
		if r.ParentCode == "" {
			continue
		}
		if _, inFile := byCode[string(codeKey(r.ParentCode))]; inFile {
			continue
		}
		if _, err := tx.UnitByCode(r.ParentCode); err != nil {
			report(r.Line, "unknown_parent", r.ParentCode)
		}
	}
	// Every parent chain must end at a top-level unit once the file is
	// applied: follow the file's parents and, for units it does not list,
	// the store's, so that moving a unit under one of its own descendants
	// is a problem of its line, not an error half-way through the writes.
	// Only the units on a loop are reported: one that merely hangs below a
	// loop is not under itself.
	parentOf := func(code string) string {
		if r, ok := byCode[string(codeKey(code))]; ok {
			return r.ParentCode
		}
		u, err := tx.UnitByCode(code)
		if err != nil || u.Parent == 0 {
			return ""
		}
		p, err := tx.Unit(u.Parent)
		if err != nil {
			return ""
		}
		return p.Code
	}
	for _, r := range rows {
		own := string(codeKey(r.Code))
		if r.Code == "" || r.ParentCode == "" || byCode[own] != r {
			continue // no code, top level, or a duplicate (already reported)
		}
		seen := map[string]bool{own: true}
		for code := r.ParentCode; code != ""; code = parentOf(code) {
			key := string(codeKey(code))
			if key == own {
				report(r.Line, "cycle", r.Code)
				break
			}
			if seen[key] {
				break // a loop above this unit, reported on its own lines
			}
			seen[key] = true
		}
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b ImportProblem) int { return a.Line - b.Line })
		return ImportSummary{}, problems, ErrImport
	}

	// Parents first: repeatedly take the rows whose parent is settled.
	var sum ImportSummary
	done := map[string]bool{}
	for len(done) < len(byCode) {
		progress := false
		for _, r := range rows {
			key := string(codeKey(r.Code))
			if done[key] {
				continue
			}
			if pk := string(codeKey(r.ParentCode)); r.ParentCode != "" && !done[pk] {
				if _, inFile := byCode[pk]; inFile {
					continue
				}
			}
			if err := tx.importRow(r, at, &sum); err != nil {
				return sum, nil, err
			}
			done[key], progress = true, true
		}
		if !progress {
			return sum, nil, errors.New("import: parents could not be ordered")
		}
	}
	return sum, nil, nil
}

func (tx *Tx) importRow(r ImportRow, at time.Time, sum *ImportSummary) error {
	want := Unit{Code: r.Code, Name: names.Clean(r.Name), Kind: r.Kind, Created: at}
	if r.ParentCode != "" {
		p, err := tx.UnitByCode(r.ParentCode)
		if err != nil {
			return err
		}
		want.Parent, want.Place = p.ID, p.Place
	}
	if r.Place != "" {
		want.Place = r.Place
		if commune, village, ok := strings.Cut(r.Place, "/"); ok {
			v, err := tx.EnsureVillage(commune, village, at)
			if err != nil {
				return err
			}
			want.Place = v.Code
		}
	}
	old, err := tx.UnitByCode(r.Code)
	switch {
	case errors.Is(err, ErrNotFound):
		sum.Created++
		_, err := tx.AddUnit(want)
		return err
	case err != nil:
		return err
	}
	if r.KeepParent {
		want.Parent = old.Parent
	}
	if r.KeepPlace {
		want.Place = old.Place
	}
	if old.Name == want.Name && old.Kind == want.Kind && old.Parent == want.Parent && old.Place == want.Place {
		sum.Unchanged++
		return nil
	}
	sum.Updated++
	want.ID = old.ID
	return tx.UpdateUnit(want)
}
