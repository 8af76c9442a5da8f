package dbtest

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
)

// HoldLocks begins a transaction on a connection of d's own and runs query in it (a SELECT ...
// FOR UPDATE), so that the rows it locks stay locked, as a client's open transaction holds them,
// until release commits it. release may be called more than once and from any goroutine; the
// test's end calls it.
func HoldLocks(t testing.TB, d *db.DB, query string, args ...any) (release func()) {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	holder, err := d.Pool.Acquire(ctx)
	require.NoError(t, err)
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, query, args...)
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			err := tx.Commit(ctx)
			holder.Release()
			require.NoError(t, err)
		})
	}
	t.Cleanup(release)
	return release
}
