package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const day = 24 * time.Hour

// pruneFixture is a store holding every kind of prunable record twice —
// one from "old", one from "recent" — together with the state that must
// never be pruned.
type pruneFixture struct {
	s           *Store
	old, recent time.Time
	// Outbox rows: settled long ago, settled lately, and still pending
	// (enqueued long ago).
	oldRow, recentRow, pendingRow uint64
	// Fan-outs: finished long ago (with a miss), created long ago and
	// still sending, finished lately.
	oldFanOut, sendingFanOut, recentFanOut uint64
}

const keepDays = 30

func fillForPruning(t *testing.T) *pruneFixture {
	t.Helper()
	f := &pruneFixture{
		s:      open(t),
		old:    time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC),
		recent: time.Date(2026, 1, 21, 8, 0, 0, 0, time.UTC),
	}
	// Records are written in the order time passes, as the bot writes
	// them: keys that grow with time grow with it here too.
	err := f.s.Update(ctx, func(tx *Tx) error {
		// An audit entry and an invite older than the audit log is kept.
		if err := tx.Audit(AuditEntry{At: f.old.Add(-800 * day), ActorName: "CLI", Action: AuditUnitsImport}); err != nil {
			return err
		}
		for _, inv := range []Invite{
			{Code: "i_ended", UnitID: 1, Role: RoleMember, MaxUses: 5, Created: f.old.Add(-800 * day), Expires: f.old.Add(-793 * day)},
			{Code: "i_revoked", UnitID: 1, Role: RoleHead, MaxUses: 1, Created: f.old, Expires: f.old.Add(7 * day), Revoked: f.old.Add(day)},
			{Code: "i_usable", UnitID: 1, Role: RoleMember, MaxUses: 5, Created: f.recent, Expires: f.recent.Add(30 * day)},
		} {
			if err := tx.PutInvite(inv); err != nil {
				return err
			}
		}

		// State that stays whatever its age.
		if err := tx.PutUser(User{ID: 1, FirstName: "Lan", FirstSeen: f.old, LastSeen: f.old}); err != nil {
			return err
		}
		if err := tx.PutChat(Chat{ID: 1, Kind: ChatPrivate, FirstSeen: f.old, LastSeen: f.old}); err != nil {
			return err
		}
		if _, err := tx.GrantAdmin(1, 0, f.old); err != nil {
			return err
		}
		u, err := tx.AddUnit(Unit{Code: "TB-MTTQ", Name: "Ủy ban MTTQ xã Thái Bình", Kind: KindMTTQ})
		if err != nil {
			return err
		}
		if err := tx.AddMember(u.ID, 1, RoleHead, f.old); err != nil {
			return err
		}
		if err := tx.LinkGroup(Link{UnitID: u.ID, ChatID: -100, Title: "Nhóm", LinkedBy: 1, Linked: f.old}); err != nil {
			return err
		}
		if _, err := tx.EnsureVillage("02494", "Thôn 3", f.old); err != nil {
			return err
		}
		if _, err := tx.StartConversation(Conversation{UserID: 1, ChatID: 1, Name: "addunit", Step: "kind", Started: f.old, Expires: f.old.Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.PutJobState(JobState{Name: "housekeeping", LastRun: f.old}); err != nil {
			return err
		}
		if err := tx.SetOffset(103); err != nil {
			return err
		}

		// Long ago: an update applied and one that failed, two
		// keyboards, an audit entry.
		if err := tx.RecordUpdate(100, UpdateRecord{At: f.old, Handler: "command:id", Outcome: OutcomeApplied}); err != nil {
			return err
		}
		if err := tx.RecordUpdate(101, UpdateRecord{At: f.old, Outcome: OutcomeFailed, Reason: "panic in command:x"}); err != nil {
			return err
		}
		if err := tx.PutToken(Token{Code: "used0", ChatID: 1, Handler: "lang", Created: f.old, Expires: f.old.Add(7 * day), Used: f.old}); err != nil {
			return err
		}
		if err := tx.PutToken(Token{Code: "expired0", ChatID: 1, Handler: "lang", Created: f.old.Add(-7 * day), Expires: f.old}); err != nil {
			return err
		}
		// A keyboard made long ago that is still valid (a long TTL).
		if err := tx.PutToken(Token{Code: "longlived", ChatID: 1, Handler: "lang", Created: f.old, Expires: f.recent.Add(60 * day)}); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: f.old, ActorID: 1, ActorName: "Lan", Action: AuditAdminGrant, Target: "2"}); err != nil {
			return err
		}
		// A reply sent, and one still waiting (its chat cannot be
		// reached yet), of the same origin.
		if f.oldRow, err = tx.Enqueue(OutboxRow{ChatID: 1, Origin: "update:100", Created: f.old, Action: Action{Kind: ActSend, Text: "a"}}); err != nil {
			return err
		}
		if err := tx.AckOutbox(OutboxRow{ID: f.oldRow, ChatID: 1, Origin: "update:100", Action: Action{Kind: ActSend}}, 11, f.old); err != nil {
			return err
		}
		if f.pendingRow, err = tx.Enqueue(OutboxRow{ChatID: 3, Origin: "update:100", Created: f.old, Action: Action{Kind: ActSend, Text: "c"}}); err != nil {
			return err
		}
		// A fan-out that finished, with a miss (chat 9 is unreachable),
		// and one still sending: one copy settled, one waiting.
		if _, err := tx.MarkUnreachable(9, "Forbidden: bot was blocked by the user", f.old); err != nil {
			return err
		}
		fo, err := tx.StartFanOut(FanOutSpec{Origin: "update:90", Kind: "announcement", Chats: []int64{5, 9}, Action: Action{Kind: ActSend, Text: "Họp"}}, f.old)
		if err != nil {
			return err
		}
		f.oldFanOut = fo.ID
		if err := settleFanOut(tx, fo.ID, 0, f.old.Add(time.Minute)); err != nil {
			return err
		}
		fo, err = tx.StartFanOut(FanOutSpec{Origin: "update:91", Kind: "announcement", Chats: []int64{6, 7}, Action: Action{Kind: ActSend, Text: "Họp 2"}}, f.old)
		if err != nil {
			return err
		}
		f.sendingFanOut = fo.ID
		if err := settleFanOut(tx, fo.ID, 6, f.old.Add(time.Minute)); err != nil {
			return err
		}

		// Lately: the same kinds again.
		if err := tx.RecordUpdate(102, UpdateRecord{At: f.recent, Handler: "command:id", Outcome: OutcomeApplied}); err != nil {
			return err
		}
		if err := tx.PutToken(Token{Code: "used1", ChatID: 1, Handler: "lang", Created: f.recent, Expires: f.recent.Add(7 * day), Used: f.recent}); err != nil {
			return err
		}
		if err := tx.PutToken(Token{Code: "expired1", ChatID: 1, Handler: "lang", Created: f.recent.Add(-7 * day), Expires: f.recent}); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: f.recent, ActorID: 1, ActorName: "Lan", Action: AuditAdminRevoke, Target: "2"}); err != nil {
			return err
		}
		if f.recentRow, err = tx.Enqueue(OutboxRow{ChatID: 1, Origin: "update:100", Created: f.recent, Action: Action{Kind: ActSend, Text: "b"}}); err != nil {
			return err
		}
		if err := tx.AckOutbox(OutboxRow{ID: f.recentRow, ChatID: 1, Origin: "update:100", Action: Action{Kind: ActSend}}, 12, f.recent); err != nil {
			return err
		}
		fo, err = tx.StartFanOut(FanOutSpec{Origin: "update:92", Kind: "announcement", Chats: []int64{5}, Action: Action{Kind: ActSend, Text: "Họp 3"}}, f.recent)
		if err != nil {
			return err
		}
		f.recentFanOut = fo.ID
		return settleFanOut(tx, fo.ID, 0, f.recent)
	})
	if err != nil {
		t.Fatalf("filling the store: %v", err)
	}
	return f
}

// settleFanOut acknowledges the fan-out's pending copies: every one, or
// only the one for chat when it is not 0.
func settleFanOut(tx *Tx, fanOutID uint64, chat int64, at time.Time) error {
	rows, err := tx.PendingOutbox(0, 1000)
	if err != nil {
		return err
	}
	for i, r := range rows {
		if r.FanOut == fanOutID && (chat == 0 || r.ChatID == chat) {
			if err := tx.AckOutbox(r, 1000+i, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// snapshot copies every key and value of the named buckets.
func snapshot(t *testing.T, s *Store, buckets [][]byte) map[string]string {
	t.Helper()
	want := map[string]bool{}
	for _, b := range buckets {
		want[string(b)] = true
	}
	out := map[string]string{}
	err := s.Walk(func(path []string, k, v []byte) error {
		if len(path) > 0 && want[path[0]] {
			out[fmt.Sprintf("%s/%x", path[0], k)] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func prune(t *testing.T, s *Store, o PruneOptions) PruneStats {
	t.Helper()
	stats, err := s.Prune(ctx, o)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	return stats
}

func TestPruneRemovesOnlyWhatOutlivedItsKeep(t *testing.T) {
	f := fillForPruning(t)
	opts := func(now time.Time) PruneOptions {
		return PruneOptions{Now: now, Keep: keepDays * day, AuditKeep: 730 * day}
	}
	kept := snapshot(t, f.s, keptBuckets)

	// An hour before the old records' time is up, nothing goes but the
	// audit entry and the invite older than the audit log.
	stats := prune(t, f.s, opts(f.old.Add(keepDays*day-time.Hour)))
	want := map[string]int{"audit": 1, "invites": 1}
	if !mapsEqual(stats.Removed, want) {
		t.Errorf("before the keep ran out: removed %v, want %v", stats.Removed, want)
	}

	// An hour after, every old record goes with what hangs off it.
	stats = prune(t, f.s, opts(f.old.Add(keepDays*day+time.Hour)))
	want = map[string]int{
		"updates": 2, "journal": 2, // update 100 and the failed 101
		"deliveries": 4, "origins": 4, // row a, the old fan-out's two copies, the sending fan-out's settled copy
		"fanouts": 1, "fanout_actions": 1, "fanout_misses": 1,
		"tokens": 2, // used0 and expired0
	}
	if !mapsEqual(stats.Removed, want) {
		t.Errorf("after the keep ran out: removed %v, want %v", stats.Removed, want)
	}
	if n := stats.Total(); n != 17 {
		t.Errorf("Total %d, want 17", n)
	}

	err := f.s.View(ctx, func(tx *Tx) error {
		for _, tt := range []struct {
			what string
			gone bool
			err  error
		}{
			{"old update marker", true, errOf(tx.UpdateRecordOf(100))},
			{"old failure record", true, errOf(tx.UpdateRecordOf(101))},
			{"recent update marker", false, errOf(tx.UpdateRecordOf(102))},
			{"old delivery", true, errOf(tx.Delivery(f.oldRow))},
			{"recent delivery", false, errOf(tx.Delivery(f.recentRow))},
			{"pending row", false, errOf(tx.OutboxRow(f.pendingRow))},
			{"old fan-out", true, errOf(tx.FanOut(f.oldFanOut))},
			{"sending fan-out", false, errOf(tx.FanOut(f.sendingFanOut))},
			{"recent fan-out", false, errOf(tx.FanOut(f.recentFanOut))},
			{"old used token", true, errOf(tx.Token("used0"))},
			{"old expired token", true, errOf(tx.Token("expired0"))},
			{"recent used token", false, errOf(tx.Token("used1"))},
			{"recent expired token", false, errOf(tx.Token("expired1"))},
			{"old token still valid", false, errOf(tx.Token("longlived"))},
			{"invite ended 800 days ago", true, errOf(tx.Invite("i_ended"))},
			{"invite revoked lately", false, errOf(tx.Invite("i_revoked"))},
			{"usable invite", false, errOf(tx.Invite("i_usable"))},
		} {
			switch gone := errors.Is(tt.err, ErrNotFound); {
			case tt.err != nil && !gone:
				t.Errorf("%s: %v", tt.what, tt.err)
			case gone != tt.gone:
				t.Errorf("%s: gone %v, want %v", tt.what, gone, tt.gone)
			}
		}
		// The origin index holds the recent delivery only, and looking
		// it up does not trip over the pruned one.
		ds, err := tx.DeliveriesByOrigin("update:100")
		if err != nil || len(ds) != 1 || ds[0].OutboxID != f.recentRow {
			t.Errorf("deliveries of update:100: %+v, %v; want only row %d", ds, err, f.recentRow)
		}
		// The fan-out still sending keeps its message for the copy
		// waiting, and the tally goes on.
		rows, err := tx.PendingOutbox(0, 100)
		if err != nil {
			return err
		}
		var waiting int
		for _, r := range rows {
			if r.FanOut == f.sendingFanOut {
				waiting++
				if a, err := tx.RowAction(r); err != nil || a.Text != "Họp 2" {
					t.Errorf("the waiting copy's action: %+v, %v", a, err)
				}
			}
		}
		if waiting != 1 {
			t.Errorf("%d copies of the sending fan-out wait, want 1", waiting)
		}
		if got := tx.FanOutMisses(f.oldFanOut, 10); len(got) != 0 {
			t.Errorf("misses of the pruned fan-out: %v", got)
		}
		var journal []int64
		tx.Journal(func(e JournalEntry) bool { journal = append(journal, e.UpdateID); return true })
		if !slices.Equal(journal, []int64{102}) {
			t.Errorf("journal holds updates %v, want [102]", journal)
		}
		audit, err := tx.AuditLog(0, 10)
		if err != nil {
			return err
		}
		if len(audit) != 2 {
			t.Errorf("%d audit entries, want 2 (within audit_keep_days)", len(audit))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Pruning again removes nothing more.
	if stats := prune(t, f.s, opts(f.old.Add(keepDays*day+2*time.Hour))); stats.Total() != 0 {
		t.Errorf("pruning again removed %v", stats.Removed)
	}

	// Once the recent records' time is up they go too — but the fan-out
	// still sending stays, however old, and so does its settled copy's
	// absence of a delivery record not matter to it.
	stats = prune(t, f.s, opts(f.recent.Add(keepDays*day+time.Hour)))
	want = map[string]int{
		"updates": 1, "journal": 1, "deliveries": 2, "origins": 2,
		"fanouts": 1, "fanout_actions": 1, "tokens": 2,
	}
	if !mapsEqual(stats.Removed, want) {
		t.Errorf("after the recent records' keep ran out: removed %v, want %v", stats.Removed, want)
	}
	f.s.View(ctx, func(tx *Tx) error {
		if _, err := tx.FanOut(f.sendingFanOut); err != nil {
			t.Errorf("the fan-out still sending was pruned: %v", err)
		}
		if _, err := tx.Token("longlived"); err != nil {
			t.Errorf("a keyboard still valid was pruned: %v", err)
		}
		if n := tx.OutboxLen(); n != 2 {
			t.Errorf("%d pending rows, want 2 (row c and the fan-out's copy)", n)
		}
		return nil
	})

	// State is untouched, byte for byte.
	after := snapshot(t, f.s, keptBuckets)
	for k, v := range kept {
		if w, ok := after[k]; !ok || w != v {
			t.Errorf("kept record %s changed or vanished", k)
		}
	}
	if len(after) != len(kept) {
		t.Errorf("%d kept records after pruning, want %d", len(after), len(kept))
	}
}

func errOf[T any](_ T, err error) error { return err }

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPruneFollowsAuditKeep(t *testing.T) {
	s := open(t)
	now := time.Date(2028, 6, 1, 3, 30, 0, 0, time.UTC)
	ages := []time.Duration{800 * day, 731 * day, 729 * day, 40 * day, day}
	s.Update(ctx, func(tx *Tx) error {
		for _, age := range ages {
			if err := tx.Audit(AuditEntry{At: now.Add(-age), ActorName: "CLI", Action: AuditUnitsImport, Detail: age.String()}); err != nil {
				return err
			}
			inv := Invite{Code: "i_" + age.String(), UnitID: 1, Role: RoleMember, MaxUses: 5, Created: now.Add(-age - 7*day), Expires: now.Add(-age)}
			if err := tx.PutInvite(inv); err != nil {
				return err
			}
		}
		return nil
	})
	left := func() (audit []string, invites int) {
		s.View(ctx, func(tx *Tx) error {
			entries, _ := tx.AuditLog(0, 100)
			for _, e := range entries {
				audit = append(audit, e.Detail)
			}
			tx.Invites(func(Invite) bool { invites++; return true })
			return nil
		})
		return audit, invites
	}

	// Forever: keep_days does not touch the audit log or invites.
	prune(t, s, PruneOptions{Now: now, Keep: 30 * day})
	if audit, invites := left(); len(audit) != 5 || invites != 5 {
		t.Errorf("with the audit log kept for ever: %d entries and %d invites left, want 5 and 5", len(audit), invites)
	}
	stats := prune(t, s, PruneOptions{Now: now, Keep: 30 * day, AuditKeep: 730 * day})
	if stats.Removed["audit"] != 2 || stats.Removed["invites"] != 2 {
		t.Errorf("removed %v, want 2 audit entries and 2 invites", stats.Removed)
	}
	audit, invites := left()
	if want := []string{"24h0m0s", "960h0m0s", "17496h0m0s"}; !slices.Equal(audit, want) {
		t.Errorf("audit entries left (newest first) %v, want %v", audit, want)
	}
	if invites != 3 {
		t.Errorf("%d invites left, want 3", invites)
	}
}

// Many records go in many small transactions, every one of them, and
// pruning again finds nothing.
func TestPruneInBatches(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC)
	const old, young = 5000, 100
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range old + young {
			at := now.Add(-40 * day).Add(time.Duration(i) * time.Second)
			if i >= old {
				at = now.Add(-time.Hour)
			}
			if err := tx.RecordUpdate(int64(1000+i), UpdateRecord{At: at, Outcome: OutcomeApplied}); err != nil {
				return err
			}
			// Tokens have random keys, scanned whole: a long run of live
			// ones (many batches' worth) comes before the dead ones.
			tok := Token{Code: fmt.Sprintf("b%08x", uint32(i)*2654435761), ChatID: 1, Handler: "lang", Created: at, Expires: at.Add(7 * day)}
			if i%2 == 0 {
				tok.Code, tok.Expires = "a"+tok.Code[1:], now.Add(day) // still valid
			}
			if err := tx.PutToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const batch = 100
	stats := prune(t, s, PruneOptions{Now: now, Keep: 30 * day, BatchSize: batch})
	want := map[string]int{"updates": old, "journal": old, "tokens": old / 2}
	if !mapsEqual(stats.Removed, want) {
		t.Errorf("removed %v, want %v", stats.Removed, want)
	}
	// Each transaction deletes at most batch keys.
	least := (old + old + old/2) / batch
	if stats.Transactions < least {
		t.Errorf("%d transactions, want at least %d", stats.Transactions, least)
	}
	s.View(ctx, func(tx *Tx) error {
		n := 0
		tx.Journal(func(JournalEntry) bool { n++; return true })
		if n != young {
			t.Errorf("%d journal entries left, want %d", n, young)
		}
		for i := range old + young {
			if got, want := tx.UpdateProcessed(int64(1000+i)), i >= old; got != want {
				t.Fatalf("update %d processed %v after pruning, want %v", 1000+i, got, want)
			}
		}
		return nil
	})
	if again := prune(t, s, PruneOptions{Now: now, Keep: 30 * day, BatchSize: batch}); again.Total() != 0 || again.Transactions != 0 {
		t.Errorf("pruning again removed %v in %d transactions, want nothing and no write", again.Removed, again.Transactions)
	}
}

// A keep shorter than MinKeep is raised to it: what an update or a recall
// may still need stays.
func TestPruneKeepsAtLeastMinKeep(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC)
	s.Update(ctx, func(tx *Tx) error {
		tx.RecordUpdate(1, UpdateRecord{At: now.Add(-MinKeep - time.Hour), Outcome: OutcomeApplied})
		tx.RecordUpdate(2, UpdateRecord{At: now.Add(-MinKeep + time.Hour), Outcome: OutcomeApplied})
		return nil
	})
	prune(t, s, PruneOptions{Now: now, Keep: time.Hour})
	s.View(ctx, func(tx *Tx) error {
		if tx.UpdateProcessed(1) || !tx.UpdateProcessed(2) {
			t.Errorf("after pruning with a one-hour keep: update 1 kept %v (want false), update 2 kept %v (want true)",
				tx.UpdateProcessed(1), tx.UpdateProcessed(2))
		}
		return nil
	})
}

// Records out of key order (Telegram may restart update ids at random
// after a week without updates) hold pruning up; they never make it
// remove a record too young.
func TestPruneWaitsBehindAYoungerRecord(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC)
	s.Update(ctx, func(tx *Tx) error {
		tx.RecordUpdate(500, UpdateRecord{At: now.Add(-40 * day), Outcome: OutcomeApplied})
		tx.RecordUpdate(100, UpdateRecord{At: now.Add(-day), Outcome: OutcomeApplied}) // a lower id, later
		return nil
	})
	if stats := prune(t, s, PruneOptions{Now: now, Keep: 30 * day}); stats.Removed["updates"] != 0 {
		t.Errorf("removed %v behind a younger marker", stats.Removed)
	}
	stats := prune(t, s, PruneOptions{Now: now.Add(30 * day), Keep: 30 * day})
	if stats.Removed["updates"] != 2 {
		t.Errorf("once both aged: removed %v, want both markers", stats.Removed)
	}
}

// An outbox_chats key whose row is gone (a settled row normally takes
// its key along) is removed; a pending row's stays.
func TestPruneRemovesStaleChatIndexKeys(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC)
	var pending uint64
	s.Update(ctx, func(tx *Tx) error {
		var err error
		pending, err = tx.Enqueue(OutboxRow{ChatID: 7, Created: now, Action: Action{Kind: ActSend, Text: "x"}})
		if err != nil {
			return err
		}
		return tx.bucket(bucketOutboxChats).Put(chatRowKey(7, pending+1), nil)
	})
	stats := prune(t, s, PruneOptions{Now: now, Keep: 30 * day})
	if stats.Removed["outbox_chats"] != 1 {
		t.Errorf("removed %v, want the stale key", stats.Removed)
	}
	s.View(ctx, func(tx *Tx) error {
		if got := tx.chatRows(7); !slices.Equal(got, []uint64{pending}) {
			t.Errorf("chat 7's rows %v, want [%d]", got, pending)
		}
		return nil
	})
}

func TestPruneStopsWhenCancelled(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC)
	s.Update(ctx, func(tx *Tx) error {
		return tx.RecordUpdate(1, UpdateRecord{At: now.Add(-40 * day), Outcome: OutcomeApplied})
	})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	stats, err := s.Prune(cancelled, PruneOptions{Now: now, Keep: 30 * day})
	if !errors.Is(err, context.Canceled) || stats.Total() != 0 {
		t.Errorf("Prune with a cancelled context: %v, removed %v", err, stats.Removed)
	}
	s.View(ctx, func(tx *Tx) error {
		if !tx.UpdateProcessed(1) {
			t.Error("the marker went although the context was cancelled")
		}
		return nil
	})
}

// Every bucket is either pruned, pruned along with another, or kept on
// purpose, and only one of these: a new bucket must be thought about.
func TestRetentionCoversEveryBucket(t *testing.T) {
	owner := map[string]string{}
	claim := func(b []byte, by string) {
		if prev, ok := owner[string(b)]; ok {
			t.Errorf("bucket %q is claimed by %s and %s", b, prev, by)
		}
		owner[string(b)] = by
	}
	for _, p := range pruners {
		claim(p.bucket, "a pruner")
		for _, w := range p.with {
			claim(w, "a pruner of "+string(p.bucket))
		}
	}
	for _, b := range keptBuckets {
		claim(b, "keptBuckets")
	}
	for _, b := range allBuckets {
		if _, ok := owner[string(b)]; !ok {
			t.Errorf("bucket %q is neither pruned nor kept on purpose", b)
		}
		delete(owner, string(b))
	}
	for b := range owner {
		t.Errorf("bucket %q has a retention rule but is not created by Open", b)
	}
	if got := len(PrunedBuckets()) + len(keptBuckets); got != len(allBuckets) {
		t.Errorf("PrunedBuckets and keptBuckets name %d buckets, want %d", got, len(allBuckets))
	}
}

// A fan-out stays while anything may still need it, even when its record
// and the outbox disagree: a copy still waiting needs its message, and an
// unfinished fan-out's report is still to come.
func TestPruneKeepsFanOutsStillNeeded(t *testing.T) {
	s := open(t)
	old := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	now := old.Add(40 * day)
	var waiting, unfinished uint64
	err := s.Update(ctx, func(tx *Tx) error {
		// Marked finished, yet a copy waits.
		f, err := tx.StartFanOut(FanOutSpec{Chats: []int64{1}, Action: Action{Kind: ActSend, Text: "a"}}, old)
		if err != nil {
			return err
		}
		f.Finished, waiting = old, f.ID
		if err := putJSON(tx.bucket(bucketFanOuts), u64(f.ID), f); err != nil {
			return err
		}
		// Unfinished, with no copy waiting.
		f = FanOut{ID: f.ID + 1, Total: 3, Sent: 1, Created: old}
		unfinished = f.ID
		if _, err := tx.bucket(bucketFanOuts).NextSequence(); err != nil {
			return err
		}
		return putJSON(tx.bucket(bucketFanOuts), u64(f.ID), f)
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats := prune(t, s, PruneOptions{Now: now, Keep: 30 * day}); stats.Total() != 0 {
		t.Errorf("removed %v, want nothing", stats.Removed)
	}
	s.View(ctx, func(tx *Tx) error {
		for _, id := range []uint64{waiting, unfinished} {
			if _, err := tx.FanOut(id); err != nil {
				t.Errorf("fan-out %d: %v", id, err)
			}
		}
		rows, _ := tx.PendingOutbox(0, 10)
		if len(rows) != 1 {
			t.Fatalf("%d pending rows, want 1", len(rows))
		}
		if a, err := tx.RowAction(rows[0]); err != nil || a.Text != "a" {
			t.Errorf("the waiting copy's action: %+v, %v", a, err)
		}
		return nil
	})
}

// BenchmarkPrune prunes a month of a busy bot's bookkeeping at once —
// 100,000 update markers with their journal entries, and 100,000 delivery
// records with their origin index entries — and reports how long each
// write transaction (a batch) held the writer.
//
//	go test -run '^$' -bench Prune -benchtime 3x ./store
func BenchmarkPrune(b *testing.B) {
	const n = 100000
	now := time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC)
	var took time.Duration
	var txs int
	for range b.N {
		b.StopTimer()
		s, err := Open(b.TempDir()+"/danvan.db", Options{})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += 5000 {
			err := s.Update(ctx, func(tx *Tx) error {
				for j := i; j < i+5000; j++ {
					at := now.Add(-40 * day).Add(time.Duration(j) * time.Second)
					if err := tx.RecordUpdate(int64(j), UpdateRecord{At: at, Handler: "command:id", Outcome: OutcomeApplied}); err != nil {
						return err
					}
					r := OutboxRow{ChatID: int64(j % 500), Origin: fmt.Sprintf("update:%d", j), Created: at, Action: Action{Kind: ActSend, Text: "Xin chào"}}
					if r.ID, err = tx.Enqueue(r); err != nil {
						return err
					}
					if err := tx.AckOutbox(r, j, at); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		stats, err := s.Prune(ctx, PruneOptions{Now: now, Keep: 30 * day})
		took += time.Since(start)
		txs += stats.Transactions
		if err != nil || stats.Total() != 4*n {
			b.Fatalf("removed %d keys (%v), want %d", stats.Total(), err, 4*n)
		}
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(float64(took.Milliseconds())/float64(b.N), "ms/prune")
	b.ReportMetric(float64(took.Microseconds())/1000/float64(txs), "ms/batch")
}

// A record that does not decode is kept and reported; the rest of its
// bucket, before and after it, is pruned all the same.
func TestPruneGoesPastARecordThatDoesNotDecode(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 3, 1, 3, 30, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range 10 {
			if err := tx.RecordUpdate(int64(1000+i), UpdateRecord{At: now.Add(-40 * day), Outcome: OutcomeApplied}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var badKey []byte
	s.db.Update(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketUpdates)
		c := b.Cursor()
		k, _ := c.First()
		for range 4 {
			k, _ = c.Next()
		}
		badKey = bytes.Clone(k)
		return b.Put(badKey, []byte("{not json"))
	})
	stats, err := s.Prune(ctx, PruneOptions{Now: now, Keep: 30 * day})
	if err == nil || !strings.Contains(err.Error(), "1 record(s) do not decode") {
		t.Errorf("Prune error %v, want it to report the record that does not decode", err)
	}
	if stats.Removed["updates"] != 9 {
		t.Errorf("removed %d updates, want the 9 that decode", stats.Removed["updates"])
	}
	s.db.View(func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketUpdates).Get(badKey); string(v) != "{not json" {
			t.Errorf("the record that does not decode is %q, want it kept", v)
		}
		return nil
	})
}
