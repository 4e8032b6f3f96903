package telegramtest

import (
	"reflect"
	"testing"
)

func TestParseHTML(t *testing.T) {
	tests := []struct {
		name     string
		markup   string
		text     string
		entities []Entity
	}{
		{"empty", "", "", nil},
		{"plain", "hello", "hello", nil},
		{
			"tags are case-insensitive",
			"<b>bold</b> <I>it</I>",
			"bold it",
			[]Entity{{Type: "bold", Offset: 0, Length: 4}, {Type: "italic", Offset: 5, Length: 2}},
		},
		{
			"Vietnamese and an emoji count in UTF-16 units",
			"Xin ch\u00e0o <b>Vi\u1ec7t Nam</b> \U0001F1FB\U0001F1F3 <i>\u0111\u1eb9p</i>",
			"Xin ch\u00e0o Vi\u1ec7t Nam \U0001F1FB\U0001F1F3 \u0111\u1eb9p",
			[]Entity{{Type: "bold", Offset: 9, Length: 8}, {Type: "italic", Offset: 23, Length: 3}},
		},
		{
			"emoji inside an entity",
			"<b>\U0001F600x</b>",
			"\U0001F600x",
			[]Entity{{Type: "bold", Offset: 0, Length: 3}},
		},
		{
			"character references, unknown ones stay literal",
			"a &lt;b&gt; &amp; &quot;q&quot; &#65;&#x42; &copy; & &amp &#12345678;",
			"a <b> & \"q\" AB &copy; & & &#12345678;",
			nil,
		},
		{
			"link with an escaped query",
			`<a href="https://example.com/x?a=1&amp;b=2">link</a>`,
			"link",
			[]Entity{{Type: "text_link", Offset: 0, Length: 4, URL: "https://example.com/x?a=1&b=2"}},
		},
		{
			"link without a scheme",
			"<a href=telegram.org>t</a>",
			"t",
			[]Entity{{Type: "text_link", Offset: 0, Length: 1, URL: "http://telegram.org/"}},
		},
		{
			"link to its own text",
			"<a>telegram.org</a>",
			"telegram.org",
			[]Entity{{Type: "text_link", Offset: 0, Length: 12, URL: "http://telegram.org/"}},
		},
		{"link to an invalid URL is dropped", "<a>telegram.org </a>", "telegram.org ", nil},
		{
			"mention link",
			`<a href="tg://user?id=42">u</a>`,
			"u",
			[]Entity{{Type: "text_mention", Offset: 0, Length: 1, UserID: 42}},
		},
		{
			"pre with a language",
			`<pre><code class="language-go">x := 1</code></pre>`,
			"x := 1",
			[]Entity{{Type: "pre", Offset: 0, Length: 6, Language: "go"}},
		},
		{
			"pre with code without a language",
			"<pre><code>x</code></pre>",
			"x",
			[]Entity{{Type: "pre", Offset: 0, Length: 1}, {Type: "code", Offset: 0, Length: 1}},
		},
		{
			"code loses a language outside pre",
			`<code class="language-go">c</code>`,
			"c",
			[]Entity{{Type: "code", Offset: 0, Length: 1}},
		},
		{
			"spoilers",
			`<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span>`,
			"st",
			[]Entity{{Type: "spoiler", Offset: 0, Length: 1}, {Type: "spoiler", Offset: 1, Length: 1}},
		},
		{
			"blockquotes",
			"<blockquote>q</blockquote><blockquote expandable>e</blockquote>",
			"qe",
			[]Entity{{Type: "blockquote", Offset: 0, Length: 1}, {Type: "expandable_blockquote", Offset: 1, Length: 1}},
		},
		{
			"every synonym",
			"<s>a</s><strike>b</strike><del>c</del><u>d</u><ins>e</ins><strong>f</strong><em>g</em>",
			"abcdefg",
			[]Entity{
				{Type: "strikethrough", Offset: 0, Length: 1},
				{Type: "strikethrough", Offset: 1, Length: 1},
				{Type: "strikethrough", Offset: 2, Length: 1},
				{Type: "underline", Offset: 3, Length: 1},
				{Type: "underline", Offset: 4, Length: 1},
				{Type: "bold", Offset: 5, Length: 1},
				{Type: "italic", Offset: 6, Length: 1},
			},
		},
		{
			"nesting is sorted by offset, then length",
			"<i><b> </b> <code> </code></i>",
			"   ",
			[]Entity{{Type: "italic", Offset: 0, Length: 3}, {Type: "bold", Offset: 0, Length: 1}, {Type: "code", Offset: 2, Length: 1}},
		},
		{
			"tdlib stadium case",
			"\U0001F3DF \U0001F3DF<i>\U0001F3DF &lt\U0001F3DF</i>",
			"\U0001F3DF \U0001F3DF\U0001F3DF <\U0001F3DF",
			[]Entity{{Type: "italic", Offset: 5, Length: 6}},
		},
		{"empty entity is dropped", "<b></b>x", "x", nil},
		{"empty end tag closes the last one", "<i>a</>", "a", []Entity{{Type: "italic", Offset: 0, Length: 1}}},
		{"unknown attributes are ignored", `<b class="x" id=y>a</b>`, "a", []Entity{{Type: "bold", Offset: 0, Length: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, ents, err := parseHTML(tt.markup)
			if err != nil {
				t.Fatalf("parseHTML(%q): got error %v, want none", tt.markup, err)
			}
			if text != tt.text {
				t.Errorf("parseHTML(%q) text: got %q, want %q", tt.markup, text, tt.text)
			}
			if !reflect.DeepEqual(ents, tt.entities) {
				t.Errorf("parseHTML(%q) entities: got %+v, want %+v", tt.markup, ents, tt.entities)
			}
		})
	}
}

func TestParseHTMLErrors(t *testing.T) {
	const stadium = "\U0001F3DF \U0001F3DF&lt;" // 13 bytes, as in tdlib's tests
	tests := []struct {
		markup string
		want   string
	}{
		{stadium + "<abacaba", "Unclosed start tag at byte offset 13"},
		{stadium + "<abac aba>", `Unsupported start tag "abac" at byte offset 13`},
		{"<x>", `Unsupported start tag "x" at byte offset 0`},
		{"ok <P>para</P>", `Unsupported start tag "p" at byte offset 3`},
		{stadium + "<i   =aba>", `Empty attribute name in the tag "i" at byte offset 13`},
		{stadium + "<i    aba>", `Can't find end tag corresponding to start tag "i"`},
		{"<b>bold", `Can't find end tag corresponding to start tag "b"`},
		{stadium + "<i    aba  =  ", `Unclosed start tag "i" at byte offset 13`},
		{stadium + "<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"},
		{stadium + `<i    aba  =  "&lt;&gt;&quot;>`, "Unclosed start tag at byte offset 13"},
		{stadium + "</", "Unexpected end tag at byte offset 13"},
		{stadium + "<b></b></", "Unexpected end tag at byte offset 20"},
		{"x</b>", "Unexpected end tag at byte offset 1"},
		{stadium + "<i>a</i   ", "Unclosed end tag at byte offset 17"},
		{stadium + "<i>a</em   >", `Unmatched end tag at byte offset 17, expected "</i>", found "</em>"`},
		{"<b>a</i>", `Unmatched end tag at byte offset 4, expected "</b>", found "</i>"`},
		{"<span>s</span>", `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{"&#xD83D;", "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units"},
	}
	for _, tt := range tests {
		t.Run(tt.markup, func(t *testing.T) {
			_, _, err := parseHTML(tt.markup)
			if err == nil {
				t.Fatalf("parseHTML(%q): got no error, want %q", tt.markup, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("parseHTML(%q): got %q, want %q", tt.markup, err.Error(), tt.want)
			}
		})
	}
}

func TestFormatInput(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		parseMode string
		text      string
		entities  []Entity
		empty     bool
	}{
		{"trims spaces and newlines", "  hello  \n", "", "hello", nil, false},
		{"whitespace only is empty", " \n ", "", "", nil, true},
		{"entity over whitespace only is dropped", "<b> </b>x", "HTML", "x", nil, false},
		{"entity starts after its leading space", "<b> bold</b>", "HTML", "bold", []Entity{{Type: "bold", Offset: 0, Length: 4}}, false},
		{"control characters", "a\r\nb\tc", "", "a\nb c", nil, false},
		{"touching entities merge", "<b>a</b><b>b</b>", "html", "ab", []Entity{{Type: "bold", Offset: 0, Length: 2}}, false},
		{"bot command with the bot's name", "/start@danvan_test_bot x", "", "/start@danvan_test_bot x", []Entity{{Type: "bot_command", Offset: 0, Length: 22}}, false},
		{"command with diacritics is no command", "/tr\u1ee3gi\u00fap", "", "/tr\u1ee3gi\u00fap", nil, false},
		{"url", "see https://example.com/a. ok", "", "see https://example.com/a. ok", []Entity{{Type: "url", Offset: 4, Length: 21}}, false},
		{
			"mention and hashtag",
			"hi @alice_v #tag",
			"",
			"hi @alice_v #tag",
			[]Entity{{Type: "mention", Offset: 3, Length: 8}, {Type: "hashtag", Offset: 12, Length: 4}},
			false,
		},
		{"nothing is detected inside code", "<code>/start</code>", "HTML", "/start", []Entity{{Type: "code", Offset: 0, Length: 6}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, ents, empty, err := formatInput(tt.raw, tt.parseMode)
			if err != nil {
				t.Fatalf("formatInput(%q): got error %q, want none", tt.raw, err.description)
			}
			if text != tt.text || empty != tt.empty {
				t.Errorf("formatInput(%q): got %q (empty %v), want %q (empty %v)", tt.raw, text, empty, tt.text, tt.empty)
			}
			if !reflect.DeepEqual(ents, tt.entities) {
				t.Errorf("formatInput(%q) entities: got %+v, want %+v", tt.raw, ents, tt.entities)
			}
		})
	}
}
