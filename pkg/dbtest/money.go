package dbtest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// Batch runs use, a use case that jobs call with a batch ((ctx, tx, org, items), one result per
// item), on in inside one tenant transaction of orgID on d, as the worker's runtime does, and
// returns its results.
func Batch[In, Out any](t testing.TB, d *db.DB, orgID uuid.UUID,
	use func(context.Context, *gorm.DB, uuid.UUID, []In) ([]Out, error), in ...In) []Out {
	t.Helper()
	var out []Out
	require.NoError(t, d.Tx(t.Context(), orgID, func(tx *gorm.DB) error {
		var err error
		out, err = use(t.Context(), tx, orgID, in)
		return err
	}))
	return out
}

// Count runs query, a statement of one count, on d (a superuser handle reads past row-level
// security) and returns the count.
func Count(t testing.TB, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, d.Pool.QueryRow(t.Context(), query, args...).Scan(&n))
	return n
}

// WonDeal inserts, through super (a superuser handle), a converted lead of orgID, Ada Buyer of
// Buyer Ltd with email ("<lead id>@example.com" when empty), and its deal "Website rebuild" of
// value (EUR minor units) in stage, won now when stage is won, and returns the deal's id: the
// start of the money flow's records.
func WonDeal(t testing.TB, super *db.DB, orgID uuid.UUID, email, stage string, value int64) uuid.UUID {
	t.Helper()
	lead, id := uuid.New(), uuid.New()
	if email == "" {
		email = lead.String() + "@example.com"
	}
	_, err := super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, name, company, fingerprint, stage)
VALUES ($1, $2, $3, 'Ada Buyer', 'Buyer Ltd', $4, 'converted')`, orgID, lead, email, "fp:"+lead.String())
	require.NoError(t, err)
	_, err = super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage,
	probability, won_at) VALUES ($1, $2, $3, 'Website rebuild', $4, 'EUR', $5, 1, CASE WHEN $5 = 'won' THEN now() END)`,
		orgID, id, lead, value, stage)
	require.NoError(t, err)
	return id
}
