package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/unicode/norm"

	"danvan/store"
)

// These tests feed import-units files as Excel and Notepad save them on
// Vietnamese Windows.

// runImportArgs runs "danvan import-units args…" in-process.
func runImportArgs(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = dispatch(append([]string{"import-units"}, args...), &out, &errOut, env)
	return code, out.String(), errOut.String()
}

// encodeWindows1258 encodes s as Excel's "CSV" does on Vietnamese
// Windows: the letters the code page has (â, ư, đ…) as one byte each, tone
// marks as combining characters after them.
func encodeWindows1258(t *testing.T, s string) []byte {
	t.Helper()
	var out, cluster, tones []rune
	end := func() {
		out = append(out, []rune(norm.NFC.String(string(cluster)))...)
		out = append(out, tones...)
		cluster, tones = cluster[:0], tones[:0]
	}
	for _, r := range norm.NFD.String(s) {
		switch {
		case strings.ContainsRune("\u0300\u0301\u0303\u0309\u0323", r):
			tones = append(tones, r)
		case norm.NFD.PropertiesString(string(r)).CCC() == 0:
			end()
			cluster = append(cluster, r)
		default:
			cluster = append(cluster, r)
		}
	}
	end()
	b, err := charmap.Windows1258.NewEncoder().Bytes([]byte(string(out)))
	if err != nil {
		t.Fatalf("encode %q: %v", s, err)
	}
	return b
}

// fourUnits is a commune's Front with three organizations under it, as
// the tests' files hold them in one form or another.
var fourUnits = []struct{ code, name, kind, parent, place string }{
	{"X-MTTQ", "Ủy ban MTTQ xã Thái Bình", "mttq", "", "02494"},
	{"X-PHUNU", "Hội Liên hiệp Phụ nữ xã Thái Bình", "phunu", "X-MTTQ", ""},
	{"X-NCT", "Hội Người cao tuổi xã Thái Bình", "khac", "X-MTTQ", ""},
	{"X-T1", "Ban công tác Mặt trận thôn Đồng Mới", "mttq", "X-MTTQ", "02494/Thôn Đồng Mới"},
}

// checkFourUnits checks the store holds fourUnits as they should be.
func checkFourUnits(t *testing.T, path string) {
	t.Helper()
	viewStore(t, path, func(tx *store.Tx) {
		top := unitByCode(t, tx, "X-MTTQ")
		for _, want := range fourUnits {
			u := unitByCode(t, tx, want.code)
			var parent uint64
			if want.parent != "" {
				parent = top.ID
			}
			if u.Name != want.name || u.Parent != parent {
				t.Errorf("%s: got name %q, parent %d; want %q, %d", want.code, u.Name, u.Parent, want.name, parent)
			}
		}
		if u := unitByCode(t, tx, "X-T1"); u.Place != "02494/thôn đồng mới" {
			t.Errorf("X-T1: place %q, want 02494/thôn đồng mới", u.Place)
		}
	})
}

func TestImportUnitsTextEncodings(t *testing.T) {
	// The tab-separated file quotes its names, as Excel does.
	var comma, tab strings.Builder
	comma.WriteString(importHeader)
	tab.WriteString("ma\tten\tloai\tma_cap_tren\tdia_ban\r\n")
	for _, u := range fourUnits {
		quoted := `"` + strings.ReplaceAll(u.name, `"`, `""`) + `"`
		comma.WriteString(strings.Join([]string{u.code, u.name, u.kind, u.parent, u.place}, ",") + "\r\n")
		tab.WriteString(strings.Join([]string{u.code, quoted, u.kind, u.parent, u.place}, "\t") + "\r\n")
	}
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(tab.String())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		body       []byte
	}{
		{"Windows-1258 CSV", "units.csv", encodeWindows1258(t, comma.String())},
		{"UTF-16 Unicode Text", "units.txt", []byte(utf16)},
		{"semicolons", "units.csv", []byte(strings.ReplaceAll(comma.String(), ",", ";"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, path := importEnv(t)
			code, stdout, stderr := runImport(t, env, writeTestFile(t, tt.file, string(tt.body)))
			if want := "Đã nhập: 4 tạo mới, 0 cập nhật, 0 không đổi.\n"; code != 0 || stdout != want {
				t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 0, %q", code, stdout, stderr, want)
			}
			checkFourUnits(t, path)
		})
	}
}

// writeUnitWorkbook writes fourUnits to an XLSX file with ma_cap_tren
// merged over the three units under X-MTTQ, and more sheets before it
// when extra is set; the units' sheet is the active one.
func writeUnitWorkbook(t *testing.T, extra bool) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sheet := "Sheet1"
	if extra {
		if err := f.SetSheetName("Sheet1", "Hướng dẫn"); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellValue("Hướng dẫn", "A1", "Danh sách đơn vị ở trang sau"); err != nil {
			t.Fatal(err)
		}
		sheet = "Đơn vị"
		idx, err := f.NewSheet(sheet)
		if err != nil {
			t.Fatal(err)
		}
		f.SetActiveSheet(idx)
	}
	rows := [][]any{{"ma", "ten", "loai", "ma_cap_tren", "dia_ban"}}
	for i, u := range fourUnits {
		row := []any{u.code, u.name, u.kind, u.parent, u.place}
		if i > 1 {
			row[3] = nil // under the merge
		}
		rows = append(rows, row)
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.MergeCell(sheet, "D3", "D5"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "units.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportUnitsXLSXMergedParent: a merged ma_cap_tren puts every unit
// it covers under that parent, not at the top level.
func TestImportUnitsXLSXMergedParent(t *testing.T) {
	env, path := importEnv(t)
	code, stdout, stderr := runImport(t, env, writeUnitWorkbook(t, false))
	if want := "Đã nhập: 4 tạo mới, 0 cập nhật, 0 không đổi.\n"; code != 0 || stdout != want {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 0, %q", code, stdout, stderr, want)
	}
	checkFourUnits(t, path)
}

// TestImportUnitsXLSXActiveSheet: the sheet open when the workbook was
// saved is read and named; -sheet reads another.
func TestImportUnitsXLSXActiveSheet(t *testing.T) {
	book := writeUnitWorkbook(t, true)
	env, path := importEnv(t)
	code, stdout, stderr := runImport(t, env, book)
	wantOut := "Đã đọc trang tính \"Đơn vị\" (trang đang mở khi lưu tệp); sổ làm việc có 2 trang tính: \"Hướng dẫn\", \"Đơn vị\"." +
		" Muốn đọc trang khác: danvan import-units -sheet \"TÊN TRANG\" TỆP\n" +
		"Đã nhập: 4 tạo mới, 0 cập nhật, 0 không đổi.\n"
	if code != 0 || stdout != wantOut {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 0, %q", code, stdout, stderr, wantOut)
	}
	checkFourUnits(t, path)

	code, stdout, stderr = runImportArgs(t, env, "-sheet", "huong dan", book)
	if want := `dòng 1: thiếu cột "ma"`; code != 1 || !strings.Contains(stdout, `Đã đọc trang tính "Hướng dẫn";`) || !strings.Contains(stderr, want) {
		t.Errorf("-sheet huong dan: got exit %d, stdout %q, stderr %q; want that sheet read and %q", code, stdout, stderr, want)
	}
	code, _, stderr = runImportArgs(t, env, "-sheet", "Xã", book)
	if want := `không có trang tính "Xã" (các trang tính: "Hướng dẫn", "Đơn vị")`; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("-sheet Xã: got exit %d, stderr %q; want %q", code, stderr, want)
	}
}

// TestImportUnitsStrippedZeros: place codes Excel turned into numbers are
// found again; a number that could be a province or a commune is taken
// from the file's other places, or refused.
func TestImportUnitsStrippedZeros(t *testing.T) {
	env, path := importEnv(t)
	good := importHeader +
		"Z-TINH,Ủy ban MTTQ tỉnh Tuyên Quang,mttq,,8\n" +
		"Z-XA,Ủy ban MTTQ xã Thái Bình,mttq,Z-TINH,2494\n" +
		"Z-THON,Ban công tác Mặt trận thôn Đồng Mới,mttq,Z-XA,2494/Thôn Đồng Mới\n"
	code, stdout, stderr := runImport(t, env, writeTestFile(t, "units.csv", good))
	if want := "Đã nhập: 3 tạo mới, 0 cập nhật, 0 không đổi.\n"; code != 0 || stdout != want {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 0, %q", code, stdout, stderr, want)
	}
	viewStore(t, path, func(tx *store.Tx) {
		for c, want := range map[string]string{"Z-TINH": "08", "Z-XA": "02494", "Z-THON": "02494/thôn đồng mới"} {
			if u := unitByCode(t, tx, c); u.Place != want {
				t.Errorf("%s: place %q, want %q", c, u.Place, want)
			}
		}
	})

	bad := importHeader +
		"Z-1,Ủy ban MTTQ phường,mttq,,4\n" + // 04 Cao Bằng or 00004 Ba Đình: the file does not say
		"Z-2,Hội LHPN xã Thái Bình,phunu,Z-XA,2494\n" +
		"Z-3,Hội Nông dân,nongdan,Z-XA,024940\n" + // six digits: no code
		"Z-4,Hội CCB,ccb,Z-XA,08/Thôn Mới\n" // a village needs a commune
	code, _, stderr = runImport(t, env, writeTestFile(t, "units.csv", bad))
	for _, want := range []string{
		"có 3 lỗi",
		`dòng 2: địa bàn "4" có thể là mã tỉnh 04 hoặc mã xã 00004`,
		`dòng 4: không có địa bàn "024940"`,
		`dòng 5: không có địa bàn "08/Thôn Mới"`,
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("got exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
		}
	}
}

// TestImportUnitsHeaderTitles: titles as people write them are the
// columns; "stt" is skipped; an unknown column is reported on the
// header's own line.
func TestImportUnitsHeaderTitles(t *testing.T) {
	env, path := importEnv(t)
	body := "\n\nSTT,MÃ ĐƠN VỊ,Tên đơn vị,Loại,Mã cấp trên,Địa bàn\n" +
		"1,X-MTTQ,Ủy ban MTTQ xã Thái Bình,mttq,,02494\n" +
		"2,,,,,\n" // a numbered row left empty
	code, stdout, stderr := runImport(t, env, writeTestFile(t, "units.csv", body))
	if want := "Đã nhập: 1 tạo mới, 0 cập nhật, 0 không đổi.\n"; code != 0 || stdout != want {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 0, %q", code, stdout, stderr, want)
	}
	viewStore(t, path, func(tx *store.Tx) {
		if u := unitByCode(t, tx, "X-MTTQ"); u.Name != "Ủy ban MTTQ xã Thái Bình" || u.Place != "02494" {
			t.Errorf("X-MTTQ: %+v", u)
		}
	})
	code, _, stderr = runImport(t, env, writeTestFile(t, "units.csv", "\n\nMã,Tên,Loại,Ghi chú\nX,Y,mttq,z\n"))
	if want := `dòng 3: không hỗ trợ cột "Ghi chú"`; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("unknown column: got exit %d, stderr %q; want %q", code, stderr, want)
	}
}

// TestImportUnitsUnreadableFiles: a file that cannot be read is explained
// in the configured language, by line where there is one, and nothing is
// written.
func TestImportUnitsUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, body string
		wantVi, wantEn   string
	}{
		{"empty", "units.csv", "",
			"Chưa nhập tệp units.csv: không đọc được tệp, chưa ghi gì vào dữ liệu:\n  tệp trống: dòng đầu phải là tiêu đề các cột",
			"units.csv was not imported: the file cannot be read, nothing was written:\n  the file is empty"},
		{"duplicate column", "units.csv", "ma,ten,loai,Mã\nX,Y,mttq,X\n",
			"Chưa nhập tệp units.csv: có 1 lỗi, chưa ghi gì vào dữ liệu. Sửa các dòng sau rồi nhập lại:\n  dòng 1: cột \"ma\" và cột \"Mã\" là cùng một cột (ma)",
			"line 1: columns \"ma\" and \"Mã\" are the same column (ma)"},
		{"unclosed quote", "units.csv", importHeader + "X,\"Ủy ban MTTQ,mttq,,\nY,Hội LHPN,phunu,X,\n",
			"  dòng 2: có ô mở dấu ngoặc kép (\") mà không đóng",
			"line 2: a cell opens a double quote (\") and never closes it"},
		{"not a table", "units.ods", "PK",
			"  chỉ đọc được tệp .csv, .txt và .xlsx, không đọc tệp .ods",
			"only .csv, .txt and .xlsx files can be read, not .ods"},
		{"not a workbook", "units.xlsx", importHeader,
			"  tệp không phải sổ làm việc .xlsx hợp lệ",
			"the file is not a valid .xlsx workbook"},
		{"missing", "", "",
			"  không có tệp này",
			"there is no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "gone.csv")
			if tt.file != "" {
				file = writeTestFile(t, tt.file, tt.body)
			}
			for _, lang := range []struct{ env, want string }{{"", tt.wantVi}, {"DANVAN_BOT_LANGUAGE=en", tt.wantEn}} {
				env, path := importEnv(t, lang.env)
				code, stdout, stderr := runImport(t, env, file)
				if code != 1 || stdout != "" || !strings.Contains(stderr, lang.want) {
					t.Errorf("%s: got exit %d, stdout %q, stderr %q; want exit 1 and %q", lang.env, code, stdout, stderr, lang.want)
				}
				for _, english := range []string{"appears twice", "bare \"", "zip:", "not a .csv", "needs a header row"} {
					if strings.Contains(stderr, english) {
						t.Errorf("%s: stderr %q has the reader's own words %q", lang.env, stderr, english)
					}
				}
				assertNoStore(t, path)
			}
		})
	}
	// A stray quote inside a name is text.
	env, path := importEnv(t)
	body := importHeader + "X,Hội \"Người cao tuổi\" xã Thái Bình,khac,,02494\n"
	if code, stdout, stderr := runImport(t, env, writeTestFile(t, "units.csv", body)); code != 0 {
		t.Fatalf("stray quote: got exit %d, stdout %q, stderr %q; want exit 0", code, stdout, stderr)
	}
	viewStore(t, path, func(tx *store.Tx) {
		if u := unitByCode(t, tx, "X"); u.Name != `Hội "Người cao tuổi" xã Thái Bình` {
			t.Errorf("stray quote: name %q", u.Name)
		}
	})
}

// assertNoStore checks that a refused file did not even create the store.
func assertNoStore(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store file after a refused import: got %v, want it not created", err)
	}
}
