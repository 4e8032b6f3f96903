package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"danvan/names"
)

// Village is a place beneath a commune that the official directory does
// not list — a thôn or tổ dân phố — created by name the first time a unit
// or a citizen names it.
type Village struct {
	// Code is the commune's code, "/", and the folded name:
	// "02290/thon dong moi".
	Code    string    `json:"code"`
	Name    string    `json:"name"`
	Commune string    `json:"commune"`
	Created time.Time `json:"created"`
}

// VillageCode is the code of the village called name in the commune.
// The commune code is trimmed: "02290 / Thôn 3" names the same village as
// "02290/Thôn 3".
func VillageCode(commune, name string) string {
	return strings.TrimSpace(commune) + "/" + names.Fold(name)
}

// Village returns the village with this code.
func (tx *Tx) Village(code string) (Village, error) {
	var v Village
	if err := getJSON(tx.bucket(bucketVillages), []byte(code), &v); err != nil {
		return v, fmt.Errorf("village %q: %w", code, err)
	}
	return v, nil
}

// EnsureVillage returns the village called name in the commune, creating
// it if it is new. The caller checks that the commune exists.
func (tx *Tx) EnsureVillage(commune, name string, at time.Time) (Village, error) {
	commune, name = strings.TrimSpace(commune), names.Clean(name)
	if name == "" {
		return Village{}, errors.New("a village needs a name")
	}
	code := VillageCode(commune, name)
	v, err := tx.Village(code)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return v, err
	}
	v = Village{Code: code, Name: name, Commune: commune, Created: at}
	return v, putJSON(tx.bucket(bucketVillages), []byte(code), v)
}
