package dbtest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// NewOrg inserts an org and returns its id. orgs is under forced row-level security, so the
// insert runs in a transaction scoped to the new org, as org.Create does.
func NewOrg(t testing.TB, d *db.DB, name string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	require.NoError(t, d.Tx(t.Context(), id, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO orgs (id, name) VALUES (?, ?)`, id, name).Error
	}))
	return id
}
