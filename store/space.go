package store

import (
	"context"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Space is how the database file's bytes are used. bbolt never gives
// space back to the file system: freed pages are reused before the file
// grows. The file itself grows in steps (doubling up to 16 MB, then by
// 16 MB), so InUse shows growth long before FileSize does.
type Space struct {
	// FileSize is the file's size on disk.
	FileSize int64
	// InUse is what the file must hold: every page up to the highest one
	// written, less the free ones.
	InUse int64
	// Free is the bytes of free pages below that mark, to be reused.
	Free int64
}

// Space reports how the database file is used.
func (s *Store) Space(ctx context.Context) (Space, error) {
	if err := ctx.Err(); err != nil {
		return Space{}, err
	}
	var sp Space
	err := s.db.View(func(btx *bolt.Tx) error {
		info, err := os.Stat(s.db.Path())
		if err != nil {
			return err
		}
		stats := s.db.Stats()
		sp.FileSize = info.Size()
		sp.Free = int64(stats.FreePageN+stats.PendingPageN) * int64(s.db.Info().PageSize)
		sp.InUse = btx.Size() - sp.Free
		return nil
	})
	if err != nil {
		return Space{}, fmt.Errorf("space: %w", err)
	}
	return sp, nil
}
