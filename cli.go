package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"danvan/config"
)

// loadConfig parses the -config flag and loads file and environment. On
// problems it prints them all and returns false.
func loadConfig(name string, args []string, stderr io.Writer, environ []string) (*config.Config, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (TOML); default: built-in defaults")
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "danvan %s: unexpected argument %q\n", name, fs.Arg(0))
		return nil, false
	}
	return loadConfigFile(name, *path, stderr, environ, true)
}

func checkConfigCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	cfg, ok := loadConfig("check-config", args, stderr, environ)
	if !ok {
		return 1
	}
	fmt.Fprintf(stdout, "configuration ok: store %s, time zone %s, language %s, %d admin(s)\n",
		cfg.Store.Path, cfg.Bot.Timezone, cfg.Bot.Language, len(cfg.Bot.Admins))
	return 0
}

// newLogger builds the one logger, from [log].
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(cfg.Log.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
