package places

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"danvan/names"
)

// Counts from the official list after the 1/7/2025 reorganization.
const (
	wantProvinces = 34
	wantCommunes  = 3321
)

func TestLoadCounts(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	provinces := d.Provinces()
	if len(provinces) != wantProvinces {
		t.Errorf("got %d provinces, want %d", len(provinces), wantProvinces)
	}
	communes := 0
	for _, p := range provinces {
		if p.Parent != "" {
			t.Errorf("province %s: got parent %q, want none", p.Code, p.Parent)
		}
		for _, c := range d.Communes(p.Code) {
			communes++
			if got := d.Communes(c.Code); got != nil {
				t.Errorf("commune %s: got %d children, want none", c.Code, len(got))
			}
		}
	}
	if communes != wantCommunes {
		t.Errorf("got %d communes, wards and special zones, want %d", communes, wantCommunes)
	}
}

func TestEveryPlaceIsInTheFileAndItsParentExists(t *testing.T) {
	d := Default()
	records := embeddedRecords(t)
	if len(records) != wantProvinces+wantCommunes {
		t.Fatalf("got %d records in the file, want %d", len(records), wantProvinces+wantCommunes)
	}
	for _, rec := range records {
		p, ok := d.Lookup(rec[0])
		if !ok {
			t.Errorf("Lookup(%q): got not found, want found", rec[0])
			continue
		}
		want := Place{Code: rec[0], Name: rec[1], Short: rec[2], Kind: rec[3], Parent: rec[4]}
		if p != want {
			t.Errorf("Lookup(%q) = %+v, want %+v", rec[0], p, want)
		}
		if p.Parent == "" {
			continue
		}
		parent, ok := d.Lookup(p.Parent)
		if !ok {
			t.Errorf("place %s: parent %q does not exist", p.Code, p.Parent)
			continue
		}
		if !slices.Contains(d.Communes(parent.Code), p) {
			t.Errorf("place %s is missing from Communes(%q)", p.Code, parent.Code)
		}
	}
}

func TestProvincesInFileOrder(t *testing.T) {
	var want []string
	for _, rec := range embeddedRecords(t) {
		if rec[4] == "" {
			want = append(want, rec[0])
		}
	}
	var got []string
	for _, p := range Default().Provinces() {
		got = append(got, p.Code)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got provinces %v, want %v", got, want)
	}
}

func TestTuyenQuang(t *testing.T) {
	d := Default()
	p, ok := d.Lookup("08")
	if !ok {
		t.Fatal(`Lookup("08"): got not found, want Tuyên Quang`)
	}
	want := Place{Code: "08", Name: "Tỉnh Tuyên Quang", Short: "Tuyên Quang", Kind: "Tỉnh"}
	if p != want {
		t.Errorf(`Lookup("08") = %+v, want %+v`, p, want)
	}
	communes := d.Communes("08")
	if len(communes) != 124 {
		t.Errorf(`got %d communes in Communes("08"), want 124`, len(communes))
	}
	kinds := map[string]int{}
	for _, c := range communes {
		kinds[c.Kind]++
	}
	if kinds["Xã"] == 0 || kinds["Phường"] == 0 {
		t.Errorf("got kinds %v in Tuyên Quang, want both Xã and Phường", kinds)
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, code := range []string{"", "99", "8", "00000", "02494 ", "Tuyên Quang"} {
		t.Run(code, func(t *testing.T) {
			if p, ok := Default().Lookup(code); ok {
				t.Errorf("Lookup(%q) = %+v, true; want not found", code, p)
			}
		})
	}
}

func TestPath(t *testing.T) {
	tests := []struct{ code, want string }{
		{"08", "Tuyên Quang"},
		{"02494", "Thái Bình › Tuyên Quang"},
		{"06616", "Thái Bình › Lạng Sơn"},
		{"00004", "Ba Đình › Hà Nội"},
		{"99999", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := Default().Path(tt.code); got != tt.want {
				t.Errorf("Path(%q) = %q, want %q", tt.code, got, tt.want)
			}
		})
	}
}

func TestSearchThaiBinh(t *testing.T) {
	d := Default()
	results := d.Search("thai binh", 0)
	var thaiBinh []Place
	for _, p := range results {
		if p.Short == "Thái Bình" {
			thaiBinh = append(thaiBinh, p)
		}
	}
	if len(thaiBinh) < 3 {
		t.Fatalf("got %d places named Thái Bình, want at least 3: %+v", len(thaiBinh), thaiBinh)
	}
	// The exact matches come first, ahead of "Thái Bình" inside longer names.
	if !slices.Equal(results[:len(thaiBinh)], thaiBinh) {
		t.Errorf("got %+v first, want the places named exactly Thái Bình", results[:len(thaiBinh)])
	}
	paths := map[string]string{}
	provinces := map[string]bool{}
	for _, p := range thaiBinh {
		path := d.Path(p.Code)
		if other, dup := paths[path]; dup {
			t.Errorf("places %s and %s share the path %q", other, p.Code, path)
		}
		paths[path] = p.Code
		provinces[p.Parent] = true
	}
	if len(provinces) < 3 {
		t.Errorf("got Thái Bình in %d provinces, want at least 3", len(provinces))
	}
	if paths["Thái Bình › Tuyên Quang"] != "02494" {
		t.Errorf("got paths %v, want Thái Bình › Tuyên Quang for 02494", paths)
	}
}

func TestSearchFirstResult(t *testing.T) {
	tests := []struct {
		name, query, wantCode string
	}{
		{"province, folded", "tuyen quang", "08"},
		{"province, with marks", "Tuyên Quang", "08"},
		{"province, upper case", "TUYÊN QUANG", "08"},
		{"province, NFD", norm.NFD.String("Tuyên Quang"), "08"},
		{"province, full name", "tinh tuyen quang", "08"},
		{"province, extra spaces", "  tuyen\u00a0 quang ", "08"},
		{"province before its ward of the same name", "lao cai", "15"},
		{"province before a commune of the same name elsewhere", "khanh hoa", "56"},
		{"province before two communes of the same name", "Quảng Ninh", "22"},
		{"Đ upper case", "ĐỒNG THÁP", "82"},
		{"Đ folded", "dong thap", "82"},
		{"Đ lower case", "đà nẵng", "48"},
		{"commune, NFD", norm.NFD.String("Xã Thái Bình"), "02494"},
		{"ward by full name", "phuong ba dinh", "00004"},
		{"special zone", "dac khu con dao", "26732"},
	}
	d := Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.Search(tt.query, 5)
			if len(got) == 0 {
				t.Fatalf("Search(%q) found nothing, want %s first", tt.query, tt.wantCode)
			}
			if got[0].Code != tt.wantCode {
				t.Errorf("Search(%q) = %s %s first, want %s", tt.query, got[0].Code, got[0].Name, tt.wantCode)
			}
		})
	}
}

func TestSearchOrder(t *testing.T) {
	d := Default()
	all := d.Search("binh", 0)
	if len(all) < 20 {
		t.Fatalf(`got %d results for "binh", want many`, len(all))
	}
	// Ranks never increase; within a rank provinces come before communes,
	// and then province codes never decrease.
	type key struct {
		rank, level int
		province    string
	}
	keyOf := func(p Place) key {
		province, level := p, 0
		for province.Parent != "" {
			province, _ = d.Lookup(province.Parent)
			level++
		}
		return key{rankOf(d, p, "binh"), level, province.Code}
	}
	for i := 1; i < len(all); i++ {
		a, b := keyOf(all[i-1]), keyOf(all[i])
		if a.rank < b.rank ||
			(a.rank == b.rank && a.level > b.level) ||
			(a.rank == b.rank && a.level == b.level && a.province > b.province) {
			t.Errorf("got %s %+v before %s %+v", all[i-1].Code, a, all[i].Code, b)
		}
	}
	limited := d.Search("binh", 7)
	if !slices.Equal(limited, all[:7]) {
		t.Errorf("got %+v with limit 7, want the first 7 of the full search", limited)
	}
}

func TestSearchNothing(t *testing.T) {
	for _, query := range []string{"", "   ", "\u0301", "zzzz", "phu nu thai binh"} {
		t.Run(query, func(t *testing.T) {
			if got := Default().Search(query, 10); len(got) != 0 {
				t.Errorf("Search(%q) = %+v, want nothing", query, got)
			}
		})
	}
}

func TestResultsAreCopies(t *testing.T) {
	d := Default()
	d.Provinces()[0].Name = "changed"
	d.Communes("08")[0].Name = "changed"
	d.Search("tuyen quang", 1)[0].Name = "changed"
	for _, code := range []string{d.Provinces()[0].Code, d.Communes("08")[0].Code, "08"} {
		if p, _ := d.Lookup(code); p.Name == "changed" {
			t.Errorf("Lookup(%q): got a name changed through a returned slice, want the directory unchanged", code)
		}
	}
}

func TestDefaultIsShared(t *testing.T) {
	if a, b := Default(), Default(); a != b {
		t.Errorf("got two directories %p and %p, want one shared", a, b)
	}
}

func TestLoadRejectsMalformedData(t *testing.T) {
	const head = "ma,ten_day_du,ten,loai_hanh_chinh,ma_tinh\n"
	const province = "08,Tỉnh Tuyên Quang,Tuyên Quang,Tỉnh,\n"
	tests := []struct {
		name, data, wantErr string
	}{
		{"empty file", "", "header"},
		{"wrong header", "code,name,short,kind,parent\n" + province, "header"},
		{"no rows", head, "no places"},
		{"missing column", head + "08,Tỉnh Tuyên Quang,Tuyên Quang,Tỉnh\n", "wrong number of fields"},
		{"extra column", head + province + "02494,Xã Thái Bình,Thái Bình,Xã,08,x\n", "wrong number of fields"},
		{"bare quote", head + "08,Tỉnh \"Tuyên Quang,Tuyên Quang,Tỉnh,\n", "quote"},
		{"empty code", head + ",Tỉnh Tuyên Quang,Tuyên Quang,Tỉnh,\n", "line 2: empty ma"},
		{"empty short name", head + province + "02494,Xã Thái Bình,,Xã,08\n", "line 3: empty ten"},
		{"empty kind", head + province + "02494,Xã Thái Bình,Thái Bình,,08\n", "line 3: empty loai_hanh_chinh"},
		{"duplicate code", head + province + province, `line 3: duplicate code "08"`},
		{"unknown parent", head + province + "02494,Xã Thái Bình,Thái Bình,Xã,09\n", `unknown parent "09"`},
		{"own parent", head + "08,Tỉnh Tuyên Quang,Tuyên Quang,Tỉnh,08\n", "loops"},
		{"parent cycle", head + "01,A,A,Xã,02\n02,B,B,Xã,01\n", "loops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parse(strings.NewReader(tt.data))
			if err == nil {
				t.Fatalf("got directory with %d provinces, want error containing %q", len(d.Provinces()), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestBrokenEmbeddedDataPanics(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("got no panic, want one for broken data")
		}
		if msg, _ := r.(string); !strings.Contains(msg, "embedded data is broken") {
			t.Errorf("got panic %v, want it to say the embedded data is broken", r)
		}
	}()
	mustParse(strings.NewReader("ma,ten_day_du,ten,loai_hanh_chinh,ma_tinh\n02494,Xã Thái Bình,Thái Bình,Xã,08\n"))
}

func BenchmarkSearch(b *testing.B) {
	d := Default()
	for b.Loop() {
		d.Search("thai binh", 10)
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}

// embeddedRecords returns the data rows of the embedded file, read
// independently of parse.
func embeddedRecords(t *testing.T) [][]string {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(adminUnitsCSV)).ReadAll()
	if err != nil {
		t.Fatalf("read embedded file: %v", err)
	}
	return records[1:]
}

func rankOf(d *Directory, p Place, foldedQuery string) int {
	return max(names.Match(names.Fold(p.Short), foldedQuery), names.Match(names.Fold(p.Name), foldedQuery))
}
