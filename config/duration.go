package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written in the file as a string such as "50s"
// or "30m".
type Duration struct {
	time.Duration
}

// UnmarshalText parses a duration in time.ParseDuration's syntax.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q", text)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}
