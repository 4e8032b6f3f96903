package names

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The ranks [Match] returns, from no match to the best one. Callers sort by
// rank, highest first; the values are ordered but otherwise carry no meaning.
const (
	// RankNone means the name does not match the query.
	RankNone = iota
	// RankAllWords means the query has several words, the query as a whole
	// does not occur in the name, but every query word occurs somewhere in
	// it, in any order.
	RankAllWords
	// RankSubstring means the query occurs in the name, but only inside a
	// word: "binh" in "hoa binh" is a word prefix, "inh" is a substring.
	RankSubstring
	// RankWordPrefix means the query occurs in the name starting at the
	// beginning of a word other than the first.
	RankWordPrefix
	// RankPrefix means the name starts with the query.
	RankPrefix
	// RankExact means the name equals the query.
	RankExact
)

// Match ranks how well foldedName matches foldedQuery; both must already be
// [Fold] keys. It returns [RankNone] (0) when they do not match and a higher
// rank for a better match:
//
//   - [RankExact]: the name equals the query;
//   - [RankPrefix]: the name starts with the query ("thai" in "thai binh");
//   - [RankWordPrefix]: the query occurs at the start of a later word, a word
//     starting after a space or any other rune that is not a letter or digit
//     ("binh" in "thai binh", "lhpn" in "hoi (lhpn)");
//   - [RankSubstring]: the query occurs anywhere else ("hai b" in "thai binh");
//   - [RankAllWords]: the query has several words and each of them occurs
//     somewhere in the name as a substring, in any order ("binh thai" and
//     "thai xa" both match "xa thai binh"); one part of the name may satisfy
//     several query words.
//
// The best rule that applies wins. An empty query matches nothing.
// Abbreviations are not expanded: "phu nu thai binh" does not match
// "hoi lhpn xa thai binh", because "phu" and "nu" do not occur in it.
func Match(foldedName, foldedQuery string) int {
	if foldedQuery == "" || foldedName == "" {
		return RankNone
	}
	if foldedName == foldedQuery {
		return RankExact
	}
	if strings.HasPrefix(foldedName, foldedQuery) {
		return RankPrefix
	}
	rank := RankNone
	for from := 1; from < len(foldedName); {
		i := strings.Index(foldedName[from:], foldedQuery)
		if i < 0 {
			break
		}
		i += from
		if startsWord(foldedName, i) {
			return RankWordPrefix
		}
		rank = RankSubstring
		// Keep looking: a later occurrence may start a word.
		_, size := utf8.DecodeRuneInString(foldedName[i:])
		from = i + size
	}
	if rank != RankNone || !strings.Contains(foldedQuery, " ") {
		return rank
	}
	for word := range strings.SplitSeq(foldedQuery, " ") {
		if !strings.Contains(foldedName, word) {
			return RankNone
		}
	}
	return RankAllWords
}

// startsWord reports whether a word of s starts at byte offset i: the rune
// before it is not a letter or digit.
func startsWord(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}
