package dbtest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
)

// NewOrg inserts an org and returns its id.
func NewOrg(t testing.TB, d *db.DB, name string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, d.Pool.QueryRow(t.Context(), `INSERT INTO orgs (name) VALUES ($1) RETURNING id`, name).Scan(&id))
	return id
}
