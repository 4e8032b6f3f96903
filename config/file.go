package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// entry is where a key sits in the file.
type entry struct {
	key        string // dotted path from the root of the document
	line       int
	start, end int  // bytes of the key-value, or of a table header's name
	header     bool // a [table] or [[array]] header rather than a key-value
	// exprStart and exprEnd delimit the top-level expression holding the
	// entry: what must be blanked to drop the entry from the document.
	exprStart, exprEnd int
	kind               unstable.Kind   // of the value; Invalid for a header
	elems              []unstable.Kind // of the elements, when the value is an array
}

// decodeFile decodes data, the content of the file at path, over the
// defaults. It returns the configuration, the line of every key in the file,
// and the problems found. complete is false when the file could not be read
// to the end, which leaves later keys at their defaults.
//
// go-toml stops at the first error, so a value of the wrong type would hide
// every problem after it. decodeFile therefore checks the types itself first
// and blanks out each bad key-value (keeping the line breaks, so that lines
// stay true) before decoding; an error go-toml still finds in a key-value is
// reported and blanked the same way, and decoding starts again.
func decodeFile(path string, data []byte) (cfg Config, lines map[string]int, problems []Problem, complete bool) {
	entries := index(data)
	lines = make(map[string]int)
	for _, e := range entries {
		if _, ok := lines[e.key]; !ok {
			lines[e.key] = e.line
		}
	}

	types := make(map[string]reflect.Type)
	for _, f := range fields() {
		types[f.key] = f.typ
	}
	doc := slices.Clone(data)
	for _, e := range entries {
		t, known := types[e.key]
		if !known || e.header {
			continue // unknown keys are left to go-toml's strict mode
		}
		if msg := checkType(e, t); msg != "" {
			problems = append(problems, Problem{File: path, Line: e.line, Key: e.key, Message: msg})
			blank(doc, &e)
		}
	}

	// Each round blanks one more expression, so this ends.
	for {
		cfg = Default()
		err := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields().Decode(&cfg)
		var (
			missing *toml.StrictMissingError
			decErr  *toml.DecodeError
		)
		switch {
		case err == nil:
			return cfg, lines, problems, true
		case errors.As(err, &missing):
			// Strict errors come last, once every known key is decoded.
			for i := range missing.Errors {
				problems = append(problems, unknownKey(path, data, entries, &missing.Errors[i]))
			}
			return cfg, lines, problems, true
		case errors.As(err, &decErr):
			row, col := decErr.Position()
			p := Problem{
				File:    path,
				Line:    row,
				Key:     strings.Join(decErr.Key(), "."),
				Message: strings.TrimPrefix(decErr.Error(), "toml: "),
			}
			e := innermost(entries, offsetOf(data, row, col))
			if e != nil {
				// go-toml's key lacks the table for some errors, such as
				// a key defined twice; the document's own is complete.
				p.Key = e.key
			}
			problems = append(problems, p)
			if e == nil || e.header || isBlank(doc, e) {
				// A syntax error, or an error in a table header:
				// what follows cannot be read reliably.
				return cfg, lines, problems, false
			}
			blank(doc, e)
		default:
			return cfg, lines, append(problems, Problem{File: path, Message: err.Error()}), false
		}
	}
}

// unknownKey turns one of go-toml's strict-mode errors into a Problem.
func unknownKey(path string, data []byte, entries []entry, err *toml.DecodeError) Problem {
	row, col := err.Position()
	p := Problem{File: path, Line: row, Key: strings.Join(err.Key(), "."), Message: "unknown key"}
	if e := innermost(entries, offsetOf(data, row, col)); e != nil {
		// Inside an inline table go-toml's key lacks the table's path.
		p.Key = e.key
		if e.header {
			p.Message = "unknown table"
		}
	}
	return p
}

// index lists every table header and key-value of data, those in inline
// tables included. It stops at the first syntax error, which the decoder
// reports.
func index(data []byte) []entry {
	var (
		p       unstable.Parser
		table   []string
		entries []entry
	)
	p.Reset(data)
	for p.NextExpression() {
		expr := p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(expr)
			start, end := keySpan(expr)
			entries = append(entries, entry{
				key:       strings.Join(table, "."),
				line:      lineAt(data, start),
				start:     start,
				end:       end,
				header:    true,
				exprStart: start,
				exprEnd:   end,
			})
		case unstable.KeyValue:
			entries = indexKeyValue(entries, data, table, expr, expr.Raw)
		}
	}
	return entries
}

// indexKeyValue appends the entry of the key-value kv, below the table
// prefix, and those of the key-values of its inline table if it holds one.
// expr is the top-level expression kv belongs to.
func indexKeyValue(entries []entry, data []byte, prefix []string, kv *unstable.Node, expr unstable.Range) []entry {
	parts := append(slices.Clone(prefix), keyParts(kv)...)
	value := kv.Value()
	start, _ := keySpan(kv)
	e := entry{
		key:       strings.Join(parts, "."),
		line:      lineAt(data, start),
		start:     start,
		end:       int(kv.Raw.Offset + kv.Raw.Length),
		exprStart: int(expr.Offset),
		exprEnd:   int(expr.Offset + expr.Length),
		kind:      value.Kind,
	}
	if value.Kind == unstable.Array {
		for it := value.Children(); it.Next(); {
			e.elems = append(e.elems, it.Node().Kind)
		}
	}
	entries = append(entries, e)
	if value.Kind == unstable.InlineTable {
		for it := value.Children(); it.Next(); {
			if it.Node().Kind == unstable.KeyValue {
				entries = indexKeyValue(entries, data, parts, it.Node(), expr)
			}
		}
	}
	return entries
}

// keyParts returns the parts of the (possibly dotted) key of a table header
// or key-value.
func keyParts(n *unstable.Node) []string {
	var parts []string
	for it := n.Key(); it.Next(); {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// keySpan returns the bytes covered by the key of a table header or
// key-value, from its first part to its last.
func keySpan(n *unstable.Node) (start, end int) {
	it := n.Key()
	for first := true; it.Next(); first = false {
		raw := it.Node().Raw
		if first {
			start = int(raw.Offset)
		}
		end = int(raw.Offset + raw.Length)
	}
	return start, end
}

// checkType returns what is wrong with the type of the value of the
// key-value e, which decodes into a t, or "" if nothing is.
func checkType(e entry, t reflect.Type) string {
	var want string
	ok := true
	switch {
	case t == reflect.TypeFor[Duration]():
		// go-toml hands any scalar to UnmarshalText but reports its error
		// without a line when the scalar is not a string: catch it here.
		want, ok = `a duration such as "50s"`, e.kind == unstable.String
	case t.Kind() == reflect.String:
		want, ok = "a string", e.kind == unstable.String
	case t.Kind() == reflect.Bool:
		want, ok = "true or false", e.kind == unstable.Bool
	case isInt(t):
		want, ok = "an integer", e.kind == unstable.Integer
	case t.Kind() == reflect.Slice && isInt(t.Elem()):
		want, ok = "a list of integers", e.kind == unstable.Array
		if ok {
			for _, k := range e.elems {
				if k != unstable.Integer {
					return fmt.Sprintf("want %s, got %s in the list", want, kindName(k))
				}
			}
		}
	case isTable(t):
		want, ok = "a table", e.kind == unstable.InlineTable
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("want %s, got %s", want, kindName(e.kind))
}

// kindName names a kind of TOML value for an operator.
func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "a list"
	case unstable.InlineTable:
		return "a table"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date or time"
	default:
		return strings.ToLower(k.String())
	}
}

// innermost returns the entry whose bytes most narrowly hold offset, or nil.
func innermost(entries []entry, offset int) *entry {
	var best *entry
	for i := range entries {
		e := &entries[i]
		if offset < e.start || offset >= e.end {
			continue
		}
		if best == nil || e.end-e.start < best.end-best.start {
			best = e
		}
	}
	return best
}

// blank replaces the expression holding e with spaces, keeping its line
// breaks so that the lines after it keep their numbers.
func blank(doc []byte, e *entry) {
	for i := e.exprStart; i < e.exprEnd; i++ {
		if doc[i] != '\n' {
			doc[i] = ' '
		}
	}
}

// isBlank reports whether the expression holding e has been blanked already.
func isBlank(doc []byte, e *entry) bool {
	return len(bytes.TrimSpace(doc[e.exprStart:e.exprEnd])) == 0
}

// lineAt returns the 1-based line of the byte at offset.
func lineAt(data []byte, offset int) int {
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// offsetOf returns the offset of a 1-based line and byte column, as go-toml
// reports positions.
func offsetOf(data []byte, line, col int) int {
	offset := 0
	for range line - 1 {
		i := bytes.IndexByte(data[offset:], '\n')
		if i < 0 {
			return len(data)
		}
		offset += i + 1
	}
	return offset + col - 1
}
