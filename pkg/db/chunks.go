package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Chunks runs step in successive tenant transactions of orgID, one transaction per call, until
// step reports done or fails: the form of a sweep over an org's rows (the scheduler's checks).
// A sweep in one transaction would hold the locks of every row it wrote until its end, and the
// api's writes on those rows would wait for all of it; in chunks they wait at most one chunk,
// which the caller keeps short by its chunk size (about 100 ms of work).
//
// step keeps its own keyset position (the last key it read) between calls, advancing it only
// when its transaction will commit. Each chunk commits on its own, so a sweep that stops halfway
// keeps the chunks before; its rerun must therefore be idempotent (every write guarded by a unique
// key or a state check), which is what makes the sweep safe to retry. A cancelled ctx stops it
// between chunks. It returns the number of chunks committed.
func (d *DB) Chunks(ctx context.Context, orgID uuid.UUID, step func(tx *gorm.DB) (done bool, err error)) (int, error) {
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("sweep stopped after %d chunks: %w", n, err)
		}
		done := false
		err := d.Tx(ctx, orgID, func(tx *gorm.DB) error {
			var err error
			done, err = step(tx)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("sweep chunk %d: %w", n+1, err)
		}
		if done {
			return n + 1, nil
		}
	}
}
