package telegramtest

import (
	"net/http"
	"reflect"
	"testing"
)

func TestMyCommandsPerScopeAndLanguage(t *testing.T) {
	s := New(Options{})
	c := newHTTPServer(t, s)
	vi := `[{"command":"trogiup","description":"Trợ giúp"},{"command":"baocao","description":"Gửi báo cáo"}]`
	en := `[{"command":"help","description":"Help"}]`
	admin := `[{"command":"thongke","description":"Thống kê"}]`

	c.call("setMyCommands", vals("commands", vi)).wantOK(t, nil)
	c.call("setMyCommands", vals("commands", en, "language_code", "en")).wantOK(t, nil)
	c.call("setMyCommands", vals("commands", admin, "scope", `{"type":"all_chat_administrators"}`, "language_code", "vi")).wantOK(t, nil)

	tests := []struct {
		scope, lang string
		want        []BotCommand
	}{
		{"", "", []BotCommand{{"trogiup", "Trợ giúp"}, {"baocao", "Gửi báo cáo"}}},
		{"default", "en", []BotCommand{{"help", "Help"}}},
		{"all_chat_administrators", "vi", []BotCommand{{"thongke", "Thống kê"}}},
		{"all_chat_administrators", "", nil},
		{"all_private_chats", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.scope+"/"+tt.lang, func(t *testing.T) {
			if got := s.Commands(tt.scope, tt.lang); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Commands: got %+v, want %+v", got, tt.want)
			}
			v := vals("language_code", tt.lang)
			if tt.scope != "" {
				v.Set("scope", `{"type":"`+tt.scope+`"}`)
			}
			var got []BotCommand
			c.call("getMyCommands", v).wantOK(t, &got)
			if len(got) != len(tt.want) || (len(got) > 0 && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("getMyCommands: got %+v, want %+v", got, tt.want)
			}
		})
	}

	errs := []struct {
		name, commands, desc string
	}{
		{"upper case", `[{"command":"Help","description":"x"}]`, "Bad Request: BOT_COMMAND_INVALID"},
		{"diacritics", `[{"command":"trợgiúp","description":"x"}]`, "Bad Request: BOT_COMMAND_INVALID"},
		{"too long", `[{"command":"abcdefghijabcdefghijabcdefghijabc","description":"x"}]`, "Bad Request: BOT_COMMAND_INVALID"},
		{"no description", `[{"command":"help","description":""}]`, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"},
		{"not JSON", `help`, "Bad Request: can't parse commands JSON object"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			c.call("setMyCommands", vals("commands", tt.commands)).wantError(t, http.StatusBadRequest, tt.desc)
		})
	}

	c.call("deleteMyCommands", vals("language_code", "en")).wantOK(t, nil)
	if got := s.Commands("default", "en"); got != nil {
		t.Errorf("after deleteMyCommands: got %+v, want none", got)
	}
}
