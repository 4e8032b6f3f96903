package bot

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"danvan/clock"
	"danvan/messages"
	"danvan/places"
	"danvan/store"
)

// addCountryUnits adds, through the store, a Front for every province and,
// under it, one for every commune of the directory with five
// organizations under that: about 20,000 units. It returns their number.
func addCountryUnits(b *testing.B, st *store.Store) int {
	b.Helper()
	organizations := []struct{ kind, code, name string }{
		{store.KindPhuNu, "PHUNU", "Hội LHPN"},
		{store.KindNongDan, "NONGDAN", "Hội Nông dân"},
		{store.KindDoanThanhNien, "DOAN", "Đoàn Thanh niên"},
		{store.KindCCB, "CCB", "Hội Cựu chiến binh"},
		{store.KindCongDoan, "CONGDOAN", "Công đoàn cơ sở"},
	}
	n := 0
	err := st.Update(ctx, func(tx *store.Tx) error {
		add := func(u store.Unit) (store.Unit, error) {
			n++
			return tx.AddUnit(u)
		}
		dir := places.Default()
		for _, p := range dir.Provinces() {
			province, err := add(store.Unit{Code: p.Code + "-MTTQ", Name: "Ủy ban MTTQ " + strings.ToLower(p.Kind) + " " + p.Short, Kind: store.KindMTTQ, Place: p.Code})
			if err != nil {
				return err
			}
			for _, c := range dir.Communes(p.Code) {
				where := strings.ToLower(c.Kind) + " " + c.Short
				front, err := add(store.Unit{Code: c.Code + "-MTTQ", Name: "Ủy ban MTTQ " + where, Kind: store.KindMTTQ, Parent: province.ID, Place: c.Code})
				if err != nil {
					return err
				}
				for _, o := range organizations {
					if _, err := add(store.Unit{Code: c.Code + "-" + o.code, Name: o.name + " " + where, Kind: o.kind, Parent: front.ID, Place: c.Code}); err != nil {
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

// BenchmarkUnitsSearchCommand times "/donvi thai binh" over the whole
// country's tree, end to end: routing, the search, rendering the first
// page of the list, and the one write transaction (update record,
// journal, offset, outbox row, page token) committed with fsync. The
// issue's target is a median under 5 ms.
func BenchmarkUnitsSearchCommand(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "bot.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cat, err := messages.Load(time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC))
	bot, err := New(Options{Store: st, Messages: cat, Clock: clk, Admins: []int64{adminID}})
	if err != nil {
		b.Fatal(err)
	}
	bot.SetIdentity(Identity{ID: botID, Username: "danvan_test_bot"})
	units := addCountryUnits(b, st)

	from, chat := person(userID, "vi"), private(userID)
	next := int64(1000)
	var runs []time.Duration
	for b.Loop() {
		next++
		u := Update{ID: next, Message: &Message{
			ID: int(next), Chat: chat, From: from, Kind: KindText, Date: clk.Now(),
			Text: "/donvi thai binh", Command: cmdUnits, Args: "thai binh",
		}}
		start := time.Now()
		if err := bot.Apply(ctx, []Update{u}); err != nil {
			b.Fatal(err)
		}
		runs = append(runs, time.Since(start))
	}
	b.StopTimer()

	// Every update got its answer: the first page of the search.
	var rows []store.OutboxRow
	err = st.View(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.PendingOutbox(0, len(runs)+1)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(rows) != len(runs) {
		b.Fatalf("got %d replies to %d commands, want one each", len(rows), len(runs))
	}
	if text := rows[len(rows)-1].Action.Text; !strings.Contains(text, "Thái Bình") || strings.Count(text, "\n") < 5 {
		b.Fatalf("the reply is not a page of units in Thái Bình:\n%s", text)
	}
	slices.Sort(runs)
	b.ReportMetric(float64(runs[len(runs)/2].Nanoseconds()), "p50-ns/op")
	b.ReportMetric(float64(runs[len(runs)*99/100].Nanoseconds()), "p99-ns/op")
	b.ReportMetric(float64(units), "units")
}
