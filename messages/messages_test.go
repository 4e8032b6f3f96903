package messages

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var hcm = mustZone("Asia/Ho_Chi_Minh")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func load(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load(hcm)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

var sampleCommands = []CommandHelp{
	{Name: "trogiup", Alias: "help", Desc: "Hướng dẫn", Example: "/trogiup"},
	{Name: "id", Desc: "Mã của bạn", Example: "/id"},
}

// samples renders every template at least once; TestEveryKeyHasASample
// keeps it complete.
var samples = []struct {
	name string
	msg  Message
	text bool
}{
	{"welcome", Welcome{Name: "Hoa <b>&", Commands: sampleCommands}, false},
	{"welcome_admin", Welcome{Name: "Lan", IsAdmin: true, Commands: sampleCommands}, false},
	{"help", Help{Commands: sampleCommands, BotUsername: "danvan_bot"}, false},
	{"help_admin", Help{IsAdmin: true, Commands: sampleCommands, BotUsername: "danvan_bot"}, false},
	{"your_id_private", YourID{UserID: 123456789, ChatID: 123456789}, false},
	{"your_id_group", YourID{UserID: 123456789, ChatID: -1001234567890, InGroup: true}, false},
	{"your_id_anonymous", YourID{ChatID: -1001234567890, InGroup: true}, false},
	{"cancelled", Cancelled{Title: "Chọn ngôn ngữ"}, false},
	{"nothing_to_cancel", NothingToCancel{}, false},
	{"unknown_command", UnknownCommand{Command: "foo<x>"}, false},
	{"hint_text", Hint{What: "text"}, false},
	{"hint_sticker", Hint{What: "sticker"}, false},
	{"apology", Apology{}, false},
	{"refused_admin", Refused{Need: "admin"}, false},
	{"refused_person", Refused{Need: "person"}, false},
	{"refused_private", Refused{Need: "private"}, false},
	{"refused_other", Refused{Need: "unknown"}, false},
	{"refused_head", Refused{Need: "head"}, false},
	{"refused_member", Refused{Need: "member"}, false},
	{"refused_top_level", Refused{Need: "top_level"}, false},
	{"private_only", PrivateOnly{BotUsername: "danvan_bot"}, false},
	{"bad_start_code", BadStartCode{}, false},
	{"conversation_expired", ConversationExpired{Title: "Chọn ngôn ngữ", Timeout: 30 * time.Minute}, false},
	{"choose_language", ChooseLanguage{Current: Vi}, false},
	{"choose_language_again", ChooseLanguageAgain{}, false},
	{"language_set", LanguageSet{}, false},
	{"bad_language", BadLanguage{Arg: "fr"}, false},
	{"page_of", PageOf{Page: 2, Pages: 5}, false},
	{"fanout_report_all_sent", FanOutReport{Total: 1200, Sent: 1200, Took: 41 * time.Second}, false},
	{"fanout_report_recalled", FanOutReport{Title: "Ủy ban MTTQ xã Thái Bình: Họp giao ban", Total: 10, Sent: 4, Recalled: 6, Took: time.Minute}, false},
	{"fanout_report_mixed", FanOutReport{Total: 10, Sent: 6, Failed: 1, Unreachable: 2, Expired: 1, Took: 95 * time.Second,
		Names: []string{"Nguyễn Thị Hoa", "Chi hội <Phụ nữ> thôn 3"}}, false},
	{"fanout_report_many", FanOutReport{Total: 300, Sent: 200, Unreachable: 100, Took: time.Hour,
		Names: []string{"Lò Văn A", "Hoàng Thị B"}, More: 98}, false},
	{"button_confirm", Button{Name: "confirm"}, true},
	{"button_cancel", Button{Name: "cancel"}, true},
	{"button_prev", Button{Name: "prev"}, true},
	{"button_next", Button{Name: "next"}, true},
	{"button_skip", Button{Name: "skip"}, true},
	{"button_lang_vi", Button{Name: "lang_vi"}, true},
	{"button_lang_en", Button{Name: "lang_en"}, true},
	{"notice_done", Notice{Name: "done"}, true},
	{"notice_expired", Notice{Name: "expired"}, true},
	{"notice_refused", Notice{Name: "refused"}, true},
	{"notice_saved", Notice{Name: "saved"}, true},
	{"notice_error", Notice{Name: "error"}, true},
	{"cmd_start", CommandDesc{Command: "start"}, true},
	{"cmd_trogiup", CommandDesc{Command: "trogiup"}, true},
	{"cmd_id", CommandDesc{Command: "id"}, true},
	{"cmd_huy", CommandDesc{Command: "huy"}, true},
	{"cmd_ngonngu", CommandDesc{Command: "ngonngu"}, true},
	{"example_start", CommandExample{Command: "start"}, true},
	{"example_trogiup", CommandExample{Command: "trogiup"}, true},
	{"example_id", CommandExample{Command: "id"}, true},
	{"example_huy", CommandExample{Command: "huy"}, true},
	{"example_ngonngu", CommandExample{Command: "ngonngu"}, true},
	{"conv_language", ConversationTitle{Name: "language"}, true},
	{"unitkind_mttq", UnitKind{Kind: "mttq"}, true},
	{"unitkind_phunu", UnitKind{Kind: "phunu"}, true},
	{"unitkind_nongdan", UnitKind{Kind: "nongdan"}, true},
	{"unitkind_doanthanhnien", UnitKind{Kind: "doanthanhnien"}, true},
	{"unitkind_ccb", UnitKind{Kind: "ccb"}, true},
	{"unitkind_congdoan", UnitKind{Kind: "congdoan"}, true},
	{"unitkind_chibo", UnitKind{Kind: "chibo"}, true},
	{"unitkind_bandanvan", UnitKind{Kind: "bandanvan"}, true},
	{"unitkind_khac", UnitKind{Kind: "khac"}, true},
	{"button_top_level", Button{Name: "top_level"}, true},
	{"button_field_name", Button{Name: "field_name"}, true},
	{"button_field_kind", Button{Name: "field_kind"}, true},
	{"button_field_parent", Button{Name: "field_parent"}, true},
	{"button_field_place", Button{Name: "field_place"}, true},
	{"invite_label", InviteLabel{Unit: "Hội LHPN xã Thái Bình", Head: true, Expires: time.Date(2026, 12, 7, 8, 0, 0, 0, hcm)}, true},
	{"conv_addunit", ConversationTitle{Name: "addunit"}, true},
	{"conv_editunit", ConversationTitle{Name: "editunit"}, true},
	{"conv_profile", ConversationTitle{Name: "profile"}, true},
	{"conv_pickunit", ConversationTitle{Name: "pickunit"}, true},
	{"conv_decision", ConversationTitle{Name: "decision"}, true},
	{"unit_line", UnitLine{Depth: 1, Name: "Hội LHPN xã Thái Bình", Code: "02290-PHUNU", Kind: "Hội LHPN", Path: "Thái Bình › Tuyên Quang", Heads: 2, Members: 135}, false},
	{"unit_line_groups", UnitLine{Name: "Ủy ban MTTQ tỉnh", Code: "08-MTTQ", Kind: "Mặt trận Tổ quốc", Heads: 1, Members: 1, Groups: 2}, false},
	{"unit_list_header_mine", UnitListHeader{Mode: "mine", Count: 6}, false},
	{"unit_list_header_all", UnitListHeader{Mode: "all", Count: 20000}, false},
	{"unit_list_header_search", UnitListHeader{Mode: "search", Query: "thai binh", Count: 3}, false},
	{"no_units", NoUnits{}, false},
	{"ask_unit_name", AskUnitName{}, false},
	{"ask_unit_kind", AskUnitKind{Name: "Hội LHPN xã Thái Bình"}, false},
	{"ask_parent", AskParent{Name: "Hội LHPN xã Thái Bình", CanBeTop: true}, false},
	{"ask_parent_head", AskParent{Name: "Chi hội thôn 3"}, false},
	{"ask_place", AskPlace{Name: "Chi hội thôn 3", ParentPlace: "Thái Bình › Tuyên Quang"}, false},
	{"ask_place_top", AskPlace{Name: "Ban Dân vận"}, false},
	{"ask_which_unit", AskWhichUnit{Command: "moi"}, false},
	{"choose_unit", ChooseUnit{Query: "Thái Bình"}, false},
	{"choose_place", ChoosePlace{Query: "Thái Bình"}, false},
	{"unit_not_found", UnitNotFound{Query: "Hội <x>"}, false},
	{"place_not_found", PlaceNotFound{Query: "Sao Hỏa"}, false},
	{"bad_kind", BadKind{Kind: "hoiphu", Kinds: []KindOption{{"mttq", "Mặt trận Tổ quốc"}, {"phunu", "Hội LHPN"}}}, false},
	{"code_taken", CodeTaken{Code: "08-MTTQ"}, false},
	{"bad_code", BadCode{Code: "mã có dấu"}, false},
	{"unit_created", UnitCreated{Name: "Hội LHPN xã Thái Bình", Code: "02290-PHUNU", Kind: "Hội LHPN", Parent: "Ủy ban MTTQ xã Thái Bình", Place: "Thái Bình › Tuyên Quang"}, false},
	{"unit_created_top", UnitCreated{Name: "Ban Dân vận Tỉnh ủy", Code: "08-BDV", Kind: "Ban Dân vận"}, false},
	{"unit_created_outside_front", UnitCreated{Name: "Hội LHPN tỉnh", Code: "08-PHUNU", Kind: "Hội LHPN", OutsideFront: true}, false},
	{"choose_field", ChooseField{Name: "Hội LHPN xã Thái Bình"}, false},
	{"ask_new_value_name", AskNewValue{Field: "name", Current: "Hội LHPN xã Thái Bình"}, false},
	{"ask_new_value_parent", AskNewValue{Field: "parent", Current: "Ủy ban MTTQ xã Thái Bình"}, false},
	{"ask_new_value_place", AskNewValue{Field: "place", Current: "Thái Bình › Tuyên Quang"}, false},
	{"unit_updated", UnitUpdated{Name: "Hội LHPN xã Thái Bình", Code: "02290-PHUNU", Field: "name", Value: "Hội LHPN xã Thái Bình (mới)"}, false},
	{"unit_updated_kind", UnitUpdated{Name: "Chi hội", Code: "X-1", Field: "kind", Value: "Khác"}, false},
	{"move_refused", MoveRefused{Name: "Ủy ban MTTQ tỉnh"}, false},
	{"confirm_delete_unit", ConfirmDeleteUnit{Name: "Chi hội thôn 3", Code: "02290-T3"}, false},
	{"unit_deleted", UnitDeleted{Name: "Chi hội thôn 3", Code: "02290-T3"}, false},
	{"delete_refused", DeleteRefused{Name: "Ủy ban MTTQ xã", Children: 5, Members: 3}, false},
	{"delete_refused_members", DeleteRefused{Name: "Hội LHPN", Members: 1}, false},
	{"invite_created_head", InviteCreated{Unit: "Hội LHPN xã Thái Bình", Head: true, Link: "https://t.me/danvan_bot?start=i_abc", Expires: time.Date(2026, 12, 7, 8, 0, 0, 0, hcm), Uses: 1}, false},
	{"invite_created_member", InviteCreated{Unit: "Hội LHPN xã Thái Bình", Link: "https://t.me/danvan_bot?start=i_def", Expires: time.Date(2026, 12, 7, 8, 0, 0, 0, hcm), Uses: 5000}, false},
	{"invite_revoked", InviteRevoked{Unit: "Hội LHPN xã Thái Bình"}, false},
	{"choose_invite", ChooseInvite{Count: 2}, false},
	{"choose_invite_none", ChooseInvite{}, false},
	{"invite_invalid_expired", InviteInvalid{Reason: "expired"}, false},
	{"invite_invalid_used", InviteInvalid{Reason: "used"}, false},
	{"invite_invalid_revoked", InviteInvalid{Reason: "revoked"}, false},
	{"invite_invalid_unknown", InviteInvalid{Reason: "unknown"}, false},
	{"joined_head", Joined{Unit: "Hội LHPN xã Thái Bình", Head: true, AskName: true}, false},
	{"joined_again", Joined{Unit: "Hội LHPN xã Thái Bình", Already: true}, false},
	{"ask_position_head", AskPosition{Name: "Nguyễn Thị Hoa", Required: true}, false},
	{"ask_position_member", AskPosition{Name: "Lò Văn Páo"}, false},
	{"bad_full_name", BadFullName{}, false},
	{"profile_saved", ProfileSaved{FullName: "Nguyễn Thị Hoa", Position: "Chủ tịch Hội LHPN xã"}, false},
	{"new_member_notice", NewMemberNotice{Name: "Nguyễn Thị Hoa", Position: "Phó Chủ tịch", Unit: "Hội LHPN xã Thái Bình", Head: true}, false},
	{"member_list_header", MemberListHeader{Unit: "Hội LHPN xã Thái Bình", Heads: 2, Members: 135}, false},
	{"member_line", MemberLine{Name: "Nguyễn Thị Hoa", Position: "Chủ tịch Hội LHPN xã", UserID: 123456789, Head: true}, false},
	{"member_removed", MemberRemoved{Name: "Lò Văn Páo", Unit: "Hội LHPN xã Thái Bình"}, false},
	{"not_a_member", NotAMember{Unit: "Hội LHPN xã Thái Bình", UserID: 42}, false},
	{"not_a_member_self", NotAMember{Unit: "Hội LHPN xã Thái Bình", UserID: 42, Self: true}, false},
	{"confirm_leave", ConfirmLeave{Unit: "Hội LHPN xã Thái Bình"}, false},
	{"left_unit", LeftUnit{Unit: "Hội LHPN xã Thái Bình"}, false},
	{"ask_user_id", AskUserID{Command: "capquyen"}, false},
	{"bad_user_id", BadUserID{Arg: "@hoa"}, false},
	{"admin_granted", AdminChange{Change: "granted", Name: "Nguyễn Thị Lan", UserID: 111}, false},
	{"admin_already", AdminChange{Change: "already", Name: "Lan", UserID: 111}, false},
	{"admin_revoked", AdminChange{Change: "revoked", Name: "Lan", UserID: 111}, false},
	{"admin_config", AdminChange{Change: "config", Name: "Lan", UserID: 111}, false},
	{"admin_self", AdminChange{Change: "self", Name: "Lan", UserID: 111}, false},
	{"admin_not", AdminChange{Change: "not_admin", Name: "Lan", UserID: 111}, false},
	{"admin_claimed", AdminClaimed{}, false},
	{"dismissed", Dismissed{}, false},
	{"confirm_erase", ConfirmErase{}, false},
	{"confirm_erase_admin", ConfirmErase{Admin: true}, false},
	{"erased", Erased{}, false},
	{"pseudonym", Pseudonym{N: 12}, true},
	{"button_erase", Button{Name: "erase"}, true},
	{"cmd_xoadulieu", CommandDesc{Command: "xoadulieu"}, true},
	{"example_xoadulieu", CommandExample{Command: "xoadulieu"}, true},
	{"audit_admin_grant", AuditAction{Action: "admin.grant"}, true},
	{"audit_admin_revoke", AuditAction{Action: "admin.revoke"}, true},
	{"audit_unit_create", AuditAction{Action: "unit.create"}, true},
	{"audit_unit_edit", AuditAction{Action: "unit.edit"}, true},
	{"audit_unit_delete", AuditAction{Action: "unit.delete"}, true},
	{"audit_units_import", AuditAction{Action: "units.import"}, true},
	{"audit_invite_create", AuditAction{Action: "invite.create"}, true},
	{"audit_invite_revoke", AuditAction{Action: "invite.revoke"}, true},
	{"audit_group_link", AuditAction{Action: "group.link"}, true},
	{"audit_group_unlink", AuditAction{Action: "group.unlink"}, true},
	{"audit_announce_send", AuditAction{Action: "announce.send"}, true},
	{"audit_announce_recall", AuditAction{Action: "announce.recall"}, true},
	{"button_recall", Button{Name: "recall"}, true},
	{"cmd_thongbao", CommandDesc{Command: "thongbao"}, true},
	{"example_thongbao", CommandExample{Command: "thongbao"}, true},
	{"cmd_nhatky", CommandDesc{Command: "nhatky"}, true},
	{"example_nhatky", CommandExample{Command: "nhatky"}, true},
	{"ask_announcement", AskAnnouncement{Unit: "Ủy ban MTTQ xã Thái Bình"}, false},
	{"announcement_too_long", AnnouncementTooLong{Length: 5000, Limit: 4096}, false},
	{"nobody_to_tell", NobodyToTell{Unit: "Chi hội thôn 3"}, false},
	{"confirm_announcement", ConfirmAnnouncement{Unit: "Ủy ban MTTQ xã Thái Bình", People: 2000, Groups: 3, Takes: 67 * time.Second, Preview: "Mời dự họp <b>giao ban</b>"}, false},
	{"confirm_announcement_photo", ConfirmAnnouncement{Unit: "Ủy ban MTTQ xã Thái Bình", People: 1, Takes: time.Second, Attachment: "photo"}, false},
	{"confirm_announcement_document", ConfirmAnnouncement{Unit: "Hội LHPN xã Thái Bình", People: 12, Groups: 1, Takes: 2 * time.Second, Preview: "Kế hoạch quý IV", Attachment: "document", FileName: "ke-hoach.pdf"}, false},
	{"announcement", Announcement{Unit: "Ủy ban MTTQ xã Thái Bình", Text: "Mời dự họp giao ban lúc 8 giờ."}, false},
	{"announcement_sending", AnnouncementSending{Unit: "Ủy ban MTTQ xã Thái Bình", People: 1, Groups: 0, Takes: 0}, false},
	{"announcement_sending_long", AnnouncementSending{Unit: "Ủy ban MTTQ xã Thái Bình", People: 2000, Groups: 3, Takes: 67 * time.Second}, false},
	{"recall_started", RecallStarted{Sent: 1990, Cancelled: 10}, false},
	{"recall_report", RecallReport{Removed: 1985, Failed: 5}, false},
	{"bad_count", BadCount{Arg: "abc"}, false},
	{"audit_header", AuditHeader{Count: 3}, false},
	{"audit_line", AuditLine{At: time.Date(2026, 11, 30, 8, 15, 0, 0, hcm), Actor: "Nguyễn Thị Lan", ActorID: 111, Action: "tạo đơn vị", Target: "02494-PHUNU — Hội LHPN xã Thái Bình", Detail: "Ủy ban MTTQ xã Thái Bình"}, false},
	{"audit_line_cli", AuditLine{At: time.Date(2026, 11, 30, 8, 15, 0, 0, hcm), Actor: "CLI", Action: "nhập danh sách đơn vị", Target: "units.csv", Detail: "85 tạo mới, 0 cập nhật, 0 không đổi"}, false},
	{"audit_detail_send", NewAuditDetail("announce.send", "2000/3"), true},
	{"audit_detail_recall", NewAuditDetail("announce.recall", "1990/10"), true},
	{"audit_detail_import", NewAuditDetail("units.import", "85/0/0"), true},
	{"audit_detail_edit", NewAuditDetail("unit.edit", "parent = Ủy ban MTTQ xã Thái Bình"), true},
	{"audit_detail_invite", NewAuditDetail("invite.create", "head"), true},
	{"audit_detail_claim", NewAuditDetail("admin.grant", "claim"), true},
	{"audit_detail_title", NewAuditDetail("group.link", "Chi đoàn 2024/2025"), true},
	{"audit_detail_old_count", NewAuditDetail("announce.send", "1 người, 0 nhóm"), true},

	{"group_only", GroupOnly{}, false},
	{"link_refused_admin", LinkRefused{Reason: "not_admin"}, false},
	{"link_refused_unknown", LinkRefused{Reason: "unknown"}, false},
	{"group_linked", GroupLinked{Unit: "Hội LHPN xã Thái Bình", Group: "Chi hội Phụ nữ thôn 3"}, false},
	{"group_unlinked", GroupUnlinked{Unit: "Hội LHPN xã Thái Bình"}, false},
	{"group_unlinked_not", GroupUnlinked{Unit: "Hội LHPN xã Thái Bình", WasNot: true}, false},
	{"group_lost", GroupLost{Unit: "Hội LHPN xã Thái Bình", Group: "Chi hội Phụ nữ thôn 3"}, false},
	{"bot_added", BotAdded{BotUsername: "danvan_bot"}, false},
	{"bot_added_back", BotAdded{BotUsername: "danvan_bot", Units: []string{"Hội LHPN xã Thái Bình", "Đoàn Thanh niên"}}, false},
	{"cmd_lienket", CommandDesc{Command: "lienket"}, true},
	{"example_lienket", CommandExample{Command: "lienket"}, true},
	{"cmd_huylienket", CommandDesc{Command: "huylienket"}, true},
	{"example_huylienket", CommandExample{Command: "huylienket"}, true},
	{"import_missing_code", ImportProblem{Line: 3, Problem: "missing_code"}, true},
	{"import_missing_name", ImportProblem{Line: 4, Problem: "missing_name", Value: "X-1"}, true},
	{"import_bad_kind", ImportProblem{Line: 5, Problem: "bad_kind", Value: "hoiphu"}, true},
	{"import_duplicate", ImportProblem{Line: 9, Problem: "duplicate_code", Value: "08-MTTQ", Other: 2}, true},
	{"import_unknown_parent", ImportProblem{Line: 6, Problem: "unknown_parent", Value: "99-MTTQ"}, true},
	{"import_cycle", ImportProblem{Line: 7, Problem: "cycle", Value: "A"}, true},
	{"import_unknown_place", ImportProblem{Line: 8, Problem: "unknown_place", Value: "99999"}, true},
	{"import_missing_column", ImportProblem{Line: 1, Problem: "missing_column", Value: "loai"}, true},
	{"import_unknown_column", ImportProblem{Line: 1, Problem: "unknown_column", Value: "ghichu"}, true},
	{"import_other", ImportProblem{Line: 1, Problem: "other", Value: "x"}, true},
	{"import_summary", ImportSummary{Created: 85, Updated: 0, Unchanged: 0}, true},
	{"import_ambiguous_place", ImportProblem{Line: 4, Problem: "ambiguous_place", Value: "8", Other: 8}, true},
	{"import_failed", ImportFailed{File: "units.csv", Problems: 2}, true},
	{"import_failed_unread", ImportFailed{File: "units.ods", Problems: 1, Unread: true}, true},
	{"import_file_not_table", ImportFileProblem{Problem: "not_table", Value: ".ods"}, true},
	{"import_file_not_found", ImportFileProblem{Problem: "not_found"}, true},
	{"import_file_denied", ImportFileProblem{Problem: "denied"}, true},
	{"import_file_unreadable", ImportFileProblem{Problem: "unreadable", Value: "read units.csv: input/output error"}, true},
	{"import_file_not_workbook", ImportFileProblem{Problem: "not_workbook", Value: "zip: not a valid zip file"}, true},
	{"import_file_no_sheet", ImportFileProblem{Problem: "no_sheet", Value: "Danh sách", List: []string{"Tỉnh", "Xã"}}, true},
	{"import_file_no_sheet_none", ImportFileProblem{Problem: "no_sheet"}, true},
	{"import_file_empty", ImportFileProblem{Problem: "empty"}, true},
	{"import_file_empty_sheet", ImportFileProblem{Problem: "empty", Value: "Trang tính1"}, true},
	{"import_file_duplicate_column", ImportFileProblem{Line: 1, Problem: "duplicate_column", Value: "ma", List: []string{"ma", "ma"}}, true},
	{"import_file_duplicate_alias", ImportFileProblem{Line: 2, Problem: "duplicate_column", Value: "ma", List: []string{"Mã", "Mã đơn vị"}}, true},
	{"import_file_unclosed_quote", ImportFileProblem{Line: 7, Problem: "unclosed_quote"}, true},
	{"import_file_bad_text", ImportFileProblem{Problem: "bad_text", Value: "encoding: invalid UTF-16"}, true},
	{"import_file_stray_byte", ImportFileProblem{Line: 3, Problem: "bad_text", Value: "stray_byte"}, true},
	{"import_sheet", ImportSheet{Sheet: "Đơn vị", Sheets: []string{"Hướng dẫn", "Đơn vị"}}, true},
	{"import_sheet_chosen", ImportSheet{Sheet: "Xã", Sheets: []string{"Tỉnh", "Xã", "Ghi chú"}, Chosen: true}, true},
	{"bot_running", BotRunning{Path: "data/danvan.db", Command: "restore"}, true},
	{"store_busy", StoreBusy{Path: "data/danvan.db", Socket: "data/danvan.sock", Reason: "connect: permission denied"}, true},
	{"backup_written", BackupWritten{Path: "/mnt/usb/danvan-20261126.db", Size: 13_107_200}, true},
	{"backup_written_small", BackupWritten{Path: "backup.db", Size: 32768}, true},
	{"backup_exists", BackupExists{Path: "/mnt/usb/danvan-20261126.db"}, true},
	{"restore_done", RestoreDone{Backup: "danvan-20261126-020000.db", Path: "data/danvan.db", Aside: "data/danvan.db.before-restore-20261126-093000"}, true},
	{"restore_done_after_loss", RestoreDone{Backup: "danvan-20261126-020000.db", Path: "data/danvan.db"}, true},
	{"restore_refused_not_store", RestoreRefused{Backup: "notes.txt", Problem: "not_store", Detail: "invalid database"}, true},
	{"restore_refused_newer", RestoreRefused{Backup: "danvan.db", Problem: "newer", Detail: "schema 4, this danvan reads up to 3"}, true},
	{"restore_refused_missing", RestoreRefused{Backup: "danvan.db", Problem: "missing", Detail: "no such file or directory"}, true},
	{"compact_done", CompactDone{Path: "data/danvan.db", Before: 1_288_490_189, After: 420 << 20}, true},
	{"backup_failed", BackupFailed{At: time.Date(2026, 11, 26, 2, 0, 0, 0, hcm), Dir: "data/backups",
		Reason: "create data/backups/danvan-20261126-020000.db: no space left on device"}, false},
	{"backup_recovered", BackupRecovered{At: time.Date(2026, 11, 29, 2, 0, 0, 0, hcm), Since: time.Date(2026, 11, 26, 2, 0, 0, 0, hcm), Failures: 3}, false},
	{"doctor_config_ok", DoctorLine{Finding: "config_ok", Path: "/etc/danvan/config.toml", Mode: "polling"}, true},
	{"doctor_config_ok_defaults", DoctorLine{Finding: "config_ok", Mode: "webhook"}, true},
	{"doctor_config_invalid", DoctorLine{Finding: "config_invalid", Path: "/etc/danvan/config.toml", Reason: "/etc/danvan/config.toml:12: backup.keep: must be at least 1"}, true},
	{"doctor_config_invalid_env", DoctorLine{Finding: "config_invalid", Reason: "DANVAN_TELEGRAM_TOKEN: missing"}, true},
	{"doctor_store_running", DoctorLine{Finding: "store_running", Path: "/var/lib/danvan/danvan.db", Socket: "/var/lib/danvan/danvan.sock", Version: "v0.6.0", PID: 4242, Uptime: 50*time.Hour + 3*time.Minute}, true},
	{"doctor_store_stopped", DoctorLine{Finding: "store_stopped", Path: "/var/lib/danvan/danvan.db", Size: 48 << 20}, true},
	{"doctor_store_missing", DoctorLine{Finding: "store_missing", Path: "data/danvan.db"}, true},
	{"doctor_store_old", DoctorLine{Finding: "store_old", Path: "data/danvan.db", Size: 1 << 20}, true},
	{"doctor_store_newer", DoctorLine{Finding: "store_newer", Path: "data/danvan.db", Reason: "schema 4, this danvan reads up to 3"}, true},
	{"doctor_store_bad", DoctorLine{Finding: "store_bad", Path: "data/danvan.db", Reason: "invalid database"}, true},
	{"doctor_store_locked", DoctorLine{Finding: "store_locked", Path: "data/danvan.db", Socket: "data/danvan.sock", Reason: "connect: connection refused"}, true},
	{"doctor_store_denied", DoctorLine{Finding: "store_denied", Path: "data/danvan.db", Socket: "data/danvan.sock", Reason: "connect: permission denied"}, true},
	{"doctor_telegram_skipped", DoctorLine{Finding: "telegram_skipped"}, true},
	{"doctor_api_unreachable", DoctorLine{Finding: "api_unreachable", Host: "api.telegram.org", Reason: "dial tcp 149.154.167.220:443: connect: connection refused"}, true},
	{"doctor_api_unreachable_proxy", DoctorLine{Finding: "api_unreachable", Host: "api.telegram.org", Proxy: "http://10.0.0.1:3128", Reason: "no answer within 30s"}, true},
	{"doctor_api_reachable", DoctorLine{Finding: "api_reachable", Host: "api.telegram.org"}, true},
	{"doctor_api_reachable_proxy", DoctorLine{Finding: "api_reachable", Host: "api.telegram.org", Proxy: "http://10.0.0.1:3128"}, true},
	{"doctor_token_refused", DoctorLine{Finding: "token_refused"}, true},
	{"doctor_getme_failed", DoctorLine{Finding: "getme_failed", Reason: "Bad Gateway (502)"}, true},
	{"doctor_bot_ok", DoctorLine{Finding: "bot_ok", Bot: "danvan_tuyenquang_bot", Name: "Trợ lý Dân vận", ID: 7012345678}, true},
	{"doctor_webhook_unknown", DoctorLine{Finding: "webhook_unknown", Reason: "Bad Gateway (502)"}, true},
	{"doctor_webhook_none", DoctorLine{Finding: "webhook_none"}, true},
	{"doctor_webhook_set_polling", DoctorLine{Finding: "webhook_set_polling", Host: "bot.example.vn/telegram", Count: 12}, true},
	{"doctor_webhook_set_stopped", DoctorLine{Finding: "webhook_set_stopped", Host: "bot.example.vn/telegram", Count: 1}, true},
	{"doctor_webhook_missing_running", DoctorLine{Finding: "webhook_missing_running", Other: "bot.example.vn/telegram"}, true},
	{"doctor_webhook_missing_stopped", DoctorLine{Finding: "webhook_missing_stopped", Other: "bot.example.vn/telegram"}, true},
	{"doctor_webhook_mismatch", DoctorLine{Finding: "webhook_mismatch", Host: "old.example.vn/hook", Other: "bot.example.vn/telegram", Count: 3}, true},
	{"doctor_webhook_failing", DoctorLine{Finding: "webhook_failing", Host: "bot.example.vn/telegram", Count: 1, Reason: "Connection refused",
		At: time.Date(2026, 11, 26, 9, 15, 0, 0, hcm)}, true},
	{"doctor_webhook_ok", DoctorLine{Finding: "webhook_ok", Host: "bot.example.vn/telegram"}, true},
	{"doctor_backup_skipped", DoctorLine{Finding: "backup_skipped"}, true},
	{"doctor_backup_failing", DoctorLine{Finding: "backup_failing", Count: 3, Path: "/var/lib/danvan/backups",
		At: time.Date(2026, 11, 24, 2, 0, 0, 0, hcm), Reason: "no space left on device"}, true},
	{"doctor_backup_failing_one", DoctorLine{Finding: "backup_failing", Count: 1, Path: "backups",
		At: time.Date(2026, 11, 26, 2, 0, 0, 0, hcm), Reason: "permission denied"}, true},
	{"doctor_backup_unscheduled", DoctorLine{Finding: "backup_unscheduled"}, true},
	{"doctor_backup_unscheduled_last", DoctorLine{Finding: "backup_unscheduled", At: time.Date(2026, 11, 20, 16, 30, 0, 0, hcm), Age: 6*24*time.Hour + 2*time.Hour, Size: 13 << 20}, true},
	{"doctor_backup_none", DoctorLine{Finding: "backup_none", Spec: "0 2 * * *"}, true},
	{"doctor_backup_stale", DoctorLine{Finding: "backup_stale", Spec: "0 2 * * *", At: time.Date(2026, 11, 22, 2, 0, 0, 0, hcm),
		Due: time.Date(2026, 11, 23, 2, 0, 0, 0, hcm), Age: 4*24*time.Hour + 7*time.Hour}, true},
	{"doctor_backup_ok", DoctorLine{Finding: "backup_ok", Spec: "0 2 * * *", At: time.Date(2026, 11, 26, 2, 0, 0, 0, hcm), Age: 7*time.Hour + 12*time.Minute, Size: 48 << 20}, true},
	{"doctor_disk_ok", DoctorLine{Finding: "disk_ok", Path: "/var/lib/danvan", Size: 18 << 30, Count: 62}, true},
	{"doctor_disk_low", DoctorLine{Finding: "disk_low", Path: "/var/lib/danvan", Size: 900 << 20, Count: 4}, true},
	{"doctor_disk_full", DoctorLine{Finding: "disk_full", Path: "/var/lib/danvan/backups", Size: 120 << 20, Need: 304 << 20, Count: 1}, true},
	{"doctor_outbox_skipped", DoctorLine{Finding: "outbox_skipped"}, true},
	{"doctor_outbox_empty", DoctorLine{Finding: "outbox_empty"}, true},
	{"doctor_outbox_ok", DoctorLine{Finding: "outbox_ok", Count: 1840, Age: 42 * time.Second}, true},
	{"doctor_outbox_ok_one", DoctorLine{Finding: "outbox_ok", Count: 1, Age: 3 * time.Second}, true},
	{"doctor_outbox_waiting", DoctorLine{Finding: "outbox_waiting", Count: 25, Age: 3*time.Hour + 5*time.Minute}, true},
	{"doctor_outbox_stuck", DoctorLine{Finding: "outbox_stuck", Count: 310, Age: 47 * time.Minute, Limit: 15 * time.Minute}, true},
	{"doctor_clock_skipped", DoctorLine{Finding: "clock_skipped"}, true},
	{"doctor_clock_unknown", DoctorLine{Finding: "clock_unknown"}, true},
	{"doctor_clock_ok", DoctorLine{Finding: "clock_ok", Age: time.Second}, true},
	{"doctor_clock_ahead", DoctorLine{Finding: "clock_skewed", Age: 3*time.Minute + 10*time.Second, Ahead: true}, true},
	{"doctor_clock_behind", DoctorLine{Finding: "clock_skewed", Age: 45 * time.Second}, true},
	{"doctor_summary_failed", DoctorSummary{Failed: 2, Warnings: 1}, true},
	{"doctor_summary_one", DoctorSummary{Failed: 1}, true},
	{"doctor_summary_warnings", DoctorSummary{Warnings: 2}, true},
	{"doctor_summary_ok", DoctorSummary{}, true},
	{"bad_role", BadRole{Word: "giamdoc", Unit: "08-PHUNU"}, false},
	{"edited_command", EditedCommand{}, false},
	{"bad_length_name", BadLength{What: "unit_name", Min: 2, Max: 120, Got: 131}, false},
	{"bad_length_position", BadLength{What: "position", Min: 2, Max: 120, Got: 1}, false},
	{"cmd_themdonvi", CommandDesc{Command: "themdonvi"}, true},
	{"example_themdonvi", CommandExample{Command: "themdonvi"}, true},
	{"cmd_donvi", CommandDesc{Command: "donvi"}, true},
	{"example_donvi", CommandExample{Command: "donvi"}, true},
	{"cmd_suadonvi", CommandDesc{Command: "suadonvi"}, true},
	{"example_suadonvi", CommandExample{Command: "suadonvi"}, true},
	{"cmd_xoadonvi", CommandDesc{Command: "xoadonvi"}, true},
	{"example_xoadonvi", CommandExample{Command: "xoadonvi"}, true},
	{"cmd_moi", CommandDesc{Command: "moi"}, true},
	{"example_moi", CommandExample{Command: "moi"}, true},
	{"cmd_huymoi", CommandDesc{Command: "huymoi"}, true},
	{"example_huymoi", CommandExample{Command: "huymoi"}, true},
	{"cmd_thanhvien", CommandDesc{Command: "thanhvien"}, true},
	{"example_thanhvien", CommandExample{Command: "thanhvien"}, true},
	{"cmd_xoathanhvien", CommandDesc{Command: "xoathanhvien"}, true},
	{"example_xoathanhvien", CommandExample{Command: "xoathanhvien"}, true},
	{"cmd_roidonvi", CommandDesc{Command: "roidonvi"}, true},
	{"example_roidonvi", CommandExample{Command: "roidonvi"}, true},
	{"cmd_capquyen", CommandDesc{Command: "capquyen"}, true},
	{"example_capquyen", CommandExample{Command: "capquyen"}, true},
	{"cmd_thuhoiquyen", CommandDesc{Command: "thuhoiquyen"}, true},
	{"example_thuhoiquyen", CommandExample{Command: "thuhoiquyen"}, true},
}

func TestGolden(t *testing.T) {
	c := load(t)
	for _, lang := range Langs() {
		var all strings.Builder
		for _, s := range samples {
			p := c.For(lang)
			var got string
			if s.text {
				got = p.Text(s.msg)
			} else if strings.HasPrefix(s.msg.Key(), "unit_line") || strings.HasPrefix(s.msg.Key(), "member_line") || strings.HasPrefix(s.msg.Key(), "audit_line") {
				got = p.Item(s.msg)
			} else {
				got = p.HTML(s.msg)
			}
			if strings.TrimSpace(got) == "" {
				t.Errorf("%s/%s renders empty", lang, s.name)
			}
			if !s.text && VisibleLength(got) > MaxText {
				t.Errorf("%s/%s is %d characters, over Telegram's limit", lang, s.name, VisibleLength(got))
			}
			all.WriteString("== " + s.name + "\n" + got + "\n\n")
		}
		path := filepath.Join("testdata", string(lang)+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(all.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden (run go test ./messages -update): %v", err)
		}
		if all.String() != string(want) {
			t.Errorf("%s: rendering differs from %s (run go test ./messages -update and review the diff):\n%s", lang, path, firstDiff(all.String(), string(want)))
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

func itoa(n int) string { return formatNumber(n, En) }

func TestEveryKeyInEveryLanguage(t *testing.T) {
	c := load(t)
	vi, en := c.Keys(Vi), c.Keys(En)
	slices.Sort(vi)
	slices.Sort(en)
	for _, k := range vi {
		if _, found := slices.BinarySearch(en, k); !found {
			t.Errorf("template %q is in vi but not in en", k)
		}
	}
	for _, k := range en {
		if _, found := slices.BinarySearch(vi, k); !found {
			t.Errorf("template %q is in en but not in vi", k)
		}
	}
}

func TestEveryKeyHasASample(t *testing.T) {
	c := load(t)
	covered := map[string]bool{}
	for _, s := range samples {
		covered[s.msg.Key()] = true
	}
	for _, k := range c.Keys(Vi) {
		if !covered[k] {
			t.Errorf("template %q has no sample in TestGolden", k)
		}
	}
}

func TestUserTextIsEscaped(t *testing.T) {
	c := load(t)
	got := c.For(Vi).HTML(Welcome{Name: `<script>&"x"`})
	if strings.Contains(got, "<script>") || !strings.Contains(got, "&lt;script&gt;&amp;") {
		t.Errorf("name not escaped: %q", got)
	}
}

func TestMissingKeyIsAnError(t *testing.T) {
	c := load(t)
	defer func() {
		if recover() == nil {
			t.Error("rendering an unknown template did not fail")
		}
	}()
	c.For(Vi).HTML(CommandDesc{Command: "no-such-command"})
}

func TestDate(t *testing.T) {
	c := load(t)
	tests := []struct {
		when time.Time
		lang Lang
		want string
	}{
		{time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), Vi, "Thứ Hai, 30/11/2026 08:00"},
		{time.Date(2026, 11, 29, 8, 0, 0, 0, hcm), Vi, "Chủ Nhật, 29/11/2026 08:00"},
		{time.Date(2026, 12, 5, 14, 30, 0, 0, hcm), Vi, "Thứ Bảy, 05/12/2026 14:30"},
		{time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), En, "Monday, 30/11/2026 08:00"},
	}
	for _, tt := range tests {
		if got := c.For(tt.lang).Date(tt.when); got != tt.want {
			t.Errorf("Date(%v, %s) = %q, want %q", tt.when, tt.lang, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		lang Lang
		want string
	}{
		{2*time.Hour + 30*time.Minute, Vi, "2 giờ 30 phút"},
		{2*time.Hour + 30*time.Minute + 10*time.Second, Vi, "2 giờ 30 phút"},
		{27 * time.Hour, Vi, "1 ngày 3 giờ"},
		{time.Hour + 5*time.Second, Vi, "1 giờ"},
		{45 * time.Second, Vi, "45 giây"},
		{0, Vi, "0 giây"},
		{30 * time.Minute, En, "30 minutes"},
		{time.Hour + time.Minute, En, "1 hour 1 minute"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d, tt.lang); got != tt.want {
			t.Errorf("formatDuration(%v, %s) = %q, want %q", tt.d, tt.lang, got, tt.want)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		n    int
		lang Lang
		want string
	}{
		{0, Vi, "0"}, {999, Vi, "999"}, {1000, Vi, "1.000"}, {10000, Vi, "10.000"},
		{1234567, En, "1,234,567"}, {-2000, Vi, "-2.000"},
	}
	for _, tt := range tests {
		if got := formatNumber(tt.n, tt.lang); got != tt.want {
			t.Errorf("formatNumber(%d, %s) = %q, want %q", tt.n, tt.lang, got, tt.want)
		}
	}
}

func TestVisibleLength(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"abc", 3},
		{"<b>Xã Thái Bình</b>", 12},
		{"a &lt; b &amp;&amp; c", 10},
		{"😀", 2}, // outside the BMP: two UTF-16 units
		{`<a href="https://t.me/x">link</a>`, 4},
	}
	for _, tt := range tests {
		if got := VisibleLength(tt.in); got != tt.want {
			t.Errorf("VisibleLength(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestPaginate(t *testing.T) {
	var items []string
	for i := range 500 {
		items = append(items, "<b>Xã Thái Bình</b> — Hội Liên hiệp Phụ nữ xã số "+formatNumber(i, Vi))
	}
	pages := Paginate("<b>Danh sách</b>", items, "<i>Trang</i>", 0)
	if len(pages) < 2 {
		t.Fatalf("got %d pages, want several", len(pages))
	}
	seen := 0
	for i, p := range pages {
		if n := VisibleLength(p); n > MaxText {
			t.Errorf("page %d is %d long, over %d", i, n, MaxText)
		}
		if !strings.HasPrefix(p, "<b>Danh sách</b>\n") || !strings.HasSuffix(p, "\n<i>Trang</i>") {
			t.Errorf("page %d lacks header or footer", i)
		}
		seen += strings.Count(p, "— Hội")
	}
	if seen != len(items) {
		t.Errorf("pages hold %d items, want %d", seen, len(items))
	}

	long := strings.Repeat("ư", 5000)
	pages = Paginate("h", []string{"a", long, "b"}, "", 0)
	for i, p := range pages {
		if n := VisibleLength(p); n > MaxText {
			t.Errorf("page %d with an over-long item is %d long", i, n)
		}
	}
	if got := Paginate("h", nil, "f", 0); len(got) != 1 || got[0] != "h\nf" {
		t.Errorf("empty list: got %q, want one page \"h\\nf\"", got)
	}
}

// What a person typed is quoted back short: a forgotten "|" before a long
// announcement must not make a reply Telegram refuses.
func TestEchoKeepsRepliesShort(t *testing.T) {
	c := load(t)
	long := strings.Repeat("Kính mời các đồng chí dự hội nghị giao ban quý IV ", 80) // ~4,000 characters
	for _, lang := range Langs() {
		for _, m := range []Message{UnitNotFound{Query: long}, ChooseUnit{Query: long}, BadLanguage{Arg: long}} {
			got := c.For(lang).HTML(m)
			if n := utf8.RuneCountInString(got); n > 400 {
				t.Errorf("%s/%s quotes %d characters back", lang, m.Key(), n)
			}
			if !strings.Contains(got, "…") {
				t.Errorf("%s/%s: no sign that the text was cut: %q", lang, m.Key(), got)
			}
		}
	}
	if got := echo("ngắn"); got != "ngắn" {
		t.Errorf("echo of a short text: %q", got)
	}
	if got := echo(strings.Repeat("a", 150)); got != strings.Repeat("a", 100)+"…" {
		t.Errorf("echo without a space: %q", got)
	}
}
