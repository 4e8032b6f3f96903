package telegramtest

import (
	"strings"
	"unicode"
)

// Telegram's limits on message text, in UTF-16 code units after entity
// parsing.
const (
	maxTextLength    = 4096
	maxCaptionLength = 1024
	maxCallbackData  = 64
)

// utf16Units returns how many UTF-16 code units encode r.
func utf16Units(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// utf16Len returns the length of s in UTF-16 code units, the unit Telegram
// counts text lengths and entity offsets in.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16Units(r)
	}
	return n
}

// richText is a text as runes, with the UTF-16 offset of every rune, so
// entity offsets can be mapped to characters.
type richText struct {
	runes []rune
	// starts[i] is the UTF-16 offset of runes[i]; starts[len(runes)] is the
	// total length.
	starts []int
	// index maps a UTF-16 offset to the rune starting there, or -1 inside a
	// surrogate pair.
	index []int
}

func newRichText(runes []rune) richText {
	t := richText{runes: runes, starts: make([]int, len(runes)+1)}
	pos := 0
	for i, r := range runes {
		t.starts[i] = pos
		pos += utf16Units(r)
	}
	t.starts[len(runes)] = pos
	t.index = make([]int, pos+1)
	for i := range t.index {
		t.index[i] = -1
	}
	for i, p := range t.starts {
		t.index[p] = i
	}
	return t
}

func (t richText) len16() int { return t.starts[len(t.runes)] }

// runeAt returns the rune starting at UTF-16 offset p.
func (t richText) runeAt(p int) (rune, bool) {
	if p < 0 || p >= len(t.index) {
		return 0, false
	}
	i := t.index[p]
	if i < 0 || i >= len(t.runes) {
		return 0, false
	}
	return t.runes[i], true
}

func isTrimSpace(r rune) bool { return r == ' ' || r == '\n' }

// hiddenDataEntity reports whether an entity carries data beyond its text
// (a link, a user, an emoji), so Telegram keeps it even over whitespace.
func hiddenDataEntity(t string) bool {
	return t == "text_link" || t == "text_mention" || t == "custom_emoji"
}

func splittableEntity(t string) bool {
	switch t {
	case "bold", "italic", "underline", "strikethrough", "spoiler":
		return true
	}
	return false
}

// normalizeText applies what Telegram does to every message text after
// entity parsing (tdlib's fix_formatted_text): control characters become
// spaces, "\r" and a few invisible characters disappear, entities over
// whitespace only are dropped, leading and trailing spaces and newlines are
// trimmed, touching entities of one kind are merged, and bot commands,
// mentions, hashtags and URLs are detected. empty reports a text with
// nothing but whitespace.
func normalizeText(text string, ents []Entity) (out string, entities []Entity, empty bool) {
	// Clean characters, mapping old UTF-16 offsets to new ones.
	src := []rune(text)
	oldLen := 0
	for _, r := range src {
		oldLen += utf16Units(r)
	}
	mapping := make([]int, oldLen+1)
	cleaned := make([]rune, 0, len(src))
	oldPos, newPos := 0, 0
	for _, r := range src {
		w := utf16Units(r)
		for k := range w {
			mapping[oldPos+k] = newPos
		}
		oldPos += w
		switch {
		case r == '\r', r >= 0x2028 && r <= 0x202e, r == 0x0333, r == 0x033f, r == 0x030a:
			// Dropped.
		case r < 32 && r != '\n':
			cleaned = append(cleaned, ' ')
			newPos++
		default:
			cleaned = append(cleaned, r)
			newPos += w
		}
	}
	mapping[oldLen] = newPos
	var kept []Entity
	for _, e := range ents {
		start, end := mapping[e.Offset], mapping[e.Offset+e.Length]
		if end > start {
			e.Offset, e.Length = start, end-start
			kept = append(kept, e)
		}
	}

	t := newRichText(cleaned)
	nonSpace := -1 // UTF-16 offset of the last non-whitespace character
	for i, r := range t.runes {
		if !isTrimSpace(r) {
			nonSpace = t.starts[i]
		}
	}
	if nonSpace < 0 {
		return "", nil, true
	}

	// Entities start after leading whitespace and need some text.
	ents = kept[:0]
	for _, e := range kept {
		if !hiddenDataEntity(e.Type) {
			for e.Length > 0 {
				r, ok := t.runeAt(e.Offset)
				if !ok || !isTrimSpace(r) {
					break
				}
				e.Offset++
				e.Length--
			}
			if !hasNonSpace(t, e.Offset, e.Offset+e.Length) {
				continue
			}
		}
		ents = append(ents, e)
	}

	// Trim trailing whitespace.
	last, _ := t.runeAt(nonSpace)
	end := nonSpace + utf16Units(last)
	kept = ents[:0]
	for _, e := range ents {
		if e.Offset >= end {
			continue
		}
		e.Length = min(e.Length, end-e.Offset)
		kept = append(kept, e)
	}
	ents = kept

	// Trim leading whitespace, up to the first entity.
	first := end
	for _, e := range ents {
		first = min(first, e.Offset)
	}
	lead := 0
	for lead < first {
		r, _ := t.runeAt(lead)
		if !isTrimSpace(r) {
			break
		}
		lead++
	}
	for i := range ents {
		ents[i].Offset -= lead
	}
	final := newRichText(t.runes[t.index[lead]:t.index[end]])

	ents = mergeSplittable(ents)
	ents = append(ents, findEntities(final, ents)...)
	sortEntities(ents)
	if len(ents) == 0 {
		ents = nil
	}
	return string(final.runes), ents, false
}

func hasNonSpace(t richText, from, to int) bool {
	for p := from; p < to; p++ {
		if r, ok := t.runeAt(p); ok && !isTrimSpace(r) {
			return true
		}
	}
	return false
}

// mergeSplittable merges overlapping or touching entities of the same
// splittable kind (bold, italic…), as Telegram does: "<b>a</b><b>b</b>"
// comes back as one bold entity.
func mergeSplittable(ents []Entity) []Entity {
	sortEntities(ents)
	var out []Entity
	open := map[string]int{} // type → index in out of the last entity
	for _, e := range ents {
		if splittableEntity(e.Type) {
			if i, ok := open[e.Type]; ok && e.Offset <= out[i].Offset+out[i].Length {
				out[i].Length = max(out[i].Length, e.Offset+e.Length-out[i].Offset)
				continue
			}
			open[e.Type] = len(out)
		}
		out = append(out, e)
	}
	return out
}

// findEntities detects the entities Telegram adds to any text on its own:
// URLs starting with http:// or https://, bot commands, mentions and
// hashtags. Found entities never overlap each other nor the existing
// entities other than formatting ones (a URL inside <code> stays code).
func findEntities(t richText, existing []Entity) []Entity {
	var found []Entity
	free := func(from, to int) bool {
		for _, e := range existing {
			if splittableEntity(e.Type) || e.Type == "blockquote" || e.Type == "expandable_blockquote" {
				continue
			}
			if from < e.Offset+e.Length && e.Offset < to {
				return false
			}
		}
		for _, e := range found {
			if from < e.Offset+e.Length && e.Offset < to {
				return false
			}
		}
		return true
	}
	add := func(typ string, i, j int) {
		from, to := t.starts[i], t.starts[j]
		if free(from, to) {
			found = append(found, Entity{Type: typ, Offset: from, Length: to - from})
		}
	}
	rs := t.runes
	n := len(rs)
	prev := func(i int) rune {
		if i == 0 {
			return 0
		}
		return rs[i-1]
	}
	next := func(j int) rune {
		if j >= n {
			return 0
		}
		return rs[j]
	}

	for i := 0; i < n; i++ {
		if j := matchURL(rs, i); j > i && !isWordChar(prev(i)) {
			add("url", i, j)
			i = j - 1
		}
	}
	for i := 0; i < n; i++ {
		switch rs[i] {
		case '/':
			if p := prev(i); isWordChar(p) || p == '/' || p == '<' || p == '>' {
				continue
			}
			j := i + 1
			for j < n && isCommandChar(rs[j]) {
				j++
			}
			if size := j - i - 1; size < 1 || size > 64 {
				continue
			}
			if j < n && rs[j] == '@' {
				k := j + 1
				for k < n && isCommandChar(rs[k]) {
					k++
				}
				if size := k - j - 1; size < 3 || size > 32 {
					continue
				}
				j = k
			}
			if nx := next(j); isWordChar(nx) || nx == '/' || nx == '<' || nx == '>' {
				continue
			}
			add("bot_command", i, j)
		case '@':
			if isWordChar(prev(i)) {
				continue
			}
			j := i + 1
			for j < n && isCommandChar(rs[j]) {
				j++
			}
			if size := j - i - 1; size < 5 || size > 32 || isWordChar(next(j)) {
				continue
			}
			add("mention", i, j)
		case '#':
			if isHashtagChar(prev(i)) {
				continue
			}
			j, letter := i+1, false
			for j < n && isHashtagChar(rs[j]) && j-i-1 < 256 {
				letter = letter || unicode.IsLetter(rs[j])
				j++
			}
			if j == i+1 || !letter || next(j) == '#' {
				continue
			}
			add("hashtag", i, j)
		}
	}
	return found
}

// matchURL returns the end of an http(s) URL starting at rs[i], or i.
func matchURL(rs []rune, i int) int {
	rest := strings.ToLower(string(rs[i:min(len(rs), i+8)]))
	var scheme int
	switch {
	case strings.HasPrefix(rest, "https://"):
		scheme = 8
	case strings.HasPrefix(rest, "http://"):
		scheme = 7
	default:
		return i
	}
	j := i + scheme
	for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '<' && rs[j] != '>' && rs[j] != '"' {
		j++
	}
	// Trailing punctuation belongs to the sentence, not to the URL.
	for j > i+scheme && strings.ContainsRune(".,:;!?'", rs[j-1]) {
		j--
	}
	if j > i+scheme && rs[j-1] == ')' && !strings.ContainsRune(string(rs[i:j-1]), '(') {
		j--
	}
	if j == i+scheme || rs[i+scheme] == '/' || rs[i+scheme] == '.' {
		return i
	}
	return j
}

func isWordChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

func isCommandChar(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

func isHashtagChar(r rune) bool {
	return r == '_' || r == 0x200c || r == 0xb7 || (r >= 0xd80 && r <= 0xdff) ||
		unicode.IsLetter(r) || unicode.Is(unicode.Nd, r)
}
