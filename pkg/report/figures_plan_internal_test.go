package report

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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
		require.NoError(t, tx.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+figuresSQL, figuresArgs(orgID, end.AddDate(0, 0, -7), end)...).Scan(&out))
		return out
	}
	require.True(t, strings.Contains(plan(false), `"Gather`), "parallel plans were not made free enough to be chosen")
	require.NotContains(t, plan(true), `"Gather`)
}

// TestFiguresReadTheirWeek proves the figures of a week read the week's rows by index, not the
// org's: of 20,000 leads created and qualified two months ago, 50 qualified within the week cost a
// few index pages, where counting them from the leads themselves reads all of them (some 700
// pages with their notes); of 20,000 deals won or lost two months ago, the 40 closed within the
// week cost a few pages of the partial won_at and lost_at indexes, where a statement that does
// not name the stage scans every deal of the org.
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
	_, err = super.Pool.Exec(ctx, `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability, won_at, lost_at)
SELECT $1, (SELECT id FROM leads WHERE org_id = $1 LIMIT 1), 'Deal ' || g, 1000 * g, 'EUR', s.stage, 0.5,
    CASE WHEN s.stage = 'won' THEN s.at END, CASE WHEN s.stage = 'lost' THEN s.at END
FROM generate_series(1, 20000) g,
    LATERAL (SELECT CASE WHEN g % 2 = 0 THEN 'won' ELSE 'lost' END AS stage,
        $2::timestamptz - CASE WHEN g <= 40 THEN make_interval(hours => g) ELSE interval '60 days' END AS at) s`, orgID, end)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `ANALYZE leads, lead_funnel, lead_funnel_days, deals`)
	require.NoError(t, err)
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{{Name: "figures", SQL: figuresSQL, Args: figuresArgs(orgID, end.AddDate(0, 0, -7), end), Limit: 100}})
}

// TestFiguresReadNotTheirWeeksLeads proves the lead figures of a week do not read its leads: a
// week of 20,000 new leads, all qualified in it, whose pages the day's updates left not
// all-visible (as the sweeps' updates of a large org do) costs the same few pages as an empty
// one, for a whole week and for a window with partial days at both edges, where counting them
// from leads visits a heap page per lead (some 800 with their notes).
func TestFiguresReadNotTheirWeeksLeads(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	end := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	_, err := super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, fingerprint, notes, created_at, qualified_at)
SELECT $1, 'p' || g || '@acme.example', 'email:p' || g, repeat('n', 200),
    $2::timestamptz - make_interval(secs => g * 30), $2::timestamptz - make_interval(secs => g * 30 - 60)
FROM generate_series(1, 20000) g`, orgID, end)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `VACUUM (ANALYZE) leads, lead_funnel, lead_funnel_days`)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `UPDATE leads SET priority = 'high' WHERE org_id = $1`, orgID)
	require.NoError(t, err)
	checks := []dbtest.PlanCheck{
		{Name: "week", SQL: figuresSQL, Args: figuresArgs(orgID, end.AddDate(0, 0, -7), end), Limit: 100},
		{Name: "edges", SQL: figuresSQL, Args: figuresArgs(orgID, end.AddDate(0, 0, -7).Add(23*time.Hour), end.Add(-time.Hour)), Limit: 100},
	}
	dbtest.RequireFewBuffers(t, owner, orgID, checks)
}

// figuresArgs are figuresSQL's arguments for org over [start, end), as Figures sends them, in
// the text RequireFewBuffers takes.
func figuresArgs(orgID uuid.UUID, start, end time.Time) []any {
	headEnd, firstDay, endDay, tailStart := splitDays(start, end)
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	return []any{orgID.String(), ts(start), ts(end), firstDay.Format(time.DateOnly), endDay.Format(time.DateOnly), ts(headEnd), ts(tailStart)}
}

// TestSplitDays proves the cut of a window at UTC midnights: whole days with partial edges, a
// window of whole days, a window within a day or across one midnight (no whole day: all head),
// and a window given in another zone (cut at UTC midnights still).
func TestSplitDays(t *testing.T) {
	t.Parallel()
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		name                                 string
		start, end                           time.Time
		headEnd, firstDay, endDay, tailStart time.Time
	}{
		{"whole days", day(9, 0), day(16, 0), day(9, 0), day(9, 0), day(16, 0), day(16, 0)},
		{"partial edges", day(9, 5), day(16, 3), day(10, 0), day(10, 0), day(16, 0), day(16, 0)},
		{"within a day", day(9, 5), day(9, 20), day(9, 20), day(10, 0), day(10, 0), day(9, 20)},
		{"across a midnight", day(9, 23), day(10, 1), day(10, 1), day(10, 0), day(10, 0), day(10, 1)},
		{"one whole day and edges", day(9, 23), day(11, 1), day(10, 0), day(10, 0), day(11, 0), day(11, 0)},
		{"empty", day(9, 5), day(9, 5), day(9, 5), day(10, 0), day(10, 0), day(9, 5)},
		{"another zone", day(9, 0).In(time.FixedZone("IST", 5*3600+1800)), day(16, 0).In(time.FixedZone("PST", -8*3600)),
			day(9, 0), day(9, 0), day(16, 0), day(16, 0)},
	} {
		headEnd, firstDay, endDay, tailStart := splitDays(c.start, c.end)
		require.True(t, c.headEnd.Equal(headEnd), "%s: head ends %s", c.name, headEnd)
		require.True(t, c.firstDay.Equal(firstDay), "%s: first day %s", c.name, firstDay)
		require.True(t, c.endDay.Equal(endDay), "%s: end day %s", c.name, endDay)
		require.True(t, c.tailStart.Equal(tailStart), "%s: tail starts %s", c.name, tailStart)
	}
}
