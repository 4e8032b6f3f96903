package telegramtest

import (
	"context"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// commandKey names one command list: Telegram keeps a list per scope and
// language.
type commandKey struct {
	scope    string
	language string
}

// commandScope decodes the scope parameter; its type defaults to
// "default".
func commandScope(p params) (string, *apiError) {
	if !p.has("scope") {
		return "default", nil
	}
	var sc struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(p.str("scope")), &sc); err != nil {
		return "", badRequest("can't parse BotCommandScope JSON object")
	}
	switch sc.Type {
	case "default", "all_private_chats", "all_group_chats", "all_chat_administrators",
		"chat", "chat_administrators", "chat_member":
		return sc.Type, nil
	}
	return "", badRequest("wrong BotCommandScope type specified")
}

func validCommand(name string) bool {
	if len(name) < 1 || len(name) > 32 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z') && !(r >= '0' && r <= '9') && r != '_' {
			return false
		}
	}
	return true
}

func (s *Server) setMyCommands(_ context.Context, p params) outcome {
	var cmds []BotCommand
	if err := json.Unmarshal([]byte(p.str("commands")), &cmds); err != nil {
		return outcome{err: badRequest("can't parse commands JSON object")}
	}
	if len(cmds) > 100 {
		return outcome{err: badRequest("BOT_COMMANDS_TOO_MUCH")}
	}
	for _, c := range cmds {
		if !validCommand(c.Command) {
			return outcome{err: badRequest("BOT_COMMAND_INVALID")}
		}
		if n := utf8.RuneCountInString(c.Description); n < 1 || n > 256 {
			return outcome{err: badRequest("BOT_COMMAND_DESCRIPTION_INVALID")}
		}
	}
	scope, aerr := commandScope(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	key := commandKey{scope: scope, language: p.str("language_code")}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(cmds) == 0 {
		delete(s.commands, key)
	} else {
		s.commands[key] = cmds
	}
	s.notifyLocked()
	return outcome{result: true}
}

func (s *Server) getMyCommands(_ context.Context, p params) outcome {
	scope, aerr := commandScope(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cmds := slices.Clone(s.commands[commandKey{scope: scope, language: p.str("language_code")}])
	if cmds == nil {
		cmds = []BotCommand{}
	}
	return outcome{result: cmds}
}

func (s *Server) deleteMyCommands(_ context.Context, p params) outcome {
	scope, aerr := commandScope(p)
	if aerr != nil {
		return outcome{err: aerr}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.commands, commandKey{scope: scope, language: p.str("language_code")})
	s.notifyLocked()
	return outcome{result: true}
}

// Commands returns the command list the bot set for a scope type
// ("" means "default") and language code ("" means all languages).
func (s *Server) Commands(scopeType, languageCode string) []BotCommand {
	if scopeType == "" {
		scopeType = "default"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands[commandKey{scope: scopeType, language: languageCode}])
}
