package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.toml", "[telegram]\ntoken = \"1:x\"\n")
	bad := write("bad.toml", "[telegram]\ntoken = \"1:x\"\ncolour = \"red\"\n\n[bot]\ntimezone = \"Asia/Hanoi\"\n")
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantCode int
		wants    []string
	}{
		{"valid file", []string{"-config", good}, nil, 0, []string{"configuration ok"}},
		{"defaults and environment", nil, []string{"DANVAN_TELEGRAM_TOKEN=1:x"}, 0, []string{"configuration ok"}},
		{"no token", nil, nil, 1, []string{"telegram.token"}},
		{"every problem with its line", []string{"-config", bad}, nil, 1, []string{
			"bad.toml:3: telegram.colour", "bad.toml:6: bot.timezone", `"Asia/Hanoi"`,
		}},
		{"bad environment value", []string{"-config", good}, []string{"DANVAN_BOT_ADMINS=1,x"}, 1, []string{"DANVAN_BOT_ADMINS"}},
		{"missing file", []string{"-config", filepath.Join(dir, "nope.toml")}, nil, 1, []string{"nope.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"check-config"}, tt.args...), &stdout, &stderr, tt.env)
			out := stdout.String() + stderr.String()
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tt.wantCode, out)
			}
			for _, want := range tt.wants {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "1:x") && tt.wantCode != 0 {
				t.Errorf("output shows the token:\n%s", out)
			}
		})
	}
}

func TestSubcommands(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"version"}, &stdout, &stderr, nil); code != 0 || !strings.HasPrefix(stdout.String(), "danvan ") {
		t.Errorf("version: exit %d, output %q", code, stdout.String())
	}
	stdout.Reset()
	if code := dispatch([]string{"frobnicate"}, &stdout, &stderr, nil); code != 2 || !strings.Contains(stderr.String(), "unknown command") {
		t.Errorf("unknown subcommand: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := dispatch(nil, &stdout, &stderr, nil); code != 2 || !strings.Contains(stderr.String(), "Usage") {
		t.Errorf("no subcommand: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := dispatch([]string{"run"}, &stdout, &stderr, nil); code == 0 || !strings.Contains(stderr.String(), "telegram.token") {
		t.Errorf("run without a token: exit %d, stderr %q", code, stderr.String())
	}
}
