package table

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/unicode/norm"
)

func readString(t *testing.T, in string, opt Options) *Table {
	t.Helper()
	tb, err := ReadCSV(strings.NewReader(in), opt)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestReadCSV(t *testing.T) {
	in := "\xef\xbb\xbfMa, Ten ,loai\n08-MTTQ,\"Ủy ban MTTQ, tỉnh\",mttq\n\n  , ,\n08-BDV,Ban Dân vận,bandanvan\n"
	tb := readString(t, in, Options{})
	if strings.Join(tb.Header, "|") != "ma|ten|loai" {
		t.Errorf("header %q, want ma|ten|loai (BOM gone, lower-cased, trimmed)", tb.Header)
	}
	rows := tb.Rows
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2 (blank rows skipped)", len(rows))
	}
	if rows[0].Line != 2 || rows[0].Get("ten") != "Ủy ban MTTQ, tỉnh" {
		t.Errorf("row 1: %+v", rows[0])
	}
	if rows[1].Line != 5 || rows[1].Get("ma") != "08-BDV" {
		t.Errorf("row 2: line %d, %+v; want line 5", rows[1].Line, rows[1])
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     Problem
		wantLine int
	}{
		{"empty", "", Empty, 0},
		{"only blank lines", "\n \n,,\n", Empty, 0},
		{"duplicate head", "ma,ma\n1,2\n", DuplicateColumn, 1},
		{"duplicate after folding", "\n\nMã,ma\n1,2\n", DuplicateColumn, 3},
		{"unclosed quote", "ma,ten\n1,\"unterminated\n2,x\n", UnclosedQuote, 2},
		{"unclosed quote ending in an escaped one", "ma,ten\n1,\"a\"\"\n", UnclosedQuote, 2},
	}
	for _, tt := range tests {
		_, err := ReadCSV(strings.NewReader(tt.in), Options{})
		var e *Error
		if !errors.As(err, &e) || e.Problem != tt.want || e.Line != tt.wantLine {
			t.Errorf("%s: got %v, want a table.Error %s on line %d", tt.name, err, tt.want, tt.wantLine)
		}
	}
}

// TestReadCSVQuotes: a stray quote inside a cell is text; a quoted cell
// closed at the very end of the file is not mistaken for an unclosed one.
func TestReadCSVQuotes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ma,ten\nX,Hội \"Người cao tuổi\" xã\n", `Hội "Người cao tuổi" xã`},
		{"ma,ten\nX,\"Hội \"\"NCT\"\"\"", `Hội "NCT"`},
		{"ma,ten\r\nX,\"Hội NCT\"\r\n\r\n", "Hội NCT"},
	}
	for _, tt := range tests {
		tb, err := ReadCSV(strings.NewReader(tt.in), Options{})
		if err != nil || len(tb.Rows) != 1 || tb.Rows[0].Get("ten") != tt.want {
			t.Errorf("%q: got %+v (%v), want ten %q", tt.in, tb, err, tt.want)
		}
	}
}

// windows1258 encodes s as Excel does on Vietnamese Windows: letters the
// code page has precomposed (â, ư, đ…) as one byte, tone marks as
// combining characters after them.
func windows1258(t *testing.T, s string) []byte {
	t.Helper()
	var out []rune
	var tones []rune
	flush := func() { out = append(out, tones...); tones = tones[:0] }
	var cluster []rune
	for _, r := range norm.NFD.String(s) {
		switch r {
		case '\u0300', '\u0301', '\u0303', '\u0309', '\u0323':
			tones = append(tones, r)
			continue
		}
		if norm.NFD.PropertiesString(string(r)).CCC() == 0 { // a new base letter
			out = append(out, []rune(norm.NFC.String(string(cluster)))...)
			flush()
			cluster = cluster[:0]
		}
		cluster = append(cluster, r)
	}
	out = append(out, []rune(norm.NFC.String(string(cluster)))...)
	flush()
	b, err := charmap.Windows1258.NewEncoder().Bytes([]byte(string(out)))
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return b
}

func TestReadCSVWindows1258(t *testing.T) {
	names := []string{"Ủy ban MTTQ xã Thái Bình", "Hội Người cao tuổi phường Đồng Mới", "Chi hội Phụ nữ thôn Ngọc Hà"}
	in := "ma,ten\n"
	for i, n := range names {
		in += string(rune('A'+i)) + "," + n + "\r\n"
	}
	data := windows1258(t, in)
	if utf8.Valid(data) {
		t.Fatal("the fixture is valid UTF-8; it tests nothing")
	}
	tb, err := ReadCSV(strings.NewReader(string(data)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range names {
		if got := tb.Rows[i].Get("ten"); got != want {
			t.Errorf("row %d: got %q, want %q (decoded and composed)", i+1, got, want)
		}
	}
}

func TestReadUTF16AndSeparators(t *testing.T) {
	const unicodeText = "STT\tMã\tTên\tLoại\r\n1\t08-MTTQ\t\"Ủy ban MTTQ, tỉnh; Tuyên Quang\"\tmttq\r\n"
	le, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(unicodeText)
	if err != nil {
		t.Fatal(err)
	}
	be, err := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder().String(unicodeText)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, in string }{
		{"UTF-16 LE, tabs", le},
		{"UTF-16 BE, tabs", be},
		{"semicolons", "\nSTT;Mã;Tên;Loại\n1;08-MTTQ;Ủy ban MTTQ, tỉnh; Tuyên Quang;mttq\n"},
		{"commas win over semicolons", "STT,Mã,Tên,Loại\n1,08-MTTQ,Ủy ban MTTQ; tỉnh,mttq\n"},
	}
	for _, tt := range tests {
		tb, err := ReadCSV(strings.NewReader(tt.in), Options{})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := strings.Join(tb.Header, "|"); got != "stt|ma|ten|loai" || len(tb.Rows) != 1 || tb.Rows[0].Get("ma") != "08-MTTQ" || tb.Rows[0].Get("loai") == "" {
			t.Errorf("%s: header %s, rows %+v; want stt|ma|ten|loai and one row of 08-MTTQ", tt.name, got, tb.Rows)
		}
	}
}

func TestHeaderKeysAndAliases(t *testing.T) {
	in := "STT, Mã đơn vị ,TÊN ĐƠN VỊ,Loại,Mã cấp trên,Địa  bàn,\n1,X,Y,mttq,,08,\n"
	tb := readString(t, in, Options{Aliases: map[string]string{"ma_don_vi": "ma", "ten_don_vi": "ten"}})
	if got, want := tb.Header, []string{"stt", "ma", "ten", "loai", "ma_cap_tren", "dia_ban", ""}; !slices.Equal(got, want) {
		t.Errorf("header %q, want %q", got, want)
	}
	if tb.Titles[1] != "Mã đơn vị" || tb.HeaderLine != 1 {
		t.Errorf("titles %q line %d, want the titles as written on line 1", tb.Titles, tb.HeaderLine)
	}
	_, err := ReadCSV(strings.NewReader("ma,Mã đơn vị\n"), Options{Aliases: map[string]string{"ma_don_vi": "ma"}})
	var e *Error
	if !errors.As(err, &e) || e.Problem != DuplicateColumn || !slices.Equal(e.List, []string{"ma", "Mã đơn vị"}) {
		t.Errorf("a column and its alias: got %v, want a duplicate naming both", err)
	}
}

func writeWorkbook(t *testing.T, sheets map[string][][]any, order []string, active string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range order {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for j, r := range sheets[name] {
			cell, _ := excelize.CoordinatesToCellName(1, j+1)
			if err := f.SetSheetRow(name, cell, &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	idx, err := f.GetSheetIndex(active)
	if err != nil {
		t.Fatal(err)
	}
	f.SetActiveSheet(idx)
	path := filepath.Join(t.TempDir(), "units.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadXLSX(t *testing.T) {
	path := writeWorkbook(t, map[string][][]any{"Sheet1": {{"ma", "ten", "loai"}, {"08-MTTQ", "Ủy ban MTTQ tỉnh", "mttq"}, {}, {"08-BDV", "Ban Dân vận", "bandanvan"}}},
		[]string{"Sheet1"}, "Sheet1")
	tb, err := ReadFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Header) != 3 || len(tb.Rows) != 2 || tb.Rows[1].Line != 4 || tb.Rows[1].Get("ten") != "Ban Dân vận" {
		t.Errorf("header %v rows %+v: want 2 rows, the second on row 4", tb.Header, tb.Rows)
	}
}

// TestReadXLSXMergedCells: every cell of a merged range reads as the
// range's value, as Excel shows it; a merge running past the data adds no
// row.
func TestReadXLSXMergedCells(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	rows := [][]any{
		{"ma", "ten", "loai", "ma_cap_tren"},
		{"A", "Ủy ban MTTQ xã", "mttq", ""},
		{"B", "Hội LHPN xã", "phunu", "A"},
		{"C", "Hội Nông dân xã", "nongdan"},
		{"D", "Hội CCB xã", "ccb"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.MergeCell("Sheet1", "D3", "D8"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "merged.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	tb, err := ReadFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Rows) != 4 {
		t.Fatalf("got %d rows, want 4 (the merge past the data adds none): %+v", len(tb.Rows), tb.Rows)
	}
	for _, r := range tb.Rows[1:] {
		if r.Get("ma_cap_tren") != "A" {
			t.Errorf("line %d: ma_cap_tren %q, want A from the merged cell", r.Line, r.Get("ma_cap_tren"))
		}
	}
}

func TestReadXLSXSheets(t *testing.T) {
	units := [][]any{{"ma", "ten", "loai"}, {"X", "Ủy ban MTTQ xã", "mttq"}}
	path := writeWorkbook(t, map[string][][]any{
		"Hướng dẫn": {{"Điền danh sách ở trang Đơn vị"}},
		"Đơn vị":    units,
		"Trống":     nil,
	}, []string{"Hướng dẫn", "Đơn vị", "Trống"}, "Đơn vị")

	tb, err := ReadFile(path, Options{})
	if err != nil || tb.Sheet != "Đơn vị" || len(tb.Rows) != 1 || !slices.Equal(tb.Sheets, []string{"Hướng dẫn", "Đơn vị", "Trống"}) {
		t.Errorf("no sheet asked: got %+v (%v), want the active sheet Đơn vị", tb, err)
	}
	tb, err = ReadFile(path, Options{Sheet: "huong dan"})
	if err != nil || tb.Sheet != "Hướng dẫn" || len(tb.Rows) != 0 {
		t.Errorf(`-sheet "huong dan": got %+v (%v), want sheet Hướng dẫn`, tb, err)
	}
	var e *Error
	if _, err := ReadFile(path, Options{Sheet: "Khác"}); !errors.As(err, &e) || e.Problem != NoSheet || len(e.List) != 3 {
		t.Errorf("unknown sheet: got %v, want NoSheet listing the 3 sheets", err)
	}
	if _, err := ReadFile(path, Options{Sheet: "Trống"}); !errors.As(err, &e) || e.Problem != Empty || e.Value != "Trống" {
		t.Errorf("empty sheet: got %v, want Empty naming it", err)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	notZip := filepath.Join(dir, "units.xlsx")
	if err := os.WriteFile(notZip, []byte("ma,ten,loai\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want Problem
	}{
		{filepath.Join(dir, "units.ods"), NotTable},
		{filepath.Join(dir, "missing.csv"), NotFound},
		{filepath.Join(dir, "missing.xlsx"), NotFound},
		{notZip, NotWorkbook},
	}
	for _, tt := range tests {
		_, err := ReadFile(tt.path, Options{})
		var e *Error
		if !errors.As(err, &e) || e.Problem != tt.want {
			t.Errorf("%s: got %v, want %s", filepath.Base(tt.path), err, tt.want)
		}
	}
}

// A title row, a date and a blank line above the header, as people lay out
// a list in Excel, are skipped once Columns say what a header names.
func TestTitleRowsAboveTheHeader(t *testing.T) {
	cols := []string{"ma", "ten", "loai", "ma_cap_tren", "dia_ban"}
	in := "DANH SÁCH ĐƠN VỊ,,\nNgày 26/11/2026,,\n,,\nMã,Tên đơn vị,Loại\n08-MTTQ,Ủy ban MTTQ tỉnh,mttq\n"
	tb := readString(t, in, Options{Columns: cols, Aliases: map[string]string{"ten_don_vi": "ten"}})
	if strings.Join(tb.Header, "|") != "ma|ten|loai" || tb.HeaderLine != 4 {
		t.Fatalf("header %q on line %d, want ma|ten|loai on line 4", tb.Header, tb.HeaderLine)
	}
	if len(tb.Rows) != 1 || tb.Rows[0].Line != 5 || tb.Rows[0].Get("ten") != "Ủy ban MTTQ tỉnh" {
		t.Errorf("rows %+v, want the one unit on line 5", tb.Rows)
	}
	// Without Columns the first row is the header, as before.
	if tb := readString(t, in, Options{}); tb.HeaderLine != 1 {
		t.Errorf("without Columns: header on line %d, want 1", tb.HeaderLine)
	}

	// A merged title across the columns of a workbook.
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range [][]any{{"DANH SÁCH ĐƠN VỊ"}, {}, {"ma", "ten", "loai"}, {"08-MTTQ", "Ủy ban MTTQ tỉnh", "mttq"}} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.MergeCell("Sheet1", "A1", "C1"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "titled.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	tb, err := ReadFile(path, Options{Columns: cols})
	if err != nil {
		t.Fatal(err)
	}
	if tb.HeaderLine != 3 || len(tb.Rows) != 1 || tb.Rows[0].Get("ma") != "08-MTTQ" {
		t.Errorf("workbook: header line %d, rows %+v; want the header on row 3 and one unit", tb.HeaderLine, tb.Rows)
	}
}

// A UTF-8 file with one stray byte is refused on that byte's line, not
// read as Windows-1258, which would garble every Vietnamese letter; the
// province's whole sample in Windows-1258 still reads as Windows-1258.
func TestStrayByteInUTF8(t *testing.T) {
	in := "ma,ten\nA,Hội Phụ nữ xã Thái Bình\nB,Hội Nông dân \x92xã\nC,Đoàn Thanh niên\n"
	_, err := ReadCSV(strings.NewReader(in), Options{})
	var e *Error
	if !errors.As(err, &e) || e.Problem != BadText || e.Line != 3 {
		t.Errorf("got %v, want bad text on line 3", err)
	}

	sample, err := os.ReadFile("../samples/units-tuyenquang.csv")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadCSV(strings.NewReader(string(sample)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadCSV(strings.NewReader(string(windows1258(t, norm.NFC.String(string(sample))))), Options{})
	if err != nil {
		t.Fatalf("the sample in Windows-1258: %v", err)
	}
	if len(got.Rows) != len(want.Rows) {
		t.Fatalf("%d rows, want %d", len(got.Rows), len(want.Rows))
	}
	for i := range want.Rows {
		if g, w := norm.NFC.String(got.Rows[i].Get("ten")), norm.NFC.String(want.Rows[i].Get("ten")); g != w {
			t.Errorf("line %d: %q, want %q", want.Rows[i].Line, g, w)
		}
	}
}

// The separator is the one every line agrees on: a comma in a title line
// or inside a quoted header does not make a semicolon file comma-separated.
func TestSeparatorFromEveryLine(t *testing.T) {
	cols := []string{"ma", "ten", "loai", "ma_cap_tren", "dia_ban"}
	for name, in := range map[string]string{
		"title with a comma":    "Danh sách đơn vị xã A, huyện B;;\nma;ten;loai\nX;Hội Phụ nữ;phunu\nY;Đoàn Thanh niên;doanthanhnien\n",
		"quoted comma in title": "ma;\"Tên, đơn vị\";loai\nX;Hội Phụ nữ;phunu\n",
		"quoted tab, commas":    "ma,\"ten\tx\",loai\nX,Hội Phụ nữ,phunu\n",
	} {
		t.Run(name, func(t *testing.T) {
			tb := readString(t, in, Options{Columns: cols, Aliases: map[string]string{"ten,_don_vi": "ten"}})
			if len(tb.Rows) == 0 || tb.Rows[0].Get("ma") != "X" || tb.Rows[0].Get("loai") != "phunu" {
				t.Errorf("header %q rows %+v: want X with kind phunu", tb.Header, tb.Rows)
			}
		})
	}
}
