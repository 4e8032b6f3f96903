// Package telegramtest is an in-process emulator of the Telegram Bot API.
//
// A Server answers the Bot API over HTTP (it is an http.Handler, and
// Transport serves it in memory for testing/synctest bubbles) the way
// Telegram does: the same JSON shapes, the same error codes and
// descriptions, long polling with offsets and redelivery, Telegram's HTML
// parse mode with UTF-16 entity offsets, and the limits on text, captions,
// buttons, replies, edits, deletions and callback answers.
//
// The other side of the conversation is driven by plain methods: Private,
// Group and SetMember describe who is where; SendText, Press, Edit and their
// siblings play the users and enqueue updates; Messages, WaitBotMessages,
// CallbackAnswer and Commands show what the bot did. SetFault and ResetNext
// inject transport and API failures, and the OnAccepted and
// OnUpdatesDelivered hooks let crash tests stop the bot at exact points.
//
// Options.Limits (or SetLimits) enforces Telegram's flood limits on the
// sending and editing methods, answering 429 with retry_after on the
// server's clock; SendLog, FloodErrors and Violations let a test judge how
// the bot paced itself, with or without enforcement.
//
// Webhooks work as Telegram's do: setWebhook makes the server post
// pending updates to the URL, in update_id order with up to
// max_connections requests in flight and the secret_token header, posting
// each again after a short backoff until it gets a 2xx answer; getUpdates
// meanwhile answers 409 Conflict. getWebhookInfo reports the last delivery
// error. SetOnWebhookPost and SetOnWebhookAnswer let crash tests stop the
// bot mid-delivery or lose its answer.
//
// The emulated methods are getMe, getUpdates, setWebhook, deleteWebhook,
// getWebhookInfo, sendMessage, sendPhoto, sendDocument, sendChatAction,
// editMessageText, editMessageReplyMarkup, deleteMessage,
// answerCallbackQuery, setMyCommands, getMyCommands, deleteMyCommands and
// getChatMember; any other method answers 404 Not Found, as Telegram does
// for unknown ones. Parse mode HTML is emulated; Markdown is refused with a
// clear error rather than guessed at.
//
// The package does not import testing, so the same emulator can back an
// interactive sandbox.
package telegramtest

import (
	"net/http"
	"sync"
	"time"
)

// Default identity of the emulated bot, used when Options leaves them empty.
const (
	DefaultToken       = "123456:TEST-token"
	DefaultBotID       = 123456
	DefaultBotUsername = "danvan_test_bot"
	DefaultBotName     = "Danvan Test Bot"
)

// Identities Telegram itself uses as senders.
const (
	// GroupAnonymousBotID is the sender of messages that anonymous group
	// administrators post on behalf of the group.
	GroupAnonymousBotID = 1087968824
)

// firstUpdateID is the update_id of the first update a Server enqueues.
const firstUpdateID = 10000

// Options configures a Server. The zero value is usable.
type Options struct {
	// Token is the bot token expected in request paths (default
	// DefaultToken).
	Token string
	// BotID is the bot's user id (default DefaultBotID).
	BotID int64
	// BotUsername is the bot's username without "@" (default
	// DefaultBotUsername).
	BotUsername string
	// BotName is the bot's first name (default DefaultBotName).
	BotName string
	// Now is the clock used for message dates, the 48-hour deletion window,
	// the 15-second callback answer window and the flood limits (default
	// time.Now, which is virtual inside a testing/synctest bubble). It is
	// called with the server's lock held, so it must not call the Server.
	Now func() time.Time
	// Limits are the flood limits enforced from the start (see SetLimits);
	// the zero value enforces none.
	Limits Limits
	// OnUpdatesDelivered, if set, is the initial value of the hook that
	// SetOnUpdatesDelivered replaces.
	OnUpdatesDelivered func(ids []int64)
	// OnAccepted, if set, is the initial value of the hook that
	// SetOnAccepted replaces.
	OnAccepted func(method string, chatID int64, messageID int)
	// WebhookTransport carries webhook requests (default: a direct HTTP
	// transport that ignores proxy settings); a test inside a
	// testing/synctest bubble serves them in memory.
	WebhookTransport http.RoundTripper
}

// Server is an emulated Telegram Bot API server together with the users and
// chats around the bot. All its methods are safe for concurrent use.
type Server struct {
	token string
	bot   User
	now   func() time.Time

	closeOnce sync.Once
	closed    chan struct{}

	mu sync.Mutex
	// changed is closed and replaced whenever the state changes, so that
	// waiters (long polls, WaitBotMessages, WaitCallbackAnswer) can block
	// on it without polling.
	changed chan struct{}

	users map[int64]*userState
	chats map[int64]*chatState

	updates      []queuedUpdate
	nextUpdateID int64
	confirmed    int64
	allowed      map[string]bool // nil means Telegram's default set
	poller       *poller

	webhook         *webhookState // nil: none set
	webhookClient   *http.Client
	pushers         sync.WaitGroup // webhook delivery loops
	onWebhookPost   func(updateID int64)
	onWebhookAnswer func(updateID int64, status int) bool

	queries   map[string]*callbackQuery
	nextQuery int64

	commands map[commandKey][]BotCommand

	files    map[string]*storedFile
	nextFile int64

	requests map[string]int
	sent     int

	fault  func(FaultRequest) *Fault
	resets []resetRule

	limits      Limits
	flood       *floodWindows
	sendLog     []sentEntry
	floodErrors int

	onDelivered func(ids []int64)
	onAccepted  func(method string, chatID int64, messageID int)
}

// New returns a Server with no users and no chats.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.BotID == 0 {
		opts.BotID = DefaultBotID
	}
	if opts.BotUsername == "" {
		opts.BotUsername = DefaultBotUsername
	}
	if opts.BotName == "" {
		opts.BotName = DefaultBotName
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		token:        opts.Token,
		bot:          User{ID: opts.BotID, FirstName: opts.BotName, Username: opts.BotUsername, IsBot: true},
		now:          opts.Now,
		closed:       make(chan struct{}),
		changed:      make(chan struct{}),
		users:        make(map[int64]*userState),
		chats:        make(map[int64]*chatState),
		nextUpdateID: firstUpdateID,
		queries:      make(map[string]*callbackQuery),
		commands:     make(map[commandKey][]BotCommand),
		files:        make(map[string]*storedFile),
		requests:     make(map[string]int),
		limits:       opts.Limits,
		flood:        newFloodWindows(),
		onDelivered:  opts.OnUpdatesDelivered,
		onAccepted:   opts.OnAccepted,

		webhookClient: newWebhookClient(opts.WebhookTransport),
	}
}

// Bot returns the bot's own user, as getMe describes it.
func (s *Server) Bot() User { return s.bot }

// Token returns the token the server expects in request paths.
func (s *Server) Token() string { return s.token }

// Endpoint returns the API endpoint format for a server at baseURL, in the
// form the bot's configuration and tgbotapi expect:
// baseURL + "/bot%s/%s" (token, then method).
func Endpoint(baseURL string) string {
	return baseURL + "/bot%s/%s"
}

// Close ends every waiting long poll (they answer with whatever is queued)
// and makes later long polls answer at once; it stops webhook deliveries
// and waits for their requests to end. The webhook stays set, as on
// Telegram. Close does not stop an httptest.Server wrapping s; close that
// separately. It must not be called from a hook.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.mu.Lock()
	s.stopWebhookLocked()
	s.mu.Unlock()
	s.pushers.Wait()
	s.webhookClient.CloseIdleConnections()
}

// SetOnUpdatesDelivered sets the hook called, without the server's lock,
// after a getUpdates answer carrying updates has been written and flushed to
// the client. ids are the update_ids it carried. nil removes the hook.
func (s *Server) SetOnUpdatesDelivered(hook func(ids []int64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onDelivered = hook
}

// SetOnAccepted sets the hook called, without the server's lock, after a
// sendMessage, sendPhoto, sendDocument, editMessageText,
// editMessageReplyMarkup or deleteMessage has been applied to the state and
// before its answer is written. The hook may block: the bot then waits for
// its answer, and never gets it if the test kills the bot meanwhile. nil
// removes the hook.
func (s *Server) SetOnAccepted(hook func(method string, chatID int64, messageID int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAccepted = hook
}

// notifyLocked wakes every waiter. The caller holds s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// isClosed reports whether Close has been called.
func (s *Server) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

var _ http.Handler = (*Server)(nil)
