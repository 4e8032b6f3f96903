package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Audit actions.
const (
	AuditAdminGrant     = "admin.grant"
	AuditAdminRevoke    = "admin.revoke"
	AuditUnitCreate     = "unit.create"
	AuditUnitEdit       = "unit.edit"
	AuditUnitDelete     = "unit.delete"
	AuditUnitsImport    = "units.import"
	AuditInviteCreate   = "invite.create"
	AuditInviteRevoke   = "invite.revoke"
	AuditGroupLink      = "group.link"
	AuditGroupUnlink    = "group.unlink"
	AuditAnnounceSend   = "announce.send"
	AuditAnnounceRecall = "announce.recall"
)

// AuditEntry is one consequential action: who did what to what, and when.
// The log is append-only; erasure turns a person into a pseudonym in it.
type AuditEntry struct {
	Seq uint64    `json:"-"`
	At  time.Time `json:"at"`
	// ActorID is the person's Telegram id (0 for the command line or an
	// erased person); ActorName their name at the time, "CLI", or a
	// pseudonym such as "Người dùng #12 (đã xóa dữ liệu)".
	ActorID   int64  `json:"actor_id,omitempty"`
	ActorName string `json:"actor_name"`
	Action    string `json:"action"`
	// Target names what was acted on (a unit's code and name, a user id,
	// a group's title); Detail adds what changed.
	Target string `json:"target,omitempty"`
	Detail string `json:"detail,omitempty"`
	// SubjectID is a person the action was about (a grant's grantee), so
	// erasure can find them; 0 when none.
	SubjectID int64 `json:"subject_id,omitempty"`
}

// Audit appends an entry to the audit log.
func (tx *Tx) Audit(e AuditEntry) error {
	b := tx.bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return putJSON(b, u64(seq), e)
}

// AuditLog returns up to limit entries, newest first, skipping the newest
// skip entries.
func (tx *Tx) AuditLog(skip, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	c := tx.bucket(bucketAudit).Cursor()
	for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
		if skip > 0 {
			skip--
			continue
		}
		var e AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("audit entry: %w", err)
		}
		e.Seq = binary.BigEndian.Uint64(k)
		out = append(out, e)
	}
	return out, nil
}
