package store

import (
	"bytes"
	"encoding/json"
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
	// Code is the commune's code, "/", and the lower-cased name:
	// "02290/thôn đồng mới".
	Code    string    `json:"code"`
	Name    string    `json:"name"`
	Commune string    `json:"commune"`
	Created time.Time `json:"created"`
}

// VillageCode is the code of the village called name in the commune: the
// commune's code, "/", and the name in lower case. Case and spacing do not
// make another village, but tone marks do: "Thôn Đông" and "Thôn Đồng" are
// two villages. The commune code is trimmed: "02290 / Thôn 3" names the
// same village as "02290/Thôn 3".
func VillageCode(commune, name string) string {
	return strings.TrimSpace(commune) + "/" + strings.ToLower(names.Clean(name))
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
// it if it is new. A name typed without tone marks ("thon dong moi") finds
// the one village of the commune it stands for; one typed with them is
// taken as written. The caller checks that the commune exists.
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
	if folded := names.Fold(name); folded == strings.ToLower(name) {
		var found []Village
		prefix := []byte(commune + "/")
		c := tx.bucket(bucketVillages).Cursor()
		for k, val := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
			var other Village
			if json.Unmarshal(val, &other) == nil && names.Fold(other.Name) == folded {
				found = append(found, other)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
	}
	v = Village{Code: code, Name: name, Commune: commune, Created: at}
	return v, putJSON(tx.bucket(bucketVillages), []byte(code), v)
}
