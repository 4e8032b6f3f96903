package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"danvan/bot"
	"danvan/clock"
	"danvan/config"
	"danvan/delivery"
	"danvan/messages"
	"danvan/monitor"
	"danvan/scheduler"
	"danvan/store"
	"danvan/telegram"
)

// shutdownGrace bounds how long the parts get to stop after SIGTERM; the
// process exits within 5 seconds even mid long poll.
const shutdownGrace = 4 * time.Second

func runCommand(args []string, stderr io.Writer, environ []string) int {
	cfg, ok := loadConfig("run", args, stderr, environ)
	if !ok {
		return 1
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := newApp(cfg, log, appOptions{Console: os.Stdout, AdminSocket: true})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			fmt.Fprintf(stderr, "danvan: the database %s is in use by another process (is danvan already running?)\n", cfg.Store.Path)
		} else {
			fmt.Fprintf(stderr, "danvan: %v\n", err)
		}
		return 1
	}
	if err := a.run(ctx); err != nil {
		log.Error("danvan stopped", "err", err)
		return 1
	}
	return 0
}

// appOptions replace parts for tests.
type appOptions struct {
	Clock     clock.Clock
	Transport http.RoundTripper
	// Console is where the operator reads one-time notes (the first-run
	// admin claim link): stdout for `danvan run`.
	Console io.Writer
	// AdminSocket serves the command line on [admin] socket (see
	// adminsock.go); off in tests that do not need it, since a real
	// socket would stall a synctest bubble.
	AdminSocket bool
	// WebhookListener replaces the listener of [webhook] listen.
	WebhookListener net.Listener
}

// app is the wired bot: store, messages, Telegram client, router, sender,
// scheduler and the operator's HTTP listener.
type app struct {
	cfg       *config.Config
	log       *slog.Logger
	clock     clock.Clock
	store     *store.Store
	client    *telegram.Client
	bot       *bot.Bot
	sender    *delivery.Sender
	scheduler *scheduler.Scheduler
	metrics   *prometheus.Registry
	// adminSocket: see appOptions.AdminSocket.
	adminSocket bool
	// webhookLn is appOptions.WebhookListener (webhook mode).
	webhookLn net.Listener
}

// newApp opens the store first — before any Bot API call — so a second
// instance fails fast, then builds the rest.
func newApp(cfg *config.Config, log *slog.Logger, o appOptions) (*app, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, clock: o.Clock, store: st, webhookLn: o.WebhookListener, adminSocket: o.AdminSocket}
	if err := a.build(o); err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) build(o appOptions) error {
	cfg := a.cfg
	catalog, err := messages.Load(cfg.Location())
	if err != nil {
		return err
	}
	a.client, err = telegram.New(telegram.Options{
		Token: cfg.Telegram.Token, Endpoint: cfg.Telegram.APIEndpoint, Proxy: cfg.Telegram.Proxy,
		RequestTimeout: cfg.Telegram.RequestTimeout.Duration, Transport: o.Transport, Log: a.log,
	})
	if err != nil {
		return err
	}
	a.metrics = prometheus.NewRegistry()
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	lim := cfg.Telegram.Limits
	senderMetrics := delivery.NewMetrics(a.metrics)
	a.sender = delivery.NewSender(delivery.Options{
		Store: a.store, Client: a.client, Clock: a.clock, Log: a.log.With("part", "sender"),
		Limits:  delivery.Limits{GlobalPerSecond: lim.GlobalPerSecond, ChatPerSecond: lim.ChatPerSecond, GroupPerMinute: lim.GroupPerMinute},
		Metrics: senderMetrics,
	})
	a.sender.Register(a.metrics)
	a.store.OnSettled(senderMetrics.Count)
	a.registerStoreGauges()
	lang, _ := messages.ParseLang(cfg.Bot.Language)
	a.bot, err = bot.New(bot.Options{
		Store: a.store, Messages: catalog, Clock: a.clock, Log: a.log.With("part", "bot"),
		Admins: cfg.Bot.Admins, Language: lang,
		ConversationTimeout: cfg.Bot.ConversationTimeout.Duration, Wake: a.sender.Wake,
		Metrics: bot.NewMetrics(a.metrics), Estimate: a.sender.Estimate,
		InviteDays: cfg.Units.InviteDays, MemberInviteUses: cfg.Units.MemberInviteUses,
		Console: o.Console,
	})
	if err != nil {
		return err
	}
	a.scheduler = scheduler.New(a.store, a.clock, cfg.Location(), a.log.With("part", "scheduler"))
	if err := a.addPruneJob(); err != nil {
		return err
	}
	if err := a.addBackupJob(); err != nil {
		return err
	}
	return a.scheduler.Add(scheduler.Job{
		Name: "housekeeping", Spec: "@every 1m",
		Run: func(ctx context.Context, _ time.Time) error { return a.bot.ExpireConversations(ctx) },
	})
}

// run serves until ctx is cancelled, then stops every part within
// shutdownGrace and closes the store.
func (a *app) run(ctx context.Context) error {
	// The listeners are bound before any part starts: a port in use
	// stops the start.
	var httpListener net.Listener
	if addr := a.cfg.HTTP.Listen; addr != "" {
		var err error
		if httpListener, err = monitor.Listen(addr); err != nil {
			a.store.Close()
			return fmt.Errorf("http: %w", err)
		}
	}
	serveWebhook, err := a.webhookPart()
	if err != nil {
		if httpListener != nil {
			httpListener.Close()
		}
		a.store.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	fatal := make(chan error, 1)
	var runningMu sync.Mutex
	running := map[string]bool{}
	goPart := func(name string, fn func(context.Context) error) {
		runningMu.Lock()
		running[name] = true
		runningMu.Unlock()
		wg.Go(func() {
			defer func() {
				runningMu.Lock()
				delete(running, name)
				runningMu.Unlock()
			}()
			if err := fn(runCtx); err != nil && runCtx.Err() == nil {
				select {
				case fatal <- fmt.Errorf("%s: %w", name, err):
				default:
				}
				cancel()
			}
		})
	}
	goPart("sender", a.sender.Run)
	goPart("scheduler", a.scheduler.Run)
	goPart("admin", a.listenAdmin())
	if httpListener != nil {
		goPart("http", func(ctx context.Context) error {
			return monitor.ServeListener(ctx, httpListener, a.monitorHandler(), a.log.With("part", "http"))
		})
	}
	if serveWebhook != nil {
		goPart("webhook", serveWebhook)
	}
	goPart("bot", func(ctx context.Context) error {
		return a.bot.Run(ctx, a.client, a.runOptions())
	})
	a.log.Info("danvan started", "version", versionString(), "store", a.store.Path())

	<-runCtx.Done()
	a.log.Info("danvan stopping")
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var closeErr error
	select {
	case <-done:
		if err := a.store.Close(); err != nil {
			closeErr = fmt.Errorf("close store: %w", err)
		}
	case <-time.After(shutdownGrace):
		// bbolt commits are atomic: leaving now loses nothing committed.
		runningMu.Lock()
		late := slices.Sorted(maps.Keys(running))
		runningMu.Unlock()
		a.log.Warn("parts did not stop in time; exiting anyway", "parts", late)
	}
	// Why the bot stopped comes first; a failed close after it.
	select {
	case err := <-fatal:
		return errors.Join(err, closeErr)
	default:
		return closeErr
	}
}

// webhookMaxConnections is how many requests Telegram may post at once
// in webhook mode (its default; they share commits).
const webhookMaxConnections = 40

// runOptions say how the bot receives updates: [telegram] mode.
func (a *app) runOptions() bot.RunOptions {
	o := bot.RunOptions{PollTimeout: a.cfg.Telegram.PollTimeout.Duration}
	if a.cfg.Telegram.Mode == config.ModeWebhook {
		o.Webhook = &bot.Webhook{
			URL: a.cfg.Webhook.PublicURL, Secret: a.cfg.Webhook.SecretToken, MaxConnections: webhookMaxConnections,
		}
	}
	return o
}

// webhookPart binds the webhook listener and returns the part serving it,
// or nil in polling mode.
func (a *app) webhookPart() (func(context.Context) error, error) {
	if a.cfg.Telegram.Mode != config.ModeWebhook {
		return nil, nil
	}
	log := a.log.With("part", "webhook")
	h, err := a.client.NewWebhookHandler(telegram.WebhookOptions{
		PublicURL: a.cfg.Webhook.PublicURL, Secret: a.cfg.Webhook.SecretToken,
		Receive: a.bot.Receive, Log: log, Registerer: a.metrics,
	})
	if err != nil {
		return nil, err
	}
	ln := a.webhookLn
	if ln == nil {
		if ln, err = net.Listen("tcp", a.cfg.Webhook.Listen); err != nil {
			return nil, fmt.Errorf("webhook listener: %w", err)
		}
	}
	log.Info("listening for webhook requests", "addr", ln.Addr().String())
	return func(ctx context.Context) error { return telegram.ServeWebhook(ctx, ln, h, log) }, nil
}

// monitorHandler serves /healthz (the store answers and updates arrive:
// the long poll works, or the webhook is set) and /metrics.
func (a *app) monitorHandler() http.Handler {
	intake := "polling"
	if a.cfg.Telegram.Mode == config.ModeWebhook {
		intake = "webhook"
	}
	return monitor.Handler(a.metrics,
		monitor.Check{Name: "store", Check: func(ctx context.Context) error {
			return a.store.View(ctx, func(*store.Tx) error { return nil })
		}},
		monitor.Check{Name: intake, Check: func(context.Context) error { return a.bot.PollHealth() }},
	)
}

// registerStoreGauges exports what only the store knows: the age of the
// oldest message waiting to be sent and the number of unreachable chats.
func (a *app) registerStoreGauges() {
	a.metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "danvan_outbox_oldest_seconds", Help: "Age of the oldest message waiting to be sent (0: none).",
		}, func() float64 {
			var age time.Duration
			_ = a.store.View(context.Background(), func(tx *store.Tx) error {
				if created, ok := tx.OldestPending(); ok {
					age = a.clock.Now().Sub(created)
				}
				return nil
			})
			return age.Seconds()
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "danvan_unreachable_chats", Help: "Chats that blocked the bot or could not be found.",
		}, func() float64 {
			var n int
			_ = a.store.View(context.Background(), func(tx *store.Tx) error {
				n = tx.CountUnreachable()
				return nil
			})
			return float64(n)
		}),
	)
}
