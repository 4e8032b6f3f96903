package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MinKeep is the shortest Keep that Prune honours: a record younger than
// this can still be needed whatever the configuration says (an update may
// come again within Telegram's 24 hours, an announcement may be recalled
// within 48).
const MinKeep = 48 * time.Hour

// DefaultPruneBatch is the default number of keys one pruning transaction
// deletes.
const DefaultPruneBatch = 1000

// PruneOptions say what Prune removes.
type PruneOptions struct {
	// Now is the time ages are measured from.
	Now time.Time
	// Keep is how long bookkeeping records stay; below MinKeep it is
	// raised to MinKeep.
	Keep time.Duration
	// AuditKeep is how long audit entries (and ended invites) stay; zero
	// keeps them for ever.
	AuditKeep time.Duration
	// BatchSize is the most keys one write transaction deletes (default
	// DefaultPruneBatch); it scans at most four times as many.
	BatchSize int
}

// PruneStats says what Prune removed.
type PruneStats struct {
	// Removed counts the keys deleted, by bucket name.
	Removed map[string]int
	// Transactions is how many write transactions it took (none when
	// nothing was due).
	Transactions int
}

// Total is the number of keys deleted.
func (s PruneStats) Total() int {
	n := 0
	for _, v := range s.Removed {
		n += v
	}
	return n
}

// verdict is what a pruner decides about one record.
type verdict int

const (
	keepIt   verdict = iota // the record stays; look at the next one
	pruneIt                 // the record goes
	stopHere                // the record stays, and so does every later key
)

// pruner prunes one bucket, and with each record removes what hangs off
// it in other buckets.
type pruner struct {
	bucket []byte
	// with are the buckets drop deletes from.
	with  [][]byte
	judge func(p *pruning, tx *Tx, k, v []byte) (verdict, error)
	// drop deletes what goes with a pruned record and counts it; nil when
	// nothing does.
	drop func(tx *Tx, k, v []byte, removed map[string]int) error
}

// pruning is one Prune run.
type pruning struct {
	keep, audit time.Time // records before these go; audit zero: never
	// pendingFanOuts are the fan-outs pending rows refer to, read once per
	// transaction (nil: not read yet).
	pendingFanOuts map[uint64]bool
}

func keepCutoff(p *pruning) time.Time  { return p.keep }
func auditCutoff(p *pruning) time.Time { return p.audit }

var pruners = []pruner{
	{bucket: bucketUpdates, judge: byTime(keepCutoff)},
	{bucket: bucketJournal, judge: byTime(keepCutoff)},
	{bucket: bucketDeliveries, with: [][]byte{bucketOrigins}, judge: byTime(keepCutoff), drop: dropOrigin},
	{bucket: bucketOutboxChats, judge: staleChatRow},
	{bucket: bucketFanOuts, with: [][]byte{bucketFanOutActions, bucketFanOutMisses}, judge: finishedFanOut, drop: dropFanOut},
	{bucket: bucketTokens, judge: deadToken},
	{bucket: bucketInvites, judge: endedInvite},
	{bucket: bucketAudit, judge: byTime(auditCutoff)},
}

// keptBuckets are never pruned: they hold state, not bookkeeping.
var keptBuckets = [][]byte{
	bucketMeta, bucketUsers, bucketChats, bucketAdmins, bucketConversations,
	bucketOutbox, bucketJobs, bucketUnits, bucketUnitCodes, bucketUnitChildren,
	bucketUnitNames, bucketMembers, bucketUserUnits, bucketVillages,
	bucketLinks, bucketChatLinks,
}

// PrunedBuckets names the buckets Prune may delete from, for metrics.
func PrunedBuckets() []string {
	var out []string
	for _, p := range pruners {
		out = append(out, string(p.bucket))
		for _, w := range p.with {
			out = append(out, string(w))
		}
	}
	return out
}

// Prune removes the records that are kept only for a while. Most of the
// store is danvan's state and stays until a person or a feature removes
// it; some records are kept only so that something happens exactly once,
// or so that it can be looked back on for a while. Prune removes those
// once they are older than PruneOptions.Keep ([store] keep_days, 30 by
// default) or, for the audit log, AuditKeep ([store] audit_keep_days,
// 730):
//
//	updates        markers of processed updates, by when they were processed. A
//	               marker guards only the moment between the commit that
//	               applied an update (with the next getUpdates offset) and the
//	               next getUpdates, which confirms it: Telegram never sends a
//	               confirmed update again, and keeps an unconfirmed one 24 hours
//	               at most (a webhook's retries too). An older marker guards
//	               nothing, so an update whose marker was pruned cannot be
//	               applied twice.
//	journal        the trace of processed updates, by when they were processed.
//	deliveries     what became of settled outbox rows (sent, failed, expired,
//	origins        unreachable, recalled), by when they were settled, with their
//	               origin index entries. Recalling an announcement reads them, for
//	               48 hours (Telegram's limit for deleting a message); pending
//	               rows have no delivery record yet.
//	outbox_chats   index keys whose row has left the outbox, whatever their age
//	               (a settled row normally takes its key with it).
//	fanouts        fan-outs finished before the cutoff, with their stored message
//	fanout_actions and the chats they could not reach. A fan-out still sending, or
//	fanout_misses  one a pending row refers to, stays whatever its age.
//	tokens         keyboard tokens used, or expired, before the cutoff: a press on
//	               such a keyboard answers "expired" instead of "already
//	               handled", and changes nothing either way.
//	invites        invite links that ended (expired or revoked) before the audit
//	               cutoff: the audit log records who made and revoked each, so an
//	               invite goes with its audit entries. Opening such a link then
//	               says the link is not valid rather than expired; both ask for a
//	               new one.
//	audit          entries older than AuditKeep (kept for ever when it is zero).
//
// Everything else stays: pending outbox rows, conversations (the
// housekeeping job ends them after [bot] conversation_timeout), users,
// chats (the registry of unreachable and migrated chats), admins, units
// and their indexes, members, villages, links, the scheduler's
// watermarks, and meta (the schema version, the getUpdates offset, the
// counters). keptBuckets lists them, and a test checks that every bucket
// is either pruned or kept on purpose.
//
// Prune deletes in batches of BatchSize keys, each its own write
// transaction, and looks for them in read transactions, so updates are
// never held up for long behind the single writer; a night with nothing to
// prune writes nothing. Buckets whose keys grow with time (update ids, sequences) are
// scanned from the oldest key and the scan stops at the first record to
// keep; tokens, invites and outbox_chats have random or unordered keys and
// are scanned whole. bbolt does not give freed pages back to the file
// system but reuses them, so once pruning runs the file stops growing
// (`danvan compact` shrinks it).
//
// Prune returns what it removed, also when it fails or ctx ends part-way:
// every batch it committed stays committed, and running it again carries
// on. A record that does not decode is kept and reported in the error;
// the rest of its bucket, and the other buckets, are pruned all the same.
func (s *Store) Prune(ctx context.Context, o PruneOptions) (PruneStats, error) {
	if o.Now.IsZero() {
		return PruneStats{}, fmt.Errorf("prune: no time given")
	}
	o.Keep = max(o.Keep, MinKeep)
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultPruneBatch
	}
	p := &pruning{keep: o.Now.Add(-o.Keep)}
	if o.AuditKeep > 0 {
		p.audit = o.Now.Add(-o.AuditKeep)
	}
	stats := PruneStats{Removed: make(map[string]int)}
	var errs []error
	for _, pr := range pruners {
		// A bucket that cannot be pruned (a record that does not
		// decode) leaves the others to be pruned.
		if err := s.prune(ctx, p, pr, o.BatchSize, &stats); err != nil {
			if ctx.Err() != nil {
				return stats, err
			}
			errs = append(errs, fmt.Errorf("prune %s: %w", pr.bucket, err))
		}
	}
	return stats, errors.Join(errs...)
}

// prune runs one pruner in batches. Each batch is judged in a read
// transaction, which holds up no writer: from where the last batch stopped
// it looks at no more than 4×batch keys and picks at most batch. A write
// transaction then judges the picked records again, as they are now, and
// deletes them with what goes with them. A batch that picks nothing
// writes nothing.
func (s *Store) prune(ctx context.Context, p *pruning, pr pruner, batch int, stats *PruneStats) error {
	var from []byte // the first key not judged yet; nil: the bucket's first
	// unreadable counts the records that do not decode (firstErr says
	// why for the first): they are kept.
	var unreadable int
	var firstErr error
	for done := false; !done; {
		var picked [][]byte
		err := s.View(ctx, func(tx *Tx) error {
			picked, done, p.pendingFanOuts = picked[:0], true, nil
			c := tx.bucket(pr.bucket).Cursor()
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
			}
			for scanned := 0; k != nil; k, v = c.Next() {
				if len(picked) >= batch || scanned >= 4*batch {
					from, done = bytes.Clone(k), false
					break
				}
				scanned++
				what, err := pr.judge(p, tx, k, v)
				if err != nil {
					// Kept, and reported once the bucket is done: one
					// bad record must not stop the bucket's pruning.
					if unreadable == 0 {
						firstErr = fmt.Errorf("key %x: %w", k, err)
					}
					unreadable++
					continue
				}
				if what == stopHere {
					break
				}
				if what == pruneIt {
					picked = append(picked, bytes.Clone(k))
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(picked) == 0 {
			continue // nothing here; the next keys, if any
		}
		removed := make(map[string]int)
		err = s.Update(ctx, func(tx *Tx) error {
			clear(removed)
			p.pendingFanOuts = nil
			b := tx.bucket(pr.bucket)
			for _, k := range picked {
				v := b.Get(k)
				if v == nil {
					continue // gone meanwhile
				}
				v = bytes.Clone(v) // the page may change as keys go
				what, err := pr.judge(p, tx, k, v)
				if err != nil {
					return fmt.Errorf("key %x: %w", k, err)
				}
				if what != pruneIt {
					continue // changed meanwhile
				}
				if err := b.Delete(k); err != nil {
					return err
				}
				removed[string(pr.bucket)]++
				if pr.drop != nil {
					if err := pr.drop(tx, k, v, removed); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		stats.Transactions++
		for name, n := range removed {
			stats.Removed[name] += n
		}
	}
	if unreadable > 0 {
		return fmt.Errorf("%d record(s) do not decode and are kept (the first: %w)", unreadable, firstErr)
	}
	return nil
}

// byTime judges records whose JSON carries their time as "at" and whose
// keys grow with it (update ids, sequences): older than the cutoff goes,
// and the first newer one ends the scan. A zero cutoff keeps everything.
//
// Update ids grow with time too, except that Telegram may pick the next
// one at random after a week without updates: a newer marker with a lower
// id then holds the scan up until it ages in turn, which delays pruning
// but never removes a record too young.
func byTime(cutoff func(*pruning) time.Time) func(*pruning, *Tx, []byte, []byte) (verdict, error) {
	return func(p *pruning, _ *Tx, _, v []byte) (verdict, error) {
		limit := cutoff(p)
		if limit.IsZero() {
			return stopHere, nil
		}
		var r struct {
			At time.Time `json:"at"`
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return keepIt, err
		}
		if r.At.Before(limit) {
			return pruneIt, nil
		}
		return stopHere, nil
	}
}

// dropOrigin removes a pruned delivery's origin index entry, so looking
// up the origin never finds a record that is gone.
func dropOrigin(tx *Tx, k, v []byte, removed map[string]int) error {
	var d Delivery
	if err := json.Unmarshal(v, &d); err != nil {
		return err
	}
	if d.Origin == "" {
		return nil
	}
	return deleteCounted(tx, bucketOrigins, originKey(d.Origin, binary.BigEndian.Uint64(k)), removed)
}

// staleChatRow judges an outbox_chats key: it goes when its row has left
// the outbox.
func staleChatRow(_ *pruning, tx *Tx, k, _ []byte) (verdict, error) {
	if len(k) != 16 {
		return keepIt, nil
	}
	if tx.bucket(bucketOutbox).Get(k[8:]) == nil {
		return pruneIt, nil
	}
	return keepIt, nil
}

// finishedFanOut judges a fan-out: it goes when it finished before the
// cutoff and no pending row refers to it. Ids grow with creation time, and
// a fan-out finishes after it was created, so the first one created after
// the cutoff ends the scan.
func finishedFanOut(p *pruning, tx *Tx, _, v []byte) (verdict, error) {
	var f FanOut
	if err := json.Unmarshal(v, &f); err != nil {
		return keepIt, err
	}
	switch {
	case !f.Created.Before(p.keep):
		return stopHere, nil
	case f.Finished.IsZero() || !f.Finished.Before(p.keep):
		return keepIt, nil
	}
	if p.pendingFanOuts == nil {
		pending, err := tx.pendingFanOuts()
		if err != nil {
			return keepIt, err
		}
		p.pendingFanOuts = pending
	}
	if p.pendingFanOuts[f.ID] {
		return keepIt, nil
	}
	return pruneIt, nil
}

// pendingFanOuts returns the fan-outs that pending outbox rows belong to.
func (tx *Tx) pendingFanOuts() (map[uint64]bool, error) {
	out := make(map[uint64]bool)
	needle := []byte(`"fan_out":`)
	c := tx.bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !bytes.Contains(v, needle) {
			continue // a cheap filter before decoding
		}
		var r OutboxRow
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("outbox row %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if r.FanOut != 0 {
			out[r.FanOut] = true
		}
	}
	return out, nil
}

// dropFanOut removes a pruned fan-out's stored message and misses.
func dropFanOut(tx *Tx, k, _ []byte, removed map[string]int) error {
	if err := deleteCounted(tx, bucketFanOutActions, k, removed); err != nil {
		return err
	}
	var keys [][]byte
	c := tx.bucket(bucketFanOutMisses).Cursor()
	for mk, _ := c.Seek(k); mk != nil && bytes.HasPrefix(mk, k); mk, _ = c.Next() {
		keys = append(keys, bytes.Clone(mk))
	}
	for _, mk := range keys {
		if err := deleteCounted(tx, bucketFanOutMisses, mk, removed); err != nil {
			return err
		}
	}
	return nil
}

// deadToken judges a keyboard token: it goes when it was used, or
// expired, before the cutoff.
func deadToken(p *pruning, _ *Tx, _, v []byte) (verdict, error) {
	var t Token
	if err := json.Unmarshal(v, &t); err != nil {
		return keepIt, err
	}
	if (!t.Used.IsZero() && t.Used.Before(p.keep)) || t.Expires.Before(p.keep) {
		return pruneIt, nil
	}
	return keepIt, nil
}

// endedInvite judges an invite: it goes when it expired, or was revoked,
// before the audit cutoff (never when the audit log is kept for ever).
func endedInvite(p *pruning, _ *Tx, _, v []byte) (verdict, error) {
	if p.audit.IsZero() {
		return stopHere, nil
	}
	var inv Invite
	if err := json.Unmarshal(v, &inv); err != nil {
		return keepIt, err
	}
	ended := inv.Expires
	if !inv.Revoked.IsZero() && inv.Revoked.Before(ended) {
		ended = inv.Revoked
	}
	if ended.Before(p.audit) {
		return pruneIt, nil
	}
	return keepIt, nil
}

// deleteCounted deletes the key from the bucket, counting it if it was
// there.
func deleteCounted(tx *Tx, bucket, k []byte, removed map[string]int) error {
	b := tx.bucket(bucket)
	if b.Get(k) == nil {
		return nil
	}
	if err := b.Delete(k); err != nil {
		return err
	}
	removed[string(bucket)]++
	return nil
}
