// Package store keeps all of danvan's state in one bbolt file, behind domain
// methods. Nothing outside this package sees a *bbolt.Tx: callers run
// s.Update(ctx, func(tx *store.Tx) error { … }) to change several things
// atomically and s.View to read, and everything they get back is a copy.
//
// The store knows nothing about Telegram: it holds danvan's own records.
//
// Buckets, all created in Open (keys are big-endian so they sort the way they
// are scanned; ids of chats and users are int64 stored as their uint64 bits;
// values are JSON):
//
//	meta           "schema" → uint64 schema version; "offset" → int64, the next getUpdates offset;
//	               "unreachable" → uint64, how many chats are marked unreachable;
//	               "last_backup" → BackupRecord; "backup_failures" → BackupFailures, the
//	               current streak of failed scheduled backups
//	updates        update id (uint64) → UpdateRecord: the update was applied (or skipped) once
//	journal        sequence (uint64) → JournalEntry, appended once per applied update
//	users          user id → User
//	chats          chat id → Chat, the registry of every chat the bot talks to
//	admins         user id → Admin, admins granted in chat (config admins are not stored)
//	conversations  user id → Conversation, the user's current multi-step dialogue
//	tokens         token code (string) → Token, one per inline keyboard
//	outbox         sequence (uint64) → OutboxRow, messages waiting to be sent
//	outbox_chats   chat id + outbox sequence → empty, the pending rows of each chat
//	deliveries     outbox sequence (uint64) → Delivery, what became of a sent row
//	origins        origin + 0x00 + outbox sequence → Delivery, lookup of sent messages by origin
//	fanouts        fan-out id (uint64) → FanOut, one message to many chats and its tally
//	fanout_actions fan-out id (uint64) → Action, the message, stored once for all copies
//	fanout_misses  fan-out id + chat id → empty, the chats a fan-out could not reach
//	units          unit id (uint64) → Unit
//	unit_codes     upper-cased unit code → unit id
//	unit_children  parent id + child id → empty (parent 0: top level)
//	unit_names     folded name + 0x00 + unit id → empty, for search
//	members        unit id + user id → Membership
//	user_units     user id + unit id → role ("head" | "member")
//	invites        invite code (string) → Invite
//	villages       village code ("02290/thon 3") → Village
//	audit          sequence (uint64) → AuditEntry, append-only
//	links          unit id + chat id → Link, a group chat linked to a unit
//	chat_links     chat id + unit id → empty, the units a group is linked to
//	jobs           job name (string) → JobState, the scheduler's watermarks
//
// Records kept only for exactly-once handling or for looking back —
// update markers, the journal, delivery records, finished fan-outs, used
// keyboard tokens, ended invites and the audit log — are removed by Prune
// once they are older than the configured retention; its comment says
// what goes when, and why everything else stays.
package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrNotFound is returned, wrapped with context, when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("database is in use by another process (is danvan already running?)")

// SchemaVersion is the version of the layout this build reads and writes.
const SchemaVersion = 3

var (
	bucketMeta          = []byte("meta")
	bucketUpdates       = []byte("updates")
	bucketJournal       = []byte("journal")
	bucketUsers         = []byte("users")
	bucketChats         = []byte("chats")
	bucketAdmins        = []byte("admins")
	bucketConversations = []byte("conversations")
	bucketTokens        = []byte("tokens")
	bucketOutbox        = []byte("outbox")
	bucketOutboxChats   = []byte("outbox_chats")
	bucketFanOuts       = []byte("fanouts")
	bucketFanOutActions = []byte("fanout_actions")
	bucketFanOutMisses  = []byte("fanout_misses")
	bucketDeliveries    = []byte("deliveries")
	bucketOrigins       = []byte("origins")
	bucketJobs          = []byte("jobs")
	bucketUnits         = []byte("units")
	bucketUnitCodes     = []byte("unit_codes")
	bucketUnitChildren  = []byte("unit_children")
	bucketUnitNames     = []byte("unit_names")
	bucketMembers       = []byte("members")
	bucketUserUnits     = []byte("user_units")
	bucketInvites       = []byte("invites")
	bucketVillages      = []byte("villages")
	bucketAudit         = []byte("audit")
	bucketLinks         = []byte("links")
	bucketChatLinks     = []byte("chat_links")

	allBuckets = [][]byte{
		bucketMeta, bucketUpdates, bucketJournal, bucketUsers, bucketChats,
		bucketAdmins, bucketConversations, bucketTokens, bucketOutbox,
		bucketOutboxChats, bucketDeliveries, bucketOrigins, bucketFanOuts,
		bucketFanOutActions, bucketFanOutMisses, bucketJobs, bucketUnits, bucketUnitCodes,
		bucketUnitChildren, bucketUnitNames, bucketMembers, bucketUserUnits, bucketInvites,
		bucketVillages, bucketAudit, bucketLinks, bucketChatLinks,
	}

	keySchema      = []byte("schema")
	keyOffset      = []byte("offset")
	keyUnreachable = []byte("unreachable")
)

// migrations[i] upgrades a store from schema version i+1 to i+2. Open
// creates every bucket first, so a migration only moves data.
var migrations = []func(*bolt.Tx) error{
	// 1 → 2: pending outbox rows are indexed by chat.
	func(btx *bolt.Tx) error {
		index := btx.Bucket(bucketOutboxChats)
		return btx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var r OutboxRow
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			return index.Put(chatRowKey(r.ChatID, binary.BigEndian.Uint64(k)), nil)
		})
	},
	// 2 → 3: the number of unreachable chats is kept, not counted.
	func(btx *bolt.Tx) error {
		n := uint64(0)
		err := btx.Bucket(bucketChats).ForEach(func(_, v []byte) error {
			var c Chat
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			if c.Unreachable {
				n++
			}
			return nil
		})
		if err != nil {
			return err
		}
		return btx.Bucket(bucketMeta).Put(keyUnreachable, u64(n))
	},
}

// Options tune Open.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the file before it gives up with ErrLocked. Default 1 s.
	LockTimeout time.Duration
	// ReadOnly opens an existing, up-to-date database for reading only,
	// with a shared lock: several readers may hold it, a writer may not.
	// Update fails. A database that needs a migration is refused (the
	// next writable Open brings it up to date).
	ReadOnly bool
}

// Store is an open danvan database.
type Store struct {
	db *bolt.DB
	// fanOutDone is called inside the transaction that settles a fan-out's
	// last row; see OnFanOutDone.
	fanOutDone func(tx *Tx, f FanOut) error
	// settled is told, after the commit, of every outbox row settled; see
	// OnSettled.
	settled func(status string)
	// queryAnswered receives the answer to a query row; see OnQueryAnswered.
	queryAnswered func(tx *Tx, r OutboxRow, answer string) error
}

// OnQueryAnswered sets the function that receives, inside the settling
// transaction, the answer to a query row (ActChatMember): the row's Origin
// says what asked. Set it once, before use.
func (s *Store) OnQueryAnswered(fn func(tx *Tx, r OutboxRow, answer string) error) {
	s.queryAnswered = fn
}

// OnSettled sets a function told, after each commit, the outcome of every
// outbox row the transaction settled (sent, failed, expired, unreachable),
// for metrics. Set it once, before use.
func (s *Store) OnSettled(fn func(status string)) { s.settled = fn }

// Open opens (creating if needed) the database at path, creates its buckets
// and brings its schema up to date. The file is created with mode 0600 and
// its directory with 0700.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.ReadOnly {
		return openReadOnly(path, opts)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
	}
	db, err := openBolt(path, bolt.Options{}, opts.LockTimeout)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := db.Update(initialize); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

func openReadOnly(path string, opts Options) (*Store, error) {
	db, err := openBolt(path, bolt.Options{ReadOnly: true}, opts.LockTimeout)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.View(func(btx *bolt.Tx) error {
		for _, name := range allBuckets {
			if btx.Bucket(name) == nil {
				return fmt.Errorf("bucket %s is missing: open it once with danvan run to bring it up to date", name)
			}
		}
		if v := btx.Bucket(bucketMeta).Get(keySchema); len(v) != 8 || binary.BigEndian.Uint64(v) != SchemaVersion {
			return fmt.Errorf("schema is not version %d: open it once with danvan run to bring it up to date", SchemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// openBolt opens path with bbolt, waiting up to timeout for the lock, and
// makes sure that once the lock is held path still names the file locked.
// Restore and compact rename a new database over path and then let go of
// the old one's lock: a bot that was waiting for that lock must not run on
// the old file, whose later writes nobody would ever read.
func openBolt(path string, o bolt.Options, timeout time.Duration) (*bolt.DB, error) {
	deadline := time.Now().Add(timeout)
	retried := false
	for {
		// bbolt waits for ever when Timeout is zero.
		o.Timeout = max(time.Until(deadline), 10*time.Millisecond)
		// The file bbolt opened, as it was when opened (bbolt closes it
		// again when it fails).
		var held os.FileInfo
		o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			if err == nil {
				held, _ = f.Stat()
			}
			return f, err
		}
		db, err := bolt.Open(path, 0o600, &o)
		replaced := func() bool {
			named, nerr := os.Stat(path)
			return held != nil && (nerr != nil || !os.SameFile(held, named))
		}
		if err != nil {
			// Restore's empty placeholder, read after restore let it go,
			// fails to open (read-only, it cannot be initialized): the
			// restored file is at path now.
			if errors.Is(err, bolterrors.ErrTimeout) || !replaced() {
				return nil, err
			}
		} else if !replaced() {
			return db, nil
		} else {
			db.Close()
		}
		// The file at path is new: it is worth one more try, even when
		// the wait is over.
		if time.Now().After(deadline) {
			if retried {
				return nil, bolterrors.ErrTimeout
			}
			retried = true
		}
	}
}

func initialize(btx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := btx.Bucket(bucketMeta)
	version := uint64(0)
	if v := meta.Get(keySchema); v != nil {
		version = binary.BigEndian.Uint64(v)
	}
	switch {
	case meta.Get(keySchema) == nil:
		version = SchemaVersion // a new store
	case version > SchemaVersion:
		return fmt.Errorf("database schema %d is newer than this danvan understands (%d): upgrade danvan", version, SchemaVersion)
	}
	for version < SchemaVersion {
		if err := migrations[version-1](btx); err != nil {
			return fmt.Errorf("migrate schema %d → %d: %w", version, version+1, err)
		}
		version++
	}
	return meta.Put(keySchema, u64(version))
}

// Close closes the database file.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// Update runs fn in one read-write transaction: everything fn changes is
// committed together, or nothing is when fn returns an error or panics.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, s: s}) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, s: s}) })
}

// Tx is a transaction carrying danvan's domain methods.
type Tx struct {
	tx *bolt.Tx
	s  *Store
}

// OnCommit registers fn to run after the transaction commits. In-memory
// caches and wake-ups change only here, never before the data is durable.
func (tx *Tx) OnCommit(fn func()) { tx.tx.OnCommit(fn) }

// Offset returns the getUpdates offset to ask for next (0 before the first
// update was applied).
func (tx *Tx) Offset() int64 {
	v := tx.tx.Bucket(bucketMeta).Get(keyOffset)
	if v == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// SetOffset records the next getUpdates offset. It never moves backwards.
func (tx *Tx) SetOffset(offset int64) error {
	if offset <= tx.Offset() {
		return nil
	}
	return tx.tx.Bucket(bucketMeta).Put(keyOffset, u64(uint64(offset)))
}

// ClearOffset forgets the getUpdates offset. Webhook mode calls it: its
// updates may be acknowledged out of order, so no offset is known, and a
// later long poll must start from Telegram's first unconfirmed update
// (the update markers skip what was already applied).
func (tx *Tx) ClearOffset() error {
	return tx.tx.Bucket(bucketMeta).Delete(keyOffset)
}

func (tx *Tx) bucket(name []byte) *bolt.Bucket { return tx.tx.Bucket(name) }

// u64 encodes n as an 8-byte big-endian key.
func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// id encodes a user or chat id as a key.
func id(n int64) []byte { return u64(uint64(n)) }

// getJSON decodes the value at key into v, or returns ErrNotFound.
func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

// putJSON encodes v and stores it at key.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}
