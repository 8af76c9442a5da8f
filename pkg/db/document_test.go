package db_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/dbtest"
)

// TestReadDocument proves the stored-document read: the bytes of the one row, read in the org's
// tenant transaction, and apperr.NotFound naming the entity for no row and for a NULL document.
func TestReadDocument(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	org, id := dbtest.NewOrg(t, d, "acme"), uuid.New()

	doc, err := d.ReadDocument(t.Context(), org, "invoice", id,
		`SELECT convert_to(current_setting('app.org_id') || ':' || $2::text, 'UTF8') WHERE $1::uuid IS NOT NULL`)
	require.NoError(t, err)
	require.Equal(t, org.String()+":"+id.String(), string(doc))

	_, err = d.ReadDocument(t.Context(), org, "invoice", id, `SELECT ''::bytea WHERE $1::uuid IS NULL AND $2::uuid IS NULL`)
	e, ok := apperr.As(err)
	require.True(t, ok && e.Code == apperr.NotFound, "%v", err)
	require.Equal(t, "invoice "+id.String()+" not found", e.Message)

	_, err = d.ReadDocument(t.Context(), org, "contract", id, `SELECT NULL::bytea WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL`)
	e, ok = apperr.As(err)
	require.True(t, ok && e.Code == apperr.NotFound, "%v", err)
	require.Equal(t, "contract "+id.String()+" has no document", e.Message)
}
