package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheckTimeout bounds the whole check: Docker's HEALTHCHECK and
// systemd watchdogs want an answer, not a hang.
const healthcheckTimeout = 5 * time.Second

// healthcheckCommand runs "danvan healthcheck [-config FILE]": it asks the
// running bot's /healthz at [http] listen and exits 0 when it answers 200,
// 1 otherwise. A static image has no curl; this is what its HEALTHCHECK runs.
func healthcheckCommand(args []string, stdout, stderr io.Writer, environ []string) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (TOML); default: built-in defaults")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "danvan healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, ok := loadConfigFile("healthcheck", *path, stderr, environ, false)
	if !ok {
		return 1
	}
	if cfg.HTTP.Listen == "" {
		fmt.Fprintln(stderr, "danvan healthcheck: http.listen is empty, so the bot serves no /healthz; set it (e.g. DANVAN_HTTP_LISTEN=127.0.0.1:9090)")
		return 1
	}
	url := "http://" + dialAddr(cfg.HTTP.Listen) + "/healthz"
	ctx, cancel := context.WithTimeout(context.Background(), healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "danvan healthcheck:", err)
		return 1
	}
	// The listener is local: never go through HTTP(S)_PROXY.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "danvan healthcheck: %s does not answer (is danvan running?): %v\n", url, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "danvan healthcheck: unhealthy (%s): %s\n", resp.Status, text)
		return 1
	}
	fmt.Fprintln(stdout, "danvan healthcheck: ok:", text)
	return 0
}

// dialAddr turns a listen address into one to dial: a wildcard host
// ("", 0.0.0.0, ::) is reached on the loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
