package main_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/proctest"
	"example.com/crm/pkg/schedule"
)

// TestSeededTasksRunWithoutDeadLetters proves what a day of `make run` asks of the seeded cron
// tasks: an org created as `api org create` creates it (org.Create with the catalog's seven
// tasks), whose tasks last fired eight days ago (so each, the weekly report included, has a slot
// due), with a lead silent for 40 days and a deal won an hour ago that nothing invoiced. One tick
// of the scheduler enqueues one job per task, and a real worker process runs all seven, each on
// its first attempt, none dead-lettered; their effects are there: lead.stale for the silent lead,
// the watchdog's alerts for the deal, the week's report.
func TestSeededTasksRunWithoutDeadLetters(t *testing.T) {
	e := newE2EDB(t)
	super := dbtest.SuperDB(t, e.url)
	created, err := org.Create(t.Context(), e.db, "checks", catalog.New().CronTasks...)
	require.NoError(t, err)
	id := created.OrgID
	count := func(q string, args ...any) int {
		var n int
		require.NoError(t, super.Pool.QueryRow(t.Context(), q, args...).Scan(&n))
		return n
	}
	require.Equal(t, 7, count(`SELECT count(*) FROM cron_tasks WHERE org_id = $1 AND enabled`, id))

	leadID, dealID := uuid.New(), uuid.New()
	_, err = super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, fingerprint, stage, created_at)
VALUES ($1, $2, 'silent@example.com', 'fp:silent', 'contacted', now() - interval '40 days')`, id, leadID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability, won_at)
VALUES ($1, $2, $3, 'Unbilled', 100, 'EUR', 'won', 1, now() - interval '1 hour')`, id, dealID, leadID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(t.Context(), `UPDATE cron_tasks SET last_slot_at = now() - interval '8 days', created_at = now() - interval '9 days'
WHERE org_id = $1`, id)
	require.NoError(t, err)

	res, err := schedule.New(e.db, e.queue, zaptest.NewLogger(t)).Tick(t.Context())
	require.NoError(t, err)
	require.Equal(t, 7, count(`SELECT count(*) FROM jobs WHERE org_id = $1 AND idempotency_key LIKE 'cron:%'`, id), "%+v", res)

	w := startWorker(t, "w", e.url)
	w.LogLine(t, "worker starting", 10*time.Second)
	proctest.Eventually(t, 90*time.Second, "the seven checks complete", func() bool {
		return count(`SELECT count(*) FROM jobs WHERE org_id = $1 AND idempotency_key LIKE 'cron:%' AND status = 'completed'`, id) == 7
	})
	require.Zero(t, count(`SELECT count(*) FROM dead_letter_jobs WHERE org_id = $1`, id))
	require.Zero(t, count(`SELECT count(*) FROM jobs WHERE org_id = $1 AND idempotency_key LIKE 'cron:%' AND attempts <> 1`, id),
		"every check ran on its first attempt")
	require.Equal(t, 1, count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.stale' AND entity_id = $2`, id, leadID))
	require.Equal(t, 2, count(`SELECT count(*) FROM integrity_alerts WHERE org_id = $1 AND entity_id = $2 AND resolved_at IS NULL`, id, dealID),
		"no invoice and no contract")
	require.Equal(t, 1, count(`SELECT count(*) FROM reports WHERE org_id = $1 AND kind = 'weekly'`, id))
}
