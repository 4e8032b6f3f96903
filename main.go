// Command danvan is the Trợ lý Dân vận Telegram bot. main only parses the
// subcommand and wires the packages together; everything else lives in
// bot/, store/, delivery/, scheduler/, messages/, telegram/ and config/.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	_ "time/tzdata" // a static binary on a bare image still knows Asia/Ho_Chi_Minh
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

const usage = `danvan — Trợ lý Dân vận, a Telegram bot for the Fatherland Front and mass organizations

Usage:
  danvan run [-config FILE]           run the bot until SIGINT/SIGTERM
  danvan check-config [-config FILE]  check the configuration file and environment
  danvan import-units [-config FILE] [-sheet NAME] units.csv|units.xlsx
                                      create or update units from a file (CSV in
                                      UTF-8, UTF-16 or Windows-1258; the workbook's
                                      active sheet, or NAME)
  danvan backup [-config FILE] [-force] OUT
                                      write a consistent copy of the data to OUT,
                                      while the bot runs or not
  danvan restore [-config FILE] BACKUP
                                      check a copy and put it in place of the data,
                                      keeping the old file aside (bot stopped)
  danvan compact [-config FILE]       rewrite the data file without its free space
                                      (bot stopped)
  danvan healthcheck [-config FILE]   ask the running bot's /healthz (http.listen); exit 0 if healthy
  danvan doctor [-config FILE]        check the configuration, the data, Telegram, backups,
                                      the outbox and the clock; say how to fix what is wrong
  danvan version                      print the version

Without -config, built-in defaults (those of config.example.toml) and the
environment (DANVAN_TELEGRAM_TOKEN, …) are used. While the bot runs,
import-units and backup go through it on the admin socket ([admin] socket):
run them as the bot's user.
`

// dispatch runs a subcommand and returns the process's exit status.
func dispatch(args []string, stdout, stderr io.Writer, environ []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stderr, environ)
	case "check-config":
		return checkConfigCommand(args[1:], stdout, stderr, environ)
	case "import-units":
		return importUnitsCommand(args[1:], stdout, stderr, environ)
	case "backup":
		return backupCommand(args[1:], stdout, stderr, environ)
	case "restore":
		return restoreCommand(args[1:], stdout, stderr, environ)
	case "compact":
		return compactCommand(args[1:], stdout, stderr, environ)
	case "healthcheck":
		return healthcheckCommand(args[1:], stdout, stderr, environ)
	case "doctor":
		return doctorCommand(args[1:], stdout, stderr, environ)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "danvan", versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "danvan: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "dev"
	}
	if ok {
		v += " (" + info.GoVersion + ")"
	}
	return v
}
