package messages

import (
	"html"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

var weekdaysVi = [...]string{"Chủ Nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"}

func formatDate(t time.Time, lang Lang) string {
	if lang == En {
		return t.Format("Monday, 02/01/2006 15:04")
	}
	return weekdaysVi[t.Weekday()] + ", " + t.Format("02/01/2006 15:04")
}

type unit struct {
	d        time.Duration
	vi       string
	one, few string
}

var durationUnits = []unit{
	{24 * time.Hour, "ngày", "day", "days"},
	{time.Hour, "giờ", "hour", "hours"},
	{time.Minute, "phút", "minute", "minutes"},
	{time.Second, "giây", "second", "seconds"},
}

// formatDuration writes d with its two largest non-zero units, rounded
// down: "1 ngày 3 giờ", "2 giờ 30 phút", "45 giây".
func formatDuration(d time.Duration, lang Lang) string {
	if d < 0 {
		d = -d
	}
	var parts []string
	for _, u := range durationUnits {
		if len(parts) == 2 {
			break
		}
		n := int(d / u.d)
		if n == 0 {
			if len(parts) > 0 {
				break // "1 giờ 5 giây" reads oddly; stop at a gap
			}
			continue
		}
		d -= time.Duration(n) * u.d
		switch {
		case lang == En && n == 1:
			parts = append(parts, "1 "+u.one)
		case lang == En:
			parts = append(parts, strconv.Itoa(n)+" "+u.few)
		default:
			parts = append(parts, strconv.Itoa(n)+" "+u.vi)
		}
	}
	if len(parts) == 0 {
		if lang == En {
			return "0 seconds"
		}
		return "0 giây"
	}
	return strings.Join(parts, " ")
}

// formatNumber groups thousands: "10.000" in Vietnamese, "10,000" in English.
func formatNumber(n int, lang Lang) string {
	sep := "."
	if lang == En {
		sep = ","
	}
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// MaxText is Telegram's limit on a message's text after entity parsing, in
// UTF-16 code units; MaxCaption is the limit on a caption.
const (
	MaxText    = 4096
	MaxCaption = 1024
)

// VisibleLength returns the length Telegram counts for an HTML text: tags
// removed, entities decoded, in UTF-16 code units.
func VisibleLength(htmlText string) int {
	return len(utf16.Encode([]rune(plainText(htmlText))))
}

// plainText is what Telegram shows of an HTML text: tags removed,
// entities decoded.
func plainText(htmlText string) string {
	var b strings.Builder
	inTag := false
	for _, r := range htmlText {
		switch {
		case r == '<':
			inTag = true
		case r == '>' && inTag:
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return html.UnescapeString(b.String())
}

// Paginate splits a list into pages that each fit in one message: every
// page is header, then as many items as fit (one per line), then footer,
// and no page's visible length exceeds limit (MaxText when limit ≤ 0). An
// item is never split; one too long for a page on its own is cut with "…".
// It always returns at least one page.
func Paginate(header string, items []string, footer string, limit int) []string {
	if limit <= 0 || limit > MaxText {
		limit = MaxText
	}
	frame := VisibleLength(header) + VisibleLength(footer) + 2
	room := limit - frame
	if room < 100 {
		room = 100
	}
	var pages []string
	var cur []string
	used := 0
	flush := func() {
		parts := make([]string, 0, 3)
		if header != "" {
			parts = append(parts, header)
		}
		if len(cur) > 0 {
			parts = append(parts, strings.Join(cur, "\n"))
		}
		if footer != "" {
			parts = append(parts, footer)
		}
		pages = append(pages, strings.Join(parts, "\n"))
		cur, used = nil, 0
	}
	for _, item := range items {
		n := VisibleLength(item)
		if n+1 > room {
			item = truncateHTMLItem(item, room-2)
			n = VisibleLength(item)
		}
		if used+n+1 > room && len(cur) > 0 {
			flush()
		}
		cur = append(cur, item)
		used += n + 1
	}
	if len(cur) > 0 || len(pages) == 0 {
		flush()
	}
	return pages
}

// truncateHTMLItem shortens an item to about max visible units. Items are
// built by templates, so tags are balanced; cutting inside a tag pair would
// break that, so an over-long item loses its markup.
func truncateHTMLItem(item string, max int) string {
	plain := []rune(plainText(item))
	if len(plain) > max {
		plain = append(plain[:max], '…')
	}
	return html.EscapeString(string(plain))
}

// echoMax is how much of what a person typed a reply quotes back: a
// forgotten "|" must not turn a 3,000-character announcement into a reply
// over Telegram's 4,096.
const echoMax = 100

// echo shortens text a person typed, to quote it in a reply: at most
// echoMax characters, cut at a space when one is near, with "…".
func echo(s string) string {
	if utf8.RuneCountInString(s) <= echoMax {
		return s
	}
	r := []rune(s)[:echoMax]
	if i := strings.LastIndexAny(string(r), " \n"); i > len(string(r))*3/4 {
		return strings.TrimSpace(string(r)[:i]) + "…"
	}
	return string(r) + "…"
}
