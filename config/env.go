package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// envPrefix starts the name of every variable that sets a key.
const envPrefix = "DANVAN_"

// envName returns the variable that sets the dotted key:
// telegram.poll_timeout is DANVAN_TELEGRAM_POLL_TIMEOUT.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envResult is what applyEnv did.
type envResult struct {
	// vars maps each key set from the environment to its variable, so that
	// a later problem with the value can name the variable.
	vars map[string]string
	// problems are the values that could not be parsed; their keys keep the
	// value they had.
	problems []Problem
}

// applyEnv sets on cfg every key whose variable is in environ. Variables
// starting with DANVAN_ that name no key are ignored. As with os.Getenv, the
// first of several definitions of a variable counts.
func applyEnv(cfg *Config, environ []string) envResult {
	values := make(map[string]string)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		if _, seen := values[name]; !seen {
			values[name] = value
		}
	}

	res := envResult{vars: make(map[string]string)}
	root := reflect.ValueOf(cfg).Elem()
	for _, f := range fields() {
		if !fromEnv(f.typ) {
			continue
		}
		name := envName(f.key)
		text, ok := values[name]
		if !ok {
			continue
		}
		if err := setText(root.FieldByIndex(f.index), text); err != nil {
			res.problems = append(res.problems, Problem{Key: f.key, Env: name, Message: err.Error()})
			continue
		}
		res.vars[f.key] = name
	}
	return res
}

// fromEnv reports whether a key of type t can be set from the environment:
// scalars and lists of numbers can, tables and other lists are file-only.
func fromEnv(t reflect.Type) bool {
	switch {
	case t == reflect.TypeFor[Duration]():
		return true
	case t.Kind() == reflect.String, t.Kind() == reflect.Bool, isInt(t):
		return true
	case t.Kind() == reflect.Slice:
		return isInt(t.Elem())
	default:
		return false
	}
}

// setText parses text as a value of v's type and stores it in v, which must
// be of a type fromEnv accepts. A list of numbers is comma-separated, and an
// empty text is an empty list.
func setText(v reflect.Value, text string) error {
	switch {
	case v.Type() == reflect.TypeFor[Duration]():
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("invalid duration %q", text)
		}
		v.Set(reflect.ValueOf(Duration{d}))
	case v.Kind() == reflect.String:
		v.SetString(text)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not true or false", text)
		}
		v.SetBool(b)
	case isInt(v.Type()):
		n, err := parseInt(text, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case v.Kind() == reflect.Slice:
		list := reflect.MakeSlice(v.Type(), 0, 0)
		if strings.TrimSpace(text) != "" {
			for item := range strings.SplitSeq(text, ",") {
				n, err := parseInt(item, v.Type().Elem().Bits())
				if err != nil {
					return err
				}
				list = reflect.Append(list, reflect.ValueOf(n).Convert(v.Type().Elem()))
			}
		}
		v.Set(list)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// parseInt parses a decimal integer, allowing spaces around it.
func parseInt(text string, bits int) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, bits)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%q is out of range", strings.TrimSpace(text))
	case err != nil:
		return 0, fmt.Errorf("%q is not a number", strings.TrimSpace(text))
	}
	return n, nil
}
