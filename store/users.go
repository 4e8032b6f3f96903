package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// User is a person who has written to the bot.
type User struct {
	ID        int64  `json:"id"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Username  string `json:"username,omitempty"`
	// ClientLanguage is the language code the person's Telegram app reports.
	ClientLanguage string `json:"client_language,omitempty"`
	// Language is the reply language the person chose ("" = not chosen).
	Language string `json:"language,omitempty"`
	// FullName ("Họ và tên") and Position ("Chức vụ") are what the person
	// gave when joining a unit, so rosters read "Nguyễn Thị Hoa — Chủ
	// tịch Hội LHPN xã", not a nickname.
	FullName  string    `json:"full_name,omitempty"`
	Position  string    `json:"position,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// DisplayName is the person's full name if they gave it, else their name
// as Telegram shows it.
func (u User) DisplayName() string {
	switch {
	case u.FullName != "":
		return u.FullName
	case u.FirstName != "" && u.LastName != "":
		return u.FirstName + " " + u.LastName
	case u.FirstName != "":
		return u.FirstName
	case u.Username != "":
		return "@" + u.Username
	}
	return fmt.Sprintf("#%d", u.ID)
}

// User returns the person with this id.
func (tx *Tx) User(userID int64) (User, error) {
	var u User
	if err := getJSON(tx.bucket(bucketUsers), id(userID), &u); err != nil {
		return u, fmt.Errorf("user %d: %w", userID, err)
	}
	return u, nil
}

// PutUser stores the person.
func (tx *Tx) PutUser(u User) error {
	if err := putJSON(tx.bucket(bucketUsers), id(u.ID), u); err != nil {
		return fmt.Errorf("save user %d: %w", u.ID, err)
	}
	return nil
}

// SeeUser records that the person wrote at time at, with the profile their
// client sent, and returns the stored record. It writes only when something
// changed or the last-seen time is more than a minute old.
func (tx *Tx) SeeUser(profile User, at time.Time) (User, error) {
	u, err := tx.User(profile.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		u = User{ID: profile.ID, FirstSeen: at}
	case err != nil:
		return u, err
	}
	changed := u.FirstName != profile.FirstName || u.LastName != profile.LastName ||
		u.Username != profile.Username || u.ClientLanguage != profile.ClientLanguage ||
		u.LastSeen.IsZero() || at.Sub(u.LastSeen) > time.Minute
	if !changed {
		return u, nil
	}
	u.FirstName, u.LastName, u.Username, u.ClientLanguage = profile.FirstName, profile.LastName, profile.Username, profile.ClientLanguage
	u.LastSeen = at
	return u, tx.PutUser(u)
}

// Admin is a person granted admin rights in chat by another admin.
type Admin struct {
	UserID    int64     `json:"user_id"`
	GrantedBy int64     `json:"granted_by"`
	GrantedAt time.Time `json:"granted_at"`
}

// IsStoredAdmin reports whether the person was granted admin rights in chat.
// Admins named in the configuration are not stored.
func (tx *Tx) IsStoredAdmin(userID int64) bool {
	return tx.bucket(bucketAdmins).Get(id(userID)) != nil
}

// GrantAdmin makes the person an admin; it reports whether they were not
// one already.
func (tx *Tx) GrantAdmin(userID, by int64, at time.Time) (bool, error) {
	if tx.IsStoredAdmin(userID) {
		return false, nil
	}
	return true, putJSON(tx.bucket(bucketAdmins), id(userID), Admin{UserID: userID, GrantedBy: by, GrantedAt: at})
}

// RevokeAdmin takes admin rights granted in chat away; it reports whether
// the person had them.
func (tx *Tx) RevokeAdmin(userID int64) (bool, error) {
	if !tx.IsStoredAdmin(userID) {
		return false, nil
	}
	return true, tx.bucket(bucketAdmins).Delete(id(userID))
}

// HasStoredAdmins reports whether any admin was granted in chat.
func (tx *Tx) HasStoredAdmins() bool {
	k, _ := tx.bucket(bucketAdmins).Cursor().First()
	return k != nil
}

// StoredAdmins returns the ids of the admins granted in chat, in order.
func (tx *Tx) StoredAdmins() []int64 {
	var ids []int64
	tx.bucket(bucketAdmins).ForEach(func(k, _ []byte) error {
		ids = append(ids, int64(binary.BigEndian.Uint64(k)))
		return nil
	})
	return ids
}
