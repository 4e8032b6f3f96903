package names

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"only whitespace", " \t\n\u00a0 ", ""},
		{"already clean", "Xã Thái Bình", "Xã Thái Bình"},
		{"trimmed", "  Xã Thái Bình \n", "Xã Thái Bình"},
		{"runs collapsed", "Xã   Thái\t\tBình", "Xã Thái Bình"},
		{"newlines", "Hội LHPN\r\nxã Thái Bình", "Hội LHPN xã Thái Bình"},
		{"no-break spaces", "Thái\u00a0Bình\u202fxã", "Thái Bình xã"},
		{"ideographic and em spaces", "Thái\u3000\u2003Bình", "Thái Bình"},
		{"control characters removed", "Thái\x00 Bì\x07nh\x7f\u0085", "Thái Bình"},
		{"zero-width space and BOM removed", "\ufeffThái\u200bBình", "TháiBình"},
		{"NFD composed", "Tuye\u0302n Quang", "Tuyên Quang"},
		{"NFD with two marks composed", "Thu\u031b\u0323c", "Thực"},
		{"mark after removed control composes", "Tuye\x00\u0302n", "Tuyên"},
		{"case kept", "ĐOÀN Thanh niên", "ĐOÀN Thanh niên"},
		{"invalid UTF-8 replaced", "Th\xffái", "Th\ufffdái"},
		{"emoji kept", "Cảm ơn 👍🏽", "Cảm ơn 👍🏽"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			if got != tt.want {
				t.Errorf("Clean(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
			if !norm.NFC.IsNormalString(got) || !utf8.ValidString(got) {
				t.Errorf("Clean(%+q) = %+q, not valid NFC", tt.in, got)
			}
			if again := Clean(got); again != got {
				t.Errorf("Clean is not idempotent: got %+q, want %+q", again, got)
			}
		})
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"province", "Tuyên Quang", "tuyen quang"},
		{"NFD folds like NFC", "Tuye\u0302n Quang", "tuyen quang"},
		{"NFD with two marks", "Thu\u031b\u0323c hie\u0302\u0323n", "thuc hien"},
		{"upper case and Đ", "ĐOÀN THANH NIÊN", "doan thanh nien"},
		{"lower-case đ", "đặc khu", "dac khu"},
		{"decomposed-looking D with stroke", "\u0110\u00f4ng", "dong"},
		{"mixed case", "hỘi LiÊn HiỆp PhỤ nỮ", "hoi lien hiep phu nu"},
		{"extra spaces", "  Xã \t Thái\u00a0\u00a0Bình\n", "xa thai binh"},
		{"control characters", "Thái\x00Bình\x1b", "thaibinh"},
		{"digits and punctuation kept", "Tổ dân phố 5 (Minh Xuân)", "to dan pho 5 (minh xuan)"},
		{
			"every tone mark, upper case",
			"Ả Ấ Ầ Ẩ Ẫ Ậ Ắ Ằ Ẳ Ẵ Ặ Ẻ Ẽ Ế Ề Ể Ễ Ệ Ỉ Ị Ỏ Ố Ồ Ổ Ỗ Ộ Ớ Ờ Ở Ỡ Ợ Ủ Ũ Ứ Ừ Ử Ữ Ự Ỳ Ỵ Ỷ Ỹ ơ ư",
			"a a a a a a a a a a a e e e e e e e i i o o o o o o o o o o o u u u u u u u y y y y o u",
		},
		{
			"every vowel with every tone",
			"à á ả ã ạ ă ằ ắ ẳ ẵ ặ â ầ ấ ẩ ẫ ậ è é ẻ ẽ ẹ ê ề ế ể ễ ệ ì í ỉ ĩ ị " +
				"ò ó ỏ õ ọ ô ồ ố ổ ỗ ộ ơ ờ ớ ở ỡ ợ ù ú ủ ũ ụ ư ừ ứ ử ữ ự ỳ ý ỷ ỹ ỵ",
			"a a a a a a a a a a a a a a a a a e e e e e e e e e e e i i i i i " +
				"o o o o o o o o o o o o o o o o o u u u u u u u u u u u y y y y y",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fold(tt.in); got != tt.want {
				t.Errorf("Fold(%+q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := Fold(norm.NFD.String(tt.in)); got != tt.want {
				t.Errorf("Fold(NFD %+q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := Fold(Fold(tt.in)); got != tt.want {
				t.Errorf("Fold(Fold(%+q)) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestFoldAgreesWithTransform checks the rune-by-rune decomposition in Fold
// against the textbook chain NFD → remove marks → lower-case, over every
// precomposed Latin letter Vietnamese uses, in both cases.
func TestFoldAgreesWithTransform(t *testing.T) {
	reference := func(s string) string {
		chain := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)))
		out, _, err := transform.String(chain, s)
		if err != nil {
			t.Fatalf("transform %+q: %v", s, err)
		}
		out = strings.NewReplacer("đ", "d", "Đ", "d").Replace(out)
		return strings.ToLower(out)
	}
	var letters []rune
	for _, block := range [][2]rune{{0x00c0, 0x01b0}, {0x1ea0, 0x1ef9}} {
		for r := block[0]; r <= block[1]; r++ {
			if unicode.IsLetter(r) {
				letters = append(letters, r)
			}
		}
	}
	for _, r := range letters {
		s := string(r)
		t.Run(s, func(t *testing.T) {
			if got, want := Fold(s), reference(s); got != want {
				t.Errorf("Fold(%+q) = %+q, want %+q", s, got, want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name, foldedName, foldedQuery string
		want                          int
	}{
		{"exact", "thai binh", "thai binh", RankExact},
		{"whole-name prefix", "thai binh", "thai", RankPrefix},
		{"prefix inside first word", "thai binh", "th", RankPrefix},
		{"word prefix", "xa thai binh", "thai", RankWordPrefix},
		{"word prefix of last word", "xa thai binh", "bi", RankWordPrefix},
		{"phrase at word start", "hoi lhpn xa thai binh", "thai binh", RankWordPrefix},
		{"word after punctuation", "hoi (lhpn) xa", "lhpn", RankWordPrefix},
		{"word after hyphen", "ban dan-van", "van", RankWordPrefix},
		{"later occurrence starts a word", "xbinhbinh binh", "binh", RankWordPrefix},
		{"substring then word start", "xa thanh an", "an", RankWordPrefix},
		{"multibyte rune before word", "ba\u2013an", "an", RankWordPrefix},
		{"substring", "thai binh", "hai", RankSubstring},
		{"substring across words", "thai binh", "ai bi", RankSubstring},
		{"all words, reversed", "xa thai binh", "binh thai", RankAllWords},
		{"all words, scattered", "hoi lhpn xa thai binh", "lhpn binh", RankAllWords},
		{"all words as substrings", "xa thai binh", "hai inh", RankAllWords},
		{"one word missing", "hoi lhpn xa thai binh", "phu nu thai binh", RankNone},
		{"no match", "thai binh", "quang", RankNone},
		{"query longer than name", "thai", "thai binh", RankNone},
		{"empty query", "thai binh", "", RankNone},
		{"empty name", "", "thai", RankNone},
		{"both empty", "", "", RankNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.foldedName, tt.foldedQuery); got != tt.want {
				t.Errorf("Match(%q, %q) = %d, want %d", tt.foldedName, tt.foldedQuery, got, tt.want)
			}
		})
	}
}

func TestMatchRanksAreOrdered(t *testing.T) {
	// A search sorts by rank, so each rule must outrank the ones after it.
	ranks := []int{RankExact, RankPrefix, RankWordPrefix, RankSubstring, RankAllWords, RankNone}
	for i := 1; i < len(ranks); i++ {
		if ranks[i-1] <= ranks[i] {
			t.Errorf("got rank %d not above %d, want strictly decreasing %v", ranks[i-1], ranks[i], ranks)
		}
	}
	if RankNone != 0 {
		t.Errorf("got RankNone = %d, want 0", RankNone)
	}
}

func BenchmarkFold(b *testing.B) {
	inputs := []string{
		"Hội Liên hiệp Phụ nữ xã Thái Bình",
		"Ủy ban MTTQ Việt Nam tỉnh Tuyên Quang",
		"tuyen quang",
	}
	for _, in := range inputs {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Fold(in)
			}
		})
	}
}

// BenchmarkMatch20000 matches one query against 20,000 pre-folded names, the
// size of a unit tree with every commune's Front and five organizations; one
// op is the whole scan.
func BenchmarkMatch20000(b *testing.B) {
	kinds := []string{"Ủy ban MTTQ", "Hội LHPN", "Hội Nông dân", "Đoàn Thanh niên", "Hội Cựu chiến binh", "Công đoàn cơ sở"}
	communes := []string{"Thái Bình", "Tân Trào", "Mỹ Lâm", "Hàm Yên", "Chiêm Hoá", "Đồng Văn", "Minh Xuân", "Sơn Dương"}
	folded := make([]string, 20000)
	for i := range folded {
		folded[i] = Fold(fmt.Sprintf("%s xã %s %d", kinds[i%len(kinds)], communes[i/len(kinds)%len(communes)], i))
	}
	for _, query := range []string{"thai binh", "hoi nong dan", "binh hoi", "zzz"} {
		b.Run(strings.ReplaceAll(query, " ", "_"), func(b *testing.B) {
			q := Fold(query)
			matched := 0
			for b.Loop() {
				matched = 0
				for _, name := range folded {
					if Match(name, q) > RankNone {
						matched++
					}
				}
			}
			b.ReportMetric(float64(matched), "matches")
		})
	}
}
