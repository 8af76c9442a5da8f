package db

import (
	"context"
	"fmt"
	"regexp"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// KeyRange is one chunk of a keyset walk: the rows whose id is in (After, Upper].
type KeyRange struct {
	After, Upper uuid.UUID
}

// tableName is the form of a table name KeyRanges accepts: a plain lower-case identifier, so
// that it can be written into the bound statement as it is.
var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// KeyRanges walks the org's rows of table in primary-key order, in chunks of the size Chunks
// hands it within size, each chunk in its own tenant transaction (Chunks, so under its budget
// and pacing): the form of a sweep that reads an org's rows and
// writes something else (events) for some of them. table has a uuid column id and an index on
// (org_id, id) (its primary key).
//
// Each chunk first finds its upper bound, the id size rows on, by an index-only walk of that
// index, and then hands step the range (after, upper] to read through the same index: every
// chunk reads at most size rows whatever the other conditions of step's statement select,
// where a read of "the next size rows that match" could walk every non-matching row of the
// org. The last chunk's range is open above (uuid.Max), so rows inserted past the last bound
// during the walk are read too. The position only advances when a chunk commits. It returns
// the number of chunks committed.
func (d *DB) KeyRanges(ctx context.Context, orgID uuid.UUID, table string, size Size,
	step func(ctx context.Context, tx *gorm.DB, r KeyRange) error) (int, error) {
	if !tableName.MatchString(table) || size.First < 0 || size.Min < 0 || size.Max < 0 {
		return 0, fmt.Errorf("key ranges of %q by %v: a table name and sizes not below zero are required", table, size)
	}
	boundSQL := `SELECT id FROM ` + table + ` WHERE org_id = $1 AND id > $2 ORDER BY id OFFSET $3 LIMIT 1`
	after := uuid.Nil
	return d.Chunks(ctx, orgID, size, func(ctx context.Context, tx *gorm.DB, size int) (bool, error) {
		upper, more, err := Get[uuid.UUID](ctx, tx, boundSQL, orgID, after, size-1)
		if err != nil {
			return false, fmt.Errorf("bound %s after %s: %w", table, after, err)
		}
		if !more {
			upper = uuid.Max
		}
		if err := step(ctx, tx, KeyRange{After: after, Upper: upper}); err != nil {
			return false, err
		}
		after = upper
		return !more, nil
	})
}
