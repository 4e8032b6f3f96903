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

// importTimeout bounds an import: a whole province's units take seconds.
const importTimeout = 10 * time.Minute

// importUnitsCommand runs "danvan import-units [-config FILE] units.csv|units.xlsx":
// every unit in the file is created or updated by code, all or nothing.
func importUnitsCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("import-units", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (TOML); default: built-in defaults")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: danvan import-units [-config FILE] units.csv|units.xlsx")
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

	rows, problems, err := readUnitFile(file, places.Default())
	if err != nil {
		fmt.Fprintf(stderr, "danvan: %s: %v\n", file, err)
		return 1
	}
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

// readUnitFile reads and checks the columns and places of a unit file;
// the rest is checked against the store by ImportUnits.
func readUnitFile(file string, dir *places.Directory) ([]store.ImportRow, []messages.ImportProblem, error) {
	header, rows, err := table.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	var problems []messages.ImportProblem
	known := map[string]bool{}
	for _, h := range header {
		known[h] = true
		if h != "" && !slices.Contains(importColumns, h) {
			problems = append(problems, messages.ImportProblem{Line: 1, Problem: "unknown_column", Value: h})
		}
	}
	for _, h := range importColumns[:3] {
		if !known[h] {
			problems = append(problems, messages.ImportProblem{Line: 1, Problem: "missing_column", Value: h})
		}
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	out := make([]store.ImportRow, 0, len(rows))
	for _, r := range rows {
		row := store.ImportRow{
			Line: r.Line, Code: names.Clean(r.Get("ma")), Name: names.Clean(r.Get("ten")),
			Kind: strings.ToLower(names.Clean(r.Get("loai"))), ParentCode: names.Clean(r.Get("ma_cap_tren")),
			Place:      names.Clean(r.Get("dia_ban")),
			KeepParent: !known["ma_cap_tren"], KeepPlace: !known["dia_ban"],
		}
		if row.Place != "" && !validPlace(dir, row.Place) {
			problems = append(problems, messages.ImportProblem{Line: r.Line, Problem: "unknown_place", Value: row.Place})
			row.Place = "" // reported; the rest of the line is still checked
		}
		out = append(out, row)
	}
	return out, problems, nil
}

// validPlace accepts an official code, or "<commune code>/<village name>".
func validPlace(dir *places.Directory, place string) bool {
	commune, village, isVillage := strings.Cut(place, "/")
	p, ok := dir.Lookup(strings.TrimSpace(commune))
	if !isVillage {
		return ok
	}
	return ok && p.Parent != "" && names.Clean(village) != ""
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
