package dbtest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// AnyResidue is BeginTenant's residue for a transaction with any transaction id.
const AnyResidue = -1

// BeginTenant begins a tenant transaction of org on pool and returns it with its transaction id.
// With a residue other than AnyResidue it begins again until the id is congruent to residue
// modulo 16: the worst case of rows keyed by the transaction id modulo 16, where two such
// transactions would write the same rows. The transaction is rolled back at the end of the test
// unless committed.
func BeginTenant(t testing.TB, pool *pgxpool.Pool, org uuid.UUID, residue int64) (pgx.Tx, int64) {
	t.Helper()
	for range 500 {
		tx, err := pool.Begin(t.Context())
		require.NoError(t, err)
		var xid int64
		require.NoError(t, tx.QueryRow(t.Context(), `SELECT pg_current_xact_id()::text::bigint FROM set_config('app.org_id', $1, true)`,
			org.String()).Scan(&xid))
		if residue == AnyResidue || xid%16 == residue {
			t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
			return tx, xid
		}
		require.NoError(t, tx.Rollback(t.Context()))
	}
	t.Fatalf("no transaction id congruent to %d modulo 16", residue)
	return nil, 0
}
