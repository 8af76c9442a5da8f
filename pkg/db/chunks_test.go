package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// TestChunks proves a sweep in chunks: each chunk is its own tenant transaction (it sees its org
// only, runs without JIT and commits without waiting for its WAL flush, and a failing chunk rolls back alone, the chunks before it committed), the sweep ends when
// a chunk says done, and a cancelled context stops it.
func TestChunks(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	names := func() []string {
		var out []string
		require.NoError(t, s.owner.Tx(ctx, s.orgA, func(tx *gorm.DB) error {
			var err error
			out, err = db.Select[string](ctx, tx, `SELECT name FROM org_settings WHERE org_id = $1 ORDER BY name`, s.orgA)
			return err
		}))
		return out
	}
	put := func(tx *gorm.DB, name string) error {
		_, err := db.Exec(ctx, tx, `INSERT INTO org_settings (org_id, name, value) VALUES ($1, $2, '{}')`, s.orgA, name)
		return err
	}

	calls := 0
	n, err := s.app.Chunks(ctx, s.orgA, db.Size{}, func(ctx context.Context, tx *gorm.DB, _ int) (bool, error) {
		calls++
		org, ok, err := db.Get[string](ctx, tx, `SELECT current_setting('app.org_id')`)
		require.True(t, ok)
		require.Equal(t, s.orgA.String(), org, "each chunk is a tenant transaction of the org")
		settings, _, serr := db.Get[string](ctx, tx, `SELECT current_setting('jit') || ' ' || current_setting('synchronous_commit')`)
		require.NoError(t, serr)
		require.Equal(t, "off off", settings, "a chunk runs without JIT and commits without waiting for its WAL flush")
		return calls == 3, errors.Join(err, put(tx, fmt.Sprintf("chunk-%d", calls)))
	})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, []string{"chunk-1", "chunk-2", "chunk-3"}, names())

	calls = 0
	n, err = s.app.Chunks(ctx, s.orgA, db.Size{}, func(ctx context.Context, tx *gorm.DB, _ int) (bool, error) {
		calls++
		if err := put(tx, fmt.Sprintf("again-%d", calls)); err != nil {
			return false, err
		}
		if calls == 2 {
			return false, errors.New("boom")
		}
		return false, nil
	})
	require.ErrorContains(t, err, "sweep chunk 2: boom")
	require.Equal(t, 1, n, "the chunk before the failure committed")
	require.Equal(t, []string{"again-1", "chunk-1", "chunk-2", "chunk-3"}, names(), "the failed chunk rolled back alone")

	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	n, err = s.app.Chunks(cctx, s.orgA, db.Size{}, func(context.Context, *gorm.DB, int) (bool, error) {
		calls++
		if calls == 2 {
			cancel()
		}
		return false, nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, n, "a cancelled sweep commits no chunk after the cancel")
	require.Equal(t, 2, calls, "and starts none")
}
