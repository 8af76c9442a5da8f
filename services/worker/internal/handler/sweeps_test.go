package handler_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/integrity"
	"example.com/crm/services/worker/internal/runtime"
)

// TestRenewalReminderAndCheckIntegrityKinds proves the two sweeps the cron tasks fire, through the
// real runtime: with a paid invoice (its create_client and start_onboarding jobs run first) and a
// deal won an hour ago with neither invoice nor contract, a renewal_reminder job carrying its
// slot reminds the client renewing in 10 days once, and a check_integrity job opens the deal's
// two alerts; both jobs complete (their sweeps commit in chunks of their own) and nothing is
// dead-lettered.
func TestRenewalReminderAndCheckIntegrityKinds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.paidInvoices(t, 1)
	leadID, dealID := uuid.New(), uuid.New()
	_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, fingerprint, stage)
VALUES ($1, $2, 'broken@example.com', 'fp:broken', 'converted')`, b.org, leadID)
	require.NoError(t, err)
	_, err = b.super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability, won_at)
VALUES ($1, $2, $3, 'Broken', 100, 'USD', 'won', 1, now() - interval '1 hour')`, b.org, dealID, leadID)
	require.NoError(t, err)

	rt := runtime.New(runtime.Config{WorkerID: "sweeps-test", Concurrency: 2, PollInterval: 50 * time.Millisecond},
		b.d, b.queue, b.kinds, zaptest.NewLogger(t), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	allDone := func() bool {
		return b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND status <> 'completed'`, b.org) == 0
	}
	require.Eventually(t, func() bool {
		return b.count(t, `SELECT count(*) FROM onboarding_tasks WHERE org_id = $1`, b.org) > 0 && allDone()
	}, 30*time.Second, 20*time.Millisecond, "the client made and onboarding")
	_, err = b.super.Pool.Exec(t.Context(), `UPDATE clients SET renewal_date = (now() AT TIME ZONE 'UTC')::date + 10 WHERE org_id = $1`, b.org)
	require.NoError(t, err)

	slot := map[string]any{"slot": time.Now().UTC().Truncate(time.Minute)}
	b.enqueue(t, client.KindRenewalReminder, slot)
	b.enqueue(t, integrity.KindCheckIntegrity, slot)
	require.Eventually(t, allDone, 30*time.Second, 20*time.Millisecond, "both sweeps completed")

	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE org_id = $1 AND kind = 'task' AND subject = $2`,
		b.org, client.RenewalSubject))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = $2`, b.org, client.EventRenewalDue))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM integrity_alerts WHERE org_id = $1 AND entity_id = $2 AND resolved_at IS NULL`,
		b.org, dealID))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM integrity_alerts WHERE org_id = $1`, b.org), "the paid chain is whole")
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = $2`, b.org, integrity.EventAlert))
	require.Zero(t, b.count(t, `SELECT count(*) FROM dead_letter_jobs WHERE org_id = $1`, b.org))
}
