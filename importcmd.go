package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"danvan/admin"
	"danvan/config"
	"danvan/messages"
	"danvan/names"
	"danvan/places"
	"danvan/store"
	"danvan/table"
)

// importColumns are the columns of a unit file; ma, ten and loai are
// required.
var importColumns = []string{"ma", "ten", "loai", "ma_cap_tren", "dia_ban"}

// importAliases are other titles the columns go by in existing lists;
// titles are compared as table.Key makes them ("Tên đơn vị" is
// "ten_don_vi").
var importAliases = map[string]string{"ten_don_vi": "ten", "ma_don_vi": "ma"}

// ignoredColumns may be in a unit file and are not read: "stt", the row
// number of Vietnamese lists.
var ignoredColumns = []string{"stt"}

// importTimeout bounds an import: a whole province's units take seconds.
const importTimeout = 10 * time.Minute

// importUnitsCommand runs "danvan import-units [-config FILE] units.csv|units.xlsx":
// every unit in the file is created or updated by code, all or nothing.
func importUnitsCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("import-units", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (TOML); default: built-in defaults")
	sheet := fs.String("sheet", "", "workbook sheet to read; default: the one open when the file was saved")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: danvan import-units [-config FILE] [-sheet NAME] units.csv|units.xlsx")
		return 2
	}
	cfg, ok := loadConfigFile("import-units", *path, stderr, environ, false)
	if !ok {
		return 1
	}
	catalog, err := messages.Load(cfg.Location())
	if err != nil {
		fmt.Fprintln(stderr, "danvan:", err)
		return 1
	}
	lang, _ := messages.ParseLang(cfg.Bot.Language)
	p := catalog.For(lang)
	file := fs.Arg(0)

	t, err := table.ReadFile(file, table.Options{Sheet: *sheet, Aliases: importAliases, Columns: importColumns})
	if err != nil {
		return printReadError(stderr, p, file, err)
	}
	if len(t.Sheets) > 1 {
		fmt.Fprintln(stdout, p.Text(messages.ImportSheet{Sheet: t.Sheet, Sheets: t.Sheets, Chosen: *sheet != ""}))
	}
	rows, problems := unitRows(t, places.Default())
	if rows == nil { // the columns are wrong: no line can be read, and the store is not touched
		return printImportProblems(stderr, p, file, problems)
	}
	// The running bot imports when it answers on the admin socket;
	// otherwise the store is opened here.
	// Ctrl-C stops the wait; a bot that accepts and never answers does
	// not hang the command for ever.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	req := importArgs{File: filepath.Base(file), Rows: rows, Problems: problems}
	var reply importReply
	err = adminClient(cfg).Call(ctx, opImportUnits, req, &reply)
	if admin.Unreachable(err) {
		var st *store.Store
		if st, err = openStore(cfg, err); err != nil {
			return reportError(stderr, p, err)
		}
		defer st.Close()
		reply.Summary, reply.Problems, err = importRows(ctx, st, req, time.Now())
	}
	if err != nil {
		return reportError(stderr, p, err)
	}
	if len(reply.Problems) > 0 {
		return printImportProblems(stderr, p, file, reply.Problems)
	}
	fmt.Fprintln(stdout, p.Text(messages.ImportSummary(reply.Summary)))
	return 0
}

// importRows checks every row against the store and, when neither the
// file nor the store has a problem, creates or updates the units in one
// transaction audited as the command line's. Otherwise it writes nothing
// and returns every problem, the file's first.
func importRows(ctx context.Context, st *store.Store, args importArgs, now time.Time) (store.ImportSummary, []messages.ImportProblem, error) {
	problems := slices.Clone(args.Problems)
	var sum store.ImportSummary
	err := st.Update(ctx, func(tx *store.Tx) error {
		problems = problems[:len(args.Problems)]
		var bad []store.ImportProblem
		var err error
		sum, bad, err = tx.ImportUnits(args.Rows, now)
		for _, b := range bad {
			problems = append(problems, messages.ImportProblem(b))
		}
		if err == nil && len(problems) > 0 {
			err = store.ErrImport
		}
		if err != nil {
			return err // ErrImport rolls everything back: a failed import leaves no trace
		}
		return tx.Audit(store.AuditEntry{
			At: now, ActorName: "CLI", Action: store.AuditUnitsImport, Target: args.File,
			Detail: fmt.Sprintf("%d/%d/%d", sum.Created, sum.Updated, sum.Unchanged),
		})
	})
	if errors.Is(err, store.ErrImport) {
		return store.ImportSummary{}, problems, nil
	}
	return sum, problems, err
}

// printImportProblems tells that nothing was imported and lists every
// problem by line; it returns the exit status.
func printImportProblems(stderr io.Writer, p messages.Printer, file string, problems []messages.ImportProblem) int {
	slices.SortStableFunc(problems, func(a, b messages.ImportProblem) int { return a.Line - b.Line })
	fmt.Fprintln(stderr, p.Text(messages.ImportFailed{File: filepath.Base(file), Problems: len(problems)}))
	for _, pr := range problems {
		fmt.Fprintln(stderr, "  "+p.Text(pr))
	}
	return 1
}

// printReadError tells that a file could not be read, in the catalog's
// words when table says why; it returns the exit status.
func printReadError(stderr io.Writer, p messages.Printer, file string, err error) int {
	var te *table.Error
	if !errors.As(err, &te) {
		fmt.Fprintf(stderr, "danvan: %s: %v\n", file, err)
		return 1
	}
	fmt.Fprintln(stderr, p.Text(messages.ImportFailed{File: filepath.Base(file), Problems: 1, Unread: te.Line == 0}))
	fmt.Fprintln(stderr, "  "+p.Text(messages.ImportFileProblem{Line: te.Line, Problem: string(te.Problem), Value: te.Value, List: te.List}))
	return 1
}

// unitRows checks the columns and places of a unit file; the rest is
// checked against the store by ImportUnits. Rows is nil when the columns
// are wrong.
func unitRows(t *table.Table, dir *places.Directory) ([]store.ImportRow, []messages.ImportProblem) {
	var problems []messages.ImportProblem
	known := map[string]bool{}
	for i, h := range t.Header {
		known[h] = true
		if h != "" && !slices.Contains(importColumns, h) && !slices.Contains(ignoredColumns, h) {
			problems = append(problems, messages.ImportProblem{Line: t.HeaderLine, Problem: "unknown_column", Value: t.Titles[i]})
		}
	}
	for _, h := range importColumns[:3] {
		if !known[h] {
			problems = append(problems, messages.ImportProblem{Line: t.HeaderLine, Problem: "missing_column", Value: h})
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	out := make([]store.ImportRow, 0, len(t.Rows))
	var cells []placeCell
	for _, r := range t.Rows {
		if slices.IndexFunc(importColumns, func(c string) bool { return r.Get(c) != "" }) < 0 {
			continue // only ignored columns, as a numbered row with nothing else
		}
		row := store.ImportRow{
			Line: r.Line, Code: names.Clean(r.Get("ma")), Name: names.Clean(r.Get("ten")),
			Kind: strings.ToLower(names.Clean(r.Get("loai"))), ParentCode: names.Clean(r.Get("ma_cap_tren")),
			Place:      names.Clean(r.Get("dia_ban")),
			KeepParent: !known["ma_cap_tren"], KeepPlace: !known["dia_ban"],
		}
		if row.Place != "" {
			cells = append(cells, placeCell{row: len(out), candidates: placeCandidates(dir, row.Place)})
		}
		out = append(out, row)
	}
	return out, append(problems, resolvePlaces(dir, out, cells)...)
}

// resolvePlaces writes each row's place as its official code, or reports
// it and clears it, so the rest of the line is still checked. A number
// Excel shortened may fit a province and a commune ("8": 08 or 00008);
// the file's other places tell which province it is about.
func resolvePlaces(dir *places.Directory, rows []store.ImportRow, cells []placeCell) []messages.ImportProblem {
	var problems []messages.ImportProblem
	provinces := map[string]bool{}
	for _, pc := range cells {
		if len(pc.candidates) == 1 {
			provinces[provinceOf(dir, pc.candidates[0])] = true
		}
	}
	for _, pc := range cells {
		row := &rows[pc.row]
		c := pc.candidates
		if len(c) > 1 {
			c = slices.DeleteFunc(slices.Clone(c), func(code string) bool { return !provinces[provinceOf(dir, code)] })
		}
		switch {
		case len(pc.candidates) == 0:
			problems = append(problems, messages.ImportProblem{Line: row.Line, Problem: "unknown_place", Value: row.Place})
			row.Place = ""
		case len(c) != 1:
			number, _ := strconv.Atoi(communePart(row.Place))
			problems = append(problems, messages.ImportProblem{Line: row.Line, Problem: "ambiguous_place", Value: row.Place, Other: number})
			row.Place = ""
		default:
			if _, village, isVillage := strings.Cut(row.Place, "/"); isVillage {
				row.Place = c[0] + "/" + village
			} else {
				row.Place = c[0]
			}
		}
	}
	return problems
}

// placeCell is a row's dia_ban and the official codes it can mean.
type placeCell struct {
	row        int
	candidates []string
}

func communePart(place string) string {
	commune, _, _ := strings.Cut(place, "/")
	return strings.TrimSpace(commune)
}

// placeCandidates returns the codes a dia_ban cell can mean: an official
// code, or "<commune code>/<village name>" for the commune. A number that
// is no code and does not start with 0 may be one Excel stripped of its
// leading zeros ("02494" became 2494): padded to a province's two digits
// or a commune's five, it means each code that exists.
func placeCandidates(dir *places.Directory, place string) []string {
	_, village, isVillage := strings.Cut(place, "/")
	if isVillage && names.Clean(village) == "" {
		return nil
	}
	code := communePart(place)
	fits := func(code string) bool {
		p, ok := dir.Lookup(code)
		return ok && (!isVillage || p.Parent != "")
	}
	if _, ok := dir.Lookup(code); ok {
		if fits(code) {
			return []string{code}
		}
		return nil
	}
	if code == "" || code[0] == '0' || strings.Trim(code, "0123456789") != "" {
		return nil
	}
	var out []string
	for _, width := range []int{2, 5} {
		if len(code) < width {
			if padded := strings.Repeat("0", width-len(code)) + code; fits(padded) {
				out = append(out, padded)
			}
		}
	}
	return out
}

// provinceOf returns the code of the province a place is in.
func provinceOf(dir *places.Directory, code string) string {
	for {
		p, ok := dir.Lookup(code)
		if !ok || p.Parent == "" {
			return code
		}
		code = p.Parent
	}
}

// loadConfigFile loads the configuration; commands that do not talk to
// Telegram do not need a token.
func loadConfigFile(name, path string, stderr io.Writer, environ []string, needToken bool) (*config.Config, bool) {
	load := config.Load
	if !needToken {
		load = config.LoadOffline
	}
	cfg, problems := load(path, environ)
	if len(problems) > 0 {
		where := path
		if where == "" {
			where = "built-in defaults"
		}
		fmt.Fprintf(stderr, "danvan %s: the configuration (%s and environment) has %d problem(s):\n", name, where, len(problems))
		for _, p := range problems {
			fmt.Fprintln(stderr, "  "+p.String())
		}
		return nil, false
	}
	return cfg, true
}
