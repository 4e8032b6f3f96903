package telegramtest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseHTML parses text in Telegram's HTML parse mode, returning the plain
// text and its entities (offsets in UTF-16 code units). It follows tdlib's
// parse_html, which the Bot API uses: the same tags, the same lenient
// handling of unknown "&" entities, and the same error messages, which the
// Bot API shows after "Bad Request: can't parse entities: ".
func parseHTML(text string) (string, []Entity, error) {
	at := func(i int) byte {
		if i < len(text) {
			return text[i]
		}
		return 0
	}
	type openTag struct {
		name     string
		argument string
		offset   int // UTF-16 offset in the plain text
		begin    int // byte offset in the plain text
	}
	var (
		out       strings.Builder
		entities  []Entity
		stack     []openTag
		utf16     int
		surrogate bool
	)
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '&' {
			if code, next, ok := decodeHTMLEntity(text, i); ok {
				if code >= 0xd800 && code <= 0xdfff {
					surrogate = true
				}
				out.WriteRune(code)
				utf16 += utf16Units(code)
				i = next - 1
				continue
			}
		}
		if c != '<' {
			if c&0xc0 != 0x80 {
				utf16++
				if c >= 0xf0 {
					utf16++
				}
			}
			out.WriteByte(c)
			continue
		}

		begin := i
		i++
		if at(i) != '/' {
			// A start tag.
			for !isHTMLSpace(at(i)) && at(i) != '>' {
				i++
			}
			if at(i) == 0 {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			name := strings.ToLower(text[begin+1 : i])
			if !supportedTag(name) {
				return "", nil, fmt.Errorf("Unsupported start tag %q at byte offset %d", name, begin)
			}
			argument := ""
			for at(i) != '>' {
				for at(i) != 0 && isHTMLSpace(at(i)) {
					i++
				}
				if at(i) == '>' {
					break
				}
				if at(i) == 0 {
					return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
				}
				attrBegin := i
				for !isHTMLSpace(at(i)) && at(i) != '=' && at(i) != '>' {
					i++
				}
				attr := text[attrBegin:i]
				if attr == "" {
					return "", nil, fmt.Errorf("Empty attribute name in the tag %q at byte offset %d", name, begin)
				}
				for at(i) != 0 && isHTMLSpace(at(i)) {
					i++
				}
				if at(i) != '=' {
					// An attribute without a value, as in <blockquote expandable>.
					if name == "blockquote" && attr == "expandable" {
						argument = "1"
					}
					continue
				}
				i++
				for at(i) != 0 && isHTMLSpace(at(i)) {
					i++
				}
				if at(i) == 0 {
					return "", nil, fmt.Errorf("Unclosed start tag %q at byte offset %d", name, begin)
				}
				var value string
				if q := at(i); q != '\'' && q != '"' {
					// A name token: letters, digits, periods and hyphens,
					// not case sensitive.
					tokenBegin := i
					for isASCIIAlnum(at(i)) || at(i) == '.' || at(i) == '-' {
						i++
					}
					value = strings.ToLower(text[tokenBegin:i])
					if !isHTMLSpace(at(i)) && at(i) != '>' {
						return "", nil, fmt.Errorf("Unexpected end of name token at byte offset %d", tokenBegin)
					}
				} else {
					// A string literal.
					i++
					var v strings.Builder
					for at(i) != q && at(i) != 0 {
						if at(i) == '&' {
							if code, next, ok := decodeHTMLEntity(text, i); ok {
								v.WriteRune(code)
								i = next
								continue
							}
						}
						v.WriteByte(at(i))
						i++
					}
					if at(i) == q {
						i++
					}
					value = v.String()
				}
				if at(i) == 0 {
					return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
				}
				switch {
				case name == "a" && attr == "href":
					argument = value
				case name == "code" && attr == "class" && strings.HasPrefix(value, "language-"):
					argument = value[len("language-"):]
				case name == "span" && attr == "class" && strings.HasPrefix(value, "tg-"):
					argument = value[len("tg-"):]
				case name == "tg-emoji" && attr == "emoji-id":
					argument = value
				case name == "blockquote" && attr == "expandable":
					argument = "1"
				}
			}
			if name == "span" && argument != "spoiler" {
				return "", nil, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
			}
			stack = append(stack, openTag{name: name, argument: argument, offset: utf16, begin: out.Len()})
			continue
		}

		// An end tag.
		if len(stack) == 0 {
			return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", begin)
		}
		for !isHTMLSpace(at(i)) && at(i) != '>' {
			i++
		}
		endName := strings.ToLower(text[begin+2 : i])
		for at(i) != 0 && isHTMLSpace(at(i)) {
			i++
		}
		if at(i) != '>' {
			return "", nil, fmt.Errorf("Unclosed end tag at byte offset %d", begin)
		}
		top := stack[len(stack)-1]
		if endName != "" && endName != top.name {
			return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.name, endName)
		}
		stack = stack[:len(stack)-1]
		if utf16 <= top.offset {
			continue // empty entities are dropped
		}
		e := Entity{Offset: top.offset, Length: utf16 - top.offset}
		last := func() *Entity {
			if len(entities) == 0 {
				return nil
			}
			return &entities[len(entities)-1]
		}
		switch top.name {
		case "i", "em":
			e.Type = "italic"
		case "b", "strong":
			e.Type = "bold"
		case "s", "strike", "del":
			e.Type = "strikethrough"
		case "u", "ins":
			e.Type = "underline"
		case "tg-spoiler", "span":
			e.Type = "spoiler"
		case "tg-emoji":
			id, err := strconv.ParseInt(top.argument, 10, 64)
			if err != nil || id == 0 {
				return "", nil, fmt.Errorf("Invalid custom emoji identifier specified")
			}
			e.Type = "custom_emoji"
			e.CustomEmojiID = top.argument
		case "a":
			url := top.argument
			if url == "" {
				url = out.String()[top.begin:]
			}
			if id, ok := linkUserID(url); ok {
				e.Type = "text_mention"
				e.UserID = id
			} else if checked := checkedLink(url); checked != "" {
				e.Type = "text_link"
				e.URL = checked
			} else {
				continue
			}
		case "pre":
			if l := last(); l != nil && l.Type == "code" && l.Offset == e.Offset && l.Length == e.Length && l.Language != "" {
				l.Type = "pre"
				continue
			}
			e.Type = "pre"
		case "code":
			if l := last(); l != nil && l.Type == "pre" && l.Offset == e.Offset && l.Length == e.Length && l.Language == "" && top.argument != "" {
				l.Language = top.argument
				continue
			}
			e.Type = "code"
			e.Language = top.argument
		case "blockquote":
			e.Type = "blockquote"
			if top.argument != "" {
				e.Type = "expandable_blockquote"
			}
		}
		entities = append(entities, e)
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag %q", stack[len(stack)-1].name)
	}
	for i := range entities {
		if entities[i].Type == "code" {
			entities[i].Language = ""
		}
	}
	if surrogate {
		return "", nil, fmt.Errorf("Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units")
	}
	sortEntities(entities)
	return out.String(), entities, nil
}

// supportedTag reports whether Telegram's HTML parse mode knows the tag.
func supportedTag(name string) bool {
	switch name {
	case "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
		"tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote":
		return true
	}
	return false
}

// decodeHTMLEntity decodes the character reference starting with the "&"
// at text[pos]: &lt; &gt; &amp; &quot; and numeric ones, the final ";"
// being optional. It returns the character and the position after the
// reference; ok is false for anything else, which stays literal text.
func decodeHTMLEntity(text string, pos int) (code rune, next int, ok bool) {
	at := func(i int) byte {
		if i < len(text) {
			return text[i]
		}
		return 0
	}
	end := pos + 1
	var res uint32
	if at(pos+1) == '#' {
		end++
		if at(pos+2) == 'x' {
			end++
			for isHexDigit(at(end)) {
				res = res*16 + uint32(hexValue(at(end)))
				end++
			}
		} else {
			for at(end) >= '0' && at(end) <= '9' {
				res = res*10 + uint32(at(end)-'0')
				end++
			}
		}
		if res == 0 || res >= 0x10ffff || end-pos >= 10 {
			return 0, 0, false
		}
	} else {
		for isASCIIAlpha(at(end)) {
			end++
		}
		switch text[pos+1 : end] {
		case "lt":
			res = '<'
		case "gt":
			res = '>'
		case "amp":
			res = '&'
		case "quot":
			res = '"'
		default:
			return 0, 0, false
		}
	}
	if at(end) == ';' {
		end++
	}
	return rune(res), end, true
}

// linkUserID recognises tg://user?id=N links, which become text mentions.
func linkUserID(url string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.ToLower(url), "tg://user?id=")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// checkedLink normalises a link target the way Telegram shows it in
// text_link entities ("telegram.org" becomes "http://telegram.org/"), or
// returns "" for a target Telegram would drop.
func checkedLink(url string) string {
	if url == "" || !utf8.ValidString(url) {
		return ""
	}
	for _, r := range url {
		if r <= ' ' || r == 0x7f {
			return ""
		}
	}
	scheme, rest, found := strings.Cut(url, "://")
	if !found {
		if l := strings.ToLower(url); strings.HasPrefix(l, "tg:") || strings.HasPrefix(l, "ton:") {
			return url
		}
		scheme, rest = "http", url
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "tg", "ton", "tonsite":
		return scheme + "://" + rest
	case "http", "https", "ftp":
	default:
		return ""
	}
	hostEnd := strings.IndexAny(rest, "/?#")
	host := rest
	if hostEnd >= 0 {
		host = rest[:hostEnd]
	}
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") {
		return ""
	}
	if hostEnd < 0 {
		rest += "/"
	} else if rest[hostEnd] != '/' {
		rest = rest[:hostEnd] + "/" + rest[hostEnd:]
	}
	return scheme + "://" + rest
}

// entityPriority orders entities that share an offset and a length, as
// tdlib does.
func entityPriority(t string) int {
	switch t {
	case "blockquote", "expandable_blockquote":
		return 0
	case "pre":
		return 11
	case "code":
		return 20
	case "text_link", "text_mention":
		return 49
	case "bold":
		return 90
	case "italic":
		return 91
	case "underline":
		return 92
	case "strikethrough":
		return 93
	case "spoiler":
		return 94
	case "custom_emoji":
		return 99
	}
	return 50
}

// sortEntities orders entities by offset, longer ones first, then by type
// priority, which is the order the Bot API returns them in.
func sortEntities(ents []Entity) {
	slices.SortStableFunc(ents, func(a, b Entity) int {
		if a.Offset != b.Offset {
			return a.Offset - b.Offset
		}
		if a.Length != b.Length {
			return b.Length - a.Length
		}
		return entityPriority(a.Type) - entityPriority(b.Type)
	})
}

func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 || c == '\v' || c == '\f'
}

func isASCIIAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isASCIIAlnum(c byte) bool { return isASCIIAlpha(c) || (c >= '0' && c <= '9') }

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}
