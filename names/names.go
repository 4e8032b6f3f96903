// Package names normalizes and matches the Vietnamese names danvan stores and
// searches: organizations, communes, villages and people.
//
// Text goes through [Clean] when it enters danvan, so that what is stored is
// valid, NFC-normalized and free of stray whitespace. Searches compare
// [Fold] keys, which ignore case, tone marks and other diacritics, so
// "tuyen quang", "TUYÊN QUANG" and a decomposed "Tuye\u0302n Quang" find the
// same place; [Match] ranks one folded name against one folded query.
package names

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Clean returns s as danvan stores it: whitespace runs (spaces, tabs,
// newlines, no-break spaces and the other Unicode spaces) collapsed to one
// ASCII space, leading and trailing whitespace removed, control characters
// and the invisible zero-width space and byte-order mark removed, and the
// result in Unicode NFC. Invalid UTF-8 bytes become U+FFFD, so the result is
// always valid UTF-8.
//
// Invisible characters are removed before normalizing, so a combining mark
// separated from its letter only by such a character still composes with it.
func Clean(s string) string {
	w := newCollapser(len(s))
	for _, r := range s {
		w.add(r)
	}
	return norm.NFC.String(w.String())
}

// Fold returns the search key of s: the text lower-cased, with every
// diacritic and tone mark removed and đ/Đ written as d, whitespace collapsed
// and invisible characters removed as in [Clean]. Input in NFC or NFD folds
// to the same key, so Fold("Tuyên Quang") and Fold("Tuye\u0302n Quang") are
// both "tuyen quang".
//
// The key is meant for comparison, not display: it loses what tells "Thái"
// from "Thải".
func Fold(s string) string {
	w := newCollapser(len(s))
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			w.add(unicode.ToLower(rune(c)))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		// The canonical decomposition (NFD) splits a precomposed letter into
		// its base letter and combining marks (category Mn), which are
		// dropped. Decomposing rune by rune gives the same letters as
		// decomposing the whole string: NFD only reorders marks, and every
		// mark is dropped anyway.
		if d := norm.NFD.PropertiesString(s[i : i+size]).Decomposition(); d != nil {
			for _, dr := range string(d) {
				w.add(foldRune(dr))
			}
		} else {
			w.add(foldRune(r))
		}
		i += size
	}
	return w.String()
}

// foldRune returns r as it appears in a search key, or -1 to drop it.
func foldRune(r rune) rune {
	switch {
	case r == 'đ' || r == 'Đ':
		// Đ is a letter of its own in Unicode, not D with a mark, so it
		// does not decompose.
		return 'd'
	case unicode.Is(unicode.Mn, r):
		return -1
	}
	return unicode.ToLower(r)
}

// A collapser builds a string with whitespace runs collapsed to one space,
// leading and trailing whitespace trimmed and invisible characters dropped.
type collapser struct {
	strings.Builder
	pendingSpace bool
}

func newCollapser(size int) *collapser {
	w := &collapser{}
	w.Grow(size)
	return w
}

// add appends r; a negative r is dropped.
func (w *collapser) add(r rune) {
	switch {
	case r < 0:
		return
	case unicode.IsSpace(r):
		w.pendingSpace = w.Len() > 0
		return
	case unicode.IsControl(r), r == '\u200b', r == '\ufeff':
		return
	}
	if w.pendingSpace {
		w.WriteByte(' ')
		w.pendingSpace = false
	}
	w.WriteRune(r)
}
