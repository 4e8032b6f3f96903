// Package table reads a spreadsheet-like file whose first non-blank row
// names the columns: a CSV or tab-separated text file, or one sheet of an
// XLSX workbook. Each data row comes back as a map from column key to cell,
// with its line (in a workbook, the row number), so problems can be
// reported as "dòng N: …".
//
// Text files come as Excel and Notepad save them on Vietnamese Windows:
// UTF-8 with or without a byte-order mark, UTF-16 with one ("Unicode
// Text"), or, when the bytes are not UTF-8, Windows-1258 (the "ANSI" code
// page). The separator is a comma, a semicolon (Excel with a Vietnamese
// list separator) or a tab, whichever the header line uses.
//
// What stops a file from being read is an [*Error], whose [Problem] code
// callers turn into their reader's language.
package table

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"danvan/names"
)

// Table is what a file holds.
type Table struct {
	// Header holds the column keys (see [Key]), in file order; "" for a
	// column without a title, whose cells are dropped.
	Header []string
	// Titles holds the header cells as written, trimmed.
	Titles []string
	// HeaderLine is the header's line.
	HeaderLine int
	// Rows are the data rows; blank rows are skipped.
	Rows []Row
	// Sheet is the sheet read and Sheets every sheet, for a workbook.
	Sheet  string
	Sheets []string
}

// Row is one data row.
type Row struct {
	Line  int
	Cells map[string]string
}

// Get returns the cell of the column with the given key, trimmed ("" if
// absent).
func (r Row) Get(column string) string { return strings.TrimSpace(r.Cells[column]) }

// Options change how a file is read.
type Options struct {
	// Sheet names the workbook sheet to read; "" reads the sheet that was
	// active when the workbook was saved.
	Sheet string
	// Aliases maps column keys to the keys they stand for, as
	// "ten_don_vi" → "ten".
	Aliases map[string]string
	// Columns are the keys a header is expected to have. Rows above the
	// first one naming at least two of them (a title such as "DANH SÁCH
	// ĐƠN VỊ", a date) are skipped; without Columns, or when no row names
	// two, the header is the first non-blank row.
	Columns []string
}

// titleRows is how far down a header is looked for below title rows.
const titleRows = 10

// Key returns the key of a column title: folded as [names.Fold] does
// (lower case, no diacritics), with spaces as "_", so "Mã cấp trên",
// "MA_CAP_TREN" and "ma cap tren" are all "ma_cap_tren".
func Key(title string) string { return strings.ReplaceAll(names.Fold(title), " ", "_") }

// Problem is what stops a file from being read.
type Problem string

// The problems. Error.Value and Error.List hold what the comment says.
const (
	NotTable        Problem = "not_table"        // Value: the file's extension
	NotFound        Problem = "not_found"        // no such file
	Denied          Problem = "denied"           // no permission to read it
	Unreadable      Problem = "unreadable"       // Value: the system's reason
	NotWorkbook     Problem = "not_workbook"     // Value: the reader's reason
	NoSheet         Problem = "no_sheet"         // Value: the sheet asked for; List: the workbook's sheets
	Empty           Problem = "empty"            // Value: the sheet, for a workbook
	DuplicateColumn Problem = "duplicate_column" // Value: the column key; List: the two titles
	UnclosedQuote   Problem = "unclosed_quote"   // Line: where the quoted cell starts
	BadText         Problem = "bad_text"         // Value: the parser's reason
)

// StrayByte is BadText's Value for a UTF-8 file with a byte that is not
// UTF-8 (Error.Line names its line).
const StrayByte = "stray_byte"

// Error is a file that cannot be read.
type Error struct {
	// Line is the line at fault, 0 when the file as a whole is.
	Line    int
	Problem Problem
	Value   string
	List    []string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(string(e.Problem))
	if e.Value != "" {
		fmt.Fprintf(&b, " %q", e.Value)
	}
	if len(e.List) > 0 {
		fmt.Fprintf(&b, " %q", e.List)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ReadFile reads a .csv, .txt, .xlsx or .xlsm file.
func ReadFile(path string, opt Options) (*Table, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".xlsx", ".xlsm":
		return readXLSX(path, opt)
	case ".csv", ".txt", ".tsv":
		f, err := os.Open(path)
		if err != nil {
			return nil, openError(err)
		}
		defer f.Close()
		return ReadCSV(f, opt)
	default:
		return nil, &Error{Problem: NotTable, Value: ext}
	}
}

func openError(err error) *Error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Problem: NotFound, Err: err}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Problem: Denied, Err: err}
	}
	return &Error{Problem: Unreadable, Value: err.Error(), Err: err}
}

// ReadCSV reads delimited text with a header row.
func ReadCSV(r io.Reader, opt Options) (*Table, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, openError(err)
	}
	text, err := decode(data)
	var mixed *mixedError
	if errors.As(err, &mixed) {
		return nil, &Error{Line: mixed.line, Problem: BadText, Value: StrayByte, Err: err}
	}
	if err != nil {
		return nil, &Error{Problem: BadText, Value: err.Error(), Err: err}
	}
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = delimiter(text)
	cr.FieldsPerRecord = -1
	// A quote inside an unquoted cell, as in Hội "Người cao tuổi", is text.
	cr.LazyQuotes = true
	var records [][]string
	var lines []int
	var lastLine, lastCol int // where the last record's last cell starts
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &Error{Line: pe.StartLine, Problem: BadText, Value: pe.Err.Error(), Err: err}
			}
			return nil, openError(err)
		}
		line, _ := cr.FieldPos(0)
		lastLine, lastCol = cr.FieldPos(len(rec) - 1)
		records = append(records, rec)
		lines = append(lines, line)
	}
	if len(records) > 0 && unclosed(text, lastLine, lastCol) {
		return nil, &Error{Line: lastLine, Problem: UnclosedQuote}
	}
	return build(records, lines, opt)
}

var (
	utf8BOM    = []byte("\xef\xbb\xbf")
	utf16LEBOM = []byte("\xff\xfe")
	utf16BEBOM = []byte("\xfe\xff")
)

// decode returns the text as UTF-8, without a byte-order mark.
func decode(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, utf16LEBOM) || bytes.HasPrefix(data, utf16BEBOM) {
		// ExpectBOM: the mark says which byte order, and is dropped.
		text, _, err := transform.Bytes(unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder(), data)
		return text, err
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if utf8.Valid(data) {
		return data, nil
	}
	// UTF-8 letters and bytes that are not UTF-8 in one file: a stray
	// byte pasted into a UTF-8 file. Read as Windows-1258, its every
	// letter would turn to garbage; the line is named instead.
	if line, mixed := strayByte(data); mixed {
		return nil, &mixedError{line: line}
	}
	// Not UTF-8: Excel's "CSV" on Vietnamese Windows is Windows-1258, which
	// writes most tone marks as combining characters; compose them.
	text, err := charmap.Windows1258.NewDecoder().Bytes(data)
	if err != nil {
		return nil, err
	}
	return norm.NFC.Bytes(text), nil
}

// delimiter picks the separator — a tab, a semicolon (Excel's list
// separator in a Vietnamese locale) or a comma — from the first lines that
// are not blank: the one that occurs, outside quotes, the same number of
// times on most of them. A spreadsheet writes every column on every line,
// so a title line such as "Danh sách đơn vị xã A, huyện B;;;" does not
// mislead it, nor does a comma inside a quoted title.
func delimiter(text []byte) rune {
	const lines = 10
	candidates := []rune{'\t', ';', ','}
	counts := make([][]int, len(candidates))
	n := 0
	for line := range bytes.Lines(text) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		for i, c := range candidates {
			counts[i] = append(counts[i], unquotedCount(line, c))
		}
		if n++; n == lines {
			break
		}
	}
	best, bestScore := ',', 0
	for i, c := range candidates {
		if score := consistency(counts[i]); score > bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// unquotedCount counts sep in line outside double quotes.
func unquotedCount(line []byte, sep rune) int {
	n, quoted := 0, false
	for _, r := range string(line) {
		switch {
		case r == '"':
			quoted = !quoted
		case r == sep && !quoted:
			n++
		}
	}
	return n
}

// consistency is how many lines share the most frequent non-zero count.
func consistency(counts []int) int {
	freq := map[int]int{}
	best := 0
	for _, c := range counts {
		if c == 0 {
			continue
		}
		freq[c]++
		best = max(best, freq[c])
	}
	return best
}

// unclosed reports whether the cell starting at line, col (1-based, in
// bytes) is a quoted cell that the end of the text closed: with LazyQuotes
// the reader takes the rest of the file into such a cell. Only the last
// cell of the last record can be one. A quoted cell is closed when it ends
// in an odd run of quotes: an even one is escaped quotes ("").
func unclosed(text []byte, line, col int) bool {
	off := 0
	for range line - 1 {
		i := bytes.IndexByte(text[off:], '\n')
		if i < 0 {
			return false
		}
		off += i + 1
	}
	off += col - 1
	if off >= len(text) || text[off] != '"' {
		return false
	}
	rest := bytes.TrimRight(text[off+1:], "\r\n")
	quotes := len(rest) - len(bytes.TrimRight(rest, `"`))
	return quotes%2 == 0
}

func readXLSX(path string, opt Options) (*Table, error) {
	f, err := excelize.OpenFile(path)
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) { // missing, forbidden: not the file's fault
		return nil, openError(err)
	}
	if err != nil {
		return nil, &Error{Problem: NotWorkbook, Value: err.Error(), Err: err}
	}
	defer f.Close()
	sheets := f.GetSheetList()
	sheet, err := pickSheet(f, sheets, opt.Sheet)
	if err != nil {
		return nil, err
	}
	all, err := f.GetRows(sheet)
	if err != nil {
		return nil, &Error{Problem: NotWorkbook, Value: err.Error(), Err: err}
	}
	merges, err := f.GetMergeCells(sheet, true)
	if err != nil {
		return nil, &Error{Problem: NotWorkbook, Value: err.Error(), Err: err}
	}
	fillMerges(all, merges)
	lines := make([]int, len(all))
	for i := range all {
		lines[i] = i + 1
	}
	t, err := build(all, lines, opt)
	var e *Error
	if errors.As(err, &e) && e.Problem == Empty {
		e.Value = sheet
	}
	if err != nil {
		return nil, err
	}
	t.Sheet, t.Sheets = sheet, sheets
	return t, nil
}

// pickSheet returns the sheet called want (compared as [names.Fold] keys
// if no name is exactly it), or the active sheet if want is "".
func pickSheet(f *excelize.File, sheets []string, want string) (string, error) {
	if len(sheets) == 0 {
		return "", &Error{Problem: NoSheet, Value: want}
	}
	if want == "" {
		if name := f.GetSheetName(f.GetActiveSheetIndex()); name != "" {
			return name, nil
		}
		return sheets[0], nil
	}
	var folded []string
	for _, s := range sheets {
		if s == want {
			return s, nil
		}
		if names.Fold(s) == names.Fold(want) {
			folded = append(folded, s)
		}
	}
	if len(folded) == 1 {
		return folded[0], nil
	}
	return "", &Error{Problem: NoSheet, Value: want, List: sheets}
}

// fillMerges gives every cell of a merged range the value of its top-left
// cell, where Excel shows it and GetRows alone leaves it. Rows that were
// blank stay blank, and no row is added below the sheet's last one, so a
// merge that runs past the data makes no row of its own.
func fillMerges(rows [][]string, merges []excelize.MergeCell) {
	wasBlank := make([]bool, len(rows))
	for i, r := range rows {
		wasBlank[i] = blank(r)
	}
	for _, m := range merges {
		c0, r0, err1 := excelize.CellNameToCoordinates(m.GetStartAxis())
		c1, r1, err2 := excelize.CellNameToCoordinates(m.GetEndAxis())
		if err1 != nil || err2 != nil || r0 > len(rows) || c0 > len(rows[r0-1]) {
			continue
		}
		v := rows[r0-1][c0-1]
		if v == "" {
			continue
		}
		for r := r0; r <= min(r1, len(rows)); r++ {
			if wasBlank[r-1] {
				continue
			}
			for len(rows[r-1]) < c1 {
				rows[r-1] = append(rows[r-1], "")
			}
			for c := c0; c <= c1; c++ {
				rows[r-1][c-1] = v
			}
		}
	}
}

// build turns records into rows keyed by the header (see
// Options.Columns).
func build(records [][]string, lines []int, opt Options) (*Table, error) {
	aliases := opt.Aliases
	first := -1
	for i, rec := range records {
		if !blank(rec) {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, &Error{Problem: Empty}
	}
	if h := headerRow(records, first, opt); h >= 0 {
		first = h
	}
	t := &Table{
		Header:     make([]string, len(records[first])),
		Titles:     make([]string, len(records[first])),
		HeaderLine: lines[first],
	}
	seen := map[string]int{}
	for i, title := range records[first] {
		title = names.Clean(title)
		key := Key(title)
		if a, ok := aliases[key]; ok {
			key = a
		}
		if j, ok := seen[key]; ok && key != "" {
			return nil, &Error{Line: lines[first], Problem: DuplicateColumn, Value: key, List: []string{t.Titles[j], title}}
		}
		seen[key] = i
		t.Header[i], t.Titles[i] = key, title
	}
	for i := first + 1; i < len(records); i++ {
		if blank(records[i]) {
			continue
		}
		cells := make(map[string]string, len(t.Header))
		for j, v := range records[i] {
			if j < len(t.Header) && t.Header[j] != "" {
				cells[t.Header[j]] = v
			}
		}
		t.Rows = append(t.Rows, Row{Line: lines[i], Cells: cells})
	}
	return t, nil
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// headerRow is the first record among the titleRows from first that names
// at least two of opt.Columns; -1 when none does.
func headerRow(records [][]string, first int, opt Options) int {
	if len(opt.Columns) < 2 {
		return -1
	}
	want := make(map[string]bool, len(opt.Columns))
	for _, c := range opt.Columns {
		want[c] = true
	}
	for i := first; i < len(records) && i < first+titleRows; i++ {
		n := 0
		for _, title := range records[i] {
			key := Key(names.Clean(title))
			if a, ok := opt.Aliases[key]; ok {
				key = a
			}
			if want[key] {
				n++
			}
		}
		if n >= 2 {
			return i
		}
	}
	return -1
}

// mixedError is a file of UTF-8 text with a byte that is not UTF-8 on line.
type mixedError struct{ line int }

func (e *mixedError) Error() string {
	return fmt.Sprintf("line %d: a byte that is not UTF-8 in UTF-8 text", e.line)
}

// strayByte reports whether data is UTF-8 text with a few bytes that are
// not UTF-8 — more multi-byte UTF-8 letters than such bytes (a Windows-1258
// file forms a UTF-8 letter only by chance) — and the line of the first.
func strayByte(data []byte) (line int, mixed bool) {
	line, badLine, letters, bad := 1, 0, 0, 0
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			bad++
			if badLine == 0 {
				badLine = line
			}
		case size > 1:
			letters++
		case r == '\n':
			line++
		}
		i += size
	}
	return badLine, bad > 0 && letters > bad
}
