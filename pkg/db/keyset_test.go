package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// TestKeyRanges proves the keyset walk: chunks of size rows of the org in id order, each range
// (after, upper] starting where the one before ended, the last one open above, every row of the
// org in exactly one range and no row of another org in any; a step's error stops the walk, and
// a table name that is not a plain identifier is refused.
func TestKeyRanges(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	put := func(org uuid.UUID, n int) []uuid.UUID {
		var ids []uuid.UUID
		require.NoError(t, s.owner.Tx(ctx, org, func(tx *gorm.DB) error {
			var err error
			ids, err = db.Select[uuid.UUID](ctx, tx, `INSERT INTO leads (org_id, email, fingerprint)
SELECT $1, 'p' || g || '@example.com', 'fp' || g FROM generate_series(1, $2::int) g RETURNING id`, org, n)
			return err
		}))
		return ids
	}
	put(s.orgA, 7)
	put(s.orgB, 5)

	var ranges []db.KeyRange
	var chunks [][]uuid.UUID
	n, err := s.app.KeyRanges(ctx, s.orgA, "leads", db.Fixed(3), func(ctx context.Context, tx *gorm.DB, r db.KeyRange) error {
		ids, err := db.Select[uuid.UUID](ctx, tx, `SELECT id FROM leads WHERE id > $1 AND id <= $2 ORDER BY id`, r.After, r.Upper)
		ranges, chunks = append(ranges, r), append(chunks, ids)
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Len(t, chunks, 3)
	require.Len(t, chunks[0], 3)
	require.Len(t, chunks[1], 3)
	require.Len(t, chunks[2], 1, "the org's seventh lead; the other org's are not visible nor counted")
	require.Equal(t, uuid.Nil, ranges[0].After)
	require.Equal(t, chunks[0][2], ranges[0].Upper, "a range ends at its size-th row")
	require.Equal(t, ranges[0].Upper, ranges[1].After)
	require.Equal(t, ranges[1].Upper, ranges[2].After)
	require.Equal(t, uuid.Max, ranges[2].Upper, "the last range is open above")

	errBoom := errors.New("boom")
	calls := 0
	n, err = s.app.KeyRanges(ctx, s.orgA, "leads", db.Fixed(2), func(context.Context, *gorm.DB, db.KeyRange) error {
		calls++
		if calls == 2 {
			return errBoom
		}
		return nil
	})
	require.ErrorIs(t, err, errBoom)
	require.Equal(t, 1, n)

	_, err = s.app.KeyRanges(ctx, s.orgA, "leads; DROP TABLE leads", db.Fixed(2), func(context.Context, *gorm.DB, db.KeyRange) error { return nil })
	require.ErrorContains(t, err, "table name")
	_, err = s.app.KeyRanges(ctx, s.orgA, "leads", db.Fixed(-1), func(context.Context, *gorm.DB, db.KeyRange) error { return nil })
	require.ErrorContains(t, err, "sizes not below zero")
}
