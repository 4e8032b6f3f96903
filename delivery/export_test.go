package delivery

import (
	"context"

	"danvan/store"
)

// LoadForTest indexes the rows committed since the last load, as Run does
// when it starts or is woken.
func (s *Sender) LoadForTest(ctx context.Context) error { return s.load(ctx) }

// UseStoreForTest points the sender at st: a test reopens the store under
// a sender whose index it filled before.
func (s *Sender) UseStoreForTest(st *store.Store) { s.o.Store = st }
