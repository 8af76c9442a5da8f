package db_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
)

// TestUUIDsIsOneArray proves that UUIDs reaches PostgreSQL as one uuid[] of the ids, in order,
// both through a statement in a transaction (database/sql) and on the pool (pgx).
func TestUUIDsIsOneArray(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	ids := []uuid.UUID{uuid.New(), uuid.Nil, uuid.New()}
	got, ok, err := db.Get[string](t.Context(), d.Gorm.WithContext(t.Context()), `SELECT array_to_string($1::uuid[], ',')`, db.UUIDs(ids))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, ids[0].String()+","+ids[1].String()+","+ids[2].String(), got)
	var n int
	require.NoError(t, d.Pool.QueryRow(t.Context(), `SELECT cardinality($1::uuid[])`, db.UUIDs(nil)).Scan(&n))
	require.Zero(t, n)
}
