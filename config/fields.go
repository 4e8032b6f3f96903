package config

import (
	"reflect"
	"slices"
	"strings"
)

// field is one key of Config, found by reflection over the toml tags, so that
// a key added to the struct is known to the type check and the environment
// without being listed anywhere else.
type field struct {
	key   string       // dotted path, "telegram.limits.chat_per_second"
	index []int        // for reflect.Value.FieldByIndex
	typ   reflect.Type // the Go type the value decodes into
}

// fields returns every key of Config, tables included, in declaration order.
func fields() []field {
	return fieldsOf(reflect.TypeFor[Config](), "", nil)
}

func fieldsOf(t reflect.Type, prefix string, index []int) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		f := field{
			key:   prefix + name,
			index: append(slices.Clone(index), i),
			typ:   sf.Type,
		}
		out = append(out, f)
		if isTable(f.typ) {
			out = append(out, fieldsOf(f.typ, f.key+".", f.index)...)
		}
	}
	return out
}

// isTable reports whether values of t are TOML tables rather than scalars.
func isTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != reflect.TypeFor[Duration]()
}

// isInt reports whether t is a signed integer type.
func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	default:
		return false
	}
}
