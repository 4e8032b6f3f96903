package store

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A group's open keyboards and dialogues follow it into its supergroup:
// its messages and their buttons now live there.
func TestMigrationMovesKeyboardsAndDialogues(t *testing.T) {
	s := open(t)
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	const group, supergroup, other = -40, -1000000000040, -41
	err := s.Update(ctx, func(tx *Tx) error {
		for _, tok := range []Token{
			{Code: "ingroup", ChatID: group, Handler: "page", Created: at, Expires: at.Add(time.Hour)},
			{Code: "elsewhere", ChatID: other, Handler: "page", Created: at, Expires: at.Add(time.Hour)},
		} {
			if err := tx.PutToken(tok); err != nil {
				return err
			}
		}
		if _, err := tx.StartConversation(Conversation{UserID: 5001, ChatID: group, Name: "pickunit", Started: at, Expires: at.Add(time.Hour)}); err != nil {
			return err
		}
		if _, err := tx.StartConversation(Conversation{UserID: 5002, ChatID: other, Name: "pickunit", Started: at, Expires: at.Add(time.Hour)}); err != nil {
			return err
		}
		_, err := tx.MigrateChat(group, supergroup, at)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		for code, want := range map[string]int64{"ingroup": supergroup, "elsewhere": other} {
			if tok, err := tx.Token(code); err != nil || tok.ChatID != want {
				t.Errorf("token %s: chat %d (%v), want %d", code, tok.ChatID, err, want)
			}
		}
		for user, want := range map[int64]int64{5001: supergroup, 5002: other} {
			if c, err := tx.Conversation(user); err != nil || c.ChatID != want {
				t.Errorf("dialogue of %d: chat %d (%v), want %d", user, c.ChatID, err, want)
			}
		}
		return nil
	})
}

// A keyboard record that does not decode does not stop the migration.
func TestMigrationSkipsARecordThatDoesNotDecode(t *testing.T) {
	s := open(t)
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	s.Update(ctx, func(tx *Tx) error {
		return tx.PutToken(Token{Code: "good", ChatID: -50, Handler: "page", Created: at, Expires: at.Add(time.Hour)})
	})
	s.db.Update(func(btx *bolt.Tx) error { return btx.Bucket(bucketTokens).Put([]byte("bad"), []byte("{not json")) })
	err := s.Update(ctx, func(tx *Tx) error { _, err := tx.MigrateChat(-50, -1000000000050, at); return err })
	if err != nil {
		t.Fatalf("MigrateChat with a broken token: %v", err)
	}
	s.View(ctx, func(tx *Tx) error {
		if tok, err := tx.Token("good"); err != nil || tok.ChatID != -1000000000050 {
			t.Errorf("good token: %+v, %v", tok, err)
		}
		return nil
	})
}
