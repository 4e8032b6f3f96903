package places

import (
	"cmp"
	"slices"

	"danvan/names"
)

// Search returns the places whose short or full name matches query, at most
// limit of them, or every match if limit is zero or negative.
//
// The query is folded with [names.Fold], so case, tone marks and đ do not
// matter, and ranked with [names.Match] against both the short name
// ("thai binh") and the full name ("xa thai binh"); a place's rank is the
// better of the two. Results come best rank first. Ties put provinces
// before communes (fewer ancestors first), then order by the code of the
// place's province, then by folded full name, then by code, so the same query
// always gives the same list. Levels come first because some communes share a
// province's name: "lao cai" would otherwise list Phường Lào Cai before Tỉnh
// Lào Cai ("phuong…" sorts before "tinh…"), and "khanh hoa" a Xã Khánh Hoà of
// province 15 before the province Khánh Hoà (56).
// A query that folds to "" matches nothing.
func (d *Directory) Search(query string, limit int) []Place {
	q := names.Fold(query)
	if q == "" {
		return nil
	}
	type hit struct{ index, rank int }
	var hits []hit
	for i := range d.places {
		rank := max(names.Match(d.short[i], q), names.Match(d.full[i], q))
		if rank > names.RankNone {
			hits = append(hits, hit{i, rank})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(
			cmp.Compare(b.rank, a.rank),
			cmp.Compare(d.depth[a.index], d.depth[b.index]),
			cmp.Compare(d.root[a.index], d.root[b.index]),
			cmp.Compare(d.full[a.index], d.full[b.index]),
			cmp.Compare(d.places[a.index].Code, d.places[b.index].Code),
		)
	})
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]Place, len(hits))
	for j, h := range hits {
		out[j] = d.places[h.index]
	}
	return out
}
