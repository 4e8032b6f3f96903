package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// answer is a decoded Bot API answer.
type answer struct {
	status      int
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// wantError fails the test unless a is the given Bot API error.
func (a answer) wantError(t *testing.T, code int, description string) {
	t.Helper()
	if a.OK || a.status != code || a.ErrorCode != code || a.Description != description {
		t.Fatalf("got ok=%v status %d error_code %d %q, want error %d %q", a.OK, a.status, a.ErrorCode, a.Description, code, description)
	}
}

// wantOK fails the test unless a succeeded, and decodes its result into v
// (when v is not nil).
func (a answer) wantOK(t *testing.T, v any) {
	t.Helper()
	if !a.OK || a.status != http.StatusOK {
		t.Fatalf("got status %d error %d %q, want ok", a.status, a.ErrorCode, a.Description)
	}
	if v != nil {
		if err := json.Unmarshal(a.Result, v); err != nil {
			t.Fatalf("decode result %s: %v", a.Result, err)
		}
	}
}

// tgMessage is the part of the Bot API Message the tests look at.
type tgMessage struct {
	MessageID int `json:"message_id"`
	From      *struct {
		ID           int64  `json:"id"`
		IsBot        bool   `json:"is_bot"`
		FirstName    string `json:"first_name"`
		Username     string `json:"username"`
		LanguageCode string `json:"language_code"`
	} `json:"from"`
	SenderChat *struct {
		ID   int64  `json:"id"`
		Type string `json:"type"`
	} `json:"sender_chat"`
	Chat struct {
		ID        int64  `json:"id"`
		Type      string `json:"type"`
		Title     string `json:"title"`
		FirstName string `json:"first_name"`
	} `json:"chat"`
	Date            int64       `json:"date"`
	EditDate        int64       `json:"edit_date"`
	Text            string      `json:"text"`
	Entities        []tgEntity  `json:"entities"`
	Caption         string      `json:"caption"`
	CaptionEntities []tgEntity  `json:"caption_entities"`
	ReplyToMessage  *tgMessage  `json:"reply_to_message"`
	ReplyMarkup     *tgKeyboard `json:"reply_markup"`
	Photo           []struct {
		FileID       string `json:"file_id"`
		FileUniqueID string `json:"file_unique_id"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		FileSize     int    `json:"file_size"`
	} `json:"photo"`
	Document *struct {
		FileID   string `json:"file_id"`
		FileName string `json:"file_name"`
		MimeType string `json:"mime_type"`
		FileSize int    `json:"file_size"`
	} `json:"document"`
	Sticker *struct {
		FileID string `json:"file_id"`
	} `json:"sticker"`
	MigrateToChatID   int64 `json:"migrate_to_chat_id"`
	MigrateFromChatID int64 `json:"migrate_from_chat_id"`
}

type tgEntity struct {
	Type     string `json:"type"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
	URL      string `json:"url,omitempty"`
	Language string `json:"language,omitempty"`
}

type tgKeyboard struct {
	InlineKeyboard [][]struct {
		Text         string `json:"text"`
		CallbackData string `json:"callback_data"`
		URL          string `json:"url"`
	} `json:"inline_keyboard"`
}

type tgUpdate struct {
	UpdateID      int64      `json:"update_id"`
	Message       *tgMessage `json:"message"`
	EditedMessage *tgMessage `json:"edited_message"`
	CallbackQuery *struct {
		ID   string `json:"id"`
		From struct {
			ID int64 `json:"id"`
		} `json:"from"`
		Message      *tgMessage `json:"message"`
		ChatInstance string     `json:"chat_instance"`
		Data         string     `json:"data"`
	} `json:"callback_query"`
	MyChatMember *struct {
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
		OldChatMember struct {
			Status string `json:"status"`
		} `json:"old_chat_member"`
		NewChatMember struct {
			Status string `json:"status"`
			User   struct {
				ID int64 `json:"id"`
			} `json:"user"`
		} `json:"new_chat_member"`
	} `json:"my_chat_member"`
}

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// client speaks raw HTTP to an emulator, as any Bot API client would.
type client struct {
	t    *testing.T
	hc   *http.Client
	base string // server URL, without the /bot<token> part
	tok  string
}

// newHTTPServer starts s behind a loopback httptest server and returns a
// client for it.
func newHTTPServer(t *testing.T, s *Server) *client {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close) // runs first: ends long polls so ts.Close can finish
	return &client{t: t, hc: ts.Client(), base: ts.URL, tok: s.Token()}
}

// newMemClient returns a client reaching s through its in-memory
// transport.
func newMemClient(t *testing.T, s *Server) *client {
	return &client{t: t, hc: &http.Client{Transport: s.Transport()}, base: "http://telegram.test", tok: s.Token()}
}

func (c *client) url(method string) string {
	return c.base + "/bot" + c.tok + "/" + method
}

// do sends req and decodes the answer, failing the test on transport
// errors.
func (c *client) do(req *http.Request) answer {
	c.t.Helper()
	a, err := c.try(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return a
}

// try sends req and decodes the answer.
func (c *client) try(req *http.Request) (answer, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode}
	if err := json.Unmarshal(body, &a); err != nil {
		return a, err
	}
	return a, nil
}

// form builds a urlencoded POST, the way tgbotapi sends requests.
func (c *client) form(ctx context.Context, method string, v url.Values) *http.Request {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(method), strings.NewReader(v.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// call POSTs a urlencoded request.
func (c *client) call(method string, v url.Values) answer {
	c.t.Helper()
	return c.do(c.form(context.Background(), method, v))
}

// callJSON POSTs a JSON request.
func (c *client) callJSON(method string, body any) answer {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.url(method), bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req)
}

// upload POSTs a multipart request with one file part.
func (c *client) upload(method string, fields map[string]string, fileField, fileName string, data []byte) answer {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			c.t.Fatal(err)
		}
	}
	part, err := w.CreateFormFile(fileField, fileName)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := part.Write(data); err != nil {
		c.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.url(method), &buf)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

// updates calls getUpdates and decodes its result.
func (c *client) updates(v url.Values) []tgUpdate {
	c.t.Helper()
	var ups []tgUpdate
	c.call("getUpdates", v).wantOK(c.t, &ups)
	return ups
}

// send sends a text message and decodes it.
func (c *client) send(v url.Values) tgMessage {
	c.t.Helper()
	var m tgMessage
	c.call("sendMessage", v).wantOK(c.t, &m)
	return m
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// userAlice and userBob are the users most tests share.
func userAlice() User {
	return User{ID: 1001, FirstName: "Alice", Username: "alice", LanguageCode: "vi"}
}

func userBob() User {
	return User{ID: 1002, FirstName: "Bob", LanguageCode: "en"}
}

func keyboardJSON(rows ...[]Button) string {
	type btn struct {
		Text         string  `json:"text"`
		CallbackData *string `json:"callback_data,omitempty"`
		URL          string  `json:"url,omitempty"`
	}
	var kb [][]btn
	for _, row := range rows {
		var r []btn
		for _, b := range row {
			x := btn{Text: b.Text, URL: b.URL}
			if b.URL == "" {
				d := b.CallbackData
				x.CallbackData = &d
			}
			r = append(r, x)
		}
		kb = append(kb, r)
	}
	b, _ := json.Marshal(map[string]any{"inline_keyboard": kb})
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }
