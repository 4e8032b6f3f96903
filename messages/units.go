package messages

import (
	"strconv"
	"strings"
	"time"
)

// Messages of the organization tree: units, invites, members, admins.

// UnitKind is a unit kind's display name ("Hội LHPN").
type UnitKind struct{ Kind string }

func (k UnitKind) Key() string { return "unitkind." + k.Kind }

// UnitLine is one unit in a list.
type UnitLine struct {
	Depth          int
	Name, Code     string
	Kind           string // display name
	Path           string // the place's path, "Thái Bình › Tuyên Quang"
	Heads, Members int
	Groups         int // linked group chats (later issues)
}

func (UnitLine) Key() string { return "unit_line" }

// UnitListHeader heads a list of units: Mode "mine", "all" or "search".
type UnitListHeader struct {
	Mode  string
	Query string
	Count int
}

func (UnitListHeader) Key() string { return "unit_list_header" }

// NoUnits answers /donvi for a person in no unit.
type NoUnits struct{}

func (NoUnits) Key() string { return "no_units" }

// AskUnitName asks for a new unit's name.
type AskUnitName struct{}

func (AskUnitName) Key() string { return "ask_unit_name" }

// AskUnitKind asks for a new unit's kind, with buttons.
type AskUnitKind struct{ Name string }

func (AskUnitKind) Key() string { return "ask_unit_kind" }

// AskParent asks which unit directs the new one.
type AskParent struct {
	Name     string
	CanBeTop bool
}

func (AskParent) Key() string { return "ask_parent" }

// AskPlace asks for a new unit's place, offering to skip.
type AskPlace struct {
	Name        string
	ParentPlace string
}

func (AskPlace) Key() string { return "ask_place" }

// AskWhichUnit asks which unit a command is about.
type AskWhichUnit struct{ Command string }

func (AskWhichUnit) Key() string { return "ask_which_unit" }

// ChooseUnit offers the units a name could mean.
type ChooseUnit struct{ Query string }

func (ChooseUnit) Key() string { return "choose_unit" }

// ChoosePlace offers the places a name could mean.
type ChoosePlace struct{ Query string }

func (ChoosePlace) Key() string { return "choose_place" }

// UnitNotFound says no unit matches.
type UnitNotFound struct{ Query string }

func (UnitNotFound) Key() string { return "unit_not_found" }

// PlaceNotFound says no place matches.
type PlaceNotFound struct{ Query string }

func (PlaceNotFound) Key() string { return "place_not_found" }

// BadKind says a kind is not one danvan knows and lists those it does.
type BadKind struct {
	Kind  string
	Kinds []KindOption
}

func (BadKind) Key() string { return "bad_kind" }

// KindOption is a kind's code and display name.
type KindOption struct{ Code, Name string }

// CodeTaken says another unit has this code.
type CodeTaken struct{ Code string }

func (CodeTaken) Key() string { return "code_taken" }

// UnitCreated confirms a new unit.
type UnitCreated struct {
	Name, Code, Kind string
	Parent, Place    string
	// OutsideFront says an organization (Hội, Đoàn, Công đoàn) was put
	// under no Ủy ban MTTQ, although since 2025 they sit under the Front.
	OutsideFront bool
}

func (UnitCreated) Key() string { return "unit_created" }

// ChooseField asks which of a unit's fields to change.
type ChooseField struct{ Name string }

func (ChooseField) Key() string { return "choose_field" }

// AskNewValue asks for the new value of a field ("name", "kind",
// "parent", "place").
type AskNewValue struct {
	Field   string
	Current string
}

func (AskNewValue) Key() string { return "ask_new_value" }

// UnitUpdated confirms a change.
type UnitUpdated struct {
	Name, Code string
	Field      string
	Value      string
}

func (UnitUpdated) Key() string { return "unit_updated" }

// MoveRefused says a unit cannot go under itself or its own units.
type MoveRefused struct{ Name string }

func (MoveRefused) Key() string { return "move_refused" }

// ConfirmDeleteUnit asks before deleting.
type ConfirmDeleteUnit struct{ Name, Code string }

func (ConfirmDeleteUnit) Key() string { return "confirm_delete_unit" }

// UnitDeleted confirms a deletion.
type UnitDeleted struct{ Name, Code string }

func (UnitDeleted) Key() string { return "unit_deleted" }

// DeleteRefused explains why a unit cannot be deleted.
type DeleteRefused struct {
	Name              string
	Children, Members int
}

func (DeleteRefused) Key() string { return "delete_refused" }

// InviteCreated gives an invite link.
type InviteCreated struct {
	Unit    string
	Head    bool
	Link    string
	Expires time.Time
	Uses    int
}

func (InviteCreated) Key() string { return "invite_created" }

// InviteRevoked confirms that a link no longer works.
type InviteRevoked struct{ Unit string }

func (InviteRevoked) Key() string { return "invite_revoked" }

// ChooseInvite lists the links a person may revoke, as buttons.
type ChooseInvite struct{ Count int }

func (ChooseInvite) Key() string { return "choose_invite" }

// InviteLabel is an invite's button label.
type InviteLabel struct {
	Unit    string
	Head    bool
	Expires time.Time
}

func (InviteLabel) Key() string { return "invite_label" }

// InviteInvalid explains why a link cannot be used: "expired", "used",
// "revoked", "unknown".
type InviteInvalid struct{ Reason string }

func (InviteInvalid) Key() string { return "invite_invalid" }

// Joined welcomes a person into a unit and asks for their full name.
type Joined struct {
	Unit    string
	Head    bool
	Already bool
	// AskName is set when the person has not given their full name yet.
	AskName bool
}

func (Joined) Key() string { return "joined" }

// AskPosition asks for the person's position; members may skip.
type AskPosition struct {
	Name     string
	Required bool
}

func (AskPosition) Key() string { return "ask_position" }

// BadFullName says a name is too short or too long.
type BadFullName struct{}

func (BadFullName) Key() string { return "bad_full_name" }

// BadRole refuses an invite's role word that is neither truong nor
// thanhvien; Unit is the unit's code, for the example.
type BadRole struct{ Word, Unit string }

func (BadRole) Key() string { return "bad_role" }

// BadLength refuses a unit's name or a position ("unit_name",
// "position") outside Min..Max characters; Got is how many it had.
type BadLength struct {
	What          string
	Min, Max, Got int
}

func (BadLength) Key() string { return "bad_length" }

// ProfileSaved confirms name and position.
type ProfileSaved struct{ FullName, Position string }

func (ProfileSaved) Key() string { return "profile_saved" }

// NewMemberNotice tells a unit's heads who joined.
type NewMemberNotice struct {
	Name, Position string
	Unit           string
	Head           bool
}

func (NewMemberNotice) Key() string { return "new_member_notice" }

// MemberListHeader heads a unit's roster.
type MemberListHeader struct {
	Unit           string
	Heads, Members int
}

func (MemberListHeader) Key() string { return "member_list_header" }

// MemberLine is one person in a roster.
type MemberLine struct {
	Name, Position string
	UserID         int64
	Head           bool
}

func (MemberLine) Key() string { return "member_line" }

// MemberRemoved confirms a removal.
type MemberRemoved struct{ Name, Unit string }

func (MemberRemoved) Key() string { return "member_removed" }

// NotAMember says a person (Self: the reader) is not in the unit.
type NotAMember struct {
	Unit   string
	UserID int64
	Self   bool
}

func (NotAMember) Key() string { return "not_a_member" }

// ConfirmLeave asks before leaving a unit.
type ConfirmLeave struct{ Unit string }

func (ConfirmLeave) Key() string { return "confirm_leave" }

// LeftUnit confirms leaving.
type LeftUnit struct{ Unit string }

func (LeftUnit) Key() string { return "left_unit" }

// AskUserID asks for a numeric Telegram user id.
type AskUserID struct{ Command string }

func (AskUserID) Key() string { return "ask_user_id" }

// BadUserID says an argument is not a user id.
type BadUserID struct{ Arg string }

func (BadUserID) Key() string { return "bad_user_id" }

// AdminChange reports a grant or revocation. Change is "granted",
// "already", "revoked", "not_admin", "config" (named in the
// configuration: cannot be revoked in chat) or "self".
type AdminChange struct {
	Change string
	Name   string
	UserID int64
}

func (AdminChange) Key() string { return "admin_change" }

// AdminClaimed welcomes the first admin.
type AdminClaimed struct{}

func (AdminClaimed) Key() string { return "admin_claimed" }

// Dismissed says an action was cancelled with the Hủy button.
type Dismissed struct{}

func (Dismissed) Key() string { return "dismissed" }

// ImportProblem is one bad line of a unit file, for the command line:
// Problem is "missing_code", "missing_name", "bad_kind", "duplicate_code",
// "unknown_parent", "cycle", "unknown_place", "ambiguous_place" (Other:
// the number Excel left of a code, which could be a province's or a
// commune's), "missing_column", "unknown_column".
type ImportProblem struct {
	Line    int
	Problem string
	Value   string
	Other   int
}

func (ImportProblem) Key() string { return "import_problem" }

// ImportSummary reports a successful import.
type ImportSummary struct{ Created, Updated, Unchanged int }

func (ImportSummary) Key() string { return "import_summary" }

// ImportFailed heads the list of problems: nothing was written. Unread
// says the file could not be read at all.
type ImportFailed struct {
	File     string
	Problems int
	Unread   bool
}

func (ImportFailed) Key() string { return "import_failed" }

// ImportFileProblem says why a unit file cannot be read: Problem is
// "not_table" (Value: the extension), "not_found", "denied", "unreadable"
// (Value: the system's reason), "not_workbook" (Value: the reason),
// "no_sheet" (Value: the sheet asked for; List: the workbook's sheets),
// "empty" (Value: the sheet, for a workbook), "duplicate_column" (Value:
// the column; List: the two titles), "unclosed_quote" or "bad_text"
// (Value: the reason). Line is 0 when the file as a whole is at fault.
type ImportFileProblem struct {
	Line    int
	Problem string
	Value   string
	List    []string
}

func (ImportFileProblem) Key() string { return "import_file_problem" }

// ImportSheet says which sheet of a workbook with several was read;
// Chosen when it was named on the command line.
type ImportSheet struct {
	Sheet  string
	Sheets []string
	Chosen bool
}

func (ImportSheet) Key() string { return "import_sheet" }

// BadCode says a unit code has characters it may not have.
type BadCode struct{ Code string }

func (BadCode) Key() string { return "bad_code" }

// GroupOnly says a command works in a group chat only.
type GroupOnly struct{}

func (GroupOnly) Key() string { return "group_only" }

// LinkRefused says why a group was not linked: "not_admin" (the person
// does not administer the group) or "unknown" (Telegram did not say).
type LinkRefused struct{ Reason string }

func (LinkRefused) Key() string { return "link_refused" }

// GroupLinked confirms a link.
type GroupLinked struct{ Unit, Group string }

func (GroupLinked) Key() string { return "group_linked" }

// GroupUnlinked confirms an unlink (WasNot: there was no link).
type GroupUnlinked struct {
	Unit   string
	WasNot bool
}

func (GroupUnlinked) Key() string { return "group_unlinked" }

// GroupLost tells a unit's heads the bot was removed from its group.
type GroupLost struct{ Unit, Group string }

func (GroupLost) Key() string { return "group_lost" }

// BotAdded greets a group the bot was added to.
type BotAdded struct {
	BotUsername string
	// Units are the units whose links came back.
	Units []string
}

func (BotAdded) Key() string { return "bot_added" }

// AskAnnouncement asks for the text of an announcement.
type AskAnnouncement struct{ Unit string }

func (AskAnnouncement) Key() string { return "ask_announcement" }

// AnnouncementTooLong says the text does not fit one message.
type AnnouncementTooLong struct{ Length, Limit int }

func (AnnouncementTooLong) Key() string { return "announcement_too_long" }

// NobodyToTell says the unit's subtree has nobody to announce to.
type NobodyToTell struct{ Unit string }

func (NobodyToTell) Key() string { return "nobody_to_tell" }

// ConfirmAnnouncement is the first reply to /thongbao.
type ConfirmAnnouncement struct {
	Unit           string
	People, Groups int
	Takes          time.Duration
	Preview        string
	// Attachment is what goes with the text: "photo", "document" (named
	// FileName) or "".
	Attachment, FileName string
}

func (ConfirmAnnouncement) Key() string { return "confirm_announcement" }

// Announcement is what recipients read.
type Announcement struct{ Unit, Text string }

func (Announcement) Key() string { return "announcement" }

// AnnouncementSending replaces the confirmation once sending started.
type AnnouncementSending struct {
	Unit           string
	People, Groups int
	Takes          time.Duration
}

func (AnnouncementSending) Key() string { return "announcement_sending" }

// RecallStarted says the copies are being deleted.
type RecallStarted struct{ Sent, Cancelled int }

func (RecallStarted) Key() string { return "recall_started" }

// RecallReport says how many copies were removed.
type RecallReport struct{ Removed, Failed int }

func (RecallReport) Key() string { return "recall_report" }

// BadCount says an argument is not a positive number.
type BadCount struct{ Arg string }

func (BadCount) Key() string { return "bad_count" }

// AuditHeader heads the audit log.
type AuditHeader struct{ Count int }

func (AuditHeader) Key() string { return "audit_header" }

// AuditLine is one entry of the audit log.
type AuditLine struct {
	At                     time.Time
	Actor                  string
	ActorID                int64
	Action, Target, Detail string
}

func (AuditLine) Key() string { return "audit_line" }

// AuditAction names an audit action ("unit.create").
type AuditAction struct{ Action string }

func (a AuditAction) Key() string { return "audit." + a.Action }

// AuditDetail says what an audited action changed, from the entry's
// language-neutral detail: counts ("12/3"), a unit field and its new
// value ("name = …"), an invite's role, or free text shown as stored.
type AuditDetail struct {
	Action, Detail string
	Counts         []int  // the detail's numbers, when it is only numbers
	Field, Value   string // a unit edit's field and new value
}

// NewAuditDetail parses an entry's detail for its template.
func NewAuditDetail(action, detail string) AuditDetail {
	d := AuditDetail{Action: action, Detail: detail}
	if f, v, ok := strings.Cut(detail, " = "); ok {
		d.Field, d.Value = f, v
	}
	for part := range strings.SplitSeq(detail, "/") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			d.Counts = nil
			break
		}
		d.Counts = append(d.Counts, n)
	}
	return d
}

func (AuditDetail) Key() string { return "audit_detail" }

// ConfirmErase asks before erasing the person's data.
type ConfirmErase struct{ Admin bool }

func (ConfirmErase) Key() string { return "confirm_erase" }

// Erased says goodbye after erasure.
type Erased struct{}

func (Erased) Key() string { return "erased" }

// Pseudonym stands for an erased person in records that must stay.
type Pseudonym struct{ N uint64 }

func (Pseudonym) Key() string { return "pseudonym" }
