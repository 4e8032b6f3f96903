package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"danvan/admin"
	"danvan/store"
)

// benchText is an announcement as a commune sends them: a few hundred
// characters of Vietnamese.
const benchText = "<b>Ủy ban MTTQ xã Thái Bình</b>: Thông báo họp giao ban tháng 11. " +
	"Kính mời đồng chí Chủ tịch, các Phó Chủ tịch, Trưởng ban công tác Mặt trận các thôn " +
	"và đại diện Hội Liên hiệp Phụ nữ, Hội Nông dân, Hội Cựu chiến binh, Đoàn Thanh niên " +
	"dự họp lúc 8 giờ 00 sáng thứ Hai, ngày 30/11/2026, tại hội trường Ủy ban nhân dân xã. " +
	"Nội dung: đánh giá kết quả cuộc vận động “Toàn dân đoàn kết xây dựng nông thôn mới, đô thị văn minh”, " +
	"triển khai Ngày hội Đại đoàn kết toàn dân tộc năm 2026. Đề nghị các đồng chí đến đúng giờ."

// buildBenchStore fills a store with a province's worth of records, written
// through the domain methods the bot uses: 10,100 units, 200,000 people
// with their memberships, 600,000 processed updates with their journal,
// 150,000 messages (two thirds delivered) and 50,000 audit entries.
func buildBenchStore(b *testing.B, path string) {
	b.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	update := func(fn func(tx *store.Tx) error) {
		if err := st.Update(ctx, fn); err != nil {
			b.Fatal(err)
		}
	}
	var units []uint64
	update(func(tx *store.Tx) error {
		p, err := tx.AddUnit(store.Unit{Code: "08-MTTQ", Name: "Ủy ban MTTQ Việt Nam tỉnh Tuyên Quang", Kind: store.KindMTTQ, Place: "08", Created: now})
		if err != nil {
			return err
		}
		for c := range 100 {
			commune, err := tx.AddUnit(store.Unit{Code: fmt.Sprintf("C%03d-MTTQ", c), Name: fmt.Sprintf("Ủy ban MTTQ xã Thái Bình %d", c), Kind: store.KindMTTQ, Parent: p.ID, Created: now})
			if err != nil {
				return err
			}
			for v := range 100 {
				kind := []string{store.KindMTTQ, store.KindPhuNu, store.KindNongDan, store.KindCCB}[v%4]
				u, err := tx.AddUnit(store.Unit{Code: fmt.Sprintf("C%03d-T%03d", c, v), Name: fmt.Sprintf("Chi hội thôn Đồng Mới %d", v), Kind: kind, Parent: commune.ID, Created: now})
				if err != nil {
					return err
				}
				units = append(units, u.ID)
			}
		}
		return nil
	})
	for batch := range 10 {
		update(func(tx *store.Tx) error {
			for i := range 20_000 {
				id := int64(100_000_000 + batch*20_000 + i)
				u := store.User{ID: id, FirstName: "Hoa", LastName: fmt.Sprintf("Nguyễn Thị %d", i), Language: "vi",
					FullName: fmt.Sprintf("Nguyễn Thị Hoa %d", i), Position: "Chi hội trưởng Phụ nữ thôn", FirstSeen: now, LastSeen: now}
				if err := tx.PutUser(u); err != nil {
					return err
				}
				if err := tx.AddMember(units[(batch*20_000+i)%len(units)], id, store.RoleMember, now); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for batch := range 12 {
		update(func(tx *store.Tx) error {
			for i := range 50_000 {
				id := int64(batch*50_000 + i + 1)
				r := store.UpdateRecord{At: now.Add(time.Duration(id) * time.Second), Handler: "command:start", Outcome: store.OutcomeApplied}
				if err := tx.RecordUpdate(id, r); err != nil {
					return err
				}
			}
			return tx.SetOffset(int64(batch*50_000 + 50_001))
		})
	}
	for batch := range 15 {
		update(func(tx *store.Tx) error {
			for i := range 10_000 {
				_, err := tx.Enqueue(store.OutboxRow{
					ChatID: int64(100_000_000 + (batch*10_000+i)%200_000), Origin: fmt.Sprintf("announce:%d", batch), Created: now,
					Action: store.Action{Kind: store.ActSend, Text: benchText},
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if batch%3 == 2 {
			continue // a third stays pending
		}
		update(func(tx *store.Tx) error {
			rows, err := tx.PendingOutbox(0, 1<<20)
			if err != nil {
				return err
			}
			for _, r := range rows[len(rows)-10_000:] {
				if err := tx.AckOutbox(r, int(r.ID), now); err != nil {
					return err
				}
			}
			return nil
		})
	}
	update(func(tx *store.Tx) error {
		for i := range 50_000 {
			if err := tx.Audit(store.AuditEntry{At: now, ActorID: int64(100_000_000 + i), ActorName: fmt.Sprintf("Nguyễn Văn Thành %d", i),
				Action: store.AuditUnitEdit, Target: fmt.Sprintf("C%03d-T%03d — Chi hội thôn Đồng Mới", i%100, i%100), Detail: "Chi hội Phụ nữ thôn Đồng Mới"}); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkBackup measures backups of a store of a few hundred MB of
// realistic records, generated once: "socket" is `danvan backup` while
// the bot runs (stream through the admin socket, temporary file, fsync,
// Check, rename), "direct" the same with the store opened by the command
// (as with the bot stopped, and as the scheduled job does), "check" the
// Check of a copy alone. Run with -benchtime 3x.
func BenchmarkBackup(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "danvan.db")
	start := time.Now()
	buildBenchStore(b, path)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("store generated in %v: %.0f MB", time.Since(start).Round(time.Second), float64(info.Size())/1e6)
	st, err := store.Open(path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()

	socket := filepath.Join(dir, "danvan.sock")
	l, err := admin.Listen(socket)
	if err != nil {
		b.Fatal(err)
	}
	srv := admin.NewServer(admin.Options{})
	srv.Handle(opBackup, func(ctx context.Context, call *admin.Call) (any, error) {
		w, err := call.Stream()
		if err != nil {
			return nil, err
		}
		n, err := st.WriteBackup(ctx, w)
		return backupResult{Size: n}, err
	})
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, l) }()
	defer func() { stop(); <-served }()
	client := &admin.Client{Path: socket}

	out := filepath.Join(dir, "copy.db")
	run := func(b *testing.B, write func(io.Writer) (int64, error)) {
		var size int64
		for b.Loop() {
			n, _, err := writeFileAtomic(ctx, out, true, write)
			if err != nil {
				b.Fatal(err)
			}
			size = n
		}
		b.SetBytes(size)
		b.ReportMetric(float64(size)/1e6, "MB")
	}
	b.Run("socket", func(b *testing.B) {
		run(b, func(w io.Writer) (int64, error) { return client.Stream(ctx, opBackup, nil, w, nil) })
	})
	b.Run("direct", func(b *testing.B) {
		run(b, func(w io.Writer) (int64, error) { return st.WriteBackup(ctx, w) })
	})
	b.Run("check", func(b *testing.B) {
		info, err := os.Stat(out)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := store.Check(out); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(info.Size())
	})
}
