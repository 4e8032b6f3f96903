package main

import (
	"bytes"
	"context"
	byteorder "encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"danvan/admin"
	"danvan/bot"
	"danvan/clock"
	"danvan/messages"
	"danvan/scheduler"
	"danvan/store"
	"danvan/telegramtest"
)

// startSocketBot is startTestBot with the admin socket, as `danvan run`
// has it.
func startSocketBot(t *testing.T) *testBot {
	t.Helper()
	emu := telegramtest.New(telegramtest.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	tb := &testBot{emu: emu, cfg: testConfig(t, srv.URL, emu.Token()), logs: &syncBuffer{}}
	tb.run(t, appOptions{AdminSocket: true})
	tb.waitPolling(t)
	return tb
}

// cli runs a subcommand in-process against the store at storePath.
func cli(t *testing.T, storePath string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = dispatch(args, &out, &errOut, []string{"DANVAN_STORE_PATH=" + storePath})
	return code, out.String(), errOut.String()
}

// contentsOf returns every key and value of a store, keyed by bucket path
// and key.
func contentsOf(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	m := make(map[string]string)
	err := s.Walk(func(path []string, k, v []byte) error {
		m[strings.Join(path, "/")+" "+string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fileContents opens the store file read-only and returns its contents.
func fileContents(t *testing.T, path string) map[string]string {
	t.Helper()
	s, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer s.Close()
	return contentsOf(t, s)
}

// diff describes how got differs from want over the keys keep accepts
// (nil: all).
func diff(got, want map[string]string, keep func(key string) bool) []string {
	var out []string
	for k, v := range want {
		if keep != nil && !keep(k) {
			continue
		}
		if g, ok := got[k]; !ok {
			out = append(out, "missing "+k)
		} else if g != v {
			out = append(out, fmt.Sprintf("%s: got %q, want %q", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && (keep == nil || keep(k)) {
			out = append(out, "extra "+k)
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("… %d differences", len(out)))
	}
	return out
}

func inBucket(names ...string) func(string) bool {
	return func(key string) bool {
		for _, n := range names {
			if strings.HasPrefix(key, n+" ") {
				return true
			}
		}
		return false
	}
}

// TestBackupWhileUpdatesFlow takes a backup through the admin socket while
// the bot answers 300 commands, and another once it is idle; each restored
// into a fresh place holds the data: the idle one all of it, the one taken
// mid-flow whole transactions only (every update it holds as the live
// store holds it, the data that did not change identical).
func TestBackupWhileUpdatesFlow(t *testing.T) {
	tb := startSocketBot(t)
	live := tb.app.store
	storePath := tb.cfg.Store.Path

	// Data: the sample's units, members and heads with Vietnamese names,
	// and the audit log of it all.
	if code, out, errOut := cli(t, storePath, "import-units", samplePath); code != 0 {
		t.Fatalf("import through the bot: exit %d\n%s%s", code, out, errOut)
	}
	people := make([]telegramtest.User, 30)
	for i := range people {
		people[i] = telegramtest.User{ID: int64(60000 + i), FirstName: "Hội viên", LastName: fmt.Sprintf("Nguyễn Thị %d", i), LanguageCode: "vi"}
	}
	err := live.Update(context.Background(), func(tx *store.Tx) error {
		commune, err := tx.UnitByCode("02494-MTTQ")
		if err != nil {
			return err
		}
		for i, p := range people {
			if _, err := tx.SeeUser(store.User{ID: p.ID, FirstName: p.FirstName, LastName: p.LastName}, time.Now()); err != nil {
				return err
			}
			role := store.RoleMember
			if i%10 == 0 {
				role = store.RoleHead
			}
			if err := tx.AddMember(commune.ID, p.ID, role, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The flow: round after round, each of the 30 people sends /id and
	// the next round starts once every answer came, until told to stop.
	stopFeed, rounds, feedErr := make(chan struct{}), make(chan int, 1000), make(chan error, 1)
	go func() {
		defer close(rounds)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for round := 1; ; round++ {
			select {
			case <-stopFeed:
				return
			default:
			}
			for _, p := range people {
				tb.emu.SendText(p, tb.emu.Private(p), "/id")
			}
			for _, p := range people {
				if _, err := tb.emu.WaitBotMessages(ctx, p.ID, round); err != nil {
					feedErr <- fmt.Errorf("round %d, %d: %w", round, p.ID, err)
					return
				}
			}
			rounds <- round
		}
	}()
	waitRounds := func(n int) {
		t.Helper()
		for r := range rounds {
			if r >= n {
				return
			}
		}
		t.Fatalf("the flow stopped: %v\n%s", <-feedErr, tb.logs)
	}
	waitRounds(2)
	dir := t.TempDir()
	during := filepath.Join(dir, "during.db")
	code, stdout, stderr := cli(t, storePath, "backup", during)
	if code != 0 || !strings.HasPrefix(stdout, "Đã sao lưu dữ liệu vào "+during+" (") || stderr != "" {
		t.Fatalf("backup while updates flow: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if info, err := os.Stat(during); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v; want mode 600", info, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("backup directory holds %d files, want the backup only", len(entries))
	}
	// Two more rounds after the backup, then the flow ends.
	var last int
	for range 2 {
		last = <-rounds
	}
	close(stopFeed)
	for r := range rounds {
		last = r
	}
	select {
	case err := <-feedErr:
		t.Fatalf("the flow: %v", err)
	default:
	}
	// Idle: every update applied, every reply sent and recorded.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var pending int
		live.View(ctx, func(tx *store.Tx) error { pending = tx.OutboxLen(); return nil })
		if tb.emu.Pending() == 0 && pending == 0 {
			break
		}
		if err := tb.emu.WaitPolling(ctx); err != nil {
			t.Fatalf("the bot did not become idle: %v", err)
		}
	}
	after := filepath.Join(dir, "after.db")
	if code, _, stderr := cli(t, storePath, "backup", after); code != 0 {
		t.Fatalf("backup at rest: exit %d, %s", code, stderr)
	}
	want := contentsOf(t, live)
	// The backups are recorded by the bot, as written by the command.
	err = live.View(ctx, func(tx *store.Tx) error {
		last, err := tx.LastBackup()
		if info, _ := os.Stat(after); err != nil || last.Path != after || last.Size != info.Size() || last.Scheduled {
			t.Errorf("last backup %+v (%v), want a manual one at %s of %d bytes", last, err, after, info.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tb.stop()

	// Restored into fresh places, as after a disk loss.
	restore := func(backup string) map[string]string {
		path := filepath.Join(t.TempDir(), "data", "danvan.db")
		code, stdout, stderr := cli(t, path, "restore", backup)
		if code != 0 || !strings.Contains(stdout, "Trước đó không có tệp dữ liệu.") {
			t.Fatalf("restore %s: exit %d, stdout %q, stderr %q", backup, code, stdout, stderr)
		}
		return fileContents(t, path)
	}
	notBackupRecord := func(k string) bool { return k != "meta last_backup" }
	if d := diff(restore(after), want, notBackupRecord); len(d) > 0 {
		t.Errorf("the backup at rest differs from the store: %v", d)
	}
	mid := restore(during)
	unchanged := inBucket("units", "unit_codes", "unit_children", "unit_names", "villages", "members", "user_units", "audit", "admins", "links")
	if d := diff(mid, want, unchanged); len(d) > 0 {
		t.Errorf("the backup taken while updates flowed differs in data that did not change: %v", d)
	}
	var applied int
	for k, v := range mid {
		if inBucket("updates", "journal")(k) {
			applied++
			if want[k] != v {
				t.Errorf("the backup taken mid-flow holds %s as %q, the store as %q", k, v, want[k])
			}
		}
	}
	total := len(filterKeys(want, inBucket("updates", "journal")))
	t.Logf("mid-flow backup: %d of %d update records and journal entries (%d rounds of %d commands)", applied, total, last, len(people))
	if applied == 0 || applied >= total {
		t.Errorf("the backup taken mid-flow holds %d of %d update records: want some, not all", applied, total)
	}
}

func filterKeys(m map[string]string, keep func(string) bool) []string {
	var out []string
	for k := range m {
		if keep(k) {
			out = append(out, k)
		}
	}
	return out
}

// TestBackupWithTheBotStopped: the command opens the store itself, records
// the backup there, refuses to overwrite, and says who holds a store that
// no bot answers for.
func TestBackupWithTheBotStopped(t *testing.T) {
	env, storePath := importEnv(t)
	importSample(t, env)
	dir := t.TempDir()
	out := filepath.Join(dir, "copy.db")
	code, stdout, stderr := cli(t, storePath, "backup", out)
	if code != 0 || !strings.HasPrefix(stdout, "Đã sao lưu dữ liệu vào "+out) || stderr != "" {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	copied := fileContents(t, out)
	stored := fileContents(t, storePath)
	if d := diff(copied, stored, func(k string) bool { return k != "meta last_backup" }); len(d) > 0 {
		t.Errorf("the copy differs from the store: %v", d)
	}
	viewStore(t, storePath, func(tx *store.Tx) {
		if last, err := tx.LastBackup(); err != nil || last.Path != out || last.Scheduled {
			t.Errorf("last backup %+v (%v), want the manual one at %s", last, err, out)
		}
	})
	before, _ := os.ReadFile(out)

	code, stdout, stderr = cli(t, storePath, "backup", out)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "Tệp "+out+" đã có; chưa ghi gì") {
		t.Errorf("backup over an existing file: exit %d, stdout %q, stderr %q; want a refusal", code, stdout, stderr)
	}
	if now, _ := os.ReadFile(out); !bytes.Equal(now, before) {
		t.Error("the refused backup changed the existing file")
	}
	if code, _, stderr := cli(t, storePath, "backup", "-force", out); code != 0 {
		t.Errorf("backup -force: exit %d, %s", code, stderr)
	}

	// Another process holds the store and answers on no socket.
	held, err := store.Open(storePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "second.db")
	code, _, stderr = cli(t, storePath, "backup", second)
	held.Close()
	socket := filepath.Join(filepath.Dir(storePath), "danvan.sock")
	if code != 1 || !strings.Contains(stderr, "không có bot trả lời qua "+socket) || !strings.Contains(stderr, "tài khoản của dịch vụ") {
		t.Errorf("backup of a held store: exit %d, stderr %q; want the socket named and what to do", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the refused backup left files: %v", entries)
	}

	// The copy may not be the database itself, even with -force.
	storeBefore, _ := os.ReadFile(storePath)
	code, _, stderr = cli(t, storePath, "backup", "-force", storePath)
	if code != 1 || !strings.Contains(stderr, "is the database itself ([store] path)") {
		t.Errorf("backup onto the store: exit %d, stderr %q; want a refusal", code, stderr)
	}
	if after, _ := os.ReadFile(storePath); !bytes.Equal(after, storeBefore) {
		t.Error("the refused backup onto the store changed it")
	}

	// An older danvan's database is copied as it is, not brought up to
	// date (the copy before an upgrade must open in the old version), and
	// the copy is not recorded, which would need the new schema.
	setSchema(t, storePath, 2)
	older := filepath.Join(dir, "older.db")
	code, _, stderr = cli(t, storePath, "backup", older)
	if code != 0 || !strings.Contains(stderr, "the database has schema 2") || !strings.Contains(stderr, "not recorded") {
		t.Errorf("backup of an older schema: exit %d, stderr %q; want a copy and a warning", code, stderr)
	}
	for _, p := range []string{storePath, older} {
		if got := schemaOf(t, p); got != 2 {
			t.Errorf("%s has schema %d after the backup, want 2 (untouched)", p, got)
		}
	}
	setSchema(t, storePath, store.SchemaVersion)

	// No store at all: nothing is created.
	missing := filepath.Join(t.TempDir(), "none", "danvan.db")
	code, _, stderr = cli(t, missing, "backup", filepath.Join(dir, "third.db"))
	if code != 1 || !strings.Contains(stderr, "no database to back up at "+missing) {
		t.Errorf("backup of a missing store: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the backup of a missing store created it: %v", err)
	}
}

// TestRestoreAndCompactRefuseWhileTheBotRuns: with the bot answering on
// the socket, or another process holding the store, both refuse and touch
// nothing.
func TestRestoreAndCompactRefuseWhileTheBotRuns(t *testing.T) {
	tb := startSocketBot(t)
	storePath := tb.cfg.Store.Path
	backup := filepath.Join(t.TempDir(), "b.db")
	if code, _, stderr := cli(t, storePath, "backup", backup); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	dirBefore := dirNames(t, filepath.Dir(storePath))
	for _, args := range [][]string{{"restore", backup}, {"compact"}} {
		code, stdout, stderr := cli(t, storePath, args...)
		want := "Bot đang chạy và giữ tệp dữ liệu " + storePath + ". Vui lòng dừng bot (ví dụ: systemctl stop danvan) rồi chạy lại lệnh danvan " + args[0] + "."
		if code != 1 || stdout != "" || strings.TrimSpace(stderr) != want {
			t.Errorf("%s while the bot runs: exit %d, stdout %q, stderr %q; want exit 1, %q", args[0], code, stdout, stderr, want)
		}
	}
	tb.stop()
	// Held by a process without a socket (another danvan, a copy tool).
	held, err := store.Open(storePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"restore", backup}, {"compact"}} {
		if code, _, stderr := cli(t, storePath, args...); code != 1 || !strings.Contains(stderr, "Bot đang chạy") {
			t.Errorf("%s while the store is held: exit %d, stderr %q", args[0], code, stderr)
		}
	}
	held.Close()
	if got := dirNames(t, filepath.Dir(storePath)); strings.Join(got, " ") != strings.Join(dirBefore, " ") && strings.Join(got, " ") != "danvan.db" {
		t.Errorf("the refused commands changed the store's directory: %v → %v", dirBefore, got)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestRestoreCommand: a file that is not a danvan store is refused with
// the store untouched; a good one replaces it, the old one kept aside.
func TestRestoreCommand(t *testing.T) {
	env, storePath := importEnv(t)
	importSample(t, env)
	backup := filepath.Join(t.TempDir(), "b.db")
	if code, _, stderr := cli(t, storePath, "backup", backup); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	// Changes after the backup, which the restore takes back.
	file := writeTestFile(t, "units.csv", importHeader+newUnitLine)
	if code, _, stderr := runImport(t, env, file); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	original, _ := os.ReadFile(storePath)

	random := make([]byte, 1<<16)
	rand.NewChaCha8([32]byte{3}).Read(random)
	junk := writeTestFile(t, "junk.db", string(random))
	// A copy from a newer danvan.
	newer := filepath.Join(t.TempDir(), "newer.db")
	data, _ := os.ReadFile(backup)
	os.WriteFile(newer, data, 0o600)
	db, err := bolt.Open(newer, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		schema := []byte{0, 0, 0, 0, 0, 0, 0, store.SchemaVersion + 1} // big-endian
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), schema)
	})
	db.Close()
	tests := []struct {
		name, file, want string
	}{
		{"a newer danvan's copy", newer, "do phiên bản danvan mới hơn tạo ra, vui lòng nâng cấp danvan trước"},
		{"random bytes", junk, "không phải bản sao lưu dữ liệu danvan còn nguyên vẹn"},
		{"a text file", writeTestFile(t, "notes.txt", "ma,ten\n"), "không phải bản sao lưu dữ liệu danvan còn nguyên vẹn"},
		{"no such file", filepath.Join(t.TempDir(), "nope.db"), "không có tệp"},
	}
	for _, tt := range tests {
		code, stdout, stderr := cli(t, storePath, "restore", tt.file)
		if code != 1 || stdout != "" || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Chưa thay đổi gì.") {
			t.Errorf("restore of %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", tt.name, code, stdout, stderr, tt.want)
		}
	}
	if now, _ := os.ReadFile(storePath); !bytes.Equal(now, original) {
		t.Error("a refused restore changed the store")
	}
	if names := dirNames(t, filepath.Dir(storePath)); len(names) != 1 {
		t.Errorf("refused restores left files: %v", names)
	}

	code, stdout, stderr := cli(t, storePath, "restore", backup)
	if code != 0 || !strings.Contains(stdout, "Đã khôi phục dữ liệu từ "+backup+" vào "+storePath+". Tệp dữ liệu cũ được giữ lại tại "+storePath+".before-restore-") {
		t.Fatalf("restore: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	viewStore(t, storePath, func(tx *store.Tx) {
		if _, err := tx.UnitByCode("NEW-1"); !errors.Is(err, store.ErrNotFound) || tx.UnitCount() != 85 {
			t.Errorf("restored store: %d units, NEW-1 %v; want the backup's 85 without NEW-1", tx.UnitCount(), err)
		}
	})
	names := dirNames(t, filepath.Dir(storePath))
	if len(names) != 2 {
		t.Fatalf("store directory %v, want the store and the old one", names)
	}
	kept, _ := os.ReadFile(filepath.Join(filepath.Dir(storePath), names[1]))
	if !bytes.Equal(kept, original) {
		t.Errorf("%s is not the old store", names[1])
	}
}

func TestCompactCommand(t *testing.T) {
	env, storePath := importEnv(t)
	importSample(t, env)
	// Fill the store with messages, then settle them: the file keeps the space.
	st, err := store.Open(storePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("Thông báo: họp giao ban Mặt trận xã Thái Bình lúc 8 giờ sáng thứ Hai. ", 30)
	for batch := range 10 {
		st.Update(context.Background(), func(tx *store.Tx) error {
			for i := range 300 {
				if _, err := tx.Enqueue(store.OutboxRow{ChatID: int64(batch*1000 + i), Created: time.Now(), Action: store.Action{Kind: store.ActSend, Text: text}}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	st.Update(context.Background(), func(tx *store.Tx) error {
		rows, _ := tx.PendingOutbox(0, 1<<20)
		for _, r := range rows {
			if err := tx.FailOutbox(r, "expired", "test", time.Now(), false); err != nil {
				return err
			}
		}
		return nil
	})
	want := contentsOf(t, st)
	st.Close()
	info, _ := os.Stat(storePath)

	code, stdout, stderr := cli(t, storePath, "compact")
	if code != 0 || !strings.HasPrefix(stdout, "Đã thu gọn "+storePath+": ") {
		t.Fatalf("compact: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	after, _ := os.Stat(storePath)
	if after.Size() >= info.Size()/2 {
		t.Errorf("compact: %d → %d bytes, want at least halved", info.Size(), after.Size())
	}
	if d := diff(fileContents(t, storePath), want, nil); len(d) > 0 {
		t.Errorf("the compacted store differs: %v", d)
	}
	t.Logf("%s", stdout)
}

// TestAdminSocketLifecycle: the socket is owner-only while the bot runs,
// answers status, replaces a stale file at start, stays when a second
// instance is refused, and is gone after shutdown.
func TestAdminSocketLifecycle(t *testing.T) {
	// A socket file left by a killed process, where the new one goes.
	dir := t.TempDir()
	socket := filepath.Join(dir, "danvan.sock")
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()

	emu, url := newEmulator(t)
	cfg := testConfig(t, url, emu.Token())
	cfg.Store.Path = filepath.Join(dir, "danvan.db")
	logs := &syncBuffer{}
	a, err := newApp(cfg, newLogger(cfg, logs), appOptions{AdminSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	var once sync.Once
	stop := func() (err error) {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	defer stop()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := emu.WaitPolling(wctx); err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(socket)
	if err != nil || info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v; want a socket with mode 600", info, err)
	}
	var st statusReply
	if err := adminClient(cfg).Call(wctx, opStatus, nil, &st); err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.PID != os.Getpid() || st.Version != versionString() || st.Store != cfg.Store.Path || st.LastBackup != nil || st.Started.IsZero() {
		t.Errorf("status %+v, want this process, its version and store, no backup yet", st)
	}

	// A second instance is refused at the store's lock and leaves the
	// live socket alone.
	if _, err := newApp(cfg, newLogger(cfg, logs), appOptions{AdminSocket: true}); !errors.Is(err, store.ErrLocked) {
		t.Errorf("second instance: got %v, want ErrLocked", err)
	}
	if err := adminClient(cfg).Call(wctx, opStatus, nil, nil); err != nil {
		t.Errorf("the socket stopped answering after a second instance was refused: %v", err)
	}

	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if _, err := os.Lstat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after shutdown: %v, want it removed", err)
	}
	if err := adminClient(cfg).Call(context.Background(), opStatus, nil, nil); !admin.NotListening(err) {
		t.Errorf("call after shutdown: %v, want NotListening", err)
	}
}

// TestScheduledBackups runs the backup job on its schedule in virtual
// time: a copy a day at 02:00 in Vietnam, the oldest pruned to keep; then
// two days of failures, tried again every hour, counted, and the admins
// told once each in their language; then the recovery at the next hourly
// try, told once too.
func TestScheduledBackups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hcm, err := time.LoadLocation("Asia/Ho_Chi_Minh")
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(filepath.Join(t.TempDir(), "danvan.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		catalog, err := messages.Load(hcm)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bot.New(bot.Options{Store: st, Messages: catalog, Admins: []int64{1001}})
		if err != nil {
			t.Fatal(err)
		}
		// A second admin, granted in chat, reads English.
		st.Update(context.Background(), func(tx *store.Tx) error {
			if err := tx.PutUser(store.User{ID: 2002, FirstName: "Anna", Language: "en"}); err != nil {
				return err
			}
			_, err := tx.GrantAdmin(2002, 1001, time.Now())
			return err
		})
		dir := filepath.Join(t.TempDir(), "backups")
		reg := prometheus.NewRegistry()
		job := newBackupJob(backupJob{
			store: st, clock: clock.Real{}, loc: hcm, log: slog.New(slog.DiscardHandler),
			dir: dir, keep: 3, notify: b.NotifyAdmins,
		}, reg)
		sched := scheduler.New(st, clock.Real{}, hcm, slog.New(slog.DiscardHandler))
		if err := sched.Add(job.scheduled("0 2 * * *")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { sched.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()

		// The bubble starts at 2000-01-01 07:00 in Vietnam.
		day := func(d int) time.Time { return time.Date(2000, 1, d, 2, 0, 0, 0, hcm) }
		until := func(at time.Time) {
			time.Sleep(time.Until(at) + time.Second)
			synctest.Wait()
		}
		backups := func() []string {
			var names []string
			for _, n := range dirNames(t, dir) {
				if strings.HasPrefix(n, "danvan-") {
					names = append(names, n)
				}
			}
			return names
		}
		adminNews := func() []string {
			var out []string
			st.View(context.Background(), func(tx *store.Tx) error {
				rows, _ := tx.PendingOutbox(0, 100)
				for _, r := range rows {
					if r.Origin == backupOrigin {
						out = append(out, fmt.Sprintf("%d: %s", r.ChatID, r.Action.Text))
					}
				}
				return nil
			})
			return out
		}

		until(day(2))
		if got := backups(); len(got) != 1 || got[0] != "danvan-20000102-020000.db" {
			t.Fatalf("after the first 02:00: %v, want danvan-20000102-020000.db", got)
		}
		if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("backup directory: %v, %v; want mode 700", info, err)
		}
		// Files that are not scheduled backups stay; an interrupted
		// one's temporary file goes.
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
		os.WriteFile(filepath.Join(dir, "danvan-before-upgrade.db"), []byte("x"), 0o600)
		os.WriteFile(filepath.Join(dir, ".danvan-20000102-020000.db.123.tmp"), []byte("x"), 0o600)
		until(day(6))
		want := []string{"danvan-20000104-020000.db", "danvan-20000105-020000.db", "danvan-20000106-020000.db", "danvan-before-upgrade.db"}
		if got := backups(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("after five days with keep 3: %v, want %v", got, want)
		}
		if got := dirNames(t, dir); len(got) != 5 || got[0] != "danvan-20000104-020000.db" || got[4] != "notes.txt" {
			t.Errorf("directory: %v, want the 3 backups, the other copy and notes.txt", got)
		}
		for _, name := range want[:3] {
			if _, err := store.Check(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		st.View(context.Background(), func(tx *store.Tx) error {
			last, err := tx.LastBackup()
			if err != nil || !last.Scheduled || !last.At.Equal(day(6)) || last.Path != filepath.Join(dir, want[2]) {
				t.Errorf("last backup %+v (%v), want the scheduled one of day 6", last, err)
			}
			return nil
		})
		if news := adminNews(); len(news) != 0 {
			t.Errorf("admins told %v while backups work", news)
		}

		// The backup directory becomes unusable: a file in its place.
		aside := dir + ".moved"
		os.Rename(dir, aside)
		os.WriteFile(dir, []byte("x"), 0o600)
		until(day(9))
		// Day 7 02:00, then every hour until day 9 02:00.
		const failures = 49
		if got := metricValue(t, reg, "danvan_backup_failures_total"); got != failures {
			t.Errorf("failures counted: %v, want %d", got, failures)
		}
		news := adminNews()
		if len(news) != 2 || !strings.HasPrefix(news[0], "1001: ⚠️ <b>Sao lưu dữ liệu tự động không thành công</b> (Thứ Sáu, 07/01/2000 02:00)") ||
			!strings.HasPrefix(news[1], "2002: ⚠️ <b>The automatic backup failed</b>") || !strings.Contains(news[0], "not a directory") {
			t.Errorf("admins told %q, want each told once, in their language, of the first failure", news)
		}
		st.View(context.Background(), func(tx *store.Tx) error {
			if f, ok := tx.BackupFailures(); !ok || f.Count != failures || !f.Since.Equal(day(7)) {
				t.Errorf("failure streak %+v, want %d since day 7", f, failures)
			}
			return nil
		})

		// Repaired: the next backup succeeds and the admins hear of it once.
		os.Remove(dir)
		os.Rename(aside, dir)
		until(day(11))
		news = adminNews()
		if len(news) != 4 || !strings.HasPrefix(news[2], "1001: ✅ Sao lưu dữ liệu tự động đã thành công trở lại (Chủ Nhật, 09/01/2000 03:00), sau 49 lần không thành công") ||
			!strings.HasPrefix(news[3], "2002: ✅ Automatic backups work again") {
			t.Errorf("admins told %q, want the failure and then the recovery once each", news)
		}
		if got := backups(); len(got) != 4 || got[2] != "danvan-20000111-020000.db" {
			t.Errorf("after the recovery: %v, want the three newest and the other copy", got)
		}
		if got, want := metricValue(t, reg, "danvan_backup_failures_total"), float64(failures); got != want {
			t.Errorf("failures counted: %v, want %v", got, want)
		}
		if got := metricValue(t, reg, "danvan_backup_last_success_timestamp_seconds"); got != float64(day(11).Unix()) {
			t.Errorf("last success gauge %v, want %d", got, day(11).Unix())
		}
	})
}

// metricValue reads a counter or gauge without labels from reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			m := f.GetMetric()[0]
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestRunServesTheAdminSocket runs the real binary: a stale socket file is
// removed only once the store's lock is taken — not by an instance that
// finds the store held, nor by a second instance while the first serves —
// and backup and import-units from other processes go through it.
func TestRunServesTheAdminSocket(t *testing.T) {
	emu, url := newEmulator(t)
	dir := t.TempDir()
	storePath := filepath.Join(dir, "danvan.db")
	socket := filepath.Join(dir, "danvan.sock")
	env := childEnv(url, emu.Token(), storePath)
	isSocket := func() bool {
		info, err := os.Lstat(socket)
		return err == nil && info.Mode().Type() == os.ModeSocket
	}

	// A stale socket, and the store held by another process.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	held, err := store.Open(storePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	refused := startChild(t, env, "run")
	if code := refused.exitCode(t, 10*time.Second); code == 0 || !strings.Contains(refused.stderr.String(), "in use") {
		t.Errorf("run with the store held: exit %d\n%s", code, refused.stderr)
	}
	if !isSocket() {
		t.Error("an instance that did not get the store's lock removed the socket file")
	}
	held.Close()

	first := startChild(t, env, "run")
	waitPolling(t, emu, first)
	client := &admin.Client{Path: socket}
	var st statusReply
	if err := client.Call(context.Background(), opStatus, nil, &st); err != nil || st.PID != first.cmd.Process.Pid {
		t.Fatalf("status: %+v, %v; want the first instance's pid %d\n%s", st, err, first.cmd.Process.Pid, first.stderr)
	}
	second := startChild(t, env, "run")
	if code := second.exitCode(t, 10*time.Second); code == 0 {
		t.Errorf("second instance exited 0")
	}
	if err := client.Call(context.Background(), opStatus, nil, &st); err != nil || st.PID != first.cmd.Process.Pid {
		t.Errorf("after a second instance: status %+v, %v; want the first instance still answering", st, err)
	}

	// Commands from other processes go through the socket.
	command := func(args ...string) (string, string, int) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.Run()
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}
	if out, errOut, code := command("import-units", samplePath); code != 0 || out != "Đã nhập: 85 tạo mới, 0 cập nhật, 0 không đổi.\n" {
		t.Errorf("import-units while the bot runs: exit %d, %q %q", code, out, errOut)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if out, errOut, code := command("backup", copyPath); code != 0 || !strings.HasPrefix(out, "Đã sao lưu dữ liệu vào "+copyPath) {
		t.Errorf("backup while the bot runs: exit %d, %q %q", code, out, errOut)
	}
	if err := client.Call(context.Background(), opStatus, nil, &st); err != nil || st.LastBackup == nil || st.LastBackup.Path != copyPath {
		t.Errorf("status after the backup: %+v, %v; want the backup recorded", st.LastBackup, err)
	}
	if !strings.Contains(first.stderr.String(), "op=backup") || !strings.Contains(first.stderr.String(), "op=import-units") {
		t.Errorf("the bot's log does not show the commands:\n%s", first.stderr)
	}

	first.cmd.Process.Signal(syscall.SIGTERM)
	if code := first.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM\n%s", code, first.stderr)
	}
	if _, err := os.Lstat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after shutdown: %v, want it removed", err)
	}
	// Stopped: the copy holds what the bot had.
	viewStore(t, copyPath, func(tx *store.Tx) {
		if n := tx.UnitCount(); n != 85 {
			t.Errorf("the copy holds %d units, want 85", n)
		}
	})
}

// setSchema writes a schema version into the store at path, as an older
// danvan would have left it.
func setSchema(t *testing.T, path string, version uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(btx *bolt.Tx) error {
		return btx.Bucket([]byte("meta")).Put([]byte("schema"), byteorder.BigEndian.AppendUint64(nil, version))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func schemaOf(t *testing.T, path string) int {
	t.Helper()
	schema, err := store.Check(path)
	if err != nil {
		t.Fatalf("check %s: %v", path, err)
	}
	return schema
}

// The scheduled backup just written stays even when its name sorts first
// (the clock stepped back): keep counts it among the copies kept.
func TestBackupPruneKeepsTheNewestCopy(t *testing.T) {
	dir := t.TempDir()
	names := []string{"danvan-20270101-020000.db", "danvan-20270102-020000.db", "danvan-20270103-020000.db", "danvan-20261126-020000.db", "notes.txt"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	j := &backupJob{dir: dir, keep: 2}
	if err := j.prune("danvan-20261126-020000.db"); err != nil {
		t.Fatal(err)
	}
	if got, want := dirNames(t, dir), []string{"danvan-20261126-020000.db", "danvan-20270103-020000.db", "notes.txt"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}
