package handler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/report"
)

// TestGenerateWeeklyReport proves the generate_weekly_report kind through the runtime's path: a
// job with the scheduler's slot payload stores the org's report of the week before the slot's
// (figures, built-in narrative, PDF) with report.generated and completes; a second job of another
// slot in the same week writes nothing; a payload without a slot is permanent.
func TestGenerateWeeklyReport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, email, fingerprint, created_at)
VALUES ($1, 'week@example.com', 'fp:week', '2026-11-10T09:00:00Z')`, b.org)
	require.NoError(t, err)

	first := b.enqueue(t, report.KindGenerateWeeklyReport, map[string]any{"slot": "2026-11-16T07:00:00Z"})
	claimed := b.claim(t)
	require.Contains(t, claimed, first)
	require.NoError(t, b.run(t.Context(), claimed[first]))
	require.Equal(t, "completed", b.jobStatus(t, first))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM reports WHERE org_id = $1 AND kind = 'weekly'
AND period_start = '2026-11-09T00:00:00Z' AND period_end = '2026-11-16T00:00:00Z' AND model = 'builtin'
AND (body->'figures'->'leads'->>'in')::int = 1 AND document IS NOT NULL`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'report.generated'`, b.org))

	second := b.enqueue(t, report.KindGenerateWeeklyReport, map[string]any{"slot": time.Date(2026, 11, 19, 7, 0, 0, 0, time.UTC)})
	claimed = b.claim(t)
	require.NoError(t, b.run(t.Context(), claimed[second]))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM reports WHERE org_id = $1`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'report.generated'`, b.org))

	bad := b.enqueue(t, report.KindGenerateWeeklyReport, map[string]any{})
	claimed = b.claim(t)
	require.Error(t, b.run(t.Context(), claimed[bad]))
}
