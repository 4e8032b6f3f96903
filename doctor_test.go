package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"danvan/store"
	"danvan/telegramtest"
)

// doctorEnv is the environment that makes doctor see tb's configuration,
// with extra settings in front (the first definition counts).
func doctorEnv(tb *testBot, extra ...string) []string {
	return append(extra, []string{
		"DANVAN_TELEGRAM_TOKEN=" + tb.cfg.Telegram.Token,
		"DANVAN_TELEGRAM_API_ENDPOINT=" + tb.cfg.Telegram.APIEndpoint,
		"DANVAN_STORE_PATH=" + tb.cfg.Store.Path,
		"DANVAN_BACKUP_SCHEDULE=0 2 * * *",
	}...)
}

// doctorRun runs the checklist at now and returns its exit status and
// output.
func doctorRun(t *testing.T, env []string, now time.Time) (int, string) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := runDoctor(ctx, "", env, &out, doctorOptions{Now: func() time.Time { return now }, DiskSpace: roomyDisk})
	return code, out.String()
}

// roomyDisk is a disk with plenty of room, so that the test machine's own
// does not decide the checklist.
func roomyDisk(string) (free, total int64, err error) { return 100 << 30, 200 << 30, nil }

// lineOf returns the checklist line that contains text, with its mark;
// "" when there is none.
func lineOf(out, text string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, text) {
			return l
		}
	}
	return ""
}

// expectLines checks that every text is on a line marked with mark.
func expectLines(t *testing.T, out string, mark string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		l := lineOf(out, text)
		if !strings.HasPrefix(l, mark) {
			t.Errorf("want a %s line with %q, got %q in:\n%s", mark, text, l, out)
		}
	}
}

// noToken fails when out shows the token or its secret half.
func noToken(t *testing.T, out, token string) {
	t.Helper()
	_, secret, _ := strings.Cut(token, ":")
	if strings.Contains(out, token) || (secret != "" && strings.Contains(out, secret)) {
		t.Errorf("doctor printed the token:\n%s", out)
	}
}

// backupNow writes a backup through the running bot (or the file), so
// that the store records it.
func backupNow(t *testing.T, tb *testBot) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "copy.db")
	if code, _, stderr := cli(t, tb.cfg.Store.Path, "backup", out); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
}

func TestDoctorHealthyBotRunning(t *testing.T) {
	tb := startSocketBot(t)
	backupNow(t, tb)
	code, out := doctorRun(t, doctorEnv(tb), time.Now())
	if code != 0 {
		t.Errorf("exit %d, want 0:\n%s", code, out)
	}
	expectLines(t, out, "✅",
		"Cấu hình hợp lệ",
		"Bot đang chạy (phiên bản",
		"trả lời qua "+tb.cfg.AdminSocket(),
		"Kết nối được tới 127.0.0.1",
		"Token hợp lệ: bot @"+tb.emu.Bot().Username,
		"Không có webhook",
		"Bản sao lưu gần nhất:",
		"Không có tin nhắn nào đang chờ gửi",
		"Đồng hồ máy chủ khớp với Telegram",
	)
	if strings.Contains(out, "❌") || strings.Contains(out, "⚠️") {
		t.Errorf("a healthy setup has a failed or advised line:\n%s", out)
	}
	if !strings.Contains(out, "Kết quả: mọi thứ đều ổn.") {
		t.Errorf("no all-well summary:\n%s", out)
	}
	noToken(t, out, tb.cfg.Telegram.Token)

	// The same in English, through the command line.
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"doctor"}, &stdout, &stderr, doctorEnv(tb, "DANVAN_BOT_LANGUAGE=en")); code != 0 {
		t.Errorf("danvan doctor: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	expectLines(t, stdout.String(), "✅", "The bot is running", "The token works: bot @")
	if !strings.HasSuffix(stdout.String(), "\n\nResult: all is well.\n") {
		t.Errorf("no all-well summary at the end:\n%s", stdout.String())
	}
}

func TestDoctorHealthyBotStopped(t *testing.T) {
	tb := startSocketBot(t)
	backupNow(t, tb)
	tb.stop()
	code, out := doctorRun(t, doctorEnv(tb), time.Now())
	if code != 0 {
		t.Errorf("a stopped bot is advice, not a failure: exit %d:\n%s", code, out)
	}
	expectLines(t, out, "⚠️", "Bot không chạy. Tệp dữ liệu "+tb.cfg.Store.Path+" nguyên vẹn")
	if !strings.Contains(out, " KB).\n   → Khởi động bot: systemctl start danvan") {
		t.Errorf("the advice is not on the next line:\n%s", out)
	}
	expectLines(t, out, "✅", "Token hợp lệ", "Bản sao lưu gần nhất:", "Không có tin nhắn nào đang chờ gửi")
	if strings.Contains(out, "❌") || !strings.Contains(out, "Kết quả: không có lỗi, 1 lưu ý.") {
		t.Errorf("want no failure and one warning:\n%s", out)
	}
}

func TestDoctorBrokenSetups(t *testing.T) {
	t.Run("bad token", func(t *testing.T) {
		tb := startSocketBot(t)
		token := "123456:wrong-secret-half"
		code, out := doctorRun(t, doctorEnv(tb, "DANVAN_TELEGRAM_TOKEN="+token), time.Now())
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "Telegram từ chối token (401 Unauthorized).")
		if !strings.Contains(out, "→ Lấy token đúng từ @BotFather") {
			t.Errorf("no fix for the token:\n%s", out)
		}
		noToken(t, out, token)
	})

	t.Run("endpoint down", func(t *testing.T) {
		tb := startSocketBot(t)
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close() // a port nothing listens on any more
		endpoint := down.URL + "/bot%s/%s"
		code, out := doctorRun(t, doctorEnv(tb, "DANVAN_TELEGRAM_API_ENDPOINT="+endpoint), time.Now())
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		host := strings.TrimPrefix(down.URL, "http://")
		expectLines(t, out, "❌", "Không kết nối được tới "+host+": ", "connection refused")
		expectLines(t, out, "➖", "Chưa so đồng hồ")
		expectLines(t, out, "✅", "Bot đang chạy")
		noToken(t, out, tb.cfg.Telegram.Token)
	})

	t.Run("stale backup", func(t *testing.T) {
		tb := startSocketBot(t)
		tb.stop()
		st, err := store.Open(tb.cfg.Store.Path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		loc := tb.cfg.Location()
		last := time.Date(2026, 11, 22, 2, 0, 5, 0, loc)
		err = st.Update(context.Background(), func(tx *store.Tx) error {
			_, err := tx.RecordBackup(store.BackupRecord{At: last, Size: 1 << 20, Path: "/backups/danvan-20261122-020000.db", Scheduled: true})
			return err
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		// 02:30 the next day: the 02:00 backup may still come.
		code, out := doctorRun(t, doctorEnv(tb), time.Date(2026, 11, 23, 2, 30, 0, 0, loc))
		if code != 0 {
			t.Errorf("half an hour after the due time: exit %d:\n%s", code, out)
		}
		expectLines(t, out, "✅", "Bản sao lưu gần nhất: Chủ Nhật, 22/11/2026 02:00")
		// Four days later it is stale.
		code, out = doctorRun(t, doctorEnv(tb), time.Date(2026, 11, 26, 9, 0, 0, 0, loc))
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "Bản sao lưu gần nhất đã cũ: Chủ Nhật, 22/11/2026 02:00", "lẽ ra đã có lúc Thứ Hai, 23/11/2026 02:00")
		// Without a schedule, an old backup is only advice.
		code, out = doctorRun(t, doctorEnv(tb, "DANVAN_BACKUP_SCHEDULE="), time.Date(2026, 11, 26, 9, 0, 0, 0, loc))
		if code != 0 {
			t.Errorf("no schedule: exit %d:\n%s", code, out)
		}
		expectLines(t, out, "⚠️", "Chưa đặt lịch sao lưu. Bản gần nhất: Chủ Nhật, 22/11/2026 02:00")
	})

	t.Run("failing scheduled backups", func(t *testing.T) {
		tb := startSocketBot(t)
		backupNow(t, tb)
		err := tb.app.store.Update(context.Background(), func(tx *store.Tx) error {
			if _, err := tx.BackupFailed(time.Now().Add(-time.Hour), "open /backups: no space left on device"); err != nil {
				return err
			}
			_, err := tx.BackupFailed(time.Now(), "open /backups: no space left on device")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		code, out := doctorRun(t, doctorEnv(tb), time.Now())
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "2 lần sao lưu theo lịch liên tiếp bị lỗi", "no space left on device")
	})

	t.Run("no backup yet", func(t *testing.T) {
		tb := startSocketBot(t)
		code, out := doctorRun(t, doctorEnv(tb), time.Now())
		if code != 0 {
			t.Errorf("exit %d, want 0:\n%s", code, out)
		}
		expectLines(t, out, "⚠️", "Chưa có bản sao lưu nào (lịch: 0 2 * * *)")
	})

	t.Run("clock", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			offset time.Duration
			code   int
			mark   string
			text   string
		}{
			{"behind by minutes", 5 * time.Minute, 1, "❌", "Đồng hồ máy chủ chậm hơn Telegram 5 phút"},
			{"ahead by seconds", -45 * time.Second, 0, "⚠️", "Đồng hồ máy chủ nhanh hơn Telegram 45 giây"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				emu := telegramtest.New(telegramtest.Options{Now: func() time.Time { return time.Now().Add(tt.offset) }})
				srv := httptest.NewServer(emu)
				defer srv.Close()
				defer emu.Close()
				cfg := testConfig(t, srv.URL, emu.Token())
				tb := &testBot{cfg: cfg}
				code, out := doctorRun(t, doctorEnv(tb, "DANVAN_BACKUP_SCHEDULE="), time.Now())
				if code != tt.code {
					t.Errorf("exit %d, want %d:\n%s", code, tt.code, out)
				}
				expectLines(t, out, tt.mark, tt.text)
			})
		}
	})

	t.Run("webhook set while the bot polls", func(t *testing.T) {
		tb := startSocketBot(t)
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer hook.Close()
		api := strings.TrimSuffix(tb.cfg.Telegram.APIEndpoint, "/bot%s/%s")
		resp, err := http.PostForm(api+"/bot"+tb.cfg.Telegram.Token+"/setWebhook", url.Values{"url": {hook.URL + "/other"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		code, out := doctorRun(t, doctorEnv(tb), time.Now())
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "Telegram đang gửi cập nhật tới webhook "+strings.TrimPrefix(hook.URL, "http://")+"/other")
	})

	t.Run("store held by a process that does not answer", func(t *testing.T) {
		tb := startSocketBot(t)
		tb.stop()
		st, err := store.Open(tb.cfg.Store.Path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		code, out := doctorRun(t, doctorEnv(tb), time.Now())
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "đang bị một tiến trình khác giữ, nhưng không có bot trả lời qua "+tb.cfg.AdminSocket())
		expectLines(t, out, "➖", "Chưa kiểm tra sao lưu", "Chưa kiểm tra hàng đợi")
	})

	t.Run("not a store", func(t *testing.T) {
		tb := startSocketBot(t)
		tb.stop()
		bad := filepath.Join(t.TempDir(), "notes.db")
		writeFile(t, bad, strings.Repeat("ghi chú\n", 1000))
		code, out := doctorRun(t, doctorEnv(tb, "DANVAN_STORE_PATH="+bad), time.Now())
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "Không đọc được tệp dữ liệu "+bad)
		if !strings.Contains(out, "→ Khôi phục bản sao lưu gần nhất") {
			t.Errorf("no fix:\n%s", out)
		}
	})

	t.Run("stuck outbox", func(t *testing.T) {
		tb := startSocketBot(t)
		backupNow(t, tb)
		tb.emu.SetFault(func(r telegramtest.FaultRequest) *telegramtest.Fault {
			if r.Method == "sendMessage" {
				return &telegramtest.Fault{Status: http.StatusBadGateway}
			}
			return nil
		})
		tb.emu.SendText(viUser, tb.emu.Private(viUser), "/start")
		waitFor(t, func() bool {
			var n int
			tb.app.store.View(context.Background(), func(tx *store.Tx) error { n = tx.OutboxLen(); return nil })
			return n > 0
		})
		code, out := doctorRun(t, doctorEnv(tb), time.Now())
		expectLines(t, out, "✅", "1 tin nhắn đang chờ gửi; tin cũ nhất đã chờ")
		code, out = doctorRun(t, doctorEnv(tb), time.Now().Add(20*time.Minute))
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "1 tin nhắn đang chờ gửi, tin cũ nhất đã chờ 20 phút (quá 15 phút).")
		tb.stop()
		_, out = doctorRun(t, doctorEnv(tb), time.Now())
		expectLines(t, out, "⚠️", "1 tin nhắn đang chờ gửi, tin cũ nhất từ", "bot sẽ gửi khi chạy lại")
	})

	t.Run("configuration", func(t *testing.T) {
		tb := startSocketBot(t)
		backupNow(t, tb)
		code, out := doctorRun(t, doctorEnv(tb, "DANVAN_TELEGRAM_TOKEN="), time.Now())
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "Cấu hình có lỗi: DANVAN_TELEGRAM_TOKEN")
		expectLines(t, out, "➖", "Chưa kiểm tra kết nối Telegram")
		// What needs no token is still checked.
		expectLines(t, out, "✅", "Bot đang chạy", "Bản sao lưu gần nhất:")

		code, out = doctorRun(t, doctorEnv(tb, "DANVAN_BACKUP_KEEP=0"), time.Now())
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		expectLines(t, out, "❌", "Cấu hình có lỗi: DANVAN_BACKUP_KEEP")
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond (a store or emulator state another goroutine
// changes) for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDoctorWebhookMode(t *testing.T) {
	tb := startSocketBot(t)
	backupNow(t, tb)
	tb.stop()
	api := strings.TrimSuffix(tb.cfg.Telegram.APIEndpoint, "/bot%s/%s")
	setWebhook := func(u string) {
		t.Helper()
		resp, err := http.PostForm(api+"/bot"+tb.cfg.Telegram.Token+"/setWebhook", url.Values{"url": {u}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("setWebhook: %s", resp.Status)
		}
	}
	// Nothing listens where Telegram is told to post.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	public := gone.URL + "/telegram"
	env := doctorEnv(tb, "DANVAN_TELEGRAM_MODE=webhook", "DANVAN_WEBHOOK_LISTEN=127.0.0.1:0",
		"DANVAN_WEBHOOK_PUBLIC_URL="+public, "DANVAN_WEBHOOK_SECRET_TOKEN=s3cret-Token_1")
	place := strings.TrimPrefix(public, "http://")

	code, out := doctorRun(t, env, time.Now())
	if code != 0 {
		t.Errorf("no webhook while the bot is stopped: exit %d:\n%s", code, out)
	}
	expectLines(t, out, "✅", "bot nhận cập nhật bằng webhook")
	expectLines(t, out, "⚠️", "Chưa có webhook; bot sẽ đặt "+place+" khi khởi động.")

	setWebhook(public)
	tb.emu.SendText(viUser, tb.emu.Private(viUser), "/start")
	waitFor(t, func() bool { info, _ := tb.emu.Webhook(); return !info.LastErrorDate.IsZero() })
	code, out = doctorRun(t, env, time.Now())
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	expectLines(t, out, "❌", "Telegram không gửi được tới "+place+": ", "1 cập nhật đang chờ")
	if strings.Contains(out, "s3cret") {
		t.Errorf("doctor printed the webhook secret:\n%s", out)
	}

	setWebhook("http://127.0.0.1:1/elsewhere")
	code, out = doctorRun(t, env, time.Now())
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	expectLines(t, out, "❌", "Telegram gửi cập nhật tới 127.0.0.1:1/elsewhere, không phải [webhook] public_url ("+place+")")
}

func TestDoctorThroughAProxy(t *testing.T) {
	tb := startSocketBot(t)
	backupNow(t, tb)
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy: the request line holds the whole URL.
		proxied.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	withCredentials := strings.Replace(proxy.URL, "http://", "http://officer:pr0xy-pass@", 1)

	code, out := doctorRun(t, doctorEnv(tb, "DANVAN_TELEGRAM_PROXY="+withCredentials), time.Now())
	if code != 0 {
		t.Errorf("exit %d:\n%s", code, out)
	}
	expectLines(t, out, "✅", "qua proxy "+proxy.URL+".", "Token hợp lệ")
	if proxied.Load() == 0 {
		t.Error("nothing went through the proxy")
	}

	proxy.Close()
	code, out = doctorRun(t, doctorEnv(tb, "DANVAN_TELEGRAM_PROXY="+withCredentials), time.Now())
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	expectLines(t, out, "❌", "qua proxy "+proxy.URL+": ")
	if !strings.Contains(out, "→ Kiểm tra mạng và tường lửa của máy chủ, proxy,") {
		t.Errorf("no fix naming the proxy:\n%s", out)
	}
	if strings.Contains(out, "pr0xy-pass") || strings.Contains(out, "officer") {
		t.Errorf("doctor printed the proxy's credentials:\n%s", out)
	}
}

func TestDoctorDiskSpace(t *testing.T) {
	tb := startSocketBot(t)
	backupNow(t, tb)
	run := func(free, total int64) (int, string) {
		var out bytes.Buffer
		code := runDoctor(context.Background(), "", doctorEnv(tb, "DANVAN_BACKUP_DIR="+filepath.Join(t.TempDir(), "backups")), &out, doctorOptions{
			Now: time.Now, DiskSpace: func(string) (int64, int64, error) { return free, total, nil },
		})
		return code, out.String()
	}
	code, out := run(100<<30, 200<<30)
	expectLines(t, out, "✅", "còn trống 100,00 GB (50%)")
	if code != 0 {
		t.Errorf("a roomy disk: exit %d:\n%s", code, out)
	}
	code, out = run(2<<30, 100<<30)
	expectLines(t, out, "⚠️", "sắp đầy: còn trống 2,00 GB (2%)")
	if code != 0 {
		t.Errorf("a disk filling up is advice: exit %d:\n%s", code, out)
	}
	code, out = run(100<<20, 100<<30)
	expectLines(t, out, "❌", "gần hết chỗ: còn trống 100,0 MB, cần ít nhất")
	if code != 1 {
		t.Errorf("a full disk: exit %d, want 1:\n%s", code, out)
	}
}

func TestDiskVerdict(t *testing.T) {
	const mb = 1 << 20
	for _, tt := range []struct {
		free, total, size int64
		want              string
	}{
		{free: 50 << 30, total: 100 << 30, size: 40 * mb, want: "disk_ok"},
		{free: 5 << 30, total: 100 << 30, size: 40 * mb, want: "disk_low"},   // under a tenth
		{free: 1000 * mb, total: 2000 * mb, size: 40 * mb, want: "disk_low"}, // under four backups' room
		{free: 200 * mb, total: 100 << 30, size: 40 * mb, want: "disk_full"}, // not one backup and headroom
	} {
		if _, got := diskVerdict(tt.free, tt.total, tt.size); got != tt.want {
			t.Errorf("free %d of %d, store %d: %s, want %s", tt.free, tt.total, tt.size, got, tt.want)
		}
	}
}
