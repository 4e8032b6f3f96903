package table

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestReadCSV(t *testing.T) {
	in := "\xef\xbb\xbfMa, Ten ,loai\n08-MTTQ,\"Ủy ban MTTQ, tỉnh\",mttq\n\n  , ,\n08-BDV,Ban Dân vận,bandanvan\n"
	header, rows, err := ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(header, "|") != "ma|ten|loai" {
		t.Errorf("header %q, want ma|ten|loai (BOM gone, lower-cased, trimmed)", header)
	}
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
	for name, in := range map[string]string{
		"empty":          "",
		"duplicate head": "ma,ma\n1,2\n",
		"bad quotes":     "ma,ten\n1,\"unterminated\n",
	} {
		if _, _, err := ReadCSV(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestReadXLSX(t *testing.T) {
	path := filepath.Join(t.TempDir(), "units.xlsx")
	f := excelize.NewFile()
	rows := [][]any{{"ma", "ten", "loai"}, {"08-MTTQ", "Ủy ban MTTQ tỉnh", "mttq"}, {}, {"08-BDV", "Ban Dân vận", "bandanvan"}}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	header, got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(header) != 3 || len(got) != 2 || got[1].Line != 4 || got[1].Get("ten") != "Ban Dân vận" {
		t.Errorf("header %v rows %+v: want 2 rows, the second on row 4", header, got)
	}
	if _, _, err := ReadFile(filepath.Join(t.TempDir(), "units.ods")); err == nil {
		t.Error("an .ods file was accepted")
	}
}
