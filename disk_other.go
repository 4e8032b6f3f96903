//go:build !linux

package main

import "errors"

// diskSpace is not measured on this system: doctor leaves the disk out.
func diskSpace(string) (free, total int64, err error) {
	return 0, 0, errors.New("free disk space is measured on Linux only")
}
