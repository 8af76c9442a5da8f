package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestFiguresReadIsSerial proves the figures' read plans no parallel workers: with parallel
// plans made free, the figures statement gathers from workers, and after serialReadSQL in the same
// transaction (as Figures sends it) it does not.
func TestFiguresReadIsSerial(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	_, err := super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, fingerprint, qualified_at)
SELECT $1, 'p' || g || '@acme.example', 'email:p' || g, now() - make_interval(hours => g % 300)
FROM generate_series(1, 2000) g`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `ANALYZE leads`)
	require.NoError(t, err)
	end := time.Now()
	plan := func(serial bool) string {
		tx, err := super.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SELECT set_config('parallel_setup_cost', '0', true), set_config('parallel_tuple_cost', '0', true),
    set_config('min_parallel_table_scan_size', '0', true), set_config('min_parallel_index_scan_size', '0', true)`)
		require.NoError(t, err)
		if serial {
			_, err = tx.Exec(ctx, serialReadSQL)
			require.NoError(t, err)
		}
		var out string
		require.NoError(t, tx.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+figuresSQL, orgID, end.AddDate(0, 0, -7), end).Scan(&out))
		return out
	}
	require.True(t, strings.Contains(plan(false), `"Gather`), "parallel plans were not made free enough to be chosen")
	require.NotContains(t, plan(true), `"Gather`)
}

// TestFiguresReadTheirWeek proves the figures of a week read the week's rows by index, not the
// org's: of 20,000 leads created and qualified two months ago, 50 qualified within the week cost a
// few index pages, where counting them from the leads themselves reads all of them (some 700
// pages with their notes).
func TestFiguresReadTheirWeek(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	_, err := super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, fingerprint, notes, created_at, qualified_at)
SELECT $1, 'p' || g || '@acme.example', 'email:p' || g, repeat('n', 200), $2::timestamptz - interval '60 days',
    $2::timestamptz - CASE WHEN g <= 50 THEN make_interval(hours => g) ELSE interval '60 days' END
FROM generate_series(1, 20000) g`, orgID, end)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `ANALYZE leads`)
	require.NoError(t, err)
	week := []any{orgID.String(), end.AddDate(0, 0, -7).Format(time.RFC3339), end.Format(time.RFC3339)}
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{{Name: "figures", SQL: figuresSQL, Args: week, Limit: 100}})
}
