package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The systemd unit keeps the service on its own user, restarts it on
// failure and lets it write only its data directory.
func TestSystemdUnit(t *testing.T) {
	const path = "deploy/danvan.service"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	for key, want := range map[string]string{
		"User":            "danvan",
		"Restart":         "on-failure",
		"ProtectSystem":   "strict",
		"ReadWritePaths":  "/var/lib/danvan",
		"NoNewPrivileges": "true",
		"ExecStart":       "/usr/local/bin/danvan run -config /etc/danvan/config.toml",
	} {
		if got := keys[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}

	// Where systemd is installed, it checks every key is known.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed; syntax not checked")
		return
	}
	data, _ := os.ReadFile(path)
	// verify wants the program to exist.
	unit := strings.Replace(string(data), "ExecStart=/usr/local/bin/danvan", "ExecStart=/bin/true", 1)
	copyPath := filepath.Join(t.TempDir(), "danvan.service")
	if err := os.WriteFile(copyPath, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	// Only what it says about the file counts: a machine without a running
	// systemd may add notes about itself.
	out, _ := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, copyPath) {
			t.Errorf("systemd-analyze verify: %s", strings.TrimSpace(line))
		}
	}
}
