package config

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with the configuration, located well enough for
// an operator to fix it.
type Problem struct {
	// File is the path of the configuration file, or "" when the problem is
	// not about the file.
	File string
	// Line is the line of File the problem is on, or 0 if unknown.
	Line int
	// Key is the dotted path of the key, such as "telegram.poll_timeout",
	// or "" when the file could not be parsed far enough to tell.
	Key string
	// Env is the environment variable the value came from, if it did.
	Env string
	// Message says what is wrong, in short lowercase English.
	Message string
}

// String formats the problem as "file:line: key: message", or as
// "VARIABLE: message" when the value came from the environment.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Env != "":
		b.WriteString(p.Env)
		b.WriteString(": ")
	case p.File != "":
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Env == "" && p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}
