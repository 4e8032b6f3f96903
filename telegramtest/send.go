package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif" // photos may be GIF, JPEG or PNG
	_ "image/jpeg"
	_ "image/png"
	"mime"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// markup is a decoded reply_markup.
type markup struct {
	keyboard       [][]Button
	forceReply     bool
	placeholder    string
	removeKeyboard bool
}

// inButton is an inline keyboard button as a bot sends it.
type inButton struct {
	Text                         string          `json:"text"`
	CallbackData                 *string         `json:"callback_data"`
	URL                          *string         `json:"url"`
	LoginURL                     json.RawMessage `json:"login_url"`
	WebApp                       json.RawMessage `json:"web_app"`
	SwitchInlineQuery            *string         `json:"switch_inline_query"`
	SwitchInlineQueryCurrentChat *string         `json:"switch_inline_query_current_chat"`
	CallbackGame                 json.RawMessage `json:"callback_game"`
	Pay                          bool            `json:"pay"`
}

type inMarkup struct {
	InlineKeyboard        *[][]inButton   `json:"inline_keyboard"`
	Keyboard              json.RawMessage `json:"keyboard"`
	ForceReply            bool            `json:"force_reply"`
	InputFieldPlaceholder string          `json:"input_field_placeholder"`
	RemoveKeyboard        bool            `json:"remove_keyboard"`
}

// parseMarkup decodes and checks the reply_markup parameter.
func parseMarkup(p params) (markup, *apiError) {
	var m markup
	if !p.has("reply_markup") {
		return m, nil
	}
	var in inMarkup
	if err := json.Unmarshal([]byte(p.str("reply_markup")), &in); err != nil {
		return m, badRequest("can't parse reply keyboard markup JSON object")
	}
	switch {
	case in.InlineKeyboard != nil:
		for _, row := range *in.InlineKeyboard {
			var out []Button
			for _, b := range row {
				btn, err := checkButton(b)
				if err != nil {
					return m, err
				}
				out = append(out, btn)
			}
			if len(out) > 0 {
				m.keyboard = append(m.keyboard, out)
			}
		}
	case in.ForceReply:
		if utf8.RuneCountInString(in.InputFieldPlaceholder) > 64 {
			return m, badRequest("can't parse reply keyboard markup JSON object")
		}
		m.forceReply = true
		m.placeholder = in.InputFieldPlaceholder
	case in.RemoveKeyboard:
		m.removeKeyboard = true
	case in.Keyboard != nil:
		// A custom reply keyboard: accepted, not modelled.
	default:
		return m, badRequest("can't parse reply keyboard markup JSON object")
	}
	return m, nil
}

// checkButton validates one inline button the way Telegram does.
func checkButton(b inButton) (Button, *apiError) {
	other := b.LoginURL != nil || b.WebApp != nil || b.SwitchInlineQuery != nil ||
		b.SwitchInlineQueryCurrentChat != nil || b.CallbackGame != nil || b.Pay
	switch {
	case b.CallbackData != nil:
		if n := len(*b.CallbackData); n == 0 || n > maxCallbackData {
			return Button{}, badRequest("BUTTON_DATA_INVALID")
		}
		return Button{Text: b.Text, CallbackData: *b.CallbackData}, nil
	case b.URL != nil:
		if !validButtonURL(*b.URL) {
			return Button{}, badRequest("BUTTON_URL_INVALID")
		}
		return Button{Text: b.Text, URL: *b.URL}, nil
	case other:
		return Button{}, badRequest("telegramtest: only callback_data and url inline buttons are emulated")
	default:
		return Button{}, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
	}
}

func validButtonURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "tg":
		return true
	}
	return false
}

// formatInput parses a text or caption in parse_mode and normalises it as
// Telegram does. empty reports a text with nothing to show.
func formatInput(raw, parseMode string) (text string, ents []Entity, empty bool, err *apiError) {
	if !utf8.ValidString(raw) {
		return "", nil, false, badRequest("strings must be encoded in UTF-8")
	}
	plain := raw
	switch strings.ToLower(parseMode) {
	case "":
	case "html":
		var perr error
		plain, ents, perr = parseHTML(raw)
		if perr != nil {
			return "", nil, false, badRequest("can't parse entities: " + perr.Error())
		}
	case "markdown", "markdownv2":
		return "", nil, false, badRequest("can't parse entities: telegramtest does not emulate parse_mode " + parseMode + "; use HTML")
	default:
		return "", nil, false, badRequest("unsupported parse_mode")
	}
	text, ents, empty = normalizeText(plain, ents)
	return text, ents, empty, nil
}

// replyTarget resolves reply_to_message_id (or reply_parameters) in c,
// returning 0 when the bot may send without the reply.
func replyTarget(c *chatState, p params) (int, *apiError) {
	id := p.int("reply_to_message_id")
	allow := p.bool("allow_sending_without_reply")
	if p.has("reply_parameters") {
		var rp struct {
			MessageID                int   `json:"message_id"`
			ChatID                   any   `json:"chat_id"`
			AllowSendingWithoutReply *bool `json:"allow_sending_without_reply"`
		}
		if err := json.Unmarshal([]byte(p.str("reply_parameters")), &rp); err != nil {
			return 0, badRequest("can't parse reply parameters JSON object")
		}
		id = rp.MessageID
		if rp.AllowSendingWithoutReply != nil {
			allow = *rp.AllowSendingWithoutReply
		}
	}
	if id == 0 {
		return 0, nil
	}
	if m := c.message(id); m != nil && !m.Deleted {
		return id, nil
	}
	if allow {
		return 0, nil
	}
	return 0, badRequest("message to be replied not found")
}

// newBotMessage builds the common part of a message the bot sends at the
// time at.
func (s *Server) newBotMessage(p params, mk markup, at time.Time) *Message {
	return &Message{
		From:                  s.bot,
		FromBot:               true,
		Date:                  at,
		Keyboard:              mk.keyboard,
		ForceReply:            mk.forceReply,
		Placeholder:           mk.placeholder,
		RemoveKeyboard:        mk.removeKeyboard,
		ParseMode:             p.str("parse_mode"),
		DisableNotification:   p.bool("disable_notification"),
		DisableWebPagePreview: p.bool("disable_web_page_preview"),
	}
}

// storeBotMessageLocked adds m to c, counts it for the flood limits under
// method and builds the answer. The caller holds s.mu.
func (s *Server) storeBotMessageLocked(method string, c *chatState, m *Message) outcome {
	c.add(m)
	s.sent++
	s.countLocked(method, c, m.ID, m.Date)
	s.notifyLocked()
	return outcome{
		result:    s.wireMessageLocked(m, true),
		accepted:  true,
		chatID:    c.info.ID,
		messageID: m.ID,
	}
}

func (s *Server) sendMessage(_ context.Context, p params) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.botChatLocked(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	at, aerr := s.admitLocked(c)
	if aerr != nil {
		return outcome{err: aerr}
	}
	raw := p.str("text")
	if raw == "" {
		return outcome{err: badRequest("message text is empty")}
	}
	text, ents, empty, aerr := formatInput(raw, p.str("parse_mode"))
	if aerr != nil {
		return outcome{err: aerr}
	}
	if empty {
		return outcome{err: badRequest("message text is empty")}
	}
	if utf16Len(text) > maxTextLength {
		return outcome{err: badRequest("message is too long")}
	}
	mk, aerr := parseMarkup(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	replyTo, aerr := replyTarget(c, p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	m := s.newBotMessage(p, mk, at)
	m.Text, m.Entities, m.ReplyToID = text, ents, replyTo
	if strings.EqualFold(m.ParseMode, "html") {
		m.HTML = raw
	}
	return s.storeBotMessageLocked("sendMessage", c, m)
}

func (s *Server) sendPhoto(_ context.Context, p params) outcome {
	return s.sendMedia(p, "photo")
}

func (s *Server) sendDocument(_ context.Context, p params) outcome {
	return s.sendMedia(p, "document")
}

// sendMedia implements sendPhoto and sendDocument; field is "photo" or
// "document".
func (s *Server) sendMedia(p params, field string) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.botChatLocked(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	at, aerr := s.admitLocked(c)
	if aerr != nil {
		return outcome{err: aerr}
	}
	rawCaption := p.str("caption")
	caption, capEnts, _, aerr := formatInput(rawCaption, p.str("parse_mode"))
	if aerr != nil {
		return outcome{err: aerr}
	}
	if utf16Len(caption) > maxCaptionLength {
		return outcome{err: badRequest("message caption is too long")}
	}
	mk, aerr := parseMarkup(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	replyTo, aerr := replyTarget(c, p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	f, aerr := s.fileParamLocked(p, field)
	if aerr != nil {
		return outcome{err: aerr}
	}
	m := s.newBotMessage(p, mk, at)
	m.Caption, m.CaptionEntities, m.ReplyToID = caption, capEnts, replyTo
	if strings.EqualFold(m.ParseMode, "html") {
		m.HTML = rawCaption
	}
	m.FileSize = f.size
	if field == "photo" {
		m.PhotoFileID = f.fileID
	} else {
		m.DocumentFileID = f.fileID
		m.DocumentName = f.name
	}
	method := "sendDocument"
	if field == "photo" {
		method = "sendPhoto"
	}
	return s.storeBotMessageLocked(method, c, m)
}

// storedFile is a file the server knows by file_id.
type storedFile struct {
	kind     string // "photo", "document" or "sticker"
	fileID   string // the main file_id (the largest photo size)
	uniqueID string
	name     string
	mimeType string
	size     int
	width    int
	height   int
	emoji    string
	sizes    []apiPhotoSize // photos only
}

// fileParamLocked resolves the photo or document of a request: an
// uploaded part, an "attach://name" reference, a known file_id or an HTTP
// URL. The caller holds s.mu.
func (s *Server) fileParamLocked(p params, field string) (*storedFile, *apiError) {
	up, uploaded := p.files[field]
	if !uploaded {
		v := strings.TrimSpace(p.str(field))
		if name, ok := strings.CutPrefix(v, "attach://"); ok {
			up, uploaded = p.files[name]
			if !uploaded {
				return nil, badRequest("wrong file identifier/HTTP URL specified")
			}
		} else {
			switch {
			case v == "":
				return nil, badRequest(fmt.Sprintf("there is no %s in the request", field))
			case strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://"):
				// Telegram would download it; the emulator cannot, so it
				// stands in an empty file named after the URL's path.
				return s.newFileLocked(field, path.Base(v), 0, 800, 600), nil
			}
			f, ok := s.files[v]
			if !ok {
				return nil, badRequest("wrong file identifier/HTTP URL specified")
			}
			if f.kind != field {
				return nil, badRequest("type of file mismatch")
			}
			return f, nil
		}
	}
	if len(up.data) == 0 {
		return nil, badRequest("file must be non-empty")
	}
	w, h := 0, 0
	if field == "photo" {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(up.data))
		if err != nil {
			return nil, badRequest("IMAGE_PROCESS_FAILED")
		}
		w, h = cfg.Width, cfg.Height
	}
	name := up.name
	if name == "" {
		name = "file"
	}
	return s.newFileLocked(field, name, len(up.data), w, h), nil
}

// newFileLocked registers a new file with fresh ids. Photos get Telegram's
// usual set of sizes, each with its own file_id. The caller holds s.mu.
func (s *Server) newFileLocked(kind, name string, size, width, height int) *storedFile {
	s.nextFile++
	n := s.nextFile
	prefix := map[string]string{"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI", "sticker": "CAACAgIAAxkBAAI"}[kind]
	f := &storedFile{
		kind:     kind,
		fileID:   fmt.Sprintf("%s%06d", prefix, n),
		uniqueID: fmt.Sprintf("AQAD%06d", n),
		name:     name,
		size:     size,
		width:    width,
		height:   height,
	}
	switch kind {
	case "photo":
		f.name = ""
		for i, side := range []int{90, 320, 800, 1280} {
			sw, sh := scaleTo(width, height, side)
			last := side >= max(width, height) || side == 1280
			ps := apiPhotoSize{
				FileID:       fmt.Sprintf("%s%06d_%d", prefix, n, i),
				FileUniqueID: fmt.Sprintf("AQAD%06d_%d", n, i),
				Width:        sw,
				Height:       sh,
			}
			if last {
				ps.FileID, ps.FileUniqueID, ps.FileSize = f.fileID, f.uniqueID, f.size
			} else if f.size > 0 {
				ps.FileSize = max(1, f.size*sw*sh/max(1, width*height))
			}
			f.sizes = append(f.sizes, ps)
			s.files[ps.FileID] = f
			if last {
				break
			}
		}
	case "document":
		if t := mime.TypeByExtension(path.Ext(name)); t != "" {
			f.mimeType, _, _ = strings.Cut(t, ";")
		} else {
			f.mimeType = "application/octet-stream"
		}
	}
	s.files[f.fileID] = f
	return f
}

// scaleTo scales w×h so that its longer side is at most side.
func scaleTo(w, h, side int) (int, int) {
	if w <= 0 || h <= 0 {
		return side, side
	}
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, h*side/w)
	}
	return max(1, w*side/h), side
}

// sendChatAction shows a status such as "typing" in a chat; the emulator
// only checks it.
func (s *Server) sendChatAction(_ context.Context, p params) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.botChatLocked(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	at, aerr := s.admitLocked(c)
	if aerr != nil {
		return outcome{err: aerr}
	}
	switch p.str("action") {
	case "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
		"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note":
		s.countLocked("sendChatAction", c, 0, at)
		return outcome{result: true}
	}
	return outcome{err: badRequest("wrong parameter action in request")}
}
