package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"danvan/store"
)

const samplePath = "samples/units-tuyenquang.csv"

// importHeader is the header of every unit file the tests write.
const importHeader = "ma,ten,loai,ma_cap_tren,dia_ban\n"

// newUnitLine is a good line that would create a unit and a village; a
// refused file that holds it must leave both out of the store.
const newUnitLine = "NEW-1,Ban công tác Mặt trận thôn Mới Toanh,mttq,02494-MTTQ,02494/Thôn Mới Toanh\n"

const newVillage = "02494/thôn mới toanh"

// runImport runs "danvan import-units file" in-process.
func runImport(t *testing.T, env []string, file string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = dispatch([]string{"import-units", file}, &out, &errOut, env)
	return code, out.String(), errOut.String()
}

// importEnv returns the environment of an import into a fresh store, and
// the store's path.
func importEnv(t *testing.T, extra ...string) ([]string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.db")
	return append([]string{"DANVAN_STORE_PATH=" + path}, extra...), path
}

func writeTestFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// viewStore opens the store at path, as the bot would after the import,
// and reads it.
func viewStore(t *testing.T, path string, fn func(tx *store.Tx)) {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	defer st.Close()
	if err := st.View(context.Background(), func(tx *store.Tx) error { fn(tx); return nil }); err != nil {
		t.Fatal(err)
	}
}

func unitByCode(t *testing.T, tx *store.Tx, code string) store.Unit {
	t.Helper()
	u, err := tx.UnitByCode(code)
	if err != nil {
		t.Fatalf("unit %s: %v", code, err)
	}
	return u
}

// importSample imports the Tuyên Quang sample into the store of env.
func importSample(t *testing.T, env []string) {
	t.Helper()
	if code, stdout, stderr := runImport(t, env, samplePath); code != 0 {
		t.Fatalf("import of the sample: exit %d, want 0\n%s%s", code, stdout, stderr)
	}
}

func TestImportUnitsSample(t *testing.T) {
	env, path := importEnv(t)
	steps := []struct {
		name       string
		wantStdout string
	}{
		{"first import", "Đã nhập: 85 tạo mới, 0 cập nhật, 0 không đổi.\n"},
		{"second import", "Đã nhập: 0 tạo mới, 0 cập nhật, 85 không đổi.\n"},
	}
	for _, st := range steps {
		code, stdout, stderr := runImport(t, env, samplePath)
		if code != 0 || stdout != st.wantStdout || stderr != "" {
			t.Errorf("%s: got exit %d, stdout %q, stderr %q; want exit 0, stdout %q, no stderr", st.name, code, stdout, stderr, st.wantStdout)
		}
	}
	viewStore(t, path, func(tx *store.Tx) {
		if got := tx.UnitCount(); got != 85 {
			t.Errorf("got %d units, want 85", got)
		}
		province := unitByCode(t, tx, "08-MTTQ")
		commune := unitByCode(t, tx, "02494-MTTQ")
		phuNu := unitByCode(t, tx, "02494-phunu")
		provincePhuNu := unitByCode(t, tx, "08-PHUNU")
		village := unitByCode(t, tx, "02494-T1-MTTQ")
		ward := unitByCode(t, tx, "02215-T1-MTTQ")
		tests := []struct {
			unit       store.Unit
			wantName   string
			wantKind   string
			wantParent uint64
			wantPlace  string
		}{
			{province, "Ủy ban MTTQ Việt Nam tỉnh Tuyên Quang", store.KindMTTQ, 0, "08"},
			{commune, "Ủy ban MTTQ xã Thái Bình", store.KindMTTQ, province.ID, "02494"},
			{phuNu, "Hội LHPN xã Thái Bình", store.KindPhuNu, commune.ID, "02494"},
			{provincePhuNu, "Hội LHPN tỉnh Tuyên Quang", store.KindPhuNu, province.ID, "08"},
			{village, "Ban công tác Mặt trận thôn Đồng Mới", store.KindMTTQ, commune.ID, "02494/thôn đồng mới"},
			{ward, "Ban công tác Mặt trận tổ dân phố 5", store.KindMTTQ, unitByCode(t, tx, "02215-MTTQ").ID, "02215/tổ dân phố 5"},
		}
		for _, tt := range tests {
			u := tt.unit
			if u.Name != tt.wantName || u.Kind != tt.wantKind || u.Parent != tt.wantParent || u.Place != tt.wantPlace {
				t.Errorf("%s: got name %q, kind %s, parent %d, place %q; want %q, %s, %d, %q",
					u.Code, u.Name, u.Kind, u.Parent, u.Place, tt.wantName, tt.wantKind, tt.wantParent, tt.wantPlace)
			}
		}
		top, _ := tx.Children(0)
		if len(top) != 2 {
			t.Errorf("got %d top-level units, want 2 (the province's Front and Ban Dân vận)", len(top))
		}
		under, _ := tx.Children(province.ID)
		if len(under) != 17 {
			t.Errorf("got %d units under 08-MTTQ, want 17 (5 organizations, 12 communes)", len(under))
		}
		for code, want := range map[string]string{
			"02494/thôn đồng mới": "Thôn Đồng Mới",
			"02215/tổ dân phố 5":  "Tổ dân phố 5",
			"02545/thôn mỏ ché":   "Thôn Mỏ Ché",
		} {
			v, err := tx.Village(code)
			if err != nil || v.Name != want {
				t.Errorf("village %s: got %+v (%v), want %q", code, v, err, want)
			}
		}
		if got := tx.SearchUnits("hoi lhpn xa thai binh", 5); len(got) == 0 || got[0].ID != phuNu.ID {
			t.Errorf(`search "hoi lhpn xa thai binh": got %+v, want %d first`, got, phuNu.ID)
		}
		// Each import is in the audit log, by the command line.
		log, err := tx.AuditLog(0, 10)
		if err != nil || len(log) != 2 {
			t.Fatalf("audit log %+v (%v), want the two imports", log, err)
		}
		for i, want := range []string{"0/0/85", "85/0/0"} { // newest first
			e := log[i]
			if e.Action != store.AuditUnitsImport || e.ActorName != "CLI" || e.ActorID != 0 || e.Target != filepath.Base(samplePath) || e.Detail != want {
				t.Errorf("audit entry %d: %+v, want units.import by CLI of %s with %s", i, e, filepath.Base(samplePath), want)
			}
		}
	})
}

func TestImportUnitsEnglish(t *testing.T) {
	env, _ := importEnv(t, "DANVAN_BOT_LANGUAGE=en")
	code, stdout, stderr := runImport(t, env, samplePath)
	if want := "Imported: 85 created, 0 updated, 0 unchanged.\n"; code != 0 || stdout != want {
		t.Errorf("got exit %d, stdout %q (stderr %q); want exit 0, %q", code, stdout, stderr, want)
	}
	bad := writeTestFile(t, "bad.csv", importHeader+"X-1,Tên,hoiphu,,\n")
	code, _, stderr = runImport(t, env, bad)
	if want := `line 2: no unit kind "hoiphu"`; code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "nothing was written") {
		t.Errorf("broken file in English: got exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}
}

func TestImportUnitsBrokenFiles(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		wants []string // in this order
	}{
		{
			name:  "unknown parent",
			body:  importHeader + newUnitLine + "NEW-2,Chi hội Phụ nữ thôn Mới Toanh,phunu,99-MTTQ,\n",
			wants: []string{"có 1 lỗi", `dòng 3: không có đơn vị cấp trên mã "99-MTTQ"`},
		},
		{
			name:  "unknown kind",
			body:  importHeader + newUnitLine + "NEW-2,Chi hội Phụ nữ thôn Mới Toanh,hoiphu,NEW-1,\n",
			wants: []string{"có 1 lỗi", `dòng 3: không có loại đơn vị "hoiphu"`},
		},
		{
			name:  "unknown place",
			body:  importHeader + newUnitLine + "NEW-2,Chi hội Phụ nữ thôn Mới Toanh,phunu,NEW-1,99999\n",
			wants: []string{"có 1 lỗi", `dòng 3: không có địa bàn "99999"`},
		},
		{
			name:  "village under a province",
			body:  importHeader + newUnitLine + "NEW-2,Chi hội Phụ nữ thôn Mới Toanh,phunu,NEW-1,08/Thôn Mới Toanh\n",
			wants: []string{"có 1 lỗi", `dòng 3: không có địa bàn "08/Thôn Mới Toanh"`},
		},
		{
			name:  "duplicate code",
			body:  importHeader + newUnitLine + "NEW-2,Chi hội Phụ nữ,phunu,NEW-1,\nnew-1,Chi hội Nông dân,nongdan,02494-MTTQ,\n",
			wants: []string{"có 1 lỗi", "dòng 4: mã new-1 đã có ở dòng 2"},
		},
		{
			name:  "missing column",
			body:  "ma,ten,ma_cap_tren,dia_ban\nNEW-1,Ban công tác Mặt trận thôn Mới Toanh,02494-MTTQ,02494/Thôn Mới Toanh\n",
			wants: []string{"có 1 lỗi", `dòng 1: thiếu cột "loai"`},
		},
		{
			name:  "unknown column",
			body:  "ma,ten,loai,ghichu\nNEW-1,Ban công tác Mặt trận thôn Mới Toanh,mttq,x\n",
			wants: []string{"có 1 lỗi", `dòng 1: không hỗ trợ cột "ghichu"`},
		},
		{
			name:  "a stored unit moved under its own descendant",
			body:  importHeader + newUnitLine + "08-MTTQ,Ủy ban MTTQ Việt Nam tỉnh Tuyên Quang,mttq,02494-PHUNU,08\n",
			wants: []string{"có 1 lỗi", "dòng 3: đơn vị 08-MTTQ nằm dưới chính đơn vị này"},
		},
		{
			// Blank lines and a quoted name over two lines still count.
			name: "lines counted as in the file",
			body: importHeader + newUnitLine + "\n" + `NEW-2,"Chi hội Phụ nữ` + "\n" + `thôn Mới Toanh",phunu,NEW-1,` + "\n" +
				"NEW-3,Chi hội Nông dân,nong dan,NEW-1,\n" +
				",Không mã,ccb,NEW-1,\n" +
				"NEW-5,,ccb,NEW-1,\n",
			wants: []string{
				"có 3 lỗi",
				`dòng 6: không có loại đơn vị "nong dan"`,
				"dòng 7: thiếu mã đơn vị",
				"dòng 8: đơn vị NEW-5 thiếu tên",
			},
		},
		{
			name: "every problem, in line order",
			body: importHeader + "NEW-2,Chi hội Phụ nữ,phunu,NEW-9,02494/Thôn Mới Toanh\n" + newUnitLine +
				"NEW-3,Chi hội Nông dân,nongdan,NEW-1,00000\n",
			wants: []string{"có 2 lỗi", `dòng 2: không có đơn vị cấp trên mã "NEW-9"`, `dòng 4: không có địa bàn "00000"`},
		},
	}
	env, path := importEnv(t)
	importSample(t, env)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeTestFile(t, "units.csv", tt.body)
			code, stdout, stderr := runImport(t, env, file)
			if code != 1 {
				t.Errorf("got exit %d, want 1\n%s", code, stderr)
			}
			if stdout != "" {
				t.Errorf("got stdout %q, want nothing", stdout)
			}
			if want := "Chưa nhập tệp units.csv: "; !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "chưa ghi gì vào dữ liệu") {
				t.Errorf("got stderr %q, want it to start %q and say nothing was written", stderr, want)
			}
			rest := stderr
			for _, want := range tt.wants {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("stderr lacks %q (or has it out of order):\n%s", want, stderr)
					continue
				}
				rest = rest[i+len(want):]
			}
			if got, want := strings.Count(stderr, "\n  dòng "), len(tt.wants)-1; got != want {
				t.Errorf("got %d problem lines, want %d:\n%s", got, want, stderr)
			}
			viewStore(t, path, func(tx *store.Tx) {
				if got := tx.UnitCount(); got != 85 {
					t.Errorf("got %d units, want the sample's 85", got)
				}
				if _, err := tx.UnitByCode("NEW-1"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("NEW-1: got %v, want ErrNotFound", err)
				}
				if _, err := tx.Village(newVillage); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("village %s: got %v, want ErrNotFound", newVillage, err)
				}
				if p := unitByCode(t, tx, "08-MTTQ"); p.Parent != 0 {
					t.Errorf("08-MTTQ moved under %d", p.Parent)
				}
				// Only the sample's import is logged: a refused file leaves no trace.
				if log, err := tx.AuditLog(0, 10); err != nil || len(log) != 1 {
					t.Errorf("audit log %+v (%v), want only the sample's import", log, err)
				}
			})
		})
	}
}

func TestImportUnitsGoodFiles(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"byte-order mark", "\ufeff" + importHeader + newUnitLine},
		{"Windows line ends", strings.ReplaceAll(importHeader+newUnitLine, "\n", "\r\n")},
		{"spaces round the commune of a village", importHeader + strings.Replace(newUnitLine, "02494/Thôn", " 02494 / Thôn ", 1)},
		{"columns in another order, upper case", "DIA_BAN,Ma,ten,ma_cap_tren,loai\n02494/thôn mới toanh,NEW-1,Ban công tác Mặt trận thôn Mới Toanh,02494-MTTQ,MTTQ\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, path := importEnv(t)
			importSample(t, env)
			code, stdout, stderr := runImport(t, env, writeTestFile(t, "units.csv", tt.body))
			if want := "Đã nhập: 1 tạo mới, 0 cập nhật, 0 không đổi.\n"; code != 0 || stdout != want {
				t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 0, %q", code, stdout, stderr, want)
			}
			viewStore(t, path, func(tx *store.Tx) {
				u := unitByCode(t, tx, "NEW-1")
				if u.Place != newVillage || u.Parent != unitByCode(t, tx, "02494-MTTQ").ID || u.Kind != store.KindMTTQ {
					t.Errorf("NEW-1: got %+v, want under 02494-MTTQ in %s", u, newVillage)
				}
				v, err := tx.Village(newVillage)
				if err != nil || v.Commune != "02494" {
					t.Errorf("village: got %+v (%v), want one in commune 02494", v, err)
				}
				if got := tx.UnitCount(); got != 86 {
					t.Errorf("got %d units, want 86", got)
				}
			})
		})
	}
}

func TestImportUnitsBrokenColumnsDoNotCreateTheStore(t *testing.T) {
	env, path := importEnv(t)
	file := writeTestFile(t, "units.csv", "ma,ten\nX,Y\n")
	code, _, stderr := runImport(t, env, file)
	if code != 1 || !strings.Contains(stderr, `dòng 1: thiếu cột "loai"`) {
		t.Errorf("got exit %d, stderr %q; want exit 1 and the missing column", code, stderr)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store file after a refused import: got %v, want it not created", err)
	}
}

func writeXLSX(t *testing.T, rows [][]any) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	for i, row := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "units.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportUnitsXLSX(t *testing.T) {
	header := []any{"ma", "ten", "loai", "ma_cap_tren", "dia_ban"}
	good := writeXLSX(t, [][]any{
		header,
		{"X-MTTQ", "Ủy ban MTTQ xã Thái Bình", "mttq", "", "02494"},
		{"X-PHUNU", "Hội LHPN xã Thái Bình", "phunu", "X-MTTQ", ""},
		{"X-T1", "Ban công tác Mặt trận thôn Đồng Mới", "mttq", "X-MTTQ", "02494/Thôn Đồng Mới"},
	})
	env, path := importEnv(t)
	code, stdout, stderr := runImport(t, env, good)
	if want := "Đã nhập: 3 tạo mới, 0 cập nhật, 0 không đổi.\n"; code != 0 || stdout != want {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want exit 0, %q", code, stdout, stderr, want)
	}
	viewStore(t, path, func(tx *store.Tx) {
		top := unitByCode(t, tx, "X-MTTQ")
		phuNu := unitByCode(t, tx, "X-PHUNU")
		village := unitByCode(t, tx, "X-T1")
		if top.Parent != 0 || top.Place != "02494" {
			t.Errorf("X-MTTQ: got %+v, want top level in 02494 (the code's leading zero kept)", top)
		}
		if phuNu.Parent != top.ID || phuNu.Place != "02494" {
			t.Errorf("X-PHUNU: got %+v, want under X-MTTQ in 02494", phuNu)
		}
		if village.Parent != top.ID || village.Place != "02494/thôn đồng mới" {
			t.Errorf("X-T1: got %+v, want under X-MTTQ in 02494/thon dong moi", village)
		}
	})

	bad := writeXLSX(t, [][]any{
		header,
		{"Y-MTTQ", "Ủy ban MTTQ xã Tân Trào", "mttq", "", "02545"},
		{"Y-PHUNU", "Hội LHPN xã Tân Trào", "hoiphu", "Y-MTTQ", ""},
	})
	code, _, stderr = runImport(t, env, bad)
	if want := `dòng 3: không có loại đơn vị "hoiphu"`; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("broken workbook: got exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}
	viewStore(t, path, func(tx *store.Tx) {
		if got := tx.UnitCount(); got != 3 {
			t.Errorf("got %d units after the broken workbook, want 3", got)
		}
	})
}

// TestImportUnitsThroughTheRunningBot: while the bot runs, import-units
// goes through it and says exactly what a direct import says.
func TestImportUnitsThroughTheRunningBot(t *testing.T) {
	tb := startSocketBot(t)
	env := []string{"DANVAN_STORE_PATH=" + tb.cfg.Store.Path}
	code, stdout, stderr := runImport(t, env, samplePath)
	if want := "Đã nhập: 85 tạo mới, 0 cập nhật, 0 không đổi.\n"; code != 0 || stdout != want || stderr != "" {
		t.Errorf("import through the bot: exit %d, stdout %q, stderr %q; want exit 0, %q", code, stdout, stderr, want)
	}
	bad := writeTestFile(t, "units.csv", importHeader+newUnitLine+"NEW-2,Chi hội Phụ nữ thôn Mới Toanh,hoiphu,NEW-1,99999\n")
	code, stdout, stderr = runImport(t, env, bad)
	wantErr := "Chưa nhập tệp units.csv: có 2 lỗi, chưa ghi gì vào dữ liệu. Sửa các dòng sau rồi nhập lại:\n" +
		"  dòng 3: không có địa bàn \"99999\" (cột dia_ban: mã tỉnh, mã xã, hoặc mã xã/tên thôn)\n" +
		"  dòng 3: không có loại đơn vị \"hoiphu\" (cột loai: mttq, phunu, nongdan, doanthanhnien, ccb, congdoan, chibo, bandanvan, khac)\n"
	if code != 1 || stdout != "" || stderr != wantErr {
		t.Errorf("broken file through the bot: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and:\n%s", code, stdout, stderr, wantErr)
	}
	err := tb.app.store.View(context.Background(), func(tx *store.Tx) error {
		if n := tx.UnitCount(); n != 85 {
			t.Errorf("%d units, want the sample's 85", n)
		}
		if _, err := tx.UnitByCode("NEW-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("NEW-1 from the refused file: %v, want ErrNotFound", err)
		}
		log, err := tx.AuditLog(0, 10)
		if err != nil || len(log) != 1 || log[0].ActorName != "CLI" || log[0].Action != store.AuditUnitsImport || log[0].Detail != "85/0/0" {
			t.Errorf("audit log %+v (%v), want the one import by CLI", log, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.logs.String(), "op=import-units") {
		t.Errorf("the bot's log does not show the import came through the socket:\n%s", tb.logs)
	}
}

// TestImportUnitsLockedWithoutSocket: a store held by a process that does
// not answer on the admin socket is refused at once, saying which socket
// and what to do, and nothing is written.
func TestImportUnitsLockedWithoutSocket(t *testing.T) {
	env, path := importEnv(t)
	importSample(t, env)
	held, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	file := writeTestFile(t, "units.csv", importHeader+newUnitLine)
	start := time.Now()
	code, stdout, stderr := runImport(t, env, file)
	elapsed := time.Since(start)
	socket := filepath.Join(filepath.Dir(path), "danvan.sock")
	want := "Tệp dữ liệu " + path + " đang do một tiến trình khác giữ (bot đang chạy?), nhưng không có bot trả lời qua " + socket
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "sudo -u danvan") || stdout != "" {
		t.Errorf("got exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, want)
	}
	if elapsed > 5*time.Second {
		t.Errorf("the import took %v to give up, want a few seconds at most", elapsed)
	}
	err = held.View(context.Background(), func(tx *store.Tx) error {
		if got := tx.UnitCount(); got != 85 {
			t.Errorf("got %d units, want 85", got)
		}
		if _, err := tx.UnitByCode("NEW-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("NEW-1: got %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImportWithoutOptionalColumnsKeepsParentAndPlace: a file that only
// renames units must not move them or clear their places.
func TestImportWithoutOptionalColumnsKeepsParentAndPlace(t *testing.T) {
	env, path := importEnv(t)
	importSample(t, env)
	file := writeTestFile(t, "rename.csv", "ma,ten,loai\n02494-PHUNU,Hội LHPN xã Thái Bình (đổi tên),phunu\n")
	if code, out, errOut := runImport(t, env, file); code != 0 || !strings.Contains(out, "1 cập nhật") {
		t.Fatalf("rename import: exit %d, %q %q", code, out, errOut)
	}
	viewStore(t, path, func(tx *store.Tx) {
		u := unitByCode(t, tx, "02494-PHUNU")
		mttq := unitByCode(t, tx, "02494-MTTQ")
		if u.Name != "Hội LHPN xã Thái Bình (đổi tên)" || u.Parent != mttq.ID || u.Place != "02494" {
			t.Errorf("after a rename-only file: %+v, want the new name, still under 02494-MTTQ in 02494", u)
		}
	})
}
