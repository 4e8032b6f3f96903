// Package table reads a spreadsheet-like file — CSV (UTF-8, with or
// without a byte-order mark) or the first sheet of an XLSX workbook — whose
// first row names the columns. Each data row comes back as a map from
// column name to cell, with its line (the header is line 1; in a workbook,
// the row number), so problems can be reported as "dòng N: …".
package table

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Row is one data row.
type Row struct {
	Line  int
	Cells map[string]string
}

// Get returns the cell of the named column, trimmed ("" if absent).
func (r Row) Get(column string) string { return strings.TrimSpace(r.Cells[column]) }

// ReadFile reads a .csv or .xlsx file. Column names are lower-cased and
// trimmed; blank rows are skipped.
func ReadFile(path string) (header []string, rows []Row, err error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx", ".xlsm":
		return readXLSX(path)
	case ".csv", ".txt":
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		return ReadCSV(f)
	}
	return nil, nil, fmt.Errorf("%s: not a .csv or .xlsx file", filepath.Base(path))
}

var bom = []byte("\xef\xbb\xbf")

// ReadCSV reads comma-separated UTF-8 text with a header row.
func ReadCSV(r io.Reader) (header []string, rows []Row, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	data = bytes.TrimPrefix(data, bom)
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	var records [][]string
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err // csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		records = append(records, rec)
		lines = append(lines, line)
	}
	return build(records, lines)
}

func readXLSX(path string) (header []string, rows []Row, err error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, nil, errors.New("the workbook has no sheet")
	}
	all, err := f.GetRows(sheets[0])
	if err != nil {
		return nil, nil, err
	}
	lines := make([]int, len(all))
	for i := range all {
		lines[i] = i + 1
	}
	return build(all, lines)
}

// build turns records into rows keyed by the header (the first non-blank
// record).
func build(records [][]string, lines []int) ([]string, []Row, error) {
	first := -1
	for i, rec := range records {
		if !blank(rec) {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, nil, errors.New("the file is empty: it needs a header row")
	}
	header := make([]string, len(records[first]))
	seen := map[string]bool{}
	for i, h := range records[first] {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" && seen[h] {
			return nil, nil, fmt.Errorf("line %d: column %q appears twice", lines[first], h)
		}
		seen[h] = true
		header[i] = h
	}
	var rows []Row
	for i := first + 1; i < len(records); i++ {
		if blank(records[i]) {
			continue
		}
		cells := make(map[string]string, len(header))
		for j, v := range records[i] {
			if j < len(header) && header[j] != "" {
				cells[header[j]] = v
			}
		}
		rows = append(rows, Row{Line: lines[i], Cells: cells})
	}
	return header, rows, nil
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}
