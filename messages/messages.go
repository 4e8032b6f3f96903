// Package messages holds every sentence danvan says, in Vietnamese and
// English, as templates embedded in the binary. Callers pass a typed struct
// (a Message); its Key names the template, so a call site cannot pair a
// template with the wrong data. HTML templates escape everything the caller
// passes in, so user text can never break Telegram's HTML parse mode.
//
// Templates live in templates/<lang>.html.tmpl (message bodies, HTML) and
// templates/<lang>.text.tmpl (button labels, command descriptions and
// notices, which Telegram shows as plain text). Every key exists in every
// language; a test fails otherwise.
package messages

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
)

// Lang is a language of replies.
type Lang string

// The languages danvan speaks.
const (
	Vi Lang = "vi"
	En Lang = "en"
)

// Langs lists the supported languages, the default first.
func Langs() []Lang { return []Lang{Vi, En} }

// ParseLang returns the language named by s ("vi", "en"; case-insensitive)
// and whether it is supported.
func ParseLang(s string) (Lang, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "vi":
		return Vi, true
	case "en":
		return En, true
	}
	return "", false
}

// Message is data for one template; Key names the template.
type Message interface {
	Key() string
}

//go:embed templates
var templateFS embed.FS

// Catalog is the parsed set of templates. It is safe for concurrent use.
type Catalog struct {
	html map[Lang]*htmltemplate.Template
	text map[Lang]*texttemplate.Template
	loc  *time.Location
}

// Load parses the embedded templates once. Dates are shown in loc.
func Load(loc *time.Location) (*Catalog, error) {
	if loc == nil {
		loc = time.UTC
	}
	c := &Catalog{
		html: make(map[Lang]*htmltemplate.Template),
		text: make(map[Lang]*texttemplate.Template),
		loc:  loc,
	}
	for _, lang := range Langs() {
		funcs := c.funcs(lang)
		h, err := htmltemplate.New(string(lang)).Option("missingkey=error").Funcs(funcs).
			ParseFS(templateFS, "templates/"+string(lang)+".html.tmpl")
		if err != nil {
			return nil, fmt.Errorf("parse %s html templates: %w", lang, err)
		}
		t, err := texttemplate.New(string(lang)).Option("missingkey=error").Funcs(funcs).
			ParseFS(templateFS, "templates/"+string(lang)+".text.tmpl")
		if err != nil {
			return nil, fmt.Errorf("parse %s text templates: %w", lang, err)
		}
		c.html[lang], c.text[lang] = h, t
	}
	return c, nil
}

// Keys returns the template keys defined for lang, HTML and text together.
func (c *Catalog) Keys(lang Lang) []string {
	var keys []string
	for _, t := range c.html[lang].Templates() {
		if t.Name() != string(lang) && !strings.HasSuffix(t.Name(), ".tmpl") {
			keys = append(keys, t.Name())
		}
	}
	for _, t := range c.text[lang].Templates() {
		if t.Name() != string(lang) && !strings.HasSuffix(t.Name(), ".tmpl") {
			keys = append(keys, t.Name())
		}
	}
	return keys
}

// Has reports whether every language defines the template key.
func (c *Catalog) Has(key string) bool {
	for _, lang := range Langs() {
		if c.html[lang].Lookup(key) == nil && c.text[lang].Lookup(key) == nil {
			return false
		}
	}
	return true
}

// For returns a printer for one language; an unsupported one falls back to
// Vietnamese.
func (c *Catalog) For(lang Lang) Printer {
	if _, ok := c.html[lang]; !ok {
		lang = Vi
	}
	return Printer{c: c, lang: lang}
}

// Printer renders messages in one language.
type Printer struct {
	c    *Catalog
	lang Lang
}

// Lang returns the printer's language.
func (p Printer) Lang() Lang { return p.lang }

// HTML renders m as an HTML message body, with all data escaped. A template
// error is a programming mistake (the golden tests render every template),
// so it panics; the update loop turns a panic into a logged failure.
func (p Printer) HTML(m Message) string {
	var b strings.Builder
	if err := p.c.html[p.lang].ExecuteTemplate(&b, m.Key(), m); err != nil {
		panic(fmt.Sprintf("messages: render %s/%s: %v", p.lang, m.Key(), err))
	}
	return tidy(b.String())
}

// Item renders m as one line of a list: like HTML, but its leading
// indentation is kept.
func (p Printer) Item(m Message) string {
	var b strings.Builder
	if err := p.c.html[p.lang].ExecuteTemplate(&b, m.Key(), m); err != nil {
		panic(fmt.Sprintf("messages: render %s/%s: %v", p.lang, m.Key(), err))
	}
	return strings.TrimRight(b.String(), " \n")
}

// Text renders m as plain text: button labels, notices, descriptions.
func (p Printer) Text(m Message) string {
	var b strings.Builder
	if err := p.c.text[p.lang].ExecuteTemplate(&b, m.Key(), m); err != nil {
		panic(fmt.Sprintf("messages: render %s/%s: %v", p.lang, m.Key(), err))
	}
	return strings.TrimSpace(b.String())
}

// tidy trims the text and collapses the blank lines that template actions
// leave behind, so templates can be laid out for reading.
func tidy(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	out := lines[:0]
	blank := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// Date formats t in the catalog's time zone: "Thứ Hai, 30/11/2026 08:00".
func (p Printer) Date(t time.Time) string { return formatDate(t.In(p.c.loc), p.lang) }

// Duration formats d in words: "2 giờ 30 phút".
func (p Printer) Duration(d time.Duration) string { return formatDuration(d, p.lang) }

func (c *Catalog) funcs(lang Lang) map[string]any {
	return map[string]any{
		"date":     func(t time.Time) string { return formatDate(t.In(c.loc), lang) },
		"day":      func(t time.Time) string { return t.In(c.loc).Format("02/01/2006") },
		"duration": func(d time.Duration) string { return formatDuration(d, lang) },
		"num":      func(n int) string { return formatNumber(n, lang) },
		"size":     func(n int64) string { return formatSize(n, lang) },
		"echo":     echo,
		"iterate":  func(n int) []int { return make([]int, max(n, 0)) },
		"plural": func(n int, one, other string) string {
			if n == 1 {
				return one
			}
			return other
		},
	}
}
