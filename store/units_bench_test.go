package store

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"danvan/places"
)

// benchOrganizations are the units every commune gets besides its Front.
var benchOrganizations = []struct{ kind, code, name string }{
	{KindPhuNu, "PHUNU", "Hội LHPN"},
	{KindNongDan, "NONGDAN", "Hội Nông dân"},
	{KindDoanThanhNien, "DOAN", "Đoàn Thanh niên"},
	{KindCCB, "CCB", "Hội Cựu chiến binh"},
	{KindCongDoan, "CONGDOAN", "Công đoàn cơ sở"},
}

// addCountry adds a Front for every province and, under it, one for every
// commune of the directory with five organizations under that: the whole
// country's tree, about 20,000 units. It returns the number of units.
func addCountry(b *testing.B, s *Store) int {
	b.Helper()
	n := 0
	err := s.Update(ctx, func(tx *Tx) error {
		add := func(u Unit) (Unit, error) {
			n++
			u.Created = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
			return tx.AddUnit(u)
		}
		dir := places.Default()
		for _, p := range dir.Provinces() {
			province, err := add(Unit{Code: p.Code + "-MTTQ", Name: "Ủy ban MTTQ " + strings.ToLower(p.Kind) + " " + p.Short, Kind: KindMTTQ, Place: p.Code})
			if err != nil {
				return err
			}
			for _, c := range dir.Communes(p.Code) {
				where := strings.ToLower(c.Kind) + " " + c.Short
				front, err := add(Unit{Code: c.Code + "-MTTQ", Name: "Ủy ban MTTQ " + where, Kind: KindMTTQ, Parent: province.ID, Place: c.Code})
				if err != nil {
					return err
				}
				for _, o := range benchOrganizations {
					if _, err := add(Unit{Code: c.Code + "-" + o.code, Name: o.name + " " + where, Kind: o.kind, Parent: front.ID, Place: c.Code}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// reportMedian reports the median of the timed runs as p50-ns/op.
func reportMedian(b *testing.B, runs []time.Duration) {
	if len(runs) == 0 {
		return
	}
	slices.Sort(runs)
	b.ReportMetric(float64(runs[len(runs)/2].Nanoseconds()), "p50-ns/op")
}

// BenchmarkSearchUnits20000 times one search of the whole country's unit
// tree, in a read transaction: what /donvi <từ khóa> costs in the store.
func BenchmarkSearchUnits20000(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	units := addCountry(b, s)
	for _, query := range []string{"thai binh", "hoi lhpn xa tan trao", "doan"} {
		b.Run(strings.ReplaceAll(query, " ", "_"), func(b *testing.B) {
			var found int
			var runs []time.Duration
			for b.Loop() {
				start := time.Now()
				err := s.View(ctx, func(tx *Tx) error {
					found = len(tx.SearchUnits(query, 50))
					return nil
				})
				runs = append(runs, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			if found == 0 {
				b.Fatalf("%q found nothing in %d units", query, units)
			}
			reportMedian(b, runs)
			b.ReportMetric(float64(units), "units")
		})
	}
}
