package messages

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var hcm = mustZone("Asia/Ho_Chi_Minh")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func load(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load(hcm)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

var sampleCommands = []CommandHelp{
	{Name: "trogiup", Alias: "help", Desc: "Hướng dẫn", Example: "/trogiup"},
	{Name: "id", Desc: "Mã của bạn", Example: "/id"},
}

// samples renders every template at least once; TestEveryKeyHasASample
// keeps it complete.
var samples = []struct {
	name string
	msg  Message
	text bool
}{
	{"welcome", Welcome{Name: "Hoa <b>&", Commands: sampleCommands}, false},
	{"welcome_admin", Welcome{Name: "Lan", IsAdmin: true, Commands: sampleCommands}, false},
	{"help", Help{Commands: sampleCommands, BotUsername: "danvan_bot"}, false},
	{"help_admin", Help{IsAdmin: true, Commands: sampleCommands, BotUsername: "danvan_bot"}, false},
	{"your_id_private", YourID{UserID: 123456789, ChatID: 123456789}, false},
	{"your_id_group", YourID{UserID: 123456789, ChatID: -1001234567890, InGroup: true}, false},
	{"your_id_anonymous", YourID{ChatID: -1001234567890, InGroup: true}, false},
	{"cancelled", Cancelled{Title: "Chọn ngôn ngữ"}, false},
	{"nothing_to_cancel", NothingToCancel{}, false},
	{"unknown_command", UnknownCommand{Command: "foo<x>"}, false},
	{"hint_text", Hint{What: "text"}, false},
	{"hint_sticker", Hint{What: "sticker"}, false},
	{"apology", Apology{}, false},
	{"refused_admin", Refused{Need: "admin"}, false},
	{"refused_person", Refused{Need: "person"}, false},
	{"refused_private", Refused{Need: "private"}, false},
	{"refused_other", Refused{Need: "head"}, false},
	{"private_only", PrivateOnly{BotUsername: "danvan_bot"}, false},
	{"bad_start_code", BadStartCode{}, false},
	{"conversation_expired", ConversationExpired{Title: "Chọn ngôn ngữ", Timeout: 30 * time.Minute}, false},
	{"choose_language", ChooseLanguage{Current: Vi}, false},
	{"choose_language_again", ChooseLanguageAgain{}, false},
	{"language_set", LanguageSet{}, false},
	{"bad_language", BadLanguage{Arg: "fr"}, false},
	{"page_of", PageOf{Page: 2, Pages: 5}, false},
	{"fanout_report_all_sent", FanOutReport{Total: 1200, Sent: 1200, Took: 41 * time.Second}, false},
	{"fanout_report_mixed", FanOutReport{Total: 10, Sent: 6, Failed: 1, Unreachable: 2, Expired: 1, Took: 95 * time.Second,
		Names: []string{"Nguyễn Thị Hoa", "Chi hội <Phụ nữ> thôn 3"}}, false},
	{"fanout_report_many", FanOutReport{Total: 300, Sent: 200, Unreachable: 100, Took: time.Hour,
		Names: []string{"Lò Văn A", "Hoàng Thị B"}, More: 98}, false},
	{"button_confirm", Button{Name: "confirm"}, true},
	{"button_cancel", Button{Name: "cancel"}, true},
	{"button_prev", Button{Name: "prev"}, true},
	{"button_next", Button{Name: "next"}, true},
	{"button_skip", Button{Name: "skip"}, true},
	{"button_lang_vi", Button{Name: "lang_vi"}, true},
	{"button_lang_en", Button{Name: "lang_en"}, true},
	{"notice_done", Notice{Name: "done"}, true},
	{"notice_expired", Notice{Name: "expired"}, true},
	{"notice_refused", Notice{Name: "refused"}, true},
	{"notice_saved", Notice{Name: "saved"}, true},
	{"notice_error", Notice{Name: "error"}, true},
	{"cmd_start", CommandDesc{Command: "start"}, true},
	{"cmd_trogiup", CommandDesc{Command: "trogiup"}, true},
	{"cmd_id", CommandDesc{Command: "id"}, true},
	{"cmd_huy", CommandDesc{Command: "huy"}, true},
	{"cmd_ngonngu", CommandDesc{Command: "ngonngu"}, true},
	{"example_start", CommandExample{Command: "start"}, true},
	{"example_trogiup", CommandExample{Command: "trogiup"}, true},
	{"example_id", CommandExample{Command: "id"}, true},
	{"example_huy", CommandExample{Command: "huy"}, true},
	{"example_ngonngu", CommandExample{Command: "ngonngu"}, true},
	{"conv_language", ConversationTitle{Name: "language"}, true},
}

func TestGolden(t *testing.T) {
	c := load(t)
	for _, lang := range Langs() {
		var all strings.Builder
		for _, s := range samples {
			p := c.For(lang)
			var got string
			if s.text {
				got = p.Text(s.msg)
			} else {
				got = p.HTML(s.msg)
			}
			if strings.TrimSpace(got) == "" {
				t.Errorf("%s/%s renders empty", lang, s.name)
			}
			if !s.text && VisibleLength(got) > MaxText {
				t.Errorf("%s/%s is %d characters, over Telegram's limit", lang, s.name, VisibleLength(got))
			}
			all.WriteString("== " + s.name + "\n" + got + "\n\n")
		}
		path := filepath.Join("testdata", string(lang)+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(all.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden (run go test ./messages -update): %v", err)
		}
		if all.String() != string(want) {
			t.Errorf("%s: rendering differs from %s (run go test ./messages -update and review the diff):\n%s", lang, path, firstDiff(all.String(), string(want)))
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

func itoa(n int) string { return formatNumber(n, En) }

func TestEveryKeyInEveryLanguage(t *testing.T) {
	c := load(t)
	vi, en := c.Keys(Vi), c.Keys(En)
	slices.Sort(vi)
	slices.Sort(en)
	for _, k := range vi {
		if _, found := slices.BinarySearch(en, k); !found {
			t.Errorf("template %q is in vi but not in en", k)
		}
	}
	for _, k := range en {
		if _, found := slices.BinarySearch(vi, k); !found {
			t.Errorf("template %q is in en but not in vi", k)
		}
	}
}

func TestEveryKeyHasASample(t *testing.T) {
	c := load(t)
	covered := map[string]bool{}
	for _, s := range samples {
		covered[s.msg.Key()] = true
	}
	for _, k := range c.Keys(Vi) {
		if !covered[k] {
			t.Errorf("template %q has no sample in TestGolden", k)
		}
	}
}

func TestUserTextIsEscaped(t *testing.T) {
	c := load(t)
	got := c.For(Vi).HTML(Welcome{Name: `<script>&"x"`})
	if strings.Contains(got, "<script>") || !strings.Contains(got, "&lt;script&gt;&amp;") {
		t.Errorf("name not escaped: %q", got)
	}
}

func TestMissingKeyIsAnError(t *testing.T) {
	c := load(t)
	defer func() {
		if recover() == nil {
			t.Error("rendering an unknown template did not fail")
		}
	}()
	c.For(Vi).HTML(CommandDesc{Command: "no-such-command"})
}

func TestDate(t *testing.T) {
	c := load(t)
	tests := []struct {
		when time.Time
		lang Lang
		want string
	}{
		{time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), Vi, "Thứ Hai, 30/11/2026 08:00"},
		{time.Date(2026, 11, 29, 8, 0, 0, 0, hcm), Vi, "Chủ Nhật, 29/11/2026 08:00"},
		{time.Date(2026, 12, 5, 14, 30, 0, 0, hcm), Vi, "Thứ Bảy, 05/12/2026 14:30"},
		{time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), En, "Monday, 30/11/2026 08:00"},
	}
	for _, tt := range tests {
		if got := c.For(tt.lang).Date(tt.when); got != tt.want {
			t.Errorf("Date(%v, %s) = %q, want %q", tt.when, tt.lang, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		lang Lang
		want string
	}{
		{2*time.Hour + 30*time.Minute, Vi, "2 giờ 30 phút"},
		{2*time.Hour + 30*time.Minute + 10*time.Second, Vi, "2 giờ 30 phút"},
		{27 * time.Hour, Vi, "1 ngày 3 giờ"},
		{time.Hour + 5*time.Second, Vi, "1 giờ"},
		{45 * time.Second, Vi, "45 giây"},
		{0, Vi, "0 giây"},
		{30 * time.Minute, En, "30 minutes"},
		{time.Hour + time.Minute, En, "1 hour 1 minute"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d, tt.lang); got != tt.want {
			t.Errorf("formatDuration(%v, %s) = %q, want %q", tt.d, tt.lang, got, tt.want)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		n    int
		lang Lang
		want string
	}{
		{0, Vi, "0"}, {999, Vi, "999"}, {1000, Vi, "1.000"}, {10000, Vi, "10.000"},
		{1234567, En, "1,234,567"}, {-2000, Vi, "-2.000"},
	}
	for _, tt := range tests {
		if got := formatNumber(tt.n, tt.lang); got != tt.want {
			t.Errorf("formatNumber(%d, %s) = %q, want %q", tt.n, tt.lang, got, tt.want)
		}
	}
}

func TestVisibleLength(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"abc", 3},
		{"<b>Xã Thái Bình</b>", 12},
		{"a &lt; b &amp;&amp; c", 10},
		{"😀", 2}, // outside the BMP: two UTF-16 units
		{`<a href="https://t.me/x">link</a>`, 4},
	}
	for _, tt := range tests {
		if got := VisibleLength(tt.in); got != tt.want {
			t.Errorf("VisibleLength(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestPaginate(t *testing.T) {
	var items []string
	for i := range 500 {
		items = append(items, "<b>Xã Thái Bình</b> — Hội Liên hiệp Phụ nữ xã số "+formatNumber(i, Vi))
	}
	pages := Paginate("<b>Danh sách</b>", items, "<i>Trang</i>", 0)
	if len(pages) < 2 {
		t.Fatalf("got %d pages, want several", len(pages))
	}
	seen := 0
	for i, p := range pages {
		if n := VisibleLength(p); n > MaxText {
			t.Errorf("page %d is %d long, over %d", i, n, MaxText)
		}
		if !strings.HasPrefix(p, "<b>Danh sách</b>\n") || !strings.HasSuffix(p, "\n<i>Trang</i>") {
			t.Errorf("page %d lacks header or footer", i)
		}
		seen += strings.Count(p, "— Hội")
	}
	if seen != len(items) {
		t.Errorf("pages hold %d items, want %d", seen, len(items))
	}

	long := strings.Repeat("ư", 5000)
	pages = Paginate("h", []string{"a", long, "b"}, "", 0)
	for i, p := range pages {
		if n := VisibleLength(p); n > MaxText {
			t.Errorf("page %d with an over-long item is %d long", i, n)
		}
	}
	if got := Paginate("h", nil, "f", 0); len(got) != 1 || got[0] != "h\nf" {
		t.Errorf("empty list: got %q, want one page \"h\\nf\"", got)
	}
}
